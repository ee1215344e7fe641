"""Benchmark (issue 14): the weight-shared looped model against the unrolled fixed-depth one.

Run from the repository root (`make bench` runs it through run_all.py):

    .venv/bin/python benchmarks/looped_throughput.py            # ~1 min
    .venv/bin/python benchmarks/looped_throughput.py --quick    # 500 inputs, short timing
    .venv/bin/python benchmarks/looped_throughput.py --programs sort_loop --lengths 8,16,24

For the looped library programs sort_loop, dyck1_loop and parity_loop
(`theory_kit.library.looped.LOOPED_PROGRAMS`, registry vocabularies) at max_seq_len N = 8 and
16, each built with `spec.at(max_seq_len=N)` and compiled twice with verify=None:

  looped    theory_kit.compile(program): the block layers[start:stop] of the weights runs
            pass after pass until every sequence of a chunk has halted (max_iterations at
            most); sequences that halted leave the working batch.
  unrolled  theory_kit.compile(rasp.unroll(program)): max_iterations gated copies of the body,
            a fixed-depth transformer that runs every layer on every input.

Both run `CompiledModel.run_batch` on the same fixed seeded inputs (--count, default 2,000:
lengths uniform in 1..N, a quarter at N, every token repeated N times, a third of the
even-length Dyck inputs balanced; `_common.random_inputs`), timed interleaved (looped run,
unrolled run, ... at least --min-time seconds and 3 rounds each; medians) with the cyclic
garbage collector paused, one BLAS thread. Reported: inputs/s of both, the ratio looped time /
unrolled time (< 1: the looped model is faster), and the looped model's iterations per second:
block passes over all sequences / time, where the passes are counted as the runtime ran them
(the sequences in the working batch, summed over passes; counted in one untimed run) and, for
comparison, as needed (min(iterations + 1, max_iterations) per input from
`Model.loop_traces`: the last pass is the one that finds the sequence halted). Before timing,
both models' outputs are compared with `spec.reference` and the looped model's iterations with
`spec.iterations` on every input: an inexact model makes the script exit non-zero.

Ratios, not absolute wall-clock claims: both sides run in the same process on the same
inputs, interleaved, so they share the machine's load (recorded in the JSON). Writes
benchmarks/results/looped_throughput.json and the table between the looped_throughput markers
of benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _threads  # noqa: E402,F401  (sets BLAS threads: must come before numpy)

import numpy as np  # noqa: E402

import _common as C  # noqa: E402
import theory_kit  # noqa: E402
from theory_kit import rasp  # noqa: E402
from theory_kit.library.looped import LOOPED_PROGRAMS  # noqa: E402

#: The runtime module (theory_kit.model re-exports a function of the same name).
_forward = importlib.import_module("theory_kit.model.forward")

OUT = C.RESULTS / "looped_throughput.json"
PROGRAMS = ("sort_loop", "dyck1_loop", "parity_loop")
LENGTHS = (8, 16)
DYCK_PAIRS = {"dyck1_loop": ("()",), "dyck2_loop": ("()", "[]")}


def _sizes(model) -> dict:
    s = model.summary()
    out = {"layers": s["layers"], "heads": int(sum(s["heads"])),
           "residual_width": s["residual_width"], "params": s["params"],
           "params_nonzero": s["params_nonzero"]}
    if "loop" in s:
        out.update(block_layers=len(s["loop"]["looped_layers"]),
                   max_iterations=s["loop"]["max_iterations"],
                   max_layers_run=s["loop"]["max_layers_run"])
    return out


def _inputs(name: str, n: int, count: int, seed: int) -> list[list]:
    spec = LOOPED_PROGRAMS[name]
    vocab = tuple(range(n)) if name == "hops_loop" else spec.vocab
    xs = C.random_inputs(vocab, n, count, C.stable_seed(seed, name, n), full_fraction=0.25,
                         edge_cases=True, dyck_pairs=DYCK_PAIRS.get(name, ()))
    return [x for x in xs if spec.accepts(x)]


def executed_passes(model, xs: list) -> tuple[int, int] | None:
    """(sequence-passes, batch passes) the runtime ran in one `run_batch` of xs: every pass
    reads the halting flag of its working batch once (`theory_kit.model.forward.halted`), so
    counting those calls and their batch sizes counts the passes. None when the runtime no
    longer reads the flag through that function."""
    original = getattr(_forward, "halted", None)
    if original is None:
        return None
    counts = [0, 0]

    def counting(weights, x, b, t, mask=None):
        counts[0] += b
        counts[1] += 1
        return original(weights, x, b, t, mask)

    _forward.halted = counting
    try:
        model.run_batch(xs)
    finally:
        _forward.halted = original
    return (counts[0], counts[1]) if counts[1] else None


def interleaved(fns: dict, min_time: float, max_rounds: int = 50) -> dict:
    """Median seconds per call of each function, timed in rounds (one call of each per round)
    until every one has run >= min_time in total and >= 3 times."""
    times: dict = {k: [] for k in fns}
    for _ in range(max_rounds):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
        if all(len(t) >= 3 and sum(t) >= min_time for t in times.values()):
            break
    return {k: (float(np.median(t)), len(t)) for k, t in times.items()}


def measure(name: str, n: int, count: int, seed: int, min_time: float) -> dict:
    spec = LOOPED_PROGRAMS[name]
    vocab = set(range(n)) if name == "hops_loop" else set(spec.vocab)
    program = spec.at(max_seq_len=n)
    xs = _inputs(name, n, count, seed)
    res: dict = {"max_seq_len": n, "vocab": sorted(vocab, key=str), "n_inputs": len(xs)}
    start = time.perf_counter()
    looped = theory_kit.compile(program, vocab=vocab, max_seq_len=n, verify=None)
    res["looped_compile_s"] = time.perf_counter() - start
    start = time.perf_counter()
    unrolled = theory_kit.compile(rasp.unroll(program), vocab=vocab, max_seq_len=n, verify=None)
    res["unrolled_compile_s"] = time.perf_counter() - start
    res["looped"], res["unrolled"] = _sizes(looped), _sizes(unrolled)

    # Exactness (also the warm-up of both models).
    ref = [list(spec.reference(x)) for x in xs]
    res["looped_correct"] = sum(list(g) == r for g, r in zip(looped.run_batch(xs), ref))
    res["unrolled_correct"] = sum(list(g) == r for g, r in zip(unrolled.run_batch(xs), ref))
    traces = looped.loop_traces(xs)
    its = [tr.iterations for tr in traces]
    res["iterations_correct"] = sum(tr.halted and i == spec.iterations(x)
                                    for tr, i, x in zip(traces, its, xs))
    m = looped.weights.loop.max_iterations
    res["iterations"] = {"max": max(its), "mean": float(np.mean(its)),
                         "bound": spec.bound_at(n)}
    res["passes_needed"] = int(sum(min(i + 1, m) for i in its))
    executed = executed_passes(looped, xs)
    res["passes_executed"], res["batch_passes"] = executed if executed else (None, None)

    with C.no_gc():
        timed = interleaved({"looped": lambda: looped.run_batch(xs),
                             "unrolled": lambda: unrolled.run_batch(xs)}, min_time)
    (res["looped_s"], res["looped_runs"]), (res["unrolled_s"], res["unrolled_runs"]) = \
        timed["looped"], timed["unrolled"]
    res["looped_inputs_per_s"] = len(xs) / res["looped_s"]
    res["unrolled_inputs_per_s"] = len(xs) / res["unrolled_s"]
    res["ratio_looped_over_unrolled"] = res["looped_s"] / res["unrolled_s"]
    passes = res["passes_executed"] or res["passes_needed"]
    res["looped_iterations_per_s"] = passes / res["looped_s"]
    res["looped_needed_iterations_per_s"] = res["passes_needed"] / res["looped_s"]
    res["exact"] = (res["looped_correct"] == res["unrolled_correct"] == res["iterations_correct"]
                    == len(xs))
    return res


def markdown(result: dict) -> str:
    st = result["settings"]
    lines = [
        C.measured_line(result),
        "",
        f"{st['count']:,} seeded inputs per (program, N) (lengths 1..N, a quarter at N), the "
        "same for both models; `run_batch` timed interleaved, medians. Layers, params "
        "(non-zero): looped / unrolled. Iterations: most and mean the loop ran, and the "
        "sympy bound at N. Passes: block passes over all sequences as the runtime ran them "
        "(needed: min(iterations + 1, max_iterations) per input). Ratio: looped time / "
        "unrolled time (< 1: looped faster).",
        "",
    ]
    hdr = ("| program | N | inputs | layers l/u | params l/u | nonzero l/u | iterations "
           "max / mean / bound | passes run (needed) | looped in/s | unrolled in/s | "
           "looped iterations/s | ratio l/u | exact |")
    lines += [hdr, "|" + "---|" * (hdr.count("|") - 1)]
    for key, r in result["runs"].items():
        name = key.rsplit("@", 1)[0]
        lo, un, it = r["looped"], r["unrolled"], r["iterations"]
        lines.append(
            f"| {name} | {r['max_seq_len']} | {C.fmt(r['n_inputs'])} | "
            f"{lo['layers']} ({lo['block_layers']} looped x <={lo['max_iterations']}) / "
            f"{un['layers']} | {C.fmt(lo['params'])} / {C.fmt(un['params'])} | "
            f"{C.fmt(lo['params_nonzero'])} / {C.fmt(un['params_nonzero'])} | "
            f"{it['max']} / {it['mean']:.2f} / {it['bound']} | "
            f"{C.fmt(r['passes_executed'])} ({C.fmt(r['passes_needed'])}) | "
            f"{C.fmt(r['looped_inputs_per_s'])} | {C.fmt(r['unrolled_inputs_per_s'])} | "
            f"{C.fmt(r['looped_iterations_per_s'])} | {r['ratio_looped_over_unrolled']:.3g} | "
            f"{'yes' if r['exact'] else 'NO'} |")
    ratios = [r["ratio_looped_over_unrolled"] for r in result["runs"].values()]
    lines += ["", f"Ratio looped/unrolled time: geometric mean "
              f"{math.exp(sum(map(math.log, ratios)) / len(ratios)):.3g}, range "
              f"{min(ratios):.3g}..{max(ratios):.3g}."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="500 inputs, 0.1 s of timing per side")
    parser.add_argument("--programs", default=",".join(PROGRAMS),
                        help=f"comma-separated names of {','.join(LOOPED_PROGRAMS)}")
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)),
                        help="comma-separated max_seq_len values (default 8,16)")
    parser.add_argument("--count", type=int, default=None,
                        help="inputs per (program, N) (default 2,000; 500 --quick)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds of timing per side (default 1.0; 0.1 --quick)")
    C.output_arguments(parser, OUT)
    args = parser.parse_args(argv)
    count = args.count or (500 if args.quick else 2000)
    min_time = args.min_time or (0.1 if args.quick else 1.0)
    names = [x.strip() for x in args.programs.split(",") if x.strip()]
    unknown = [x for x in names if x not in LOOPED_PROGRAMS]
    if unknown:
        parser.error(f"unknown programs {unknown}; known: {sorted(LOOPED_PROGRAMS)}")
    lengths = [int(x) for x in args.lengths.split(",") if x.strip()]

    start = time.perf_counter()
    result: dict = {"description": "weight-shared looped model vs the unrolled fixed-depth "
                                   "model: run_batch time, iterations/s, sizes",
                    "generated_by": "benchmarks/looped_throughput.py",
                    "command": C.command_line(), "machine": C.machine(),
                    "settings": {"count": count, "min_time": min_time, "seed": args.seed,
                                 "threads": args.threads},
                    "runs": {}}
    jobs = [(name, n) for name in names for n in lengths]
    for i, (name, n) in enumerate(jobs, 1):
        t0 = time.perf_counter()
        r = result["runs"][f"{name}@{n}"] = measure(name, n, count, args.seed, min_time)
        C.progress(f"[{i}/{len(jobs)}] {name} N={n}: looped {r['looped_inputs_per_s']:,.0f} "
                   f"in/s, unrolled {r['unrolled_inputs_per_s']:,.0f} in/s, ratio "
                   f"{r['ratio_looped_over_unrolled']:.3g}, {r['looped_iterations_per_s']:,.0f} "
                   f"iterations/s, exact={r['exact']} ({time.perf_counter() - t0:.1f} s)")
    C.finish(result, start, args.out, markdown, readme=not args.no_readme,
             section="looped_throughput", title="## Looped vs unrolled throughput (`make bench`)")
    bad = [k for k, r in result["runs"].items() if not r["exact"]]
    if bad:
        C.progress(f"NOT EXACT: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
