"""Check claim add_reversed_carries_cot_length: library CoT program add_reversed_carries (d-digit
addition, base 10, least significant first, each digit then its carry) writes exactly 2*n + 1
tokens (stop included) after every prompt of size n (digits per operand), for n = 1..2 (every
prompt, generated through theory_kit.generation.generate_with).

Writes paper_appendix/generated/add_reversed_carries_cot_length.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("add_reversed_carries_cot_length"))
