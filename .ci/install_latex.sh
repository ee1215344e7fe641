#!/bin/sh
# Install the smallest LaTeX engine that builds paper_appendix/appendix.tex (pdflatex).
#
# Why only texlive-latex-base: appendix.tex uses graphicx, amsmath, geometry, hyperref and
# plain \hline tables, all of which ship in texlive-latex-base (+ texlive-base, pulled in as a
# dependency). texlive-latex-recommended (booktabs, ~26 MB) and latexmk (+perl) are not
# needed: paper_appendix/build.py runs pdflatex twice when latexmk is absent.
# Measured on Debian 12 (2-core CI box): ~200 MB installed; see the issue-7 note for timing.
set -eu

if command -v pdflatex >/dev/null 2>&1; then
    echo "install_latex.sh: pdflatex already installed ($(command -v pdflatex))"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends texlive-latex-base >/dev/null
pdflatex --version | head -n 1
