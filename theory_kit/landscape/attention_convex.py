"""Multi-head linear self-attention as a nuclear-norm convex program (Sahiner et al., ICML 2022).

Non-convex model ("self-attention with linear activation", Sahiner, Ergen, Ozturkler, Pauly,
Mardani & Pilanci 2022, Sec. 3): for a sequence X (T, D) and M heads,
    f(X) = Σ_j (X W1_j Xᵀ) X W2_j = Σ_j X W1_j G W2_j,   G = XᵀX,
with W1_j (D, D) the merged query-key matrix and W2_j (D, C) the merged value-output matrix, and
    p*(M) = min ½ Σ_i ‖f(X_i) − Y_i‖_F² + (β/2) Σ_j (‖W1_j‖_F² + ‖W2_j‖_F²).
(We regularise the merged W1 = W_Q W_Kᵀ and W2 = W_V W_O; this is the parametrisation of the
paper's linear-attention result, not of a four-factor Q, K, V, O model.)

Convex program. f is linear in the lifted matrix Z = Σ_j vec(W1_j) vec(W2_j)ᵀ ∈ R^{D²×DC}:
    f(X)[t, c] = Σ_{a,b,e} X[t,a] G[b,e] Z[(a,b), (e,c)]   =: F_X(Z)[t, c].
For a fixed Z, min Σ_j (‖W1_j‖² + ‖W2_j‖²)/2 over factorisations Z = Σ_j vec(W1_j)vec(W2_j)ᵀ equals
the nuclear norm ‖Z‖_* (attained by the SVD with M ≥ rank Z heads). Hence
    min_Z ½ Σ_i ‖F_{X_i}(Z) − Y_i‖² + β ‖Z‖_*
equals p*(M) for every M ≥ rank(Z*) (≤ min(D², DC)), and lower-bounds p*(M) for every M. Heads
are recovered from the SVD: vec(W1_k) = √σ_k u_k, vec(W2_k) = √σ_k v_k.

Certificate: for any λ, ½‖F(Z) − y‖² ≥ λᵀ(y − F(Z)) − ½‖λ‖², so the objective is ≥
λᵀy − ½‖λ‖² + β‖Z‖_* − ⟨F*λ, Z⟩ ≥ λᵀy − ½‖λ‖² when ‖F*λ‖₂ ≤ β (spectral norm: the dual of the
nuclear norm). With λ = y − ŷ scaled into feasibility this is an exact, closed-form dual check.

Scaling law (why `linear_attention_convex` solves on normalised data). F_X is cubic in X: with
X = s_x X̃, Y = s_y Ỹ and Z = (s_y / s_x³) Z̃, F_X(Z) = s_x³ F_X̃(Z) = s_y F_X̃(Z̃), so
    ½ Σ_i ‖F_{X_i}(Z) − Y_i‖² + β‖Z‖_* = s_y² [ ½ Σ_i ‖F_{X̃_i}(Z̃) − Ỹ_i‖² + β̃ ‖Z̃‖_* ],
    β̃ = β / (s_x³ s_y).
So p* = s_y² p̃*, Z* = (s_y/s_x³) Z̃*, heads W1, W2 = √(s_y/s_x³) (W̃1, W̃2); on the dual side λ = s_y λ̃,
‖F*λ‖₂ = s_x³ s_y ‖F̃*λ̃‖₂, the feasibility scale s is unchanged and LB = s_y² LB̃. With power-of-two
s_x, s_y (`_scaling`) all of this is exact. Without it Clarabel failed at X·1e12 and returned a
value 26× off the optimum at X·1e-12 (with β scaled to keep the problem equivalent).

No heads. Z = 0 (value ½‖Y‖²) is optimal iff λ = Y is dual feasible, ‖F*Y‖₂ ≤ β (then LB(Y) =
½‖Y‖²); in particular for Y = 0. We check this before solving: a solver returns noise there.

Shape glossary: N sequences, T tokens, D features, C outputs, M heads, K inits, S head counts.
"""

from __future__ import annotations

import math
import time
from typing import Mapping, Sequence

import cvxpy as cp
import numpy as np
from scipy.optimize import minimize

