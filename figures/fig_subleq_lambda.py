"""Figure: the looped SUBLEQ computer's attention temperature λ — the fraction of random programs
executed exactly (memory and program counter equal to the interpreter after every loop) against
λ, for three sizes, float64 and float32 (issue 16, item 4).

Claim checked: `theory_kit.constructions.subleq.lam_bound` — at the derived λ
(`subleq.derived_lam(n, N, dtype)`, a sympy bound on the off-target softmax mass of the ±1
address reads) every sampled program is exact; the script asserts it on the data it plots. The
paper's fixed λ = 10 is marked too. Giannou et al. report single runs; here each cell runs
PROGRAMS random programs (`subleq.random_program`, seeded) for LOOPS loops, all programs of a
size shared by every λ and dtype. The second CSV (`_threshold`) gives, per size and dtype, the
smallest λ at which every sampled program is exact (bisection to BISECT_TOL between the last
failing and the first exact grid λ, on the same programs) next to the derived λ.

The grid cells (size × dtype × λ, and the derived λ) run through theory_kit.sweep (cell:
`theory_kit.constructions.subleq_lambda.cell`); the bisections, which depend on them, run here.
Environment: THEORY_KIT_SWEEP_ENGINE ("serial" by default: figures/build.py already runs figures
side by side; "local" or "dask" to spread one figure's cells), THEORY_KIT_SWEEP_WORKERS, and
THEORY_KIT_SWEEP_STORE (a store folder to keep and resume the cells across builds; by default a
temporary one, so a changed construction is never answered from old results).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from theory_kit import plotting, sweep
from theory_kit.constructions import subleq, subleq_lambda

NAME = "fig_subleq_lambda"
#: (s, m, n, N) of the three machines.
SIZES = ((4, 8, 32, 8), (8, 16, 64, 8), (8, 32, 128, 10))
LAMS = (2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
PAPER_LAM = 10.0
PROGRAMS = 100
LOOPS = 20
BISECT_TOL = 0.2
DTYPES = ("float64", "float32")


CELL = "theory_kit.constructions.subleq_lambda:cell"


def _programs(size, seed):
    s, m, n, N = size
    return subleq_lambda.programs(s, m, n, N, count=PROGRAMS, loops=LOOPS, seed=seed)


def _exact(size, lam, dtype, progs, refs) -> int:
    s, m, n, N = size
    return subleq_lambda.exact(s, m, n, N, lam, dtype, progs, refs, LOOPS)


def _cells(seed: int) -> list:
    """Every (size, dtype, λ) cell of the figure, the derived λ of each size and dtype too."""
    cells = []
    for dtype in DTYPES:
        for s, m, n, N in SIZES:
            lams = [(float(lam), "grid") for lam in LAMS]
            lams.append((subleq.derived_lam(n, N, dtype), "derived"))
            cells += [{"s": s, "m": m, "n": n, "N": N, "dtype": dtype, "lam": lam, "kind": kind,
                       "programs_per_cell": PROGRAMS, "loops": LOOPS, "programs_seed": seed}
                      for lam, kind in lams]
    return cells


def _sweep_exact(seed: int) -> dict:
    """{(size, dtype, λ, kind): programs exact} for every cell, through theory_kit.sweep."""
    options = {"engine": os.environ.get("THEORY_KIT_SWEEP_ENGINE", "serial")}
    if os.environ.get("THEORY_KIT_SWEEP_WORKERS"):
        options["workers"] = int(os.environ["THEORY_KIT_SWEEP_WORKERS"])
    store = os.environ.get("THEORY_KIT_SWEEP_STORE")
    with tempfile.TemporaryDirectory(prefix=f"{NAME}_") as tmp:
        rows = sweep.check(sweep.run(CELL, _cells(seed), seeds=1, store=store or tmp,
                                     **options))
    return {((r["s"], r["m"], r["n"], r["N"]), r["dtype"], r["lam"], r["kind"]): r["exact"]
            for r in rows}


def _threshold(size, dtype, progs, refs, exact_at: dict) -> float:
    """The smallest λ exact on every program: bisection between the largest failing grid λ
    and the next grid λ (every grid λ above it is exact)."""
    lams = sorted(exact_at)
    failing = [lam for lam in lams if exact_at[lam] < len(progs)]
    if not failing:
        return lams[0]
    lo = max(failing)
    above = [lam for lam in lams if lam > lo]
    if not above:
        return float("nan")
    hi = above[0]
    while hi - lo > BISECT_TOL:
        mid = (lo + hi) / 2
        if _exact(size, mid, dtype, progs, refs) == len(progs):
            hi = mid
        else:
            lo = mid
    return hi


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    rows, thresholds = [], []
    exact = _sweep_exact(seed)
    fig, axes = plotting.new_figure(width="double", height=2.3, ncols=len(DTYPES))
    axes = np.atleast_1d(axes)
    for col, dtype in enumerate(DTYPES):
        ax = axes[col]
        for k, size in enumerate(SIZES):
            s, m, n, N = size
            progs, refs = _programs(size, seed)
            derived = subleq.derived_lam(n, N, dtype)
            exact_at = {}
            for lam in LAMS:
                exact_at[float(lam)] = exact[(size, dtype, float(lam), "grid")]
                rows.append((s, m, n, N, dtype, float(lam), "grid", PROGRAMS, LOOPS,
                             exact_at[float(lam)], exact_at[float(lam)] / PROGRAMS))
            ok_derived = exact[(size, dtype, derived, "derived")]
            rows.append((s, m, n, N, dtype, derived, "derived", PROGRAMS, LOOPS, ok_derived,
                         ok_derived / PROGRAMS))
            # The claim: the derived λ executes every sampled program exactly.
            assert ok_derived == PROGRAMS, f"derived λ={derived} not exact at {size} {dtype}"
            smallest = _threshold(size, dtype, progs, refs, exact_at)
            thresholds.append((s, m, n, N, dtype, smallest, derived, PAPER_LAM, PROGRAMS, LOOPS))
            color = f"C{k}"
            xs = sorted(exact_at)
            ax.plot(xs, [exact_at[x] / PROGRAMS for x in xs], "o-", color=color, ms=2.5,
                    lw=0.8, label=f"$n={n}, N={N}$")
            ax.axvline(derived, color=color, ls="--", lw=0.7)
        ax.axvline(PAPER_LAM, color="k", ls=":", lw=0.8)
        ax.set_xlabel(r"attention temperature $\lambda$")
        ax.set_title(dtype, fontsize=7)
        ax.set_ylim(-0.03, 1.03)
        if col == 0:
            ax.set_ylabel(f"fraction exact ({LOOPS} loops)")
            sizes = ax.legend(loc="lower right", fontsize=6)
            ax.add_artist(sizes)
            styles = [ax.plot([], [], "k--", lw=0.7, label=r"derived $\lambda$")[0],
                      ax.plot([], [], "k:", lw=0.8, label=r"paper $\lambda=10$")[0]]
            ax.legend(handles=styles, loc="center right", fontsize=6)
    header = ("s", "m", "n", "N", "dtype", "lam", "kind", "programs", "loops", "exact",
              "fraction")
    theader = ("s", "m", "n", "N", "dtype", "smallest_exact_lam", "derived_lam", "paper_lam",
               "programs", "loops")
    return plotting.save_figure(fig, NAME, out_dir,
                                data={"": (header, rows), "threshold": (theader, thresholds)})


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
