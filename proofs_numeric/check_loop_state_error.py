"""Check claim loop_state_error: after t iterations of a compiled looped model whose body
attends (a rotation), every state coordinate is within 2^-52 of 0 or 1, for t = 1..256: the
snapped state update keeps errors from accumulating across iterations.

Writes paper_appendix/generated/loop_state_error.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("loop_state_error"))
