"""The one LaTeX helper module: macro names, escaping and deterministic numbers for generated TeX.

Scripts that write `paper_appendix/generated/*.tex` (proofs_numeric/, paper_appendix/
make_tables.py, a user's own paper project) format through these functions so the same value
prints the same way in every table and macro. Standard library only (numpy scalars are
recognised without importing numpy).
"""

from __future__ import annotations

import math
import numbers
import re

__all__ = ["DIGIT_WORDS", "RELATION_TEX", "camel", "tex_escape", "tex_number"]

#: Digits spelled out: TeX macro names may contain letters only.
DIGIT_WORDS = {"0": "Zero", "1": "One", "2": "Two", "3": "Three", "4": "Four", "5": "Five",
               "6": "Six", "7": "Seven", "8": "Eight", "9": "Nine"}

#: A claim's relation as TeX math.
RELATION_TEX = {"<=": r"\leq", "<": "<", ">=": r"\geq", ">": ">", "==": "="}

_SPECIALS = re.compile(r"([_&%#$])")


def camel(name: str) -> str:
    """Letters-only CamelCase of an identifier, digits spelled out, for TeX macro names.

    Example:
        >>> camel("float16_gap")
        'FloatOneSixGap'
    """
    out = []
    for part in re.split(r"[^A-Za-z0-9]+", name):
        for chunk in re.findall(r"[A-Za-z]+|[0-9]", part):
            out.append(DIGIT_WORDS[chunk] if chunk.isdigit() else chunk[0].upper() + chunk[1:])
    return "".join(out)


def tex_escape(text) -> str:
    r"""`text` with TeX's special characters _ & % # $ escaped (e.g. "a_b" -> "a\_b")."""
    return _SPECIALS.sub(r"\\\1", str(text))


def _is_bool(x) -> bool:
    return isinstance(x, bool) or getattr(getattr(x, "dtype", None), "kind", None) == "b"


def tex_number(x, digits: int = 6) -> str:
    r"""Deterministic LaTeX for a number.

    Args:
        x: None ("---"), a bool ("yes"/"no"), an int (as is), or a real number: `digits`
            significant digits, scientific form as `\ensuremath{m\times 10^{e}}`, NaN and
            infinities spelled out. numpy scalars are treated like their Python counterparts.
        digits: significant digits of non-integers (>= 1).

    Raises:
        ValueError: digits < 1. TypeError: x is not a number.
    """
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
        raise ValueError(f"tex_number: digits must be an int >= 1, got {digits!r}")
    if x is None:
        return "---"
    if _is_bool(x):
        return "yes" if x else "no"
    if isinstance(x, numbers.Integral):
        return str(int(x))
    if not isinstance(x, numbers.Real):
        raise TypeError(f"tex_number: expected a number, got {type(x).__name__} {x!r:.40}")
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return r"\ensuremath{\infty}" if x > 0 else r"\ensuremath{-\infty}"
    s = format(x, f".{digits}g")
    if "e" in s:
        mant, exp = s.split("e")
        return rf"\ensuremath{{{mant}\times 10^{{{int(exp)}}}}}"
    return s
