"""ℓ2 Lipschitz bounds for ReLU MLPs: LipSDP-Neuron (Fazlyab et al., NeurIPS 2019) against the naive
product of spectral norms and a sampled lower bound.

Weights are plain numpy arrays in the row-vector ("x @ W") layout used for residual-stream MLP
blocks: h_1 = relu(x @ W_0 + b_0), …, h_L = relu(h_{L−1} @ W_{L−1} + b_{L−1}), f(x) = h_L @ W_L + b_L,
so W_k has shape (n_k, n_{k+1}). (Pass transposes for the column "W x" layout.) Biases do not
change the Lipschitz constant; they only move the sampled lower bound's activation regions.

LipSDP-Neuron. Write W̃_k = W_kᵀ (column layout). ReLU is slope-restricted in [α, β] = [0, 1], so
for every hidden neuron and any two inputs, (Δφ − αΔz)(βΔz − Δφ) ≥ 0, i.e. Δφ·Δz − Δφ² ≥ 0.
Stacking hidden pre-activations, with T = diag(t), t ≥ 0, N = Σ hidden widths, and
    A = [blkdiag(W̃_0, …, W̃_{L−1})  0_{N×n_L}],   B = [0_{N×n_0}  I_N],
if there is ρ ≥ 0 with
    M(ρ, T) = [A; B]ᵀ [[−2αβ T, (α+β) T], [(α+β) T, −2T]] [A; B] + blkdiag(−ρ I_{n_0}, 0, …, W̃_Lᵀ W̃_L) ⪯ 0,
then ‖f(x) − f(y)‖ ≤ √ρ ‖x − y‖ (Fazlyab et al., Thm 2; diagonal T is their "LipSDP-Neuron"). We
minimise ρ. Because a solver's (ρ, t) satisfies the LMI only to its tolerance, we do not report the
solver's √ρ as the bound: we keep its t (clipped at 0) and find the smallest ρ for which
λ_max(M(ρ, t)) ≤ 0 by bisection on numpy eigenvalues — that ρ is certified up to eigenvalue accuracy.

One hidden layer at scale ("eigen" method). With weights [W_0, W_1] (one hidden layer of width n_1),
G = W̃_1ᵀW̃_1 and T = diag(t), M(ρ, T) = [[−ρ I, W̃_0ᵀT], [T W̃_0, G − 2T]]. By the Schur complement
on the second block, M ⪯ 0 with 2T − G ≻ 0 holds iff ρ ≥ ρ(t) := λ_max(W̃_0ᵀ T (2T − G)⁻¹ T W̃_0)
(an n_0 × n_0 eigenvalue problem). The LMI's feasible set is convex in (ρ, t), so ρ(t) is a convex
function of t on {2T ≻ G}; with q its top eigenvector, p = W̃_0 q, a = t∘p and k = (2T − G)⁻¹a,
∂ρ/∂t_j = 2 p_j k_j − 2 k_j² (from d(K⁻¹) = −K⁻¹ dK K⁻¹). We minimise ρ(t) over t = exp(θ) by
L-BFGS from the best multiple of the identity, then certify the final t like the SDP's: the
smallest ρ with λ_max(M(ρ, t)) ≤ 0 on the full matrix (`_certify_rho`). Any feasible t gives a valid
bound, so the optimiser needs no convergence proof; it only decides how tight the bound is. A
Clarabel SDP at n_1 = 200 ran out of memory and SCS took 216 s on this machine (issue 20).

Lower bound: at any x where f is differentiable, ‖J_f(x)‖₂ ≤ Lip(f), with
J_f(x) = W̃_L D_L W̃_{L−1} ⋯ D_1 W̃_0 and D_k = diag(1[z_k > 0]); we take the max over seeded samples.

Scaling (why `lipschitz_bounds` solves the SDP on normalised weights). ReLU is positively
homogeneous, relu(c z) = c relu(z) for c > 0, so with W_k = s_k W̃_k (s_k > 0) and no biases
f = (Π_k s_k) f̃ and Lip(f) = (Π_k s_k) Lip(f̃); biases move activation regions but not the
Lipschitz constant, which is a sup over all regions either way. We pick s_k powers of two
(`_scaling`), certify √ρ̃ for the weights W̃_k with entries of order one and report (Π_k s_k) √ρ̃:
rigorous for f. On raw weights Clarabel said "infeasible" at scale 1e6 and failed at 1e12, and at
1e-12 the fixed margin LMI_MARGIN dominated ρ (a bound 9000× the true constant). If any W_k is zero,
f is constant and its Lipschitz constant is exactly 0 (no SDP is solved); the SDP would otherwise
return a positive margin-sized bound above the (zero) product of norms.

Shape glossary: n_0 input width, n_1..n_L hidden widths, n_{L+1} output width, N total hidden,
S samples.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Mapping, Sequence

import cvxpy as cp
import numpy as np

from theory_kit.errors import InvalidInput, SolverFailed
from theory_kit.landscape._scaling import power_of_two_scale
from theory_kit.landscape._validate import Problems, check_int, check_seed, check_solver
from theory_kit.landscape.results import LipschitzResult
from theory_kit.landscape.solving import DEFAULT_SOLVER, solve

__all__ = [
    "build_lipsdp_problem",
    "lipsdp_matrix",
    "lipschitz_bounds",
    "mlp_lipschitz",
    "MlpBlockLipschitz",
    "compiled_mlp_lipschitz",
    "naive_lipschitz_bound",
    "sampled_lipschitz_lower_bound",
]

# Margin asked of the solver: M ⪯ −margin·scale·I, so its answer is strictly feasible and the
# eigenvalue certification below usually needs no increase of ρ.
LMI_MARGIN = 1e-7
_BISECTION_STEPS = 200


def _validate_layers(problems: Problems, weights, biases):
    """Return lists of float arrays (or None) after checking layouts agree layer to layer."""
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence) or len(weights) < 2:
        problems.add("weights must be a sequence of at least 2 matrices (input->hidden, ..., hidden->output), "
                     f"got {type(weights).__name__}")
        return None, None
    mats = []
    for k, W in enumerate(weights):
        try:
            a = np.asarray(W, dtype=float)
        except (TypeError, ValueError):
            problems.add(f"weights[{k}] must be a numeric matrix")
            return None, None
        if a.ndim != 2 or 0 in a.shape:
            problems.add(f"weights[{k}] must be a non-empty 2-D matrix, got shape {a.shape}")
            return None, None
        if not np.all(np.isfinite(a)):
            problems.add(f"weights[{k}] must be finite, found {a[~np.isfinite(a)][0]!r}")
        mats.append(a)
    for k in range(len(mats) - 1):
        if mats[k].shape[1] != mats[k + 1].shape[0]:
            problems.add(f"weights[{k}] has {mats[k].shape[1]} outputs but weights[{k + 1}] expects "
                         f"{mats[k + 1].shape[0]} inputs (layout is x @ W, W of shape (in, out))")
    vecs = None
    if biases is not None:
        if isinstance(biases, np.ndarray) or not isinstance(biases, Sequence) or len(biases) != len(mats):
            problems.add(f"biases must be None or a sequence of {len(mats)} vectors, one per weight matrix")
        else:
            vecs = []
            for k, (b, W) in enumerate(zip(biases, mats)):
                v = np.asarray(b, dtype=float)
                if v.shape != (W.shape[1],):
                    problems.add(f"biases[{k}] must have shape ({W.shape[1]},), got {v.shape}")
                elif not np.all(np.isfinite(v)):
                    problems.add(f"biases[{k}] must be finite")
                vecs.append(v)
    return mats, vecs


def lipsdp_matrix(weights: Sequence[np.ndarray], rho, t) -> np.ndarray | cp.Expression:
    """M(ρ, T) of LipSDP-Neuron (ReLU: α = 0, β = 1) for row-layout weights; numpy or cvxpy.

    Args:
        weights: [W_0, …, W_L] with W_k (n_k, n_{k+1}); rho: scalar; t: (N,) multipliers.

    Returns:
        The symmetric (n_0 + N) square matrix (numpy when rho, t are numbers, cvxpy otherwise).
    """
    cols = [np.asarray(W, dtype=float).T for W in weights]  # column layout W̃_k (n_{k+1}, n_k)
    n0 = cols[0].shape[1]
    hidden = [W.shape[0] for W in cols[:-1]]
    total = sum(hidden)
    size = n0 + total
    A = np.zeros((total, size))
    row, col = 0, 0
    for W in cols[:-1]:
        A[row: row + W.shape[0], col: col + W.shape[1]] = W
        row += W.shape[0]
        col += W.shape[1]
    B = np.hstack([np.zeros((total, n0)), np.eye(total)])
    last = cols[-1]
    Q_out = np.zeros((size, size))
    Q_out[size - last.shape[1]:, size - last.shape[1]:] = last.T @ last
    E0 = np.zeros((size, size))
    E0[:n0, :n0] = np.eye(n0)
    numeric = not isinstance(rho, cp.Expression) and not isinstance(t, cp.Expression)
    if numeric:
        T = np.diag(np.asarray(t, dtype=float))
        cross = A.T @ T @ B
        return cross + cross.T - 2.0 * B.T @ T @ B - float(rho) * E0 + Q_out
    T = cp.diag(t)
    cross = A.T @ T @ B
    return cross + cross.T - 2.0 * (B.T @ T @ B) - rho * E0 + Q_out


def build_lipsdp_problem(weights: Sequence[np.ndarray]) -> cp.Problem:
    """LipSDP-Neuron SDP (built, not solved): minimise ρ s.t. M(ρ, diag t) ⪯ −margin·I, t ≥ 0.

    Variables "rho" (scalar) and "t" (N,). The margin LMI_MARGIN·(1 + ‖W_L‖²) makes the solver's
    answer strictly feasible; the certified bound is recomputed by `lipschitz_bounds`.

    Raises:
        InvalidInput: weights not a chain of ≥ 2 finite matrices with matching shapes.
    """
    problems = Problems("build_lipsdp_problem")
    mats, _ = _validate_layers(problems, weights, None)
    problems.raise_if_any()
    total = sum(W.shape[1] for W in mats[:-1])
    rho = cp.Variable(name="rho", nonneg=True)
    t = cp.Variable(total, name="t", nonneg=True)
    M = lipsdp_matrix(mats, rho, t)
    size = M.shape[0]
    margin = LMI_MARGIN * (1.0 + np.linalg.norm(mats[-1], 2) ** 2)
    symmetric = (M + M.T) / 2  # M is symmetric by construction; this makes it explicit to cvxpy
    return cp.Problem(cp.Minimize(rho), [-symmetric - margin * np.eye(size) >> 0])


def naive_lipschitz_bound(weights: Sequence[np.ndarray]) -> float:
    """Π_k ‖W_k‖₂ (valid since ReLU is 1-Lipschitz).

    Raises:
        InvalidInput: bad weights.
    """
    problems = Problems("naive_lipschitz_bound")
    mats, _ = _validate_layers(problems, weights, None)
    problems.raise_if_any()
    return float(np.prod([np.linalg.norm(W, 2) for W in mats]))


def sampled_lipschitz_lower_bound(weights, biases=None, *, n_samples: int = 4096, seed: int = 0) -> float:
    """max over seeded inputs x of ‖J_f(x)‖₂ (a valid lower bound on the Lipschitz constant).

    Inputs are drawn as x = r·z with z ~ N(0, I) and r cycling over three scales (0.1, 1, 10)
    times a scale at which the first pre-activations' biases matter, to visit many regions.

    Raises:
        InvalidInput: bad weights/biases, n_samples < 1, bad seed.
    """
    problems = Problems("sampled_lipschitz_lower_bound")
    mats, vecs = _validate_layers(problems, weights, biases)
    n_samples = check_int(problems, "n_samples", n_samples)
    seed = check_seed(problems, seed)
    problems.raise_if_any()
    if vecs is None:
        vecs = [np.zeros(W.shape[1]) for W in mats]
    rng = np.random.default_rng(seed)
    n0 = mats[0].shape[0]
    base = 1.0 + float(np.max(np.abs(vecs[0]))) / max(float(np.linalg.norm(mats[0], 2)), np.finfo(float).tiny)
    scales = base * np.array([0.1, 1.0, 10.0])[np.arange(n_samples) % 3]
    x = rng.standard_normal((n_samples, n0)) * scales[:, None]
    # Jacobians in row layout: J(x) = W_0 D_1 W_1 ⋯ D_L W_L (n_0, n_{L+1}); same singular values.
    J = np.broadcast_to(np.eye(n0), (n_samples, n0, n0))
    h = x
    for W, b in zip(mats[:-1], vecs[:-1]):
        z = h @ W + b
        active = (z > 0).astype(float)
        J = (J @ W) * active[:, None, :]
        h = np.maximum(z, 0.0)
    J = J @ mats[-1]
    return float(np.max(np.linalg.norm(J, ord=2, axis=(1, 2))))


def _max_eig(weights, rho, t) -> float:
    return float(np.linalg.eigvalsh(lipsdp_matrix(weights, rho, t))[-1])


def _certify_rho(weights, rho0: float, t: np.ndarray) -> float:
    """Smallest ρ (to bisection precision) with λ_max(M(ρ, t)) ≤ 0; raises if none exists."""
    hi = max(rho0, np.finfo(float).tiny)
    for _ in range(200):
        if _max_eig(weights, hi, t) <= 0.0:
            break
        hi *= 2.0
    else:
        raise SolverFailed("LipSDP: the solver's multipliers t admit no certifying rho "
                           "(matrix inequality infeasible for every rho)", status="uncertified", solver=None)
    lo = 0.0
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if _max_eig(weights, mid, t) <= 0.0:
            hi = mid
        else:
            lo = mid
        if hi - lo <= 1e-14 * hi:
            break
    return hi


# Hidden width above which method="auto" uses the eigenvalue method for one hidden layer.
EIGEN_METHOD_MIN_WIDTH = 32
_EIGEN_MAX_ITER = 500


def _eigen_rho(W0c: np.ndarray, G: np.ndarray, t: np.ndarray, smoothing: float = 0.0) -> tuple[float, np.ndarray]:
    """ρ(t) (module docstring, "One hidden layer") and its gradient in t; (inf, 0) outside the domain.

    With smoothing μ > 0 the top eigenvalue is replaced by μ log Σ_i exp(λ_i/μ) ≥ λ_max (smooth; its
    gradient is the softmax-weighted sum of the eigenvalue gradients), for the optimiser only.
    """
    K = 2.0 * np.diag(t) - G
    try:
        L = np.linalg.cholesky(K)
    except np.linalg.LinAlgError:
        return math.inf, np.zeros_like(t)
    Y = np.linalg.solve(L, t[:, None] * W0c)  # L⁻¹ T W̃_0, (n_1, n_0)
    evals, evecs = np.linalg.eigh(Y.T @ Y)
    if smoothing > 0:
        weights = np.exp((evals - evals[-1]) / smoothing)
        value = float(evals[-1] + smoothing * math.log(float(weights.sum())))
        weights /= weights.sum()
    else:
        weights = np.zeros_like(evals)
        weights[-1] = 1.0
        value = float(evals[-1])
    P = W0c @ evecs[:, weights > 1e-12]  # (n_1, k): p_i = W̃_0 q_i
    Kinv_TP = np.linalg.solve(L.T, np.linalg.solve(L, t[:, None] * P))
    grad = (2.0 * P * Kinv_TP - 2.0 * Kinv_TP * Kinv_TP) @ weights[weights > 1e-12]
    return value, grad


def _eigen_multipliers(W0c: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Multipliers t minimising ρ(t): best τ·1, then L-BFGS in log t on a smoothed ρ (continuation)."""
    from scipy.optimize import minimize, minimize_scalar

    floor = max(0.5 * float(np.linalg.eigvalsh(G)[-1]), np.finfo(float).tiny)

    def along_identity(log_excess):
        return _eigen_rho(W0c, G, np.full(G.shape[0], floor * (1.0 + math.exp(log_excess))))[0]

    best = minimize_scalar(along_identity, bounds=(-20.0, 10.0), method="bounded")
    t = np.full(G.shape[0], floor * (1.0 + math.exp(best.x)))
    rho = _eigen_rho(W0c, G, t)[0]
    for relative in (1e-1, 1e-2, 1e-3, 1e-4, 1e-6):
        smoothing = relative * rho

        def objective(theta, smoothing=smoothing):
            value, grad = _eigen_rho(W0c, G, np.exp(theta), smoothing)
            if not math.isfinite(value):
                return 1e300, np.zeros_like(theta)
            return value, grad * np.exp(theta)

        result = minimize(objective, np.log(t), jac=True, method="L-BFGS-B",
                          options={"maxiter": _EIGEN_MAX_ITER, "gtol": 1e-14, "ftol": 1e-15})
        candidate = np.exp(result.x)
        value = _eigen_rho(W0c, G, candidate)[0]
        if math.isfinite(value) and value < rho:
            t, rho = candidate, value
    return t


