"""Softmax-to-hardmax bounds: how much attention mass a softmax head puts on its maximal logits.

Setting shared by every lemma here: logits z_1..z_n, a unique maximum z_* (or r tied maxima), and a
gap Delta > 0 such that every other logit satisfies z_k <= z_* - Delta. The head attends with
weights p_k = exp(beta z_k) / sum_l exp(beta z_l). Writing E = exp(-beta Delta):

    p_* = 1 / (1 + sum_{k != *} exp(-beta (z_* - z_k)))  >=  1 / (1 + (n-1) E)        (pmax)

because each of the n-1 terms of the sum is at most E. This is the argument behind every "large
inverse temperature turns softmax into hardmax" construction, e.g. the softmax coldness of tracr's
categorical attention (Lindner et al. 2023, "Tracr: Compiled Transformers as a Laboratory for
Interpretability") and the hard-attention simulations catalogued in Yang et al. 2025, "The
Transformer Cookbook". Every function returns a sympy expression; pass numbers to get values.
"""

from __future__ import annotations

import sympy as sp

from theory_kit.bounds import symbols as sym
from theory_kit.bounds._coerce import sympify_arg

__all__ = [
    "softmax_pmax_lower",
    "softmax_pmax_linear_lower",
    "offmax_mass_upper",
    "beta_for_offmax_mass",
    "attention_output_error_upper",
    "tied_max_mass_lower",
    "tied_max_each_lower",
]


def softmax_pmax_lower(n=sym.n, beta=sym.beta, Delta=sym.Delta) -> sp.Expr:
    """Lower bound on the softmax weight of the unique maximal logit.

    Lemma (pmax): with n logits whose maximum exceeds every other logit by at least Delta,
    p_max >= 1 / (1 + (n-1) exp(-beta Delta)). Equality when all other logits sit exactly Delta
    below the maximum. Source: elementary (module docstring); the hardmax argument of tracr,
    Lindner et al. 2023.

    Args:
        n: number of logits (sympy symbol or number, n >= 2).
        beta: inverse temperature (> 0).
        Delta: logit gap (> 0).

    Returns:
        The sympy expression 1 / (1 + (n-1) exp(-beta Delta)).
    """
    n, beta, Delta = map(sympify_arg, (n, beta, Delta))
    return 1 / (1 + (n - 1) * sp.exp(-beta * Delta))


def softmax_pmax_linear_lower(n=sym.n, beta=sym.beta, Delta=sym.Delta) -> sp.Expr:
    """The linearised (weaker, simpler) lower bound on the maximal softmax weight.

    Lemma (pmax, linear form): p_max >= 1 - (n-1) exp(-beta Delta), from 1/(1+x) >= 1-x for
    x >= 0 applied to the bound of `softmax_pmax_lower`. Vacuous (negative) while
    (n-1) exp(-beta Delta) > 1. Source: elementary, as `softmax_pmax_lower`.

    Args:
        n: number of logits.
        beta: inverse temperature.
        Delta: logit gap.

    Returns:
        The sympy expression 1 - (n-1) exp(-beta Delta).
    """
    n, beta, Delta = map(sympify_arg, (n, beta, Delta))
    return 1 - (n - 1) * sp.exp(-beta * Delta)


def offmax_mass_upper(n=sym.n, beta=sym.beta, Delta=sym.Delta) -> sp.Expr:
    """Upper bound on the total softmax weight off the unique maximal logit.

    Lemma: 1 - p_max <= (n-1) E / (1 + (n-1) E) with E = exp(-beta Delta), the complement of
    `softmax_pmax_lower`. Source: elementary.

    Args:
        n: number of logits.
        beta: inverse temperature.
        Delta: logit gap.

    Returns:
        The sympy expression (n-1) exp(-beta Delta) / (1 + (n-1) exp(-beta Delta)).
    """
    n, beta, Delta = map(sympify_arg, (n, beta, Delta))
    e = (n - 1) * sp.exp(-beta * Delta)
    return e / (1 + e)


