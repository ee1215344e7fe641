"""Built-in claims: they hold, their quantities match direct computations, and they are sharp
(a slightly stronger bound is caught), so none of them holds vacuously."""

import math

import numpy as np
import pytest
import sympy as sp

from theory_kit.claims import Claim, get, layer_norm_hash_breakpoints, names, verify
from theory_kit.claims import builtin
from theory_kit.claims.quantities import layer_norm_hash, relu_staircase
from theory_kit.errors import InvalidInput


MINE = sorted(["softmax_pmax", "softmax_pmax_linear", "softmax_beta_for_eps", "attention_output_error",
               "softmax_tied_mass", "softmax_tied_each", "relu_discretiser_error", "position_encoding_gap",
               "layer_norm_hash_gap", "layer_norm_hash_tiebreak", "bipolar_address_codes",
               "parity_gradient_variance"])


def test_the_builtin_module_registers_all_of_them():
    assert set(MINE) <= set(names())


@pytest.mark.parametrize("name", MINE)
def test_builtin_claim_holds(name):
    v = verify(get(name), budget=600)
    assert v.holds, v.summary()
    assert v.worst_ratio <= 1.0


SHARPNESS = {
    # name: factor applied to the bound that must make the claim fail
    "softmax_pmax": 1 + 1e-6,
    "softmax_beta_for_eps": 1 - 1e-6,
    "attention_output_error": 1 - 1e-6,
    "softmax_tied_mass": 1 + 1e-6,
    "softmax_tied_each": 1 + 1e-6,
    "relu_discretiser_error": 1 - 1e-3,
    "layer_norm_hash_gap": 1 + 1e-4,
    "layer_norm_hash_tiebreak": sp.Rational(1, 2),
    "parity_gradient_variance": 1 - 1e-3,  # n = 12: Var / G^2 = 2^-n (1 - ||g(1)||^2 / (2^n G^2))
}


@pytest.mark.parametrize("name", sorted(SHARPNESS))
def test_builtin_claim_is_sharp(name):
    c = get(name)
    stronger = Claim(c.name + "_stronger", c.quantity, c.bound * SHARPNESS[name], c.domain,
                     relation=c.relation, rtol=c.rtol, atol=c.atol)
    assert not verify(stronger).holds


def test_bipolar_and_position_claims_are_sharp():
    c = get("bipolar_address_codes")
    assert not verify(Claim("b3", c.quantity, c.bound - 1, c.domain)).holds
    c = get("position_encoding_gap")
    p = sp.Symbol("p", positive=True, integer=True)
    # rounding can eat more than half of 2^-p: the bound's constant cannot be halved
    half = Claim("pg", c.quantity, c.bound + sp.Integer(2) ** (-p) / 2, c.domain, relation=">=", atol=c.atol)
    assert not verify(half).holds


def test_softmax_quantity_matches_a_direct_numpy_softmax():
    n, beta, Delta, spread = 37, 2.5, 0.3, 1.7
    k = np.arange(1, n)
    z = np.concatenate([[0.0], -Delta - spread * np.mod(k * (math.sqrt(5) - 1) / 2, 1.0)])
    w = np.exp(beta * z)
    assert builtin.softmax_pmax(n=n, beta=beta, Delta=Delta, spread=spread) == pytest.approx(w[0] / w.sum(), rel=1e-14)


def test_attention_output_error_quantity_matches_a_direct_attention_output():
    n, beta, Delta, S, a = 20, 1.5, 0.4, 2.0, 0.3
    q = builtin.attention_output_error(n=n, beta=beta, Delta=Delta, spread=0.5, S=S, alignment=a)
    # rebuild values and output the plain way
    z = np.concatenate([[0.0], -0.4 - 0.5 * np.mod(np.arange(1, n) * (math.sqrt(5) - 1) / 2, 1.0)])
    p = np.exp(beta * z) / np.exp(beta * z).sum()
    g = np.random.default_rng(20230101).standard_normal((n - 1, 4))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    d = a * np.array([0.5, 0.5, -0.5, 0.5]) + (1 - a) * g
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    v_star = np.array([1.0, -2.0, 0.5, 3.0])
    V = np.vstack([v_star, v_star + S * d])
    assert q == pytest.approx(np.linalg.norm(p @ V - v_star), rel=1e-9)


def test_relu_quantity_is_zero_exactly_when_the_slope_suffices():
    # delta = 1/8 keeps every threshold and input exact in binary, so the check is exact
    for pos in np.linspace(0, 1, 8):
        assert builtin.relu_discretiser_error(K=8, L=8.0, delta=0.125, pos=pos, rho=0.0) == 0.0
    assert builtin.relu_discretiser_error(K=8, L=7.0, delta=0.125, pos=0.0, rho=0.0) > 0.0
    assert relu_staircase(0.375, 8, 8.0, 0.125) == 3.0


def test_bipolar_quantity_never_compares_an_address_with_itself():
    for d in (1, 2, 3):
        for i in range(2**d):
            for k in range(2**d):
                assert builtin.bipolar_offdiagonal(d=d, i=i, k=k) <= d - 2


