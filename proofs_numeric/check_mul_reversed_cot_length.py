"""Check claim mul_reversed_cot_length: library CoT program mul_reversed (d-digit by one-digit
product, base 10, least significant digit first (Lee et al. 2024)) writes exactly n + 2 tokens
(stop included) after every prompt of size n (digits of the multiplicand), for n = 1..3 (every
prompt, generated through theory_kit.generation.generate_with).

Writes paper_appendix/generated/mul_reversed_cot_length.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("mul_reversed_cot_length"))
