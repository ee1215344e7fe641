"""Check claim parity_loop_iterations: the loop of library program parity_loop (parity of the number of 1s by prefix doubling) takes at
most ceil(log2 n) iterations on every input of length n (interpreter traces, every input).

Writes paper_appendix/generated/parity_loop_iterations.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("parity_loop_iterations"))