EXPECTED_BREAKPOINTS = {
    # dtype, form: (first Lemma 8 violation, first collision, first degenerate)
    ("float16", "direct"): (6, 7, 181),
    ("float16", "scaled"): (5, 6, None),
    ("float32", "direct"): (27, 51, None),
    ("float32", "scaled"): (26, 49, None),
    ("float64", "direct"): (1345, 5892, None),
    ("float64", "scaled"): (1275, 6218, None),
}


@pytest.mark.parametrize("dtype,form", sorted(EXPECTED_BREAKPOINTS))
def test_layer_norm_hash_breakpoints(dtype, form):
    b = layer_norm_hash_breakpoints(dtype, 2**14 if dtype != "float64" else 2**13, form)
    assert (b.first_gap_violation, b.first_collision, b.first_degenerate) == EXPECTED_BREAKPOINTS[(dtype, form)]
    firsts = [x for x in (b.first_gap_violation, b.first_collision, b.first_degenerate) if x is not None]
    assert b.first_break == min(firsts) == b.broken[0]
    assert list(b.broken) == sorted(b.broken) and b.n_broken == len(b.broken)
    assert all(2 <= i <= b.n_max for i in b.broken)


def test_breakpoints_are_consistent_with_a_scalar_recomputation():
    """At the reported float32 breakpoint the computed dot really exceeds 1 - 1/(2 i^4); just
    before it, it does not."""
    from fractions import Fraction

    i = layer_norm_hash_breakpoints("float32", 200).first_gap_violation

    def dot32(i):
        a = layer_norm_hash(float(i), 1.0, "float32")
        b = layer_norm_hash(float(i - 1), 1.0, "float32")
        s = np.float32(0)
        for k in range(4):
            s = np.float32(s + np.float32(a[k] * b[k]))
        return Fraction(float(s))

    assert dot32(i) > 1 - Fraction(1, 2 * i**4)
    assert dot32(i - 1) <= 1 - Fraction(1, 2 * (i - 1) ** 4)


def test_float16_direct_hash_overflows_at_181():
    assert not np.all(np.isfinite(layer_norm_hash(181.0, 1.0, "float16"))) or \
        abs(float(np.sum(layer_norm_hash(181.0, 1.0, "float16").astype(float) ** 2)) - 1) > 0.25
    assert np.all(np.isfinite(layer_norm_hash(180.0, 1.0, "float16")))


def test_breakpoint_arguments_are_validated():
    with pytest.raises(InvalidInput, match="unknown dtype 'float8'"):
        layer_norm_hash_breakpoints("float8", 10)
    with pytest.raises(InvalidInput, match="n_max must be an int >= 2, got 1"):
        layer_norm_hash_breakpoints("float32", 1)
    with pytest.raises(InvalidInput, match="form must be 'direct' or 'scaled', got 'x'"):
        layer_norm_hash_breakpoints("float32", 10, "x")


def test_parity_gradient_variance_equals_a_brute_force_over_targets():
    from theory_kit.claims.quantities import parity_gradient_variance, parity_gradients

    n, width, seed = 4, 3, 1
    grads, p = parity_gradients(n, width, seed)
    X = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
    targets = [np.prod(X[:, [i for i in range(n) if S >> i & 1]], axis=1) for S in range(2**n)]
    per_target = np.array([((p - h)[:, None] * grads).mean(axis=0) for h in targets])
    variance = np.mean(np.sum((per_target - per_target.mean(axis=0)) ** 2, axis=1))
    got_variance, g2 = parity_gradient_variance(n, width, seed)
    assert got_variance == pytest.approx(variance, rel=1e-12)
    assert g2 == pytest.approx(np.mean(np.sum(grads**2, axis=1)), rel=1e-12)
    # Parseval: the bound is attained up to the mean gradient's share, ||g(all ones)||^2 / 4^n
    assert variance == pytest.approx(g2 / 2**n - np.sum(grads[0] ** 2) / 4**n, rel=1e-12)


def test_parity_gradients_match_finite_differences():
    from theory_kit.claims.quantities import parity_gradients

    n, width, seed = 3, 2, 5
    grads, p = parity_gradients(n, width, seed)
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, 1.0 / math.sqrt(n), (width, n)); b = rng.normal(0.0, 1.0, width)
    a = rng.normal(0.0, 1.0 / math.sqrt(width), width); c = float(rng.normal())
    theta = np.concatenate([W.ravel(), b, a, [c]])
    X = 1.0 - 2.0 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)

    def out(t):
        Wt = t[:width * n].reshape(width, n); bt = t[width * n:width * n + width]
        at = t[width * n + width:width * n + 2 * width]
        return np.tanh(X @ Wt.T + bt) @ at + t[-1]

    assert np.allclose(out(theta), p)
    eps = 1e-6
    fd = np.array([(out(theta + eps * e) - out(theta - eps * e)) / (2 * eps) for e in np.eye(theta.size)]).T
    assert np.allclose(fd, grads, atol=1e-8)
