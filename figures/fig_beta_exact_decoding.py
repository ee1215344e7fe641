"""Figure: the attention inverse temperature needed for exact decoding, against max_seq_len.

Three curves for the library program `reverse` (categorical attention; default vocabulary):
  * Tracr's fixed softmax coldness, 100, used for every program and length;
  * the value theory_kit derives, model.constants["beta"] (formula in
    model.constants["beta_formula"]: it grows like ln N through the off-target mass bound);
  * the smallest beta at which the compiled model is still exact, measured by recompiling with
    the beta override and verifying against the interpreter (exhaustive for small N, else the
    compiler's seeded sample), located by bisection on log beta to relative precision 2^-BISECT.
The gap between the derived and the measured curve is the slack of the bound; a measured value
above the derived one would be a bug.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from theory_kit import plotting
from theory_kit.compiler import compile as tk_compile
from theory_kit.errors import CompilationMismatch
from theory_kit.library import PROGRAMS

NAME = "fig_beta_exact_decoding"
PROGRAM = "reverse"
N_VALUES = (2, 3, 4, 5, 6, 8)
TRACR_BETA = 100.0  # tracr's default causal/softmax coldness (compiler/assemble.py)
BISECT = 7
EXHAUSTIVE_MAX = 5


def _exact(spec, n: int, beta: float, seed: int) -> bool:
    verify = "exhaustive" if n <= EXHAUSTIVE_MAX else "sample"
    try:
        tk_compile(spec.at(max_seq_len=n), vocab=set(spec.vocab), max_seq_len=n, beta=beta,
                   verify=verify, seed=seed)
    except CompilationMismatch:
        return False
    return True


def smallest_exact_beta(spec, n: int, hi: float, seed: int) -> float:
    """Bisection on log beta in [hi / 1024, hi]; assumes exactness is monotone in beta."""
    lo = hi / 1024.0
    if _exact(spec, n, lo, seed):
        return lo
    for _ in range(BISECT):
        mid = float(np.sqrt(lo * hi))
        if _exact(spec, n, mid, seed):
            hi = mid
        else:
            lo = mid
    return hi


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    spec = PROGRAMS[PROGRAM]
    rows = []
    derived, measured = [], []
    formula = ""
    for n in N_VALUES:
        model = tk_compile(spec.at(max_seq_len=n), vocab=set(spec.vocab), max_seq_len=n, verify=None,
                           seed=seed)
        b = float(model.constants["beta"])
        formula = str(model.constants.get("beta_formula", ""))
        assert _exact(spec, n, b, seed), f"derived beta {b} is not exact at N={n}"
        m = smallest_exact_beta(spec, n, b, seed)
        derived.append(b)
        measured.append(m)
        rows.append((PROGRAM, n, TRACR_BETA, b, m, formula))

    fig, ax = plotting.new_figure(height=2.2)
    ax.plot(N_VALUES, [TRACR_BETA] * len(N_VALUES), "k--", lw=0.9, label="Tracr (fixed 100)")
    ax.plot(N_VALUES, derived, "o-", color="C0", ms=3, label="derived (theory_kit)")
    ax.plot(N_VALUES, measured, "s-", color="C1", ms=3, label="smallest exact (measured)")
    ax.set_yscale("log")
    ax.set_xlabel(f"max_seq_len $N$ (program {PROGRAM})")
    ax.set_ylabel(r"inverse temperature $\beta$")
    ax.legend(loc="center right", fontsize=6)
    header = ("program", "max_seq_len", "beta_tracr", "beta_derived", "beta_min_exact", "beta_formula")
    return plotting.save_figure(fig, NAME, out_dir, data=(header, rows))


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
