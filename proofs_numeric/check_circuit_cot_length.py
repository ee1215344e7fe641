"""Check claim circuit_cot_length: library CoT program circuit (boolean circuit evaluation, one
token per gate (Li et al. 2024)) writes exactly n + 1 tokens (stop included) after every prompt
of size n (gates), for n = 1..4 (every prompt, generated through
theory_kit.generation.generate_with).

Writes paper_appendix/generated/circuit_cot_length.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("circuit_cot_length"))
