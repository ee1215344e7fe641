"""Degenerate data for the landscape entry points (issue 23 item 12).

Zero targets, data at scale 1e±12, weight decay that dominates the data, a zero layer. Every test
above the "guards" section is a regression test: it failed on commit 0eb631a (solver noise
reported as neurons/heads, "infeasible"/failed solves at 1e12, silently wrong optima at 1e-12).
Scaled problems are compared with the unscaled one through the exact scaling laws derived in the
modules (e.g. two-layer ReLU: p*(s_x X, s_y y, s_x s_y β) = s_y² p*(X, y, β)).
"""

import numpy as np
import pytest

from theory_kit.landscape import (TOY_BETA, attention_nonconvex_baseline, gated_relu, linear_attention_convex,
                                  lipschitz_bounds, looped_lsa, lsa_numerical_minimiser, toy_attention_dataset,
                                  toy_relu_dataset, two_layer_objective, two_layer_relu)
from theory_kit.landscape.nonconvex import train_two_layer_relu

SCALE_RTOL = 1e-6  # the acceptance tolerance for "equal to the unscaled result, scaled back"
FP_RTOL = 1e-12

X, Y = toy_relu_dataset(20, seed=0)
XA, YA = toy_attention_dataset(6, seq_len=3, d=2, seed=0)
ATT_BETA = 0.1


def _relu_prediction(result, X):
    if hasattr(result, "gates"):
        return (((X @ result.gates) >= 0) * (X @ result.W)) @ result.alpha
    return np.maximum(X @ result.W, 0.0) @ result.alpha


@pytest.fixture(scope="module")
def unscaled():
    return {fn.__name__: fn(X, Y, beta=TOY_BETA) for fn in (two_layer_relu, gated_relu)}


# -- two-layer ReLU / gated ReLU ---------------------------------------------------------------


@pytest.mark.parametrize("patterns", ["all", 12])
def test_zero_targets_give_exactly_the_zero_network(patterns):
    # 0eb631a: 80 (all patterns) / 22 (12 sampled gates) neurons of solver noise, value 2.5e-10 / 5.7e-11
    result = two_layer_relu(X, np.zeros(len(Y)), beta=TOY_BETA, patterns=patterns)
    assert result.width == 0 and result.W.shape == (2, 0)
    assert result.value == 0.0 and result.lower_bound == 0.0 and result.gap == 0.0
    assert result.network_objective == 0.0
    assert result.certificate == "all-patterns" and not np.any(result.dual)


@pytest.mark.parametrize("fn,case", [(two_layer_relu, "tiny targets"), (gated_relu, "tiny targets"),
                                     (two_layer_relu, "single sample")])
def test_weight_decay_dominated_problems_give_the_certified_zero_network(fn, case):
    # 0eb631a: tiny targets -> 80 (ReLU) / 40 (gated) noise neurons and a value 2.5e-10 (7e-19) far
    # above the zero network's ½‖y‖² = 8.7e-24; single sample -> 2 noise neurons (ReLU; gated_relu
    # was right there).
    Xc, yc = (X, 1e-12 * Y) if case == "tiny targets" else (X[:1], Y[:1])
    result = fn(Xc, yc, beta=TOY_BETA)
    half_norm = 0.5 * float(yc @ yc)
    assert result.alpha.shape == (0,)
    assert result.value == pytest.approx(half_norm, rel=FP_RTOL)
    assert result.lower_bound == pytest.approx(half_norm, rel=FP_RTOL)  # certified: gap 0
    assert result.network_objective == pytest.approx(half_norm, rel=FP_RTOL)


SCALES = [(1e12, 1e12), (1e12, 1.0), (1.0, 1e12), (1e-12, 1e-12), (1e-12, 1.0), (1.0, 1e-12)]


@pytest.mark.parametrize("fn", [two_layer_relu, gated_relu])
@pytest.mark.parametrize("s_x,s_y", SCALES)
def test_scaled_data_gives_the_unscaled_optimum_scaled_back(fn, s_x, s_y, unscaled):
    # p*(s_x X, s_y y, s_x s_y β) = s_y² p*(X, y, β); the network's output scales by s_y.
    # 0eb631a: SolverFailed ("infeasible"/"optimal_inaccurate"/crash) at 1e12, and at 1e-12 e.g.
    # a value 135× the true optimum (two_layer_relu, X and y at 1e-12).
    base = unscaled[fn.__name__]
    result = fn(s_x * X, s_y * Y, beta=TOY_BETA * s_x * s_y)
    assert result.value / s_y ** 2 == pytest.approx(base.value, rel=SCALE_RTOL)
    assert result.lower_bound / s_y ** 2 == pytest.approx(base.lower_bound, rel=SCALE_RTOL)
    assert result.network_objective / s_y ** 2 == pytest.approx(base.network_objective, rel=SCALE_RTOL)
    assert result.lower_bound <= result.value
    prediction = _relu_prediction(result, s_x * X) / s_y
    reference = _relu_prediction(base, X)
    assert np.linalg.norm(prediction - reference) <= 1e-5 * np.linalg.norm(reference)


