"""Figure: transformer layers needed with and without chain of thought as the problem grows
(issue 15, item 6).

With chain of thought, one constant-depth program serves every size; it is compiled here at
each size n (`compile_generator`, verify=None, max_seq_len of size n) and its layer count stays
flat. Without it, the compiled model must produce the answer in one forward pass, and its depth
grows:

(a) Boolean circuits of n gates (Li, Liu, Zhou, Ma 2024): the chain-of-thought program
    `make_circuit_cot` (one token per gate) against `direct_circuit(n)` below, which evaluates
    the circuit in its layers: n - 1 rounds, each reading both inputs' values of every gate
    (the circuit can be a chain of n gates), then the last gate's value.
(b) Binary addition of d-digit numbers: `add_reversed` and `add_plain` in base 2 (written after
    the prompt) against the looped carry-save adder `add_loop` unrolled to a fixed-depth model
    (`rasp.unroll`, up to d carry rounds; theory_kit.library.looped), and parity of n bits: the
    running-parity chain of thought `parity` against the unrolled prefix-doubling `parity_loop`.

Every plotted model is checked before anything is drawn: on every input of its size when there
are at most EXHAUSTIVE_LIMIT, else SAMPLES seeded ones, the chain-of-thought models generate
their plain-Python reference and the one-pass models output the answer. `fig_cot_layers.csv`
holds per task, size and model: layers, attention heads, parameters, inputs checked.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from matplotlib.ticker import MaxNLocator

from theory_kit import plotting, rasp
from theory_kit.compiler import compile as tk_compile
from theory_kit.compiler.generation import compile_generator
from theory_kit.library.cot import COT_PROGRAMS, STOP, arithmetic_spec, circuit_gates
from theory_kit.library.looped import LOOPED_PROGRAMS

NAME = "fig_cot_layers"
GATES = range(1, 9)
DIGITS = range(1, 9)
EXHAUSTIVE_LIMIT = 64
SAMPLES = 32
_NONE = "_"


def _apply(gate, pair):
    u, w = pair
    if not (isinstance(gate, tuple) and len(gate) >= 2):
        return _NONE
    if gate[0] == "IN":
        return gate[1]
    if u not in (0, 1) or (gate[0] != "NOT" and w not in (0, 1)):
        return _NONE
    return {"NOT": lambda: 1 - u, "AND": lambda: u & w, "OR": lambda: u | w}[gate[0]]()


def direct_circuit(n: int) -> rasp.SOp:
    """The value of an n-gate circuit (prompt g_0 .. g_{n-1} "=") at the "=" position, computed
    in the layers: round s gives every gate of depth <= s its value (n - 1 rounds)."""
    gate = rasp.tokens
    inputs = [rasp.categorical(rasp.Map(
        lambda g, w=w: g[1 + w] if isinstance(g, tuple) and g[0] in ("AND", "OR")
        else (g[1] if isinstance(g, tuple) and g[0] == "NOT" else -1), gate)).named(f"in{w}")
        for w in (0, 1)]
    vals = rasp.categorical(rasp.Map(lambda g: _apply(g, (_NONE, _NONE)), gate)).named("vals0")
    for s in range(1, n):
        read = [rasp.categorical(rasp.Aggregate(
            rasp.Select(rasp.indices, inputs[w], rasp.Comparison.EQ).named(f"sel{s}_{w}"),
            vals, default=_NONE)).named(f"val{s}_{w}") for w in (0, 1)]
        pair = rasp.categorical(rasp.SequenceMap(lambda u, w: (u, w), *read)).named(f"pair{s}")
        vals = rasp.categorical(rasp.SequenceMap(_apply, gate, pair)).named(f"vals{s}")
    last = rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == q - 1).named("sel_last")
    return rasp.categorical(rasp.Aggregate(last, vals, default=_NONE)).named("circuit_direct")


def _inputs(space: list, rng: np.random.Generator) -> tuple[list, bool]:
    total = 1
    for options in space:
        total *= len(options)
    if total <= EXHAUSTIVE_LIMIT:
        return [list(x) for x in itertools.product(*space)], True
    return [[opts[int(rng.integers(len(opts)))] for opts in space] for _ in range(SAMPLES)], False


def _sizes(model) -> dict:
    s = model.summary()
    return {"layers": s["layers"], "heads": int(sum(s["heads"])), "params": s["params"]}


def _cot_row(task, spec, n, rng, seed):
    prompts, exhaustive = _inputs(list(spec.choices(n)), rng)
    model = compile_generator(spec(), vocab=set(spec.vocab(n)), max_seq_len=spec.max_seq_len(n),
                              stop=STOP, verify=None, seed=seed)
    for p, g in zip(prompts, model.generate(prompts, max_new_tokens=spec.max_seq_len(n),
                                            stop=STOP)):
        assert list(g.tokens) == spec.reference(p), (spec.name, n, p, g.tokens)
    return (task, n, "chain of thought", spec.name, *_sizes(model).values(), len(prompts),
            exhaustive)


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    rows = []
    rng = np.random.default_rng(seed)
    circuit = COT_PROGRAMS["circuit"]
    for n in GATES:
        rows.append(_cot_row("circuit", circuit, n, rng, seed))
        space = [circuit_gates(i) for i in range(n)] + [("=",)]
        xs, exhaustive = _inputs(space, rng)
        model = tk_compile(direct_circuit(n), vocab=set(circuit.vocab(n)), max_seq_len=n + 1,
                           verify=None, seed=seed)
        for x, out in zip(xs, model.run_batch(xs)):
            want = circuit.answer(x)
            assert out[-1] == want, (n, x, out[-1], want)
        rows.append(("circuit", n, "one pass", "direct_circuit", *_sizes(model).values(),
                     len(xs), exhaustive))

    cot_specs = {"addition": (arithmetic_spec("+", "reversed", base=2),
                              arithmetic_spec("+", "plain", base=2)),
                 "parity": (COT_PROGRAMS["parity"],)}
    loops = {"addition": "add_loop", "parity": "parity_loop"}
    for task in ("addition", "parity"):
        for n in DIGITS:
            for spec in cot_specs[task]:
                rows.append(_cot_row(task, spec, n, rng, seed))
            loop = LOOPED_PROGRAMS[loops[task]]
            xs, exhaustive = _inputs([loop.vocab] * n, rng)
            xs = [x for x in xs if loop.accepts(x)]
            model = tk_compile(rasp.unroll(loop.at(max_seq_len=n)), vocab=set(loop.vocab),
                               max_seq_len=n, verify=None, seed=seed)
            for x, out in zip(xs, model.run_batch(xs)):
                assert list(out) == list(loop.reference(x)), (loop.name, x, out)
            rows.append((task, n, "one pass", f"{loops[task]} unrolled",
                         *_sizes(model).values(), len(xs), exhaustive))

    fig, axes = plotting.new_figure(width="double", height=2.4, ncols=2)
    styles = {"chain of thought": "-", "one pass": "--"}
    panels = {"circuit": axes[0], "addition": axes[1], "parity": axes[1]}
    for cidx, key in enumerate(sorted({(r[0], r[2], r[3]) for r in rows},
                                      key=lambda k: (k[0], k[1], k[2]))):
        task, kind, program = key
        mine = [r for r in rows if (r[0], r[2], r[3]) == key]
        panels[task].plot([r[1] for r in mine], [r[4] for r in mine], styles[kind],
                          marker="os^Dv<>"[cidx % 7], color=f"C{cidx % 10}", ms=3, lw=0.9,
                          label=f"{program} ({kind})" if task != "circuit" else kind)
    axes[0].set_xlabel("circuit size n (gates)")
    axes[1].set_xlabel("digits / bits n")
    for ax, title in zip(axes, ("(a) circuit evaluation", "(b) binary addition and parity")):
        ax.set_ylabel("compiled layers")
        ax.set_title(title, loc="left", fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=5.5, loc="upper left")
    header = ("task", "n", "kind", "program", "layers", "heads", "params", "inputs_checked",
              "exhaustive")
    return plotting.save_figure(fig, NAME, out_dir, data=(header, rows))


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
