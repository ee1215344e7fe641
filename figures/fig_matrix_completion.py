"""Figure: the phase transition of low-rank matrix completion behind learning addition.

Lee et al., "Teaching Arithmetic to Small Transformers" (ICLR 2024), explain the sharp jump in
accuracy of a transformer trained on n-by-n addition tables with matrix completion: the table
M_ij = i + j has rank 2, and their Algorithm 1 fills an unknown entry from a revealed rectangle,

    M_ij = M_ik + M_lj - M_lk     (exact for every additive matrix M_ij = a_i + b_j),

repeating until nothing changes. Its success probability jumps from 0 to 1 as the number of
revealed entries grows; the paper contrasts it with nuclear-norm minimisation, which needs more
samples. Here: success probability (every entry recovered) against revealed entries, for
n in {20, 50, 100} with the additive rule and for n = 20 with nuclear-norm minimisation
(cvxpy, Clarabel). The dotted verticals mark n ln n, the connectivity threshold of the random
bipartite row/column graph the additive rule propagates along.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cvxpy as cp
import numpy as np

from theory_kit import plotting

NAME = "fig_matrix_completion"
NS = (20, 50, 100)
N_POINTS = 18
TRIALS = 100  # additive rule: cheap, many trials per point
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


def additive_fill(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Lee et al.'s Algorithm 1 on the revealed-entry pattern: the set of fillable entries.

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
        grid = np.unique(np.round(np.geomspace(0.4 * threshold, 3.0 * threshold, N_POINTS)).astype(int))
        probs = []
        for m in grid:
            ok = sum(additive_fill(reveal(n, int(m), rng))[0].all() for _ in range(TRIALS))
            probs.append(ok / TRIALS)
            rows.append(("additive", n, int(m), TRIALS, ok / TRIALS))
        ax.semilogx(grid, probs, "o-", color=f"C{idx}", ms=2.5, label=f"additive, $n={n}$")
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
    ax.semilogx(NUC_REVEALED, probs, "s--", color="C0", mfc="white", ms=2.8, lw=0.9,
                label=f"nuclear norm, $n={NUC_N}$")

    ax.set_xlabel("revealed entries of the $n\\times n$ table $M_{ij}=i+j$")
    ax.set_ylabel("P(every entry recovered)")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=6)
    header = ("method", "n", "revealed", "trials", "success_probability")
    return plotting.save_figure(fig, NAME, out_dir, data=(header, rows))


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
