"""Check (prove) claim softmax_linear_below_exact: 1/(1+(n-1)exp(-beta Delta)) >= 1-(n-1)exp(-beta Delta), both sides formulas.

Both sides are formulas: proved over the whole domain (sympy or interval certificate, re-checked).
Writes paper_appendix/generated/softmax_linear_below_exact.tex; exits 1 if refuted, 3 if undecided.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("softmax_linear_below_exact"))
