"""Values: the total order, type-aware identity and checks shared by every layer (a leaf module).

Python calls 1, True and 1.0 equal (and hashes them alike), but RASP programs can tell them
apart (`type(x)`, `str(x)`, `x is True`), and the interpreter returns whichever one a function
produced. Everywhere the compiler collects values into sets or keys tables by value, it uses
`typed_key`, under which 1, True and 1.0 (and 0, False, 0.0, -0.0) are different values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence as _SequenceABC
from dataclasses import dataclass, field
from typing import Any, Iterable

from theory_kit.errors import InvalidInput, Problem

__all__ = ["value_sort_key", "is_plain_number", "typed_key", "typed_unique", "same_value",
           "check_vocab", "check_input", "BasisDirection", "BOS", "ONE"]


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


@dataclass(frozen=True, eq=False)
class BasisDirection:
    """One named residual direction: `label` of the SOp, `value` for categorical SOps.

    Two directions are the same iff their labels, their `internal` flags and their values
    *with types* agree (`typed_key`): ("x", 1) and ("x", True) are different one-hot
    directions. `internal=True` marks the compiler's own directions (BOS, ONE, scratch), which
    live in their own namespace: a user SOp named "one" or "bos" cannot collide with them.

    It lives in this leaf module (not in craft, which builds with it) because the runtime
    (`theory_kit.model`, its residual layout and readouts) names dimensions with it too, and
    model may not import craft.
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


#: 1 exactly at the BOS position (written by the embedding, never changed).
BOS = BasisDirection("bos", internal=True)
#: 1 at every position (written by the embedding, never changed).
ONE = BasisDirection("one", internal=True)


def same_value(a: Any, b: Any) -> bool:
    """a and b are the same RASP value: equal and of the same type (None only with None)."""
    return typed_key(a) == typed_key(b)


def identical(a: Any, b: Any) -> bool:
    """Equal with the same types at every depth of lists and tuples; floats also with the same
    sign (0.0 and -0.0 differ): what two evaluations of a program must agree on exactly."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b


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


def check_vocab(vocab: Any, *, bos: Any = "BOS") -> list[Problem]:
    """Problems with a vocabulary: must be a non-empty collection of hashable finite tokens."""
    if isinstance(vocab, (str, bytes)) or not isinstance(vocab, Iterable):
        return [Problem("vocab", f"must be a set of tokens, got {type(vocab).__name__} {vocab!r:.60}",
                        "pass e.g. vocab={1, 2, 3}")]
    problems = []
    items = list(vocab)
    if not items:
        problems.append(Problem("vocab", "is empty", "pass at least one token"))
    for tok in items:
        try:
            hash(tok)
        except TypeError:
            problems.append(Problem("vocab", f"token {tok!r:.60} is unhashable"))
            continue
        if tok is None:
            problems.append(Problem("vocab", "contains None, which RASP reserves for 'no value'"))
        elif isinstance(tok, float) and not math.isfinite(tok):
            problems.append(Problem("vocab", f"contains the non-finite token {tok!r}"))
        elif bos is not None and tok == bos and type(tok) is type(bos):
            problems.append(Problem("vocab", f"contains the BOS token {bos!r}",
                                    "pick another bos=... or remove it from the vocabulary"))
    keys: dict = {}
    for tok in items:
        try:
            keys.setdefault(hash(tok), []).append(tok)
        except TypeError:
            continue
    for same_hash in keys.values():
        for i, a in enumerate(same_hash):
            for b in same_hash[i + 1:]:
                if a == b and type(a) is not type(b):
                    problems.append(Problem(
                        "vocab", f"contains {a!r} and {b!r}, which Python treats as one token "
                        f"({a!r} == {b!r})", "keep one of them"))
    return problems


def check_input(input_sequence: Any, *, where: str = "evaluate") -> list:
    """Validate an input sequence and return it as a list.

    Raises:
        InvalidInput: not a sequence, or an element is unhashable, None, NaN or infinite.
    """
    if isinstance(input_sequence, (bytes, bytearray)) or not isinstance(
            input_sequence, (_SequenceABC, range)):
        raise InvalidInput(
            f"{where}: the input must be a sequence (list, tuple or str) of tokens, got "
            f"{type(input_sequence).__name__} {input_sequence!r:.80}")
    xs = list(input_sequence)
    for pos, x in enumerate(xs):
        try:
            hash(x)
        except TypeError:
            raise InvalidInput(
                f"{where}: token {x!r:.60} at position {pos} is unhashable "
                f"({type(x).__name__}); tokens must be hashable values") from None
        if x is None:
            raise InvalidInput(f"{where}: token at position {pos} is None; None means "
                               "'no value' in RASP and cannot be an input token")
        if isinstance(x, float) and not math.isfinite(x):
            raise InvalidInput(f"{where}: token {x!r} at position {pos} is not finite")
    return xs
