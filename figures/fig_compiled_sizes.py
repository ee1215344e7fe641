"""Figure: compiled model size against max_seq_len, measured and from the closed-form formulas.

For library programs with size formulas (theory_kit.bounds.sizes, vocabulary 0..V-1), each
program is built by the registry for that vocabulary and N = max_seq_len in N_VALUES
(`PROGRAMS[name].at`) and compiled; `model.summary()` gives the measured residual width D and
parameter count; the sympy formulas of theory_kit.bounds.sizes give the lines. A marker off
its line is a formula that is wrong.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import sympy as sp

from theory_kit import plotting
from theory_kit.bounds import sizes
from theory_kit.compiler import compile as tk_compile
from theory_kit.library import PROGRAMS as LIBRARY

NAME = "fig_compiled_sizes"
PROGRAMS = ("make_hist", "make_sort_unique", "make_reverse", "make_frac_prevs")
V_SIZE = 4
N_VALUES = (2, 3, 4, 6, 8, 12, 16)


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    fig, axes = plotting.new_figure(width="single", height=2.0, ncols=2)
    rows = []
    n_fine = np.arange(min(N_VALUES), max(N_VALUES) + 1)
    for idx, name in enumerate(PROGRAMS):
        formulas = sizes.size_formulas(name)
        measured = {"residual_width": [], "params": []}
        for n in N_VALUES:
            vocab = sizes.size_vocab(name, V_SIZE)
            program = LIBRARY[sizes.PROGRAM_NAMES[name]].at(vocab=vocab, max_seq_len=n)
            s = tk_compile(program, vocab=set(vocab), max_seq_len=n, verify=None, seed=seed).summary()
            predicted = {q: int(formulas[q].subs({sizes.V: V_SIZE, sizes.N: n})) if q in formulas else ""
                         for q in measured}
            for q in measured:
                measured[q].append(s[q])
            rows.append((name, V_SIZE, n, s["layers"], int(sum(s["heads"])), int(sum(s["mlp_hidden"])),
                         s["residual_width"], predicted["residual_width"], s["params"], predicted["params"],
                         s["params_nonzero"]))
        label = name.removeprefix("make_")
        for ax, q in zip(axes, ("residual_width", "params")):
            color = f"C{idx}"
            ax.plot(N_VALUES, measured[q], "o", color=color, ms=2.8, label=label)
            if q in formulas:
                f = sp.lambdify(sizes.N, formulas[q].subs(sizes.V, V_SIZE), modules="numpy")
                ax.plot(n_fine, np.broadcast_to(np.asarray(f(n_fine), dtype=float), n_fine.shape),
                        "-", color=color, lw=0.8)
    axes[0].set_ylabel("residual width $D$")
    axes[1].set_ylabel("parameters")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("max_seq_len $N$")
    axes[0].legend(loc="upper left", fontsize=5.5, handletextpad=0.2)
    header = ("program", "V", "N", "layers", "heads", "mlp_hidden", "residual_width", "residual_width_formula",
              "params", "params_formula", "params_nonzero")
    return plotting.save_figure(fig, NAME, out_dir, data=(header, rows))


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
