"""Check claim add_plain_cot_length: library CoT program add_plain (d-digit addition, base 10, most
significant digit first, no scratchpad (lookahead)) writes exactly n + 2 tokens (stop included)
after every prompt of size n (digits per operand), for n = 1..2 (every prompt, generated through
theory_kit.generation.generate_with).

Writes paper_appendix/generated/add_plain_cot_length.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("add_plain_cot_length"))
