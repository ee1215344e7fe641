"""Figure: linear self-attention on in-context linear regression — trained vs closed-form minimiser.

Setting (theory_kit.landscape.linear_attention; Ahn, Cheng, Daneshmand & Sra 2023): x_i, x_q ~ N(0, I_d),
w ~ N(0, I_d), y_i = wᵀx_i, prediction ŷ = x_qᵀ Γ h with h = (1/n) Σ_i y_i x_i. The population loss is
a convex quadratic in Γ whose minimiser (derived and verified symbolically with sympy in
`lsa_closed_form`) is Γ* = n/(n + d + 1) I with L(Γ*) = d(d + 1)/(n + d + 1).

The "trained" model is the full LSA layer (value/projection row b and key-query block A, a
non-convex parametrisation) minimised by L-BFGS on N_PROMPTS sampled prompts per n
(`lsa_trained_vs_closed_form`, parametrisation "full"). Left: the closed-form scale γ*(n) (lines)
and the mean diagonal entry of the trained effective Γ (markers) against n, for d ∈ DS. Right:
relative error ‖Γ − Γ*‖_F/‖Γ*‖_F, which is Monte-Carlo error of the sampled loss (it shrinks with
more prompts), not a bias. The closed-form curve is the sympy result evaluated at each n, never
retyped here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from theory_kit import plotting
from theory_kit.landscape import lsa_closed_form, lsa_trained_vs_closed_form

NAME = "fig_lsa_closed_form"
DS = (2, 5, 10)
NS = (4, 8, 16, 32, 64, 128)
N_PROMPTS = 20000
NS_DENSE = np.unique(np.round(np.geomspace(NS[0], NS[-1], 40)).astype(int))
# Sampled-loss training may deviate from Γ* by Monte-Carlo error only; far beyond this would mean
# the trained layer found a different (spurious) minimum — checked on the plotted data.
MAX_RELATIVE_ERROR = 0.25


def compute(seed: int = 0) -> dict:
    """{d: LSATrainedVsClosedForm} of the figure; also used by paper_appendix/make_tables.py."""
    return {d: lsa_trained_vs_closed_form(d, NS, parametrisation="full", n_prompts=N_PROMPTS, seed=seed)
            for d in DS}


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    results = compute(seed)
    fig, (ax_scale, ax_err) = plotting.new_figure(width="double", height=2.3, ncols=2)
    rows = []
    for idx, d in enumerate(DS):
        r = results[d]
        assert np.all(r.relative_error < MAX_RELATIVE_ERROR), f"d={d}: trained LSA far from the closed form"
        color = f"C{idx}"
        dense = [lsa_closed_form(d, int(n)).gamma[0, 0] for n in NS_DENSE]
        ax_scale.plot(NS_DENSE, dense, color=color, lw=1.0, label=f"$d={d}$")
        ax_scale.plot(r.ns, r.trained_diag_mean, "o", color=color, ms=3.5, mfc="none", mew=0.9)
        ax_err.loglog(r.ns, r.relative_error, "o-", color=color, ms=3, lw=0.9, label=f"$d={d}$")
        rows += [
            (d, int(n), N_PROMPTS, cs, td, to, re, cl, tl)
            for n, cs, td, to, re, cl, tl in zip(r.ns, r.closed_form_scale, r.trained_diag_mean,
                                                 r.trained_offdiag_max, r.relative_error, r.closed_form_loss,
                                                 r.trained_loss)
        ]
    for ax in (ax_scale, ax_err):
        ax.set_xscale("log", base=2)
        ax.set_xticks(NS)
        ax.set_xticklabels([str(n) for n in NS])
        ax.set_xlabel("context length $n$")
    ax_scale.set_ylim(0.0, 1.05)
    ax_scale.set_ylabel(r"scale $\gamma$ of $\Gamma = \gamma I$")
    ax_scale.set_title(r"closed form $\gamma^\star = n/(n+d+1)$ (lines) vs trained (circles)", fontsize=7)
    ax_scale.legend(loc="lower right")
    ax_err.set_ylabel(r"$\|\Gamma - \Gamma^\star\|_F / \|\Gamma^\star\|_F$")
    ax_err.set_title(f"trained full LSA layer, {N_PROMPTS} sampled prompts per $n$", fontsize=7)
    ax_err.legend(loc="upper right")

    header = ("d", "n", "n_prompts", "closed_form_scale", "trained_diag_mean", "trained_offdiag_max",
              "relative_error", "closed_form_loss", "trained_sampled_loss")
    return plotting.save_figure(fig, NAME, out_dir, data=(header, rows))


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