def beta_for_offmax_mass(n=sym.n, eps=sym.eps, Delta=sym.Delta) -> sp.Expr:
    """The inverse temperature that guarantees off-maximum mass at most eps.

    Lemma: solving (n-1)E/(1+(n-1)E) = eps for E = exp(-beta Delta) gives
    beta = ln((n-1)(1-eps)/eps) / Delta; any larger beta keeps the off-maximum mass <= eps
    (the bound of `offmax_mass_upper` decreases in beta). Needs 0 < eps < 1; for
    eps >= (n-1)/n the expression is <= 0 and any beta >= 0 works. Source: elementary.

    Args:
        n: number of logits.
        eps: the allowed off-maximum mass, 0 < eps < 1.
        Delta: logit gap.

    Returns:
        The sympy expression log((n-1)(1-eps)/eps) / Delta.
    """
    n, eps, Delta = map(sympify_arg, (n, eps, Delta))
    return sp.log((n - 1) * (1 - eps) / eps) / Delta


def attention_output_error_upper(n=sym.n, beta=sym.beta, Delta=sym.Delta, S=sym.S) -> sp.Expr:
    """Upper bound on the distance between a softmax head's output and the value at the argmax.

    Lemma: the output is o = sum_k p_k v_k; since sum_k p_k = 1,
    o - v_* = sum_{k != *} p_k (v_k - v_*), so |o - v_*| <= (1 - p_*) max_k |v_k - v_*|
    <= offmax_mass_upper(n, beta, Delta) * S, with S = max_k |v_k - v_*| (any norm; the diameter
    of the value set is a valid, looser S). Equality when every other value sits at the same
    point at distance S and every other logit exactly Delta below the maximum. Source:
    elementary (triangle inequality on top of `offmax_mass_upper`).

    Args:
        n: number of positions.
        beta: inverse temperature.
        Delta: logit gap.
        S: value spread max_k |v_k - v_argmax|.

    Returns:
        The sympy expression S (n-1) exp(-beta Delta) / (1 + (n-1) exp(-beta Delta)).
    """
    return offmax_mass_upper(n, beta, Delta) * sympify_arg(S)


def tied_max_mass_lower(n=sym.n, r=sym.r, beta=sym.beta, Delta=sym.Delta) -> sp.Expr:
    """Lower bound on the softmax mass on a set of r exactly tied maximal logits.

    Lemma (tied maxima): if r logits share the maximum and the other n-r are at least Delta below,
    the tied set receives r / (r + sum_{others} exp(-beta (z_* - z_k))) >= r / (r + (n-r) E),
    E = exp(-beta Delta). This is what averaging hard attention (Merrill & Sabharwal's AHAT) is
    approximated by. Source: elementary, as `softmax_pmax_lower` (which is the case r = 1).

    Args:
        n: number of logits.
        r: number of tied maxima, 1 <= r <= n.
        beta: inverse temperature.
        Delta: gap between the tied maximum and every other logit.

    Returns:
        The sympy expression r / (r + (n-r) exp(-beta Delta)).
    """
    n, r, beta, Delta = map(sympify_arg, (n, r, beta, Delta))
    return r / (r + (n - r) * sp.exp(-beta * Delta))


def tied_max_each_lower(n=sym.n, r=sym.r, beta=sym.beta, Delta=sym.Delta) -> sp.Expr:
    """Lower bound on the softmax weight of each one of r exactly tied maximal logits.

    Lemma: tied logits get equal weight, so each gets the tied mass divided by r:
    p_k >= 1 / (r + (n-r) exp(-beta Delta)), i.e. `tied_max_mass_lower` / r. Source: elementary.

    Args:
        n: number of logits.
        r: number of tied maxima.
        beta: inverse temperature.
        Delta: gap between the tied maximum and every other logit.

    Returns:
        The sympy expression 1 / (r + (n-r) exp(-beta Delta)).
    """
    n, r, beta, Delta = map(sympify_arg, (n, r, beta, Delta))
    return 1 / (r + (n - r) * sp.exp(-beta * Delta))