@pytest.mark.parametrize("fn", [two_layer_relu, gated_relu])
def test_data_at_1e12_with_an_unscaled_beta_is_solved_and_certified(fn):
    # 0eb631a: SolverFailed ("infeasible" / "optimal_inaccurate"). Here β is negligible against
    # the data, so the optimum is a near-interpolation far below ½‖y‖².
    Xs, ys = 1e12 * X, 1e12 * Y
    result = fn(Xs, ys, beta=TOY_BETA)
    assert result.lower_bound <= result.value <= 1e-6 * 0.5 * float(ys @ ys)
    assert result.network_objective == pytest.approx(result.value, rel=1e-6, abs=1e-6 * 0.5 * float(ys @ ys))


# -- linear attention (nuclear-norm program) and its non-convex baseline ------------------------


@pytest.fixture(scope="module")
def attention_unscaled():
    return linear_attention_convex(XA, YA, beta=ATT_BETA)


@pytest.mark.parametrize("s_x,s_y", SCALES)
def test_attention_scaled_data_gives_the_unscaled_optimum_scaled_back(s_x, s_y, attention_unscaled):
    # The model is cubic in X: p*(s_x X, s_y Y, s_x³ s_y β) = s_y² p*(X, Y, β).
    # 0eb631a: SolverFailed at 1e12, and 26× the optimum at X·1e-12.
    base = attention_unscaled
    result = linear_attention_convex(s_x * XA, s_y * YA, beta=ATT_BETA * s_x ** 3 * s_y)
    assert result.value / s_y ** 2 == pytest.approx(base.value, rel=SCALE_RTOL)
    assert result.lower_bound / s_y ** 2 == pytest.approx(base.lower_bound, rel=SCALE_RTOL)
    assert result.network_objective / s_y ** 2 == pytest.approx(base.network_objective, rel=SCALE_RTOL)
    assert result.n_heads == base.n_heads


def test_attention_weight_decay_dominated_problem_has_no_heads():
    # 0eb631a: 2 heads of solver noise at the value ½‖Y‖² of the zero model.
    result = linear_attention_convex(XA, YA, beta=1e6)
    half_norm = 0.5 * float(np.sum(YA * YA))
    assert result.n_heads == 0 and not np.any(result.Z)
    assert result.value == pytest.approx(half_norm, rel=FP_RTOL)
    assert result.lower_bound == pytest.approx(half_norm, rel=FP_RTOL)
    assert result.network_objective == pytest.approx(half_norm, rel=FP_RTOL)


def test_attention_training_on_tiny_data_matches_the_unscaled_training():
    # 0eb631a: the certified value was wrong and L-BFGS stopped at the init (objective 5.94 vs 0.224).
    s = 1e-12
    base = attention_nonconvex_baseline(XA, YA, beta=ATT_BETA, heads=(2,), n_inits=2)
    result = attention_nonconvex_baseline(s * XA, s * YA, beta=ATT_BETA * s ** 4, heads=(2,), n_inits=2)
    assert result.convex_value / s ** 2 == pytest.approx(base.convex_value, rel=SCALE_RTOL)
    assert np.allclose(result.objectives / s ** 2, base.objectives, rtol=1e-4)
    assert np.array_equal(result.fraction_optimal, base.fraction_optimal)


# -- Lipschitz bounds ---------------------------------------------------------------------------


RNG = np.random.default_rng(0)
W_IN, W_OUT = RNG.standard_normal((3, 5)), RNG.standard_normal((5, 2))


@pytest.fixture(scope="module")
def lipschitz_unscaled():
    return lipschitz_bounds([W_IN, W_OUT], n_samples=500)


@pytest.mark.parametrize("s_in,s_out", [(1e12, 1.0), (1e6, 1e6), (1e-12, 1.0), (1e-6, 1e-6)])
def test_lipschitz_bound_of_scaled_weights_is_the_unscaled_bound_scaled(s_in, s_out, lipschitz_unscaled):
    # Lip(relu(x s_in W_in) s_out W_out) = s_in s_out Lip(...). 0eb631a: "infeasible"/failed at
    # 1e6 and 1e12; at 1e-12 a bound 9089× the true one (the LMI margin dominated).
    base = lipschitz_unscaled
    result = lipschitz_bounds([s_in * W_IN, s_out * W_OUT], n_samples=500)
    factor = s_in * s_out
    assert result.upper_bound / factor == pytest.approx(base.upper_bound, rel=SCALE_RTOL)
    assert result.sampled_lower_bound / factor == pytest.approx(base.sampled_lower_bound, rel=1e-9)
    assert result.sampled_lower_bound <= result.upper_bound <= result.naive_bound


