"""`python -m theory_kit.paper figures|appendix [--project DIR]`: what a paper project's
Makefile runs (see theory_kit.paper.project).

    figures   build DIR/figures/fig_*.py into DIR/figures/out with the cache in DIR/.cache/figures
              (theory_kit.paper.figures; the flags of this repository's figures/build.py:
              --jobs, --seed, --force, --list, names of figures to build)
    appendix  verify the claims of DIR/claims/*.py, write DIR/appendix/generated/claims_*.tex and
              typeset DIR/appendix/appendix.tex (theory_kit.paper.appendix; --budget, --seed,
              --no-typeset)

DIR defaults to the current directory. Exit codes: those of the build (0 success, 1 a figure
failed / a claim refuted / TeX failed, 2 bad usage).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

__all__ = ["main"]

_USAGE = "python -m theory_kit.paper {figures,appendix} [--project DIR] [options]"


def _project(argv: list[str]) -> tuple[Path, list[str]]:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--project", type=Path, default=Path("."))
    known, rest = pre.parse_known_args(argv)
    return known.project, rest


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run `figures` or `appendix` for a paper project; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: {_USAGE}\n\n{__doc__}", file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    project, rest = _project(rest)
    if not project.is_dir():
        print(f"theory_kit.paper: error: project folder {str(project)!r} does not exist "
              "(create one with `theory-kit init PATH`)", file=sys.stderr)
        return 2
    project = project.resolve()
    if command == "figures":
        from theory_kit.paper import figures

        try:
            return figures.main(rest, scripts_dir=project / "figures",
                                out_dir=project / "figures" / "out",
                                cache_dir=project / ".cache" / "figures", root=project,
                                prog="python -m theory_kit.paper figures [--project DIR]")
        except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
            return exc.code if isinstance(exc.code, int) else 2
    if command == "appendix":
        from theory_kit.claims import DEFAULT_BUDGET
        from theory_kit.paper import appendix
        from theory_kit.paper.figures import positive_int

        parser = argparse.ArgumentParser(prog="python -m theory_kit.paper appendix [--project DIR]",
                                         description=appendix.__doc__.splitlines()[0])
        parser.add_argument("--budget", type=positive_int, default=DEFAULT_BUDGET,
                            help=f"points searched per claim (default {DEFAULT_BUDGET})")
        parser.add_argument("--seed", type=int, default=0, help="seed of the search (default 0)")
        parser.add_argument("--no-typeset", action="store_true",
                            help="write the generated .tex files only")
        try:
            args = parser.parse_args(rest)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 2
        return appendix.build(project, budget=args.budget, seed=args.seed,
                              typeset=not args.no_typeset)
    print(f"theory_kit.paper: error: unknown command {command!r}; usage: {_USAGE}",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
