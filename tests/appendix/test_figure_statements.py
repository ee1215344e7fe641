"""The figures say what they measure (issue 13, item 4): Lee et al.'s contiguous 2x2 completion rule,
and the LSA layer trained from random initialisations, not only from the zero-block one."""

from __future__ import annotations

import importlib.util

import numpy as np

from theory_kit import paths


def _load(name):
    spec = importlib.util.spec_from_file_location(name, paths.REPO_ROOT / "figures" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_contiguous_rule_uses_only_adjacent_2x2_blocks():
    mc = _load("fig_matrix_completion")
    # rows 0 and 3, columns 0 and 3: a rectangle, but no contiguous 2x2 block
    mask = np.zeros((4, 4), dtype=bool)
    mask[0, 0] = mask[0, 3] = mask[3, 0] = True
    known, _ = mc.contiguous_fill(mask)
    assert not known[3, 3]
    assert mc.additive_fill(mask)[0][3, 3]  # the rectangle rule fills it
    mask = np.zeros((4, 4), dtype=bool)
    mask[1, 1] = mask[1, 2] = mask[2, 1] = True
    known, rounds = mc.contiguous_fill(mask)
    assert known[2, 2] and rounds >= 1


def _half_point(mc, fill, n, rng, trials=20):
    for m in range(n, n * n + 1, max(1, n // 4)):
        if np.mean([fill(mc.reveal(n, m, rng))[0].all() for _ in range(trials)]) >= 0.5:
            return m
    return n * n


def test_contiguous_rule_needs_more_revealed_entries_than_rectangles():
    mc = _load("fig_matrix_completion")
    rng = np.random.default_rng(0)
    c20, r20 = _half_point(mc, mc.contiguous_fill, 20, rng), _half_point(mc, mc.additive_fill, 20, rng)
    c50, r50 = _half_point(mc, mc.contiguous_fill, 50, rng), _half_point(mc, mc.additive_fill, 50, rng)
    assert 1.1 < c20 / r20 < 1.6
    assert c50 / r50 > c20 / r20  # the gap widens with n
    assert mc.NS == (20, 50, 100, 500)


def test_lsa_figure_trains_from_random_inits_and_says_so(monkeypatch):
    lsa = _load("fig_lsa_closed_form")
    assert "zero" in lsa.__doc__ and "random" in lsa.__doc__
    monkeypatch.setattr(lsa, "DS", (2,))
    monkeypatch.setattr(lsa, "NS", (4, 16))
    monkeypatch.setattr(lsa, "RANDOM_INITS", 4)
    monkeypatch.setattr(lsa, "RANDOM_PROMPTS", 2000)
    rows = lsa.random_init_study(seed=0)
    assert len(rows) == 4 and all(r[0] == 2 and r[1] == 4 for r in rows)
    assert all(isinstance(r[5], bool) for r in rows)
    assert all(r[5] == (r[3] < lsa.MAX_RELATIVE_ERROR) for r in rows)
