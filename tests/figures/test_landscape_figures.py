"""figures/fig_nonconvex_vs_certified.py and figures/fig_lsa_closed_form.py on shrunken configurations.

The full figures are built by figures/build.py (and tests/appendix); here the module constants are
shrunk so each script runs in seconds, and the plotted data are checked against the claims the
figures illustrate: no trained network beats the certified optimum, and the trained LSA layer
recovers the sympy-derived Γ* = n/(n+d+1) I.
"""

from __future__ import annotations


import numpy as np
import pytest

from theory_kit import paths
from theory_kit.paper.loading import load_file

from figures_support import csv_rows


def _load(name: str):
    return load_file(paths.FIGURES_DIR / f"{name}.py")




@pytest.fixture
def cache_env(tmp_path, monkeypatch):
    monkeypatch.setenv("THEORY_KIT_FIGURES_CACHE", str(tmp_path / "cache"))


def test_nonconvex_figure_runs_never_beat_the_certificate(tmp_path, monkeypatch, cache_env):
    fig = _load("fig_nonconvex_vs_certified")
    monkeypatch.setattr(fig, "N_SAMPLES", 20)
    monkeypatch.setattr(fig, "WIDTHS", (2, 8))
    monkeypatch.setattr(fig, "N_INITS", 3)
    a = fig.main(out_dir=tmp_path / "a", seed=0)
    b = fig.main(out_dir=tmp_path / "b", seed=0)
    assert {p.suffix for p in a} == {".pdf", ".png", ".csv"}
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), f"{pa.name} differs between two builds"
    rows = csv_rows(tmp_path / "a" / "fig_nonconvex_vs_certified.csv")
    assert len(rows) == 2 * 3
    for row in rows:
        objective, value, lower = (float(row[k]) for k in ("objective", "certified_value", "certified_lower_bound"))
        assert lower <= value * (1 + 1e-9)
        assert objective >= value * (1 - fig.SOLVER_RTOL)
        assert float(row["relative_gap"]) == pytest.approx((objective - value) / value)


def test_lsa_figure_matches_the_closed_form(tmp_path, monkeypatch, cache_env):
    fig = _load("fig_lsa_closed_form")
    monkeypatch.setattr(fig, "DS", (2, 3))
    monkeypatch.setattr(fig, "NS", (4, 16))
    monkeypatch.setattr(fig, "N_PROMPTS", 4000)
    monkeypatch.setattr(fig, "NS_DENSE", np.array([4, 8, 16]))
    written = fig.main(out_dir=tmp_path, seed=0)
    assert {p.suffix for p in written} == {".pdf", ".png", ".csv"}
    rows = csv_rows(tmp_path / "fig_lsa_closed_form.csv")
    assert len(rows) == 2 * 2
    for row in rows:
        d, n = int(row["d"]), int(row["n"])
        assert float(row["closed_form_scale"]) == pytest.approx(n / (n + d + 1), rel=1e-12)
        assert float(row["closed_form_loss"]) == pytest.approx(d * (d + 1) / (n + d + 1), rel=1e-12)
        assert float(row["relative_error"]) < fig.MAX_RELATIVE_ERROR
