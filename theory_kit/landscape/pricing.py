"""Exact pricing of the two-layer ReLU dual constraint: c(λ) = max_{‖u‖≤1} |λᵀ relu(X u)|.

Why it matters. `relu.two_layer_relu` certifies its optimum by checking c(λ) ≤ β for the residual
λ = y − ŷ (weak duality, `relu` module docstring). Enumerating every activation pattern is only
possible in rank 2 or for tiny N; here c(λ) is bounded *exactly* by a spatial branch and bound
over the sphere or by a branch and bound on the rows' signs, which makes column generation over
patterns certifiable in any (small) dimension.

Box branch and bound (method="box"; one sign; the other is the same with v = −λ),
f(u) = vᵀ relu(X u), u in the row space of X (dimension R). Every u ≠ 0 is t·p/‖p‖ with t = ‖u‖ and p on a face of
the cube [−1, 1]^R: p_k = s (s = ±1), p_j ∈ [−1, 1] (j ≠ k). A region is a box of such a face, i.e.
the polyhedral cone {u : s u_k ≥ 0, lo_j s u_k ≤ u_j ≤ hi_j s u_k}. On a box, x_iᵀp ranges over an
interval [l_i, h_i] computed exactly (centre ± Σ_j |x_ij| half-width_j). Rows with l_i > 0 are
active and linear, rows with h_i ≤ 0 contribute 0, and a *cut* row (l_i ≤ 0 < h_i) is bounded by a
line: for v_i > 0 by the concave envelope h_i (t − l_i)/(h_i − l_i) of relu on [l_i, h_i], for
v_i < 0 by relu(t) ≥ θ t with θ = h_i/(h_i − l_i) ∈ [0, 1]. The resulting affine upper bound L(p) of f(p)
is maximised over the box exactly, and f(t p/‖p‖) = t f(p)/‖p‖ ≤ max(0, max L)/min_box ‖p‖.
  * a box whose bound is ≤ the target is pruned (its bound is kept: the final bound is the max);
  * a box with at most `max_enum` cut rows is solved exactly: for every sign choice σ of the cut
    rows, max {aᵀu : ‖u‖ ≤ 1, σ_i x_iᵀu ≥ 0 (i cut), u in the region cone} = min_{μ≥0} ‖a + Bᵀμ‖
    (SOCP strong duality; a = Xᵀ D v with D the active rows plus the σ = + cut rows, B the cut
    rows and the region's rows), computed by NNLS. Any μ ≥ 0 gives a valid upper bound (weak
    duality), and the maximiser w = (a + Bᵀμ)/‖a + Bᵀμ‖ gives the exact lower value f(w). Before
    the NNLS, the sign choice is bounded by the box's affine bound with the cut rows fixed to σ
    (every row is then linear on that part of the box) and skipped when that is ≤ the target;
  * every other box is halved along its widest side.
When the boxes are exhausted, the bound is max(pruned bounds, exact region maxima) ≥ max f. At a
node budget the remaining boxes' bounds enter the max, so the bound stays valid (only looser).
The target is max(threshold, (1 + rtol)·best value found), so the bound is within rtol of c(λ) or
below the threshold (certified: no violating pattern).

Sign branch and bound (method="sign"; one sign, v = ±λ). A node fixes the signs of some rows
(σ_i = 1: x_iᵀu ≥ 0, σ_i = 0: x_iᵀu ≤ 0); its region is the cone {B u ≥ 0} (B the fixed rows, signed)
intersected with the ball. Fixed rows are linear (active) or zero. A free row with v_i < 0 is
concave (v_i relu): v_i relu(t) ≤ v_i θ_i t for every θ_i ∈ [0, 1], and by Sion's minimax theorem
min over θ of the resulting bound is the exact maximum of those rows. A free row with v_i > 0 is
replaced by the concave envelope of relu on an outer interval [l_i, h_i] of x_iᵀu over the region
(NNLS: h_i = min_{μ≥0} ‖x_i + Bᵀμ‖, l_i = −min_{μ≥0} ‖−x_i + Bᵀμ‖, inherited from the parent and
tightened per node); rows with h_i ≤ 0 (l_i ≥ 0) are zero (linear). The node bound is
  const + min_{θ ∈ [0,1], μ ≥ 0} ‖a + Σ_{v_i<0 free} θ_i v_i x_i + Bᵀμ‖
(a, const from the linear rows and the envelopes), computed by one NNLS with θ + φ = 1 as penalty
rows (`_theta_bound`), θ clipped and μ re-solved: any feasible (θ, μ) is a valid bound (weak
duality), so the solver's accuracy only affects tightness. Its maximiser w = g/‖g‖ gives the exact
value f(w). Only rows with v_i > 0 whose interval straddles 0 are branched (the one whose envelope
is loosest at w, w's side first, depth first); a node without such rows is a leaf whose bound is
the exact maximum of f over it. Nodes with bound ≤ target are pruned; the final bound is the max
of the pruned and leaf bounds (at a node budget, also of the open nodes' parent bounds).
Measured (benchmarks/README.md, issue 20 third pass): it certifies D = 10, N = 50, where the box
branch and bound's bound stayed at 3.9·β after 2M boxes.

Measured on this machine (issue 20): a big-M MILP for the same maximum (one binary per sample,
the ball replaced by tangent cuts, scipy/HiGHS) still had a bound of 6.8·β after 60 s at D = 5,
N = 100, and its cut refinement did not reach 1e-6 at N = 10 in 60 rounds, so it is not used.

Lower side. Every evaluated unit direction w gives f(w) ≤ c exactly: the best such value and its
direction are returned; directions with |λᵀ relu(X w)| > threshold are violating patterns for
column generation. A cheap ascent (u ← normalise(Xᵀ D(u) v), the maximiser of the current
pattern's linearisation, iterated to a fixed pattern) from seeded random and caller-given starts,
followed by a greedy local search over the arrangement's cells (from a cell's exact maximiser, move
to the best neighbouring cell across a facet whose constraint binds there), finds most violators
before the branch and bound runs.

Tolerances (honest statement): box intervals, envelopes and NNLS residual norms are evaluated in
floating point on O(1) data (`relu` normalises by powers of two), so the bound is exact up to
rounding (~1e-15 relative per operation), not up to a solver tolerance.

Shape glossary: N samples, D input dimension, R rank of X, K candidate directions, m open boxes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear, nnls

from theory_kit.errors import InvalidInput
from theory_kit.landscape._validate import Problems, check_int, check_matrix, check_positive, check_seed, check_vector
from theory_kit.landscape.patterns import _row_space

__all__ = ["PricingResult", "price_relu_dual", "relu_objective_direction"]

# Default relative tolerance: the bound is accepted when within this fraction of the best exact value.
PRICING_RTOL = 1e-8
# Seeded random starts of the ascent heuristic.
DEFAULT_N_STARTS = 200
# Branch-and-bound budget (boxes examined per sign) and largest cut-row count solved by enumeration.
DEFAULT_MAX_NODES = 2_000_000
DEFAULT_MAX_ENUM = 4
# method="auto" uses the sign branch and bound from this rank of X on: it won at D = 5 and 6
# (benchmarks/README.md, issue 20 third pass); the box branch and bound is kept for rank ≤ 4.
SIGN_BB_MIN_RANK = 5
# At most this many violating region maximisers are kept per sign (column generation adds them).
_MAX_COLLECTED = 200


@dataclass(frozen=True)
class PricingResult:
    """Exact pricing of max_{‖u‖≤1} |λᵀ relu(X u)| (both signs).

    Attributes:
        upper_bound: rigorous upper bound on c(λ) (branch and bound, module docstring).
        best_value: f(w) at the best unit direction found: a lower bound on c(λ) (exact).
        best_gate: that unit direction w (D,).
        violating_gates: (D, K) unit directions with |λᵀ relu(X w)| > threshold, best first.
        threshold: the β the violations were measured against (nan when none was given).
        gap: relative gap (upper_bound − best_value)/upper_bound at the end (≤ rtol when closed).
        nodes: boxes or sign nodes examined (both signs).
        time_limited: True when the branch and bound stopped at its node budget (the bound is
            still valid, only looser).
        method: "box-branch-and-bound" or "sign-branch-and-bound" (module docstring), or
            "heuristic" (no exact bound: upper_bound is then the trivial triangle bound Σ|λ_i|‖x_i‖).
        seconds: wall-clock time.
    """

    upper_bound: float
    best_value: float
    best_gate: np.ndarray
    violating_gates: np.ndarray
    threshold: float
    gap: float
    nodes: int
    time_limited: bool
    method: str
    seconds: float

    def __post_init__(self):
        for name in ("best_gate", "violating_gates"):
            a = np.array(getattr(self, name), dtype=float, copy=True)
            a.setflags(write=False)
            object.__setattr__(self, name, a)
        if not (math.isfinite(self.upper_bound) and math.isfinite(self.best_value)):
            raise InvalidInput(f"PricingResult: non-finite bounds {self.upper_bound!r}, {self.best_value!r}")

    @property
    def certified_feasible(self) -> bool:
        """True when the upper bound proves c(λ) ≤ threshold (no violating pattern exists)."""
        return self.upper_bound <= self.threshold


def relu_objective_direction(X: np.ndarray, v: np.ndarray, U: np.ndarray) -> np.ndarray:
    """f(u) = vᵀ relu(X u) for each column of U (D, K) — exact, no validation (hot path)."""
    return v @ np.maximum(X @ U, 0.0)


def _ascent(Xr: np.ndarray, v: np.ndarray, starts: np.ndarray, steps: int = 30) -> np.ndarray:
    """Fixed-pattern ascent from each start: u ← normalise(Xᵀ D(u) v); returns unit columns (R, K)."""
    U = starts / np.maximum(np.linalg.norm(starts, axis=0), 1e-300)
    for _ in range(steps):
        masks = (Xr @ U) > 0
        G = Xr.T @ (masks * v[:, None])
        norms = np.linalg.norm(G, axis=0)
        new = np.where(norms > 0, G / np.maximum(norms, 1e-300), U)
        if np.array_equal((Xr @ new) > 0, masks):
            return new
        U = new
    return U


def _local_search(Xr: np.ndarray, v: np.ndarray, U: np.ndarray, max_steps: int = 60) -> np.ndarray:
    """Greedy ascent over the arrangement's cells from each column of U (R, K); returns unit columns.

    From the exact maximiser w of the current cell (NNLS, `_pattern_max`), the rows whose cone
    constraint binds (x_iᵀw = 0, multiplier μ_i > 0) are the facets the maximum presses against;
    the neighbouring cell across such a facet contains w too, so its maximum is at least f(w). Move
    to the best neighbour while it improves. Each returned direction's value f(w) is exact.
    """
    out = []
    for k in range(U.shape[1]):
        mask = ((Xr @ U[:, k]) > 0).astype(float)
        value, w, mu = _pattern_max(Xr, v, mask)
        for _ in range(max_steps):
            best = (value, None)
            for i in np.flatnonzero(mu > 0):
                flipped = mask.copy()
                flipped[i] = 1.0 - flipped[i]
                cand_value, cand_w, cand_mu = _pattern_max(Xr, v, flipped)
                if cand_value > best[0] * (1.0 + 1e-12):
                    best = (cand_value, (flipped, cand_w, cand_mu))
            if best[1] is None:
                break
            value, (mask, w, mu) = best[0], best[1]
        if value > 0:
            out.append(w)
    return np.array(out).T if out else np.zeros((Xr.shape[1], 0))


def _pattern_max(Xr: np.ndarray, v: np.ndarray, mask: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(min_{μ≥0} ‖a + Bᵀμ‖, its unit direction, μ) for a = Xᵀ D v, B = diag(2D−1) X (module docstring)."""
    a = Xr.T @ (mask * v)
    B = (2.0 * mask - 1.0)[:, None] * Xr
    mu, _ = nnls(B.T, -a)
    g = a + B.T @ mu
    norm = float(np.linalg.norm(g))
    if norm == 0.0:
        return 0.0, np.zeros(Xr.shape[1]), mu
    return norm, g / norm, mu


