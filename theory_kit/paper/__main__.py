"""`python -m theory_kit.paper figures|appendix`: see theory_kit.paper.cli."""

import sys

from theory_kit.paper.cli import main

if __name__ == "__main__":
    sys.exit(main())
