"""Check claim hops_loop_iterations: the loop of library program hops_loop (2-hop pointer chasing) takes at
most 2 iterations on every input of length n (interpreter traces, every input).

Writes paper_appendix/generated/hops_loop_iterations.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("hops_loop_iterations"))