def _region_rows(k: int, s: float, lo: np.ndarray, hi: np.ndarray, r: int) -> np.ndarray:
    """Rows A (A u ≥ 0) of the cone over the box face {p : p_k = s, p_j ∈ [lo_j, hi_j] (j ≠ k)}."""
    others = [j for j in range(r) if j != k]
    rows = [s * np.eye(r)[k]]
    for idx, j in enumerate(others):
        a = np.zeros(r)
        a[j], a[k] = 1.0, -lo[idx] * s
        b = np.zeros(r)
        b[j], b[k] = -1.0, hi[idx] * s
        rows += [a, b]
    return np.array(rows)


def _exact_region(Xr, v, k, s, lo, hi, cut, base_mask, target) -> list[tuple[float, np.ndarray | None]]:
    """max f over (region cone ∩ ball) per sign pattern σ of the cut rows: [(value, w or None)].

    With σ fixed every row is linear on its part of the box, so the box's affine bound with those
    rows (maximised over the whole face box, divided by min ‖p‖; module docstring) bounds that
    part; when it is ≤ target the part is pruned (value = that bound, w = None). Otherwise NNLS
    gives the exact maximum and its maximiser w.
    """
    r = Xr.shape[1]
    others = np.array([j for j in range(r) if j != k], dtype=int)
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    min_norm = math.sqrt(1.0 + float(np.sum(np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(lo ** 2, hi ** 2)))))
    bits = np.arange(2 ** cut.size)
    sigmas = ((bits[:, None] >> np.arange(cut.size)[None, :]) & 1).astype(float)  # (2^k, k)
    base = Xr.T @ (base_mask * v)
    a_all = base[None, :] + sigmas @ (v[cut, None] * Xr[cut])  # (2^k, R): a = Xᵀ D_σ v
    lin = a_all[:, k] * s + a_all[:, others] @ mid + np.abs(a_all[:, others]) @ half
    pre = np.maximum(lin, 0.0) / min_norm
    A = _region_rows(k, s, lo, hi, r)
    B = np.vstack([Xr[cut], A])
    out = []
    for idx in range(bits.size):
        if pre[idx] <= target:
            out.append((float(pre[idx]), None))
            continue
        B[:cut.size] = (2.0 * sigmas[idx] - 1.0)[:, None] * Xr[cut]
        a = a_all[idx]
        mu, _ = nnls(B.T, -a)
        g = a + B.T @ mu  # any μ ≥ 0 gives max ≤ ‖g‖ (weak duality); NNLS makes it tight
        value = float(np.linalg.norm(g))
        if value > 0:
            out.append((value, g / value))
    return out


