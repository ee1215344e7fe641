"""The appendix's claims tables fit the page (issue 22 item 5): every claim's detail table
(proofs_numeric/_common.render_tex) and the summary table (paper_appendix/make_tables.py), with
long names, formulas and domains, typeset with appendix.tex's own preamble and page geometry
without an Overfull \\hbox."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys

import pytest

from theory_kit import paths

pytestmark = pytest.mark.skipif(shutil.which("pdflatex") is None,
                                reason="no LaTeX engine installed; run .ci/install_latex.sh")


def _load(name, path):
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def _preamble() -> str:
    """appendix.tex up to its first \\input (documentclass, geometry, packages)."""
    lines = []
    for line in (paths.APPENDIX_DIR / "appendix.tex").read_text(encoding="utf-8").splitlines():
        if line.startswith("\\input{"):
            break
        lines.append(line)
    return "\n".join(lines)


def test_claim_tables_fit_the_text_width(tmp_path):
    import math

    import sympy as sp

    from theory_kit.claims import Claim, verify

    common = _load("tk_proofs_common", paths.PROOFS_DIR / "_common.py")
    tables = _load("tk_make_tables", paths.APPENDIX_DIR / "make_tables.py")
    names = sorted(p.stem[len("check_"):] for p in paths.PROOFS_DIR.glob("check_*.py"))
    assert len(names) >= 10 and max(map(len, names)) >= 20  # long names are part of the test
    n, beta, delta, spread = sp.symbols("n beta Delta spread")

    def offmax_mass(n, beta, Delta, spread):
        t = (n - 1) * math.exp(-beta * Delta)
        return t / (1 + t)

    for name in names:
        claim = Claim(name, offmax_mass, (n - 1) * sp.exp(-beta * delta) * (1 + spread**2 / (2 * n)),
                      {"n": (2, 1000000, "logint"), "beta": (0.001, 1000.0, "log"),
                       "Delta": (0.001, 10.0, "log"), "spread": (0.0, 0.5, "real")},
                      source="a long source, Lemma 3.1 of a paper", description="a long description")
        verdict = verify(claim, budget=8, seed=0)
        assert verdict.holds
        (tmp_path / f"{name}.tex").write_text(common.render_tex(claim, verdict))
    (tmp_path / "tk_claims.tex").write_text(tables.claims_table(tmp_path).text())
    (tmp_path / "doc.tex").write_text(_preamble() + "\n\\begin{document}\n\\input{tk_claims.tex}\n"
                                      "\\end{document}\n")
    env = dict(os.environ, TEXINPUTS=os.pathsep.join([str(tmp_path), ""]))
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                           f"-output-directory={tmp_path}", str(tmp_path / "doc.tex")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    log = (tmp_path / "doc.log").read_text(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    overfull = re.findall(r"^Overfull \\hbox .*$", log, re.M)
    assert overfull == [], "\n".join(overfull)
