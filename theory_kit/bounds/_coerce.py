"""Turning a lemma's arguments into sympy values without ever evaluating text.

`sympy.sympify` runs `eval` on a string, so a bound function called with text would execute it
as Python. Every lemma converts its arguments with `sympify_arg`, which refuses strings.
"""

from __future__ import annotations

import sympy as sp

from theory_kit.errors import InvalidInput

__all__ = ["sympify_arg"]


def sympify_arg(value) -> sp.Basic:
    """sympy.sympify for numbers and sympy objects; strings and bytes are refused.

    Raises:
        InvalidInput: for a str or bytes (quoting it), which sympify would evaluate as Python.
    """
    if isinstance(value, (str, bytes)):
        shown = value if len(value) <= 100 else value[:100] + "..."
        raise InvalidInput(f"bound arguments must be numbers or sympy expressions, got the {type(value).__name__} {shown!r} "
                           f"(text is never evaluated; parse it with theory_kit.claims.parse_expression)")
    return sp.sympify(value)
