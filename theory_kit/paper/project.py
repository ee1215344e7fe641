'''`theory-kit init PATH`: a paper project with figures, claims, an appendix and a Makefile.

    PATH/Makefile                  make figures / make appendix / make clean (PYTHON ?= python3)
    PATH/README.md                 how to use it
    PATH/.gitignore                the generated folders
    PATH/figures/fig_example.py    an example figure script (theory_kit.plotting)
    PATH/claims/claims.py          CLAIMS = [Claim(...)] with one example claim
    PATH/appendix/appendix.tex     \\input's appendix/generated/claims_{macros,table}.tex

`make figures` runs `python -m theory_kit.paper figures` (theory_kit.paper.figures: the build
system of this repository's own figures) and `make appendix` runs `python -m theory_kit.paper
appendix` (theory_kit.paper.appendix). Generated: figures/out/, .cache/, appendix/generated/,
appendix/build/.
'''

from __future__ import annotations

import os
from pathlib import Path

from theory_kit import paths
from theory_kit.errors import InvalidInput
from theory_kit.paper.latex import TABLE_PREAMBLE

__all__ = ["init", "TEMPLATE_FILES"]

MAKEFILE = """\
# Paper project made by `theory-kit init` (see README.md).
# Run with the python that has theory_kit installed: `make figures PYTHON=.venv/bin/python`.
PYTHON ?= python3
JOBS ?= 2
SEED ?= 0
BUDGET ?= 2000
PAPER = $(PYTHON) -m theory_kit.paper

.PHONY: all figures appendix clean check-python

all: appendix

check-python:
\t@$(PYTHON) -c "import theory_kit" 2>/dev/null || { \\
\t  echo "theory_kit is not importable by PYTHON=$(PYTHON): pip install theory_kit there," \\
\t       "or name a python that has it: make PYTHON=/path/to/venv/bin/python" >&2; exit 1; }

figures: check-python
\t$(PAPER) figures --jobs $(JOBS) --seed $(SEED)

appendix: figures
\t$(PAPER) appendix --budget $(BUDGET) --seed $(SEED)

clean:
\trm -rf figures/out .cache appendix/generated appendix/build
"""

README = """\
# Paper project

Made by `theory-kit init`. Figures, claims and an appendix built by
[theory_kit](https://pypi.org/project/theory-kit/) with the machinery it uses for its own paper.

## Which python

The Makefile runs `$(PYTHON) -m theory_kit.paper ...` with `PYTHON ?= python3`, so it works
when theory_kit is installed in the `python3` on your `PATH`. For a virtual environment, name
its python (or activate the environment first):

    python3 -m venv .venv && .venv/bin/pip install theory-kit
    make figures PYTHON=.venv/bin/python
    make appendix PYTHON=.venv/bin/python

Other variables: `JOBS` (figures built in parallel, default 2), `SEED` (seed of the figures and
of the claim search, default 0), `BUDGET` (points searched per claim, default 2000).

## make figures

Runs every `figures/fig_<name>.py` (copy `figures/fig_example.py` to start one) and writes
`figures/out/<name>.pdf`, `.png` and the plotted data as `.csv`. A figure is rebuilt only when
its script, its declared data files (`DATA_FILES = ("data/x.csv",)` in the script, relative to
this folder), the seed, theory_kit or the numeric packages changed (the cache is in `.cache/`).
Outputs are deterministic for a fixed seed (SOURCE_DATE_EPOCH=0, metadata stripped), written
atomically (an interrupted build never leaves half a file), and one build at a time holds the
cache's lock. A script receives `--out-dir`, `--seed` and `--manifest`
(`theory_kit.plotting.run_cli` handles them).

## make appendix

Builds the figures, then verifies every claim in `claims/*.py` (each file defines
`CLAIMS = [Claim(...), ...]`): a claim whose quantity is a formula is *proved* (sympy, then
interval branch and bound with a checked certificate); a measured quantity (a Python function)
is *searched* (`BUDGET` points: "searched N points, not refuted"), and a counterexample makes
it *refuted*. The verdicts go to `appendix/generated/claims_table.tex` (one table row per claim)
and `appendix/generated/claims_macros.tex` (`\\tkClaimsTotal`, `\\tkClaimsProved`, ... and per
claim `\\tk<Claim>Verdict`), which `appendix/appendix.tex` inputs; then the appendix is
typeset with latexmk or pdflatex into `appendix/build/appendix.pdf`. Without TeX the .tex files
are still written (and the build says so). `make appendix` fails (exit 1) when a claim is
refuted, after writing the table with the counterexample.

The same check from the command line, one claim at a time:

    theory-kit verify --quantity "(n-1)*exp(-beta)/(1+(n-1)*exp(-beta))" \\
        --bound "(n-1)*exp(-beta)" --domain "n=2..1024:int,beta=0.1..50:log" --latex

`make clean` removes everything generated.
"""

GITIGNORE = """\
figures/out/
.cache/
appendix/generated/
appendix/build/
__pycache__/
"""

