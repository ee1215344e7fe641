"""Your own paper (issue 22 item 6): `theory-kit init`, then `make figures` and `make appendix`
in the new project from a clean state, with a figure script and a claim of the user's own."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from theory_kit import cli

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")

MY_FIGURE = '''\
"""A figure of the user's own: a straight line (fast)."""
from pathlib import Path

from theory_kit import plotting


def main(out_dir=None, seed=0):
    fig, ax = plotting.new_figure()
    xs = [0, 1, 2, 3]
    ax.plot(xs, [2 * x + seed for x in xs])
    return plotting.save_figure(fig, "fig_line", out_dir,
                                data=(("x", "y"), [(x, 2 * x + seed) for x in xs]))


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
'''

MY_CLAIMS = '''\
import math

from theory_kit.claims import Claim


def tanh_gap(x):
    """Measured: 1 - tanh(x) as 2/(1+e^(2x)) (no cancellation), a black box to the verifier
    (searched, not proved)."""
    return 2.0 / (1.0 + math.exp(2.0 * x))


CLAIMS = [
    Claim(name="tanh_tail", quantity=tanh_gap, bound="2*exp(-2*x)", domain="x=0..20:real",
          relation="<=", rtol=1e-9, description="1 - tanh x <= 2 exp(-2x)"),
]
'''


def _make(project: Path, target: str, **variables: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, THEORY_KIT_PROGRESS="1")
    for var in ("THEORY_KIT_FIGURES_OUT", "THEORY_KIT_FIGURES_CACHE", "MAKEFLAGS", "MFLAGS"):
        env.pop(var, None)
    args = [f"{k}={v}" for k, v in {"PYTHON": sys.executable, **variables}.items()]
    return subprocess.run(["make", "-C", str(project), target, *args], capture_output=True,
                          text=True, env=env, timeout=300)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_init_then_make_figures_and_make_appendix_from_a_clean_state(tmp_path):
    project = tmp_path / "paper"
    assert cli.main(["init", str(project)]) == 0
    (project / "figures" / "fig_line.py").write_text(MY_FIGURE)
    (project / "claims" / "mine.py").write_text(MY_CLAIMS)

    figures = _make(project, "figures")
    assert figures.returncode == 0, figures.stdout + figures.stderr
    out = project / "figures" / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "fig_example.csv", "fig_example.pdf", "fig_example.png",
        "fig_line.csv", "fig_line.pdf", "fig_line.png"]
    assert (out / "fig_line.csv").read_text() == "x,y\n0,0\n1,2\n2,4\n3,6\n"
    assert "[2/2]" in figures.stdout and "2 built, 0 cached, 0 failed" in figures.stdout
    assert "figures:" in figures.stderr  # the progress bar (forced on: THEORY_KIT_PROGRESS=1)
    assert (project / ".cache" / "figures" / "entries" / "fig_line.json").is_file()
    digests = {p.name: _sha(p) for p in out.iterdir()}

    appendix = _make(project, "appendix", BUDGET="64")
    assert appendix.returncode == 0, appendix.stdout + appendix.stderr
    # `appendix` depends on `figures`: both cached, or (when theory_kit's source changed in
    # between, which changes the cache key) rebuilt byte for byte the same
    assert "0 failed" in appendix.stdout, appendix.stdout
    assert {p.name: _sha(p) for p in out.iterdir()} == digests
    assert "claim softmax_offmax_mass: proved (certificate:" in appendix.stdout
    assert "claim tanh_tail: not refuted, searched (64 points, worst ratio" in appendix.stdout
    generated = project / "appendix" / "generated"
    table = (generated / "claims_table.tex").read_text()
    rows = [line for line in table.splitlines() if line.startswith(r"{\def\_")]
    assert len(rows) == 2, table
    assert rows[0].startswith(r"{\def\_{\textunderscore\allowbreak}\texttt{softmax\_offmax\_mass}} & ")
    assert rows[0].endswith(" & proved (certificate: sympy, 1 box) \\\\")
    assert rows[1].startswith(r"{\def\_{\textunderscore\allowbreak}\texttt{tanh\_tail}} & $\mathtt{tanh\_\allowbreak{}gap} \leq 2 e^{- 2 x}$ & ")
    assert " & searched 64 points, not refuted (worst ratio " in rows[1]
    assert r"\begin{tabularx}{\linewidth}" in table and r"\toprule" in table
    macros = (generated / "claims_macros.tex").read_text()
    for line in (r"\newcommand{\tkClaimsTotal}{2}", r"\newcommand{\tkClaimsProved}{1}",
                 r"\newcommand{\tkClaimsNotRefuted}{1}", r"\newcommand{\tkClaimsRefuted}{0}",
                 r"\newcommand{\tkTanhTailLabel}{not refuted}"):
        assert line in macros.splitlines(), macros
    pdf = project / "appendix" / "build" / "appendix.pdf"
    if shutil.which("pdflatex") is None:
        assert "no LaTeX engine found" in appendix.stderr
        assert not pdf.exists()
    else:
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
        assert "Overfull" not in appendix.stderr, appendix.stderr
        if shutil.which("pdftotext"):
            text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                                  text=True, timeout=60).stdout
            words = " ".join(text.split())
            assert "Of the 2 claims, 1 are proved" in words
            assert "searched 64 points, not refuted (worst ratio 1)" in words


def test_the_makefile_names_the_python_it_needs(tmp_path):
    project = tmp_path / "paper"
    assert cli.main(["init", str(project)]) == 0
    proc = _make(project, "figures", PYTHON=str(tmp_path / "no-such-python"))
    assert proc.returncode != 0
    assert f"theory_kit is not importable by PYTHON={tmp_path / 'no-such-python'}" in proc.stderr
    assert not (project / "figures" / "out" / "fig_example.pdf").exists()
