"""Check claim layer_norm_hash_tiebreak: tie-breaking term f(i) < 1/(2 i^4), f computed exactly from its recursion.

Writes paper_appendix/generated/layer_norm_hash_tiebreak.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("layer_norm_hash_tiebreak"))
