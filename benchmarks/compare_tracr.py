"""Benchmark: theory_kit against Tracr, side by side, on Tracr's library programs.

Run from the repository root (`make bench-peers` does both steps):

    .venv/bin/python benchmarks/setup_tracr_venv.py      # once: .venv-tracr with Tracr
    .venv/bin/python benchmarks/compare_tracr.py          # default run (~20 min on 2 cores)
    .venv/bin/python benchmarks/compare_tracr.py --quick  # a few minutes
    .venv/bin/python benchmarks/compare_tracr.py --programs sort,hist --lengths 5,10

theory_kit runs in this process; Tracr runs in a long-lived subprocess,
`.venv-tracr/bin/python benchmarks/_tracr_worker.py`, that receives the very same inputs
(generated once, seeded, here) as JSON lines. The two are interleaved program by program, so
both see similar machine load. Tracr is never imported here.

For every program (built by theory_kit.library.PROGRAMS[name].at for the vocabulary and N; Tracr
builds the same expression, `call_at`, from its lib.py; vocabularies from Tracr's own tests,
listed in PROGRAMS below) and every max_seq_len N in --lengths (default 5, 10, 20, 40):

  compile time    first compile of that program at that N in the process (Tracr's includes
                  XLA compiling its haiku init for new shapes) and a repeated compile;
                  theory_kit compiles with verify=None (Tracr does not verify either).
  sizes           layers, heads, residual width, parameters (dense and non-zero).
  verification    the set of inputs: every input of length 1..N when there are at most
                  --exhaustive-limit of them, else a seeded sample of --sample inputs; each
                  system's outputs are compared with its own interpreter (theory_kit:
                  rasp.evaluate_batch; Tracr: rasp.evaluate). Throughput in inputs/s for
                  theory_kit's run_batch (numpy, batched, float64), Tracr's documented
                  `model.apply(["BOS", *x])` one input at a time (steady state after one
                  warm-up call, on inputs of the longest length; XLA compiles every op again
                  for each new length, which is not charged), and a jax.jit of Tracr's own haiku
                  forward on padded batches (PAD keys masked; jit compile not charged).
  FLOPs           multiply-adds of our forward per input (dense, from the weight shapes, and
                  executed by the planned forward), the achieved GFLOP/s, and that as a
                  fraction of a float64 numpy matmul measured in the same run.

Exactness sweep: for N in --sweep-lengths (8 .. 256), compile and check 1,000 seeded random
inputs (lengths uniform in 1..N, a quarter at N, every token repeated N times, and for the
Dyck programs a third balanced); each system stops at its first inexact N, at a compile over
--compile-budget seconds, or when evaluating would take over --eval-budget seconds.

Writes benchmarks/results/compare_tracr.json and the tables between the compare_tracr markers
of benchmarks/README.md. Timings are wall-clock, evidence only; tests never assert them.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _threads  # noqa: E402  (sets BLAS threads: must come before numpy)

import numpy as np  # noqa: E402

import _common as C  # noqa: E402
import tracr_env  # noqa: E402

import theory_kit  # noqa: E402
from theory_kit import library as lib  # noqa: E402
from theory_kit.compiler.verify import NUMERIC_ATOL, outputs_match  # noqa: E402
from theory_kit.errors import EvaluationError, TheoryKitError  # noqa: E402
from theory_kit.rasp import evaluate, evaluate_batch  # noqa: E402

OUT = C.RESULTS / "compare_tracr.json"
WORKER = C.BENCH / "_tracr_worker.py"
REPLY_PREFIX = "@@TRACR_REPLY "
SEED = 20240601
ATOL = NUMERIC_ATOL[np.dtype(np.float64)]
#: Targets of issue 8 (ours / Tracr).
TARGET_VS_APPLY = 100.0
TARGET_VS_JIT = 2.0
TARGET_COMPILE = 0.1
TARGET_WIDTH = 0.7
TARGET_EXACT_UP_TO = 64


@dataclass(frozen=True)
class Bench:
    """Benchmark settings for a Tracr lib program (a key of theory_kit.library.PROGRAMS).

    The program itself comes from the registry, built at each N for the benchmark's vocabulary
    (`program_at`); Tracr gets the same program as the expression `call_at` over its lib.py."""

    name: str
    vocab: tuple
    why: str
    distinct: bool = False          # inputs must have distinct tokens (vocab grows with N)
    dyck_pairs: tuple = ()
    default: bool = True

    def vocab_at(self, n: int) -> list:
        if self.distinct:
            return list(range(1, max(len(self.vocab), n) + 1))
        return list(self.vocab)

    def program_at(self, n: int):
        return lib.PROGRAMS[self.name].at(vocab=self.vocab_at(n), max_seq_len=n)

    def call_at(self, n: int) -> str:
        return lib.PROGRAMS[self.name].call_at(vocab=self.vocab_at(n), max_seq_len=n)


PROGRAMS = [
    Bench("length", (1, 2, 3), "vocab as in the brief"),
    Bench("reverse", ("a", "b", "c"), "Tracr tests use {a,b,c,d}"),
    Bench("hist", ("a", "b", "c", "d"), "Tracr test"),
    Bench("sort_unique", (1, 2, 3, 4, 5),
          "Tracr test {1..4}; vocab {1..max(5, N)}: inputs need distinct tokens", distinct=True),
    Bench("sort", (1, 2, 3, 4), "Tracr test; max_seq_len argument = N"),
    Bench("sort_freq", (1, 2, 3, 4), "Tracr test; max_seq_len argument = N"),
    Bench("frac_prevs", ("a", "b", "x"),
          "Tracr test uses == 'l' over {h,e,l,o}; counts the first token, 'a'"),
    Bench("pair_balance", ("(", ")", "a", "b", "c"), "Tracr test", dyck_pairs=("()",)),
    Bench("shuffle_dyck", ("(", ")", "a"), "Tracr tests use [\"()\", \"{}\"]",
          dyck_pairs=("()",)),
    Bench("shuffle_dyck2", ("(", ")", "{", "}"), "Tracr test", dyck_pairs=("()", "{}")),
    Bench("count_less_freq", ("a", "b", "c", "d"), "Tracr test"),
    Bench("count", ("a", "b", "c"), "Tracr test"),
    Bench("detect_pattern", ("a", "b", "c"), "Tracr test"),
    Bench("shift_by", ("a", "b", "c", "d"), "Tracr test", default=False),
    Bench("nary_sequencemap", (0, 1, 2), "theory_kit library default", default=False),
]
BY_NAME = {b.name: b for b in PROGRAMS}


# -- theory_kit side ---------------------------------------------------------------------------


def interpret(program, inputs: list, budget_s: Optional[float] = None) -> tuple[list, int, float]:
    """theory_kit's interpreter on every input: (outputs, number of errors, seconds).

    With budget_s: raises C.BudgetExceeded when every tenth input, evaluated first, projects
    the whole past the budget (or the whole run passes it)."""
    start = time.perf_counter()
    try:
        if budget_s:
            # Probe every tenth input (the edge cases come first and are all full-length).
            idx = list(range(0, len(inputs), 10))
            rest = [i for i in range(len(inputs)) if i % 10]
            with C.time_budget(budget_s):
                probe = evaluate_batch(program, [inputs[i] for i in idx])
                if (time.perf_counter() - start) * len(inputs) / len(idx) > budget_s:
                    raise C.BudgetExceeded()
                outs = [None] * len(inputs)
                for i, v in zip(idx, probe):
                    outs[i] = v
                for i, v in zip(rest, evaluate_batch(program, [inputs[i] for i in rest])):
                    outs[i] = v
        else:
            outs = evaluate_batch(program, inputs)
        errors = 0
    except EvaluationError:
        outs, errors = [], 0
        for xs in inputs:
            try:
                outs.append(evaluate(program, xs))
            except EvaluationError:
                outs.append(None)
                errors += 1
    return outs, errors, time.perf_counter() - start


def score(expected: list, got: list, inputs: list, atol: float = ATOL) -> dict:
    return C.score(expected, got, inputs, lambda e, g: outputs_match(e, g, atol))


def chunks_for(model, inputs: list, n: int) -> list[list]:
    """Equal chunks, each small enough for C.CHUNK_BYTES of activations (see C.chunk_size)."""
    t = n + 1
    b = C.even_chunk(len(inputs), C.chunk_size(t, C.activation_width(model.weights, t)))
    return [inputs[i:i + b] for i in range(0, len(inputs), b)]


def run_chunks(model, chunks: list[list], min_seconds: float) -> tuple[list, float, int]:
    """run_batch chunk by chunk, repeated for min_seconds: (outputs, median seconds per pass,
    passes)."""
    return C.timed(lambda: [row for chunk in chunks for row in model.run_batch(chunk)],
                   min_seconds)


def ours_table(bench: Bench, n: int, inputs: list, args) -> dict:
    call, vocab = bench.call_at(n), bench.vocab_at(n)
    res: dict = {"call": call, "max_seq_len": n, "n_inputs": len(inputs)}
    build = functools.partial(bench.program_at, n)
    try:
        with C.time_budget(args.table_compile_budget):
            start = time.perf_counter()
            model = theory_kit.compile(build(), vocab=set(vocab), max_seq_len=n, verify=None)
            res["compile_first_s"] = time.perf_counter() - start
        if res["compile_first_s"] <= args.repeat_below:
            start = time.perf_counter()
            model = theory_kit.compile(build(), vocab=set(vocab), max_seq_len=n, verify=None)
            res["compile_repeated_s"] = time.perf_counter() - start
    except C.BudgetExceeded:
        res["error"] = f"compile exceeded {args.table_compile_budget} s"
        return res
    except TheoryKitError as exc:
        res["error"] = f"compile failed: {type(exc).__name__}: {exc}"[:400]
        return res
    s = model.summary()
    res["sizes"] = {"layers": s["layers"], "heads": int(sum(s["heads"])), "heads_per_layer":
                    s["heads"], "mlp_hidden": s["mlp_hidden"],
                    "residual_width": s["residual_width"], "params": s["params"],
                    "params_nonzero": s["params_nonzero"], "max_abs_weight": s["max_abs_weight"],
                    "dtype": str(model.dtype), "beta": model.constants.get("beta")}
    program = build()
    expected, res["interpreter_errors"], res["interpreter_s"] = interpret(program, inputs)
    chunks = chunks_for(model, inputs, n)
    model.run_batch(chunks[0][:64])                       # warm-up, not timed
    got, res["run_s"], res["run_repeats"] = run_chunks(model, chunks, args.min_time)
    res["chunk_size"] = len(chunks[0])
    res.update(score(expected, got, inputs))
    # run_batch buckets inputs by length, so each input is counted at its own length (the
    # few padded positions inside a bucket are left out: executed is a slight underestimate).
    dense = sum(C.forward_flops(model.weights, len(xs))["total"] for xs in inputs)
    executed = sum(C.planned_flops(model.weights, len(xs))["total"] for xs in inputs)
    inner, cols = C.widest_matmul(model.weights)
    rows = min(len(chunks[0]) * (n + 1), 16384)
    peak = C.matmul_gflops(rows, inner, cols)
    res["flops"] = {
        "per_input_at_N": C.forward_flops(model.weights, n),
        "planned_per_input_at_N": C.planned_flops(model.weights, n),
        "dense_total": dense, "executed_total": executed,
        "achieved_gflops": executed / res["run_s"] / 1e9,
        "matmul_shape": [rows, inner, cols], "matmul_gflops": peak,
        "fraction_of_matmul": executed / res["run_s"] / 1e9 / peak,
    }
    # The same program compiled in float32, Tracr's precision: the like-for-like throughput.
    model32 = theory_kit.compile(build(), vocab=set(vocab), max_seq_len=n, verify=None,
                                 dtype=np.float32)
    chunks = chunks_for(model32, inputs, n)
    model32.run_batch(chunks[0][:64])                     # warm-up, not timed
    got, run_s, repeats = run_chunks(model32, chunks, args.min_time)
    res["float32"] = {"run_s": run_s, "run_repeats": repeats, "beta": model32.constants["beta"],
                      **score(expected, got, inputs, NUMERIC_ATOL[np.dtype(np.float32)])}
    res["_expected"] = expected                            # dropped before writing
    return res


def ours_sweep(bench: Bench, steps: list[tuple[int, list]], args) -> dict:
    out_steps: list = []
    res: dict = {"steps": out_steps, "longest_exact": None, "stop_reason": "all lengths exact"}
    for n, inputs in steps:
        vocab, build = bench.vocab_at(n), functools.partial(bench.program_at, n)
        step: dict = {"max_seq_len": n, "n_inputs": len(inputs)}
        out_steps.append(step)
        C.progress(f"  [ours] sweep {bench.name} max_seq_len={n}")
        try:
            with C.time_budget(args.compile_budget):
                start = time.perf_counter()
                model = theory_kit.compile(build(), vocab=set(vocab), max_seq_len=n,
                                           verify=None)
                step["compile_s"] = time.perf_counter() - start
        except C.BudgetExceeded:
            C.stop(res, step, C.over_budget("compile", args.compile_budget, n))
            break
        except TheoryKitError as exc:
            C.stop(res, step, C.failed("compile", n, exc, limit=400))
            break
        step["residual_width"] = model.summary()["residual_width"]
        # The forward's first chunk before the interpreter: the cheaper way to find out that
        # this length is over budget.
        chunks = chunks_for(model, inputs, n)
        start = time.perf_counter()
        got = model.run_batch(chunks[0])
        projected = (time.perf_counter() - start) * len(chunks)
        if projected > args.eval_budget:
            C.stop(res, step, C.projected_over(projected, args.eval_budget, n))
            break
        for chunk in chunks[1:]:
            got.extend(model.run_batch(chunk))
        step["eval_s"] = time.perf_counter() - start
        try:
            expected, _, step["interpreter_s"] = interpret(build(), inputs,
                                                           args.interpreter_budget)
        except C.BudgetExceeded:
            C.stop(res, step, C.oracle_over(args.interpreter_budget, n))
            break
        step.update(score(expected, got, inputs))
        if step["n_correct"] < step["n_scored"]:
            res["stop_reason"] = C.inexact(step, n)
            break
        res["longest_exact"] = n
    return res


# -- Tracr side (subprocess) -------------------------------------------------------------------


class TracrWorker:
    """The long-lived Tracr subprocess; restarted after a crash or a timeout."""

    def __init__(self, python: Path):
        self.python = python
        self.proc: Optional[subprocess.Popen] = None
        self.hello: Optional[dict] = None
        self.restarts = 0

    def _start(self) -> None:
        env = dict(os.environ, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3",
                   PYTHONWARNINGS="ignore", **_threads.WORKER_ENV)
        # A persistent XLA cache would make "first compile" a cache hit.
        env.pop("JAX_COMPILATION_CACHE_DIR", None)
        self.proc = subprocess.Popen([str(self.python), str(WORKER)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1, env=env,
                                     cwd=str(C.REPO))
        self.lines: queue.Queue = queue.Queue()
        proc, lines = self.proc, self.lines

        def pump() -> None:
            for line in proc.stdout:
                if line.startswith(REPLY_PREFIX):
                    lines.put(json.loads(line[len(REPLY_PREFIX):]))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        hello = self._read(600)
        if hello is None or hello.get("id") != "hello":
            raise RuntimeError(f"the Tracr worker did not start: {hello}")
        self.hello = hello

    def _read(self, timeout: float) -> Optional[dict]:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return {"error": f"no reply within {timeout:.0f} s", "timeout": True}

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None

    def send(self, req: dict) -> None:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()

    def request(self, req: dict, timeout: float) -> dict:
        self.send(req)
        return self.receive(timeout)

    def receive(self, timeout: float) -> dict:
        """The reply to the request sent last (a timeout or crash kills the worker; the next
        request starts a new one)."""
        rep = self._read(timeout)
        if rep is None or rep.get("timeout"):
            why = ("the worker exited with code "
                   f"{self.proc.wait()}" if rep is None else rep["error"])
            self.stop()
            self.restarts += 1
            return {"error": f"Tracr worker: {why}"}
        return rep


# -- one program -------------------------------------------------------------------------------


def table_inputs(bench: Bench, n: int, args) -> tuple[list, str]:
    vocab = bench.vocab_at(n)
    size = C.domain_size(len(vocab), n, bench.distinct)
    if size <= args.exhaustive_limit:
        return C.enumerate_domain(vocab, n, bench.distinct), "exhaustive"
    return C.random_inputs(vocab, n, args.sample, C.stable_seed(SEED, bench.name, n, "table"),
                           distinct=bench.distinct, dyck_pairs=bench.dyck_pairs,
                           edge_cases=True), f"sample of {args.sample} (domain {size:,})"


def sweep_inputs(bench: Bench, n: int, args) -> list:
    return C.random_inputs(bench.vocab_at(n), n, args.sweep_sample,
                           C.stable_seed(SEED, bench.name, n, "sweep"), distinct=bench.distinct,
                           full_fraction=0.25, edge_cases=True, dyck_pairs=bench.dyck_pairs)


def interpreters_agree(ours: list, theirs: Optional[list]) -> Optional[float]:
    if theirs is None:
        return None
    pairs = [(a, b) for a, b in zip(ours, theirs) if a is not None and b is not None]
    return sum(outputs_match(a, b, 1e-9) for a, b in pairs) / len(pairs) if pairs else None


def run_program(bench: Bench, args, worker: Optional[TracrWorker]) -> dict:
    res: dict = {"call": bench.call_at(args.lengths[0]) if args.lengths else None, "vocab": list(bench.vocab), "vocab_note": bench.why,
                 "distinct_tokens": bench.distinct, "lengths": {}, "sweep": {}}
    for n in args.lengths:
        inputs, how = table_inputs(bench, n, args)
        C.progress(f"{bench.name} N={n}: {len(inputs)} inputs ({how})")
        row: dict = {"inputs": how, "n_inputs": len(inputs), "vocab": bench.vocab_at(n)}
        with C.no_gc():
            row["ours"] = ours_table(bench, n, inputs, args)
        o = row["ours"]
        C.progress(f"  [ours] compile {o.get('compile_first_s', math.nan):.3f} s, "
                   f"correct {o.get('n_correct')}/{o.get('n_scored')}, "
                   f"run {o.get('run_s', math.nan):.3f} s {o.get('error', '')}")
        if worker is not None:
            req = {"id": f"{bench.name}:{n}", "kind": "table", "program": bench.name,
                   "call": bench.call_at(n), "vocab": bench.vocab_at(n), "max_seq_len": n,
                   "inputs": inputs, "apply_max_inputs": args.apply_inputs,
                   "apply_budget_s": args.apply_budget, "min_time_s": args.min_time,
                   "max_batch": C.MAX_CHUNK, "chunk_bytes": C.CHUNK_BYTES,
                   "compile_budget_s": args.table_compile_budget,
                   "repeat_below_s": args.repeat_below, "return_expected": True}
            t = worker.request(req, timeout=args.table_compile_budget * 2 + 900)
            row["agree_interpreters"] = interpreters_agree(o.pop("_expected", []),
                                                           t.pop("expected", None))
            row["tracr"] = t
            C.progress(f"  [tracr] compile {t.get('compile_first_s', math.nan):.3f} s, correct "
                       f"{(t.get('jit') or {}).get('n_correct')}/"
                       f"{(t.get('jit') or {}).get('n_scored')} {t.get('error', '')}")
        o.pop("_expected", None)
        res["lengths"][str(n)] = row
    if args.sweep_lengths:
        # The sweeps measure exactness, not speed: Tracr's runs in its process while ours runs
        # here (the budgets are then under shared load, alike for both).
        steps = [(n, sweep_inputs(bench, n, args)) for n in args.sweep_lengths]
        if worker is not None:
            req = {"id": f"{bench.name}:sweep", "kind": "sweep", "program": bench.name,
                   "compile_budget_s": args.compile_budget, "eval_budget_s": args.eval_budget,
                   "interpreter_budget_s": args.interpreter_budget,
                   "max_batch": C.MAX_CHUNK, "chunk_bytes": C.CHUNK_BYTES,
                   "steps": [{"max_seq_len": n, "call": bench.call_at(n),
                              "vocab": bench.vocab_at(n), "inputs": xs} for n, xs in steps]}
            worker.send(req)
        res["sweep"]["ours"] = ours_sweep(bench, steps, args)
        C.progress(f"  [ours] sweep: longest exact {res['sweep']['ours']['longest_exact']} "
                   f"({res['sweep']['ours']['stop_reason']})")
        if worker is not None:
            budget = len(steps) * (2 * args.compile_budget + args.eval_budget
                                   + args.interpreter_budget) + 600
            res["sweep"]["tracr"] = worker.receive(timeout=budget)
            t = res["sweep"]["tracr"]
            C.progress(f"  [tracr] sweep: longest exact {t.get('longest_exact')} "
                       f"({t.get('stop_reason', t.get('error'))})")
    return res


# -- summary -----------------------------------------------------------------------------------


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _gmean(xs: list) -> Optional[float]:
    xs = [x for x in xs if x is not None and x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None


def per_length_metrics(row: dict) -> Optional[dict]:
    """Ours/Tracr ratios at one (program, N); None unless both compiled and ran."""
    o, t = row.get("ours", {}), row.get("tracr", {})
    if "run_s" not in o or "jit_s" not in t:
        return None
    rate64 = o["n_inputs"] / o["run_s"]
    rate32 = o["n_inputs"] / o["float32"]["run_s"] if "float32" in o else None
    # Throughput ratios compare like with like: our float32 model (Tracr runs float32); an
    # inexact float32 model does not count (then the float64 rate is used).
    f32_exact = rate32 is not None and o["float32"]["n_correct"] == o["float32"]["n_scored"]
    ours_rate = rate32 if f32_exact else rate64
    apply_rate = t["apply_n"] / t["apply_s"] if t.get("apply_s") else None
    jit_rate = t["n_inputs"] / t["jit_s"]
    return {
        "ours_inputs_per_s": ours_rate, "ours_dtype": "float32" if f32_exact else "float64",
        "ours_float64_inputs_per_s": rate64, "ours_float32_inputs_per_s": rate32,
        "vs_apply_float64": _ratio(rate64, apply_rate), "vs_jit_float64": _ratio(rate64, jit_rate),
        "tracr_apply_inputs_per_s": apply_rate, "tracr_jit_inputs_per_s": jit_rate,
        "ours_interpreter_inputs_per_s": o["n_inputs"] / o["interpreter_s"],
        "tracr_interpreter_inputs_per_s": t["n_inputs"] / t["interpreter_s"],
        "vs_apply": _ratio(ours_rate, apply_rate), "vs_jit": _ratio(ours_rate, jit_rate),
        "compile_first": _ratio(o["compile_first_s"], t["compile_first_s"]),
        "compile_repeated": _ratio(o.get("compile_repeated_s"), t.get("compile_repeated_s")),
        "width": _ratio(o["sizes"]["residual_width"], t["sizes"]["residual_width"]),
        "params": _ratio(o["sizes"]["params"], t["sizes"]["params"]),
        "params_nonzero": _ratio(o["sizes"]["params_nonzero"], t["sizes"]["params_nonzero"]),
        "layers": _ratio(o["sizes"]["layers"], t["sizes"]["layers"]),
        "heads": _ratio(o["sizes"]["heads"], t["sizes"]["heads"]),
    }


def summarize(programs: dict, sweep_lengths: list) -> dict:
    """Per-program and total ratios, and each target: met, or missed with the reason."""
    per_program: dict = {}
    all_rows: list = []
    for name, p in programs.items():
        rows = []
        for n, row in p["lengths"].items():
            m = per_length_metrics(row)
            row["ratios"] = m
            if m is not None:
                rows.append((int(n), row, m))
        all_rows += [(name, *r) for r in rows]
        sums = _sums([(r, m) for _, r, m in rows])
        per_program[name] = {**sums,
                             "vs_apply_gmean": _gmean([m["vs_apply"] for _, _, m in rows]),
                             "vs_jit_gmean": _gmean([m["vs_jit"] for _, _, m in rows]),
                             "lengths_compared": [n for n, _, _ in rows]}
    total = {**_sums([(r, m) for _, _, r, m in all_rows]),
             "vs_apply_gmean": _gmean([m["vs_apply"] for *_, m in all_rows]),
             "vs_jit_gmean": _gmean([m["vs_jit"] for *_, m in all_rows]),
             "pairs_compared": len(all_rows)}
    targets = _targets(programs, all_rows, total, sweep_lengths)
    return {"per_program": per_program, "total": total, "targets": targets}


def _sums(rows: list) -> dict:
    """Sum over rows of ours / sum of Tracr's, per quantity, over the rows having it on both
    sides; plus the geometric mean of the per-row width ratios."""
    def get(r: dict, side: str, key: str, sizes: bool):
        return (r[side]["sizes"] if sizes else r[side]).get(key)

    out = {}
    for key, sizes in (("compile_first_s", False), ("compile_repeated_s", False),
                       ("residual_width", True), ("params", True), ("params_nonzero", True),
                       ("layers", True), ("heads", True)):
        both = [(get(r, "ours", key, sizes), get(r, "tracr", key, sizes)) for r, _ in rows]
        both = [(a, b) for a, b in both if a is not None and b is not None]
        out[key] = _ratio(sum(a for a, _ in both), sum(b for _, b in both)) if both else None
    out["residual_width_gmean"] = _gmean([m["width"] for _, m in rows])
    return out


def _targets(programs: dict, all_rows: list, total: dict, sweep_lengths: list) -> dict:
    def misses(key: str, ok: Callable[[float], bool]) -> list:
        return [f"{name} N={n}: {m[key]:.3g}" for name, n, _, m in all_rows
                if m[key] is not None and not ok(m[key])]

    out = {
        "throughput_vs_apply": {
            "target": f"ours/Tracr model.apply >= {TARGET_VS_APPLY:g} at every (program, N)",
            "misses": misses("vs_apply", lambda r: r >= TARGET_VS_APPLY),
            "total_gmean": total["vs_apply_gmean"]},
        "throughput_vs_jit": {
            "target": f"ours/Tracr jitted batch >= {TARGET_VS_JIT:g} at every (program, N)",
            "misses": misses("vs_jit", lambda r: r >= TARGET_VS_JIT),
            "total_gmean": total["vs_jit_gmean"]},
        "compile_time": {
            "target": f"ours/Tracr first compile <= {TARGET_COMPILE:g} at every (program, N)",
            "misses": misses("compile_first", lambda r: r <= TARGET_COMPILE),
            "total": total["compile_first_s"]},
        "residual_width": {
            "target": f"sum of widths ours/Tracr <= {TARGET_WIDTH:g}",
            "total": total["residual_width"],
            "misses": [] if total["residual_width"] is not None
            and total["residual_width"] <= TARGET_WIDTH else ["total"]},
    }
    exact_misses = []
    for name, p in programs.items():
        ours = p["sweep"].get("ours", {})
        theirs = p["sweep"].get("tracr", {})
        t_best = theirs.get("longest_exact") or 0
        need = max(t_best, min(TARGET_EXACT_UP_TO, max(sweep_lengths or [0])))
        o_best = ours.get("longest_exact") or 0
        if ours and o_best < need:
            exact_misses.append(f"{name}: exact up to {o_best or 'none'}, needs {need} "
                                f"({ours.get('stop_reason')})")
        for n, row in p["lengths"].items():
            o = row.get("ours", {})
            if "error" in o or (o.get("n_correct") is not None
                                and o["n_correct"] < o["n_scored"]):
                exact_misses.append(f"{name} N={n}: " + (o.get("error") or
                                    f"{o['n_correct']}/{o['n_scored']} correct"))
            f32 = o.get("float32") or {}
            if f32.get("n_correct") is not None and f32["n_correct"] < f32["n_scored"]:
                exact_misses.append(f"{name} N={n}: float32 model {f32['n_correct']}/"
                                    f"{f32['n_scored']} correct")
    out["exactness"] = {
        "target": f"ours exact wherever Tracr is and at every length <= {TARGET_EXACT_UP_TO}",
        "misses": exact_misses}
    for v in out.values():
        v["met"] = not v["misses"]
    return out


# -- README tables -----------------------------------------------------------------------------


def _miss(value: Optional[float], ok: bool) -> str:
    return C.fmt(value) + ("" if ok or value is None else " ✗")


def markdown(result: dict) -> str:
    m, s = result["machine"], result["summary"]
    tr = result.get("tracr_worker") or {}
    v = tr.get("versions", {})
    lines = [
        f"Measured {result['finished']} in {result['wall_s'] / 60:.1f} min: "
        + (f"theory_kit at {m['git']['head'][:10]}"
           + (" with uncommitted changes" if m["git"]["theory_kit_dirty"] else "") + "; "
           if (m.get("git") or {}).get("head") else "") +
        f"`nproc` = {m['nproc']}, {m['cpu_model']}, load average at start "
        f"{', '.join(f'{x:.1f}' for x in m['load_average'] or [])} and end "
        f"{', '.join(f'{x:.1f}' for x in result['load_average_end'] or [])}; Python {m['python']}, "
        f"numpy {m['numpy']} ({m['blas']}); Tracr side: tracr-pypi {v.get('tracr-pypi')}, "
        f"jax {v.get('jax')}, dm-haiku {v.get('dm-haiku')}, numpy {v.get('numpy')} "
        f"(float32, x64 {'on' if tr.get('x64') else 'off'}). "
        + ("Both sides single-threaded (OPENBLAS_NUM_THREADS=1; XLA "
           "`--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`), so the numbers "
           "are per core." if result["settings"]["threads"] == 1 else
           f"Threads: {result['settings']['threads'] or 'library defaults'}.")
        + (" Other processes busy at the start: " + ", ".join(
            f"{p['comm']} {p['cpu_percent']:.0f}%" for p in m["other_processes_cpu_percent"])
           + "." if m.get("other_processes_cpu_percent") else ""),
        "",
        "Commands: `make bench-peers`, i.e. `.venv/bin/python benchmarks/setup_tracr_venv.py` then "
        f"`{result['command']}`.",
        "",
    ]
    t = s["targets"]
    lines += ["**Targets** (ours/Tracr; ✗ marks a miss):", ""]
    lines += ["| target | result | met |", "|---|---|---|"]
    names = {"throughput_vs_apply": "verification throughput ≥ 100× Tracr `model.apply` "
                                    "(ours float32)",
             "throughput_vs_jit": "verification throughput ≥ 2× Tracr jitted batched forward "
                                  "(ours float32)",
             "compile_time": "compile ≥ 10× faster than Tracr's first compile",
             "residual_width": "residual width ≤ 0.7× Tracr's in total",
             "exactness": "exact wherever Tracr is, and at every length ≤ 64"}
    for key, label in names.items():
        tv = t[key]
        val = tv.get("total_gmean", tv.get("total"))
        kind = {"throughput_vs_apply": "geometric mean", "throughput_vs_jit": "geometric mean",
                "compile_time": "sum/sum", "residual_width": "sum/sum"}.get(key, "")
        got = f"{kind} {C.fmt(val)}" if val is not None else ""
        if key == "residual_width":
            got += (f" (geometric mean of the per-(program, N) ratios "
                    f"{C.fmt(s['total']['residual_width_gmean'])}; {_width_without_largest(result)})")
        misses = [x for x in tv["misses"] if x != "total"]
        if misses and key.startswith("throughput") and len(misses) > s["total"]["pairs_compared"] / 2:
            metric = "vs_apply" if key == "throughput_vs_apply" else "vs_jit"
            goal = TARGET_VS_APPLY if metric == "vs_apply" else TARGET_VS_JIT
            met = [f"{name} N={n}: {C.fmt(r['ratios'][metric])}"
                   for name, p in result["programs"].items() for n, r in p["lengths"].items()
                   if r.get("ratios") and (r["ratios"][metric] or 0) >= goal]
            got += (f"; missed at {len(misses)} of {s['total']['pairs_compared']} (program, N); "
                    f"met only at: {'; '.join(met) or 'none'}")
        elif misses:
            got += f"; missed at ({len(misses)}): " + "; ".join(_short(x, 160) for x in misses)
        if key.startswith("throughput"):
            metric = "vs_apply_float64" if key == "throughput_vs_apply" else "vs_jit_float64"
            goal = TARGET_VS_APPLY if key == "throughput_vs_apply" else TARGET_VS_JIT
            f64 = [r["ratios"].get(metric) for p in result["programs"].values()
                   for r in p["lengths"].values() if r.get("ratios")]
            f64 = [x for x in f64 if x is not None]
            if f64:
                got += (f" (float64 model: geometric mean {C.fmt(_gmean(f64))}, below "
                        f"{goal:g} at {sum(x < goal for x in f64)} of {len(f64)})")
        got = got.lstrip("; ")
        lines.append(f"| {label} | {got or 'every case'} | {'yes' if tv['met'] else '**no**'} |")
    agree = [r.get("agree_interpreters") for p in result["programs"].values()
             for r in p["lengths"].values() if r.get("agree_interpreters") is not None]
    lines += ["", f"theory_kit's and Tracr's interpreters agree on every input of "
              f"{sum(a == 1.0 for a in agree)} of the {len(agree)} verification sets compared "
              "(so both columns of *correct* check the same function).", ""]

    lines += ["**Per program and length.** Compile: seconds, first compile in the process "
              "(repeated in parentheses). Throughput: inputs/s on the verification set "
              "(exhaustive when ≤ the limit, else a seeded sample), ours with the model compiled "
              "in float64 (the default) and in float32 (Tracr's precision); ×apply and ×jit use "
              "the float32 rate (like for like; the float64 ratios are in the JSON). Correct: "
              "fraction of inputs whose decoded output equals the system's own interpreter "
              "(ours float64 / ours float32 / Tracr).", ""]
    hdr = ("| program | N | inputs | compile ours | compile Tracr | ratio | layers o/T | "
           "heads o/T | width o/T | params o/T | nonzero o/T | ours f64 in/s | ours f32 in/s | "
           "Tracr apply in/s | Tracr jit in/s | ×apply | ×jit | correct o64/o32/T |")
    lines += [hdr, "|" + "---|" * (hdr.count("|") - 1)]
    for name, p in result["programs"].items():
        for n, row in p["lengths"].items():
            o, tr_ = row.get("ours", {}), row.get("tracr", {})
            r = row.get("ratios") or {}
            os_, ts = o.get("sizes", {}), tr_.get("sizes", {})

            def pair(key: str) -> str:
                return f"{C.fmt(os_.get(key))}/{C.fmt(ts.get(key))}"

            def comp(d: dict) -> str:
                if "compile_first_s" not in d:
                    return "fails: " + (d.get("error") or "—")[:60].replace("|", "/")
                rep = d.get("compile_repeated_s")
                return f"{C.fmt(d['compile_first_s'])} ({C.fmt(rep)})"

            jit = tr_.get("jit") or {}
            lines.append(
                f"| {name} | {n} | {C.fmt(row['n_inputs'])}{'' if row['inputs'] == 'exhaustive' else '*'} "
                f"| {comp(o)} | {comp(tr_)} | "
                f"{_miss(r.get('compile_first'), (r.get('compile_first') or 0) <= TARGET_COMPILE)} | "
                f"{pair('layers')} | {pair('heads')} | {pair('residual_width')} | "
                f"{pair('params')} | {pair('params_nonzero')} | "
                f"{C.fmt(r.get('ours_float64_inputs_per_s'))} | "
                f"{C.fmt(r.get('ours_float32_inputs_per_s'))} | "
                f"{C.fmt(r.get('tracr_apply_inputs_per_s'))} | "
                f"{C.fmt(r.get('tracr_jit_inputs_per_s'))} | "
                f"{_miss(r.get('vs_apply'), (r.get('vs_apply') or 0) >= TARGET_VS_APPLY)} | "
                f"{_miss(r.get('vs_jit'), (r.get('vs_jit') or 0) >= TARGET_VS_JIT)} | "
                f"{C.fmt(o.get('fraction_correct'))}/"
                f"{C.fmt((o.get('float32') or {}).get('fraction_correct'))}/"
                f"{C.fmt(jit.get('fraction_correct'))} |")
    lines += ["", "`*` a seeded sample of the domain (too large to enumerate). Heads for Tracr are "
              "as laid out (every layer has the maximum head count).", ""]

    lines += ["**Ratios ours/Tracr per program** (sums over the lengths both compiled; "
              "throughput: geometric mean of the per-length ratios):", ""]
    hdr = ("| program | compile first | compile repeated | width | params | nonzero | layers | "
           "heads | ×apply | ×jit |")
    lines += [hdr, "|" + "---|" * (hdr.count("|") - 1)]
    for name, pp in list(s["per_program"].items()) + [("**total**", s["total"])]:
        lines.append(
            f"| {name} | {C.fmt(pp['compile_first_s'])} | {C.fmt(pp['compile_repeated_s'])} | "
            f"{C.fmt(pp['residual_width'])} | {C.fmt(pp['params'])} | "
            f"{C.fmt(pp['params_nonzero'])} | {C.fmt(pp['layers'])} | {C.fmt(pp['heads'])} | "
            f"{C.fmt(pp['vs_apply_gmean'])} | {C.fmt(pp['vs_jit_gmean'])} |")
    lines.append("")

    if any(p["sweep"] for p in result["programs"].values()):
        lines += [f"**Exactness sweep** over max_seq_len in {tuple(result['settings']['sweep_lengths'])}"
                  f" ({result['settings']['sweep_sample']} seeded random inputs each; a system "
                  "stops at its first inexact length, a compile over "
                  f"{result['settings']['compile_budget']} s, a projected forward over "
                  f"{result['settings']['eval_budget']} s, or a projected interpreter run over "
                  f"{result['settings'].get('interpreter_budget', result['settings']['eval_budget'])}"
                  " s):", ""]
        lines += ["| program | ours: longest exact | ours: why stopped | Tracr: longest exact | "
                  "Tracr: why stopped |", "|---|---|---|---|---|"]
        for name, p in result["programs"].items():
            o, t_ = p["sweep"].get("ours", {}), p["sweep"].get("tracr", {})
            lines.append(f"| {name} | {C.fmt(o.get('longest_exact'))} | "
                         f"{_short(o.get('stop_reason', o.get('error')))} | "
                         f"{C.fmt(t_.get('longest_exact'))} | "
                         f"{_short(t_.get('stop_reason', t_.get('error')))} |")
        lines.append("")

    lines += ["**FLOPs of our forward pass** per input of length N (multiply-adds ×2): *dense* "
              "from the weight shapes; *executed* by the planned forward of `run_batch`, which "
              "runs each sublayer on the residual rows it reads and writes (sparse blocks as "
              "CSR). Achieved = executed FLOPs of the verification set (each input at its own "
              "length) / run_batch time; matmul = best float64 numpy matmul of a [rows, D] @ "
              "[D, widest] shape, same run; fraction = achieved / matmul:", ""]
    hdr = ("| program | N | dense MFLOP/input | executed MFLOP/input | achieved GFLOP/s | "
           "matmul GFLOP/s | fraction |")
    lines += [hdr, "|" + "---|" * (hdr.count("|") - 1)]
    for name, p in result["programs"].items():
        for n, row in p["lengths"].items():
            f = row.get("ours", {}).get("flops")
            if f:
                planned = f.get("planned_per_input_at_N", {}).get("total")
                lines.append(f"| {name} | {n} | {C.fmt(f['per_input_at_N']['total'] / 1e6)} | "
                             f"{C.fmt(planned / 1e6 if planned else None)} | "
                             f"{C.fmt(f['achieved_gflops'])} | {C.fmt(f['matmul_gflops'])} | "
                             f"{C.fmt(f['fraction_of_matmul'])} |")
    return "\n".join(lines)


def _width_without_largest(result: dict) -> str:
    pairs = [(name, n, r["ours"]["sizes"]["residual_width"], r["tracr"]["sizes"]["residual_width"])
             for name, p in result["programs"].items() for n, r in p["lengths"].items()
             if r.get("ratios")]
    if len(pairs) < 2:
        return ""
    big = max(pairs, key=lambda x: x[3])
    rest = [x for x in pairs if x is not big]
    return (f"without the widest model, {big[0]} N={big[1]} ({big[2]:,} vs {big[3]:,}): sum/sum "
            f"{C.fmt(sum(x[2] for x in rest) / sum(x[3] for x in rest))}")


def _short(text: Optional[str], n: int = 110) -> str:
    text = (text or "—").replace("|", "/").replace("\n", " ")
    return text if len(text) <= n else text[:n - 1] + "…"


# -- main --------------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()] if text else []


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="N in (5, 10), sweep (8, 16, 32), smaller samples and budgets")
    p.add_argument("--programs", default="",
                   help="comma-separated names (default: the 13 of the brief; 'all' adds "
                        "shift_by and nary_sequencemap)")
    p.add_argument("--lengths", default=None, help="max_seq_len values (default 5,10,20,40)")
    p.add_argument("--sweep-lengths", default=None,
                   help="exactness sweep lengths (default 8,16,32,64,128,256; '' to skip)")
    p.add_argument("--sample", type=int, default=None,
                   help="inputs per verification set when not exhaustive (default 500)")
    p.add_argument("--sweep-sample", type=int, default=None, help="inputs per sweep length (1000)")
    p.add_argument("--exhaustive-limit", type=int, default=4000,
                   help="enumerate every input when there are at most this many (default 4000)")
    p.add_argument("--compile-budget", type=float, default=None,
                   help="seconds a sweep compile may take (default 60)")
    p.add_argument("--eval-budget", type=float, default=None,
                   help="seconds a sweep step's evaluation may take (default 60)")
    p.add_argument("--interpreter-budget", type=float, default=None,
                   help="seconds the interpreter (the oracle, not under test) may take per sweep "
                        "step (default 120; --quick 20)")
    p.add_argument("--table-compile-budget", type=float, default=600)
    p.add_argument("--repeat-below", type=float, default=10.0,
                   help="time a repeated compile only when the first took at most this long")
    p.add_argument("--apply-inputs", type=int, default=None,
                   help="inputs timed with Tracr's model.apply (default 3)")
    p.add_argument("--apply-budget", type=float, default=5.0,
                   help="stop timing model.apply after this many seconds")
    p.add_argument("--min-time", type=float, default=None,
                   help="repeat each throughput measurement for at least this many seconds and "
                        "report the median pass (default 0.5; --quick 0.2)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads here and XLA threads in the Tracr worker: 1 (default, "
                        "per-core numbers; see benchmarks/_threads.py) or 0 (library defaults)")
    p.add_argument("--no-tracr", action="store_true", help="theory_kit side only")
    p.add_argument("--tracr-python", type=Path, default=None,
                   help="Python with Tracr (default: benchmarks/tracr_env.py's search, "
                        ".venv-tracr first)")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--render-only", action="store_true",
                   help="only re-render the README tables from --out (no measurements)")
    p.add_argument("--no-readme", action="store_true", help="do not rewrite benchmarks/README.md")
    a = p.parse_args(argv)
    q = a.quick
    a.lengths = _ints(a.lengths) if a.lengths is not None else ([5, 10] if q else [5, 10, 20, 40])
    a.sweep_lengths = (_ints(a.sweep_lengths) if a.sweep_lengths is not None
                       else ([8, 16, 32] if q else [8, 16, 32, 64, 128, 256]))
    a.sample = a.sample or (200 if q else 500)
    a.sweep_sample = a.sweep_sample or (200 if q else 1000)
    a.compile_budget = a.compile_budget or (20.0 if q else 60.0)
    a.eval_budget = a.eval_budget or (20.0 if q else 60.0)
    a.interpreter_budget = a.interpreter_budget or (20.0 if q else 120.0)
    a.apply_inputs = a.apply_inputs or (2 if q else 3)
    a.min_time = a.min_time or (0.2 if q else 0.5)
    if a.programs in ("", None):
        a.programs = [b.name for b in PROGRAMS if b.default]
    elif a.programs == "all":
        a.programs = [b.name for b in PROGRAMS]
    else:
        a.programs = [x.strip() for x in a.programs.split(",") if x.strip()]
        unknown = [x for x in a.programs if x not in BY_NAME]
        if unknown:
            p.error(f"unknown programs {unknown}; known: {sorted(BY_NAME)}")
    return a


def render(path: Path, write_readme: bool) -> int:
    """Re-render the tables from a results file (no measurements)."""
    result = json.loads(path.read_text())
    result["summary"] = summarize(result["programs"], result["settings"]["sweep_lengths"])
    text = markdown(result)
    print(text)
    if write_readme:
        C.replace_between_markers(C.README, "compare_tracr", text,
                                  "## theory_kit vs Tracr (`make bench-peers`)")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.render_only:
        return render(args.out, not args.no_readme)
    start = time.perf_counter()
    result: dict = {"description": "theory_kit vs Tracr on Tracr's library programs",
                    "generated_by": "benchmarks/compare_tracr.py", "command": C.command_line(),
                    "machine": C.machine(), "seed": SEED,
                    "settings": {k: (str(v) if isinstance(v, Path) else v)
                                 for k, v in vars(args).items()},
                    "programs": {}}
    worker = None
    if not args.no_tracr:
        python = args.tracr_python or tracr_env.find_tracr_python()
        if python is None:
            C.progress("no Python with Tracr found: run `.venv/bin/python "
                       "benchmarks/setup_tracr_venv.py` (or pass --no-tracr)")
            return 1
        C.progress(f"starting the Tracr worker: {python} {WORKER.relative_to(C.REPO)}")
        worker = TracrWorker(Path(python))
        worker._start()
        result["tracr_worker"] = {**worker.hello, "python_executable": str(python)}
        C.progress(f"Tracr worker ready (JAX warm-up {worker.hello['warmup_s']:.1f} s)")
    # Warm-up of our side too: imports and a tiny compile, not charged to the first program.
    theory_kit.compile(lib.make_length(), vocab={1}, max_seq_len=2, verify=None).run([1])
    try:
        for name in args.programs:
            t0 = time.perf_counter()
            result["programs"][name] = run_program(BY_NAME[name], args, worker)
            result["programs"][name]["wall_s"] = time.perf_counter() - t0
            C.progress(f"{name}: done in {time.perf_counter() - t0:.0f} s "
                       f"(total {(time.perf_counter() - start) / 60:.1f} min)")
    finally:
        if worker is not None:
            result.setdefault("tracr_worker", {})["restarts"] = worker.restarts
            worker.stop()
    result["summary"] = summarize(result["programs"], args.sweep_lengths) if worker else None
    result["wall_s"] = time.perf_counter() - start
    result["load_average_end"] = list(os.getloadavg())
    result["finished"] = time.strftime("%Y-%m-%d %H:%M")
    C.write_json(args.out, result)
    C.progress(f"wrote {args.out}")
    if worker is not None:
        text = markdown(result)
        print(text)
        if not args.no_readme:
            C.replace_between_markers(C.README, "compare_tracr", text,
                                      "## theory_kit vs Tracr (`make bench-peers`)")
            C.progress(f"updated {C.README.relative_to(C.REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
