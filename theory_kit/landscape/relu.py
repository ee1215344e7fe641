"""Exact convex programs for two-layer ReLU and gated-ReLU networks, with dual certificates.

Non-convex problem (no bias, scalar output, weight decay β > 0):

    p*(M) = min_{W ∈ R^{D×M}, α ∈ R^M}  ½‖relu(X W) α − y‖² + (β/2)(‖W‖_F² + ‖α‖²).

Convex program (Pilanci & Ergen, ICML 2020, Thm 1), over the activation patterns D_i = diag(d_i):

    min_{u_i, v_i}  ½‖Σ_i D_i X (u_i − v_i) − y‖² + β Σ_i (‖u_i‖ + ‖v_i‖)
    s.t.            (2D_i − I) X u_i ≥ 0,  (2D_i − I) X v_i ≥ 0.

Identities used (derivation next to construction):
  * Rescaling w → t w, α → α/t leaves relu(Xw)α unchanged, and min_t (β/2)(t²‖w‖² + α²/t²)
    = β‖w‖|α|, so weight decay equals the path norm β Σ_j ‖w_j‖|α_j| at the optimum.
  * On the cone (2D − I) X u ≥ 0 we have relu(X u) = D X u, so a feasible (u_i, v_i) is the network
    w = u/√‖u‖, α = √‖u‖ (and w = v/√‖v‖, α = −√‖v‖) with the same fit and
    (β/2)(‖w‖² + α²) = β‖u‖: the recovered network's objective equals the program's value.
  * With all patterns, any network splits into such blocks (Pilanci & Ergen), so the optimal
    values coincide for every width M ≥ number of non-zero blocks.

Dual certificate (valid for every width M, proved here by weak duality). For any λ ∈ R^N,
½‖r − y‖² ≥ λᵀ(y − r) − ½‖λ‖² (Fenchel–Young for ½‖·‖²). With r = Σ_j relu(X w_j) α_j, ‖w_j‖ = 1
after rescaling, the objective is ≥ λᵀy − ½‖λ‖² + Σ_j |α_j| (β − |λᵀ relu(X w_j)|). Hence

    LB(λ) = λᵀy − ½‖λ‖²   is a lower bound whenever   c(λ) := max_{‖u‖≤1} |λᵀ relu(X u)| ≤ β.

For any λ the scaled s·λ with s ∈ [0, β/c(λ)] is feasible (c is 1-homogeneous); we take the best
such s for LB (s* = clip(λᵀy/‖λ‖², 0, β/c)). We use λ = y − ŷ from the convex solve (the KKT dual
point, which makes the bound tight at optimality). Computing c(λ) is the crux:
  * it is a maximum over activation patterns of max {aᵀu : ‖u‖ ≤ 1, (2D − I) X u ≥ 0} with
    a = ±Xᵀ D λ, and for any μ ≥ 0 that inner maximum is ≤ ‖a + Xᵀ(2D − I) μ‖ (weak duality of
    the SOCP; strong duality holds, so NNLS over μ makes this tight). Checking every pattern of X
    ("all-patterns") therefore gives a rigorous, tight c. In rank 2 we instead evaluate the exact
    maximum of the piecewise-sinusoidal θ ↦ λᵀ relu(X e(θ)) on every arc in closed form.
  * when the patterns cannot be enumerated ("norm-bound"): c ≤ max_± min(Σ_i λ_i^± ‖x_i‖,
    ½‖Xᵀλ^±‖ + ½ √(Σ_i λ_i^±) ‖diag(√λ^±) X‖₂), using relu(t) = (t + |t|)/2 and Cauchy–Schwarz.
    Rigorous but loose: the bound is then honest but the gap does not close.
A bound computed only over *sampled* patterns would not be a certificate, so we never report one.

Gated ReLU (Mishkin, Sahiner & Pilanci, ICML 2022): with fixed gates g_i the model
Σ_i diag(1[X g_i ≥ 0]) X w_i α_i has the convex program min ½‖Σ_i D_i X u_i − y‖² + β Σ_i ‖u_i‖
(no cone constraints). Setting u_i = u_i^ReLU − v_i^ReLU maps every feasible ReLU point to a gated
point with the same fit and no larger penalty, so gated value ≤ ReLU value on the same patterns.

Scaling law (why `two_layer_relu` and `gated_relu` solve on normalised data). With X = s_x X̃,
y = s_y ỹ (s_x, s_y > 0) and blocks u = (s_y/s_x) ũ, v = (s_y/s_x) ṽ:
    D_i X (u_i − v_i) = s_y D_i X̃ (ũ_i − ṽ_i),  and (2D_i − I) X u ≥ 0 ⇔ (2D_i − I) X̃ ũ ≥ 0,
so (the patterns of X and X̃ coincide)
    ½‖Σ_i D_i X (u_i − v_i) − y‖² + β Σ_i (‖u_i‖ + ‖v_i‖)
        = s_y² [ ½‖Σ_i D_i X̃ (ũ_i − ṽ_i) − ỹ‖² + β̃ Σ_i (‖ũ_i‖ + ‖ṽ_i‖) ],   β̃ = β / (s_x s_y).
Hence p*(X, y, β) = s_y² p*(X̃, ỹ, β̃) and minimisers map by u = (s_y/s_x) ũ (the gated program is
the same computation without v and cones). On the dual side λ = y − ŷ = s_y λ̃,
c(λ; X) = s_x s_y c(λ̃; X̃) (c is 1-homogeneous in X and in λ), the feasibility scale s ∈ [0, β/c]
is unchanged (β/c = β̃/c̃) and LB = s_y² LB̃. We take s_x, s_y powers of two (`_scaling`), so X̃, ỹ
and the way back are exact; the solver then sees O(1) data at any scale (at 1e12 Clarabel said
"infeasible", at 1e-12 it returned noise).

Zero network. When the dual point λ = y is feasible, c(y) ≤ β, the bound is LB(y) = ‖y‖² − ½‖y‖²
= ½‖y‖² (s = 1): exactly the objective of the zero network, which is therefore a global minimiser
(every width, all or sampled patterns, ReLU or gated). This is the case y = 0 (c(0) = 0; directly:
the objective is a square plus norms, hence ≥ 0, and the zero network attains 0) and the case of a
weight decay that dominates the data (β huge, y tiny). A solver would return ~1e-9 noise in every
block there (all 80 blocks on a 20-point toy problem with y = 0), so we check first and skip it.

Shape glossary: N samples, D input dimension, P patterns, M width of the recovered network.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Mapping

import cvxpy as cp
import numpy as np
from scipy.optimize import nnls

from theory_kit.errors import InvalidInput
from theory_kit.landscape._scaling import power_of_two_scale
from theory_kit.landscape._validate import (Problems, check_int, check_matrix, check_patterns, check_positive,
                                            check_seed, check_solver, check_vector)
from theory_kit.landscape.patterns import (DEFAULT_MAX_PATTERNS, PatternSet, _finalise, _row_space,
                                           activation_patterns, enumerate_patterns)
from theory_kit.landscape.pricing import PricingResult, price_relu_dual
from theory_kit.landscape.results import DualCertificate, GatedReluResult, TwoLayerReluResult
from theory_kit.landscape.solving import DEFAULT_SOLVER, check_certificate_consistent, solve
from theory_kit.progress import progress

__all__ = [
    "build_two_layer_relu_problem",
    "build_gated_relu_problem",
    "two_layer_relu",
    "gated_relu",
    "two_layer_objective",
    "gated_objective",
    "relu_dual_certificate",
    "relu_dual_constraint",
    "ReluVerification",
    "verify_two_layer_relu",
]

# Blocks with norm below this fraction of the largest block are solver noise, not neurons...
PRUNE_RTOL = 1e-6
# ...and so are blocks whose penalty β‖u‖ is below this fraction of the optimal value.
PRUNE_VALUE_RTOL = 1e-10
# Largest pattern count enumerated just to *check* a dual point when the program used samples.
MAX_CHECK_PATTERNS = 20000


def _validate_data(problems: Problems, X, y, beta):
    X = check_matrix(problems, "X", X)
    y = check_vector(problems, "y", y, length=None if X is None else X.shape[0])
    beta = check_positive(problems, "beta", beta)
    return X, y, beta


def _check_pattern_set(problems: Problems, pattern_set, X) -> None:
    if not isinstance(pattern_set, PatternSet):
        problems.add(f"pattern_set must be a PatternSet (from enumerate_patterns/sample_patterns), "
                     f"got {type(pattern_set).__name__}")
    elif X is not None and pattern_set.masks.shape[0] != X.shape[0]:
        problems.add(f"pattern_set has masks for {pattern_set.masks.shape[0]} samples but X has {X.shape[0]} rows")


def build_two_layer_relu_problem(X, y, *, beta: float, pattern_set: PatternSet) -> cp.Problem:
    """The Pilanci–Ergen convex program for a two-layer ReLU network (built, not solved).

    Variables are named "U" and "V", both (D, P); column i holds u_i, v_i of pattern i.

    Args:
        X: (N, D) data; y: (N,) targets; beta: weight decay > 0.
        pattern_set: the activation patterns D_i (from `enumerate_patterns` / `sample_patterns`).

    Returns:
        cvxpy.Problem minimising ½‖Σ_i D_i X (u_i − v_i) − y‖² + β Σ_i (‖u_i‖ + ‖v_i‖) subject to
        (2D_i − I) X u_i ≥ 0 and (2D_i − I) X v_i ≥ 0.

    Raises:
        InvalidInput: non-finite or mis-shaped X/y, beta ≤ 0, pattern_set of the wrong type/size.
    """
    problems = Problems("build_two_layer_relu_problem")
    X, y, beta = _validate_data(problems, X, y, beta)
    _check_pattern_set(problems, pattern_set, X)
    problems.raise_if_any()
    masks = pattern_set.masks.astype(float)  # (N, P)
    signs = 2.0 * masks - 1.0
    d, p = X.shape[1], masks.shape[1]
    U = cp.Variable((d, p), name="U")
    V = cp.Variable((d, p), name="V")
    prediction = cp.sum(cp.multiply(masks, X @ (U - V)), axis=1)
    objective = 0.5 * cp.sum_squares(prediction - y) + beta * (cp.sum(cp.norm(U, 2, axis=0))
                                                               + cp.sum(cp.norm(V, 2, axis=0)))
    constraints = [cp.multiply(signs, X @ U) >= 0, cp.multiply(signs, X @ V) >= 0]
    return cp.Problem(cp.Minimize(objective), constraints)


def build_gated_relu_problem(X, y, *, beta: float, pattern_set: PatternSet) -> cp.Problem:
    """The convex gated-ReLU program (Mishkin et al. 2022) on fixed gates (built, not solved).

    One variable named "U" (D, P): min ½‖Σ_i D_i X u_i − y‖² + β Σ_i ‖u_i‖, no constraints.

    Args:
        X: (N, D) data; y: (N,) targets; beta: weight decay > 0; pattern_set: the gates' patterns.

    Returns:
        cvxpy.Problem.

    Raises:
        InvalidInput: as `build_two_layer_relu_problem`.
    """
    problems = Problems("build_gated_relu_problem")
    X, y, beta = _validate_data(problems, X, y, beta)
    _check_pattern_set(problems, pattern_set, X)
    problems.raise_if_any()
    masks = pattern_set.masks.astype(float)
    U = cp.Variable((X.shape[1], masks.shape[1]), name="U")
    prediction = cp.sum(cp.multiply(masks, X @ U), axis=1)
    objective = 0.5 * cp.sum_squares(prediction - y) + beta * cp.sum(cp.norm(U, 2, axis=0))
    return cp.Problem(cp.Minimize(objective))


def two_layer_objective(X, y, W, alpha, *, beta: float) -> float:
    """½‖relu(X W) α − y‖² + (β/2)(‖W‖_F² + ‖α‖²) for W (D, M), alpha (M,).

    Raises:
        InvalidInput: non-finite inputs, inconsistent shapes, or beta ≤ 0.
    """
    problems = Problems("two_layer_objective")
    X, y, beta = _validate_data(problems, X, y, beta)
    W = check_matrix(problems, "W", W, allow_empty=True)
    alpha = check_vector(problems, "alpha", alpha, length=None, allow_empty=True)
    if X is not None and W is not None and W.shape[0] != X.shape[1]:
        problems.add(f"W must have {X.shape[1]} rows (columns of X), got shape {W.shape}")
    if W is not None and alpha is not None and alpha.shape[0] != W.shape[1]:
        problems.add(f"alpha must have length {W.shape[1]} (columns of W), got {alpha.shape}")
    problems.raise_if_any()
    residual = np.maximum(X @ W, 0.0) @ alpha - y
    return float(0.5 * residual @ residual + 0.5 * beta * (np.sum(W * W) + alpha @ alpha))


def gated_objective(X, y, W, alpha, gates, *, beta: float) -> float:
    """½‖Σ_j (1[X g_j ≥ 0] ∘ X w_j) α_j − y‖² + (β/2)(‖W‖_F² + ‖α‖²), gates (D, M) like W.

    Raises:
        InvalidInput: non-finite inputs or inconsistent shapes.
    """
    problems = Problems("gated_objective")
    X, y, beta = _validate_data(problems, X, y, beta)
    W = check_matrix(problems, "W", W, allow_empty=True)
    gates = check_matrix(problems, "gates", gates, allow_empty=True)
    alpha = check_vector(problems, "alpha", alpha, length=None, allow_empty=True)
    if W is not None and gates is not None and W.shape != gates.shape:
        problems.add(f"gates must have the shape of W {W.shape}, got {gates.shape}")
    if W is not None and alpha is not None and alpha.shape[0] != W.shape[1]:
        problems.add(f"alpha must have length {W.shape[1]}, got {alpha.shape}")
    if X is not None and W is not None and W.shape[0] != X.shape[1]:
        problems.add(f"W must have {X.shape[1]} rows, got shape {W.shape}")
    problems.raise_if_any()
    residual = (((X @ gates) >= 0) * (X @ W)) @ alpha - y
    return float(0.5 * residual @ residual + 0.5 * beta * (np.sum(W * W) + alpha @ alpha))


# ---------------------------------------------------------------------------------------------
# Dual certificate
# ---------------------------------------------------------------------------------------------

def _arc_max_rank2(Xr: np.ndarray, lam: np.ndarray) -> float:
    """Exact max_{‖u‖≤1} |λᵀ relu(Xr u)| for Xr (N, 2), by the angular sweep in closed form.

    On each arc [θ_a, θ_b] between consecutive breakpoints the pattern D is constant and
    θ ↦ λᵀ D Xr e(θ) = aᵀe(θ) with a = Xrᵀ D λ; its maximum on the arc is ‖a‖ if angle(a) lies in
    the arc, else the larger endpoint value. The same arcs with −a give the maximum of −λᵀ relu.
    """
    rows = np.linalg.norm(Xr, axis=1) > 0
    phi = np.arctan2(Xr[rows, 1], Xr[rows, 0])
    starts = np.unique(np.mod(np.concatenate([phi + np.pi / 2, phi - np.pi / 2]), 2 * np.pi))
    ends = np.append(starts[1:], starts[0] + 2 * np.pi)
    mids = (starts + ends) / 2
    masks = (Xr @ np.stack([np.cos(mids), np.sin(mids)])) >= 0  # (N, arcs)
    a = (Xr.T @ (masks * lam[:, None])).T  # (arcs, 2): a per arc
    best = 0.0
    for sign in (1.0, -1.0):
        vec = sign * a
        norms = np.linalg.norm(vec, axis=1)
        angle = np.mod(np.arctan2(vec[:, 1], vec[:, 0]) - starts, 2 * np.pi)
        inside = angle <= (ends - starts)
        at_start = vec[:, 0] * np.cos(starts) + vec[:, 1] * np.sin(starts)
        at_end = vec[:, 0] * np.cos(ends) + vec[:, 1] * np.sin(ends)
        arc_max = np.where(inside, norms, np.maximum(at_start, at_end))
        best = max(best, float(np.max(arc_max)))
    return best


def _nnls_max(X: np.ndarray, lam: np.ndarray, masks: np.ndarray) -> float:
    """max over the patterns in `masks` and ± of an upper bound ‖a + Bᵀμ‖ (μ ≥ 0 from NNLS)."""
    best = 0.0
    for p in range(masks.shape[1]):
        d = masks[:, p]
        B = (2.0 * d - 1.0)[:, None] * X  # (N, D): cone rows
        a = X.T @ (d * lam)
        for sign in (1.0, -1.0):
            mu, _ = nnls(B.T, -sign * a)
            # Any μ ≥ 0 certifies max{±aᵀu : ‖u‖≤1, B u ≥ 0} ≤ ‖±a + Bᵀμ‖; recompute it ourselves.
            bound = float(np.linalg.norm(sign * a + B.T @ np.maximum(mu, 0.0)))
            best = max(best, bound)
    return best


def _norm_bound(X: np.ndarray, lam: np.ndarray) -> float:
    """Rigorous closed-form upper bound on max_{‖u‖≤1} |λᵀ relu(X u)| (no patterns needed)."""
    best = 0.0
    row_norms = np.linalg.norm(X, axis=1)
    for part in (np.maximum(lam, 0.0), np.maximum(-lam, 0.0)):
        triangle = float(part @ row_norms)
        half_sum = 0.5 * float(np.linalg.norm(X.T @ part)) + 0.5 * math.sqrt(float(part.sum())) * float(
            np.linalg.norm(np.sqrt(part)[:, None] * X, 2))
        best = max(best, min(triangle, half_sum))
    return best


def relu_dual_constraint(X, lam, *, pattern_set: PatternSet | None = None,
                         max_check_patterns: int = MAX_CHECK_PATTERNS) -> tuple[float, str]:
    """Upper bound c on max_{‖u‖≤1} |λᵀ relu(X u)| and how it was computed.

    Args:
        X: (N, D) data; lam: (N,) dual vector.
        pattern_set: an *exact* PatternSet of X to reuse; otherwise patterns are enumerated here
            when there are at most `max_check_patterns` of them.
        max_check_patterns: enumeration budget for the check.

    Returns:
        (c, method) with method "all-patterns" (tight: rank-2 closed form or NNLS over every
        pattern) or "norm-bound" (rigorous closed-form bound, used when enumeration is too big).

    Raises:
        InvalidInput: non-finite or mis-shaped X / lam.
    """
    problems = Problems("relu_dual_constraint")
    X = check_matrix(problems, "X", X)
    lam = check_vector(problems, "lam", lam, length=None if X is None else X.shape[0])
    problems.raise_if_any()
    # c is 1-homogeneous in X and in λ: compute it on power-of-two normalised copies (exact) so
    # NNLS and the closed forms see O(1) numbers, then scale back.
    s_x, s_lam = power_of_two_scale(X), power_of_two_scale(lam)
    c, method = _dual_constraint_normalised(X / s_x, lam / s_lam, pattern_set, max_check_patterns)
    return c * s_x * s_lam, method


def _dual_constraint_normalised(X, lam, pattern_set, max_check_patterns) -> tuple[float, str]:
    basis = _row_space(X)
    if basis.shape[1] == 0:
        return 0.0, "all-patterns"
    Xr = X @ basis  # patterns and norms are unchanged by projecting u onto the row space
    if Xr.shape[1] == 2:
        return _arc_max_rank2(Xr, lam), "all-patterns"
    if pattern_set is None or not pattern_set.exact:
        try:
            pattern_set = enumerate_patterns(X, max_patterns=max_check_patterns)
        except InvalidInput:
            return _norm_bound(X, lam), "norm-bound"
    return _nnls_max(Xr, lam, pattern_set.masks), "all-patterns"


def _scaled_bound(lam: np.ndarray, y: np.ndarray, beta: float, c: float) -> tuple[float, float]:
    """Best s ∈ [0, β/c] for LB(sλ) = s λᵀy − s²‖λ‖²/2, and that bound."""
    lam_sq = float(lam @ lam)
    if lam_sq == 0.0:
        return 0.0, 0.0
    s = max(float(lam @ y) / lam_sq, 0.0)
    if c > 0:
        s = min(s, beta / c)
    return s * float(lam @ y) - 0.5 * s * s * lam_sq, s


def relu_dual_certificate(X, y, lam, *, beta: float, pattern_set: PatternSet | None = None,
                          max_check_patterns: int = MAX_CHECK_PATTERNS) -> DualCertificate:
    """Lower bound on the two-layer ReLU objective, valid for every width, from a dual vector.

    Args:
        X: (N, D) data; y: (N,) targets; lam: (N,) any dual vector (e.g. y − ŷ); beta > 0.
        pattern_set: optional exact patterns of X to reuse for the check.
        max_check_patterns: enumeration budget before falling back to the norm bound.

    Returns:
        DualCertificate(lower_bound, dual, scale, constraint_value, method).

    Raises:
        InvalidInput: bad X, y, lam or beta.
    """
    problems = Problems("relu_dual_certificate")
    X, y, beta = _validate_data(problems, X, y, beta)
    lam = check_vector(problems, "lam", lam, length=None if X is None else X.shape[0])
    problems.raise_if_any()
    c, method = relu_dual_constraint(X, lam, pattern_set=pattern_set, max_check_patterns=max_check_patterns)
    bound, s = _scaled_bound(lam, y, beta, c)
    return DualCertificate(lower_bound=bound, dual=lam, scale=s, constraint_value=c, method=method)


def _gated_constraint(X, lam, masks) -> float:
    """max_i ‖Xᵀ D_i λ‖ over the fixed gates' patterns (exact)."""
    return float(np.max(np.linalg.norm(X.T @ (masks * lam[:, None]), axis=0)))


