"""Figure: non-convex training of a two-layer ReLU network against its certified global optimum.

Objective (theory_kit.landscape.two_layer_relu): f(W, α) = ½‖relu(XW)α − y‖² + (β/2)(‖W‖² + ‖α‖²)
on the d = 2 toy dataset `toy_relu_dataset(N_SAMPLES, seed=seed)` with β = TOY_BETA. The convex
program over all activation patterns (Pilanci & Ergen 2020) gives the global minimum p* over every
width ≥ the width of its recovered network, and a dual certificate LB ≤ p* valid for every width.
Every trained network is feasible, so each run's relative gap (f − p*)/p* is ≥ 0 (up to solver
tolerance) — asserted on the plotted data. Plotted per width: each of N_INITS seeded L-BFGS runs
(`nonconvex_baseline`), their median, the certificate's own relative gap (p* − LB)/p*, and the
width of the recovered optimal network (dotted vertical).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from theory_kit import plotting
from theory_kit.landscape import TOY_BETA, nonconvex_baseline, toy_relu_dataset, two_layer_relu

NAME = "fig_nonconvex_vs_certified"
N_SAMPLES = 50
WIDTHS = (2, 4, 8, 16, 32)
N_INITS = 10
# Relative gaps at or below this are drawn on the floor of the log axis (a run can end a hair
# below p* only by the convex solver's own tolerance; the certificate bounds that from below).
FLOOR = 1e-9
# The convex solve is exact to its solver tolerance: no run may beat p* by more than this (relative).
SOLVER_RTOL = 1e-6


def compute(seed: int = 0):
    """(certified TwoLayerReluResult, NonconvexBaselineResult) of the figure; also used by
    paper_appendix/make_tables.py so the appendix quotes exactly the plotted numbers."""
    X, y = toy_relu_dataset(N_SAMPLES, seed=seed)
    certified = two_layer_relu(X, y, beta=TOY_BETA, patterns="all")
    baseline = nonconvex_baseline(X, y, beta=TOY_BETA, widths=WIDTHS, n_inits=N_INITS, seed=seed,
                                  certified=certified)
    return certified, baseline


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    certified, baseline = compute(seed)
    rel = np.asarray(baseline.relative_gaps)  # (S, K)
    # The claim checked on the plotted data: no feasible network beats the certificate.
    assert np.all(baseline.objectives >= certified.lower_bound * (1 - SOLVER_RTOL)), "run below the dual bound"
    assert np.all(rel >= -SOLVER_RTOL), "run below the certified optimum beyond solver tolerance"
    cert_rel = certified.relative_gap

    fig, ax = plotting.new_figure(height=2.4)
    widths = np.asarray(baseline.widths, dtype=float)
    k = rel.shape[1]
    jitter = 2.0 ** (0.18 * (np.arange(k) - (k - 1) / 2) / max(1, (k - 1) / 2))  # fixed, multiplicative
    for s, w in enumerate(widths):
        ax.scatter(w * jitter, np.maximum(rel[s], FLOOR), s=7, color=plotting.OKABE_ITO["blue"], alpha=0.6,
                   linewidths=0, label="L-BFGS run" if s == 0 else None, zorder=3)
    medians = np.median(rel, axis=1)
    ax.plot(widths, np.maximum(medians, FLOOR), "_", ms=12, mew=1.4, color=plotting.OKABE_ITO["vermillion"],
            label="median over inits", zorder=4)
    ax.axhline(max(cert_rel, FLOOR), color="k", lw=0.9, ls="--",
               label=r"certificate $(p^\star-\mathrm{LB})/p^\star$")
    ax.axvline(certified.width, color="0.4", lw=0.8, ls=":",
               label=f"width of optimal network ({certified.width})")
    plotting.width_axes(ax, widths, (FLOOR / 3, 3.0))
    ax.set_ylabel(r"relative gap $(f - p^\star)/p^\star$")
    ax.set_title(rf"toy data $d=2$, $N={N_SAMPLES}$, $\beta={TOY_BETA:g}$; {N_INITS} inits per width", fontsize=7)
    ax.legend(loc="center left", fontsize=6, ncol=1)

    header = ("width", "init", "objective", "relative_gap", "certified_value", "certified_lower_bound",
              "certified_width", "iterations")
    rows = [
        (int(w), j, float(baseline.objectives[s, j]), float(rel[s, j]), certified.value, certified.lower_bound,
         certified.width, int(baseline.iterations[s, j]))
        for s, w in enumerate(baseline.widths) for j in range(k)
    ]
    return plotting.save_figure(fig, NAME, out_dir, data=(header, rows))


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
