"""Check claim softmax_pmax_linear: weight of the unique maximal logit >= 1-(n-1)exp(-beta Delta).

Writes paper_appendix/generated/softmax_pmax_linear.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("softmax_pmax_linear"))
