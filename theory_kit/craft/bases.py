"""Named bases: residual-stream directions are (label, value) pairs, never bare indices.

A categorical SOp `x` with values {a, b} owns directions ("x", a) and ("x", b); a numerical
SOp owns ("x", None). Special directions: ("bos",) is 1 exactly at the BOS position, ("one",)
is 1 everywhere; they are written by the embedding and never change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = ["BasisDirection", "VectorSpace", "BOS", "ONE", "value_sort_key", "is_plain_number"]


def is_plain_number(value: Any) -> bool:
    """A finite int or float, not a bool (values a linear form may weight)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def value_sort_key(value: Any) -> tuple:
    """A total order on mixed values (None < bools < numbers < strings < other) for layout."""
    if value is None:
        return (0, 0, "")
    if isinstance(value, bool):
        return (1, int(value), "")
    if isinstance(value, (int, float)):
        return (2, float(value), repr(value))
    if isinstance(value, str):
        return (3, 0, value)
    if isinstance(value, tuple):
        return (4, len(value), tuple(value_sort_key(v) for v in value))
    return (5, 0, repr(value))


@dataclass(frozen=True)
class BasisDirection:
    """One named residual direction: `label` of the SOp, `value` for categorical SOps."""

    label: str
    value: Any = None

    def __str__(self) -> str:
        return self.label if self.value is None else f"{self.label}:{self.value!r}"

    def sort_key(self) -> tuple:
        return (self.label, value_sort_key(self.value))


BOS = BasisDirection("bos")
ONE = BasisDirection("one")


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
