"""Sample-complexity search, bootstrap intervals and growth fits (issue 19, item 3), the
figure data's byte-for-byte reproducibility on a tiny configuration, and the construction
comparison (item 6)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from theory_kit.errors import InvalidInput
from theory_kit.learning import complexity as cx


def _probe(size, acc, seed=0, cond=0):
    return cx.Probe(cond, seed, size, 0, acc, 0.0, 0.0)


def test_threshold_is_where_every_larger_probe_passes():
    probes = [_probe(16, 1.0), _probe(32, 0.5), _probe(64, 0.995), _probe(128, 1.0),
              _probe(16, 0.2, seed=1), _probe(32, 0.3, seed=1)]
    th = cx.thresholds(probes, [(0, 0), (0, 1)], 0.99)
    assert th[0].size == 64          # the lucky 16 does not count: 32 fails
    assert th[1].size == math.inf    # censored


def test_refinement_probes_lie_strictly_inside_the_bracket():
    config = cx.SearchConfig(grid=(16, 64, 256), seeds=1)
    probes = [_probe(16, 0.1), _probe(64, 0.5), _probe(256, 1.0)]
    planned = cx._refine(probes, [(0, 0)], config)
    sizes = [g for _, _, g in planned]
    assert len(sizes) == 3 and all(64 < g < 256 for g in sizes) and sizes == sorted(sizes)
    assert cx._refine([_probe(16, 1.0)], [(0, 0)], config) is None   # nothing to bisect


def test_median_interval_and_growth_fit():
    med, lo, hi = cx.median_interval([10, 12, 14, 100], seed=1)
    assert med == 13 and lo <= med <= hi
    assert cx.median_interval([5, 5, 5])[1:] == (5, 5)
    ns = [2, 4, 8, 16]
    per = [[n ** 2 * f for f in (0.9, 1.0, 1.1)] for n in ns]
    fit = cx.fit_growth(ns, per, law="power")
    assert fit.rate == pytest.approx(2.0) and fit.low <= 2.0 <= fit.high
    per_exp = [[math.exp(0.5 * n) * f for f in (0.95, 1.0, 1.05)] for n in ns]
    assert cx.fit_growth(ns, per_exp, law="exponential").rate == pytest.approx(0.5)
    cens = cx.fit_growth(ns, per[:3] + [[math.inf] * 3], law="power")
    assert cens.censored == (16,) and cens.sizes_used == (2, 4, 8)
    assert math.isnan(cx.fit_growth(ns[:1], per[:1]).rate)
    with pytest.raises(InvalidInput, match="'cubic'"):
        cx.fit_growth(ns, per, law="cubic")
    with pytest.raises(InvalidInput, match="increasing"):
        cx.SearchConfig(grid=(64, 16))


@pytest.mark.slow   # compile-bound: two XLA compilations (~40 s CPU)
def test_figure_data_is_byte_identical_for_a_seed(tmp_path):
    pytest.importorskip("jax")
    from theory_kit.learning import experiments
    from theory_kit.learning.training import TrainConfig

    exp = experiments.get_experiment("composition")
    exp = dataclasses.replace(exp, ns=(1, 2), train=TrainConfig(steps=5, batch=4),
                              search=cx.SearchConfig(grid=(4, 8), seeds=2, test=4, rounds=1),
                              model=(("width", 8), ("layers", 1), ("heads", 1)))
    runs = [experiments.run("composition", exp=exp, seed=3) for _ in range(2)]
    a, b = (repr((r.thresholds, r.medians, r.fits, r.curves, r.probes)) for r in runs)
    assert a == b
    assert len(runs[0].probes) >= 2 * 2 * 2 * 2          # n x arms x seeds x grid
    assert {row[0] for row in runs[0].fits} == {"end to end", "CoT"}


def test_construction_solves_parity_and_its_loss_matches_the_formula():
    from theory_kit.learning import construction, tasks

    task = tasks.make_task("parity", 6)
    pool, _ = tasks.split_pools(task, train=20, test=4, seed=0)
    c = construction.construction_loss(tasks.dataset(task, pool, cot=True))
    assert c.exact_match == 1.0 and c.values == 3
    for beta, loss in zip(c.scales, c.losses):
        assert loss == pytest.approx(math.log1p(2 * math.exp(-beta)), rel=1e-9)
        assert construction.matching_scale(loss, 3) == pytest.approx(beta, rel=1e-6)
    with pytest.raises(InvalidInput, match="cot=True"):
        construction.construction_loss(tasks.dataset(task, pool, cot=False))


@pytest.mark.slow   # compile-bound, as above
def test_a_configuration_runs_as_a_sweep(tmp_path):
    pytest.importorskip("jax")
    from theory_kit import sweep
    from theory_kit.learning import experiments

    grid = experiments.sweep_grid("parity", "tiny")
    assert [c["n"] for c in grid] == [10, 13] and all("arm" not in c for c in grid)
    rows = sweep.run("theory_kit.learning.experiments:cell", grid[:1], seeds=1,
                     store=str(tmp_path / "store"), engine="serial")
    sweep.check(rows)
    assert set(rows[0]["thresholds"]) == {"end to end", "CoT"}
    assert {p[0] for p in rows[0]["probes"]} == {"end to end", "CoT"}
    assert all(t is None or 4 <= t <= 8 for t in rows[0]["thresholds"].values())
    res = experiments.from_sweep(rows)
    assert {(r[0], r[1]) for r in res.medians} == {(10, "end to end"), (10, "CoT")}
    with pytest.raises(InvalidInput, match="'huge'"):
        experiments.get_experiment("parity", "huge")


def _rows(exp, per_arm):
    """Sweep rows of `cell`'s shape from thresholds per_arm[arm](n, seed index)."""
    return [{"experiment": exp.name, "config": "medium", "n": n, "seed_index": s, "status": "ok",
             "thresholds": {a: per_arm[a](n, s) for a, _ in exp.arms},
             "probes": [[a, g, 1.0, 0.0, 0.0] for a, _ in exp.arms for g in exp.search.grid]}
            for n in exp.ns for s in range(3)]


