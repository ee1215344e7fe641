"""Error bounds for discretising ReLU MLPs: a pair of ReLUs with slope L acting as a step function.

The hidden pair used by compiled MLPs to turn a numerical value into a categorical one is

    g_t(x) = ReLU(L (x - t) + 1/2) - ReLU(L (x - t) - 1/2) = clip(L (x - t) + 1/2, 0, 1),

a ramp of width 1/L centred on the threshold t. It equals the step 1[x >= t] exactly once
|x - t| >= 1/(2L); closer to t it is off by 1/2 - L |x - t|. A K-level discretiser on values
v_j = j delta (j = 0..K-1) sums K-1 such pairs with thresholds midway, t_k = (k - 1/2) delta, so
that sum_k g_{t_k}(v_j) = j. Source: elementary. This centred pair is this toolkit's own.

Tracr (Lindner et al. 2023, craft/chamber/numerical_mlp.py, `_get_discretising_layer`) uses a
different, one-sided pair:

    f_t(x) = ReLU(L (x - t) + 1) - ReLU(L (x - t)) = clip(L (x - t) + 1, 0, 1),

exact for x >= t and for x <= t - 1/L, ramping over [t - 1/L, t] below the threshold. At distance
d below t it errs by max(0, 1 - L d): against our max(0, 1/2 - L d), the error at a given slope
is larger (up to twice: 1 vs 1/2 at the threshold) and the slope needed for exactness at
distance d is twice ours (1/d vs 1/(2d)). The `tracr_*` functions state its bounds.
"""

from __future__ import annotations

import sympy as sp

from theory_kit.bounds import symbols as sym
from theory_kit.bounds._coerce import sympify_arg

__all__ = [
    "relu_pair_step_error",
    "relu_exact_distance",
    "relu_exact_slope",
    "relu_discretiser_error_upper",
    "tracr_relu_pair_step_error",
    "tracr_relu_exact_slope",
    "tracr_relu_discretiser_error_upper",
]


def relu_pair_step_error(L=sym.L, dist=sym.delta / 2) -> sp.Expr:
    """The exact error of one ReLU pair against the step it imitates, at distance dist from t.

    Lemma: |g_t(x) - 1[x >= t]| = max(0, 1/2 - L |x - t|) (both sides of the threshold, and
    1/2 at x = t). Source: elementary (module docstring).

    Args:
        L: slope of the pair (> 0).
        dist: the distance |x - t| from the threshold (>= 0). Defaults to delta/2, the distance
            of a grid value from a threshold placed midway between neighbouring values.

    Returns:
        The sympy expression Max(0, 1/2 - L dist).
    """
    L, dist = map(sympify_arg, (L, dist))
    return sp.Max(0, sp.Rational(1, 2) - L * dist)


def relu_exact_distance(L=sym.L) -> sp.Expr:
    """The distance from the threshold beyond which the ReLU pair is an exact step: 1/(2L).

    Lemma: `relu_pair_step_error` vanishes iff |x - t| >= 1/(2L). Source: elementary.

    Args:
        L: slope of the pair (> 0).

    Returns:
        The sympy expression 1/(2L).
    """
    return 1 / (2 * sympify_arg(L))


def relu_exact_slope(delta=sym.delta, rho=0) -> sp.Expr:
    """The smallest slope for which a discretiser on values spaced delta apart is exact.

    Lemma: grid values perturbed by at most |rho| delta sit at distance >= (1/2 - |rho|) delta from
    every midway threshold, so the pairs are exact steps iff L (1/2 - |rho|) delta >= 1/2, i.e.
    L >= 1 / ((1 - 2|rho|) delta) (L >= 1/delta for unperturbed inputs). Needs |rho| < 1/2.
    Source: elementary (`relu_exact_distance` with distance (1/2 - |rho|) delta).

    Args:
        delta: spacing between neighbouring values (> 0).
        rho: input perturbation in units of delta, |rho| < 1/2.

    Returns:
        The sympy expression 1 / ((1 - 2|rho|) delta).
    """
    delta, rho = map(sympify_arg, (delta, rho))
    return 1 / ((1 - 2 * sp.Abs(rho)) * delta)