def _branch_and_bound(Xr: np.ndarray, v: np.ndarray, target: float, *, max_nodes: int, max_enum: int,
                      stop_on_violation: bool):
    """Spatial branch and bound for max_{‖u‖≤1} vᵀ relu(X u) (one sign); see the module docstring.

    Returns (upper bound, best exact value, its unit direction or None, directions with f > target,
    nodes, complete).
    """
    n, r = Xr.shape
    K = np.repeat(np.arange(r), 2)
    S = np.tile([1.0, -1.0], r)
    LO = -np.ones((2 * r, r - 1))
    HI = np.ones((2 * r, r - 1))
    others = np.array([[j for j in range(r) if j != k] for k in range(r)], dtype=int).reshape(r, r - 1)
    upper, best, best_dir, nodes = 0.0, 0.0, None, 0
    above: list[np.ndarray] = []  # exact region maximisers with f > target (violators)
    while K.size:
        m = K.size
        nodes += m
        mid, half = (LO + HI) / 2, (HI - LO) / 2
        oth = others[K]
        Xo = Xr.T[oth]  # (m, r−1, n)
        center = S[:, None] * Xr[:, K].T + np.einsum("mj,mjn->mn", mid, Xo)
        radius = np.einsum("mj,mjn->mn", half, np.abs(Xo))
        lo_i, hi_i = center - radius, center + radius  # exact range of x_iᵀp over the box face
        pos = lo_i > 0
        cut = (lo_i <= 0) & (hi_i > 0)
        # uncut rows: linear (active) or zero; a cut row is bounded by a line: v_i > 0 by the concave
        # envelope hi (t − lo)/(hi − lo) of relu on [lo, hi]; v_i < 0 by relu(t) ≥ θ t, θ = hi/(hi − lo)
        slope = np.where(cut, hi_i / np.where(cut, hi_i - lo_i, 1.0), 0.0)
        coef = np.where(pos, v[None, :], 0.0) + np.where(cut, v[None, :] * slope, 0.0)
        const = np.sum(np.where(cut & (v[None, :] > 0), -v[None, :] * slope * lo_i, 0.0), axis=1)
        a = coef @ Xr
        lin = const + a[np.arange(m), K] * S + np.sum(np.take_along_axis(a, oth, axis=1) * mid
                                                     + np.abs(np.take_along_axis(a, oth, axis=1)) * half, axis=1)
        # f(t p/‖p‖) = t f(p)/‖p‖ ≤ max(0, max_box f)/min_box ‖p‖ for t ≤ 1
        min_sq = 1.0 + np.sum(np.where((LO <= 0) & (HI >= 0), 0.0, np.minimum(LO ** 2, HI ** 2)), axis=1)
        bound = np.maximum(lin, 0.0) / np.sqrt(min_sq)
        prune = bound <= target
        if prune.any():
            upper = max(upper, float(np.max(bound[prune])))
        n_cut = cut.sum(axis=1)
        enum = ~prune & (n_cut <= max_enum)
        for idx in np.flatnonzero(enum):
            for value, w in _exact_region(Xr, v, K[idx], S[idx], LO[idx], HI[idx], np.flatnonzero(cut[idx]),
                                          pos[idx].astype(float), target):
                upper = max(upper, value)
                if w is None:
                    continue
                fw = float(v @ np.maximum(Xr @ w, 0.0))
                if fw > target and len(above) < _MAX_COLLECTED:
                    above.append(w)
                if fw > best:
                    best, best_dir = fw, w
        split = ~prune & ~enum
        K, S, LO, HI = K[split], S[split], LO[split], HI[split]
        open_bound = float(np.max(bound[split])) if split.any() else 0.0
        if (stop_on_violation and best > target) or (K.size and nodes + 2 * K.size > max_nodes):
            return max(upper, open_bound), best, best_dir, above, nodes, False
        if K.size:  # halve every open box along its widest side
            rows = np.arange(K.size)
            j = np.argmax(HI - LO, axis=1)
            cutpoint = (LO[rows, j] + HI[rows, j]) / 2
            HI1, LO2 = HI.copy(), LO.copy()
            HI1[rows, j] = cutpoint
            LO2[rows, j] = cutpoint
            K, S = np.concatenate([K, K]), np.concatenate([S, S])
            LO, HI = np.vstack([LO, LO2]), np.vstack([HI1, HI])
    return upper, best, best_dir, above, nodes, True