def lipschitz_bounds(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray] | None = None, *,
                     solver: str = DEFAULT_SOLVER, n_samples: int = 4096, seed: int = 0,
                     solver_options: Mapping[str, object] | None = None,
                     method: str = "auto") -> LipschitzResult:
    """Sampled lower bound ≤ Lipschitz constant ≤ LipSDP-Neuron bound ≤ product of spectral norms.

    Args:
        weights: [W_0, …, W_L] numpy matrices in x @ W layout (W_k of shape (n_k, n_{k+1})),
            at least one hidden layer.
        biases: optional [b_0, …, b_L] (b_k of shape (n_{k+1},)); used by the sampled bound only.
        solver: cvxpy solver with SDP support ("CLARABEL", "SCS").
        n_samples: inputs sampled for the lower bound; seed: their rng seed.
        solver_options: extra options for cvxpy's solve.
        method: "sdp" (cvxpy SDP, any depth), "eigen" (one hidden layer only: the Schur-complement
            eigenvalue method of the module docstring, no SDP solver; `solver` is then reported as
            "eigen-lbfgs") or "auto" (eigen for one hidden layer wider than
            EIGEN_METHOD_MIN_WIDTH, else sdp).

    Returns:
        LipschitzResult with upper_bound (eigenvalue-certified LipSDP), sdp_value, naive_bound,
        sampled_lower_bound. The SDP is solved for power-of-two normalised weights and scaled
        back (module docstring, "Scaling"); a network with a zero weight matrix is constant and
        gets upper_bound = 0 without an SDP solve.

    Raises:
        InvalidInput: bad weights/biases/solver/n_samples/seed (all listed, before solving);
            weights whose scales multiply to a number outside the float64 range.
        SolverFailed: non-optimal SDP solve, or its multipliers cannot be certified.
    """
    problems = Problems("lipschitz_bounds")
    mats, vecs = _validate_layers(problems, weights, biases)
    solver = check_solver(problems, solver)
    n_samples = check_int(problems, "n_samples", n_samples)
    seed = check_seed(problems, seed)
    if solver_options is not None and not isinstance(solver_options, Mapping):
        problems.add(f"solver_options must be a mapping or None, got {solver_options!r}")
    if method not in ("auto", "sdp", "eigen"):
        problems.add(f"method must be 'auto', 'sdp' or 'eigen', got {method!r}")
    elif method == "eigen" and mats is not None and len(mats) != 2:
        problems.add(f"method='eigen' needs exactly one hidden layer (2 weight matrices), got {len(mats)}")
    problems.raise_if_any()
    if method == "auto":
        method = "eigen" if len(mats) == 2 and mats[0].shape[1] > EIGEN_METHOD_MIN_WIDTH else "sdp"
    scales = [power_of_two_scale(W) for W in mats]
    # Π s_k in log2 (each s_k is a power of two), to reject an unrepresentable product up front
    factor_log2 = sum(math.frexp(scale)[1] - 1 for scale in scales)
    if abs(factor_log2) > 1000:
        problems.add(f"weights are outside the float64 range: the product of their scales is 2**{factor_log2}")
    problems.raise_if_any()
    sizes = (mats[0].shape[0],) + tuple(W.shape[1] for W in mats)
    lower = sampled_lipschitz_lower_bound(mats, vecs, n_samples=n_samples, seed=seed)
    if any(not np.any(W) for W in mats):  # f is constant: Lipschitz constant exactly 0 (docstring)
        start = time.perf_counter()
        return LipschitzResult(upper_bound=0.0, sdp_value=0.0, naive_bound=naive_lipschitz_bound(mats),
                               sampled_lower_bound=lower, status="optimal", solver=solver,
                               solve_seconds=time.perf_counter() - start, n_samples=n_samples, seed=seed,
                               layer_sizes=sizes)
    normalised = [W / scale for W, scale in zip(mats, scales)]  # f = (Π s_k) f̃ (docstring, "Scaling")
    factor = math.prod(scales)
    if method == "eigen":
        start = time.perf_counter()
        W0c, W1c = normalised[0].T, normalised[1].T
        t = _eigen_multipliers(W0c, W1c.T @ W1c)
        rho = _eigen_rho(W0c, W1c.T @ W1c, t)[0]
        rho_cert = _certify_rho(normalised, rho, t)  # full-matrix eigenvalue check
        return LipschitzResult(upper_bound=factor * float(np.sqrt(rho_cert)), sdp_value=factor * float(np.sqrt(rho)),
                               naive_bound=naive_lipschitz_bound(mats), sampled_lower_bound=lower,
                               status="optimal", solver="eigen-lbfgs", solve_seconds=time.perf_counter() - start,
                               n_samples=n_samples, seed=seed, layer_sizes=sizes)
    solution = solve(build_lipsdp_problem(normalised), solver=solver, solver_options=solver_options)
    rho = float(solution.variables["rho"])
    t = np.maximum(np.atleast_1d(solution.variables["t"]), 0.0)
    try:
        rho_cert = _certify_rho(normalised, rho, t)
    except SolverFailed as exc:
        raise SolverFailed(str(exc), status=exc.status, solver=solution.solver) from exc
    return LipschitzResult(upper_bound=factor * float(np.sqrt(rho_cert)),
                           sdp_value=factor * float(np.sqrt(max(rho, 0.0))),
                           naive_bound=naive_lipschitz_bound(mats), sampled_lower_bound=lower,
                           status=solution.status, solver=solution.solver, solve_seconds=solution.solve_seconds,
                           n_samples=n_samples, seed=seed, layer_sizes=sizes)


