"""Linear self-attention ICL: sympy closed form vs numerical minimisation; looped LSA."""

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import check_grad

from theory_kit.errors import InvalidInput
from theory_kit.landscape import (ahn_minimiser_formula, derive_lsa_minimiser, looped_lsa, lsa_closed_form,
                                  lsa_numerical_minimiser, lsa_population_loss, lsa_trained_vs_closed_form)
from theory_kit.landscape import linear_attention as la

AGREE_RTOL = 0.01  # acceptance: closed form and numerical minimiser agree to 1%
N_CONTEXT = 20


@pytest.mark.parametrize("d", [2, 3])
def test_sympy_derivation_reproduces_ahn_et_al_for_general_diagonal_covariance(d):
    gamma, _, _, _ = derive_lsa_minimiser(d, symbolic_cov=True)
    difference = (gamma - ahn_minimiser_formula(d)).applyfunc(sp.cancel)
    assert difference == sp.zeros(d, d)


@pytest.mark.parametrize("d", [2, 5, 10])
def test_isotropic_closed_form(d):
    closed = lsa_closed_form(d, N_CONTEXT)
    expected = N_CONTEXT / (N_CONTEXT + d + 1)
    assert np.allclose(closed.gamma, expected * np.eye(d), rtol=1e-14, atol=0)
    assert closed.min_loss == pytest.approx(d * (d + 1) / (N_CONTEXT + d + 1), rel=1e-14)
    assert lsa_population_loss(closed.gamma, n=N_CONTEXT) == pytest.approx(closed.min_loss, rel=1e-12)
    # a global minimiser of a convex quadratic: any perturbation raises the loss
    rng = np.random.default_rng(d)
    for _ in range(5):
        assert lsa_population_loss(closed.gamma + 0.05 * rng.standard_normal((d, d)), n=N_CONTEXT) > closed.min_loss


@pytest.mark.parametrize("d", [2, 5, 10])
def test_numerical_minimiser_of_sampled_loss_agrees_with_closed_form(d):
    result = lsa_numerical_minimiser(d, N_CONTEXT, parametrisation="gamma", n_prompts=20000, seed=d)
    assert result.relative_error <= AGREE_RTOL


@pytest.mark.parametrize("d", [2, 5, 10])
def test_trained_full_lsa_layer_agrees_with_closed_form(d):
    result = lsa_numerical_minimiser(d, N_CONTEXT, parametrisation="full", n_prompts=100_000, seed=d, n_restarts=1)
    assert result.relative_error <= AGREE_RTOL
    assert result.loss == pytest.approx(result.closed_form.min_loss, rel=0.02)
    b, A = result.params["b"], result.params["A"]
    assert abs(b[d]) > 0 and np.allclose(result.gamma, b[d] * A[:d].T + np.outer(A[d], b[:d]))


def test_anisotropic_covariance_numeric_agrees():
    cov = np.array([0.5, 1.0, 2.0])
    result = lsa_numerical_minimiser(3, N_CONTEXT, cov_diag=cov, n_prompts=40000, seed=1)
    assert result.relative_error <= AGREE_RTOL
    n = N_CONTEXT
    expected = np.linalg.inv((n + 1) / n * np.diag(cov) + cov.sum() / n * np.eye(3))
    assert np.allclose(result.closed_form.gamma, expected, rtol=1e-12)


def test_looped_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    S = np.concatenate([chunk[0] for chunk in la._contexts(3, 8, 50, np.ones(3), rng)])
    Sigma = np.diag([1.0, 2.0, 0.5])
    for loops in (1, 2, 3):
        theta = 0.3 * rng.standard_normal(9)
        err = check_grad(lambda t: la._looped_loss_and_grad(t, S, Sigma, loops)[0],
                         lambda t: la._looped_loss_and_grad(t, S, Sigma, loops)[1], theta)
        assert err < 1e-5


