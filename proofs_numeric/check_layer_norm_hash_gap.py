"""Check claim layer_norm_hash_gap (Merrill & Sabharwal 2024, Lemma 8) and measure, per float
dtype, the positions at which the layer-norm hash computed in that dtype breaks.

Writes paper_appendix/generated/layer_norm_hash_gap.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check, tex_number

from theory_kit import bounds
from theory_kit.claims import layer_norm_hash_breakpoints

N_MAX = 65536
DTYPE_WORD = {"float16": "Half", "float32": "Single", "float64": "Double"}


def _at(i):
    return f"$i={i}$" if i is not None else f"no $i \\le {N_MAX}$"


def breakpoints():
    macros, rows = {}, []
    for dtype, word in DTYPE_WORD.items():
        p = bounds.mantissa_bits(dtype)
        lemma_pred = float(bounds.layer_norm_hash_lemma_max_position(p))
        coll_pred = float(bounds.layer_norm_hash_max_position(p))
        macros[f"{word}PredictedLemmaMax"] = tex_number(lemma_pred)
        macros[f"{word}PredictedCollisionMax"] = tex_number(coll_pred)
        for form in ("direct", "scaled"):
            b = layer_norm_hash_breakpoints(dtype, N_MAX, form)
            key = word + form.capitalize()
            show = {"FirstGapViolation": b.first_gap_violation, "FirstCollision": b.first_collision,
                    "FirstDegenerate": b.first_degenerate, "FirstBreak": b.first_break, "Broken": b.n_broken}
            for k, v in show.items():
                macros[key + k] = "none" if v is None else str(v)
            rows.append((
                f"\\texttt{{{dtype}}} ($p={p}$), {form}",
                f"Lemma 8 fails from {_at(b.first_gap_violation)} (predicted {tex_number(lemma_pred)}), "
                f"collision from {_at(b.first_collision)} (predicted {tex_number(coll_pred)}), "
                f"degenerate from {_at(b.first_degenerate)}; {b.n_broken} of {N_MAX - 1} positions broken",
            ))
    macros["BreakpointsNMax"] = str(N_MAX)
    return macros, rows


if __name__ == "__main__":
    sys.exit(run_check("layer_norm_hash_gap", extra=breakpoints))
