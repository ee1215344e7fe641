"""Benchmark (issue 16, item 6): SUBLEQ compiled from a looped RASP program against the
hand-built looped SUBLEQ transformer.

Run from the repository root:

    .venv/bin/python benchmarks/subleq_automatic_vs_hand.py            # ~1 min
    .venv/bin/python benchmarks/subleq_automatic_vs_hand.py --quick    # 100 programs, short timing

At each size (m memory cells, k instructions, N bits; default (4, 4, 3), (4, 4, 4),
(4, 6, 4)) `theory_kit.constructions.subleq_rasp.compare` builds both machines:

  compiled   theory_kit.compile of `subleq_rasp.make_subleq_loop(m, k, N, loops=2k)`: a
             weight-shared looped model (verify="sample": 200 seeded token sequences, every
             iteration's state checked against the interpreter).
  hand-built `subleq.build(s=1, m, n=1+m+k+1, N)`, λ derived.

and runs the same seeded random programs (--programs, default 500; `subleq.random_program`)
for 2k instructions on both, each batch timed alternately (medians, >= --min-time s each,
one BLAS thread, cyclic GC paused). Reported per machine: residual width, layers (in all and
per instruction), heads per instruction, parameters (dense and non-zero), exactness (fraction
of programs whose memory and pc equal `subleq.interpret`), programs/s, and the ratio of
compiled to hand-built for each (same run, same programs). Ratios, not absolute wall-clock
claims. Writes benchmarks/results/subleq_automatic_vs_hand.json and the table between the
subleq_automatic_vs_hand markers of benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _threads  # noqa: E402,F401  (sets BLAS threads: must come before numpy)

import _common as C  # noqa: E402
from theory_kit.constructions import subleq_rasp  # noqa: E402

OUT = C.RESULTS / "subleq_automatic_vs_hand.json"
SIZES = ((4, 4, 3), (4, 4, 4), (4, 6, 4))
COLUMNS = ("width", "layers", "layers_per_instruction", "heads_per_instruction", "params",
           "params_nonzero", "exact", "programs_per_s", "make_s")


def markdown(result: dict) -> str:
    st = result["settings"]
    lines = [
        C.measured_line(result), "",
        f"{st['programs']:,} seeded random SUBLEQ programs per size (m cells, k instructions, "
        "N bits), 2k instructions executed, the same programs for both machines, batches timed "
        "alternately (medians). compiled: `theory_kit.compile` of the looped RASP program "
        "`subleq_rasp.make_subleq_loop`; hand: `subleq.build` (s = 1, n = m + k + 2, derived "
        "λ). Layers: all (per instruction). make: compile / build seconds. Ratio: compiled / "
        "hand.", "",
    ]
    hdr = ("| m, k, N | machine | width | layers (per instr.) | heads per instr. | params | "
           "nonzero | exact | programs/s | make s |")
    lines += [hdr, "|" + "---|" * (hdr.count("|") - 1)]
    for key, rows in result["runs"].items():
        auto, hand = rows
        for name, r in (("compiled", auto), ("hand", hand)):
            lines.append(
                f"| {key} | {name} | {r['width']} | {r['layers']} ({r['layers_per_instruction']})"
                f" | {r['heads_per_instruction']} | {C.fmt(r['params'])} | "
                f"{C.fmt(r['params_nonzero'])} | {r['exact']:.3f} | "
                f"{C.fmt(r['programs_per_s'])} | {C.fmt(r['make_s'])} |")
        ratio = {c: auto[c] / hand[c] for c in ("width", "layers_per_instruction", "params",
                                                "params_nonzero", "programs_per_s")}
        lines.append(
            f"| {key} | ratio | {ratio['width']:.3g} | ({ratio['layers_per_instruction']:.3g}) "
            f"| | {ratio['params']:.3g} | {ratio['params_nonzero']:.3g} | | "
            f"{ratio['programs_per_s']:.3g} | |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 programs, 0.1 s of timing")
    parser.add_argument("--sizes", default=";".join(",".join(map(str, s)) for s in SIZES),
                        help="semicolon-separated m,k,N triples (default 4,4,3;4,4,4;4,6,4)")
    parser.add_argument("--programs", type=int, default=None,
                        help="random programs per size (default 500; 100 --quick)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds of timing per machine (default 1.0; 0.1 --quick)")
    C.output_arguments(parser, OUT)
    args = parser.parse_args(argv)
    programs = args.programs or (100 if args.quick else 500)
    min_time = args.min_time or (0.1 if args.quick else 1.0)
    sizes = [tuple(int(x) for x in s.split(",")) for s in args.sizes.split(";") if s.strip()]

    start = time.perf_counter()
    result: dict = {"description": "SUBLEQ: compiled looped RASP program vs hand-built "
                                   "looped transformer: sizes, exactness, programs/s",
                    "generated_by": "benchmarks/subleq_automatic_vs_hand.py",
                    "command": C.command_line(), "machine": C.machine(),
                    "settings": {"programs": programs, "min_time": min_time, "seed": args.seed,
                                 "threads": args.threads},
                    "runs": {}}
    for i, (m, k, n_bits) in enumerate(sizes, 1):
        t0 = time.perf_counter()
        with C.no_gc():
            rows = subleq_rasp.compare(m=m, k=k, N=n_bits, programs=programs, seed=args.seed,
                                       min_time=min_time)
        result["runs"][f"{m}, {k}, {n_bits}"] = rows
        auto, hand = rows
        C.progress(f"[{i}/{len(sizes)}] m={m} k={k} N={n_bits}: width {auto['width']} / "
                   f"{hand['width']}, programs/s {auto['programs_per_s']:,.0f} / "
                   f"{hand['programs_per_s']:,.0f}, exact {auto['exact']:.3f} / "
                   f"{hand['exact']:.3f} ({time.perf_counter() - t0:.1f} s)")
    C.finish(result, start, args.out, markdown, readme=not args.no_readme,
             section="subleq_automatic_vs_hand",
             title="## SUBLEQ: compiled looped RASP vs hand-built")
    bad = [k for k, rows in result["runs"].items() if any(r["exact"] < 1 for r in rows)]
    if bad:
        C.progress(f"NOT EXACT: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