def test_full_lsa_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    Phi = la._full_statistics(3, 8, 100, np.ones(3), rng)
    theta = rng.standard_normal(16)
    err = check_grad(lambda t: la._full_loss_and_grad(t, Phi, np.diag([1.0, 2.0, 3.0]), 3)[0],
                     lambda t: la._full_loss_and_grad(t, Phi, np.diag([1.0, 2.0, 3.0]), 3)[1], theta)
    assert err < 1e-4


def test_looped_lsa_one_loop_is_the_lsa_and_more_loops_help():
    d = 4
    result = looped_lsa(d, N_CONTEXT, loops=(1, 2, 3), n_prompts=20000, seed=0)
    closed = lsa_closed_form(d, N_CONTEXT)
    one_loop = result.A[0]
    assert np.linalg.norm(one_loop - closed.gamma) / np.linalg.norm(closed.gamma) <= AGREE_RTOL
    assert result.loss[0] == pytest.approx(closed.min_loss, rel=0.02)
    assert np.all(np.diff(result.loss) < 0)  # each extra GD step lowers the optimal loss
    assert np.all(result.loss <= result.scalar_loss * (1 + 1e-9))  # full A at least as good as a·I
    # for L ≤ 3 the optimum stays (numerically) isotropic, ≈ scalar_a · I
    for A, a in zip(result.A, result.scalar_a):
        assert np.linalg.norm(A - a * np.eye(d)) / np.linalg.norm(a * np.eye(d)) < 0.02


def test_figure_data_lsa_trained_vs_closed_form():
    data = lsa_trained_vs_closed_form(3, (5, 20), parametrisation="gamma", n_prompts=20000, seed=0)
    assert np.allclose(data.closed_form_scale, [5 / 9, 20 / 24])
    assert np.all(data.relative_error <= AGREE_RTOL)
    assert np.allclose(data.trained_diag_mean, data.closed_form_scale, rtol=AGREE_RTOL)


def test_invalid_arguments():
    with pytest.raises(InvalidInput, match="symbolic_cov"):
        derive_lsa_minimiser(5, symbolic_cov=True)
    with pytest.raises(InvalidInput, match="cov_diag must be positive"):
        lsa_closed_form(2, 10, cov_diag=[1.0, -1.0])
    with pytest.raises(InvalidInput, match="parametrisation"):
        lsa_numerical_minimiser(2, 10, parametrisation="softmax")
    with pytest.raises(InvalidInput, match="loops entry 0"):
        looped_lsa(2, 10, loops=(1, 0))
    with pytest.raises(InvalidInput, match="square"):
        lsa_population_loss(np.ones((2, 3)), n=4)


# --- Gatmiry et al. 2024: looped LSA = multi-step preconditioned gradient descent ----------------

def test_looped_optimum_is_multi_step_preconditioned_gd():
    # w_{t+1} = w_t + A (h − S w_t) from w_0 = 0 gives w − w_L = (I − A S)^L w; the query error
    # E (x_qᵀ(w_L − w))² over fresh prompts matches the optimised loss tr(Σ (I−AS)^L (I−AS)^{Lᵀ})
    from theory_kit.landscape import looped_lsa

    d, n = 3, 10
    result = looped_lsa(d, n, loops=(1, 3), n_prompts=3000, seed=0)
    rng = np.random.default_rng(5)
    k = 20000
    X = rng.standard_normal((k, n, d))
    w = rng.standard_normal((k, d))
    y = np.einsum("knd,kd->kn", X, w)
    S = np.swapaxes(X, 1, 2) @ X / n
    h = np.einsum("knd,kn->kd", X, y) / n
    xq = rng.standard_normal((k, d))
    for index, loops in enumerate(result.loops):
        A = result.A[index]
        w_t = np.zeros((k, d))
        for _ in range(loops):
            w_t = w_t + (h - np.einsum("kij,kj->ki", S, w_t)) @ A.T
        P = np.linalg.matrix_power(np.eye(d)[None] - A[None] @ S, int(loops))
        assert np.allclose(w - w_t, np.einsum("kij,kj->ki", P, w), atol=1e-10)
        error = np.mean(np.sum(xq * (w_t - w), axis=1) ** 2)
        assert error == pytest.approx(result.loss[index], rel=0.05)
    assert result.loss[1] < result.loss[0]