def _gated_certificate(X, y, lam, beta, masks) -> tuple[float, float]:
    """Dual bound for the gated model on fixed gates: constraint max_i ‖Xᵀ D_i λ‖ ≤ β."""
    bound, s = _scaled_bound(lam, y, beta, _gated_constraint(X, lam, masks))
    return bound, s


# ---------------------------------------------------------------------------------------------
# End-to-end solves
# ---------------------------------------------------------------------------------------------

def _validate_call(context, X, y, beta, patterns, solver, seed, max_patterns, solver_options):
    problems = Problems(context)
    X, y, beta = _validate_data(problems, X, y, beta)
    patterns = check_patterns(problems, patterns)
    solver = check_solver(problems, solver)
    seed = check_seed(problems, seed)
    max_patterns = check_int(problems, "max_patterns", max_patterns)
    if solver_options is not None and not isinstance(solver_options, Mapping):
        problems.add(f"solver_options must be a mapping or None, got {solver_options!r}")
    problems.raise_if_any()
    return X, y, beta, patterns, solver, seed, max_patterns


def _kept(norms: np.ndarray, largest: float, beta: float, value: float) -> np.ndarray:
    """Which blocks are neurons rather than solver noise (see PRUNE_RTOL, PRUNE_VALUE_RTOL)."""
    return (norms > PRUNE_RTOL * largest) & (beta * norms > PRUNE_VALUE_RTOL * abs(value))


