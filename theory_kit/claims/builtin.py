"""The built-in claims: each pairs a bound from theory_kit.bounds with a direct measurement.

Importing this module registers them (the registry imports it lazily on first access). Every
quantity is a module-level function of keyword arguments so it can be reused and tested alone.
Tolerances (rtol/atol) are set where the bound is attained with equality and float64 rounding of
the measurement could otherwise report a violation of one ulp; they are far below the size of any
real violation.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from theory_kit import bounds
from theory_kit.bounds import symbols as sym
from theory_kit.claims.claim import Claim
from theory_kit.claims.quantities import (
    bipolar_code,
    gap_logits,
    layer_norm_hash_gap_exact,
    parity_gradient_variance,
    position_encoding_min_gap,
    relu_staircase,
    softmax,
    tracr_relu_staircase,
    tie_breaker,
)
from theory_kit.claims.registry import register

__all__ = [
    "softmax_pmax",
    "softmax_offmax_mass_at_formula_beta",
    "attention_output_error",
    "tied_mass",
    "tied_each",
    "relu_discretiser_error",
    "relu_discretiser_error_tracr",
    "bipolar_offdiagonal",
    "layer_norm_hash_gap",
    "tie_breaker_value",
    "position_gap",
    "parity_gradient_variance_ratio",
    "SOFTMAX_DOMAIN",
]

#: Search box shared by the softmax claims: up to 1024 keys, temperatures over 4 decades, gaps
#: over 4 decades, and other logits spread up to 5 beyond the gap.
SOFTMAX_DOMAIN = {
    "n": (2, 1024, "int"),
    "beta": (0.01, 100.0, "log"),
    "Delta": (0.001, 10.0, "log"),
    "spread": (0.0, 5.0, "real"),
}
_SOFTMAX_RTOL = 1e-10  # the worst case (spread = 0) attains the bound; summing n-1 equal terms rounds


def softmax_pmax(n: int, beta: float, Delta: float, spread: float) -> float:
    """Softmax weight of the unique maximal logit, others at -Delta - spread * u_k (gap_logits)."""
    return float(softmax(gap_logits(1, n - 1, Delta, spread), beta)[0])


_beta_formula = sp.lambdify((sym.n, sym.eps, sym.Delta), bounds.beta_for_offmax_mass(), modules="numpy")


def softmax_offmax_mass_at_formula_beta(n: int, eps: float, Delta: float, spread: float) -> float:
    """Off-maximum softmax mass at the beta that `beta_for_offmax_mass` prescribes for eps."""
    beta = float(_beta_formula(n, eps, Delta))
    p = softmax(gap_logits(1, n - 1, Delta, spread), beta)
    return float(np.sum(p[1:]))


_V_STAR = np.array([1.0, -2.0, 0.5, 3.0])  # the value at the argmax (D = 4)
_AXIS = np.array([0.5, 0.5, -0.5, 0.5])  # the common direction when alignment = 1 (unit)


def attention_output_error(n: int, beta: float, Delta: float, spread: float, S: float, alignment: float) -> float:
    """|attention output - value at the argmax| for values at distance exactly S from v_*.

    Value k != * is v_* + S d_k, d_k the unit vector along alignment * axis + (1 - alignment) g_k,
    g_k fixed pseudo-random directions (alignment = 1 makes the triangle inequality tight). The
    deviation is computed as sum_k p_k (v_k - v_*), which equals output - v_* because the weights
    sum to 1, without the cancellation of subtracting two nearly equal vectors.
    """
    p = softmax(gap_logits(1, n - 1, Delta, spread), beta)
    g = np.random.default_rng(20230101).standard_normal((n - 1, 4))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    dirs = alignment * _AXIS + (1.0 - alignment) * g
    norms = np.linalg.norm(dirs, axis=1, keepdims=True)
    dirs = np.where(norms > 1e-12, dirs / np.maximum(norms, 1e-300), _AXIS)
    values = _V_STAR + S * dirs  # (N-1, D)
    deviation = p[1:] @ (values - _V_STAR)
    return float(np.linalg.norm(deviation))


def tied_mass(r: int, m: int, beta: float, Delta: float, spread: float) -> float:
    """Softmax mass on r tied maximal logits, with m other logits at least Delta below."""
    return float(np.sum(softmax(gap_logits(r, m, Delta, spread), beta)[:r]))


def tied_each(r: int, m: int, beta: float, Delta: float, spread: float) -> float:
    """Smallest softmax weight among r tied maximal logits, with m others at least Delta below."""
    return float(np.min(softmax(gap_logits(r, m, Delta, spread), beta)[:r]))


def relu_discretiser_error(K: int, L: float, delta: float, pos: float, rho: float) -> float:
    """|staircase MLP output - level index| at x = (j + rho) delta, j = round(pos (K - 1))."""
    j = int(round(pos * (K - 1)))
    x = (j + rho) * delta
    return abs(relu_staircase(x, K, L, delta) - j)


def relu_discretiser_error_tracr(K: int, L: float, delta: float, pos: float, rho: float) -> float:
    """|tracr's staircase MLP output - level index| at x = (j + rho) delta, j = round(pos (K - 1))."""
    j = int(round(pos * (K - 1)))
    x = (j + rho) * delta
    return abs(tracr_relu_staircase(x, K, L, delta) - j)


