"""Figure: softmax-to-hardmax — measured off-maximum attention mass against beta, with its bound.

Claim checked: Lemma (pmax) of theory_kit.bounds.softmax. For logits whose maximum beats every
other logit by at least Delta, the softmax mass off the maximum is at most
(n-1)E / (1 + (n-1)E) <= (n-1)E with E = exp(-beta Delta). The worst case puts all n-1 other
logits exactly Delta below the maximum, where the first bound is attained; random logit vectors
with the same gap sit below it. Plotted for several n; the bound comes from the sympy
expression (lambdified with modules="numpy"), never retyped here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp

from theory_kit import plotting
from theory_kit.bounds import softmax as softmax_bounds
from theory_kit.bounds import symbols as sym

NAME = "fig_softmax_hardmax"
NS = (2, 10, 100, 1000)
DELTA = 1.0
BETAS = np.linspace(0.0, 30.0, 61)
N_RANDOM = 64  # random logit vectors per (n, beta)


def _offmax_mass(logits: np.ndarray, beta: float) -> np.ndarray:
    """Softmax mass off position 0 (the maximum) for each row of logits (R, n), float64.

    Summed directly over k != 0 rather than as 1 - p_0, which would cancel to 0 below 1e-16.
    """
    z = beta * (logits - logits.max(axis=1, keepdims=True))
    w = np.exp(z)
    return w[:, 1:].sum(axis=1) / w.sum(axis=1)


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    tight = sp.lambdify((sym.n, sym.beta, sym.Delta), softmax_bounds.offmax_mass_upper(), modules="numpy")
    simple = sp.lambdify(
        (sym.n, sym.beta, sym.Delta), 1 - softmax_bounds.softmax_pmax_linear_lower(), modules="numpy"
    )

    rows = []
    fig, ax = plotting.new_figure(height=2.3)
    for color_idx, n in enumerate(NS):
        worst = np.concatenate([[0.0], np.full(n - 1, -DELTA)])[None, :]
        # Random vectors with the same gap: others at -Delta - Exp(1) (gap exactly >= Delta).
        rand = np.concatenate(
            [np.zeros((N_RANDOM, 1)), -DELTA - rng.exponential(1.0, size=(N_RANDOM, n - 1))], axis=1
        )
        measured = np.array([_offmax_mass(worst, b)[0] for b in BETAS])
        measured_rand = np.array([_offmax_mass(rand, b).max() for b in BETAS])
        b_tight = np.asarray(tight(n, BETAS, DELTA), dtype=float)
        b_simple = np.asarray(simple(n, BETAS, DELTA), dtype=float)
        # The claim itself, checked on the data we are about to plot.
        assert np.all(measured <= b_tight * (1 + 1e-12)), f"pmax bound violated for n={n}"
        assert np.all(measured_rand <= b_tight * (1 + 1e-12)), f"pmax bound violated for n={n}"
        color = f"C{color_idx}"
        ax.semilogy(BETAS, b_simple, color=color, ls="--", lw=0.8)
        ax.semilogy(BETAS, b_tight, color=color, lw=0.8)
        ax.semilogy(BETAS[::3], measured[::3], "o", color=color, ms=2.5, label=f"$n={n}$")
        ax.semilogy(BETAS[::3], measured_rand[::3], "x", color=color, ms=2.5, mew=0.6)
        rows += [
            (n, float(b), DELTA, m, r, t, s)
            for b, m, r, t, s in zip(BETAS, measured, measured_rand, b_tight, b_simple)
        ]

    ax.set_ylim(1e-13, 3.0)
    ax.set_xlim(BETAS[0], BETAS[-1])
    ax.set_xlabel(r"inverse temperature $\beta$ (gap $\Delta=1$)")
    ax.set_ylabel("attention mass off the max")
    # Line-style key, separate from the per-n colour key.
    style_handles = [
        ax.plot([], [], "k--", lw=0.8, label=r"$(n-1)e^{-\beta\Delta}$")[0],
        ax.plot([], [], "k-", lw=0.8, label=r"$\frac{(n-1)e^{-\beta\Delta}}{1+(n-1)e^{-\beta\Delta}}$")[0],
        ax.plot([], [], "ko", ms=2.5, label="worst case")[0],
        ax.plot([], [], "kx", ms=2.5, mew=0.6, label="random, gap $\\geq\\Delta$")[0],
    ]
    n_handles = [h for h in ax.get_lines() if h.get_label().startswith("$n=")]
    leg = ax.legend(handles=n_handles, loc="lower left", ncol=2)
    ax.add_artist(leg)
    ax.legend(handles=style_handles, loc="upper right", fontsize=6)

    header = ("n", "beta", "Delta", "measured_worst", "measured_random_max", "bound_tight", "bound_simple")
    return plotting.save_figure(fig, NAME, out_dir, data=(header, rows))


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
