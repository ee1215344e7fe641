"""Check claim softmax_beta_for_eps: off-maximum mass at the prescribed beta <= eps.

Writes paper_appendix/generated/softmax_beta_for_eps.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("softmax_beta_for_eps"))