def _blocks_to_network(blocks: np.ndarray, sign: float) -> tuple[np.ndarray, np.ndarray]:
    norms = np.linalg.norm(blocks, axis=0)
    return blocks / np.sqrt(norms), sign * np.sqrt(norms)


@dataclass(frozen=True)
class _Normalised:
    """The equivalent problem on X̃ = X/s_x, ỹ = y/s_y, β̃ = β/(s_x s_y) (module docstring)."""

    X: np.ndarray
    y: np.ndarray
    beta: float
    s_x: float
    s_y: float

    @property
    def block_scale(self) -> float:
        """u = block_scale · ũ."""
        return self.s_y / self.s_x

    @property
    def value_scale(self) -> float:
        """p* = value_scale · p̃*."""
        return self.s_y * self.s_y

    @property
    def zero_value(self) -> float:
        """½‖ỹ‖²: the normalised objective of the zero network."""
        return 0.5 * float(self.y @ self.y)


def _prune_blocks(U: np.ndarray, V: np.ndarray, beta: float, value: float) -> tuple[np.ndarray, np.ndarray]:
    """Drop solver-noise blocks (`_kept`) from the (normalised) u and v blocks."""
    norms_u, norms_v = np.linalg.norm(U, axis=0), np.linalg.norm(V, axis=0)
    largest = max(float(np.max(norms_u)), float(np.max(norms_v)))
    return U[:, _kept(norms_u, largest, beta, value)], V[:, _kept(norms_v, largest, beta, value)]


