"""Print what the RASP program generator generates: node-type coverage, depths, encodings.

    .venv/bin/python scripts/generator_coverage.py [N] [--seed S] [--causal] [--no-numerical]

Every feature in REQUIRED_FEATURES should appear in >= 5% of programs (exit code 1 if not).
"""

from __future__ import annotations

import argparse
import sys
import time

from theory_kit.testing.coverage import generator_coverage


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=2000, help="programs to draw")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--causal", action="store_true")
    parser.add_argument("--no-numerical", action="store_true")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    report = generator_coverage(args.n, seed=args.seed, causal=args.causal,
                                numerical=not args.no_numerical)
    print(report.format())
    print(f"drawn in {time.perf_counter() - start:.1f} s")
    return 1 if report.missing() and not args.no_numerical else 0


if __name__ == "__main__":
    sys.exit(main())
