"""Figure: Newton's iteration for the matrix inverse run on the looped FLEQ computer (issue 16,
item 5) — the error ‖X_j - A⁻¹‖_max after each iteration j, on the machine in float64 and
float32, next to the same program run by the interpreter (exact float64 matrix operations).

Claim checked: `theory_kit.constructions.fleq.newton_tolerance` — the machine's final iterate is
within the derived tolerance of numpy's inverse (the dashed lines), and its program counter
equals the interpreter's after every loop; the script asserts both on the data it plots. The
floor the machine's curves settle on is the error of the attention matmul heads
(`fleq.matmul_bound`), the interpreter's is float64 rounding. Matrices: A = 2I + U(-1/2, 1/2)
entries, seeded, for K_SIDES (one per panel); X0 = Aᵀ/(‖A‖₁‖A‖∞).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from theory_kit import plotting
from theory_kit.constructions import fleq

NAME = "fig_fleq_newton"
K_SIDES = (2, 3)
ITERATIONS = 8
DTYPES = ("float64", "float32")


def _machine(k: int, memory_cells: int, instructions: int, dtype: str) -> fleq.FleqMachine:
    s = k * k + 3
    need = s + memory_cells + instructions + 1
    return fleq.build(s=s, m=memory_cells, n=need + need % 2, k=k, dtype=dtype)


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    rows, finals = [], []
    fig, axes = plotting.new_figure(width="double", height=2.3, ncols=len(K_SIDES))
    axes = np.atleast_1d(axes)
    for col, k in enumerate(K_SIDES):
        rng = np.random.default_rng([seed, k])
        A = 2.0 * np.eye(k) + rng.uniform(-0.5, 0.5, size=(k, k))
        inv = np.linalg.inv(A)
        ins, mem, cells = fleq.newton_inverse_program(A, iterations=ITERATIONS)
        loops = 2 + 6 * ITERATIONS + 1
        ref = fleq.interpret(ins, mem, loops=loops, k=k, trace=True)
        curves = {"interpreter": fleq.newton_iterates(ref.memories, cells, ITERATIONS)}
        ax = axes[col]
        for j, dtype in enumerate(DTYPES):
            machine = _machine(k, len(mem), len(ins), dtype)
            got = machine.run(ins, mem, loops=loops, trace=True)
            assert got.pcs == ref.pcs, f"k={k} {dtype}: control flow differs from interpreter"
            tol = fleq.newton_tolerance(A, machine)
            err = float(np.abs(got.memory[cells["X"]] - inv).max())
            assert err <= tol, f"k={k} {dtype}: error {err} above the derived tolerance {tol}"
            curves[f"machine {dtype}"] = fleq.newton_iterates(got.memories, cells, ITERATIONS)
            finals.append((k, dtype, err, tol, machine.eps, machine.tolerance("matmul"),
                           machine.width, machine.depth, loops))
            ax.axhline(tol, color=f"C{j}", ls="--", lw=0.7)
        for j, (label, xs) in enumerate(curves.items()):
            errs = np.abs(xs - inv).max(axis=(1, 2))
            for it, e in enumerate(errs):
                rows.append((k, label, it, float(e)))
            style = {"interpreter": dict(color="k", marker="s", ls=":")}.get(
                label, dict(color=f"C{j - 1}", marker="o", ls="-"))
            ax.semilogy(range(ITERATIONS + 1), np.maximum(errs, 1e-17), ms=2.5, lw=0.8,
                        label=label, **style)
        ax.set_xlabel("Newton iteration $j$")
        ax.set_title(f"${k}\\times{k}$, $\\kappa(A)={np.linalg.cond(A):.2f}$", fontsize=7)
        if col == 0:
            ax.set_ylabel(r"$\|X_j - A^{-1}\|_{\max}$")
            runs = ax.legend(loc="upper right", fontsize=6)
            ax.add_artist(runs)
            dashed = ax.plot([], [], color="0.4", ls="--", lw=0.7,
                             label="derived tolerance (per dtype)")[0]
            ax.legend(handles=[dashed], loc="lower left", fontsize=6)
    header = ("k", "run", "iteration", "max_error")
    fheader = ("k", "dtype", "final_error", "derived_tolerance", "eps", "matmul_bound",
               "width", "depth", "loops")
    return plotting.save_figure(fig, NAME, out_dir,
                                data={"": (header, rows), "final": (fheader, finals)})


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