def _network(data: "_Normalised", U: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W, alpha) in the caller's units from normalised blocks: u = (s_y/s_x) ũ (module docstring)."""
    W_u, a_u = _blocks_to_network(data.block_scale * U, 1.0)
    W_v, a_v = _blocks_to_network(data.block_scale * V, -1.0)
    return np.hstack([W_u, W_v]), np.concatenate([a_u, a_v])


def _normalise(context: str, X: np.ndarray, y: np.ndarray, beta: float) -> _Normalised:
    s_x, s_y = power_of_two_scale(X), power_of_two_scale(y)
    data = _Normalised(X=X / s_x, y=y / s_y, beta=beta / s_x / s_y, s_x=s_x, s_y=s_y)
    problems = Problems(context)
    if not 0.0 < data.block_scale < math.inf:
        problems.add(f"X and y are too far apart in scale for float64 (max |X| = {float(np.max(np.abs(X)))!r}, "
                     f"max |y| = {float(np.max(np.abs(y)))!r}): the weights s_y/s_x over- or underflow")
    elif not math.isfinite(data.value_scale * data.zero_value):
        problems.add(f"y is too large for float64: ½‖y‖² overflows (max |y| = {float(np.max(np.abs(y)))!r}); "
                     f"rescale y (and beta) first")
    if data.beta == 0.0:
        problems.add(f"beta = {beta!r} is negligible against the data scale (beta / (max|X| max|y|) underflows "
                     f"to 0); rescale beta or the data")
    problems.raise_if_any()
    return data


