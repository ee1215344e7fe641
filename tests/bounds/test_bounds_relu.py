"""ReLU discretiser bounds checked against the ReLU pairs computed with numpy."""

import numpy as np
import pytest
import sympy as sp

from theory_kit import bounds
from theory_kit.bounds import symbols as sym


def pair(x, t, L):
    a = L * (x - t)
    return np.maximum(a + 0.5, 0.0) - np.maximum(a - 0.5, 0.0)


def staircase(x, K, L, delta):
    return sum(pair(x, (k - 0.5) * delta, L) for k in range(1, K))


def ev(expr, **vals):
    return float(expr.subs({getattr(sym, k) if hasattr(sym, k) else sp.Symbol(k): v for k, v in vals.items()}).evalf(30))


@pytest.mark.parametrize("L", [0.3, 1.0, 4.0, 100.0])
def test_pair_error_formula_matches_numpy_on_both_sides_of_the_threshold(L):
    t = 0.7
    x = t + np.linspace(-3, 3, 601)
    measured = np.abs(pair(x, t, L) - (x >= t))
    dist = sp.Symbol("dist", nonnegative=True)
    f = sp.lambdify((sym.L, dist), bounds.relu_pair_step_error(sym.L, dist), modules="numpy")
    np.testing.assert_allclose(measured, f(L, np.abs(x - t)), atol=1e-12)


def test_pair_is_exact_beyond_one_over_two_L():
    L = 2.0  # 1 + 1/(2L) is exact in binary, so the float check is exact
    d = float(bounds.relu_exact_distance(L))
    assert d == 0.25
    assert pair(1.0 + d, 1.0, L) == 1.0 and pair(1.0 - d, 1.0, L) == 0.0
    assert pair(1.0 + 0.99 * d, 1.0, L) < 1.0


@pytest.mark.parametrize("K,delta", [(2, 1.0), (5, 0.1), (33, 2.0)])
def test_slope_one_over_delta_makes_the_staircase_exact_and_anything_smaller_does_not(K, delta):
    L = float(bounds.relu_exact_slope(delta))
    grid = np.arange(K) * delta
    assert np.max(np.abs(staircase(grid, K, L, delta) - np.arange(K))) <= 1e-12
    L_small = 0.9 * L
    assert np.max(np.abs(staircase(grid, K, L_small, delta) - np.arange(K))) > 1e-3


def test_exact_slope_with_perturbed_inputs():
    K, delta, rho = 9, 0.5, 0.2
    L = float(bounds.relu_exact_slope(delta, rho))
    for s in (-1, 1):
        x = (np.arange(K) + s * rho) * delta
        assert np.max(np.abs(staircase(x, K, L, delta) - np.arange(K))) <= 1e-12
    x = (np.arange(K) + 0.21) * delta  # beyond the perturbation the slope was chosen for
    assert np.max(np.abs(staircase(x, K, L, delta) - np.arange(K))) > 1e-3


def test_discretiser_bound_dominates_measured_error_on_random_inputs():
    rng = np.random.default_rng(0)
    bound = sp.lambdify((sym.K, sym.L, sym.delta, sym.rho), bounds.relu_discretiser_error_upper(), modules="numpy")
    for _ in range(500):
        K = int(rng.integers(2, 40))
        L, delta = float(np.exp(rng.uniform(-3, 4))), float(np.exp(rng.uniform(-3, 2)))
        rho = float(rng.uniform(-0.45, 0.45))
        j = int(rng.integers(0, K))
        err = abs(staircase((j + rho) * delta, K, L, delta) - j)
        assert err <= bound(K, L, delta, rho) + 1e-9


def test_discretiser_bound_is_nearly_tight_at_the_end_of_the_grid_for_small_slopes():
    K, L, delta = 10, 1e-3, 1.0
    err = abs(staircase(0.0, K, L, delta) - 0)
    b = ev(bounds.relu_discretiser_error_upper(), K=K, L=L, delta=delta, rho=0)
    assert err <= b and err / b > 0.99


def test_tracr_pair_is_one_sided_and_needs_twice_the_slope():
    from theory_kit.claims.quantities import tracr_relu_staircase

    L, t = 4.0, 0.0
    pair = lambda x: max(L * (x - t) + 1, 0.0) - max(L * (x - t), 0.0)  # noqa: E731  tracr's hidden pair
    for dist in (0.0, 0.1, 0.2, 0.3):
        assert pair(t - dist) == pytest.approx(float(bounds.tracr_relu_pair_step_error(L, dist)))  # below: ramps
        assert pair(t + dist) == pytest.approx(1.0, abs=1e-12)  # above: exact (up to float rounding)
    delta, rho = 0.5, 0.1
    assert float(bounds.tracr_relu_exact_slope(delta, rho)) == pytest.approx(2 * float(bounds.relu_exact_slope(delta, rho)))
    f = sp.lambdify((sym.K, sym.L, sym.delta, sym.rho), bounds.tracr_relu_discretiser_error_upper(), modules="numpy")
    for K, L in ((4, 1.0), (8, 3.0), (8, 10.0)):
        for j in range(K):
            x = (j + rho) * delta
            assert abs(tracr_relu_staircase(x, K, L, delta) - j) <= f(K, L, delta, rho) + 1e-12
