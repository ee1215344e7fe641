"""Named bases: residual-stream directions are (label, value) pairs, never bare indices.

A categorical SOp `x` with values {a, b} owns directions ("x", a) and ("x", b); a numerical
SOp owns ("x", None). Special directions: ("bos",) is 1 exactly at the BOS position, ("one",)
is 1 everywhere; they are written by the embedding and never change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

# BasisDirection, BOS and ONE live in the leaf module theory_kit.values (the runtime's residual
# layout names dimensions with them, and model may not import craft); re-exported here.
from theory_kit.values import BOS, ONE, BasisDirection, is_plain_number, typed_key, value_sort_key

__all__ = ["BasisDirection", "VectorSpace", "BOS", "ONE", "value_sort_key", "is_plain_number",
           "typed_key"]


@dataclass(frozen=True)
class VectorSpace:
    """An ordered set of named directions; the order fixes array layouts."""

    basis: tuple[BasisDirection, ...]

    def __post_init__(self):
        if len(set(self.basis)) != len(self.basis):
            dupes = sorted({str(d) for d in self.basis if self.basis.count(d) > 1})
            raise ValueError(f"VectorSpace has repeated directions {dupes}")

    @classmethod
    def of(cls, directions: Iterable[BasisDirection]) -> "VectorSpace":
        return cls(tuple(directions))

    @property
    def dim(self) -> int:
        return len(self.basis)

    def index(self, direction: BasisDirection) -> int:
        return self._index_map()[direction]

    def _index_map(self) -> dict:
        cached = self.__dict__.get("_idx")
        if cached is None:
            cached = {d: i for i, d in enumerate(self.basis)}
            object.__setattr__(self, "_idx", cached)
        return cached

    def __contains__(self, direction: BasisDirection) -> bool:
        return direction in self._index_map()

    def indices_of(self, directions: Sequence[BasisDirection]) -> np.ndarray:
        idx = self._index_map()
        return np.array([idx[d] for d in directions], dtype=np.int64)

    def vector(self, mapping: dict) -> np.ndarray:
        """A vector in this space from {direction: coefficient}."""
        out = np.zeros(self.dim)
        idx = self._index_map()
        for d, c in mapping.items():
            out[idx[d]] += c
        return out
