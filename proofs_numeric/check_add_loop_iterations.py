"""Check claim add_loop_iterations: the loop of library program add_loop (binary addition, carry-save until no carry is left) takes at
most n - 1 iterations on every input of length n (interpreter traces, every input).

Writes paper_appendix/generated/add_loop_iterations.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("add_loop_iterations"))