def test_lipschitz_bound_of_a_network_with_a_zero_layer_is_zero():
    # A zero layer makes f constant. 0eb631a: upper bound 6.2e-4, above the naive bound 0.
    result = lipschitz_bounds([W_IN, np.zeros_like(W_OUT)], n_samples=200)
    assert result.upper_bound == 0.0 and result.naive_bound == 0.0 and result.sampled_lower_bound == 0.0


# -- non-convex ReLU training and the LSA minimisers ---------------------------------------------


def test_relu_training_on_tiny_data_matches_the_unscaled_training():
    # f(W, α; s X, s y, s² β) = s² f(W, α; X, y, β). 0eb631a: L-BFGS stopped at the init
    # (0 iterations, objective/s² 3.17 vs 0.406), its absolute gradient tolerance being met.
    # The landscape is non-convex and the normalised data differ from X by 1e-12/2**-40, so the
    # runs may end at neighbouring stationary points (seen: relative difference 3e-4).
    s = 1e-12
    _, _, objective, _ = train_two_layer_relu(X, Y, beta=TOY_BETA, width=8)
    _, _, scaled, scaled_iterations = train_two_layer_relu(s * X, s * Y, beta=TOY_BETA * s * s, width=8)
    assert scaled_iterations > 10
    assert scaled / s ** 2 == pytest.approx(objective, rel=1e-2)


@pytest.mark.parametrize("parametrisation,scale", [("gamma", 1e-12), ("full", 1e12), ("full", 1e-12)])
def test_lsa_minimiser_for_a_scaled_covariance_is_the_unscaled_one_scaled(parametrisation, scale):
    # Σ → sΣ: Γ* → Γ*/s, L* → s L*. 0eb631a: relative error 1.0 at 1e-12 (stopped at the init) and
    # 0.61 for the full layer at 1e12 (unit covariance: 0.016).
    kwargs = dict(parametrisation=parametrisation, n_prompts=2000, n_restarts=1)
    base = lsa_numerical_minimiser(2, 10, **kwargs)
    result = lsa_numerical_minimiser(2, 10, cov_diag=[scale, scale], **kwargs)
    assert result.relative_error == pytest.approx(base.relative_error, rel=SCALE_RTOL)
    assert result.loss / scale == pytest.approx(base.loss, rel=SCALE_RTOL)
    assert np.allclose(result.gamma * scale, base.gamma, rtol=SCALE_RTOL, atol=SCALE_RTOL * np.max(abs(base.gamma)))


@pytest.mark.parametrize("scale", [1e12, 1e-12])
def test_looped_lsa_for_a_scaled_covariance_is_the_unscaled_one_scaled(scale):
    # 0eb631a: the 1-D search for a is bounded to [0, 4]: a off by 78× at 1e12; at 1e-12 L-BFGS
    # stopped early (loss 3% off, A off by 0.05).
    base = looped_lsa(2, 10, loops=(1, 2), n_prompts=500)
    result = looped_lsa(2, 10, loops=(1, 2), n_prompts=500, cov_diag=[scale, scale])
    assert np.allclose(result.loss / scale, base.loss, rtol=SCALE_RTOL)
    assert np.allclose(result.scalar_a * scale, base.scalar_a, rtol=SCALE_RTOL)
    assert np.allclose(result.scalar_loss / scale, base.scalar_loss, rtol=SCALE_RTOL)
    assert np.allclose(result.A * scale, base.A, rtol=SCALE_RTOL, atol=SCALE_RTOL)


# -- guards: degenerate inputs that were already handled correctly on 0eb631a ------------------


@pytest.mark.parametrize("case", ["duplicate rows", "zero column", "constant targets", "huge beta"])
def test_other_degenerate_relu_inputs_stay_certified(case):
    Xc, yc, beta = X, Y, TOY_BETA
    if case == "duplicate rows":  # doubling every sample doubles the objective at 2β
        Xc, yc, beta = np.vstack([X, X]), np.concatenate([Y, Y]), 2 * TOY_BETA
    elif case == "zero column":
        Xc = np.hstack([X, np.zeros((len(Y), 1))])
    elif case == "constant targets":
        yc = np.full(len(Y), 3.0)
    else:
        beta = 1e6
    result = two_layer_relu(Xc, yc, beta=beta)
    assert result.gap <= 1e-6 * result.value
    assert result.network_objective == pytest.approx(result.value, rel=1e-6)
    assert two_layer_objective(Xc, yc, result.W, result.alpha, beta=beta) == pytest.approx(
        result.network_objective, rel=FP_RTOL)
    if case == "duplicate rows":
        assert result.value == pytest.approx(2 * two_layer_relu(X, Y, beta=TOY_BETA).value, rel=1e-6)
    if case == "zero column":
        assert np.max(np.abs(result.W[2])) <= 1e-6 * np.max(np.abs(result.W[:2]))
    if case == "huge beta":
        assert result.width == 0 and result.value == pytest.approx(0.5 * float(Y @ Y), rel=1e-9)
