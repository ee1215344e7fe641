"""Activation patterns of a ReLU layer on a data matrix: exact enumeration or seeded sampling.

A pattern is the 0/1 vector D = 1[X g ≥ 0] for a gate g ∈ R^D; the distinct patterns are the
regions of the central hyperplane arrangement {g : x_iᵀ g = 0}. For every pattern D kept here we
also keep a witness gate g, so the gated-ReLU model and external solvers (pyscnn) can be given the
same patterns as gate vectors.

Why open regions suffice: every u ∈ R^D lies in the closure of some open region R, and on the
closed cone {u : (2D_R − 1) ∘ (X u) ≥ 0} we have relu(X u) = D_R ∘ (X u). So the patterns of the open
regions realise every neuron, which is what makes the convex program exact.

Enumeration methods (after projecting X onto its row space, rank r):
  r = 1  the two half-lines: D = 1[X q ≥ 0] and 1[−X q ≥ 0].
  r = 2  angular sweep: the 2N breakpoints θ = angle(x_i) ± π/2 cut the circle of gate
         directions into arcs; each arc's midpoint is a witness. Exact up to the floating-point
         order of breakpoint angles that differ by ~1e-16 rad.
  r ≥ 3  vertex enumeration: every region of a central arrangement whose normals span R^r is a
         pointed cone with an extreme ray, the intersection of r − 1 hyperplanes; in general
         position the 2^(r−1) sign choices around each such ray are exactly the adjacent regions.
         When the data are not in general position we fall back to incremental LP enumeration
         (each region split by each new hyperplane, both sides tested for feasibility by HiGHS).

Shape glossary: N samples, D input dimension, R rank of X, P patterns.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from theory_kit.errors import InvalidInput
from theory_kit.landscape._scaling import power_of_two_scale
from theory_kit.landscape._validate import Problems, check_int, check_matrix, check_seed

__all__ = [
    "DEFAULT_MAX_PATTERNS",
    "PatternSet",
    "enumerate_patterns",
    "sample_patterns",
    "activation_patterns",
    "max_pattern_count",
]

# Above this many patterns an exact enumeration is refused (the convex program would be huge).
DEFAULT_MAX_PATTERNS = 4096

# Relative size under which x_iᵀv counts as zero when testing general position.
_GENERAL_POSITION_RTOL = 1e-9
# Relative singular-value cut-off for the rank of X.
_RANK_RTOL = 1e-12


@dataclass(frozen=True)
class PatternSet:
    """Distinct non-trivial activation patterns of X with a witness gate for each.

    Attributes:
        masks: (N, P) bool; column p is the diagonal of D_p. No column is trivial (all rows with
            x_i ≠ 0 inactive) and no two columns are equal.
        gates: (D, P) witness gates, masks[:, p] == (X @ gates[:, p] >= 0) on rows with x_i ≠ 0.
        exact: True when the masks are all activation patterns of X.
        method: "rank-one", "angular-sweep", "vertex-enumeration", "incremental-lp", "sampled" or
            "column-generation" (sampled and priced patterns, `relu.two_layer_relu(patterns="pricing")`).
    """

    masks: np.ndarray
    gates: np.ndarray
    exact: bool
    method: str

    def __post_init__(self):
        masks = np.array(self.masks, dtype=bool, copy=True)
        gates = np.array(self.gates, dtype=float, copy=True)
        if masks.ndim != 2 or gates.ndim != 2 or masks.shape[1] != gates.shape[1]:
            raise InvalidInput(f"PatternSet: masks must be (N, P) and gates (D, P), got {masks.shape}, {gates.shape}")
        if masks.shape[1] < 1:
            raise InvalidInput("PatternSet: needs at least one pattern")
        if len({m.tobytes() for m in masks.T}) != masks.shape[1]:
            raise InvalidInput("PatternSet: masks contain duplicate patterns")
        if not np.all(np.isfinite(gates)):
            raise InvalidInput("PatternSet: gates must be finite")
        if self.method not in ("rank-one", "angular-sweep", "vertex-enumeration", "incremental-lp", "sampled",
                               "column-generation"):
            raise InvalidInput(f"PatternSet: unknown method {self.method!r}")
        masks.setflags(write=False)
        gates.setflags(write=False)
        object.__setattr__(self, "masks", masks)
        object.__setattr__(self, "gates", gates)

    @property
    def n_patterns(self) -> int:
        """Number P of patterns."""
        return int(self.masks.shape[1])


def max_pattern_count(n: int, rank: int) -> int:
    """Upper bound on the number of activation patterns of N points spanning R^rank.

    Central arrangement of N hyperplanes in R^r: at most 2 Σ_{k<r} C(N−1, k) regions (Cover 1965),
    attained in general position.
    """
    if rank <= 0:
        return 0
    return 2 * sum(math.comb(n - 1, k) for k in range(min(rank, n)))


def _row_space(X: np.ndarray) -> np.ndarray:
    """(D, R) orthonormal basis of the row space of X."""
    _, s, vt = np.linalg.svd(X, full_matrices=False)
    rank = int(np.sum(s > _RANK_RTOL * max(s[0], np.finfo(float).tiny))) if s.size else 0
    return vt[:rank].T


def _finalise(X: np.ndarray, gates: np.ndarray, exact: bool, method: str) -> PatternSet:
    """Masks from witness gates, deduplicated, trivial patterns dropped, stable order."""
    nonzero_rows = np.linalg.norm(X, axis=1) > 0
    masks = (X @ gates) >= 0
    masks[~nonzero_rows] = True  # 0 >= 0: keep the convention explicit against rounding
    useful = (masks & nonzero_rows[:, None]).any(axis=0)
    masks, gates = masks[:, useful], gates[:, useful]
    _, first = np.unique(np.packbits(masks, axis=0).T, axis=0, return_index=True)
    order = np.sort(first)
    if order.size == 0:
        raise InvalidInput("activation patterns: X has no non-trivial activation pattern (is X zero?)")
    return PatternSet(masks=masks[:, order], gates=gates[:, order], exact=exact, method=method)


def _angular_sweep(Xr: np.ndarray) -> np.ndarray:
    """(2, P) witness gates at the midpoints of the arcs cut by the 2N breakpoints."""
    rows = Xr[np.linalg.norm(Xr, axis=1) > 0]
    phi = np.arctan2(rows[:, 1], rows[:, 0])
    breakpoints = np.unique(np.mod(np.concatenate([phi + np.pi / 2, phi - np.pi / 2]), 2 * np.pi))
    following = np.append(breakpoints[1:], breakpoints[0] + 2 * np.pi)
    mids = (breakpoints + following) / 2
    return np.stack([np.cos(mids), np.sin(mids)])


def _vertex_enumeration(Xr: np.ndarray) -> np.ndarray | None:
    """(R, P) witness gates around every extreme ray, or None if X is not in general position."""
    n, r = Xr.shape
    rows = Xr[np.linalg.norm(Xr, axis=1) > 0]
    scale = np.linalg.norm(rows, axis=1)
    signs = np.array(list(itertools.product((-1.0, 1.0), repeat=r - 1)))  # (2^(r-1), r-1)
    gates = []
    for subset in itertools.combinations(range(rows.shape[0]), r - 1):
        sub = rows[list(subset)]
        _, s, vt = np.linalg.svd(sub)
        if s[-1] <= _GENERAL_POSITION_RTOL * s[0]:
            return None
        ray = vt[-1]
        others = np.delete(np.arange(rows.shape[0]), subset)
        along = rows[others] @ ray
        if np.any(np.abs(along) <= _GENERAL_POSITION_RTOL * scale[others]):
            return None
        # δ with sub δ = s for each sign choice s; ε small enough not to cross another hyperplane.
        deltas = np.linalg.pinv(sub) @ signs.T  # (r, 2^(r-1))
        cross = np.abs(rows[others] @ deltas)  # (others, 2^(r-1))
        with np.errstate(divide="ignore"):
            eps = 0.5 * np.min(np.abs(along)[:, None] / cross, axis=0) if others.size else np.ones(len(signs))
        eps = np.minimum(eps, 1.0)
        for direction in (ray, -ray):
            gates.append(direction[:, None] + eps[None, :] * deltas)
    return np.concatenate(gates, axis=1)


def _incremental_lp(Xr: np.ndarray) -> np.ndarray:
    """(R, P) witness gates by splitting regions one hyperplane at a time (exact, slower)."""
    rows = Xr[np.linalg.norm(Xr, axis=1) > 0]
    r = Xr.shape[1]
    regions: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0), np.ones(r) / math.sqrt(r))]
    for k, h in enumerate(rows):
        new_regions = []
        for sign_vector, witness in regions:
            side = float(np.sign(h @ witness))
            for s in (1.0, -1.0):
                if s == side and abs(h @ witness) > 1e-12 * np.linalg.norm(h) * np.linalg.norm(witness):
                    new_regions.append((np.append(sign_vector, s), witness))
                    continue
                # Feasibility of {g : s_j x_jᵀ g ≥ 1 (j < k), s hᵀ g ≥ 1} — a scaled open cone.
                A = -(np.vstack([rows[:k] * sign_vector[:, None], s * h[None, :]]))
                res = linprog(np.zeros(r), A_ub=A, b_ub=-np.ones(k + 1), bounds=[(None, None)] * r,
                              method="highs")
                if res.status == 0:
                    new_regions.append((np.append(sign_vector, s), res.x / np.linalg.norm(res.x)))
        regions = new_regions
    return np.stack([w for _, w in regions], axis=1)


def enumerate_patterns(X, *, max_patterns: int = DEFAULT_MAX_PATTERNS, method: str = "auto") -> PatternSet:
    """All activation patterns of X (every region of the arrangement {g : x_iᵀ g = 0}).

    Args:
        X: (N, D) data matrix, finite.
        max_patterns: refuse (InvalidInput) when the worst-case pattern count exceeds this.
        method: "auto" (rank 1: half-lines, rank 2: angular sweep, rank ≥ 3: vertex enumeration
            with incremental-LP fallback), or force "vertex-enumeration" / "incremental-lp".

    Returns:
        PatternSet with exact=True.

    Raises:
        InvalidInput: X not a finite non-empty 2-D array, X zero, unknown method, or too many
            patterns (use `sample_patterns` / patterns=int instead).
    """
    problems = Problems("enumerate_patterns")
    X = check_matrix(problems, "X", X)
    max_patterns = check_int(problems, "max_patterns", max_patterns)
    if method not in ("auto", "vertex-enumeration", "incremental-lp"):
        problems.add(f"method must be 'auto', 'vertex-enumeration' or 'incremental-lp', got {method!r}")
    problems.raise_if_any()
    X = X / power_of_two_scale(X)  # patterns and witness gates are invariant under X -> X/s (s > 0)
    basis = _row_space(X)
    rank = basis.shape[1]
    if rank == 0:
        raise InvalidInput("enumerate_patterns: X is zero; it has no non-trivial activation pattern")
    bound = max_pattern_count(X.shape[0], rank)
    if bound > max_patterns:
        raise InvalidInput(f"enumerate_patterns: X of shape {X.shape} (rank {rank}) may have up to {bound} "
                           f"patterns > max_patterns={max_patterns}; sample them (patterns=int) instead")
    Xr = X @ basis
    if rank == 1:
        return _finalise(X, np.hstack([basis, -basis]), True, "rank-one")
    if rank == 2 and method == "auto":
        return _finalise(X, basis @ _angular_sweep(Xr), True, "angular-sweep")
    if method in ("auto", "vertex-enumeration"):
        gates = _vertex_enumeration(Xr)
        if gates is not None:
            return _finalise(X, basis @ gates, True, "vertex-enumeration")
        if method == "vertex-enumeration":
            raise InvalidInput("enumerate_patterns: X is not in general position; use method='incremental-lp'")
    return _finalise(X, basis @ _incremental_lp(Xr), True, "incremental-lp")


def sample_patterns(X, n_gates: int, *, seed: int = 0) -> PatternSet:
    """Patterns 1[X g ≥ 0] of `n_gates` seeded Gaussian gates g ~ N(0, I_D), deduplicated.

    Args:
        X: (N, D) data matrix, finite.
        n_gates: number of gate vectors drawn (the pattern count is at most this).
        seed: seed of np.random.default_rng.

    Returns:
        PatternSet with exact=False (sampling may miss patterns).

    Raises:
        InvalidInput: bad X, n_gates < 1, bad seed, or no gate produced a non-trivial pattern.
    """
    problems = Problems("sample_patterns")
    X = check_matrix(problems, "X", X)
    n_gates = check_int(problems, "n_gates", n_gates)
    seed = check_seed(problems, seed)
    problems.raise_if_any()
    gates = np.random.default_rng(seed).standard_normal((X.shape[1], n_gates))
    return _finalise(X / power_of_two_scale(X), gates, False, "sampled")


def activation_patterns(X, patterns="all", *, seed: int = 0, max_patterns: int = DEFAULT_MAX_PATTERNS) -> PatternSet:
    """Dispatch: patterns="all" -> enumerate_patterns, patterns=int -> sample_patterns(int gates).

    Raises:
        InvalidInput: as the two functions it dispatches to, or patterns neither "all" nor int ≥ 1.
    """
    if isinstance(patterns, str) and patterns == "all":
        return enumerate_patterns(X, max_patterns=max_patterns)
    if isinstance(patterns, (int, np.integer)) and not isinstance(patterns, bool) and patterns >= 1:
        return sample_patterns(X, int(patterns), seed=seed)
    raise InvalidInput(f'activation_patterns: patterns must be "all" or a positive integer, got {patterns!r}')
