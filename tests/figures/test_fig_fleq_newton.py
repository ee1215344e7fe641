"""figures/fig_fleq_newton.py on a shrunken configuration (the full figure is built by
figures/build.py): reproducible bytes, both CSVs written, the machine's final Newton iterate
within the derived tolerance of numpy's inverse in float64 and float32, and the float64 machine
far more accurate than the float32 one."""

from __future__ import annotations

import pytest

from figures_support import assert_same_data, build_twice, csv_rows

NAME = "fig_fleq_newton"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fig_fleq")
    return (tmp,) + build_twice(tmp, NAME, K_SIDES=(2,), ITERATIONS=4)


def test_same_seed_gives_identical_data(built):
    _, a, b = built
    assert_same_data(a, b, {f"{NAME}.pdf", f"{NAME}.png", f"{NAME}.csv", f"{NAME}_final.csv"})


def test_final_errors_within_derived_tolerance(built):
    tmp, _, _ = built
    final = {r["dtype"]: r for r in csv_rows(tmp / "a" / f"{NAME}_final.csv")}
    assert set(final) == {"float64", "float32"}
    for r in final.values():
        assert float(r["final_error"]) <= float(r["derived_tolerance"])
    assert float(final["float64"]["final_error"]) < 1e-6 * float(final["float32"]["final_error"])
    rows = csv_rows(tmp / "a" / f"{NAME}.csv")
    assert {r["run"] for r in rows} == {"interpreter", "machine float64", "machine float32"}
    assert len(rows) == 3 * 5
