"""Check claim bipolar_address_codes: p_a . p_b <= log2(n) - 2 for different d-bit addresses a != b.

Writes paper_appendix/generated/bipolar_address_codes.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("bipolar_address_codes"))