def _zero_network_certificate(data: _Normalised, pattern_set: PatternSet) -> DualCertificate | None:
    """The certificate of λ = ỹ when it proves the zero network optimal (c(ỹ) ≤ β̃), else None.

    Cheap necessary test first: c(ỹ) ≥ |ỹᵀ relu(X̃ g)| / ‖g‖ for every witness gate g.
    """
    if not np.any(data.y):
        return DualCertificate(lower_bound=0.0, dual=data.y, scale=0.0, constraint_value=0.0, method="all-patterns")
    gates = pattern_set.gates
    gate_norms = np.linalg.norm(gates, axis=0)
    useful = gate_norms > 0
    below = np.abs(data.y @ np.maximum(data.X @ gates[:, useful], 0.0)) / gate_norms[useful]
    if below.size and float(np.max(below)) > data.beta:
        return None
    c, method = relu_dual_constraint(data.X, data.y, pattern_set=pattern_set if pattern_set.exact else None)
    if c > data.beta:
        return None
    bound, s = _scaled_bound(data.y, data.y, data.beta, c)
    return DualCertificate(lower_bound=bound, dual=data.y, scale=s, constraint_value=c, method=method)


def two_layer_relu(X, y, *, beta: float, patterns="all", solver: str = DEFAULT_SOLVER, seed: int = 0,
                   max_patterns: int = DEFAULT_MAX_PATTERNS,
                   solver_options: Mapping[str, object] | None = None) -> TwoLayerReluResult:
    """Certified global optimum of ½‖relu(XW)α − y‖² + (β/2)(‖W‖² + ‖α‖²) (no bias).

    Args:
        X: (N, D) finite data; y: (N,) finite targets; beta: weight decay > 0.
        patterns: "all" (exact enumeration: angular sweep in rank 2, hyperplane-arrangement
            enumeration otherwise), an int: number of seeded random gate vectors to sample, or
            "pricing": column generation with exact branch-and-bound pricing (`landscape.pricing`), which
            certifies the optimum in any dimension (see `_two_layer_relu_priced`).
        solver: installed cvxpy solver name (default Clarabel).
        seed: seed for sampled gates.
        max_patterns: enumeration budget for patterns="all".
        solver_options: extra keyword arguments for cvxpy's solve.

    Returns:
        TwoLayerReluResult. `value` is the convex optimum; with patterns="all" it is the global
        minimum over all widths ≥ result.width; with sampled patterns it is only an upper bound
        on that minimum (attained by the recovered network). `lower_bound` is a dual certificate valid for every
        width: tight ("all-patterns") whenever the patterns of X can be enumerated — also when the
        program itself used sampled patterns — and a loose but rigorous "norm-bound" otherwise.
        The program is solved on power-of-two normalised data and mapped back (module docstring,
        "Scaling law"), so data at any scale representable in float64 gives the same answer.
        When λ = y is dual feasible (y = 0, or β ≥ c(y)) the zero network is certified optimal
        and no solver is called: width 0, value = lower_bound = ½‖y‖², `solver` the one requested.

    Raises:
        InvalidInput: bad inputs (all listed at once), before any solving; too many patterns;
            data whose objective is outside the float64 range (½‖y‖² overflows, β/(max|X| max|y|)
            underflows).
        SolverFailed: the solver did not return "optimal".
    """
    X, y, beta, patterns, solver, seed, max_patterns = _validate_call(
        "two_layer_relu", X, y, beta, patterns, solver, seed, max_patterns, solver_options)
    if patterns == "pricing":
        return _two_layer_relu_priced(X, y, beta, solver, seed, solver_options)
    pattern_set = activation_patterns(X, patterns, seed=seed, max_patterns=max_patterns)
    data = _normalise("two_layer_relu", X, y, beta)  # solve the equivalent O(1) problem
    start = time.perf_counter()
    zero = _zero_network_certificate(data, pattern_set)
    if zero is not None:  # proved optimal without a solver (module docstring, "Zero network")
        U = V = np.zeros((X.shape[1], 0))
        value, certificate, status = data.zero_value, zero, "optimal"
        seconds = time.perf_counter() - start
    else:
        problem = build_two_layer_relu_problem(data.X, data.y, beta=data.beta, pattern_set=pattern_set)
        solution = solve(problem, solver=solver, solver_options=solver_options)
        U, V = solution.variables["U"], solution.variables["V"]
        prediction = np.sum(pattern_set.masks * (data.X @ (U - V)), axis=1)
        certificate = relu_dual_certificate(data.X, data.y, data.y - prediction, beta=data.beta,
                                            pattern_set=pattern_set if pattern_set.exact else None)
        value, status, solver, seconds = solution.value, solution.status, solution.solver, solution.solve_seconds
        check_certificate_consistent(value, certificate.lower_bound, solver=solver, context="two_layer_relu")
        U, V = _prune_blocks(U, V, data.beta, value)
    # back to the caller's units: u = (s_y/s_x) ũ, p* = s_y² p̃*, λ = s_y λ̃ (module docstring)
    W, alpha = _network(data, U, V)
    value, lower = data.value_scale * value, data.value_scale * certificate.lower_bound
    return TwoLayerReluResult(
        value=value, lower_bound=lower, gap=value - lower, status=status,
        solver=solver, solve_seconds=seconds, n_patterns=pattern_set.n_patterns,
        patterns_exact=pattern_set.exact, certificate=certificate.method, W=W, alpha=alpha,
        network_objective=two_layer_objective(X, y, W, alpha, beta=beta), dual=data.s_y * certificate.dual,
        dual_scale=certificate.scale, beta=beta)