from theory_kit.errors import InvalidInput
from theory_kit.landscape._scaling import power_of_two_scale
from theory_kit.landscape._validate import (Problems, check_int_list, check_matrix, check_positive,
                                            check_solver, check_training)
from theory_kit.landscape.relu import _scaled_bound
from theory_kit.landscape.results import AttentionConvexResult, AttentionNonconvexResult, DualCertificate
from theory_kit.landscape.solving import DEFAULT_SOLVER, check_certificate_consistent, solve

__all__ = [
    "lifted_attention_operator",
    "build_linear_attention_problem",
    "attention_objective",
    "attention_dual_certificate",
    "linear_attention_convex",
    "attention_nonconvex_baseline",
]

# Singular values of Z below this fraction of the largest are solver noise, not heads.
PRUNE_RTOL = 1e-6
# Largest |log2| of the data scale factors (s_x³, s_y/s_x³) we accept; beyond it float64 over- or
# underflows when mapping the normalised solution back.
_MAX_SCALE_EXPONENT = 1000
OPTIMAL_RTOL = 1e-6


def _validate_sequences(problems: Problems, X, Y):
    X = check_matrix(problems, "X", X, ndim=3)
    Y = check_matrix(problems, "Y", Y, ndim=3)
    if X is not None and Y is not None and X.shape[:2] != Y.shape[:2]:
        problems.add(f"X (N, T, D) and Y (N, T, C) must agree on N and T, got {X.shape} and {Y.shape}")
        Y = None
    return X, Y


def lifted_attention_operator(X) -> np.ndarray:
    """Dense matrix F with F @ vec_C(Z) = vec_C of the predictions (N, T, C) for every C.

    Returns the (N·T, D³) block: for C outputs the full operator is F ⊗ I_C (applied per output
    column), so only the C = 1 block is stored: F[(i,t), (a·D + b)·D + e] = X_i[t,a] (X_iᵀX_i)[b,e].

    Raises:
        InvalidInput: X not a finite (N, T, D) array.
    """
    problems = Problems("lifted_attention_operator")
    X = check_matrix(problems, "X", X, ndim=3)
    problems.raise_if_any()
    gram = np.swapaxes(X, 1, 2) @ X
    n, t, d = X.shape
    return np.einsum("ita,ibe->itabe", X, gram).reshape(n * t, d ** 3)


def _predict(F: np.ndarray, Z: np.ndarray, d: int, c: int) -> np.ndarray:
    """(N·T, C) predictions from Z (D², D·C): column c uses Z[:, e·C + c] over e."""
    Zc = Z.reshape(d * d, d, c)  # [(a,b), e, c]
    return F @ Zc.reshape(d ** 3, c)


def _adjoint(F: np.ndarray, R: np.ndarray, d: int, c: int) -> np.ndarray:
    """F*(R) as a (D², D·C) matrix for residuals R (N·T, C)."""
    return (F.T @ R).reshape(d * d, d * c)


def build_linear_attention_problem(X, Y, *, beta: float) -> cp.Problem:
    """min_Z ½ Σ_i ‖F_{X_i}(Z) − Y_i‖² + β‖Z‖_* (built, not solved); variable "Z" (D², D·C).

    Args:
        X: (N, T, D) sequences; Y: (N, T, C) targets; beta: weight decay > 0.

    Returns:
        cvxpy.Problem (an SDP through the nuclear norm).

    Raises:
        InvalidInput: non-finite or mis-shaped X/Y, beta ≤ 0.
    """
    problems = Problems("build_linear_attention_problem")
    X, Y = _validate_sequences(problems, X, Y)
    beta = check_positive(problems, "beta", beta)
    problems.raise_if_any()
    d, c = X.shape[2], Y.shape[2]
    F = lifted_attention_operator(X)
    Z = cp.Variable((d * d, d * c), name="Z")
    target = Y.reshape(-1, c)
    residuals = [F @ cp.vec(Z[:, k::c], order="C") - target[:, k] for k in range(c)]
    objective = 0.5 * sum(cp.sum_squares(r) for r in residuals) + beta * cp.normNuc(Z)
    return cp.Problem(cp.Minimize(objective))


