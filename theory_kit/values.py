"""Values: the total order, type-aware identity and checks shared by every layer (a leaf module).

Python calls 1, True and 1.0 equal (and hashes them alike), but RASP programs can tell them
apart (`type(x)`, `str(x)`, `x is True`), and the interpreter returns whichever one a function
produced. Everywhere the compiler collects values into sets or keys tables by value, it uses
`typed_key`, under which 1, True and 1.0 (and 0, False, 0.0, -0.0) are different values.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

__all__ = ["value_sort_key", "is_plain_number", "typed_key", "typed_unique", "same_value"]


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


def typed_key(value: Any) -> Any:
    """A hashable key equal for two values iff they are equal *and* of the same type, at every
    depth of a tuple (so (1,) and (True,) differ too). -0.0 and 0.0 stay one value."""
    if isinstance(value, tuple):
        return (tuple, tuple(typed_key(v) for v in value))
    return (type(value), value)


def same_value(a: Any, b: Any) -> bool:
    """a and b are the same RASP value: equal and of the same type (None only with None)."""
    return typed_key(a) == typed_key(b)


def typed_unique(values: Iterable[Any]) -> list:
    """The distinct values (by `typed_key`), first occurrence kept, order preserved."""
    seen: set = set()
    out = []
    for v in values:
        k = typed_key(v)
        if k not in seen:
            seen.add(k)
            out.append(v)
    return out
