"""Check claim parity_cot_length: library CoT program parity (parity of n bits with a running-
parity scratchpad) writes exactly n + 1 tokens (stop included) after every prompt of size n
(bits), for n = 1..12 (every prompt, generated through theory_kit.generation.generate_with).

Writes paper_appendix/generated/parity_cot_length.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("parity_cot_length"))