# ---------------------------------------------------------------------------------------------
# Branch and bound on the signs of the hyperplanes (method="sign")
# ---------------------------------------------------------------------------------------------

# Rows whose interval end is within this of 0 are treated as sign-determined (the slack enters the
# bound's constant, so the bound stays valid; it only keeps NNLS rounding from creating cut rows).
_SIGN_TOL = 1e-12
# Weight of the θ + φ = 1 penalty rows in `_theta_bound`, relative to the largest column of V.
_THETA_PENALTY = 1e4


def _theta_bound(a: np.ndarray, V: np.ndarray, B: np.ndarray) -> np.ndarray:
    """g = a + V θ + Bᵀμ with (θ ∈ [0, 1], μ ≥ 0) (near-)minimising ‖g‖; V (R, k), B (m, R).

    ‖a + Vθ + Bᵀμ‖ ≥ max {(a + Vθ)ᵀu : ‖u‖ ≤ 1, B u ≥ 0} for *any* feasible (θ, μ) (weak duality),
    so the returned ‖g‖ is a valid bound whatever the accuracy of the minimisation. The box θ ≤ 1 is
    written θ + φ = 1 (φ ≥ 0) and enforced by a penalty row of weight _THETA_PENALTY·max_i ‖V_i‖ in one
    NNLS over (θ, φ, μ) (4.5× faster per node than scipy's bounded-variable least squares, same
    node counts: benchmarks/README.md); θ is then clipped into [0, 1] and μ re-solved exactly.
    """
    k, m = V.shape[1], B.shape[0]
    if k:
        r = V.shape[0]
        weight = _THETA_PENALTY * max(float(np.max(np.linalg.norm(V, axis=0))), np.finfo(float).tiny)
        A = np.zeros((r + k, 2 * k + m))
        A[:r, :k], A[:r, 2 * k:] = V, B.T
        A[r:, :k] = A[r:, k:2 * k] = weight * np.eye(k)
        try:
            theta = nnls(A, np.concatenate([-a, np.full(k, weight)]), maxiter=50 * A.shape[1])[0][:k]
        except RuntimeError:  # NNLS iteration cap: the exact bounded solver instead
            lb, ub = np.zeros(k + m), np.concatenate([np.ones(k), np.full(m, np.inf)])
            theta = lsq_linear(np.hstack([V, B.T]), -a, bounds=(lb, ub), method="bvls").x[:k]
        a = a + V @ np.clip(theta, 0.0, 1.0)
    return a + B.T @ nnls(B.T, -a)[0] if m else a