def mlp_lipschitz(W_in, b_in, W_out, b_out, **kwargs) -> LipschitzResult:
    """`lipschitz_bounds` for a one-hidden-layer MLP block: relu(x @ W_in + b_in) @ W_out + b_out.

    Args:
        W_in: (n_0, n_1); b_in: (n_1,); W_out: (n_1, n_2); b_out: (n_2,) — plain numpy arrays (e.g.
            a compiled model's MLP block); kwargs: passed to `lipschitz_bounds`.

    Raises:
        InvalidInput / SolverFailed: as `lipschitz_bounds`.
    """
    if b_in is None and b_out is None:
        return lipschitz_bounds([W_in, W_out], None, **kwargs)
    if b_in is None or b_out is None:
        raise InvalidInput("mlp_lipschitz: pass both b_in and b_out, or neither")
    return lipschitz_bounds([W_in, W_out], [b_in, b_out], **kwargs)


# Hidden widths up to this get the all-subsets pattern bound (2^M spectral norms).
SUBSET_BOUND_MAX_HIDDEN = 12


@dataclass(frozen=True)
class MlpBlockLipschitz:
    """Lipschitz bounds of one compiled MLP block relu(x W_in + b_in) W_out + b_out.

    Attributes:
        layer: index of the layer in `weights.layers`.
        bounds: LipschitzResult (sampled lower bound ≤ LipSDP ≤ product of norms).
        subset_bound: max over every subset D of hidden units of ‖W_in[:, D] W_out[D, :]‖₂ — an
            upper bound on the exact constant (every activation pattern is a subset), nan when
            the block is wider than SUBSET_BOUND_MAX_HIDDEN. The exact constant lies in
            [bounds.sampled_lower_bound, min(bounds.upper_bound, subset_bound)].
    """

    layer: int
    bounds: LipschitzResult
    subset_bound: float

    @property
    def exact_interval(self) -> tuple[float, float]:
        """(lower, upper) enclosing the exact Lipschitz constant."""
        upper = self.bounds.upper_bound
        if math.isfinite(self.subset_bound):
            upper = min(upper, self.subset_bound)
        return self.bounds.sampled_lower_bound, upper