def bipolar_offdiagonal(d: int, i: int, k: int) -> int:
    """p_a . p_b for the bipolar codes of two different d-bit addresses a, b chosen by (i, k).

    a = i mod 2^d and b = (a + 1 + (k mod (2^d - 1))) mod 2^d, so b != a always.
    """
    size = 2**d
    a = i % size
    b = (a + 1 + k % (size - 1)) % size
    return int(bipolar_code(a, d) @ bipolar_code(b, d))


def layer_norm_hash_gap(i: int) -> float:
    """1 - phi(i, 1) . phi(i-1, 1) from the layer-norm hash vectors, in 60-digit arithmetic."""
    return float(layer_norm_hash_gap_exact(i))


def tie_breaker_value(i: int) -> float:
    """Merrill & Sabharwal's tie-breaking term f(i), computed exactly by its recursion."""
    return float(tie_breaker(i))


def position_gap(n: int, p: int) -> float:
    """Smallest gap between the encodings i/n, i = 1..n, rounded to p significand bits."""
    return position_encoding_min_gap(n, p)


_m = sp.Symbol("m", positive=True, integer=True)

register(Claim(
    "softmax_pmax", softmax_pmax, bounds.softmax_pmax_lower(), SOFTMAX_DOMAIN, relation=">=",
    source="softmax-to-hardmax bound, bounds.softmax_pmax_lower (elementary; tracr, Lindner et al. 2023)",
    description="weight of the unique maximal logit >= 1/(1+(n-1)exp(-beta Delta))",
    rtol=_SOFTMAX_RTOL,
))
register(Claim(
    "softmax_pmax_linear", softmax_pmax, bounds.softmax_pmax_linear_lower(), SOFTMAX_DOMAIN, relation=">=",
    source="linearised softmax-to-hardmax bound, bounds.softmax_pmax_linear_lower (elementary)",
    description="weight of the unique maximal logit >= 1-(n-1)exp(-beta Delta)",
    rtol=_SOFTMAX_RTOL,
))
register(Claim(
    "softmax_beta_for_eps", softmax_offmax_mass_at_formula_beta, sym.eps,
    {"n": (2, 1024, "int"), "eps": (1e-12, 0.5, "log"), "Delta": (0.001, 10.0, "log"), "spread": (0.0, 5.0, "real")},
    relation="<=",
    source="beta = ln((n-1)(1-eps)/eps)/Delta, bounds.beta_for_offmax_mass (elementary)",
    description="off-maximum mass at the prescribed beta <= eps",
    rtol=1e-9,
))
register(Claim(
    "attention_output_error", attention_output_error, bounds.attention_output_error_upper(),
    {**SOFTMAX_DOMAIN, "S": (0.001, 1000.0, "log"), "alignment": (0.0, 1.0, "real")},
    relation="<=",
    source="triangle inequality on the off-max mass, bounds.attention_output_error_upper (elementary)",
    description="|attention output - value at argmax| <= off-max mass bound * value spread S",
    rtol=1e-9,
))
register(Claim(
    "softmax_tied_mass", tied_mass, bounds.tied_max_mass_lower(sym.r + _m, sym.r),
    {"r": (1, 64, "int"), "m": (1, 1024, "int"), "beta": (0.01, 100.0, "log"), "Delta": (0.001, 10.0, "log"), "spread": (0.0, 5.0, "real")},
    relation=">=",
    source="tied maxima, bounds.tied_max_mass_lower with n = r + m (elementary)",
    description="mass on r tied maxima >= r/(r+(n-r)exp(-beta Delta)), m = n - r others",
    rtol=_SOFTMAX_RTOL,
))
register(Claim(
    "softmax_tied_each", tied_each, bounds.tied_max_each_lower(sym.r + _m, sym.r),
    {"r": (1, 64, "int"), "m": (1, 1024, "int"), "beta": (0.01, 100.0, "log"), "Delta": (0.001, 10.0, "log"), "spread": (0.0, 5.0, "real")},
    relation=">=",
    source="tied maxima, bounds.tied_max_each_lower with n = r + m (elementary)",
    description="weight of each of r tied maxima >= 1/(r+(n-r)exp(-beta Delta))",
    rtol=_SOFTMAX_RTOL,
))
register(Claim(
    "relu_discretiser_error", relu_discretiser_error, bounds.relu_discretiser_error_upper(),
    {"K": (2, 64, "int"), "L": (0.01, 1000.0, "log"), "delta": (0.001, 10.0, "log"), "pos": (0.0, 1.0, "real"), "rho": (-0.45, 0.45, "real")},
    relation="<=",
    source="centred ReLU-pair discretiser (this toolkit's), bounds.relu_discretiser_error_upper (elementary); tracr's "
           "one-sided pair errs more and needs twice the slope: see relu_discretiser_error_tracr",
    description="|staircase(x) - level| <= (K-1) max(0, 1/2 - L delta (1/2 - |rho|)); exact iff L >= 1/((1-2|rho|) delta)",
    rtol=1e-9, atol=1e-8,
))
register(Claim(
    "relu_discretiser_error_tracr", relu_discretiser_error_tracr, bounds.tracr_relu_discretiser_error_upper(),
    {"K": (2, 64, "int"), "L": (0.01, 1000.0, "log"), "delta": (0.001, 10.0, "log"), "pos": (0.0, 1.0, "real"), "rho": (-0.45, 0.45, "real")},
    relation="<=",
    source="tracr's discretising MLP (Lindner et al. 2023, craft/chamber/numerical_mlp.py), one-sided ReLU pairs, "
           "bounds.tracr_relu_discretiser_error_upper (elementary)",
    description="|tracr staircase(x) - level| <= (K-1) max(0, 1 - L delta (1/2 - |rho|)); exact iff L >= 2/((1-2|rho|) delta)",
    rtol=1e-9, atol=1e-8,
))
register(Claim(
    "position_encoding_gap", position_gap, bounds.position_gap_lower(),
    {"n": (2, 65536, "logint"), "p": (4, 40, "int")},
    relation=">=",
    source="rounding of numerical positions i/n, bounds.position_gap_lower (elementary float analysis)",
    description="min gap of p-bit rounded encodings i/n >= 1/n - 2^-p (so distinct if n <= 2^p; sufficient, not "
                "necessary: n = 2^p + 1 is still distinct, the first collision is at n = 2^p + 2 for p = 4..8)",
    atol=1e-15,
))
register(Claim(
    "layer_norm_hash_gap", layer_norm_hash_gap, bounds.layer_norm_hash_gap_lower(),
    {"i": (2, 10**6, "logint")},
    relation=">=",
    source="Merrill & Sabharwal 2024 (ICLR), Lemma 8, App. E",
    description="1 - phi(i,1).phi(i-1,1) >= 1/(2 i^4), hashes computed exactly",
))
register(Claim(
    "layer_norm_hash_tiebreak", tie_breaker_value, bounds.tie_breaker_upper(),
    {"i": (1, 10**6, "logint")},
    relation="<",
    source="Merrill & Sabharwal 2024 (ICLR), Lemma 10, App. E.1",
    description="tie-breaking term f(i) < 1/(2 i^4), f computed exactly from its recursion",
))
register(Claim(
    "bipolar_address_codes", bipolar_offdiagonal, bounds.bipolar_offdiagonal_upper(),
    {"d": (1, 20, "int"), "i": (0, 2**20 - 1, "int"), "k": (0, 2**20 - 2, "int")},
    relation="<=",
    source="±1 binary addresses of Giannou et al. 2023 (ICML), Sec. 3; sharp form d - 2",
    description="p_a . p_b <= log2(n) - 2 for different d-bit addresses a != b",
))



