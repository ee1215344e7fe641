"""Named bases: residual-stream directions are (label, value) pairs, never bare indices.

A categorical SOp `x` with values {a, b} owns directions ("x", a) and ("x", b); a numerical
SOp owns ("x", None). Special directions: ("bos",) is 1 exactly at the BOS position, ("one",)
is 1 everywhere; they are written by the embedding and never change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from theory_kit.values import is_plain_number, typed_key, value_sort_key

__all__ = ["BasisDirection", "VectorSpace", "BOS", "ONE", "value_sort_key", "is_plain_number",
           "typed_key"]


@dataclass(frozen=True, eq=False)
class BasisDirection:
    """One named residual direction: `label` of the SOp, `value` for categorical SOps.

    Two directions are the same iff their labels, their `internal` flags and their values
    *with types* agree (`typed_key`): ("x", 1) and ("x", True) are different one-hot
    directions. `internal=True` marks the compiler's own directions (BOS, ONE, scratch), which
    live in their own namespace: a user SOp named "one" or "bos" cannot collide with them.
    """

    label: str
    value: Any = None
    internal: bool = False
    _key: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_key", (self.label, self.internal, typed_key(self.value)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BasisDirection) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __str__(self) -> str:
        return self.label if self.value is None else f"{self.label}:{self.value!r}"

    def sort_key(self) -> tuple:
        return (self.label, value_sort_key(self.value), self.internal)


BOS = BasisDirection("bos", internal=True)
ONE = BasisDirection("one", internal=True)


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
