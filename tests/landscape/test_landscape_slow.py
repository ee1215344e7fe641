"""Longer sweeps of the landscape claims (run with `make test-slow`)."""

import numpy as np
import pytest

from theory_kit.landscape import (TOY_BETA, enumerate_patterns, looped_lsa, nonconvex_baseline, sample_patterns,
                                  toy_relu_dataset, two_layer_relu)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("n", [50, 100, 200])
@pytest.mark.parametrize("seed", range(5))
def test_training_sweep_never_beats_the_certificate(n, seed):
    X, y = toy_relu_dataset(n, seed=seed)
    certified = two_layer_relu(X, y, beta=TOY_BETA)
    assert certified.relative_gap <= 1e-6
    result = nonconvex_baseline(X, y, beta=TOY_BETA, n_inits=10, seed=seed, certified=certified)
    assert np.all(result.objectives >= certified.lower_bound * (1 - 1e-12))


@pytest.mark.parametrize("n,d", [(40, 3), (16, 4)])
def test_exact_certificate_in_higher_dimension(n, d):
    rng = np.random.default_rng(n + d)
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    result = two_layer_relu(X, y, beta=0.1)
    assert result.patterns_exact and result.relative_gap <= 1e-6
    assert result.network_objective == pytest.approx(result.value, rel=1e-6)
    keys = {m.tobytes() for m in enumerate_patterns(X).masks.T}
    assert {m.tobytes() for m in sample_patterns(X, 300_000, seed=0).masks.T} <= keys


def test_looped_lsa_many_loops_keeps_improving():
    result = looped_lsa(5, 20, loops=(1, 2, 3, 4, 6), n_prompts=20000, seed=0)
    assert np.all(np.diff(result.loss) < 0)
    assert np.all(result.loss <= result.scalar_loss * (1 + 1e-9))