def parity_gradient_variance_ratio(n: int, width: int, seed: int) -> float:
    """Var_S grad F_S(w) / E_x ||dp_w(x)/dw||^2 over all 2^n parities, computed exactly over
    all inputs (quantities.parity_gradient_variance) for a seeded tanh network."""
    variance, g2 = parity_gradient_variance(n, width, seed)
    return variance / g2


register(Claim(
    "parity_gradient_variance", parity_gradient_variance_ratio, 2 ** (-sym.n),
    {"n": (1, 12, "int"), "width": (1, 16, "int"), "seed": (0, 10**6, "int")},
    relation="<=",
    source="Shalev-Shwartz, Shamir & Shammah 2017 (ICML), 'Failures of gradient-based deep learning', Theorem 1 "
           "(square loss, the 2^n parities of n bits; exact by Parseval over the Walsh basis)",
    description="Var over parity targets of the square-loss gradient <= G^2 / 2^n, G^2 = E||dp/dw||^2; one-hidden-layer "
                "tanh network, exact over all 2^n inputs and all 2^n targets",
    rtol=1e-9, atol=1e-15,
))

# ---------------------------------------------------------------------------------------------
# Formula claims: both sides are sympy expressions, so `verify(..., method="prove")` proves them
# over the whole box (proofs_numeric prints "proved (certificate: ...)" for these).

