"""Benchmark (issue 21, item 1): the vectorised oracle against the scalar interpreter.

Run from the repository root:

    .venv/bin/python benchmarks/oracle_throughput.py            # minutes: the scalar side
    .venv/bin/python benchmarks/oracle_throughput.py --quick    # smaller input sets
    .venv/bin/python benchmarks/oracle_throughput.py --programs sort,hist --limit 50000

For sort, hist, reverse and sort_unique (vocabularies of benchmarks/compare_tracr.py: sort
{1,2,3,4}, hist {a,b,c,d}, reverse {a,b,c}, sort_unique {1..max(5, N)} with distinct tokens),
at the largest max_seq_len N whose exhaustive input set (every input of length 1..N) has at
most --limit inputs: `rasp.evaluate_batch` (scalar) and `rasp.evaluate_vectorised` on that
whole set, both with the cyclic garbage collector paused (as every benchmark here times), the
outputs compared (equal values of equal types), and the ratio of the two throughputs.

Ratios, not absolute wall-clock claims: both sides run in the same process, interleaved
program by program, so they share the machine's load (reported in the header). The acceptance
target of issue 21 is a ratio >= 20 on every program. Writes JSON only with --out.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _threads  # noqa: E402,F401  (sets BLAS threads: must come before numpy)

import _common as C  # noqa: E402
from theory_kit.library import PROGRAMS  # noqa: E402
from theory_kit.rasp import evaluate_batch  # noqa: E402
from theory_kit.rasp.vectorised import evaluate_vectorised  # noqa: E402
from theory_kit.values import identical  # noqa: E402

#: name -> (vocabulary at max_seq_len n, distinct tokens)
SETS = {
    "sort": (lambda n: (1, 2, 3, 4), False),
    "hist": (lambda n: ("a", "b", "c", "d"), False),
    "reverse": (lambda n: ("a", "b", "c"), False),
    "sort_unique": (lambda n: tuple(range(1, max(5, n) + 1)), True),
}
TARGET = 20.0


def largest_n(name: str, limit: int) -> int:
    vocab_at, distinct = SETS[name]
    n = 1
    while n < 64 and C.domain_size(len(vocab_at(n + 1)), n + 1, distinct) <= limit:
        n += 1
    return n




def measure(name: str, limit: int, min_time: float) -> dict:
    n = largest_n(name, limit)
    vocab_at, distinct = SETS[name]
    vocab = vocab_at(n)
    program = PROGRAMS[name].at(vocab=vocab, max_seq_len=n)
    inputs = C.enumerate_domain(vocab, n, distinct)
    info: dict = {}
    with C.no_gc():
        expected, scalar_s, scalar_runs = C.timed(lambda: evaluate_batch(program, inputs),
                                                  min_time)
    with C.no_gc():
        got, vector_s, vector_runs = C.timed(
            lambda: evaluate_vectorised(program, inputs, info=info), min_time)
    return {"max_seq_len": n, "vocab": list(vocab), "distinct": distinct,
            "n_inputs": len(inputs), "scalar_s": scalar_s, "scalar_runs": scalar_runs,
            "vectorised_s": vector_s, "vectorised_runs": vector_runs,
            "scalar_inputs_per_s": len(inputs) / scalar_s,
            "vectorised_inputs_per_s": len(inputs) / vector_s,
            "ratio": scalar_s / vector_s, "equal": identical(expected, got),
            "path": info.get("path"), "fallback_reason": info.get("reason")}


def markdown(result: dict) -> str:
    rows = ["| program | N | inputs | scalar inputs/s | vectorised inputs/s | ratio | equal | "
            "path |", "|---|---|---|---|---|---|---|---|"]
    for name, r in result["programs"].items():
        rows.append(f"| {name} | {r['max_seq_len']} | {C.fmt(r['n_inputs'])} | "
                    f"{C.fmt(r['scalar_inputs_per_s'])} | {C.fmt(r['vectorised_inputs_per_s'])}"
                    f" | {r['ratio']:.1f}x | {C.fmt(r['equal'])} | {r['path']} |")
    ratios = [r["ratio"] for r in result["programs"].values()]
    load = result["machine"].get("load_average")
    rows.append("")
    rows.append(f"Lowest ratio {min(ratios):.1f}x (target >= {TARGET:.0f}x); geometric mean "
                f"{math.exp(sum(map(math.log, ratios)) / len(ratios)):.1f}x. Load average at "
                f"start {load}, nproc {result['machine'].get('nproc')}, python "
                f"{result['machine'].get('python')}, numpy {result['machine'].get('numpy')}.")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--programs", default=",".join(SETS),
                        help=f"comma-separated subset of {','.join(SETS)}")
    parser.add_argument("--limit", type=int, default=None,
                        help="largest exhaustive set (default 120,000 inputs; 20,000 --quick)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds of repeated timing per side (default 1.0; 0.2 --quick)")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads (default 1; 0 = numpy's default)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    limit = args.limit or (20_000 if args.quick else 120_000)
    min_time = args.min_time or (0.2 if args.quick else 1.0)
    names = [x.strip() for x in args.programs.split(",") if x.strip()]
    unknown = [x for x in names if x not in SETS]
    if unknown:
        parser.error(f"unknown programs {unknown}; known: {sorted(SETS)}")
    start = time.perf_counter()
    result: dict = {"description": "vectorised oracle vs scalar evaluate_batch on exhaustive "
                                   "input sets", "generated_by": "benchmarks/oracle_throughput.py",
                    "command": C.command_line(), "machine": C.machine(),
                    "settings": {"limit": limit, "min_time": min_time, "threads": args.threads},
                    "programs": {}}
    for i, name in enumerate(names, 1):
        t0 = time.perf_counter()
        r = result["programs"][name] = measure(name, limit, min_time)
        C.progress(f"[{i}/{len(names)}] {name} N={r['max_seq_len']} {r['n_inputs']:,} inputs: "
                   f"scalar {r['scalar_s']:.2f} s, vectorised {r['vectorised_s']:.3f} s, "
                   f"ratio {r['ratio']:.1f}x, equal={r['equal']}, path={r['path']} "
                   f"({time.perf_counter() - t0:.1f} s)")
    result["wall_s"] = time.perf_counter() - start
    result["finished"] = time.strftime("%Y-%m-%d %H:%M")
    print(markdown(result))
    if args.out:
        C.write_json(args.out, result)
        C.progress(f"wrote {args.out}")
    bad = [name for name, r in result["programs"].items()
           if not r["equal"] or r["path"] != "vectorised"]
    if bad:
        C.progress(f"NOT EQUAL or not vectorised: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
