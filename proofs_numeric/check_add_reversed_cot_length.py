"""Check claim add_reversed_cot_length: library CoT program add_reversed (d-digit addition, base
10, least significant digit first (Lee et al. 2024)) writes exactly n + 2 tokens (stop included)
after every prompt of size n (digits per operand), for n = 1..2 (every prompt, generated through
theory_kit.generation.generate_with).

Writes paper_appendix/generated/add_reversed_cot_length.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("add_reversed_cot_length"))
