"""Figure: the phase transition of low-rank matrix completion behind learning addition.

Lee et al., "Teaching Arithmetic to Small Transformers" (ICLR 2024), explain the sharp jump in
accuracy of a transformer trained on n-by-n addition tables with matrix completion: the table
M_ij = i + j has rank 2, and an unknown entry is filled from three known ones,

    M_ij = M_ik + M_lj - M_lk     (exact for every additive matrix M_ij = a_i + b_j),

repeating until nothing changes. The paper's rule (its Algorithm 1 as its notebook implements
it) only uses *contiguous* 2x2 blocks: (i, j) is filled from (i, j +- 1), (i +- 1, j) and
(i +- 1, j +- 1). Filling from *any* rectangle (rows i, l, columns j, k) succeeds with far fewer
revealed entries (about n ln n, the connectivity threshold of the random bipartite row/column
graph); the two differ by about 1.2-1.3x at n = 20 and by much more as n grows. Plotted: success
probability (every entry recovered) against revealed entries on a log axis, for n in
{20, 50, 100, 500}: the paper's contiguous rule (solid, what reproduces Lee et al.) and the
rectangle rule as a labelled comparison (dashed); and, for n = 20, nuclear-norm minimisation
(cvxpy, Clarabel). Dotted verticals: n ln n.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cvxpy as cp
import numpy as np

from theory_kit import plotting

NAME = "fig_matrix_completion"
NS = (20, 50, 100, 500)
N_POINTS = 14
#: trials per point and n (the n = 500 contiguous fill costs ~0.1 s per trial)
TRIALS = {20: 60, 50: 60, 100: 30, 500: 6}
NUC_N = 20
NUC_REVEALED = (80, 120, 140, 160, 180, 200, 240, 280)
NUC_TRIALS = 6
NUC_TOL = 1e-3  # max abs error on entries of size up to 2(n-1); solver tolerance is ~1e-8


def additive_matrix(n: int) -> np.ndarray:
    """The n-by-n addition table M_ij = i + j (rank 2)."""
    return np.add.outer(np.arange(n), np.arange(n)).astype(float)


def reveal(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean (n, n) mask with exactly m entries drawn uniformly without replacement."""
    mask = np.zeros(n * n, dtype=bool)
    mask[rng.choice(n * n, size=m, replace=False)] = True
    return mask.reshape(n, n)


