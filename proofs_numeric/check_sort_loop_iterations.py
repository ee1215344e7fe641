"""Check claim sort_loop_iterations: the loop of library program sort_loop (odd-even transposition sort until sorted) takes at
most n iterations on every input of length n (interpreter traces, every input).

Writes paper_appendix/generated/sort_loop_iterations.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("sort_loop_iterations"))