def gated_relu(X, y, *, beta: float, patterns="all", solver: str = DEFAULT_SOLVER, seed: int = 0,
               max_patterns: int = DEFAULT_MAX_PATTERNS,
               solver_options: Mapping[str, object] | None = None) -> GatedReluResult:
    """Global optimum of the gated-ReLU network on the gates of `patterns` (Mishkin et al. 2022).

    Args:
        Same as `two_layer_relu`; the gates are the patterns' witness gate vectors.

    Returns:
        GatedReluResult; its value is ≤ two_layer_relu(...).value on the same patterns (the gated
        program relaxes the cone constraints). Its lower bound certifies the gated model on
        these gates (dual constraint max_i ‖Xᵀ D_i λ‖ ≤ β, checked exactly). Normalised data
        and the zero-network check as in `two_layer_relu` (zero network iff max_i ‖Xᵀ D_i y‖ ≤ β).

    Raises:
        InvalidInput: bad inputs, before any solving. SolverFailed: non-optimal solve.
    """
    X, y, beta, patterns, solver, seed, max_patterns = _validate_call(
        "gated_relu", X, y, beta, patterns, solver, seed, max_patterns, solver_options)
    pattern_set = activation_patterns(X, patterns, seed=seed, max_patterns=max_patterns)
    masks = pattern_set.masks
    data = _normalise("gated_relu", X, y, beta)  # solve the equivalent O(1) problem
    start = time.perf_counter()
    # Zero network: optimal iff λ = ỹ is dual feasible, max_i ‖X̃ᵀ D_i ỹ‖ ≤ β̃ (module docstring).
    if _gated_constraint(data.X, data.y, masks) <= data.beta:
        lower, _ = _gated_certificate(data.X, data.y, data.y, data.beta, masks)
        U, value, status = np.zeros((X.shape[1], 0)), data.zero_value, "optimal"
        gates = np.zeros((X.shape[1], 0))
        seconds = time.perf_counter() - start
    else:
        problem = build_gated_relu_problem(data.X, data.y, beta=data.beta, pattern_set=pattern_set)
        solution = solve(problem, solver=solver, solver_options=solver_options)
        U = solution.variables["U"]
        prediction = np.sum(masks * (data.X @ U), axis=1)
        lower, _ = _gated_certificate(data.X, data.y, data.y - prediction, data.beta, masks)
        value, status, solver, seconds = solution.value, solution.status, solution.solver, solution.solve_seconds
        check_certificate_consistent(value, lower, solver=solver, context="gated_relu")
        norms = np.linalg.norm(U, axis=0)
        keep = _kept(norms, float(np.max(norms)), data.beta, value)
        U, gates = U[:, keep], pattern_set.gates[:, keep]
    W, alpha = _blocks_to_network(data.block_scale * U, 1.0)
    value, lower = data.value_scale * value, data.value_scale * lower
    return GatedReluResult(
        value=value, lower_bound=lower, gap=value - lower, status=status, solver=solver,
        solve_seconds=seconds, n_patterns=pattern_set.n_patterns,
        patterns_exact=pattern_set.exact, W=W, alpha=alpha, gates=gates,
        network_objective=gated_objective(X, y, W, alpha, gates, beta=beta), beta=beta)


# ---------------------------------------------------------------------------------------------
# Column generation with exact pricing (patterns="pricing")
# ---------------------------------------------------------------------------------------------

