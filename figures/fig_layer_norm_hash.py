"""Figure: where Merrill & Sabharwal's layer-norm position hash breaks in float16/32/64.

The layer-norm hash (Merrill & Sabharwal, "The Expressive Power of Transformers with Chain of
Thought", ICLR 2024) encodes position i as phi_i = LN(<i, 1, -i, -1>), a unit vector with
phi_i . phi_j = (i j + 1) / sqrt((i^2+1)(j^2+1)), equal to 1 exactly when i = j. Neighbours
are separated by (their Lemma 8; theory_kit.bounds.layer_norm_hash_gap_lower)

    1 - phi_i . phi_(i-1) = 2 sin^2(theta_i / 2),  theta_i = atan(1 / (i^2 - i + 1)),
                          >= 1 / (2 i^4),

which shrinks like i^-4, so a p-bit float loses it near i ~ 2^(p/4). Plotted: the exact gap,
the bound, and 1 - phi_i . phi_(i-1) with the hashes and the dot product computed entirely in
each dtype (theory_kit.claims.layer_norm_hash, the computation the claim
`layer_norm_hash_gap` is checked on). The dotted line per dtype is the first position where
the computed inequality phi_i . phi_(i-1) <= 1 - 1/(2 i^4) fails; the legend also gives the
first collision (phi_i . phi_(i-1) >= phi_i . phi_i computed: attention can no longer prefer i),
both from theory_kit.claims.layer_norm_hash_breakpoints. float16 is drawn twice: all the way in
float16, and stored in float16 with float32 accumulation (as on most accelerators) -- the
breakpoint depends on the accumulation. The lemma holds in exact arithmetic (black curves);
what fails is the floating-point evaluation of its inequality.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp

from theory_kit import bounds, plotting
from theory_kit.bounds import symbols as sym
from theory_kit.claims import layer_norm_hash_breakpoints
from theory_kit.claims.quantities import layer_norm_hash

NAME = "fig_layer_norm_hash"
DTYPES = ("float16", "float32", "float64")
#: (storage dtype, accumulation dtype or None for the same): float16 is shown both ways, since
#: where the computed inequality fails depends on the accumulation precision (6 vs 8).
SERIES = (("float16", None), ("float16", "float32"), ("float32", None), ("float64", None))
# float16: 2 i^2 + 2 overflows beyond i ~ 180, after which the hash is meaningless anyway.
N_MAX = {"float16": 150, "float32": 3000, "float64": 20000}
FLOOR = 1e-20  # where computed gaps <= 0 are drawn


def computed_offdiagonal_gap(dtype: str, n_max: int, accumulate: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Positions i = 2..n_max and 1 - phi_i . phi_(i-1), hashes stored and the dot product
    rounded to dtype, the arithmetic done in `accumulate` (default: dtype all the way).

    The subtraction from 1 is done in float64, where it is exact for every float16/32/64 value
    in [1/2, 1] (Sterbenz), so what is plotted is exactly what the dtype computed.
    """
    pos = np.arange(1, n_max + 1, dtype=np.float64)
    phi = layer_norm_hash(pos, np.ones_like(pos), dtype, accumulate)
    cur, prev = phi[1:], phi[:-1]
    dt = np.dtype(dtype).type
    acc = np.dtype(accumulate or dtype)
    cur, prev = cur.astype(acc), prev.astype(acc)
    with np.errstate(all="ignore"):
        # Left-to-right accumulation, as theory_kit.claims computes it.
        dot = ((cur[:, 0] * prev[:, 0] + cur[:, 1] * prev[:, 1]) + cur[:, 2] * prev[:, 2]) + cur[:, 3] * prev[:, 3]
    return np.arange(2, n_max + 1), 1.0 - dot.astype(dt).astype(np.float64)


def exact_gap(i: np.ndarray) -> np.ndarray:
    """1 - cos(theta_i) = 2 sin^2(theta_i / 2): accurate in float64, no cancellation."""
    theta = np.arctan(1.0 / (i.astype(np.float64) ** 2 - i + 1))
    return 2.0 * np.sin(theta / 2) ** 2


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    del seed  # deterministic: no randomness
    bound = sp.lambdify(sym.i, bounds.layer_norm_hash_gap_lower(), modules="numpy")
    fig, ax = plotting.new_figure(height=2.3)
    i_all = np.arange(2, max(N_MAX.values()) + 1)
    exact = exact_gap(i_all)
    b = np.asarray(bound(i_all.astype(np.float64)), dtype=float)
    assert np.all(exact >= b * (1 - 1e-12)), "layer-norm hash gap bound violated in exact arithmetic"
    ax.loglog(i_all, exact, color="k", lw=1.0, label="exact $1-\\phi_i\\cdot\\phi_{i-1}$")
    ax.loglog(i_all, b, color="k", ls="--", lw=0.8, label="bound $1/(2i^4)$")

    curve_rows, break_rows = [], []
    for idx, (name, acc) in enumerate(SERIES):
        i, gap = computed_offdiagonal_gap(name, N_MAX[name], acc)
        bp = layer_norm_hash_breakpoints(name, N_MAX[name], accumulate=acc)
        color = f"C{idx}"
        shown = name if acc is None else f"{name} (acc. {acc})"
        label = f"{shown}: inequality fails at $i={bp.first_gap_violation}$, collides at $i={bp.first_collision}$"
        ax.loglog(i, np.where(gap > 0, gap, FLOOR), ".", color=color, ms=1.2, alpha=0.7,
                  rasterized=True, label=label)
        if bp.first_gap_violation is not None:
            ax.axvline(bp.first_gap_violation, color=color, ls=":", lw=0.8)
        break_rows.append((shown, N_MAX[name], bp.first_gap_violation, bp.first_collision,
                           bp.first_degenerate, bp.n_broken, float(np.finfo(name).eps)))
        step = max(1, len(i) // 400)  # CSV: every position up to 400, then a thinned grid
        keep = np.unique(np.concatenate([np.arange(min(len(i), 400)), np.arange(0, len(i), step)]))
        curve_rows += [(shown, int(i[k]), gap[k], exact[i[k] - 2], b[i[k] - 2]) for k in keep]

    ax.set_ylim(FLOOR / 10, 1.0)
    ax.set_yticks([FLOOR, 1e-15, 1e-10, 1e-5, 1.0], ["$\\leq 0$", "$10^{-15}$", "$10^{-10}$", "$10^{-5}$", "$1$"])
    ax.minorticks_off()
    ax.set_xlim(2, i_all[-1])
    ax.set_xlabel("position $i$")
    ax.set_ylabel("$1-\\phi_i\\cdot\\phi_{i-1}$")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 0.1), fontsize=5.5, markerscale=4)
    none = lambda v: "" if v is None else v  # noqa: E731
    data = {
        "": (("dtype", "i", "computed_gap", "exact_gap", "bound"), curve_rows),
        "breakpoints": (
            ("dtype", "n_max", "first_gap_violation", "first_collision", "first_degenerate", "n_broken", "machine_eps"),
            [tuple(none(v) for v in row) for row in break_rows],
        ),
    }
    return plotting.save_figure(fig, NAME, out_dir, data=data)


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