def test_from_sweep_fits_the_growth_of_each_arm():
    from theory_kit.learning import experiments

    exp = experiments.get_experiment("composition", "medium")
    rows = _rows(exp, {"end to end": lambda n, s: 2.0 ** n * (10 + s),
                       "CoT": lambda n, s: None if n == exp.ns[-1] else 50 + s})
    res = experiments.from_sweep(rows)
    fits = {(r[0], r[1]): r[2:] for r in res.fits}
    assert fits["end to end", "exponential"][0] == pytest.approx(math.log(2))
    assert fits["CoT", "power"][0] == pytest.approx(0.0, abs=1e-12)
    assert fits["CoT", "power"][4] == str(exp.ns[-1])          # the censored size
    assert ("CoT", exp.ns[-1]) not in {(r[1], r[0]) for r in res.medians
                                       if math.isfinite(r[2])}
    with pytest.raises(InvalidInput, match="did not finish"):
        experiments.from_sweep(rows[:1] + [{**rows[1], "status": "error"}])
    with pytest.raises(InvalidInput, match="no rows"):
        experiments.from_sweep([])
    foreign = {k: v for k, v in rows[1].items() if k != "thresholds"}
    with pytest.raises(InvalidInput, match="not rows of a `cell` sweep"):
        experiments.from_sweep(rows[:1] + [foreign])


@pytest.mark.parametrize("name", ["parity", "addition", "composition"])
def test_medium_configuration_shape(name):
    """Every arm is measured at >= 3 sizes, and every size's input space holds the largest
    training pool plus unseen held-out prompts (split_pools' condition)."""
    from theory_kit.learning import experiments

    exp = experiments.get_experiment(name, "medium")
    assert len(exp.ns) >= 3 and exp.search.seeds >= 3 and len(exp.search.grid) >= 3
    for c in exp.conditions():
        assert c.task.input_space >= 2 * exp.search.grid[-1]
    assert [c["n"] for c in experiments.sweep_grid(name, "medium")] == list(exp.ns)


def test_arms_are_paired_by_seed():
    """At one (n, seed) every arm trains on the same prompts, is tested on the same held-out
    prompts and starts from the same weights (the seed is shared; only the layout differs)."""
    from theory_kit.learning import experiments

    exp = experiments.get_experiment("addition", "medium")
    conds = exp.conditions(ns=[exp.ns[0]])
    arrays, _, _ = cx._prepared(conds, exp.search, seed=5)
    p = conds[0].task.prompt_length
    for s in range(exp.search.seeds):
        pools = [arrays[ci, s][0][:, :p] for ci in range(len(conds))]
        helds = [arrays[ci, s][1][:, :p] for ci in range(len(conds))]
        assert all((x == pools[0]).all() for x in pools)
        assert all((x == helds[0]).all() for x in helds)
        answers = {arrays[ci, s][0][:, p:].tobytes() for ci in range(len(conds))}
        assert len(answers) == len(conds)      # the arms differ in what follows the prompt
    other = cx._prepared(conds, exp.search, seed=6)[0]
    assert not (other[0, 0][0] == arrays[0, 0][0]).all()