def attention_objective(X, Y, W1, W2, *, beta: float) -> float:
    """½ Σ_i ‖Σ_j X_i W1_j X_iᵀX_i W2_j − Y_i‖² + (β/2) Σ_j (‖W1_j‖² + ‖W2_j‖²).

    Args:
        X: (N, T, D); Y: (N, T, C); W1: (M, D, D); W2: (M, D, C) (M may be 0); beta > 0.

    Raises:
        InvalidInput: bad shapes or values.
    """
    problems = Problems("attention_objective")
    X, Y = _validate_sequences(problems, X, Y)
    beta = check_positive(problems, "beta", beta)
    W1 = np.asarray(W1, dtype=float)
    W2 = np.asarray(W2, dtype=float)
    if X is not None and Y is not None:
        d, c = X.shape[2], Y.shape[2]
        if W1.ndim != 3 or W1.shape[1:] != (d, d) or W2.ndim != 3 or W2.shape[1:] != (d, c) \
                or W1.shape[0] != W2.shape[0]:
            problems.add(f"W1 must be (M, {d}, {d}) and W2 (M, {d}, {c}), got {W1.shape} and {W2.shape}")
        elif not (np.all(np.isfinite(W1)) and np.all(np.isfinite(W2))):
            problems.add("W1 and W2 must be finite")
    problems.raise_if_any()
    gram = np.swapaxes(X, 1, 2) @ X
    pred = np.zeros(Y.shape)
    for j in range(W1.shape[0]):
        pred += X @ W1[j] @ gram @ W2[j]
    r = pred - Y
    return float(0.5 * np.sum(r * r) + 0.5 * beta * (np.sum(W1 * W1) + np.sum(W2 * W2)))


def attention_dual_certificate(X, Y, lam, *, beta: float) -> DualCertificate:
    """Lower bound, valid for every head count, from a dual vector λ (N·T·C, or shaped like Y).

    Raises:
        InvalidInput: bad X, Y, lam or beta.
    """
    problems = Problems("attention_dual_certificate")
    X, Y = _validate_sequences(problems, X, Y)
    beta = check_positive(problems, "beta", beta)
    lam = np.asarray(lam, dtype=float)
    if Y is not None and lam.size != Y.size:
        problems.add(f"lam must have {Y.size} entries (like Y), got shape {lam.shape}")
    elif not np.all(np.isfinite(lam)):
        problems.add("lam must be finite")
    problems.raise_if_any()
    d, c = X.shape[2], Y.shape[2]
    lam_mat = lam.reshape(-1, c)
    constraint = float(np.linalg.norm(_adjoint(lifted_attention_operator(X), lam_mat, d, c), 2))
    bound, s = _scaled_bound(lam_mat.ravel(), Y.reshape(-1, c).ravel(), beta, constraint)
    return DualCertificate(lower_bound=bound, dual=lam_mat.ravel(), scale=s, constraint_value=constraint,
                           method="exact")


def _check_scales(problems: Problems, X, Y, s_x: float, s_y: float, zero_value: float) -> None:
    """Record data too large or small for float64 in this cubic model (s_x, s_y powers of two)."""
    e_x, e_y = math.frexp(s_x)[1] - 1, math.frexp(s_y)[1] - 1
    if abs(3 * e_x) > _MAX_SCALE_EXPONENT or abs(3 * e_x - e_y) > _MAX_SCALE_EXPONENT:
        problems.add(f"X is outside the float64 range of this cubic model: max |X| = {float(np.max(np.abs(X)))!r} "
                     f"(its cube, against max |Y| = {float(np.max(np.abs(Y)))!r}, over- or underflows); "
                     f"rescale X")
    elif not math.isfinite(s_y * s_y * zero_value):
        problems.add(f"Y is too large for float64: ½‖Y‖² overflows (max |Y| = {float(np.max(np.abs(Y)))!r})")


