"""Figure: length generalisation with fixed weights — the looped model against the unrolled one.

For looped library programs (theory_kit.library.looped: sort_loop, parity_loop, dyck1_loop,
add_loop), each built for N = max_seq_len in N_VALUES (`LOOPED_PROGRAMS[name].at`) and
compiled twice with verify=None:

* looped: `theory_kit.compile(program)`, a weight-shared model whose block
  (`weights.loop`, layers[start:stop]) runs up to max_iterations times;
* unrolled: `theory_kit.compile(rasp.unroll(program))`, the fixed-depth transformer of the
  same computation (max_iterations gated copies of the body), for N <= UNROLLED_MAX_N.

Panel (a): transformer layers (all layers of the weights: prelude + looped block + epilogue for
the looped model); (b): parameters (entries of every weight array, dense). The looped model's
layer count does not grow with N; the unrolled one's grows with the iteration bound.

Panel (c): ONE looped model per program, compiled at N_MAX = max(N_VALUES), run on inputs of
every length n <= N_MAX with the same weights: the most iterations its loop ran
(`Model.loop_traces`) against the sympy `iteration_bound` at n (`LoopedSpec.bound_at`). The
inputs of a length are all of them when there are at most EXHAUSTIVE_LIMIT, else SAMPLES
seeded random ones plus the family that attains the bound (WORST below). Every plotted model
is checked on the inputs drawn here before anything is drawn: the outputs of the model
compiled at N_MAX at every length n <= N_MAX, and of both models compiled at each N at length
N, equal `spec.reference`, and the iterations each looped model reports equal
`spec.iterations` (the interpreter's count). The CSVs hold every number:
`fig_looped_vs_unrolled.csv` (per program and N: sizes, inputs checked, iterations against the
bound) and `fig_looped_vs_unrolled_lengths.csv` (the model compiled at N_MAX, per length n:
inputs, accuracy, iterations, bound).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from theory_kit import plotting
from theory_kit import rasp
from theory_kit.compiler import compile as tk_compile
from theory_kit.library.looped import LOOPED_PROGRAMS

NAME = "fig_looped_vs_unrolled"
PROGRAMS = ("sort_loop", "parity_loop", "dyck1_loop", "add_loop")
N_VALUES = (4, 6, 8, 12, 16, 20, 24)
#: The unrolled series stops here: its compile and run grow with N x max_iterations, and the
#: unrolled sort_loop model is inexact from N = 23 on (its one-hots drift copy after copy).
UNROLLED_MAX_N = 20
#: Every input of a length when there are at most this many, else a seeded sample.
EXHAUSTIVE_LIMIT = 128
SAMPLES = 32
MARKERS = ("o", "s", "D", "^", "v", "P")

#: An input of length n that needs iteration_bound(n) iterations (found by exhaustive search
#: for n <= 9; none exists for sort_loop at n <= 2, where the bound n is not attained).
WORST = {
    "sort_loop": lambda n: [1, 1] + [0] * (n - 2) if n >= 2 else [0],
    "parity_loop": lambda n: [1] * n,
    "dyck1_loop": lambda n: ["("] * (n - n // 2) + [")"] * (n // 2),
    "add_loop": lambda n: (["1+1"] + ["0+1"] * (n - 2) + ["0+0"]) if n >= 2 else ["1+1"],
}


def _vocab(spec, n: int) -> tuple:
    return tuple(range(n)) if spec.name == "hops_loop" else tuple(spec.vocab)


def _inputs(spec, n: int, rng: np.random.Generator) -> tuple[list[list], bool]:
    """(the inputs of length n: every one, or a seeded sample plus WORST, exhaustive?)."""
    vocab = _vocab(spec, n)
    if len(vocab) ** n <= EXHAUSTIVE_LIMIT:
        xs = [list(x) for x in itertools.product(vocab, repeat=n)]
        exhaustive = True
    else:
        xs = [[vocab[i] for i in rng.integers(0, len(vocab), size=n)] for _ in range(SAMPLES)]
        if spec.name in WORST:
            xs.append(list(WORST[spec.name](n)))
        exhaustive = False
    return [x for x in xs if spec.accepts(x)], exhaustive


def _checked_outputs(model, spec, xs: list[list], what: str) -> list[bool]:
    """Whether each output equals the reference; raises if any does not (a figure must not
    plot a wrong model)."""
    ok = []
    for x, got in zip(xs, model.run_batch(xs)):
        ref = list(spec.reference(x))
        ok.append(list(got) == ref)
        assert ok[-1], f"{what}: model gives {got} on {x}, the reference {ref}"
    return ok


def _checked_iterations(model, spec, xs: list[list], what: str) -> list[int]:
    """The iterations the looped model ran on each input, checked against spec.iterations."""
    its = []
    for x, trace in zip(xs, model.loop_traces(xs)):
        want = spec.iterations(x)
        assert trace.halted and trace.iterations == want, (
            f"{what}: loop ran {trace.iterations} iterations (halted={trace.halted}) on {x}, "
            f"the interpreter {want}")
        its.append(trace.iterations)
    return its


def _sizes(model) -> dict:
    s = model.summary()
    loop = s.get("loop")
    return {"layers": s["layers"], "heads": int(sum(s["heads"])), "width": s["residual_width"],
            "params": s["params"], "params_nonzero": s["params_nonzero"],
            "block": len(loop["looped_layers"]) if loop else "",
            "layers_run_max": loop["max_layers_run"] if loop else s["layers"],
            "max_iterations": loop["max_iterations"] if loop else ""}


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    n_max = max(N_VALUES)
    lengths = range(1, n_max + 1)
    fig, axes = plotting.new_figure(width="double", height=2.2, ncols=3)
    rows, length_rows = [], []
    flat_layers: dict[int, list[str]] = {}
    for idx, name in enumerate(PROGRAMS):
        spec = LOOPED_PROGRAMS[name]
        inputs = {n: _inputs(spec, n, np.random.default_rng((seed, idx, n))) for n in lengths}

        # (c) one model, compiled at N_MAX, on every length n <= N_MAX (one batch of all).
        big = tk_compile(spec.at(max_seq_len=n_max), vocab=set(_vocab(spec, n_max)),
                         max_seq_len=n_max, verify=None, seed=seed)
        every = [x for n in lengths for x in inputs[n][0]]
        ok_all = iter(_checked_outputs(big, spec, every, f"{name} (compiled at N={n_max})"))
        its_all = iter(_checked_iterations(big, spec, every, f"{name} (compiled at N={n_max})"))
        big_runs = {}  # n -> (correct, iterations per input)
        for n in lengths:
            xs, exhaustive = inputs[n]
            its = [next(its_all) for _ in xs]
            correct = sum(next(ok_all) for _ in xs)
            big_runs[n] = correct, its
            assert max(its) <= spec.bound_at(n), f"{name}: {max(its)} iterations > bound at n={n}"
            length_rows.append((name, n_max, n, len(xs), exhaustive, correct, correct / len(xs),
                                min(its), max(its), float(np.mean(its)), spec.bound_at(n)))

        # (a), (b): looped and unrolled compiled at each N, checked at length N.
        looped, unrolled = [], []
        for n in N_VALUES:
            vocab = set(_vocab(spec, n))
            program = spec.at(max_seq_len=n)
            xs, exhaustive = inputs[n]
            if n == n_max:
                m, (lc, its) = big, big_runs[n]
            else:
                m = tk_compile(program, vocab=vocab, max_seq_len=n, verify=None, seed=seed)
                lc = sum(_checked_outputs(m, spec, xs, f"{name} looped N={n}"))
                its = _checked_iterations(m, spec, xs, f"{name} looped N={n}")
                assert its == big_runs[n][1], f"{name}: N={n} and N={n_max} loop differently"
            ls = _sizes(m)
            looped.append(ls)
            if n <= UNROLLED_MAX_N:
                u = tk_compile(rasp.unroll(program), vocab=vocab, max_seq_len=n, verify=None,
                               seed=seed)
                assert u.weights.loop is None
                uc = sum(_checked_outputs(u, spec, xs, f"{name} unrolled N={n}"))
                us = _sizes(u)
            else:
                uc, us = "", dict.fromkeys(ls, "")
            unrolled.append(us)
            rows.append((name, n, ls["max_iterations"], ls["layers"], ls["block"],
                         ls["layers_run_max"], us["layers"], ls["heads"], us["heads"],
                         ls["width"], us["width"], ls["params"], us["params"],
                         ls["params_nonzero"], us["params_nonzero"], len(xs), exhaustive, lc, uc,
                         max(its), spec.bound_at(n)))

        color, marker = f"C{idx}", MARKERS[idx % len(MARKERS)]
        n_unrolled = [n for n in N_VALUES if n <= UNROLLED_MAX_N]
        for ax, q in zip(axes[:2], ("layers", "params")):
            ax.plot(N_VALUES, [s[q] for s in looped], "-", marker=marker, color=color, ms=2.8,
                    lw=0.9, label=name.removesuffix("_loop"))
            ax.plot(n_unrolled, [s[q] for s in unrolled[:len(n_unrolled)]], "--", marker=marker,
                    color=color, ms=2.8, lw=0.9, mfc="white")
        flat_layers.setdefault(looped[0]["layers"], []).append(name.removesuffix("_loop"))
        axes[2].step(list(lengths), [spec.bound_at(n) for n in lengths], where="mid",
                     color=color, lw=0.8)
        axes[2].plot(list(lengths), [max(big_runs[n][1]) for n in lengths], marker, color=color,
                     ms=2.2)

    axes[0].set_ylabel("transformer layers")
    axes[1].set_ylabel("parameters (dense)")
    axes[1].set_yscale("log")
    for ax in axes[:2]:
        ax.set_xlabel("max_seq_len $N$")
    # The looped lines are flat and several coincide: say which is which.
    axes[0].annotate("looped, at every $N$:\n" + "\n".join(
        f"{k}: {', '.join(v)}" for k, v in sorted(flat_layers.items())),
        xy=(0.97, 0.3), xycoords="axes fraction", ha="right", va="center", fontsize=6)
    axes[0].legend(loc="upper left", fontsize=6, handletextpad=0.3)
    style = [axes[1].plot([], [], "ko-", ms=2.8, lw=0.9, label="looped (weight-shared)")[0],
             axes[1].plot([], [], "ko--", ms=2.8, lw=0.9, mfc="white",
                          label=f"unrolled (fixed depth, $N\\leq{UNROLLED_MAX_N}$)")[0]]
    lo, hi = axes[1].get_ylim()
    axes[1].set_ylim(lo / 4, hi)
    axes[1].legend(handles=style, loc="lower right", fontsize=6)
    axes[2].set_xlabel("input length $n$")
    axes[2].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[2].yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[2].set_ylabel("loop iterations")
    key = [axes[2].plot([], [], "ko", ms=2.2, label="most iterations run")[0],
           axes[2].plot([], [], "k-", lw=0.8, label="iteration_bound($n$)")[0]]
    lo, hi = axes[2].get_ylim()
    axes[2].set_ylim(lo, hi * 1.25)  # room for the key above the points
    axes[2].legend(handles=key, loc="upper left", fontsize=6,
                   title=f"one model ($N={n_max}$), exact at every $n$", title_fontsize=6)
    for ax, letter in zip(axes, "abc"):
        ax.set_title(f"({letter})", loc="left", fontsize=8)

    header = ("program", "N", "max_iterations", "looped_layers", "looped_block_layers",
              "looped_layers_run_max", "unrolled_layers", "looped_heads", "unrolled_heads",
              "looped_residual_width", "unrolled_residual_width", "looped_params",
              "unrolled_params", "looped_params_nonzero", "unrolled_params_nonzero",
              "inputs_at_N", "exhaustive", "looped_correct", "unrolled_correct",
              "iterations_max", "iteration_bound")
    length_header = ("program", "N_model", "n", "inputs", "exhaustive", "correct", "accuracy",
                     "iterations_min", "iterations_max", "iterations_mean", "iteration_bound")
    return plotting.save_figure(fig, NAME, out_dir,
                                data={"": (header, rows), "lengths": (length_header, length_rows)})


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