FIGURE = '''\
"""Example figure: the softmax mass off the maximal logit against the bound (n-1)exp(-beta).

`make figures` runs this script as `python figures/fig_example.py --out-dir ... --seed ...
--manifest ...` (theory_kit.plotting.run_cli parses those flags). Copy it to
figures/fig_<name>.py to add a figure: compute, plot on `plotting.new_figure()`, and return
`plotting.save_figure(...)` (PDF + PNG + the plotted data as CSV, written atomically).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from theory_kit import plotting

NAME = Path(__file__).stem
NS = (2, 10, 100)
BETAS = np.linspace(0.0, 12.0, 49)


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    fig, ax = plotting.new_figure()
    rows = []
    for k, n in enumerate(NS):
        gaps = 1.0 + rng.exponential(1.0, size=(64, n - 1))  # logit gaps >= 1 below the max
        w = np.exp(-BETAS[:, None, None] * gaps[None])  # (beta, sample, n-1)
        mass = (w.sum(axis=2) / (1.0 + w.sum(axis=2))).max(axis=1)
        bound = (n - 1) * np.exp(-BETAS)
        ax.semilogy(BETAS, bound, color=f"C{k}", lw=0.8)
        ax.semilogy(BETAS[::4], mass[::4], "o", color=f"C{k}", ms=2.5, label=f"$n={n}$")
        rows += [(n, float(b), float(m), float(u)) for b, m, u in zip(BETAS, mass, bound)]
    ax.set_xlabel(r"inverse temperature $\\beta$")
    ax.set_ylabel("mass off the max")
    ax.legend()
    out = Path(__file__).resolve().parent / "out" if out_dir is None else out_dir
    return plotting.save_figure(fig, NAME, out, data=(("n", "beta", "mass", "bound"), rows))


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
'''

CLAIMS = '''\
"""The claims of this paper: `make appendix` verifies every Claim in CLAIMS (of every
claims/*.py file) and puts each, with its verdict, into the appendix's claims table.

A Claim reads "for every point of `domain`, quantity <relation> bound". Give the bound (and,
to get a proof rather than a search, the quantity) as a formula in the domain's names: the text
is parsed safely, with every domain name a plain symbol (beta is your parameter, not sympy's
beta function). A quantity may also be a Python function taking the parameters as keyword
arguments (it is then searched, not proved), e.g.

    def offmax_mass(n, beta):
        import numpy as np
        logits = np.r_[0.0, np.full(n - 1, -1.0)]
        w = np.exp(beta * logits)
        return float(w[1:].sum() / w.sum())

    Claim(name="softmax_offmax_measured", quantity=offmax_mass, bound="(n-1)*exp(-beta)",
          domain="n=2..1024:int,beta=0.1..50:log", rtol=1e-12)

Domains: "NAME=LO..HI:KIND,..." or {"n": (2, 1024, "int"), ...}; KIND is int, real, log
(positive reals on a log scale) or logint.
"""

from theory_kit.claims import Claim

CLAIMS = [
    Claim(
        name="softmax_offmax_mass",
        quantity="(n-1)*exp(-beta)/(1+(n-1)*exp(-beta))",
        bound="(n-1)*exp(-beta)",
        domain="n=2..1024:int,beta=0.1..50:log",
        relation="<=",
        source="example: the softmax mass off a maximum that beats n-1 logits by 1",
        description="off-maximum softmax mass at gap 1 is at most (n-1)exp(-beta)",
    ),
]
'''

APPENDIX = r"""% The paper's appendix. `make appendix` writes generated/claims_macros.tex and
% generated/claims_table.tex (the claims in claims/*.py with their verdicts) and typesets this
% file into build/appendix.pdf; the figures come from figures/out (`make figures`). Both
% folders are on TEXINPUTS, so files are named without paths.
\documentclass[10pt]{article}
\usepackage[margin=1in]{geometry}
\usepackage{amsmath}
\usepackage{graphicx}
""" + TABLE_PREAMBLE + r"""

\input{claims_macros.tex}

\begin{document}

\section*{Appendix: claims checked}
Of the \tkClaimsTotal{} claims, \tkClaimsProved{} are proved over their whole domain,
\tkClaimsNotRefuted{} were searched (\tkClaimsBudget{} points each, seed \tkClaimsSeed) without
finding a counterexample, and \tkClaimsRefuted{} are refuted.

\input{claims_table.tex}

\begin{figure}[h]
  \centering
  \includegraphics[width=3.25in]{fig_example.pdf}
  \caption{Softmax mass off the maximum (dots, random logits with gap at least 1) against the
  bound $(n-1)e^{-\beta}$ (lines); the claim \texttt{softmax\_offmax\_mass} is
  \tkSoftmaxOffmaxMassLabel.}
\end{figure}

\end{document}
"""

#: Relative path -> text of every file `init` writes.
TEMPLATE_FILES: dict[str, str] = {
    "Makefile": MAKEFILE,
    "README.md": README,
    ".gitignore": GITIGNORE,
    "figures/fig_example.py": FIGURE,
    "claims/claims.py": CLAIMS,
    "appendix/appendix.tex": APPENDIX,
}


def init(path: Path | str) -> list[Path]:
    """Create the paper project at `path` (a new or empty folder); returns the files written.

    Raises:
        InvalidInput: `path` is a file, or a folder that already holds any of the project's
            files (nothing is overwritten; the message lists them).
    """
    root = Path(path).expanduser()
    if root.exists() and not root.is_dir():
        raise InvalidInput(f"cannot create a paper project at {str(root)!r}: it is a file")
    clashes = [rel for rel in TEMPLATE_FILES if (root / rel).exists()]
    if clashes:
        raise InvalidInput(f"{str(root)!r} already has {', '.join(clashes)}; theory-kit init "
                           "never overwrites files (choose a new folder)")
    written = []
    for rel, text in TEMPLATE_FILES.items():
        target = root / rel
        paths.write_atomic(target, text)
        written.append(target)
    os.makedirs(root / "figures" / "out", exist_ok=True)
    return written
