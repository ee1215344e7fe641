"""Check claim attention_output_error: |attention output - value at argmax| <= off-max mass bound * value spread S.

Writes paper_appendix/generated/attention_output_error.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import run_check

if __name__ == "__main__":
    sys.exit(run_check("attention_output_error"))