# Random gates in the first pattern set, per input dimension.
CG_RANDOM_GATES_PER_DIM = 20
# Trained networks (width, inits) whose first-layer weights seed the pattern set.
CG_WARM_WIDTH = 32
CG_WARM_INITS = 2
# A pattern is added when it violates the dual constraint by more than this relative amount.
CG_VIOLATION_RTOL = 1e-7
# Column-generation rounds (convex solves) before stopping with the (valid, open) bound.
CG_MAX_ITERATIONS = 60
# Seeded random starts of the pricing heuristic per round.
CG_HEURISTIC_STARTS = 1000
# The exact pricing certifies c(λ) ≤ c_max, the largest c for which LB(sλ), s = β/c, is within this
# relative gap of the master's value (`_certifiable_constraint`).
CG_GAP_RTOL = 5e-7


def _certifiable_constraint(lam: np.ndarray, y: np.ndarray, beta: float, target: float) -> float:
    """Largest c with LB(sλ) ≥ target for s = min(λᵀy/‖λ‖², β/c) (`_scaled_bound`); 0 if none.

    LB(s) = s a − s² b/2 (a = λᵀy, b = ‖λ‖²) increases on [0, a/b], so the condition is s ≥ s_min,
    the smaller root of s a − s² b/2 = target, i.e. c ≤ β/s_min. Pricing uses it as the threshold to
    prove: a bound c(λ) ≤ that c certifies LB ≥ target (column generation: target = (1 −
    CG_GAP_RTOL)·value; verification: the claimed lower bound minus the agreement tolerance).
    """
    a, b = float(lam @ y), float(lam @ lam)
    disc = a * a - 2.0 * b * target
    if b == 0.0 or a <= 0.0 or disc < 0.0:
        return 0.0
    if target <= 0.0:
        return math.inf
    return beta * (a + math.sqrt(disc)) / (2.0 * target)  # β/s_min, s_min = (a − √disc)/b = 2·target/(a + √disc)


def _warm_gates(data: _Normalised, seed: int) -> np.ndarray:
    """First-layer weights of CG_WARM_INITS L-BFGS-trained networks (their patterns are good columns)."""
    from theory_kit.landscape.nonconvex import _train  # nonconvex imports this module

    gates = []
    for k in range(CG_WARM_INITS):
        W, _, _, _ = _train(data.X, data.y, data.beta, CG_WARM_WIDTH, np.random.default_rng((seed, 7, k)), 2000, 1.0)
        gates.append(W)
    return np.hstack(gates)


def _solve_on(data: _Normalised, pattern_set: PatternSet, solver, solver_options):
    problem = build_two_layer_relu_problem(data.X, data.y, beta=data.beta, pattern_set=pattern_set)
    solution = solve(problem, solver=solver, solver_options=solver_options)
    U, V = solution.variables["U"], solution.variables["V"]
    prediction = np.sum(pattern_set.masks * (data.X @ (U - V)), axis=1)
    return solution, U, V, data.y - prediction


def _two_layer_relu_priced(X, y, beta, solver, seed, solver_options) -> TwoLayerReluResult:
    """Column generation over activation patterns with exact pricing (`landscape.pricing`).

    Rounds: solve the convex program on the current patterns (Clarabel) → residual λ; price λ, first
    by the heuristic (ascent from CG_HEURISTIC_STARTS random starts and the active patterns' gates,
    then local search over cells), and only when it finds nothing above β̃(1 + CG_VIOLATION_RTOL) by
    the exact branch and bound, which stops at its first violator; add up to 40 violating patterns;
    repeat. The branch and bound's threshold is c_max = the largest c(λ) for which LB(β̃λ/c) is within
    CG_GAP_RTOL of the convex value (`_certifiable_constraint`, ≥ β̃(1 + CG_VIOLATION_RTOL)): when it
    proves c(λ) ≤ c_max the convex value is the global optimum for every width to that relative gap,
    which the reported lower bound states. At any stop the bound LB(sλ) with s = min(λᵀy/‖λ‖², β/c_UB)
    is valid (weak duality, module docstring).
    The zero network is recognised first by pricing λ = ỹ (module docstring, "Zero network").
    """
    data = _normalise("two_layer_relu", X, y, beta)
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    threshold = data.beta * (1.0 + CG_VIOLATION_RTOL)
    zero_check = price_relu_dual(data.X, data.y, threshold=threshold, seed=seed, stop_on_violation=True)
    if zero_check.certified_feasible:
        bound, s = _scaled_bound(data.y, data.y, data.beta, zero_check.upper_bound)
        W, alpha = np.zeros((X.shape[1], 0)), np.zeros(0)
        return TwoLayerReluResult(
            value=data.value_scale * data.zero_value, lower_bound=data.value_scale * bound,
            gap=data.value_scale * (data.zero_value - bound), status="optimal", solver=solver,
            solve_seconds=time.perf_counter() - start, n_patterns=1, patterns_exact=False,
            certificate="exact-pricing", W=W, alpha=alpha,
            network_objective=two_layer_objective(X, y, W, alpha, beta=beta), dual=data.s_y * data.y,
            dual_scale=s, beta=beta, constraint_value=data.s_x * data.s_y * zero_check.upper_bound,
            pricing_gap=zero_check.gap, iterations=0, pricing_method=zero_check.method)
    gates = np.hstack([rng.standard_normal((X.shape[1], CG_RANDOM_GATES_PER_DIM * X.shape[1])),
                       _warm_gates(data, seed), zero_check.violating_gates])
    pattern_set = _finalise(data.X, gates, False, "column-generation")
    pricing: PricingResult | None = None
    for iteration in progress(range(1, CG_MAX_ITERATIONS + 1), desc="two_layer_relu column generation"):
        solution, U, V, lam = _solve_on(data, pattern_set, solver, solver_options)
        active = (np.linalg.norm(U, axis=0) + np.linalg.norm(V, axis=0)) > 0
        starts = pattern_set.gates[:, active]
        pricing = price_relu_dual(data.X, lam, threshold=threshold, starts=starts, seed=seed + iteration,
                                  n_starts=CG_HEURISTIC_STARTS, heuristic_only=True)
        if pricing.violating_gates.shape[1] == 0:
            # the heuristic found nothing: certify exactly, against the largest c that still gives
            # a relative gap ≤ CG_GAP_RTOL (a violator above it is added and the rounds go on)
            c_max = max(threshold, _certifiable_constraint(lam, data.y, data.beta,
                                                           (1.0 - CG_GAP_RTOL) * solution.value))
            c_max = c_max if math.isfinite(c_max) else threshold  # value ≤ 0: nothing to aim above β
            pricing = price_relu_dual(data.X, lam, threshold=c_max, starts=starts, seed=seed + iteration,
                                      stop_on_violation=True)
        if pricing.violating_gates.shape[1] == 0:
            break
        pattern_set = _finalise(data.X, np.hstack([pattern_set.gates, pricing.violating_gates]), False,
                                "column-generation")
    if pricing.violating_gates.shape[1] or not pricing.certified_feasible:
        # stopped by the iteration cap: bound c(λ) properly (no early stop) for a valid bound
        pricing = price_relu_dual(data.X, lam, threshold=threshold, seed=seed)
    c = pricing.upper_bound
    bound, s = _scaled_bound(lam, data.y, data.beta, c)
    value = solution.value
    check_certificate_consistent(value, bound, solver=solution.solver, context="two_layer_relu")
    W, alpha = _network(data, *_prune_blocks(U, V, data.beta, value))
    value, lower = data.value_scale * value, data.value_scale * bound
    return TwoLayerReluResult(
        value=value, lower_bound=lower, gap=value - lower, status=solution.status, solver=solution.solver,
        solve_seconds=time.perf_counter() - start, n_patterns=pattern_set.n_patterns, patterns_exact=False,
        certificate="exact-pricing", W=W, alpha=alpha,
        network_objective=two_layer_objective(X, y, W, alpha, beta=beta), dual=data.s_y * lam, dual_scale=s,
        beta=beta, constraint_value=data.s_x * data.s_y * c, pricing_gap=pricing.gap, iterations=iteration,
        pricing_method=pricing.method)