@pytest.mark.parametrize("name", ["parity", "addition", "composition"])
def test_full_configuration_has_explicit_per_arm_size_ranges(name):
    """The full configuration (the sweep that measured the growth rates) names, per arm, the
    sizes n it is measured at and its grid; every arm has >= 2 sizes, every size's input
    space holds the arm's largest pool plus unseen prompts, and the sweep has one cell per n
    of the union."""
    from theory_kit.learning import experiments

    exp = experiments.get_experiment(name, "full")
    assert exp.per_arm and exp.search.seeds >= 3
    for label, _ in exp.arms:
        assert len(exp.arm_ns(label)) >= 2 and set(exp.arm_ns(label)) <= set(exp.ns)
    for c in exp.conditions():
        assert c.task.n in exp.arm_ns(c.label)
        assert c.task.input_space >= 2 * exp.arm_search(c.label).grid[-1]
    assert [c["n"] for c in experiments.sweep_grid(name, "full")] == list(exp.ns)
    parity = experiments.get_experiment("parity", "full")
    assert parity.arm_ns("end to end") == (10, 12) and parity.arm_ns("CoT") == (10, 12, 14, 16)
    assert {c.label for c in parity.conditions(ns=[14])} == {"CoT"}


def test_arm_settings_are_validated():
    from theory_kit.learning import experiments

    exp = experiments.get_experiment("parity", "medium")
    with pytest.raises(InvalidInput, match="'sideways'"):
        dataclasses.replace(exp, per_arm=(("sideways", experiments.ArmSetting()),))
    with pytest.raises(InvalidInput, match=r"\(9, 10\)"):
        dataclasses.replace(exp, per_arm=(("CoT", experiments.ArmSetting(ns=(9, 10))),))
    with pytest.raises(InvalidInput, match="ns must"):
        experiments.ArmSetting(ns=())
    with pytest.raises(InvalidInput, match="increasing"):
        experiments.ArmSetting(grid=(64, 16))


def test_a_cell_searches_each_arm_with_its_own_grid_and_budget(monkeypatch):
    """`cell` runs one search per (grid, optimisation) of the arms measured at its n, each
    with the arm's own settings (the search itself is replaced by a recorder: no training)."""
    from theory_kit.learning import experiments

    calls = []

    def fake_search(conds, config, *, train_config, model, seed, desc):
        calls.append(({c.label for c in conds}, config.grid, train_config.steps, config.seeds))
        probes = [cx.Probe(ci, 0, g, 0, 1.0, 0.0, 0.0)
                  for ci in range(len(conds)) for g in config.grid]
        return probes, [cx.Threshold(ci, 0, float(config.grid[0])) for ci in range(len(conds))]

    monkeypatch.setattr(experiments.cx, "search", fake_search)
    monkeypatch.setattr(experiments, "compilation_cache", lambda folder=None: None)
    exp = experiments.get_experiment("parity", "full")
    out = experiments.cell("parity", "full", 12, seed=7)
    assert sorted(calls, key=lambda c: c[1]) == [
        ({"CoT"}, exp.search.grid, exp.train.steps, 1),
        ({"end to end"}, (128, 512), exp.train.steps, 1)]
    assert out["thresholds"] == {"end to end": 128, "CoT": exp.search.grid[0]}
    calls.clear()
    out = experiments.cell("parity", "full", 16, seed=7)
    assert [c[0] for c in calls] == [{"CoT"}] and set(out["thresholds"]) == {"CoT"}
    rows = [{"experiment": "parity", "config": "full", "n": n, "seed_index": s,
             "status": "ok", **experiments.cell("parity", "full", n, seed=s)}
            for n in exp.ns for s in range(3)]
    res = experiments.from_sweep(rows)
    assert {(r[0], r[1]) for r in res.medians} == (
        {(n, "CoT") for n in exp.ns} | {(10, "end to end"), (12, "end to end")})
    assert {(r[1], r[2]) for r in res.curves if r[1] == "end to end"} == {
        ("end to end", 128), ("end to end", 512)}   # the arm's own grid
    fits = {(r[0], r[1]): r for r in res.fits}
    assert fits["end to end", "power"][5] == "10 12"
