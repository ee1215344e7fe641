"""Convex (nuclear-norm) multi-head linear self-attention against its non-convex training."""

import cvxpy as cp
import numpy as np
import pytest
from scipy.optimize import check_grad

from theory_kit.landscape import (attention_dual_certificate, attention_nonconvex_baseline, attention_objective,
                                  build_linear_attention_problem, lifted_attention_operator, linear_attention_convex,
                                  toy_attention_dataset)
from theory_kit.landscape import attention_convex as ac

BETA = 0.01
FP_RTOL = 1e-12


@pytest.fixture(scope="module", params=[1, 2], ids=["C=1", "C=2"])
def problem(request):
    X, Y = toy_attention_dataset(10, seed=0, c=request.param)
    return X, Y, linear_attention_convex(X, Y, beta=BETA)


def test_lifted_operator_matches_the_attention_heads():
    X, Y = toy_attention_dataset(6, seed=1, c=2)
    rng = np.random.default_rng(0)
    W1, W2 = rng.standard_normal((3, 3, 3)), rng.standard_normal((3, 3, 2))
    Z = sum(np.outer(W1[j].ravel(), W2[j].ravel()) for j in range(3))
    lifted = ac._predict(lifted_attention_operator(X), Z, 3, 2).reshape(Y.shape)
    gram = np.swapaxes(X, 1, 2) @ X
    direct = sum(X @ W1[j] @ gram @ W2[j] for j in range(3))
    assert np.allclose(lifted, direct, atol=1e-13)


def test_certificate_closes_and_heads_attain_the_value(problem):
    X, Y, result = problem
    assert result.gap <= 1e-6 * result.value
    assert result.network_objective == pytest.approx(result.value, rel=1e-6)
    assert attention_objective(X, Y, result.W1, result.W2, beta=BETA) == pytest.approx(result.network_objective,
                                                                                         rel=FP_RTOL)
    assert 1 <= result.n_heads <= min(X.shape[2] ** 2, X.shape[2] * Y.shape[2])


def test_convex_value_is_below_every_trained_value(problem):
    X, Y, result = problem
    max_heads = X.shape[2] * Y.shape[2]
    trained = attention_nonconvex_baseline(X, Y, beta=BETA, heads=(1, max_heads), n_inits=4, seed=0,
                                           certified=result)
    # rigorous: the dual bound is below every trained objective, for every head count
    assert np.all(trained.objectives >= result.lower_bound * (1 - FP_RTOL))
    # the convex value too, up to the solver's accuracy
    assert np.all(trained.objectives >= result.value * (1 - 1e-7))
    # one head cannot fit a rank > 1 optimum; with enough heads training does reach it
    assert result.n_heads > 1 and np.all(trained.relative_gaps[0] > 1e-4)
    assert trained.fraction_optimal[1] > 0


def test_training_gradient_matches_finite_differences():
    X, Y = toy_attention_dataset(5, seed=2, c=2)
    F = lifted_attention_operator(X)
    theta = np.random.default_rng(3).standard_normal((9 + 6) * 2)
    err = check_grad(lambda t: ac._heads_loss_and_grad(t, F, Y.reshape(-1, 2), 0.1, 3, 2, 2)[0],
                     lambda t: ac._heads_loss_and_grad(t, F, Y.reshape(-1, 2), 0.1, 3, 2, 2)[1], theta)
    assert err < 1e-6 * np.linalg.norm(ac._heads_loss_and_grad(theta, F, Y.reshape(-1, 2), 0.1, 3, 2, 2)[1])


def test_dual_certificate_is_a_valid_lower_bound_for_any_dual_vector():
    X, Y = toy_attention_dataset(8, seed=3)
    exact = linear_attention_convex(X, Y, beta=0.05)
    for seed in range(3):
        lam = np.random.default_rng(seed).standard_normal(Y.size)
        cert = attention_dual_certificate(X, Y, lam, beta=0.05)
        assert cert.lower_bound <= exact.value * (1 + 1e-9)
        assert cert.scale * cert.constraint_value <= 0.05 * (1 + 1e-12)


def test_builder_returns_an_unsolved_sdp():
    X, Y = toy_attention_dataset(4, seed=0)
    problem = build_linear_attention_problem(X, Y, beta=0.1)
    assert isinstance(problem, cp.Problem) and problem.status is None and problem.is_dcp()
    assert [v.name() for v in problem.variables()] == ["Z"]


# --- Sahiner et al. 2022 ("Unraveling attention via convex duality"), formula by formula ---------

def test_adjoint_of_the_lifted_operator_is_the_dual_constraint_map():
    # the dual constraint ‖F*λ‖₂ ≤ β uses F*; ⟨F(Z), R⟩ = ⟨Z, F*(R)⟩ for every Z, R
    X, _ = toy_attention_dataset(5, seed=3, c=2)
    F = lifted_attention_operator(X)
    rng = np.random.default_rng(1)
    Z, R = rng.standard_normal((9, 6)), rng.standard_normal((F.shape[0], 2))
    assert np.sum(ac._predict(F, Z, 3, 2) * R) == pytest.approx(np.sum(Z * ac._adjoint(F, R, 3, 2)), rel=1e-12)


def test_recovered_heads_pay_exactly_the_nuclear_norm(problem):
    # min over factorisations Z = Σ_j vec(W1_j) vec(W2_j)ᵀ of ½ Σ_j (‖W1_j‖² + ‖W2_j‖²) is ‖Z‖_*,
    # attained by the SVD heads; the heads reproduce Z
    _, _, result = problem
    lifted = sum(np.outer(result.W1[j].ravel(), result.W2[j].ravel()) for j in range(result.n_heads))
    assert np.allclose(lifted, result.Z, atol=1e-6 * np.abs(result.Z).max())
    paid = 0.5 * (np.sum(result.W1 ** 2) + np.sum(result.W2 ** 2))
    assert paid == pytest.approx(np.linalg.norm(result.Z, "nuc"), rel=1e-6)


def test_dual_constraint_is_tight_at_the_optimum(problem):
    # strong duality: the optimal dual point λ = y − ŷ has ‖F*λ‖₂ = β when Z* ≠ 0
    X, Y, result = problem
    d, c = X.shape[2], Y.shape[2]
    F = lifted_attention_operator(X)
    residual = Y.reshape(-1, c) - ac._predict(F, result.Z, d, c)
    assert np.linalg.norm(ac._adjoint(F, residual, d, c), 2) == pytest.approx(BETA, rel=1e-4)