#: The formula claims, by name (each is proved by proofs_numeric/check_<name>.py).
FORMULA_CLAIMS = (
    "softmax_linear_below_exact",
    "offmax_mass_at_formula_beta",
    "layer_norm_hash_gap_squared",
    "relu_discretiser_error_at_most_half",
)

register(Claim(
    "softmax_linear_below_exact", bounds.softmax_pmax_lower(sym.n, sym.beta, sym.Delta),
    bounds.softmax_pmax_linear_lower(),
    {"n": (2, 1024, "int"), "beta": (0.01, 100.0, "log"), "Delta": (0.001, 10.0, "log")},
    relation=">=",
    source="1/(1+t) >= 1-t for t >= 0: the linearised softmax bound is implied by the exact one (elementary)",
    description="1/(1+(n-1)exp(-beta Delta)) >= 1-(n-1)exp(-beta Delta), both sides formulas",
))
register(Claim(
    "offmax_mass_at_formula_beta", bounds.offmax_mass_upper(sym.n, bounds.beta_for_offmax_mass(), sym.Delta), sym.eps,
    {"n": (2, 1024, "int"), "eps": (1e-12, 0.5, "log"), "Delta": (0.001, 10.0, "log")},
    relation="<=",
    source="bounds.beta_for_offmax_mass solves offmax_mass_upper = eps (elementary); the formula side of softmax_beta_for_eps",
    description="the off-max mass bound at beta = ln((n-1)(1-eps)/eps)/Delta is <= eps (with equality)",
))
register(Claim(
    "layer_norm_hash_gap_squared", (sym.i * (sym.i - 1) + 1) ** 2,
    (1 - bounds.layer_norm_hash_gap_lower()) ** 2 * (sym.i**2 + 1) * ((sym.i - 1) ** 2 + 1),
    {"i": (2, 10**6, "logint")},
    relation="<=",
    source="Merrill & Sabharwal 2024 (ICLR), Lemma 8, App. E, in exact arithmetic: 1 - phi(i,1).phi(i-1,1) >= 1/(2 i^4) "
           "squared (both sides positive)",
    description="(i(i-1)+1)^2 <= (1-1/(2i^4))^2 (i^2+1)((i-1)^2+1), equivalent to the hash gap lemma",
))
register(Claim(
    "relu_discretiser_error_at_most_half", bounds.relu_discretiser_error_upper(), (sym.K - 1) / 2,
    {"K": (2, 64, "int"), "L": (0.01, 1000.0, "log"), "delta": (0.001, 10.0, "log"), "rho": (-0.45, 0.45, "real")},
    relation="<=",
    source="bounds.relu_discretiser_error_upper is at most (K-1)/2 whatever the slope (elementary)",
    description="(K-1) max(0, 1/2 - L delta (1/2 - |rho|)) <= (K-1)/2",
))