def _subset_bound(W_in: np.ndarray, W_out: np.ndarray) -> float:
    m = W_in.shape[1]
    if m > SUBSET_BOUND_MAX_HIDDEN:
        return math.nan
    best = 0.0
    for bits in range(1, 2 ** m):
        keep = ((bits >> np.arange(m)) & 1).astype(bool)
        best = max(best, float(np.linalg.norm(W_in[:, keep] @ W_out[keep], 2)))
    return best


def compiled_mlp_lipschitz(weights, **kwargs) -> tuple[MlpBlockLipschitz, ...]:
    """`mlp_lipschitz` for every non-empty MLP block of a compiled model's weights.

    Args:
        weights: a `theory_kit.model.Weights` (or anything with `.layers`, each with W_in, b_in,
            W_out, b_out arrays); a compiled model's `.weights`.
        kwargs: passed to `lipschitz_bounds` (e.g. n_samples, seed, method).

    Returns:
        One MlpBlockLipschitz per layer whose MLP has hidden units and non-zero weights.

    Raises:
        InvalidInput: `weights` has no `.layers`. InvalidInput / SolverFailed: as `lipschitz_bounds`.
    """
    layers = getattr(weights, "layers", None)
    if layers is None:
        raise InvalidInput(f"compiled_mlp_lipschitz: expected model weights with .layers, got {type(weights).__name__}")
    out = []
    for index, layer in enumerate(layers):
        W_in, W_out = np.asarray(layer.W_in, dtype=float), np.asarray(layer.W_out, dtype=float)
        if W_in.shape[1] == 0 or not np.any(W_in) or not np.any(W_out):
            continue
        bounds = mlp_lipschitz(W_in, np.asarray(layer.b_in, dtype=float), W_out,
                               np.asarray(layer.b_out, dtype=float), **kwargs)
        out.append(MlpBlockLipschitz(layer=index, bounds=bounds, subset_bound=_subset_bound(W_in, W_out)))
    return tuple(out)