def relu_discretiser_error_upper(K=sym.K, L=sym.L, delta=sym.delta, rho=sym.rho) -> sp.Expr:
    """Upper bound on the error of a K-level discretising ReLU MLP on (perturbed) grid inputs.

    Lemma: for x = v_j + rho delta with |rho| < 1/2, every midway threshold is at distance
    >= (1/2 - |rho|) delta from x, so each of the K-1 pairs errs by at most
    max(0, 1/2 - L delta (1/2 - |rho|)) and the staircase sum_k g_{t_k}(x) differs from the index j
    by at most (K-1) max(0, 1/2 - L delta (1/2 - |rho|)). The bound is 0, and the MLP exact, iff
    L >= `relu_exact_slope`(delta, rho). Nearly tight at the ends of the grid when L delta is
    small (all errors then have the same sign). Source: elementary, sum of `relu_pair_step_error`.

    Args:
        K: number of levels (K >= 2).
        L: slope of every pair.
        delta: spacing of the levels.
        rho: perturbation of the input in units of delta.

    Returns:
        The sympy expression (K-1) Max(0, 1/2 - L delta (1/2 - |rho|)).
    """
    K, L, delta, rho = map(sympify_arg, (K, L, delta, rho))
    return (K - 1) * relu_pair_step_error(L, delta * (sp.Rational(1, 2) - sp.Abs(rho)))


def tracr_relu_pair_step_error(L=sym.L, dist=sym.delta / 2) -> sp.Expr:
    """The error of tracr's one-sided ReLU pair at distance dist *below* its threshold.

    Lemma: |f_t(x) - 1[x >= t]| = max(0, 1 - L (t - x)) for x < t and 0 for x >= t, with
    f_t(x) = clip(L (x - t) + 1, 0, 1). Source: tracr, craft/chamber/numerical_mlp.py (module
    docstring); elementary.

    Args:
        L: slope of the pair (> 0).
        dist: the distance t - x >= 0 below the threshold.

    Returns:
        The sympy expression Max(0, 1 - L dist).
    """
    L, dist = map(sympify_arg, (L, dist))
    return sp.Max(0, 1 - L * dist)


def tracr_relu_exact_slope(delta=sym.delta, rho=0) -> sp.Expr:
    """The smallest slope for which tracr's discretiser is exact on inputs v_j + rho delta.

    Lemma: the nearest threshold above x is (1/2 - rho) delta away (>= (1/2 - |rho|) delta), and
    tracr's pair is exact there iff L (1/2 - |rho|) delta >= 1, i.e. L >= 2 / ((1 - 2|rho|) delta):
    twice `relu_exact_slope`. Source: elementary, from `tracr_relu_pair_step_error`.

    Args:
        delta: spacing between neighbouring values (> 0).
        rho: input perturbation in units of delta, |rho| < 1/2.

    Returns:
        The sympy expression 2 / ((1 - 2|rho|) delta).
    """
    return 2 * relu_exact_slope(delta, rho)


def tracr_relu_discretiser_error_upper(K=sym.K, L=sym.L, delta=sym.delta, rho=sym.rho) -> sp.Expr:
    """Upper bound on the error of tracr's K-level discretising MLP on (perturbed) grid inputs.

    Lemma: as `relu_discretiser_error_upper` with tracr's pair: each of the K-1 pairs errs by at
    most max(0, 1 - L delta (1/2 - |rho|)), so the staircase differs from the level index by at
    most (K-1) max(0, 1 - L delta (1/2 - |rho|)); 0 iff L >= `tracr_relu_exact_slope`.
    Source: tracr (Lindner et al. 2023), numerical_mlp.py; elementary.

    Args:
        K: number of levels (K >= 2).
        L: slope of every pair.
        delta: spacing of the levels.
        rho: perturbation of the input in units of delta.

    Returns:
        The sympy expression (K-1) Max(0, 1 - L delta (1/2 - |rho|)).
    """
    K, L, delta, rho = map(sympify_arg, (K, L, delta, rho))
    return (K - 1) * tracr_relu_pair_step_error(L, delta * (sp.Rational(1, 2) - sp.Abs(rho)))