def contiguous_fill(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Lee et al.'s rule as their notebook runs it: fill (i, j) from a contiguous 2x2 block.

    An unknown (i, j) is filled in a round when, for some di, dj in {-1, +1}, the entries
    (i, j + dj), (i + di, j) and (i + di, j + dj) are known; the value M_i,j+dj + M_i+di,j -
    M_i+di,j+dj is exact for an additive matrix, so only the pattern matters. Rounds repeat until
    a fixed point.

    Returns:
        (known mask at the fixed point, number of rounds that filled something).
    """
    known = mask.copy()
    n0, n1 = known.shape
    rounds = 0
    while True:
        new = np.zeros_like(known)
        for di in (-1, 1):
            for dj in (-1, 1):
                # target rows/cols whose neighbour (i + di, j + dj) exists
                ti = slice(max(0, -di), n0 - max(0, di))
                tj = slice(max(0, -dj), n1 - max(0, dj))
                si = slice(max(0, di), n0 + min(0, di))
                sj = slice(max(0, dj), n1 + min(0, dj))
                new[ti, tj] |= known[ti, sj] & known[si, tj] & known[si, sj]
        new &= ~known
        if not new.any():
            return known, rounds
        known |= new
        rounds += 1


def additive_fill(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """The rectangle rule (comparison, not the paper's): fill from any rows i, l and columns j, k.

    An unknown (i, j) is filled in a round when some k, l have (i,k), (l,k), (l,j) known, i.e.
    (K K^T K)_ij > 0 for the 0/1 known matrix K. Rounds repeat until a fixed point; the value
    written is M_ik + M_lj - M_lk, exact for an additive matrix, so only the pattern matters.

    Returns:
        (known mask at the fixed point, number of rounds that filled something).
    """
    known = mask.copy()
    rounds = 0
    while True:
        k = known.astype(np.float64)  # counts <= n^3 are exact in float64; BLAS is fast
        new = ((k @ (k.T @ k)) > 0.5) & ~known
        if not new.any():
            return known, rounds
        known |= new
        rounds += 1


class _NuclearNormCompletion:
    """min ||X||_* s.t. X agrees with M on the revealed entries; one DPP problem reused."""

    def __init__(self, n: int):
        self.X = cp.Variable((n, n))
        self.P = cp.Parameter((n, n))
        self.Q = cp.Parameter((n, n))
        self.problem = cp.Problem(cp.Minimize(cp.normNuc(self.X)), [cp.multiply(self.P, self.X) == self.Q])

    def solve(self, M: np.ndarray, mask: np.ndarray) -> np.ndarray:
        self.P.value = mask.astype(float)
        self.Q.value = np.where(mask, M, 0.0)
        with warnings.catch_warnings():
            # Clarabel sometimes stops at OPTIMAL_INACCURATE near the transition; the success
            # test below measures the actual recovery error, so the warning carries no news.
            warnings.filterwarnings("ignore", message="Solution may be inaccurate", category=UserWarning)
            self.problem.solve(solver=cp.CLARABEL)
        if self.problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            raise RuntimeError(f"nuclear-norm completion: solver status {self.problem.status}")
        return self.X.value


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    rows = []
    fig, ax = plotting.new_figure(height=2.5)
    for idx, n in enumerate(NS):
        threshold = n * np.log(n)
        trials = TRIALS[n]
        for method, fill, hi, style in (
            ("contiguous_2x2", contiguous_fill, 0.7 * n * n, "o-"),
            ("rectangle", additive_fill, min(3.0 * threshold, n * n), "x--"),
        ):
            # below about 2% of the entries the 2x2 rule never completes (checked at n <= 100)
            lo = 0.4 * threshold if method == "rectangle" else max(0.4 * threshold, 0.02 * n * n)
            grid = np.unique(np.round(np.geomspace(lo, hi, N_POINTS)).astype(int))
            probs = []
            for m in grid:
                ok = sum(bool(fill(reveal(n, int(m), rng))[0].all()) for _ in range(trials))
                probs.append(ok / trials)
                rows.append((method, n, int(m), trials, ok / trials))
            ax.semilogx(grid, probs, style, color=f"C{idx}", ms=2.2, lw=0.9 if method == "rectangle" else 1.2,
                        alpha=0.6 if method == "rectangle" else 1.0)
        ax.axvline(threshold, color=f"C{idx}", ls=":", lw=0.7)

    M = additive_matrix(NUC_N)
    solver = _NuclearNormCompletion(NUC_N)
    probs = []
    for m in NUC_REVEALED:
        ok = 0
        for _ in range(NUC_TRIALS):
            X = solver.solve(M, reveal(NUC_N, m, rng))
            ok += bool(np.max(np.abs(X - M)) < NUC_TOL)
        probs.append(ok / NUC_TRIALS)
        rows.append(("nuclear_norm", NUC_N, m, NUC_TRIALS, ok / NUC_TRIALS))
    ax.semilogx(NUC_REVEALED, probs, "s-.", color="0.3", mfc="white", ms=2.8, lw=0.9)

    ax.set_xlabel("revealed entries of the $n\\times n$ table $M_{ij}=i+j$")
    ax.set_ylabel("P(every entry recovered)")
    ax.set_ylim(-0.03, 1.03)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=f"C{idx}", lw=1.2, label=f"$n={n}$") for idx, n in enumerate(NS)]
    handles += [Line2D([], [], color="k", marker="o", ms=2.2, lw=1.2, label="2x2 blocks (Lee et al.)"),
                Line2D([], [], color="k", marker="x", ms=2.2, ls="--", lw=0.9, alpha=0.6, label="any rectangle"),
                Line2D([], [], color="0.3", marker="s", mfc="white", ms=2.8, ls="-.", lw=0.9,
                       label=f"nuclear norm, $n={NUC_N}$")]
    ax.legend(handles=handles, loc="lower right", fontsize=5.5, ncol=1)
    header = ("method", "n", "revealed", "trials", "success_probability")
    return plotting.save_figure(fig, NAME, out_dir, data=(header, rows))


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
