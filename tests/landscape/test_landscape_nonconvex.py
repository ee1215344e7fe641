"""Non-convex L-BFGS training never beats the certified optimum; gradients are right."""

import numpy as np
import pytest
from scipy.optimize import check_grad

from theory_kit.landscape import (TOY_BETA, nonconvex_baseline, toy_nonconvex_vs_certified, toy_relu_dataset,
                                  train_two_layer_relu, two_layer_objective, two_layer_relu)
from theory_kit.landscape.nonconvex import objective_and_gradient

# Slack for comparing two floating-point evaluations of the same objective (not a solver tolerance).
FP_RTOL = 1e-12


@pytest.mark.parametrize("data_seed", [0, 1, 2])
def test_training_never_ends_below_the_certified_optimum(data_seed):
    X, y = toy_relu_dataset(40, seed=data_seed)
    certified = two_layer_relu(X, y, beta=TOY_BETA)
    result = nonconvex_baseline(X, y, beta=TOY_BETA, widths=(1, 3, 12), n_inits=6, seed=data_seed,
                                max_iter=1500, certified=certified)
    assert result.objectives.shape == (3, 6)
    # rigorous: every trained network is ≥ the dual lower bound (valid for every width)
    assert np.all(result.objectives >= certified.lower_bound * (1 - FP_RTOL))
    # and, up to the solver's accuracy, ≥ the convex optimum
    assert np.all(result.relative_gaps >= -1e-6)
    assert result.min_objective >= result.certified_lower_bound * (1 - FP_RTOL)


def test_width_one_cannot_reach_a_multi_neuron_optimum(toy_solutions):
    X, y, certified = toy_solutions[50]
    assert certified.width > 1
    result = nonconvex_baseline(X, y, beta=TOY_BETA, widths=(1,), n_inits=4, certified=certified, max_iter=500)
    assert np.all(result.relative_gaps > 1e-3)
    assert np.all(result.fraction_optimal == 0.0)


def test_gradient_matches_finite_differences():
    X, y = toy_relu_dataset(30, seed=4)
    rng = np.random.default_rng(0)
    width = 5
    for _ in range(3):
        theta = rng.standard_normal(X.shape[1] * width + width)
        err = check_grad(lambda t: objective_and_gradient(t, X, y, 0.3, width)[0],
                         lambda t: objective_and_gradient(t, X, y, 0.3, width)[1], theta)
        assert err < 1e-5 * max(1.0, np.linalg.norm(objective_and_gradient(theta, X, y, 0.3, width)[1]))


def test_training_is_seeded_and_reports_the_true_objective():
    X, y = toy_relu_dataset(25, seed=0)
    W1, a1, f1, _ = train_two_layer_relu(X, y, beta=0.1, width=4, seed=3, max_iter=300)
    W2, a2, f2, _ = train_two_layer_relu(X, y, beta=0.1, width=4, seed=3, max_iter=300)
    assert np.array_equal(W1, W2) and f1 == f2
    assert f1 == two_layer_objective(X, y, W1, a1, beta=0.1)


def test_figure_helper_reproduces_the_toy_problem():
    result = toy_nonconvex_vs_certified(30, seed=0, widths=(2, 8), n_inits=3, max_iter=300)
    X, y = toy_relu_dataset(30, seed=0)
    assert result.certified_value == pytest.approx(two_layer_relu(X, y, beta=TOY_BETA).value, rel=1e-9)
    assert result.widths.tolist() == [2, 8]
    assert np.all(result.objectives >= result.certified_lower_bound * (1 - FP_RTOL))