def linear_attention_convex(X, Y, *, beta: float, solver: str = DEFAULT_SOLVER,
                            solver_options: Mapping[str, object] | None = None) -> AttentionConvexResult:
    """Certified global optimum of weight-decayed multi-head linear self-attention.

    Args:
        X: (N, T, D) sequences; Y: (N, T, C) targets; beta > 0; solver: cvxpy solver with SDP
            support (Clarabel, SCS); solver_options: extra options for cvxpy's solve.

    Returns:
        AttentionConvexResult: value (global optimum for any head count ≥ n_heads), its exact
        dual lower bound, and the heads recovered from the SVD of Z. Solved on power-of-two
        normalised data and mapped back (module docstring, "Scaling law"); when ‖F*Y‖₂ ≤ β the
        model without heads is certified optimal and no solver is called.

    Raises:
        InvalidInput: bad inputs (all listed, before solving). SolverFailed: non-optimal solve.
    """
    problems = Problems("linear_attention_convex")
    X, Y = _validate_sequences(problems, X, Y)
    beta = check_positive(problems, "beta", beta)
    solver = check_solver(problems, solver)
    if solver_options is not None and not isinstance(solver_options, Mapping):
        problems.add(f"solver_options must be a mapping or None, got {solver_options!r}")
    problems.raise_if_any()
    d, c = X.shape[2], Y.shape[2]
    # the equivalent O(1) problem (module docstring, "Scaling law")
    s_x, s_y = power_of_two_scale(X), power_of_two_scale(Y)
    Xs, Ys = X / s_x, Y / s_y
    zero_value = 0.5 * float(np.sum(Ys * Ys))
    _check_scales(problems, X, Y, s_x, s_y, zero_value)
    problems.raise_if_any()
    beta_s = beta / s_x ** 3 / s_y
    if beta_s == 0.0:
        problems.add(f"beta = {beta!r} is negligible against the data scale (beta / (max|X|³ max|Y|) underflows "
                     f"to 0); rescale beta or the data")
    problems.raise_if_any()
    start = time.perf_counter()
    F = lifted_attention_operator(Xs)
    target = Ys.reshape(-1, c)
    if float(np.linalg.norm(_adjoint(F, target, d, c), 2)) <= beta_s:  # no heads is optimal (docstring)
        Z = np.zeros((d * d, d * c))
        certificate = attention_dual_certificate(Xs, Ys, target, beta=beta_s)
        value, status, seconds = zero_value, "optimal", time.perf_counter() - start
    else:
        solution = solve(build_linear_attention_problem(Xs, Ys, beta=beta_s), solver=solver,
                         solver_options=solver_options)
        Z = solution.variables["Z"]
        residual = target - _predict(F, Z, d, c)
        certificate = attention_dual_certificate(Xs, Ys, residual, beta=beta_s)
        value, status, solver, seconds = solution.value, solution.status, solution.solver, solution.solve_seconds
        check_certificate_consistent(value, certificate.lower_bound, solver=solver, context="linear_attention_convex")
    u, sigma, vt = np.linalg.svd(Z, full_matrices=False)
    keep = sigma > PRUNE_RTOL * max(float(sigma[0]), 0.0) if sigma.size else np.zeros(0, bool)
    keep &= sigma > 0
    root = np.sqrt(sigma[keep] * (s_y / s_x ** 3))
    W1 = (u[:, keep] * root).T.reshape(-1, d, d)
    W2 = (vt[keep].T * root).T.reshape(-1, d, c)
    value, lower = s_y * s_y * value, s_y * s_y * certificate.lower_bound
    return AttentionConvexResult(
        value=value, lower_bound=lower, gap=value - lower, status=status, solver=solver, solve_seconds=seconds,
        Z=(s_y / s_x ** 3) * Z, W1=W1, W2=W2, network_objective=attention_objective(X, Y, W1, W2, beta=beta),
        beta=beta)


def _heads_loss_and_grad(theta, F, y, beta, d, c, m):
    """Burer–Monteiro form: Z = A Bᵀ, A = [vec W1_j] (D², M), B = [vec W2_j] (DC, M)."""
    A = theta[: d * d * m].reshape(d * d, m)
    B = theta[d * d * m:].reshape(d * c, m)
    Z = A @ B.T
    r = _predict(F, Z, d, c) - y
    R = _adjoint(F, r, d, c)
    f = 0.5 * np.sum(r * r) + 0.5 * beta * (np.sum(A * A) + np.sum(B * B))
    return float(f), np.concatenate([(R @ B + beta * A).ravel(), (R.T @ A + beta * B).ravel()])


