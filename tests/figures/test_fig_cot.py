"""figures/fig_cot_length.py and figures/fig_cot_layers.py (issue 15, item 6) on shrunken
configurations (the full figures are built by figures/build.py): byte-identical outputs for one
seed, and the plotted numbers checked against what the figures claim — the measured chain of
thought has exactly the formula's length, and with chain of thought the compiled depth does not
grow with the problem while the one-pass model's does."""

from __future__ import annotations

import pytest

from theory_kit import paths
from theory_kit.library.cot import COT_PROGRAMS
from theory_kit.paper.loading import load_file

from figures_support import csv_rows


def _build(tmp_path_factory, name, patches):
    tmp = tmp_path_factory.mktemp(name)
    mp = pytest.MonkeyPatch()
    mp.setenv("THEORY_KIT_FIGURES_CACHE", str(tmp / "cache"))
    fig = load_file(paths.FIGURES_DIR / f"{name}.py")
    for attr, value in patches.items():
        mp.setattr(fig, attr, value)
    try:
        a = fig.main(out_dir=tmp / "a", seed=0)
        b = fig.main(out_dir=tmp / "b", seed=0)
    finally:
        mp.undo()
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), f"{pa.name} differs between two builds"
    return fig, tmp, a


@pytest.fixture(scope="module")
def length(tmp_path_factory):
    return _build(tmp_path_factory, "fig_cot_length", {
        "SIZES": {"parity": range(1, 4), "circuit": range(1, 3), "hops": range(1, 3)},
        "ARITHMETIC_SIZES": range(1, 3), "TOOL_CONFIGS": ((2, 2),), "TOOL_SAMPLES": 8})


@pytest.fixture(scope="module")
def layers(tmp_path_factory):
    return _build(tmp_path_factory, "fig_cot_layers", {"GATES": range(1, 4),
                                                       "DIGITS": range(1, 4)})


def test_cot_length_outputs_and_numbers(length):
    _, tmp, paths_ = length
    assert {p.name for p in paths_} == {"fig_cot_length.pdf", "fig_cot_length.png",
                                        "fig_cot_length.csv", "fig_cot_length_tools.csv"}
    rows = csv_rows(tmp / "a" / "fig_cot_length.csv")
    assert {r["program"] for r in rows} == set(COT_PROGRAMS)
    for r in rows:
        spec = COT_PROGRAMS[r["program"]]
        want = spec.cot_length_at(int(r["n"]))
        assert int(r["measured_min"]) == int(r["measured_max"]) == int(r["formula"]) == want
        assert r["exhaustive"] == "1" or int(r["prompts"]) > 0
    tools = csv_rows(tmp / "a" / "fig_cot_length_tools.csv")
    assert {(r["base"], r["n"]) for r in tools} == {("2", "2")}
    for r in tools:
        n, calls = int(r["n"]), int(r["calls"])
        assert int(r["measured"]) == int(r["formula"]) == calls * (6 * n + 6) + 2 * n + 1
    assert [r["calls"] for r in tools if r["base"] == "2"] == ["2"]  # base 2: T = n


def test_cot_layers_flat_with_cot_and_growing_without(layers):
    _, tmp, _ = layers
    rows = csv_rows(tmp / "a" / "fig_cot_layers.csv")
    by = {}
    for r in rows:
        by.setdefault((r["task"], r["kind"], r["program"]), []).append(
            (int(r["n"]), int(r["layers"])))
    assert {k[0] for k in by} == {"circuit", "addition", "parity"}
    for (task, kind, program), points in by.items():
        depths = [d for n, d in points if n >= 2]
        if kind == "chain of thought":
            assert len(set(depths)) == 1, (program, points)
        else:
            assert depths == sorted(depths) and depths[-1] > depths[0], (program, points)
    circuit = dict(by[("circuit", "one pass", "direct_circuit")])
    assert all(circuit[n] == 2 * n - 1 for n in circuit)
    assert max(circuit.values()) > max(d for _, d in by[("circuit", "chain of thought",
                                                          "circuit")])
