"""Benchmark (issue 15, items 2 and 4): tool-calling generation, compiled and in the oracle.

Run from the repository root (`make bench` runs it through run_all.py):

    .venv/bin/python benchmarks/tool_generation.py           # ~2-4 min
    .venv/bin/python benchmarks/tool_generation.py --quick   # one timed run each, fewer prompts

`make_mul_with_add` (theory_kit.library.tools: n-digit multiplication by calls to an `add`
tool, base 10) compiled with `compile_generator` (float64), then:

* compiled: `Model.generate` of `--batch` seeded prompts with the tool (cached keys and
  values, `theory_kit.model.incremental`), whole generations; decode steps/s = the number of
  decoder calls (the longest generation's model tokens) per second. Only public calls, so the
  same command measures any version of theory_kit (the issue's before/after numbers).
* oracle: `rasp.generate_batch` on `--oracle-batch` prompts with `vectorised=True`
  (`rasp.VectorisedDecoder`: one `evaluate_vectorised` call per step and sequence length)
  against `vectorised=False` (`rasp.InterpreterDecoder`: the scalar interpreter on every
  sequence at every step), in this run: their ratio; both must give the same generations.

Every generation is checked against the plain-Python reference. numpy's BLAS runs
single-threaded by default (benchmarks/_threads.py). Writes
benchmarks/results/tool_generation.json and the table between the tool_generation markers of
benchmarks/README.md.
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
from theory_kit import rasp  # noqa: E402
from theory_kit.library.tools import STOP, mul_with_add_spec  # noqa: E402

OUT = C.RESULTS / "tool_generation.json"


def compiled_run(model, spec, prompts: list, min_time: float) -> dict:
    kw = dict(max_new_tokens=spec.max_new_tokens, stop=STOP, tools=spec.tools())
    model.generate(prompts[:2], **kw)   # warm-up (plans)
    with C.no_gc():
        gens, seconds, runs = C.timed(lambda: model.generate(prompts, **kw), min_time)
    steps = max(sum(g.generated) for g in gens)
    return {"prompts": len(prompts), "seconds": seconds, "runs": runs, "decode_steps": steps,
            "steps_per_s": steps / seconds, "ms_per_step": 1e3 * seconds / steps,
            "correct": all(list(g.tokens) == spec.reference(p) for p, g in zip(prompts, gens))}


def oracle_run(spec, prompts: list, min_time: float) -> dict:
    program = spec.build()
    kw = dict(max_new_tokens=spec.max_new_tokens, stop=STOP, tools=spec.tools(),
              vocab=spec.vocab(), max_len=spec.max_seq_len)
    res: dict = {"prompts": len(prompts)}
    with C.no_gc():
        fast, res["vectorised_s"], res["vectorised_runs"] = C.timed(
            lambda: rasp.generate_batch(program, prompts, vectorised=True, **kw), min_time)
        slow, res["interpreter_s"], res["interpreter_runs"] = C.timed(
            lambda: rasp.generate_batch(program, prompts, vectorised=False, **kw), min_time)
    res["speedup"] = res["interpreter_s"] / res["vectorised_s"]
    res["same_generations"] = fast == slow
    res["correct"] = all(list(g.tokens) == spec.reference(p) for p, g in zip(prompts, fast))
    return res


def markdown(result: dict) -> str:
    s, c, o = result["settings"], result["compiled"], result["oracle"]
    oracle = [] if o is None else [
        "",
        "| oracle: prompts | vectorised s | interpreter s | × | same | correct |",
        "|---|---|---|---|---|---|",
        f"| {o['prompts']} | {C.fmt(o['vectorised_s'])} | {C.fmt(o['interpreter_s'])} | "
        f"{C.fmt(o['speedup'])} | {C.fmt(o['same_generations'])} | {C.fmt(o['correct'])} |"]
    return "\n".join([
        C.measured_line(result),
        "",
        f"`make_mul_with_add` (n = {s['digits']} digits, base {s['base']}, max_seq_len "
        f"{s['max_seq_len']}, residual width {s['residual_width']}), float64. Compiled: "
        f"`Model.generate` with the `add` tool on {c['prompts']} seeded prompts (cached keys "
        f"and values); a decode step is one decoder call for every active row. Oracle: "
        f"`rasp.generate_batch`, `VectorisedDecoder` vs `InterpreterDecoder`. Seconds: median "
        f"of repeated runs.",
        "",
        "| compiled: prompts | s | decode steps | steps/s | ms/step | correct |",
        "|---|---|---|---|---|---|",
        f"| {c['prompts']} | {C.fmt(c['seconds'])} | {c['decode_steps']} | "
        f"{C.fmt(c['steps_per_s'])} | {C.fmt(c['ms_per_step'])} | {C.fmt(c['correct'])} |",
    ] + oracle)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one timed run, fewer prompts")
    parser.add_argument("--digits", type=int, default=2, help="n, digits per operand")
    parser.add_argument("--batch", type=int, default=50, help="prompts of the compiled run")
    parser.add_argument("--oracle-batch", type=int, default=None,
                        help="prompts of the oracle run (default 4; --quick 2)")
    parser.add_argument("--no-oracle", action="store_true",
                        help="compiled run only (public calls of any theory_kit version)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds each measurement repeats (default 1; --quick 0)")
    C.output_arguments(parser, OUT)
    args = parser.parse_args(argv)
    min_time = args.min_time if args.min_time is not None else (0.0 if args.quick else 1.0)
    oracle_batch = args.oracle_batch or (2 if args.quick else 4)
    if args.digits < 1 or args.batch < 1 or oracle_batch < 1:
        parser.error("--digits, --batch and --oracle-batch must be at least 1")

    start = time.perf_counter()
    spec = mul_with_add_spec(args.digits, 10)
    t0 = time.perf_counter()
    model = theory_kit.compile_generator(spec.build(), vocab=set(spec.vocab()),
                                         max_seq_len=spec.max_seq_len, stop=STOP,
                                         tools=spec.tools(), verify=None, dtype=np.float64)
    compile_s = time.perf_counter() - t0
    prompts = spec.sample(args.batch, seed=args.seed)
    result: dict = {"description": "tool-calling generation: compiled decode steps/s, oracle "
                                   "vectorised vs interpreter",
                    "generated_by": "benchmarks/tool_generation.py",
                    "command": C.command_line(), "machine": C.machine(),
                    "settings": {"min_time": min_time, "threads": args.threads,
                                 "digits": args.digits, "base": 10, "seed": args.seed,
                                 "max_seq_len": spec.max_seq_len, "compile_s": compile_s,
                                 "residual_width": model.summary()["residual_width"]},
                    "prompts": prompts}
    result["compiled"] = c = compiled_run(model, spec, prompts, min_time)
    C.progress(f"compiled: {c['decode_steps']} steps in {c['seconds']:.3g} s, "
               f"{c['steps_per_s']:.3g} steps/s, correct: {c['correct']}")
    if args.no_oracle:
        result["oracle"] = o = None
    else:
        result["oracle"] = o = oracle_run(spec, prompts[:oracle_batch], min_time)
        C.progress(f"oracle: vectorised {o['vectorised_s']:.3g} s, interpreter "
                   f"{o['interpreter_s']:.3g} s, x{o['speedup']:.3g}, same: "
                   f"{o['same_generations']}")
    C.finish(result, start, args.out, markdown, readme=not args.no_readme,
             section="tool_generation", title="## Tool-calling generation (`make bench`)")
    ok = c["correct"] and (o is None or (o["correct"] and o["same_generations"]))
    if not ok:
        C.progress("WRONG GENERATIONS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
