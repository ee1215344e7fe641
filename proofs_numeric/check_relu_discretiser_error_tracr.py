"""Check claim relu_discretiser_error_tracr: tracr's one-sided ReLU-pair discretiser errs by at most
(K-1) max(0, 1 - L delta (1/2 - |rho|)), exact iff L >= 2/((1-2|rho|) delta) (twice our slope).

Writes paper_appendix/generated/relu_discretiser_error_tracr.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("relu_discretiser_error_tracr"))
