"""`python -m theory_kit` runs the `theory-kit` command line."""

import sys

from theory_kit.cli import main

if __name__ == "__main__":
    sys.exit(main())
