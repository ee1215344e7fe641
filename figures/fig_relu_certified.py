"""Figure: certified global optima of two-layer ReLU networks at d = 5 and d = 10 against training.

Objective (theory_kit.landscape.two_layer_relu): f(W, α) = ½‖relu(XW)α − y‖² + (β/2)(‖W‖² + ‖α‖²)
on `toy_relu_dataset(N, seed=seed, d=D)` with β = TOY_BETA, for (D, N, method) in PANELS. At d = 5
and d = 10 the certified optimum p* comes from column generation with exact pricing
(patterns="pricing", certificate "exact-pricing"; the sign branch and bound, `landscape.pricing`),
cross-checked against full enumeration (patterns="all") — asserted to agree to 1e-7 relative on the
plotted data (measured: 2.2e-8 at d = 10, N = 11; pricing 1.8 s there). Every trained network is
feasible, so each L-BFGS run's relative gap (f − p*)/p* is ≥ 0 up to solver tolerance (asserted). Plotted per width: each seeded run, and
the fraction of runs within OPTIMAL_RTOL of p* ("reached the optimum").

Sizes are small (N ≈ 2D) because full enumeration must stay feasible for the cross-check and the
figure must build in well under a minute; larger N are in benchmarks/landscape_pricing.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from theory_kit import plotting
from theory_kit.landscape import OPTIMAL_RTOL, TOY_BETA, nonconvex_baseline, toy_relu_dataset, two_layer_relu

NAME = "fig_relu_certified"
PANELS = ((5, 12, "pricing"), (10, 11, "pricing"))
WIDTHS = (1, 2, 4, 8, 16, 32)
N_INITS = 5
FLOOR = 1e-9
SOLVER_RTOL = 1e-6
AGREE_RTOL = 1e-7


def compute(seed: int = 0):
    """[(D, N, certified, baseline)] for the panels."""
    out = []
    for d, n, method in PANELS:
        X, y = toy_relu_dataset(n, seed=seed, d=d)
        full = two_layer_relu(X, y, beta=TOY_BETA, patterns="all")
        certified = full
        if method == "pricing":
            certified = two_layer_relu(X, y, beta=TOY_BETA, patterns="pricing", seed=seed)
            assert abs(certified.value - full.value) <= AGREE_RTOL * full.value, "pricing and enumeration disagree"
        baseline = nonconvex_baseline(X, y, beta=TOY_BETA, widths=WIDTHS, n_inits=N_INITS, seed=seed,
                                      certified=certified)
        out.append((d, n, certified, baseline))
    return out


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    panels = compute(seed)
    fig, axes = plotting.new_figure(width="double", height=2.4, ncols=len(panels))
    header = ("d", "n", "width", "init", "objective", "relative_gap", "certified_value", "certified_lower_bound",
              "certified_width")
    rows = []
    for ax, (d, n, certified, baseline) in zip(np.atleast_1d(axes), panels):
        rel = np.asarray(baseline.relative_gaps)
        assert np.all(baseline.objectives >= certified.lower_bound * (1 - SOLVER_RTOL)), "run below the dual bound"
        assert np.all(rel >= -SOLVER_RTOL), "run below the certified optimum beyond solver tolerance"
        widths = np.asarray(baseline.widths, dtype=float)
        k = rel.shape[1]
        jitter = 2.0 ** (0.18 * (np.arange(k) - (k - 1) / 2) / max(1, (k - 1) / 2))
        for s, w in enumerate(widths):
            ax.scatter(w * jitter, np.maximum(rel[s], FLOOR), s=7, color=plotting.OKABE_ITO["blue"], alpha=0.6,
                       linewidths=0, label="L-BFGS run" if s == 0 else None, zorder=3)
            reached = float(np.mean(rel[s] <= OPTIMAL_RTOL))
            ax.annotate(f"{reached:.0%}", (w, 1e2), ha="center", fontsize=6)
        ax.axhline(max(certified.relative_gap, FLOOR), color="k", lw=0.9, ls="--",
                   label=r"certificate $(p^\star-\mathrm{LB})/p^\star$")
        ax.axvline(max(certified.width, 0.5), color="0.4", lw=0.8, ls=":",
                   label=f"width of optimal network ({certified.width})")
        plotting.width_axes(ax, widths, (FLOOR / 3, 1e3))
        ax.set_title(rf"$d={d}$, $N={n}$ ({certified.certificate}); % = runs reaching $p^\star$", fontsize=7)
        rows += [(d, n, int(w), j, float(baseline.objectives[s, j]), float(rel[s, j]), certified.value,
                  certified.lower_bound, certified.width) for s, w in enumerate(baseline.widths) for j in range(k)]
    np.atleast_1d(axes)[0].set_ylabel(r"relative gap $(f - p^\star)/p^\star$")
    np.atleast_1d(axes)[0].legend(loc="center left", fontsize=6)
    return plotting.save_figure(fig, NAME, out_dir, data=(header, rows))


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
