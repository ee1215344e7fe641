"""Bounds on position codes: the layer-norm hash and bipolar (±1) binary address codes.

Layer-norm hash (Merrill & Sabharwal 2024, "The Expressive Power of Transformers with Chain of
Thought", ICLR 2024, Definition 3 and Appendices C, E): phi(x, y) = LN(<x, y, -x, -y>), where
LN(v) = (v - mean v) / |v - mean v|, so phi_x := phi(x, 1) = <x, 1, -x, -1> / sqrt(2x^2 + 2). It is
scale invariant, phi(x/i, 1/i) = phi_x (Lemma 1), and phi_q . phi_k = 1 iff q = k (Lemma 2).

Bipolar address codes (Giannou et al. 2023, "Looped Transformers as Programmable Computers",
ICML 2023, Section 3): position i in 0..2^d - 1 is encoded by p_i in {-1, +1}^d, the bits of i
mapped 0 -> -1, 1 -> +1. Then p_i . p_j = d - 2 Hamming(i, j).
"""

from __future__ import annotations

import sympy as sp

from theory_kit.bounds import symbols as sym
from theory_kit.bounds._coerce import sympify_arg

__all__ = [
    "layer_norm_hash_inner_product",
    "layer_norm_hash_gap_lower",
    "tie_breaker_upper",
    "bipolar_inner_product",
    "bipolar_offdiagonal_upper",
]

_q, _k = sp.symbols("q k", real=True)


def layer_norm_hash_inner_product(q=_q, k=_k) -> sp.Expr:
    """The inner product of two layer-norm hashes, phi_q . phi_k.

    Lemma 2 of Merrill & Sabharwal 2024 (Appendix C): phi_q . phi_k = (qk + 1) / sqrt((q^2+1)(k^2+1)),
    which is 1 iff q = k.

    Args:
        q: the first hashed value.
        k: the second hashed value.

    Returns:
        The sympy expression (qk + 1) / sqrt((q^2 + 1)(k^2 + 1)).
    """
    q, k = map(sympify_arg, (q, k))
    return (q * k + 1) / sp.sqrt((q**2 + 1) * (k**2 + 1))


def layer_norm_hash_gap_lower(i=sym.i) -> sp.Expr:
    """Lower bound on how far the hashes of neighbouring positions are from an exact match.

    Lemma 8 of Merrill & Sabharwal 2024 (Appendix E): for every i >= 2,
    phi(i, 1) . phi(i-1, 1) <= 1 - 1/(2 i^4), i.e. the gap 1 - phi_i . phi_(i-1) >= 1/(2 i^4).
    (Exactly, the gap is 1 - m / sqrt(m^2 + 1) with m = i^2 - i + 1, about 1/(2 m^2).) Their
    rightmost-retrieval head needs this gap to exceed the tie-breaking term (`tie_breaker_upper`).

    Args:
        i: the position (i >= 2).

    Returns:
        The sympy expression 1/(2 i^4).
    """
    i = sympify_arg(i)
    return 1 / (2 * i**4)


def tie_breaker_upper(i=sym.i) -> sp.Expr:
    """Upper bound on Merrill & Sabharwal's tie-breaking term f(i).

    Lemma 10 of Merrill & Sabharwal 2024 (Appendix E.1): the term f(i) = 1/1000 - 1e-10 i for
    i <= 4 and f(i, 3)/100 for i >= 5, where f(i, 0) = 1/i and f(i, k+1) = f(i-1, k) - f(i, k)
    (Definition 6), satisfies f(i) < 1/(2 i^4) for every i >= 1, so it never outweighs the gap of
    `layer_norm_hash_gap_lower`.

    Args:
        i: the position (i >= 1).

    Returns:
        The sympy expression 1/(2 i^4).
    """
    i = sympify_arg(i)
    return 1 / (2 * i**4)


def bipolar_inner_product(d=sym.d, h=sym.h) -> sp.Expr:
    """The inner product of two bipolar address codes at Hamming distance h.

    Identity: p_i . p_j = (number of agreeing bits) - (number of differing bits) = d - 2h.

    Args:
        d: address bits (d = log2 n).
        h: Hamming distance between the two addresses, 0 <= h <= d.

    Returns:
        The sympy expression d - 2h.
    """
    d, h = map(sympify_arg, (d, h))
    return d - 2 * h


def bipolar_offdiagonal_upper(d=sym.d) -> sp.Expr:
    """Upper bound on the inner product of the bipolar codes of two different addresses.

    Lemma: i != j means Hamming(i, j) >= 1, so p_i . p_j <= d - 2 = log2(n) - 2, while
    p_i . p_i = d. (Giannou et al. 2023 state the weaker p_i . p_j <= log n - 1; inner products of
    ±1 vectors of length d have the parity of d, so the sharp bound is d - 2.) The gap of 2 is the
    logit margin an attention head reading address i gets.

    Args:
        d: address bits.

    Returns:
        The sympy expression d - 2.
    """
    return sympify_arg(d) - 2
