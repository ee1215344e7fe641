"""Check (prove) claim layer_norm_hash_gap_squared: (i(i-1)+1)^2 <= (1-1/(2i^4))^2 (i^2+1)((i-1)^2+1), equivalent to the hash gap lemma.

Both sides are formulas: proved over the whole domain (sympy or interval certificate, re-checked).
Writes paper_appendix/generated/layer_norm_hash_gap_squared.tex; exits 1 if refuted, 3 if undecided.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("layer_norm_hash_gap_squared"))
