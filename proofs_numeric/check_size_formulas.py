"""Check claim size_formulas: the summed residual widths of six compiled library programs equal
the closed forms of theory_kit.bounds.sizes, for V = 2..6 tokens and N = 2..8 positions.

Writes paper_appendix/generated/size_formulas.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

import theory_kit.claims.compiled  # noqa: F401,E402  (registers the claim until claims/__init__ does)

if __name__ == "__main__":
    sys.exit(run_check("size_formulas"))
