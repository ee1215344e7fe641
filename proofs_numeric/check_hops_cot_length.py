"""Check claim hops_cot_length: library CoT program hops (k-hop pointer chasing in a table of 3,
one token per hop) writes exactly n + 1 tokens (stop included) after every prompt of size n
(hops), for n = 1..8 (every prompt, generated through theory_kit.generation.generate_with).

Writes paper_appendix/generated/hops_cot_length.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("hops_cot_length"))
