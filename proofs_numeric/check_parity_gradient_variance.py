"""Check claim parity_gradient_variance: over all 2^n parity targets, the variance of the
square-loss gradient of a tanh network is at most G^2 / 2^n (Shalev-Shwartz, Shamir & Shammah
2017, Theorem 1), computed exactly over all inputs.

Writes paper_appendix/generated/parity_gradient_variance.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("parity_gradient_variance"))
