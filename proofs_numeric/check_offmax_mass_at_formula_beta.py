"""Check (prove) claim offmax_mass_at_formula_beta: the off-max mass bound at beta = ln((n-1)(1-eps)/eps)/Delta is <= eps (with equality).

Both sides are formulas: proved over the whole domain (sympy or interval certificate, re-checked).
Writes paper_appendix/generated/offmax_mass_at_formula_beta.tex; exits 1 if refuted, 3 if undecided.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("offmax_mass_at_formula_beta"))
