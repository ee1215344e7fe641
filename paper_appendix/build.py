"""`make appendix`: generate the tables, check the sources, and typeset appendix.pdf.

Steps (the Makefile has already run `make proofs` and `make figures`):
  1. paper_appendix/make_tables.py writes tk_*.tex into the generated folder;
  2. `check_sources` verifies that every \\tk... macro appendix.tex (and the generated files)
     use is defined by a generated file and that every figure it includes exists;
  3. a LaTeX engine (latexmk -pdf if installed, else pdflatex twice) typesets appendix.tex
     into paper_appendix/build/appendix.pdf, with the generated folder and figures/out on
     TEXINPUTS so appendix.tex names files without paths (theory_kit.paper.latex.typeset, the
     same code a paper project made by `theory-kit init` uses); Overfull \\hbox warnings are
     listed on stderr.

Exit status 0 on success; 1 with the problems listed (or the LaTeX errors quoted) otherwise;
2 when no LaTeX engine is installed ("run .ci/install_latex.sh").
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script

from theory_kit import paths  # noqa: E402
from theory_kit.paper import latex as _latex  # noqa: E402

TEX_SOURCE = paths.APPENDIX_DIR / "appendix.tex"
_MACRO_USE = re.compile(r"\\(tk[A-Za-z]+)")
_MACRO_DEF = re.compile(r"\\(?:newcommand|renewcommand|providecommand)\*?\{\\(tk[A-Za-z]+)\}")
_FIGURE_USE = re.compile(r"\\(?:fig|figwide|includegraphics(?:\[[^\]]*\])?)\{([^}#]+)\}")
_INPUT_USE = re.compile(r"\\input\{([^}#]+)\}")


def _strip_comments(text: str) -> str:
    return "\n".join(re.sub(r"(?<!\\)%.*", "", line) for line in text.splitlines())


def macros_used(text: str) -> set[str]:
    return set(_MACRO_USE.findall(_strip_comments(text))) - set(_MACRO_DEF.findall(text))


def macros_defined(text: str) -> set[str]:
    return set(_MACRO_DEF.findall(_strip_comments(text)))


def figures_used(tex: Path = TEX_SOURCE) -> list[str]:
    """The figure names appendix.tex includes (\\fig, \\figwide, \\includegraphics), sorted,
    without ".pdf": what the appendix needs built."""
    body = _strip_comments(tex.read_text(encoding="utf-8"))
    return sorted({name.removesuffix(".pdf") for name in _FIGURE_USE.findall(body)})


def check_sources(tex: Path = TEX_SOURCE, *, generated_dir: Path, figures_dir: Path) -> list[str]:
    """Everything appendix.tex needs that is missing, as readable problems (empty when fine).

    Checks: every \\input file exists in the generated folder; every \\tk... macro used in
    appendix.tex or in a generated file is defined by some generated file (never by
    appendix.tex itself); every figure included exists in the figures folder as PDF.
    """
    problems: list[str] = []
    source = tex.read_text(encoding="utf-8")
    body = _strip_comments(source)
    own_defs = macros_defined(source)
    for m in sorted(own_defs):
        problems.append(f"{tex.name} defines \\{m} by hand; numbers must come from generated files")
    for name in sorted(set(_INPUT_USE.findall(body))):
        if not (generated_dir / name).is_file():
            problems.append(f"\\input{{{name}}}: {generated_dir / name} does not exist "
                            "(run paper_appendix/make_tables.py / make proofs)")
    defined: dict[str, Path] = {}
    used: dict[str, str] = {m: tex.name for m in macros_used(source)}
    for gen in sorted(generated_dir.glob("*.tex")):
        text = gen.read_text(encoding="utf-8")
        for m in macros_defined(text):
            if m in defined:
                problems.append(f"\\{m} defined twice: {defined[m].name} and {gen.name}")
            defined[m] = gen
        for m in macros_used(text):
            used.setdefault(m, gen.name)
    # \fig's own parameter (#1) is not a macro; \fig itself is defined in appendix.tex.
    for m, where in sorted(used.items()):
        if m not in defined:
            problems.append(f"\\{m} (used in {where}) is not defined by any generated file in {generated_dir}")
    for name in figures_used(tex):
        pdf = figures_dir / (name + ".pdf")
        if not pdf.is_file():
            problems.append(f"figure {pdf.name} is missing from {figures_dir} (run make figures)")
    return problems


find_engine = _latex.find_engine
_latex_errors = _latex.latex_errors


def typeset(*, generated_dir: Path, figures_dir: Path, build_dir: Path, engine: list[str]) -> int:
    """Typeset appendix.tex with theory_kit.paper.latex.typeset (the generated folder, the
    figures and paper_appendix/ on TEXINPUTS); 0 on success, 1 with the errors on stderr."""
    rc, message = _latex.typeset(TEX_SOURCE, build_dir=build_dir, engine=engine,
                                 texinputs=[generated_dir, figures_dir, paths.APPENDIX_DIR],
                                 cwd=paths.APPENDIX_DIR)
    if rc != 0:
        print(f"appendix: {message}", file=sys.stderr)
    return rc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated-dir", type=Path, default=None)
    parser.add_argument("--figures-dir", type=Path, default=None)
    parser.add_argument("--build-dir", type=Path, default=None)
    parser.add_argument("--skip-tables", action="store_true", help="use the generated tables as they are")
    parser.add_argument("--check-only", action="store_true", help="check sources, do not typeset")
    args = parser.parse_args(argv)
    generated = (args.generated_dir or paths.appendix_generated_dir()).resolve()
    figures = (args.figures_dir or paths.figures_out_dir()).resolve()
    build = (args.build_dir or paths.appendix_build_dir()).resolve()

    if not args.skip_tables:
        rc = subprocess.run([sys.executable, str(paths.APPENDIX_DIR / "make_tables.py"),
                             "--out-dir", str(generated)], cwd=paths.REPO_ROOT).returncode
        if rc != 0:
            print("appendix: make_tables.py failed (see above)", file=sys.stderr)
            return 1
    problems = check_sources(generated_dir=generated, figures_dir=figures)
    if problems:
        print("appendix: the sources are incomplete:\n" + "\n".join(f"  - {p}" for p in problems),
              file=sys.stderr)
        return 1
    if args.check_only:
        print("appendix: sources complete")
        return 0
    engine = find_engine()
    if engine is None:
        print("appendix: no LaTeX engine found (need pdflatex on PATH); run .ci/install_latex.sh",
              file=sys.stderr)
        return 2
    rc = typeset(generated_dir=generated, figures_dir=figures, build_dir=build, engine=engine)
    if rc == 0:
        log = (build / "appendix.log").read_text(encoding="utf-8", errors="replace")
        for line in _latex.overfull_boxes(log):
            print(f"appendix: warning: {line}", file=sys.stderr)
        print(f"appendix: wrote {build / 'appendix.pdf'}")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
