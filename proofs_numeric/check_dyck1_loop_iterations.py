"""Check claim dyck1_loop_iterations: the loop of library program dyck1_loop (Dyck-1 by cancelling adjacent matched pairs) takes at
most floor(n/2) iterations on every input of length n (interpreter traces, every input).

Writes paper_appendix/generated/dyck1_loop_iterations.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("dyck1_loop_iterations"))
