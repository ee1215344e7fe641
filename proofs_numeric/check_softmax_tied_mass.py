"""Check claim softmax_tied_mass: mass on r tied maxima >= r/(r+(n-r)exp(-beta Delta)), m = n - r others.

Writes paper_appendix/generated/softmax_tied_mass.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("softmax_tied_mass"))
