"""`make appendix`: generate the tables, check the sources, and typeset appendix.pdf.

Steps (the Makefile has already run `make proofs` and `make figures`):
  1. paper_appendix/make_tables.py writes tk_*.tex into the generated folder;
  2. `check_sources` verifies that every \\tk... macro appendix.tex (and the generated files)
     use is defined by a generated file and that every figure it includes exists;
  3. a LaTeX engine (latexmk -pdf if installed, else pdflatex twice) typesets appendix.tex
     into paper_appendix/build/appendix.pdf, with the generated folder and figures/out on
     TEXINPUTS so appendix.tex names files without paths.

Exit status 0 on success; 1 with the problems listed (or the LaTeX errors quoted) otherwise;
2 when no LaTeX engine is installed ("run .ci/install_latex.sh").
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script

from theory_kit import paths  # noqa: E402

TEX_SOURCE = paths.APPENDIX_DIR / "appendix.tex"
_MACRO_USE = re.compile(r"\\(tk[A-Za-z]+)")
_MACRO_DEF = re.compile(r"\\(?:newcommand|renewcommand|providecommand)\*?\{\\(tk[A-Za-z]+)\}")
_FIGURE_USE = re.compile(r"\\(?:fig|includegraphics(?:\[[^\]]*\])?)\{([^}#]+)\}")
_INPUT_USE = re.compile(r"\\input\{([^}#]+)\}")


def _strip_comments(text: str) -> str:
    return "\n".join(re.sub(r"(?<!\\)%.*", "", line) for line in text.splitlines())


def macros_used(text: str) -> set[str]:
    return set(_MACRO_USE.findall(_strip_comments(text))) - set(_MACRO_DEF.findall(text))


def macros_defined(text: str) -> set[str]:
    return set(_MACRO_DEF.findall(_strip_comments(text)))


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
    for name in sorted(set(_FIGURE_USE.findall(body))):
        pdf = figures_dir / (name if name.endswith(".pdf") else name + ".pdf")
        if not pdf.is_file():
            problems.append(f"figure {pdf.name} is missing from {figures_dir} (run make figures)")
    return problems


def find_engine() -> list[str] | None:
    """The LaTeX command to run: latexmk if present, else pdflatex; None when neither is."""
    if shutil.which("latexmk") and shutil.which("pdflatex"):
        return ["latexmk"]
    if shutil.which("pdflatex"):
        return ["pdflatex"]
    return None


def _latex_errors(log: Path) -> str:
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "    (no log)"
    out = []
    for k, line in enumerate(lines):
        if line.startswith("!") or "Undefined control sequence" in line or "not found" in line:
            out += lines[k:k + 3]
    return "\n".join("    " + s for s in (out or lines[-15:])[:40])


def typeset(*, generated_dir: Path, figures_dir: Path, build_dir: Path, engine: list[str]) -> int:
    build_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    # Trailing separator keeps TeX's default search path after ours.
    env["TEXINPUTS"] = os.pathsep.join([str(generated_dir), str(figures_dir), str(paths.APPENDIX_DIR), ""])
    env["SOURCE_DATE_EPOCH"] = "0"  # reproducible PDF dates/IDs (pdfTeX honours these)
    env["FORCE_SOURCE_DATE"] = "1"
    common = ["-interaction=nonstopmode", "-halt-on-error", "-file-line-error"]
    if engine[0] == "latexmk":
        runs = [["latexmk", "-pdf", "-quiet", f"-outdir={build_dir}",
                 "-pdflatex=pdflatex " + " ".join(common) + " %O %S", str(TEX_SOURCE)]]
    else:
        one = ["pdflatex", *common, f"-output-directory={build_dir}", str(TEX_SOURCE)]
        runs = [one, one]  # second pass resolves references
    for cmd in runs:
        proc = subprocess.run(cmd, cwd=paths.APPENDIX_DIR, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            print(f"appendix: {' '.join(cmd[:1])} failed (exit {proc.returncode}):\n"
                  f"{_latex_errors(build_dir / 'appendix.log')}\n    (full log: {build_dir / 'appendix.log'})",
                  file=sys.stderr)
            return 1
    return 0


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
        print(f"appendix: wrote {build / 'appendix.pdf'}")
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