@dataclass(frozen=True)
class ReluVerification:
    """Independent re-check of a TwoLayerReluResult (`verify_two_layer_relu`).

    Attributes:
        network_objective: the non-convex objective of the result's (W, alpha), recomputed.
        lower_bound: the dual bound recomputed from the result's dual vector by a fresh pricing run.
        constraint_value: that run's upper bound on max_{‖u‖≤1} |λᵀ relu(X u)|.
        pricing_gap: that run's relative gap.
        relative_gap: (network_objective − lower_bound)/network_objective.
        pricing_method: the exact pricing used ("box-branch-and-bound" or "sign-branch-and-bound").
        pricing_nodes: its boxes or sign nodes (both signs).
        agrees: the recomputed values match the result's (value, lower_bound) to `rtol` and the
            recomputed lower bound does not exceed the recomputed objective.
    """

    network_objective: float
    lower_bound: float
    constraint_value: float
    pricing_gap: float
    relative_gap: float
    agrees: bool
    pricing_method: str = ""
    pricing_nodes: int = 0


def verify_two_layer_relu(X, y, result: TwoLayerReluResult, *, seed: int = 1, rtol: float = 1e-6,
                          method: str = "auto") -> ReluVerification:
    """Re-verify a two-layer ReLU certificate from scratch: primal objective and dual bound.

    The primal side is `two_layer_objective` of the result's network on (X, y); the dual side
    re-prices the result's dual vector λ with a fresh branch and bound (different heuristic seed) and
    recomputes LB(sλ) with s = min(λᵀy/‖λ‖², β/c). The branch and bound refines until its bound
    c reaches the c at which LB would fall rtol/2 below the claimed lower bound (or c(λ) is known to
    its own 1e-8): the claimed bound only sets how far to refine, never the value reported. Nothing
    from the result but (W, α, λ, β) is trusted.

    Args:
        X, y: the data the result was computed on; result: a TwoLayerReluResult.
        seed: heuristic seed of the re-pricing; rtol: agreement tolerance (relative to the value).
        method: the re-pricing's branch and bound ("auto", "box" or "sign"; `price_relu_dual`).

    Returns:
        ReluVerification.

    Raises:
        InvalidInput: bad X/y, a result of another type or with a dual of the wrong length, an
            unknown method.
    """
    problems = Problems("verify_two_layer_relu")
    X = check_matrix(problems, "X", X)
    y = check_vector(problems, "y", y, length=None if X is None else X.shape[0])
    if not isinstance(result, TwoLayerReluResult):
        problems.add(f"result must be a TwoLayerReluResult, got {type(result).__name__}")
    elif X is not None and result.dual.shape != (X.shape[0],):
        problems.add(f"result.dual has shape {result.dual.shape}, X has {X.shape[0]} rows")
    problems.raise_if_any()
    beta = result.beta
    primal = two_layer_objective(X, y, result.W, result.alpha, beta=beta)
    data = _normalise("verify_two_layer_relu", X, y, beta)
    lam = result.dual / data.s_y
    scale = max(abs(primal), np.finfo(float).tiny)
    # prove as much as agreement needs: c(λ) ≤ the c at which LB reaches the claimed bound minus half
    # the tolerance (only a pruning target: the bound below is whatever the branch and bound proves)
    aim = _certifiable_constraint(lam, data.y, data.beta,
                                  (result.lower_bound - 0.5 * rtol * scale) / data.value_scale)
    pricing = price_relu_dual(data.X, lam, seed=seed, threshold=aim if 0.0 < aim < math.inf else None,
                              method=method)
    bound, _ = _scaled_bound(lam, data.y, data.beta, pricing.upper_bound)
    lower = data.value_scale * bound
    agrees = (abs(primal - result.network_objective) <= rtol * scale
              and abs(lower - result.lower_bound) <= rtol * scale and lower <= primal + rtol * scale)
    return ReluVerification(network_objective=primal, lower_bound=lower,
                            constraint_value=data.s_x * data.s_y * pricing.upper_bound,
                            pricing_gap=pricing.gap, relative_gap=(primal - lower) / scale, agrees=agrees,
                            pricing_method=pricing.method, pricing_nodes=pricing.nodes)
