"""Check claim softmax_tied_each: weight of each of r tied maxima >= 1/(r+(n-r)exp(-beta Delta)).

Writes paper_appendix/generated/softmax_tied_each.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("softmax_tied_each"))
