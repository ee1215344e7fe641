"""Softmax bounds checked against direct numpy softmax computations."""

import numpy as np
import pytest
import sympy as sp

from theory_kit import bounds
from theory_kit.bounds import symbols as sym


def np_softmax(z):
    w = np.exp(z - z.max())
    return w / w.sum()


_compiled = {}


def num(expr, **vals):
    """Evaluate a bound at named values (lambdified with mpmath once per expression)."""
    names = tuple(sorted(vals))
    key = (expr, names)
    if key not in _compiled:
        _compiled[key] = sp.lambdify([getattr(sym, k) for k in names], expr, modules="mpmath")
    return float(_compiled[key](*[vals[k] for k in names]))


GRID = [(n, beta, Delta) for n in (2, 3, 17, 1000) for beta in (0.1, 1.0, 7.5) for Delta in (0.05, 1.0, 3.0)]


@pytest.mark.parametrize("n,beta,Delta", GRID)
def test_pmax_bound_is_attained_when_all_other_logits_sit_exactly_delta_below(n, beta, Delta):
    z = np.concatenate([[0.0], np.full(n - 1, -Delta)])
    p = np_softmax(beta * z)
    assert p[0] == pytest.approx(num(bounds.softmax_pmax_lower(), n=n, beta=beta, Delta=Delta), rel=1e-12)


def test_pmax_bound_holds_for_random_logits_with_gap():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(2, 200))
        beta, Delta = float(rng.uniform(0.01, 10)), float(rng.uniform(0.01, 3))
        z = np.concatenate([[1.3], 1.3 - Delta - rng.exponential(2.0, n - 1)])
        perm = rng.permutation(n)
        p = np_softmax(beta * z[perm])
        pmax = p[np.argmax(z[perm])]
        lower = num(bounds.softmax_pmax_lower(), n=n, beta=beta, Delta=Delta)
        assert pmax >= lower * (1 - 1e-12)
        assert pmax >= num(bounds.softmax_pmax_linear_lower(), n=n, beta=beta, Delta=Delta) - 1e-12


def test_linear_bound_is_weaker_and_can_be_negative():
    pmax = bounds.softmax_pmax_lower()
    lin = bounds.softmax_pmax_linear_lower()
    for n, beta, Delta in GRID:
        assert num(lin, n=n, beta=beta, Delta=Delta) <= num(pmax, n=n, beta=beta, Delta=Delta)
    assert num(lin, n=1000, beta=0.1, Delta=0.05) < 0


def test_offmax_mass_is_the_complement_of_pmax():
    assert sp.simplify(bounds.offmax_mass_upper() + bounds.softmax_pmax_lower() - 1) == 0


@pytest.mark.parametrize("n,eps,Delta", [(2, 0.3, 1.0), (10, 1e-3, 0.5), (1000, 1e-9, 2.0), (64, 0.01, 0.01)])
def test_beta_for_eps_gives_offmax_mass_exactly_eps_in_the_worst_case_and_is_minimal(n, eps, Delta):
    beta = num(bounds.beta_for_offmax_mass(), n=n, eps=eps, Delta=Delta)
    z = np.concatenate([[0.0], np.full(n - 1, -Delta)])
    off = np_softmax(beta * z)[1:].sum()
    assert off == pytest.approx(eps, rel=1e-9)
    off_smaller_beta = np_softmax(0.999 * beta * z)[1:].sum()
    assert off_smaller_beta > eps  # no smaller beta guarantees eps: the formula is sharp


def test_beta_for_eps_solves_the_offmax_equation_symbolically():
    expr = bounds.offmax_mass_upper(sym.n, bounds.beta_for_offmax_mass(), sym.Delta)
    assert sp.simplify(expr - sym.eps) == 0


def test_attention_output_error_bound_against_numpy_attention():
    rng = np.random.default_rng(1)
    bound = bounds.attention_output_error_upper()
    for _ in range(200):
        n, D = int(rng.integers(2, 60)), int(rng.integers(1, 6))
        beta, Delta = float(rng.uniform(0.1, 5)), float(rng.uniform(0.05, 2))
        z = np.concatenate([[0.0], -Delta - rng.exponential(1.0, n - 1)])
        V = rng.standard_normal((n, D)) * rng.uniform(0.1, 10)
        out = np_softmax(beta * z) @ V
        err = np.linalg.norm(out - V[0])
        S = np.linalg.norm(V - V[0], axis=1).max()
        assert err <= num(bound, n=n, beta=beta, Delta=Delta, S=S) * (1 + 1e-9) + 1e-12


def test_attention_output_error_bound_is_attained_by_aligned_values():
    n, beta, Delta, S = 50, 2.0, 0.7, 3.0
    z = np.concatenate([[0.0], np.full(n - 1, -Delta)])
    v_star = np.array([1.0, 2.0])
    V = np.vstack([v_star, np.tile(v_star + S * np.array([0.6, 0.8]), (n - 1, 1))])
    err = np.linalg.norm(np_softmax(beta * z) @ V - v_star)
    assert err == pytest.approx(num(bounds.attention_output_error_upper(), n=n, beta=beta, Delta=Delta, S=S), rel=1e-10)


@pytest.mark.parametrize("n,r,beta,Delta", [(5, 2, 1.0, 0.5), (100, 7, 3.0, 0.2), (1000, 1, 0.5, 2.0), (40, 39, 1.0, 1.0)])
def test_tied_maxima_bounds_are_attained_and_split_evenly(n, r, beta, Delta):
    z = np.concatenate([np.zeros(r), np.full(n - r, -Delta)])
    p = np_softmax(beta * z)
    mass = num(bounds.tied_max_mass_lower(), n=n, r=r, beta=beta, Delta=Delta)
    each = num(bounds.tied_max_each_lower(), n=n, r=r, beta=beta, Delta=Delta)
    assert p[:r].sum() == pytest.approx(mass, rel=1e-12)
    assert p[:r].min() == pytest.approx(each, rel=1e-12)
    assert each == pytest.approx(mass / r, rel=1e-15)


def test_tied_mass_with_one_tie_is_the_pmax_bound():
    assert sp.simplify(bounds.tied_max_mass_lower(sym.n, 1) - bounds.softmax_pmax_lower()) == 0


def test_tied_bounds_hold_for_random_lower_logits():
    rng = np.random.default_rng(2)
    for _ in range(200):
        n = int(rng.integers(2, 100))
        r = int(rng.integers(1, n + 1))
        beta, Delta = float(rng.uniform(0.1, 5)), float(rng.uniform(0.05, 2))
        z = np.concatenate([np.zeros(r), -Delta - rng.exponential(1.0, n - r)])
        p = np_softmax(beta * z)
        assert p[:r].sum() >= num(bounds.tied_max_mass_lower(), n=n, r=r, beta=beta, Delta=Delta) * (1 - 1e-12)


def test_functions_accept_numbers_and_return_exact_values():
    assert bounds.softmax_pmax_lower(2, 0, 1) == sp.Rational(1, 2)
    assert bounds.tied_max_each_lower(4, 2, 0, 1) == sp.Rational(1, 4)