def _sign_node(Xr, v, sig, lo, hi):
    """Bound f = vᵀ relu(X u) over the node {‖u‖ ≤ 1, rows with sig = 1 / 0 active / inactive}.

    Returns (bound, maximiser w or None, envelope slopes θ (N,), tightened lo, hi, cut mask).
    """
    fixed = sig >= 0
    B = (2.0 * sig[fixed] - 1.0)[:, None] * Xr[fixed]
    pos = ~fixed & (v > 0)
    neg = np.flatnonzero(~fixed & (v < 0))
    lo, hi = lo.copy(), hi.copy()
    if B.shape[0]:  # interval of x_iᵀu over cone ∩ ball, by NNLS (any μ ≥ 0 gives an outer interval)
        for i in np.flatnonzero(pos & (lo < -_SIGN_TOL) & (hi > _SIGN_TOL)):
            hi[i] = min(hi[i], nnls(B.T, -Xr[i])[1])
            if hi[i] > _SIGN_TOL:
                lo[i] = max(lo[i], -nnls(B.T, Xr[i])[1])
    never = pos & (hi <= _SIGN_TOL)
    always = pos & (lo >= -_SIGN_TOL) & ~never
    cut = pos & ~never & ~always
    theta = np.zeros(v.size)
    theta[always] = 1.0
    theta[cut] = hi[cut] / (hi[cut] - lo[cut])
    # relu(t) ≤ h on never rows, ≤ t − l on always rows, ≤ θ(t − l) on cut rows (lo ≤ 0 always)
    const = float(v[never] @ hi[never] - v[always] @ lo[always] - (v[cut] * theta[cut]) @ lo[cut])
    a = Xr.T @ (np.where(sig == 1, v, 0.0) + theta * np.where(pos, v, 0.0))
    g = _theta_bound(a, Xr[neg].T * v[neg], B)
    norm = float(np.linalg.norm(g))
    return norm + const, (g / norm if norm > 0 else None), theta, lo, hi, cut


