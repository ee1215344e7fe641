"""Check (prove) claim relu_discretiser_error_at_most_half: (K-1) max(0, 1/2 - L delta (1/2 - |rho|)) <= (K-1)/2.

Both sides are formulas: proved over the whole domain (sympy or interval certificate, re-checked).
Writes paper_appendix/generated/relu_discretiser_error_at_most_half.tex; exits 1 if refuted, 3 if undecided.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("relu_discretiser_error_at_most_half"))
