"""Activation-pattern enumeration: exactness against brute-force sampling and between methods."""

import numpy as np
import pytest

from theory_kit.errors import InvalidInput
from theory_kit.landscape import (PatternSet, activation_patterns, enumerate_patterns, max_pattern_count,
                                  sample_patterns, toy_relu_dataset)


def _keys(pattern_set):
    return {m.tobytes() for m in pattern_set.masks.T}


@pytest.mark.parametrize("n", [5, 50, 200])
def test_angular_sweep_finds_2n_patterns_in_general_position(n):
    X, _ = toy_relu_dataset(n, seed=3)
    ps = enumerate_patterns(X)
    assert ps.method == "angular-sweep" and ps.exact
    # 2n arcs; the all-inactive arc exists iff the data lie in an open half-plane, i.e. iff the
    # largest circular gap between consecutive data angles exceeds π.
    angles = np.sort(np.arctan2(X[:, 1], X[:, 0]))
    largest_gap = np.max(np.diff(np.append(angles, angles[0] + 2 * np.pi)))
    assert ps.n_patterns == 2 * n - int(largest_gap > np.pi)
    assert np.array_equal(ps.masks, (X @ ps.gates) >= 0)


@pytest.mark.parametrize("n,d", [(10, 3), (12, 4), (8, 5)])
def test_vertex_enumeration_matches_incremental_lp_and_cover_count(n, d):
    X = np.random.default_rng(n + d).standard_normal((n, d))
    fast = enumerate_patterns(X)
    slow = enumerate_patterns(X, method="incremental-lp")
    assert fast.method == "vertex-enumeration" and slow.method == "incremental-lp"
    assert _keys(fast) == _keys(slow)
    # general position: exactly Cover's count, minus the all-inactive region if it exists
    assert fast.n_patterns in (max_pattern_count(n, d), max_pattern_count(n, d) - 1)


@pytest.mark.parametrize("n,d", [(10, 3), (8, 5), (40, 2)])
def test_every_sampled_pattern_is_enumerated(n, d):
    X = np.random.default_rng(7).standard_normal((n, d))
    enumerated = _keys(enumerate_patterns(X))
    sampled = sample_patterns(X, 100_000, seed=1)
    assert _keys(sampled) <= enumerated
    assert not sampled.exact


def test_degenerate_data_falls_back_to_lp_and_stays_complete():
    X = np.random.default_rng(0).standard_normal((8, 3))
    X[3] = 2 * X[1]  # parallel rows
    X[5] = X[0] + X[2]  # three normals in one plane: not in general position
    ps = enumerate_patterns(X)
    assert ps.method == "incremental-lp"
    assert _keys(sample_patterns(X, 100_000, seed=2)) <= _keys(ps)


def test_rank_deficient_data_is_enumerated_in_its_row_space():
    X = np.random.default_rng(0).standard_normal((10, 2)) @ np.random.default_rng(1).standard_normal((2, 4))
    ps = enumerate_patterns(X)
    assert ps.method == "angular-sweep" and ps.gates.shape[0] == 4
    assert _keys(sample_patterns(X, 50_000, seed=0)) <= _keys(ps)
    rank_one = enumerate_patterns(np.outer(np.arange(1.0, 6.0), [1.0, -2.0, 0.5]))
    assert rank_one.method == "rank-one" and rank_one.n_patterns == 1  # one side is all-active


def test_zero_rows_are_active_by_convention():
    X = np.vstack([np.zeros((1, 2)), np.random.default_rng(0).standard_normal((6, 2))])
    ps = enumerate_patterns(X)
    assert np.all(ps.masks[0])


def test_too_many_patterns_is_refused_with_the_count():
    X = np.random.default_rng(0).standard_normal((40, 6))
    with pytest.raises(InvalidInput, match="patterns=int"):
        enumerate_patterns(X)


def test_zero_matrix_has_no_patterns():
    with pytest.raises(InvalidInput, match="zero"):
        enumerate_patterns(np.zeros((4, 3)))


def test_sampling_is_seeded():
    X, _ = toy_relu_dataset(30, seed=0)
    a = sample_patterns(X, 20, seed=5)
    b = sample_patterns(X, 20, seed=5)
    c = sample_patterns(X, 20, seed=6)
    assert np.array_equal(a.masks, b.masks) and np.array_equal(a.gates, b.gates)
    assert not np.array_equal(a.gates, c.gates)


@pytest.mark.parametrize("bad", ["some", 0, -3, 2.5, True, None])
def test_activation_patterns_rejects_bad_patterns(bad):
    X, _ = toy_relu_dataset(10, seed=0)
    with pytest.raises(InvalidInput, match="patterns"):
        activation_patterns(X, bad)


def test_pattern_set_invariants_fire():
    masks = np.array([[True, False], [False, True]])
    gates = np.eye(2)
    PatternSet(masks=masks, gates=gates, exact=True, method="sampled")
    with pytest.raises(InvalidInput, match="duplicate"):
        PatternSet(masks=np.array([[True, True], [False, False]]), gates=gates, exact=True, method="sampled")
    with pytest.raises(InvalidInput, match="masks must be"):
        PatternSet(masks=masks, gates=np.eye(3), exact=True, method="sampled")
    with pytest.raises(InvalidInput, match="unknown method"):
        PatternSet(masks=masks, gates=gates, exact=True, method="guess")
    with pytest.raises(InvalidInput, match="at least one"):
        PatternSet(masks=np.zeros((2, 0), bool), gates=np.zeros((2, 0)), exact=True, method="sampled")
    ps = PatternSet(masks=masks, gates=gates, exact=True, method="sampled")
    with pytest.raises(ValueError):
        ps.masks[0, 0] = False