def _sign_branch_and_bound(Xr: np.ndarray, v: np.ndarray, target: float, *, max_nodes: int,
                           stop_on_violation: bool):
    """Depth-first branch and bound on the signs of the rows with v_i > 0 (module docstring).

    Returns (upper bound, best exact value, its unit direction or None, directions with f > target,
    nodes, complete) like `_branch_and_bound`.
    """
    n, r = Xr.shape
    norms = np.linalg.norm(Xr, axis=1)
    stack = [(np.full(n, -1, dtype=np.int8), -norms, norms.copy(), math.inf)]
    upper, best, best_dir, nodes = 0.0, 0.0, None, 0
    above: list[np.ndarray] = []
    while stack:
        sig, lo, hi, parent_bound = stack.pop()
        nodes += 1
        bound, w, theta, lo, hi, cut = _sign_node(Xr, v, sig, lo, hi)
        bound = min(bound, parent_bound)  # the child's region lies in the parent's
        t = None
        if w is not None:
            t = Xr @ w
            fw = float(v @ np.maximum(t, 0.0))
            if fw > target and len(above) < _MAX_COLLECTED:
                above.append(w)
            if fw > best:
                best, best_dir = fw, w
        if bound <= target or not cut.any():
            upper = max(upper, bound)  # pruned, or a leaf: every free row is linear or concave there
            if stop_on_violation and best > target:
                return max([upper] + [s[3] for s in stack]), best, best_dir, above, nodes, False
            continue
        if (stop_on_violation and best > target) or nodes >= max_nodes:
            return max([upper, bound] + [s[3] for s in stack]), best, best_dir, above, nodes, False
        if t is None:  # maximiser 0: branch on the row with the largest envelope constant
            i = int(np.argmax(np.where(cut, -v * theta * lo, -1.0)))
            first = 1
        else:  # the cut row whose envelope is loosest at the maximiser; its side of w first
            i = int(np.argmax(np.where(cut, v * (theta * (t - lo) - np.maximum(t, 0.0)), -1.0)))
            first = 1 if t[i] > 0 else 0
        for s in (1 - first, first):
            child = sig.copy()
            child[i] = s
            stack.append((child, lo, hi, bound))
    return upper, best, best_dir, above, nodes, True


