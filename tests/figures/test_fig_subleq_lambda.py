"""figures/fig_subleq_lambda.py on a shrunken configuration (the full figure is built by
figures/build.py): reproducible bytes, both CSVs written, the derived λ exact on every sampled
program and the smallest exact λ below it."""

from __future__ import annotations

import pytest

from theory_kit import paths
from theory_kit.paper.loading import load_file

from figures_support import csv_rows

NAME = "fig_subleq_lambda"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fig_subleq")
    fig = load_file(paths.FIGURES_DIR / f"{NAME}.py")
    mp = pytest.MonkeyPatch()
    mp.setattr(fig, "SIZES", ((1, 4, 16, 6),))
    mp.setattr(fig, "LAMS", (1.0, 4.0, 10.0))
    mp.setattr(fig, "PROGRAMS", 8)
    mp.setattr(fig, "LOOPS", 5)
    mp.setattr(fig, "BISECT_TOL", 0.5)
    try:
        a = fig.main(out_dir=tmp / "a", seed=0)
        b = fig.main(out_dir=tmp / "b", seed=0)
    finally:
        mp.undo()
    return tmp, a, b


def test_same_seed_gives_identical_data(built):
    tmp, a, b = built
    assert {p.name for p in a} == {f"{NAME}.pdf", f"{NAME}.png", f"{NAME}.csv",
                                   f"{NAME}_threshold.csv"}
    for pa, pb in zip(a, b):
        if pa.suffix == ".csv":
            assert pa.read_bytes() == pb.read_bytes(), pa.name


def test_derived_lambda_exact_and_threshold_below_it(built):
    tmp, _, _ = built
    rows = csv_rows(tmp / "a" / f"{NAME}.csv")
    derived = [r for r in rows if r["kind"] == "derived"]
    assert len(derived) == 2 and all(int(r["exact"]) == int(r["programs"]) for r in derived)
    for r in csv_rows(tmp / "a" / f"{NAME}_threshold.csv"):
        assert float(r["smallest_exact_lam"]) <= float(r["derived_lam"])
