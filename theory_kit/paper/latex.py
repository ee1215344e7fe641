r"""Claims and verdicts as LaTeX, and typesetting: shared by `theory-kit verify --latex`, a paper
project's `make appendix` and this repository's appendix.

Rendering (numbers through theory_kit.tex, so a value prints the same everywhere):

  verdict_label(v)      "proved" / "not refuted" / "refuted" / "undecided"
  verdict_phrase(v)     the Status phrase of the appendix tables: "proved (certificate: k boxes)",
                        "searched (N points, worst ratio r)", "refuted (searched N points)"
  verdict_tex(c, v)     the verdict cell: "proved (certificate: ...)", "searched N points, not
                        refuted (worst ratio r)", "refuted at $n = 3$, ...: quantity q, bound b"
  claim_row(c, v)       one booktabs-style table row: claim & statement & domain & verdict \\
  claims_table(rows)    a tabularx table of such rows that wraps to \linewidth (never runs off
                        the page), with \toprule/\midrule/\bottomrule
  claim_macros(c, v)    \newcommand lines \tk<Claim>Verdict, ...Label, ...Points, ...WorstRatio

TABLE_PREAMBLE loads tabularx (texlive-latex-base) and booktabs when it is installed, else
defines \toprule, \midrule and \bottomrule as \hline (the CI's texlive-latex-base has no
booktabs), so the same table compiles everywhere.

Typesetting: `find_engine` (latexmk when installed with pdflatex, else pdflatex; None without
TeX), `typeset` (runs it reproducibly: SOURCE_DATE_EPOCH=0, FORCE_SOURCE_DATE=1) and
`overfull_boxes` (the "Overfull \hbox" warnings of a log).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Iterable, Sequence

from theory_kit.tex import RELATION_TEX, camel, tex_escape, tex_number

__all__ = ["TABLE_PREAMBLE", "TABLE_HEADER", "verdict_label", "verdict_phrase", "verdict_tex",
           "statement_tex", "domain_tex", "name_tex", "claim_row", "claims_table", "claim_macros",
           "find_engine", "typeset", "latex_errors", "overfull_boxes"]

#: Packages the tables need: tabularx (with array) always; booktabs rules when installed.
TABLE_PREAMBLE = r"""\usepackage{tabularx}
\IfFileExists{booktabs.sty}{\usepackage{booktabs}}{%
  \providecommand{\toprule}{\hline}\providecommand{\midrule}{\hline}%
  \providecommand{\bottomrule}{\hline}}"""

#: The header row of claims_table.
TABLE_HEADER = r"claim & statement & domain & verdict \\"

#: Column widths of claims_table (fractions of \linewidth; the statement column takes the rest).
_COLUMNS = (r"@{}>{\raggedright\arraybackslash}p{0.2\linewidth}"
            r">{\raggedright\arraybackslash}X"
            r">{\raggedright\arraybackslash}p{0.2\linewidth}"
            r">{\raggedright\arraybackslash}p{0.26\linewidth}@{}")

_DIGITS = 4


def _num(x) -> str:
    return tex_number(x, _DIGITS)


def verdict_label(verdict) -> str:
    """One word or two: "proved", "not refuted" (a search found nothing), "refuted", "undecided"."""
    if verdict.status == "proved":
        return "proved"
    if verdict.status == "undecided":
        return "undecided"
    return "not refuted" if verdict.holds else "refuted"


def verdict_phrase(verdict) -> str:
    """The Status phrase of the appendix tables (theory_kit.tex numbers, 6 digits)."""
    if verdict.status == "proved" and verdict.proof is not None:
        if verdict.proof.kind == "sympy":
            return "proved (certificate: sympy, 1 box)"
        k = verdict.proof.n_boxes
        return f"proved (certificate: {k} box{'es' if k != 1 else ''})"
    if verdict.method == "prove":
        return f"{verdict.status} (searched {verdict.n_evaluated} points)"
    if not verdict.holds:
        return f"refuted (searched {verdict.n_evaluated} points)"
    return f"searched ({verdict.n_evaluated} points, worst ratio {tex_number(verdict.worst_ratio)})"


def _param_tex(name: str) -> str:
    import sympy as sp

    tex = sp.latex(sp.Symbol(name))
    # sympy leaves multi-letter names like "spread" as is: set them upright, not as a product
    return rf"\mathrm{{{tex}}}" if tex == name and len(name) > 1 else tex


def _point_tex(point) -> str:
    return ", ".join(f"${_param_tex(k)} = {_num(v)}$" for k, v in point.items())


def verdict_tex(claim, verdict) -> str:
    """The verdict cell: what was shown and how (points searched, certificate, counterexample)."""
    label = verdict_label(verdict)
    if label == "proved":
        return verdict_phrase(verdict)
    if label == "refuted":
        point = verdict.counterexample or verdict.worst_params
        how = "exact counterexample" if verdict.method == "prove" else \
            f"searched {verdict.n_evaluated} points"
        return (f"refuted at {_point_tex(point)}: quantity {_num(verdict.worst_quantity)}, "
                f"bound {_num(verdict.worst_bound)} ({how})")
    if label == "undecided":
        frac = verdict.remaining_fraction
        rest = f", {_num(frac)} of the domain open" if frac is not None else ""
        return f"undecided (searched {verdict.n_evaluated} points, not refuted{rest})"
    exhaustive = ", exhaustive" if verdict.exhaustive else ""
    return (f"searched {verdict.n_evaluated} points{exhaustive}, not refuted "
            f"(worst ratio {_num(verdict.worst_ratio)})")


def name_tex(name: str) -> str:
    r"""\texttt{name} with a line break allowed after every underscore: the escaped name (a\_b)
    stays searchable in the .tex; inside the group \_ is an underscore followed by \allowbreak."""
    return (r"{\def\_{\textunderscore\allowbreak}\texttt{" + tex_escape(str(name)) + "}}")


def statement_tex(claim) -> str:
    """$quantity <relation> bound$; a black-box quantity is named by its function."""
    import sympy as sp

    if claim.quantity_expr is not None:
        left = sp.latex(claim.quantity_expr)
    else:
        fn = getattr(claim.quantity, "__name__", None) or "quantity"
        fn = "quantity" if fn == "<lambda>" else fn
        left = r"\mathtt{" + tex_escape(fn).replace(r"\_", r"\_\allowbreak{}") + "}"
    return f"${left} {RELATION_TEX[claim.relation]} {sp.latex(claim.bound)}$"


def domain_tex(claim) -> str:
    """$n \\in [2, 1024]$ (int), ... for every parameter."""
    return ", ".join(f"${_param_tex(s.name)} \\in [{_num(s.lo)}, {_num(s.hi)}]$ ({s.kind})"
                     for s in claim.params)


def claim_row(claim, verdict) -> str:
    r"""One table row: claim & statement & domain & verdict \\ (see claims_table)."""
    return " & ".join([name_tex(claim.name), statement_tex(claim), domain_tex(claim),
                       verdict_tex(claim, verdict)]) + r" \\"


def claims_table(rows: Iterable[str], *, size: str = r"\small") -> str:
    """A full-width tabularx table (TABLE_PREAMBLE) around `rows` (from claim_row)."""
    rows = list(rows)
    body = rows or [r"\multicolumn{4}{@{}l@{}}{no claims} \\"]
    return "\n".join([
        "{" + size,
        r"\noindent\begin{tabularx}{\linewidth}{" + _COLUMNS + "}",
        r"\toprule", TABLE_HEADER, r"\midrule", *body, r"\bottomrule",
        r"\end{tabularx}}", ""])


def claim_macros(claim, verdict, prefix: str = "tk") -> list[str]:
    r"""\newcommand lines for one claim: <prefix><Claim>{Label,Verdict,Statement,Points,
    WorstRatio,Holds}; letters only (theory_kit.tex.camel)."""
    stem = prefix + camel(claim.name)
    values = {
        "Label": verdict_label(verdict),
        "Verdict": verdict_tex(claim, verdict),
        "Statement": statement_tex(claim),
        "Points": str(verdict.n_evaluated),
        "WorstRatio": _num(verdict.worst_ratio),
        "Holds": "yes" if verdict.holds else "no",
    }
    return [rf"\newcommand{{\{stem}{k}}}{{{v}}}" for k, v in values.items()]


# -- typesetting ---------------------------------------------------------------------------------


def find_engine() -> list[str] | None:
    """The LaTeX command to run: latexmk if present (with pdflatex), else pdflatex; None when
    no TeX is installed."""
    if shutil.which("latexmk") and shutil.which("pdflatex"):
        return ["latexmk"]
    if shutil.which("pdflatex"):
        return ["pdflatex"]
    return None


def latex_errors(log: Path) -> str:
    """The error lines of a LaTeX log (with two lines of context), indented; its tail if none."""
    try:
        lines = Path(log).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "    (no log)"
    out = []
    for k, line in enumerate(lines):
        if line.startswith("!") or "Undefined control sequence" in line or "not found" in line \
                or re.match(r"[^:\s]+:\d+: ", line):
            out += lines[k:k + 3]
    return "\n".join("    " + s for s in (out or lines[-15:])[:40])


_OVERFULL = re.compile(r"^Overfull \\hbox \(([\d.]+)pt too wide\) (.*)$", re.M)


def overfull_boxes(log_text: str, *, min_pt: float = 0.5) -> list[str]:
    r"""The "Overfull \hbox (x pt too wide) ..." lines of a LaTeX log, at least `min_pt` wide."""
    return [m.group(0) for m in _OVERFULL.finditer(log_text) if float(m.group(1)) >= min_pt]


def typeset(tex: Path, *, build_dir: Path, texinputs: Sequence[Path] = (),
            engine: list[str] | None = None, cwd: Path | None = None) -> tuple[int, str]:
    """Typeset `tex` into `build_dir`/<stem>.pdf; returns (0, "") or (1, the errors quoted).

    `texinputs` are searched before TeX's default path; the run is reproducible
    (SOURCE_DATE_EPOCH=0, FORCE_SOURCE_DATE=1) and non-interactive. latexmk runs as many passes
    as references need; plain pdflatex runs twice.

    Raises:
        FileNotFoundError: no engine given and none installed (callers check find_engine first).
    """
    tex, build_dir = Path(tex).resolve(), Path(build_dir).resolve()
    engine = engine or find_engine()
    if engine is None:
        raise FileNotFoundError("no LaTeX engine (pdflatex) on PATH")
    build_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    # Trailing separator keeps TeX's default search path after ours.
    env["TEXINPUTS"] = os.pathsep.join([*(str(Path(p).resolve()) for p in texinputs), ""])
    env["SOURCE_DATE_EPOCH"] = "0"  # reproducible PDF dates/IDs (pdfTeX honours these)
    env["FORCE_SOURCE_DATE"] = "1"
    common = ["-interaction=nonstopmode", "-halt-on-error", "-file-line-error"]
    if engine[0] == "latexmk":
        runs = [["latexmk", "-pdf", "-quiet", f"-outdir={build_dir}",
                 "-pdflatex=pdflatex " + " ".join(common) + " %O %S", str(tex)]]
    else:
        one = ["pdflatex", *common, f"-output-directory={build_dir}", str(tex)]
        runs = [one, one]  # second pass resolves references
    log = build_dir / f"{tex.stem}.log"
    for cmd in runs:
        proc = subprocess.run(cmd, cwd=cwd or tex.parent, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            return 1, (f"{cmd[0]} failed (exit {proc.returncode}):\n{latex_errors(log)}\n"
                       f"    (full log: {log})")
    return 0, ""
