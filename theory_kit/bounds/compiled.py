"""The compiler's own constants as sympy expressions: ε, β, the off-target mass and the slopes.

The compiler (theory_kit.compiler.graph_to_blocks) lambdifies these once and evaluates them for
every compilation; the claims in theory_kit.claims.compiled check the same expressions. The
constructions they size are derived in theory_kit/craft/attention.py (selection heads, the BOS
half-logit trick) and theory_kit/craft/mlp.py (discretising ReLU steps).

Symbols (defined here, positive): N max_seq_len (integer), tol the dtype's tolerance, vmax the
largest |value| of any numerical SOp (≥ 1), gap the smallest gap between neighbouring input
values where a discretising Map changes its output (sympy.oo when there is none), eps the
off-target attention mass, beta the softmax inverse temperature.
"""

from __future__ import annotations

import sympy as sp

from theory_kit.bounds._coerce import sympify_arg
from theory_kit.bounds.relu import relu_exact_slope

__all__ = ["N", "tol", "vmax", "gap", "eps", "beta", "attention_epsilon", "attention_beta",
           "attention_offtarget_mass", "discretiser_slope", "loop_snap_tolerance"]

N = sp.Symbol("N", positive=True, integer=True)
tol = sp.Symbol("tol", positive=True)
vmax = sp.Symbol("vmax", positive=True)
gap = sp.Symbol("gap", positive=True)
eps = sp.Symbol("eps", positive=True)
beta = sp.Symbol("beta", positive=True)


def attention_epsilon(tol=tol, N=N, vmax=vmax, gap=gap) -> sp.Expr:
    """ε = min(tol, min(gap, 1/(N+1)²) / (8·vmax)): the off-target mass each head may leave.

    Lemma: a head that leaves off-target mass ε moves a numerical value by at most ε·vmax
    (plus as much again through a second operand), so ε ≤ δ/(8·vmax) keeps the noise below a
    quarter of δ, the smallest gap a discretising MLP must resolve — where its steps are exact
    (craft/mlp.py step_mlp, slope 2/gap). δ is the smallest gap of a discretising Map (`gap`)
    and at most 1/(N+1)², the smallest gap between neighbouring values 1/(w+1) a selector-width
    decoder and fractions of at most N+1 positions need. ε is also at most the dtype's
    tolerance `tol`. Source: compiler/graph_to_blocks.py choose_epsilon (this expression).

    The form is chosen so that lambdify(..., modules="math") evaluates exactly the float
    operations the compiler always used (1/((N+1)**2) as one correctly rounded division, and
    (1/8)·x/vmax, whose factor 1/8 is exact).

    Args:
        tol: the dtype's tolerance.
        N: max_seq_len.
        vmax: the largest |value| of any numerical SOp, at least 1.
        gap: the smallest changing gap of a discretising Map (sympy.oo for none).

    Returns:
        The sympy expression Min(tol, Min(gap, 1/(N+1)²)/(8·vmax)).
    """
    tol, N, vmax, gap = map(sympify_arg, (tol, N, vmax, gap))
    # Pow(·, -1) unevaluated: printed (and evaluated) as 1/((N + 1)**2), not (N + 1)**(-2).
    inv_square = sp.Pow((N + 1) ** 2, -1, evaluate=False)
    return sp.Min(tol, sp.Min(gap, inv_square) / (8 * vmax))


def attention_offtarget_mass(N=N, beta=beta) -> sp.Expr:
    """(N+1)·e^{-β/2}: the off-target attention mass of a selection head.

    Lemma: the selected keys beat BOS and every unselected key by a logit gap of β/2 (the BOS
    half-logit trick, craft/attention.py), and at most N+1 positions are attended; each
    off-target weight is at most e^{-β/2} times the mass on target, so the off-target mass is
    at most (N+1)·e^{-β/2} (bounds.softmax.offmax_mass_upper with n = N+2, Delta = β/2, loosened).

    Args:
        N: max_seq_len.
        beta: the inverse temperature.

    Returns:
        The sympy expression (N+1)·exp(-β/2).
    """
    N, beta = map(sympify_arg, (N, beta))
    return (N + 1) * sp.exp(-beta / 2)


def attention_beta(N=N, eps=eps) -> sp.Expr:
    """β = 2·ln((N+1)/ε): the inverse temperature whose off-target mass is ε.

    Lemma: solving attention_offtarget_mass(N, β) = (N+1)·e^{-β/2} = ε for β (derivation in
    craft/attention.py: BOS half-logit gap β/2 against at most N+1 positions).

    Args:
        N: max_seq_len.
        eps: the off-target mass allowed (e.g. attention_epsilon()).

    Returns:
        The sympy expression 2·log((N+1)/ε).
    """
    N, eps = map(sympify_arg, (N, eps))
    return 2 * sp.log((N + 1) / eps)


def discretiser_slope(gap=gap) -> sp.Expr:
    """L = 2/gap: the slope of a discretising ReLU pair between values `gap` apart.

    Lemma: bounds.relu.relu_exact_slope(gap, rho=1/4): the step is exact for inputs within a
    quarter gap of a grid value (craft/mlp.py step_mlp), which attention_epsilon guarantees.

    Args:
        gap: the distance between the two neighbouring values.

    Returns:
        The sympy expression 2/gap.
    """
    return relu_exact_slope(sympify_arg(gap), sp.Rational(1, 4))


def loop_snap_tolerance(slope=sp.Integer(4)) -> sp.Expr:
    """1/2 - 1/(2k): how far from 0 or 1 an input of the loop's snapping unit
    relu(k(z - 1/2) + 1/2) - relu(k(z - 1/2) - 1/2) may be and still give exactly 0 or 1
    (craft/loop.py; k = SNAP_SLOPE = 4 gives 3/8). A looped model's state is re-snapped at the
    end of every iteration, so its error after iteration t does not depend on t.

    Args:
        slope: the unit's slope k (> 1).

    Returns:
        The sympy expression 1/2 - 1/(2k).
    """
    k = sympify_arg(slope)
    return sp.Rational(1, 2) - 1 / (2 * k)
