"""Your own paper: figures, claims and an appendix built the way this repository builds its own.

`theory-kit init PATH` creates a paper project (see `theory_kit.paper.project`):

    PATH/figures/fig_example.py    a figure script (theory_kit.plotting)
    PATH/claims/claims.py          CLAIMS = [Claim(...), ...]
    PATH/appendix/appendix.tex     \\input's the generated claims table and macros
    PATH/Makefile                  `make figures`, `make appendix`
    PATH/README.md

Modules (import them directly; this package imports nothing eagerly, so the command line
stays fast):

    figures   the figure build system (content-hash cache, deterministic outputs, lock,
              progress, atomic writes); this repository's figures/build.py calls it
    latex     TeX rendering of claims and verdicts (table rows, macros) and typesetting with
              latexmk or pdflatex; `theory-kit verify --latex` and both appendices use it
    appendix  a project's `make appendix`: verify its claims, write the table and macros,
              typeset
    loading   importing user code: MODULE:FUNCTION specs and claims files
    project   `theory-kit init`: the project template
    cli       `python -m theory_kit.paper figures|appendix [PROJECT]`
"""
