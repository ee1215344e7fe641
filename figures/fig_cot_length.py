"""Figure: chain-of-thought length used against the sympy formula (issue 15, item 6).

(a) Every chain-of-thought library program (theory_kit.library.cot.COT_PROGRAMS) is compiled
once (`compile_generator`, verify=None, at its largest size in SIZES) and the compiled model
generates (cached keys and values) on the prompts of every size n in SIZES: all of them when a
size has at most EXHAUSTIVE_LIMIT prompts, else SAMPLES seeded ones. The number of tokens it
writes (scratchpad, answer and stop token) is plotted against n, with the program's sympy
formula `cot_length` as a line; every generation is checked against the plain-Python reference
before anything is drawn (a figure must not plot a wrong model).

(b) The tool-using multiplier (theory_kit.library.tools: n-digit multiplication by calls to an
`add` tool): per prompt, the tokens after the prompt (model tokens and the runtime's result
blocks) measured from the compiled model's generation, against the formula T (6n + 6) + 2n + 1
in the number of calls T = sum_k max(b_k, 1), for base 2 (shift and add, T = n) and base 10.

The CSV `fig_cot_length.csv` holds, per program and size, the prompts run, whether that was
every prompt, the measured minimum and maximum length and the formula;
`fig_cot_length_tools.csv` holds, per (base, n, calls), the prompts, measured and formula.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from theory_kit import plotting
from theory_kit.compiler.generation import compile_generator
from theory_kit.library.cot import COT_PROGRAMS, STOP
from theory_kit.library.tools import mul_with_add_spec

NAME = "fig_cot_length"
#: Sizes per program (the largest is the compiled size).
SIZES = {"parity": range(1, 13), "circuit": range(1, 9), "hops": range(1, 9)}
ARITHMETIC_SIZES = range(1, 6)
EXHAUSTIVE_LIMIT = 64
SAMPLES = 24
#: Tool program: (base, n) compiled, and the prompts per configuration (all when fewer).
TOOL_CONFIGS = ((2, 1), (2, 2), (2, 3), (10, 1))
TOOL_SAMPLES = 40
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*", "<", ">")


def _sizes(name: str):
    return SIZES.get(name, ARITHMETIC_SIZES)


def _prompts(spec, n: int, rng: np.random.Generator) -> tuple[list, bool]:
    if spec.count(n) <= EXHAUSTIVE_LIMIT:
        return list(spec.prompts(n)), True
    return spec.sample(n, SAMPLES, seed=int(rng.integers(2 ** 31))), False


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    fig, axes = plotting.new_figure(width="double", height=2.6, ncols=2)
    rows, tool_rows = [], []
    for idx, (name, spec) in enumerate(COT_PROGRAMS.items()):
        sizes = list(_sizes(name))
        top = sizes[-1]
        rng = np.random.default_rng((seed, idx))
        model = compile_generator(spec(), vocab=set(spec.vocab(top)),
                                  max_seq_len=spec.max_seq_len(top), stop=STOP, verify=None,
                                  seed=seed)
        measured = []
        for n in sizes:
            prompts, exhaustive = _prompts(spec, n, rng)
            gens = model.generate(prompts, max_new_tokens=spec.max_seq_len(top), stop=STOP)
            lengths = []
            for p, g in zip(prompts, gens):
                assert g.stopped and list(g.tokens) == spec.reference(p), (name, p, g.tokens)
                lengths.append(len(g.tokens))
            formula = spec.cot_length_at(n)
            measured.append((min(lengths), max(lengths)))
            rows.append((name, n, len(prompts), exhaustive, min(lengths), max(lengths), formula,
                         str(spec.cot_length)))
        color, marker = f"C{idx % 10}", MARKERS[idx % len(MARKERS)]
        axes[0].plot(sizes, [spec.cot_length_at(n) for n in sizes], "-", color=color, lw=0.8)
        axes[0].plot(sizes, [hi for _, hi in measured], marker, color=color, ms=2.6,
                     label=f"{name}: {spec.cot_length}".replace("*", ""))

    for cidx, (base, n) in enumerate(TOOL_CONFIGS):
        spec = mul_with_add_spec(n, base)
        model = compile_generator(spec.build(), vocab=set(spec.vocab()),
                                  max_seq_len=spec.max_seq_len, stop=STOP, tools=spec.tools(),
                                  verify=None, seed=seed)
        prompts = list(spec.prompts()) if spec.count() <= TOOL_SAMPLES else \
            spec.sample(TOOL_SAMPLES, seed=seed + cidx)
        gens = model.generate(prompts, max_new_tokens=spec.max_new_tokens, stop=STOP,
                              tools=spec.tools())
        by_calls: dict[int, list] = {}
        for p, g in zip(prompts, gens):
            assert list(g.tokens) == spec.reference(p), (base, n, p)
            assert spec.read_answer(g.model_tokens) == spec.answer(p)
            by_calls.setdefault(len(g.calls), []).append((len(g.tokens), spec.tokens_at(p)))
        for calls, pairs in sorted(by_calls.items()):
            got = sorted({m for m, _ in pairs})
            formula = {f for _, f in pairs}
            assert len(got) == 1 and formula == set(got), (base, n, calls, got, formula)
            tool_rows.append((base, n, calls, len(pairs), got[0], formula.pop()))
        xs = sorted(by_calls)
        axes[1].plot(xs, [by_calls[c][0][0] for c in xs], MARKERS[cidx], color=f"C{cidx}",
                     ms=3, label=f"base {base}, n = {n}")
        grid = np.arange(min(xs), max(xs) + 1)
        axes[1].plot(grid, grid * (6 * n + 6) + 2 * n + 1, "-", color=f"C{cidx}", lw=0.8)

    axes[0].set_xlabel("problem size n (bits, digits, gates, hops)")
    axes[0].set_ylabel("tokens written (stop included)")
    axes[0].legend(fontsize=5, ncol=2, loc="upper left", handletextpad=0.2, columnspacing=0.6)
    axes[0].set_title("(a) chain of thought: measured (markers), formula (lines)",
                      loc="left", fontsize=7)
    axes[1].set_xlabel("tool calls T")
    axes[1].set_ylabel("tokens after the prompt")
    axes[1].legend(fontsize=6, loc="upper left",
                   title="line: T (6n + 6) + 2n + 1", title_fontsize=6)
    axes[1].set_title("(b) multiplication with an add tool", loc="left", fontsize=7)
    header = ("program", "n", "prompts", "exhaustive", "measured_min", "measured_max",
              "formula", "formula_expr")
    tool_header = ("base", "n", "calls", "prompts", "measured", "formula")
    return plotting.save_figure(fig, NAME, out_dir,
                                data={"": (header, rows), "tools": (tool_header, tool_rows)})


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
