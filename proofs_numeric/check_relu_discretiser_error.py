"""Check claim relu_discretiser_error: |staircase(x) - level| <= (K-1) max(0, 1/2 - L delta (1/2 - |rho|)); exact iff L >= 1/((1-2|rho|) delta).

Writes paper_appendix/generated/relu_discretiser_error.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("relu_discretiser_error"))
