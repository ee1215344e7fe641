"""Benchmark (issue 3): compile time and exhaustive-verification throughput of every library program.

Run from the repository root (no Tracr needed; `make bench` runs it through run_all.py):

    .venv/bin/python benchmarks/compiler_throughput.py           # every program, ~1-2 min
    .venv/bin/python benchmarks/compiler_throughput.py --quick   # shorter timing loops
    .venv/bin/python benchmarks/compiler_throughput.py --programs sort,add

For every program of `theory_kit.library.PROGRAMS` at its registry defaults (vocabulary,
max_seq_len, precondition), on every valid input of its default domain (`spec.inputs()`):

  compile       theory_kit.compile(..., verify=None): the compiler alone, first call in the
                process and a repeated call; and with the default verify="auto" (compile plus
                the built-in exhaustive check), which is what a user waits for.
  interpreter   rasp.evaluate_batch on the whole domain: inputs/s.
  forward       CompiledModel.run_batch (batched numpy forward + decoding) on the same
                inputs: inputs/s, and whether every output equals the interpreter's.
  sizes         layers, heads, residual width, parameters (dense, non-zero).

Throughputs are medians over repeated passes (at least --min-time seconds). numpy's BLAS runs
single-threaded by default (benchmarks/_threads.py; `--threads 0` for the library default).
Writes benchmarks/results/compiler_throughput.json and the table between the
compiler_throughput markers of benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _threads  # noqa: E402,F401  (sets BLAS threads: must come before numpy)

import numpy as np  # noqa: E402

import _common as C  # noqa: E402
import theory_kit  # noqa: E402
from theory_kit import library as lib  # noqa: E402
from theory_kit.compiler.verify import NUMERIC_ATOL, outputs_match  # noqa: E402
from theory_kit.errors import TheoryKitError  # noqa: E402
from theory_kit.rasp import evaluate_batch  # noqa: E402

OUT = C.RESULTS / "compiler_throughput.json"
ATOL = NUMERIC_ATOL[np.dtype(np.float64)]


def programs() -> dict:
    """name -> (build, vocab, max_seq_len, inputs, source): the registry if it exists."""
    registry = getattr(lib, "PROGRAMS", None)
    if registry:
        return {name: (spec, spec.vocab, spec.max_seq_len, lambda s=spec: list(s.inputs()),
                       spec.source) for name, spec in registry.items()}
    raise SystemExit("theory_kit.library.PROGRAMS is missing: nothing to benchmark")


def measure(name: str, build, vocab, max_seq_len: int, inputs: list, min_time: float) -> dict:
    res: dict = {"vocab": list(vocab), "max_seq_len": max_seq_len, "n_inputs": len(inputs)}
    try:
        start = time.perf_counter()
        model = theory_kit.compile(build(), vocab=set(vocab), max_seq_len=max_seq_len,
                                   verify=None)
        res["compile_s"] = time.perf_counter() - start
        _, res["compile_repeated_s"], _ = C.timed(
            lambda: theory_kit.compile(build(), vocab=set(vocab), max_seq_len=max_seq_len,
                                       verify=None), min_time)
        start = time.perf_counter()
        verified = theory_kit.compile(build(), vocab=set(vocab), max_seq_len=max_seq_len)
        res["compile_verified_s"] = time.perf_counter() - start
        res["verified_inputs"] = verified.constants.get("verified_inputs")
    except TheoryKitError as exc:
        res["error"] = f"{type(exc).__name__}: {exc}"[:400]
        return res
    s = model.summary()
    res["sizes"] = {"layers": s["layers"], "heads": int(sum(s["heads"])),
                    "mlp_hidden": s["mlp_hidden"], "residual_width": s["residual_width"],
                    "params": s["params"], "params_nonzero": s["params_nonzero"]}
    program = build()
    expected, res["interpreter_s"], res["interpreter_repeats"] = C.timed(
        lambda: evaluate_batch(program, inputs), min_time)
    model.run_batch(inputs[:64])  # warm-up
    got, res["forward_s"], res["forward_repeats"] = C.timed(
        lambda: model.run_batch(inputs), min_time)
    res["n_correct"] = sum(outputs_match(e, g, ATOL) for e, g in zip(expected, got))
    res["interpreter_inputs_per_s"] = len(inputs) / res["interpreter_s"]
    res["forward_inputs_per_s"] = len(inputs) / res["forward_s"]
    res["forward_over_interpreter"] = res["interpreter_s"] / res["forward_s"]
    res["flops_per_input_at_max_len"] = C.forward_flops(model.weights, max_seq_len)["total"]
    return res


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"Measured {result['finished']} in {result['wall_s']:.0f} s: `nproc` = {m['nproc']}, "
        f"{m['cpu_model']}, load average {', '.join(f'{x:.1f}' for x in m['load_average'])}; "
        f"Python {m['python']}, numpy {m['numpy']} ({m['blas']}); BLAS threads: "
        f"{result['settings']['threads'] or 'default'}. Command: `{result['command']}`.",
        "",
        "Every valid input of each program's default domain (registry vocabulary and "
        "max_seq_len, precondition applied). Compile: verify=None, first call (median of "
        "repeats in parentheses); \"+ verify\": the default `compile(...)`, which also checks "
        "the model on every input. Throughput: median inputs/s over repeated passes.",
        "",
    ]
    hdr = ("| program | source | vocab | N | inputs | compile s | + verify s | layers | heads | "
           "width | params (nonzero) | interpreter in/s | run_batch in/s | ×interp | correct |")
    lines += [hdr, "|" + "---|" * (hdr.count("|") - 1)]
    for name, r in result["programs"].items():
        vocab = "".join(map(str, r["vocab"])) if all(len(str(v)) == 1 for v in r["vocab"]) \
            else ",".join(map(str, r["vocab"]))
        if "error" in r:
            lines.append(f"| {name} | {r['source']} | {vocab} | {r['max_seq_len']} | "
                         f"{C.fmt(r['n_inputs'])} | fails: {r['error'][:80]} |" + " |" * 9)
            continue
        sz = r["sizes"]
        lines.append(
            f"| {name} | {r['source']} | {vocab} | {r['max_seq_len']} | {C.fmt(r['n_inputs'])} | "
            f"{C.fmt(r['compile_s'])} ({C.fmt(r['compile_repeated_s'])}) | "
            f"{C.fmt(r['compile_verified_s'])} | {sz['layers']} | {sz['heads']} | "
            f"{sz['residual_width']} | {C.fmt(sz['params'])} ({C.fmt(sz['params_nonzero'])}) | "
            f"{C.fmt(r['interpreter_inputs_per_s'])} | {C.fmt(r['forward_inputs_per_s'])} | "
            f"{C.fmt(r['forward_over_interpreter'])} | {r['n_correct']}/{r['n_inputs']} |")
    t = result["totals"]
    lines += ["", f"Totals: {C.fmt(t['inputs'])} inputs; compile {C.fmt(t['compile_s'])} s "
              f"(with verification {C.fmt(t['compile_verified_s'])} s); interpreter "
              f"{C.fmt(t['interpreter_inputs_per_s'])} inputs/s, run_batch "
              f"{C.fmt(t['forward_inputs_per_s'])} inputs/s over all programs; "
              f"{t['programs_exact']}/{t['programs']} programs exact on every input."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter timing loops (0.1 s)")
    parser.add_argument("--programs", default="", help="comma-separated names (default: all)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds each throughput/compile measurement repeats (default 0.5)")
    C.output_arguments(parser, OUT, seed=False)
    args = parser.parse_args(argv)
    min_time = args.min_time or (0.1 if args.quick else 0.5)
    table = programs()
    names = [x.strip() for x in args.programs.split(",") if x.strip()] or list(table)
    unknown = [x for x in names if x not in table]
    if unknown:
        parser.error(f"unknown programs {unknown}; known: {sorted(table)}")

    start = time.perf_counter()
    theory_kit.compile(lib.make_length(), vocab={1}, max_seq_len=2, verify=None).run([1])
    result: dict = {"description": "theory_kit compile time and exhaustive-verification "
                                   "throughput of every library program",
                    "generated_by": "benchmarks/compiler_throughput.py",
                    "command": C.command_line(), "machine": C.machine(),
                    "settings": {"min_time": min_time, "threads": args.threads},
                    "programs": {}}
    for i, name in enumerate(names, 1):
        build, vocab, n, inputs, source = table[name]
        xs = inputs()
        t0 = time.perf_counter()
        r = measure(name, build, vocab, n, xs, min_time)
        r["source"] = source
        result["programs"][name] = r
        status = r.get("error") or (f"compile {r['compile_s'] * 1e3:.1f} ms, interpreter "
                                    f"{r['interpreter_inputs_per_s']:,.0f}/s, run_batch "
                                    f"{r['forward_inputs_per_s']:,.0f}/s, "
                                    f"{r['n_correct']}/{r['n_inputs']} correct")
        C.progress(f"[{i}/{len(names)}] {name}: {status} ({time.perf_counter() - t0:.1f} s)")
    ok = [r for r in result["programs"].values() if "error" not in r]
    result["totals"] = {
        "programs": len(names), "inputs": sum(r["n_inputs"] for r in ok),
        "programs_exact": sum(r["n_correct"] == r["n_inputs"] for r in ok),
        "compile_s": sum(r["compile_s"] for r in ok),
        "compile_verified_s": sum(r["compile_verified_s"] for r in ok),
        "interpreter_inputs_per_s": sum(r["n_inputs"] for r in ok)
        / max(1e-12, sum(r["interpreter_s"] for r in ok)),
        "forward_inputs_per_s": sum(r["n_inputs"] for r in ok)
        / max(1e-12, sum(r["forward_s"] for r in ok)),
    }
    C.finish(result, start, args.out, markdown, readme=not args.no_readme,
             section="compiler_throughput", title="## Compiler throughput (`make bench`)")
    failed = [n for n, r in result["programs"].items()
              if "error" in r or r["n_correct"] != r["n_inputs"]]
    if failed:
        C.progress(f"NOT EXACT or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
