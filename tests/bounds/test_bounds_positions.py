"""Layer-norm hash and bipolar code bounds checked against explicit vectors."""

import itertools
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from theory_kit import bounds
from theory_kit.claims.quantities import bipolar_code, layer_norm_hash, layer_norm_hash_gap_exact, tie_breaker


def test_inner_product_formula_matches_numpy_hashes():
    rng = np.random.default_rng(0)
    q, k = rng.uniform(-50, 50, 200), rng.uniform(-50, 50, 200)
    a, b = layer_norm_hash(q, np.ones_like(q)), layer_norm_hash(k, np.ones_like(k))
    f = sp.lambdify(sp.symbols("q k"), bounds.layer_norm_hash_inner_product(), modules="numpy")
    np.testing.assert_allclose(np.sum(a * b, axis=1), f(q, k), rtol=1e-13)
    np.testing.assert_allclose(np.sum(a * a, axis=1), 1.0, rtol=1e-14)


def test_scale_invariance_lemma_1_in_float64():
    i = np.arange(1.0, 200.0)
    np.testing.assert_allclose(layer_norm_hash(i, np.ones_like(i)), layer_norm_hash(np.ones_like(i), 1 / i), atol=1e-13)


@pytest.mark.parametrize("i", [2, 3, 5, 10, 100, 1000, 10**5])
def test_lemma_8_gap_exactly(i):
    exact = 1 - bounds.layer_norm_hash_inner_product(i, i - 1)
    diff = sp.N(exact - bounds.layer_norm_hash_gap_lower(i), 60)
    assert diff > 0
    assert float(layer_norm_hash_gap_exact(i)) == pytest.approx(float(sp.N(exact, 40)), rel=1e-12)


def test_lemma_8_slack_is_about_one_over_i_to_the_fifth():
    i = 10**4
    slack = sp.N(1 - bounds.layer_norm_hash_inner_product(i, i - 1) - bounds.layer_norm_hash_gap_lower(i), 80)
    assert float(slack * i**5) == pytest.approx(1.0, rel=1e-3)


def test_tie_breaker_recursion_matches_lemma_9_closed_form_and_lemma_10():
    for i in range(5, 60):
        closed = Fraction(6, i * (i - 1) * (i - 2) * (i - 3)) / 100
        assert tie_breaker(i) == closed
    for i in range(1, 200):
        assert tie_breaker(i) < Fraction(1, 2 * i**4)


@pytest.mark.parametrize("d", range(1, 7))
def test_bipolar_inner_product_identity_exhaustively(d):
    ip = sp.lambdify(sp.symbols("d h"), bounds.bipolar_inner_product(), modules="numpy")
    top = None
    for a, b in itertools.product(range(2**d), repeat=2):
        dot = int(bipolar_code(a, d) @ bipolar_code(b, d))
        assert dot == ip(d, bin(a ^ b).count("1"))
        if a != b:
            top = dot if top is None else max(top, dot)
    assert top == int(bounds.bipolar_offdiagonal_upper(d))


def test_bipolar_code_is_plus_minus_one_least_significant_bit_first():
    assert bipolar_code(6, 4).tolist() == [-1, 1, 1, -1]
