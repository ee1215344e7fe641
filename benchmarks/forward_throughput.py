"""Forward throughput on a full-length exhaustive set (issue 21 item 2), as ratios in one run.

All 65,536 inputs of length 8 over {1, 2, 3, 4} (make_sort at max_seq_len 8, every input
full-length: exhaustive sets are dominated by the longest length), float32, one thread each
(benchmarks/_threads.py):

* ours: `model.run_batch` on all inputs (median of --repeats, as Tracr's time), outputs checked against the
  vectorised oracle;
* Tracr: its jitted batched forward on the same inputs, in the Tracr virtualenv
  (benchmarks/setup_tracr_venv.py; the worker of benchmarks/compare_tracr.py), at each batch
  size of --tracr-batches (default: the benchmarks' usual 4,096, our run_batch chunk and
  powers of two from 2,048 down to 256); the ratio is taken against Tracr's fastest. Our runs are repeated after Tracr's and the median
  of all of them is reported, so a change of machine load during the run biases neither side;
* the machine: single-core numpy float32 matmul GFLOP/s at our widest matmul's shape, and
  our dense-equivalent FLOP rate (`_common.forward_flops`: every weight matrix run densely)
  as a fraction of it.

    python benchmarks/forward_throughput.py [--programs sort,hist,...] [--repeats 3]
                                            [--tracr-batches 4096,1024]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _threads  # noqa: E402,F401  (before numpy: one BLAS thread)

import argparse  # noqa: E402
import itertools  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import _common as C  # noqa: E402
import compare_tracr as CT  # noqa: E402
import tracr_env  # noqa: E402
from theory_kit.compiler import compile  # noqa: E402
from theory_kit.compiler.verify import outputs_match  # noqa: E402
from theory_kit.model import compiled as compiled_mod  # noqa: E402
from theory_kit.rasp.vectorised import evaluate_vectorised  # noqa: E402


def time_ours(model, inputs: list, repeats: int) -> tuple[list, list]:
    """(seconds of each of `repeats` run_batch calls on all inputs, the last outputs)."""
    times, got = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        got = model.run_batch(inputs)
        times.append(time.perf_counter() - start)
    return times, got


def ours(name: str, n: int, repeats: int) -> dict:
    bench = CT.BY_NAME[name]
    vocab = bench.vocab_at(n)
    program = bench.program_at(n)
    inputs = [list(t) for t in itertools.product(vocab, repeat=n)]
    model = compile(program, vocab=set(vocab), max_seq_len=n, dtype=np.float32, verify=None)
    model.run_batch(inputs[:256])  # warm-up (plan)
    times, got = time_ours(model, inputs, repeats)
    want = evaluate_vectorised(program, inputs)
    correct = sum(outputs_match(w, g, 1e-3) for w, g in zip(want, got))
    flops = C.forward_flops(model.weights, n)["total"]
    inner, cols = C.widest_matmul(model.weights)
    chunk_cols = min(len(inputs), compiled_mod._CHUNK) * (n + 1)
    peak = C.matmul_gflops(chunk_cols, inner, cols, dtype=np.float32)
    return {"program": name, "max_seq_len": n, "inputs": inputs, "vocab": vocab,
            "call": bench.call_at(n), "times": times, "model": model, "correct": correct,
            "dense_flops_per_input": flops, "matmul_gflops": peak,
            "matmul_shape": (chunk_cols, inner, cols)}


def tracr(worker, row: dict, min_time: float, batch: int) -> dict:
    req = {"id": f"{row['program']}:{row['max_seq_len']}", "kind": "table",
           "program": row["program"], "call": row["call"], "vocab": row["vocab"],
           "max_seq_len": row["max_seq_len"], "inputs": row["inputs"], "apply_max_inputs": 0,
           "apply_budget_s": 1.0, "min_time_s": min_time, "max_batch": batch,
           "chunk_bytes": C.CHUNK_BYTES, "compile_budget_s": 600, "repeat_below_s": 0.0,
           "return_expected": False}
    return worker.request(req, timeout=3600)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--programs", default="sort")
    ap.add_argument("--max-seq-len", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tracr-batches",
                    default=f"{C.MAX_CHUNK},2048,{compiled_mod._CHUNK},1024,768,512,256",
                    help="Tracr batch sizes to time (comma-separated; the fastest counts)")
    args = ap.parse_args()
    batches = sorted({int(b) for b in args.tracr_batches.split(",")}, reverse=True)
    python = tracr_env.find_tracr_python()
    worker = CT.TracrWorker(python) if python else None
    try:
        for name in args.programs.split(","):
            row = ours(name, args.max_seq_len, args.repeats)
            k = len(row["inputs"])
            runs = []
            if worker is None:
                print("  Tracr: no Tracr virtualenv (python benchmarks/setup_tracr_venv.py)")
            for batch in batches if worker is not None else ():
                t = tracr(worker, row, args.min_time, batch)
                if "jit_s" not in t:
                    print(f"  Tracr (batch {batch}): {t.get('error')}")
                    continue
                runs.append(t)
            if runs:  # ours again, after Tracr
                row["times"] += time_ours(row["model"], row["inputs"], args.repeats)[0]
            seconds = statistics.median(row["times"])
            rate = k / seconds
            dense = row["dense_flops_per_input"] * rate / 1e9
            print(f"{name} max_seq_len {args.max_seq_len}, {k:,} full-length inputs, float32: "
                  f"ours {seconds:.3f} s (median of {len(row['times'])}; {rate:,.0f} inputs/s, "
                  f"{row['correct']:,}/{k:,} correct); dense-equivalent {dense:.2f} GFLOP/s = "
                  f"{100 * dense / row['matmul_gflops']:.1f}% of numpy matmul "
                  f"{row['matmul_gflops']:.2f} GFLOP/s at {row['matmul_shape']}", flush=True)
            for t in runs:
                jit = t["jit"] or {}
                print(f"  Tracr jitted batched forward {t['jit_s']:.3f} s ({k / t['jit_s']:,.0f} "
                      f"inputs/s, batch {t.get('jit_batch_size')}, {jit.get('n_correct')}/"
                      f"{jit.get('n_scored')} correct): ours/Tracr = "
                      f"{t['jit_s'] / seconds:.2f}x", flush=True)
            if runs:
                best = min(t["jit_s"] for t in runs)
                print(f"  ours / Tracr's fastest = {best / seconds:.2f}x", flush=True)
    finally:
        if worker is not None:
            worker.stop()


if __name__ == "__main__":
    main()