def attention_nonconvex_baseline(X, Y, *, beta: float, heads: Sequence[int] = (1, 2, 3, 6), n_inits: int = 10,
                                 seed: int = 0, max_iter: int = 5000, init_scale: float = 1.0,
                                 certified: AttentionConvexResult | None = None,
                                 rel_tol: float = OPTIMAL_RTOL) -> AttentionNonconvexResult:
    """Train the M-head model from K seeded random inits (L-BFGS) and compare with the convex optimum.

    Init: every entry of W1_j, W2_j ~ N(0, init_scale²/D). Run k at head-count index s uses seed
    (seed, s, k). The objective is smooth (a polynomial), so L-BFGS converges to stationary points.

    Args:
        X: (N, T, D); Y: (N, T, C); beta > 0; heads: head counts M ≥ 1; n_inits: K;
        seed, max_iter, init_scale: training controls; certified: the convex result for the same
        data (solved here when None); rel_tol: "reached the optimum" tolerance.

    Returns:
        AttentionNonconvexResult.

    Raises:
        InvalidInput: bad inputs, or `certified` solved with another beta. SolverFailed: convex solve.
    """
    problems = Problems("attention_nonconvex_baseline")
    X, Y = _validate_sequences(problems, X, Y)
    beta = check_positive(problems, "beta", beta)
    heads = check_int_list(problems, "heads", heads)
    n_inits, seed, max_iter, init_scale, rel_tol = check_training(
        problems, n_inits=n_inits, seed=seed, max_iter=max_iter, init_scale=init_scale,
        rel_tol=rel_tol, certified=certified, certified_type=AttentionConvexResult, beta=beta)
    problems.raise_if_any()
    s_x, s_y = power_of_two_scale(X, even=True), power_of_two_scale(Y, even=True)
    _check_scales(problems, X, Y, s_x, s_y, 0.5 * float(np.sum((Y / s_y) ** 2)))
    problems.raise_if_any()
    if certified is None:
        certified = linear_attention_convex(X, Y, beta=beta)
    d, c = X.shape[2], Y.shape[2]
    # Train on X̃ = X/s_x, Ỹ = Y/s_y, β̃ = β/(s_x³ s_y) (module docstring, "Scaling law"): the heads map
    # by a = √(s_y/s_x³) (a power of two for power-of-four s_x, s_y) and the objective by s_y². The
    # init refers to the normalised data. On raw data L-BFGS stalled at 1e-12 and diverged at 1e12.
    a = float(np.sqrt(s_y / s_x ** 3))
    beta_s = beta / s_x ** 3 / s_y
    F = lifted_attention_operator(X / s_x)
    y = Y.reshape(-1, c) / s_y
    objectives = np.empty((len(heads), n_inits))
    iterations = np.empty((len(heads), n_inits), dtype=int)
    for s, m in enumerate(heads):
        for k in range(n_inits):
            rng = np.random.default_rng((seed, s, k))
            theta0 = rng.standard_normal((d * d + d * c) * m) * init_scale / np.sqrt(d)
            res = minimize(_heads_loss_and_grad, theta0, args=(F, y, beta_s, d, c, m), jac=True,
                           method="L-BFGS-B", options={"maxiter": max_iter, "gtol": 1e-12, "ftol": 1e-15})
            A = a * res.x[: d * d * m].reshape(d * d, m)
            B = a * res.x[d * d * m:].reshape(d * c, m)
            objectives[s, k] = attention_objective(X, Y, A.T.reshape(m, d, d), B.T.reshape(m, d, c), beta=beta)
            iterations[s, k] = res.nit
    if not np.all(np.isfinite(objectives)):
        raise InvalidInput("attention_nonconvex_baseline: training diverged; lower init_scale")
    return AttentionNonconvexResult(heads=np.array(heads), objectives=objectives, iterations=iterations,
                                    convex_value=certified.value, convex_lower_bound=certified.lower_bound,
                                    rel_tol=rel_tol, seed=seed)
