"""Check claim position_encoding_gap (rounded numerical positions i/n stay 1/n - 2^-p apart) and
record, per float dtype, the mantissa bits and how many positions stay distinguishable.

Writes paper_appendix/generated/position_encoding_gap.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

from theory_kit import bounds
from theory_kit.claims.quantities import position_encodings_distinct

DTYPE_WORD = {"float16": "Half", "float32": "Single", "float64": "Double"}
SCAN_FLOAT16_TO = 4096


def per_dtype():
    macros, rows = {}, []
    for dtype, word in DTYPE_WORD.items():
        p = bounds.mantissa_bits(dtype)
        n_max = int(bounds.max_distinguishable_positions(p, 0))
        macros[f"{word}MantissaBits"] = str(p)
        macros[f"{word}MaxPositions"] = str(n_max)
        row = f"$p = {p}$: encodings $i/n$ distinct for $n \\le 2^{{{p}}} = {n_max}$"
        if dtype != "float64":  # measured in the dtype itself at the predicted edge
            at, past = position_encodings_distinct(dtype, n_max), position_encodings_distinct(dtype, n_max + 1)
            macros[f"{word}DistinctAtMax"] = "yes" if at else "no"
            macros[f"{word}DistinctPastMax"] = "yes" if past else "no"
            row += f"; measured: {'distinct' if at else 'collide'} at $n={n_max}$, {'distinct' if past else 'collide'} at $n={n_max + 1}$"
        if dtype == "float16":
            first = next((n for n in range(2, SCAN_FLOAT16_TO + 1) if not position_encodings_distinct(dtype, n)), None)
            macros[f"{word}FirstCollision"] = "none" if first is None else str(first)
            row += f"; first collision for $n \\le {SCAN_FLOAT16_TO}$: $n = {first}$"
        rows.append((f"\\texttt{{{dtype}}}", row))
    return macros, rows


if __name__ == "__main__":
    sys.exit(run_check("position_encoding_gap", extra=per_dtype))