def price_relu_dual(X, lam, *, threshold: float | None = None, starts=None, seed: int = 0,
                    n_starts: int = DEFAULT_N_STARTS, rtol: float = PRICING_RTOL,
                    stop_on_violation: bool = False, heuristic_only: bool = False,
                    max_violators: int = 40, max_nodes: int = DEFAULT_MAX_NODES,
                    max_enum: int = DEFAULT_MAX_ENUM, method: str = "auto") -> PricingResult:
    """Upper-bound c(λ) = max_{‖u‖≤1} |λᵀ relu(X u)| exactly, and return violating directions.

    Args:
        X: (N, D) data; lam: (N,) dual vector.
        threshold: β; directions with |λᵀ relu(X w)| > threshold are returned as violators and the
            refinement stops as soon as the bound is ≤ threshold (certified feasible).
        starts: optional (D, K) start directions for the ascent heuristic (e.g. trained networks'
            first-layer weights, current patterns' gates).
        seed: seed of the random starts; n_starts: how many.
        rtol: stop when upper_bound ≤ (1 + rtol) · best_value (c known to rtol).
        stop_on_violation: return as soon as the heuristic or the branch and bound has found a
            violator (upper_bound is then the trivial bound).
        heuristic_only: skip the branch and bound (upper_bound is then the trivial bound
            Σ|λ_i|‖x_i|| — valid but loose) — for cheap column-generation rounds.
        max_violators: at most this many violating directions are returned.
        max_nodes: box budget per sign (the bound stays valid when it is reached);
        max_enum: boxes with at most this many cut rows are solved by enumerating their 2^k signs.
        method: "box" (spatial branch and bound over the sphere), "sign" (branch and bound on the
            rows' signs) or "auto" (box for rank ≤ SIGN_BB_MIN_RANK − 1, else sign; module docstring).

    Returns:
        PricingResult (directions in the caller's coordinates, unit norm).

    Raises:
        InvalidInput: bad X, lam, threshold, seed, rtol, starts or counts (n_starts, max_nodes,
            max_enum, max_violators must be ≥ 1), or an unknown method.
    """
    problems = Problems("price_relu_dual")
    X = check_matrix(problems, "X", X)
    lam = check_vector(problems, "lam", lam, length=None if X is None else X.shape[0])
    if threshold is not None:
        threshold = check_positive(problems, "threshold", threshold)
    seed = check_seed(problems, seed)
    rtol = check_positive(problems, "rtol", rtol)
    max_nodes = check_int(problems, "max_nodes", max_nodes)
    max_enum = check_int(problems, "max_enum", max_enum)
    n_starts = check_int(problems, "n_starts", n_starts)
    max_violators = check_int(problems, "max_violators", max_violators)
    if method not in ("auto", "box", "sign"):
        problems.add(f"method must be 'auto', 'box' or 'sign', got {method!r}")
    if starts is not None:
        starts = check_matrix(problems, "starts", starts, allow_empty=True)
        if starts is not None and X is not None and starts.shape[0] != X.shape[1]:
            problems.add(f"starts must have {X.shape[1]} rows (columns of X), got shape {starts.shape}")
    problems.raise_if_any()
    start_time = time.perf_counter()
    thr = math.inf if threshold is None else float(threshold)
    basis = _row_space(X)  # (D, R): patterns and norms are unchanged by projecting u on the row space
    Xr = X @ basis
    r = Xr.shape[1]
    if method == "auto":
        method = "sign" if r >= SIGN_BB_MIN_RANK else "box"
    exact_name = "heuristic" if heuristic_only else f"{method}-branch-and-bound"
    if r == 0:  # X = 0: relu(X u) = 0 for every u, c(λ) = 0 exactly
        return PricingResult(upper_bound=0.0, best_value=0.0, best_gate=np.zeros(X.shape[1]),
                             violating_gates=np.zeros((X.shape[1], 0)),
                             threshold=math.nan if threshold is None else thr, gap=0.0, nodes=0,
                             time_limited=False, method=exact_name,
                             seconds=time.perf_counter() - start_time)
    rng = np.random.default_rng(seed)
    S = rng.standard_normal((r, n_starts))
    given = None
    if starts is not None and starts.shape[1]:
        given = basis.T @ starts
        S = np.hstack([given, S])
    # candidate directions: ascent from every start, for both signs; then each pattern's exact max
    candidates = []
    for v in (lam, -lam):
        U = _ascent(Xr, v, np.hstack([S, -S]))
        candidates.append(U)
    cand = np.hstack(candidates)
    refined = []
    for v in (lam, -lam):
        vals = relu_objective_direction(Xr, v, cand)
        keys, picked = set(), []
        for k in np.argsort(-vals):
            if len(picked) >= max(2 * max_violators, 20):
                break
            key = ((Xr @ cand[:, k]) > 0).tobytes()
            if key not in keys:
                keys.add(key)
                picked.append(k)
        # the caller's starts (e.g. the current patterns' gates, tight at the optimum) are searched
        # from their own cells too: their neighbours across binding facets are the likely violators
        local_starts = cand[:, picked] if given is None else np.hstack([cand[:, picked], given])
        refined.append(_local_search(Xr, v, local_starts))
    pool = [cand] + refined
    pool_dirs = np.hstack(pool)
    time_limited, node_count = False, 0
    upper = float(np.abs(lam) @ np.linalg.norm(Xr, axis=1))  # trivial valid bound (triangle)

    if not heuristic_only:
        found = np.max(np.abs(relu_objective_direction(Xr, lam, pool_dirs))) > thr
        if not (stop_on_violation and found):
            upper = 0.0
            collected = [pool_dirs]
            for v in (lam, -lam):
                if not np.any(v > 0):
                    continue  # f ≤ 0 for this sign: contributes 0
                vals_v = relu_objective_direction(Xr, v, pool_dirs)
                best_v = float(np.max(vals_v))
                target = max(0.0 if threshold is None else thr, (1.0 + rtol) * best_v)
                if method == "sign":
                    sign_upper, value, w, above, nodes, complete = _sign_branch_and_bound(
                        Xr, v, target, max_nodes=max_nodes, stop_on_violation=stop_on_violation)
                else:
                    sign_upper, value, w, above, nodes, complete = _branch_and_bound(
                        Xr, v, target, max_nodes=max_nodes, max_enum=max_enum, stop_on_violation=stop_on_violation)
                node_count += nodes
                time_limited |= not complete
                if w is not None:
                    collected.append(np.array([w] + above).T)
                    best_v = max(best_v, value)
                upper = max(upper, sign_upper)
                if stop_on_violation and best_v > thr:
                    # the other sign was not bounded: keep only the trivial (valid) bound
                    upper = float(np.abs(lam) @ np.linalg.norm(Xr, axis=1))
                    break
            pool_dirs = np.hstack(collected)
    values = np.abs(relu_objective_direction(Xr, lam, pool_dirs))
    order = np.argsort(-values)
    best_k = int(order[0])
    best_value = float(values[best_k])
    upper = max(upper, best_value)  # a valid upper bound is never below an attained value
    viol = []
    seen = set()
    for k in order:
        if values[k] <= thr or len(viol) >= max_violators:
            break
        key = ((Xr @ pool_dirs[:, k]) > 0).tobytes()
        if key in seen:
            continue
        seen.add(key)
        viol.append(basis @ pool_dirs[:, k])
    violating = np.array(viol).T if viol else np.zeros((X.shape[1], 0))
    gap = 0.0 if upper <= 0 else (upper - best_value) / upper
    return PricingResult(upper_bound=upper, best_value=best_value, best_gate=basis @ pool_dirs[:, best_k],
                         violating_gates=violating, threshold=thr if threshold is not None else math.nan,
                         gap=gap, nodes=node_count, time_limited=time_limited,
                         method=exact_name,
                         seconds=time.perf_counter() - start_time)
