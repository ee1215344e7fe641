"""Benchmark (issue 15 item 2): incremental decoding with cached keys/values vs full recomputation.

Run from the repository root (no Tracr needed; `make bench` runs it through run_all.py):

    .venv/bin/python benchmarks/incremental_decoding.py           # ~1-2 min
    .venv/bin/python benchmarks/incremental_decoding.py --quick   # one timed run each
    .venv/bin/python benchmarks/incremental_decoding.py --batch 1 --new 16,64

Causal models compiled at max_seq_len 272 (vocabulary 0..7) generate greedily from seeded
prompts of 16 tokens: `Model.decoder()` (the prompts run once, then each step runs only the
new position against the cached keys and values; `theory_kit.model.incremental`) against
`Model.decoder(incremental=False)` (every step re-runs the whole sequences, `run_batch`'s
planned forward pass, and decodes their last position). A run is `start(prompts)`, then
`--new` steps each appending every row's predicted token (`extend`), so the sequences end at
16 + new tokens; both decoders get the same prompts and must produce the same tokens. Times
are medians of repeated runs (at least --min-time seconds), interleaved per (program, new
tokens) so both see the same machine load, garbage collection paused around each.

Programs: `fib` = (token + previous token) mod 8 (a previous-token head, then a SequenceMap
MLP), `hist_mod` = (occurrences of the token so far) mod 8 (a SelectorWidth: an attention head
over every earlier position, then MLPs). The cost of a step grows with the sequence for both
decoders, quadratically for full recomputation (every position against every key) and
linearly for the incremental one (one query against the cache), so the ratio grows with the
number of tokens generated.

numpy's BLAS runs single-threaded by default (benchmarks/_threads.py; `--threads 0` for the
library default). Writes benchmarks/results/incremental_decoding.json and the table between
the incremental_decoding markers of benchmarks/README.md (the section is appended when
missing).
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
from theory_kit.library import make_hist, shift_by  # noqa: E402

OUT = C.RESULTS / "incremental_decoding.json"
VOCAB = 8
PROMPT = 16
MAX_NEW = 256
MAX_SEQ_LEN = PROMPT + MAX_NEW


def fib() -> rasp.SOp:
    prev = shift_by(1, rasp.tokens)
    return rasp.SequenceMap(lambda x, p: x if p is None else (x + p) % VOCAB, rasp.tokens,
                            prev).named("fib")


def hist_mod() -> rasp.SOp:
    return rasp.Map(lambda n: n % VOCAB, make_hist()).named("hist_mod")


PROGRAMS = {"fib": (fib, "(token + previous token) mod 8"),
            "hist_mod": (hist_mod, "(occurrences of the token so far) mod 8")}


def generate(model, prompts: list, new: int, incremental: bool) -> list:
    """start(prompts), then `new` steps appending every row's predicted token: the tokens
    generated per row (new + 1: the last one predicted, not appended)."""
    dec = model.decoder(incremental=incremental)
    nxt = dec.start(prompts)
    rows = list(range(len(prompts)))
    out = [[x] for x in nxt]
    for _ in range(new):
        nxt = dec.extend(rows, [[x] for x in nxt])
        for r, x in enumerate(nxt):
            out[r].append(x)
    return out


def measure(model, prompts: list, new: int, min_time: float) -> dict:
    res: dict = {"new_tokens": new, "final_length": PROMPT + new}
    with C.no_gc():
        inc, res["incremental_s"], res["incremental_runs"] = C.timed(
            lambda: generate(model, prompts, new, True), min_time)
        full, res["full_s"], res["full_runs"] = C.timed(
            lambda: generate(model, prompts, new, False), min_time)
    res["same_tokens"] = inc == full
    res["none_tokens"] = sum(x is None for row in inc for x in row)
    res["speedup"] = res["full_s"] / res["incremental_s"]
    steps = len(prompts) * new
    res["incremental_ms_per_token"] = 1e3 * res["incremental_s"] / steps
    res["full_ms_per_token"] = 1e3 * res["full_s"] / steps
    return res


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = [
        C.measured_line(result),
        "",
        f"Greedy generation by causal models compiled at max_seq_len {s['max_seq_len']} "
        f"(vocabulary 0..{VOCAB - 1}, float64), {s['batch']} seeded prompt(s) of "
        f"{s['prompt']} tokens: `start(prompts)` then one `extend` per new token "
        f"(every row). Incremental: `Model.decoder()` (cached keys and values); full: "
        f"`Model.decoder(incremental=False)` (the whole sequences re-run at every step). "
        f"Seconds for the whole generation (median of repeated runs); ms per generated token "
        f"and row; ×: full / incremental.",
        "",
    ]
    hdr = ("| program | layers | heads | width | batch | new tokens | incremental s | full s | "
           "× | inc ms/token | full ms/token | same tokens |")
    lines += [hdr, "|" + "---|" * (hdr.count("|") - 1)]
    for name, p in result["programs"].items():
        sz = p["sizes"]
        for r in p["runs"]:
            lines.append(
                f"| {name} | {sz['layers']} | {sz['heads']} | {sz['residual_width']} | "
                f"{s['batch']} | {r['new_tokens']} | {C.fmt(r['incremental_s'])} | "
                f"{C.fmt(r['full_s'])} | {C.fmt(r['speedup'])} | "
                f"{C.fmt(r['incremental_ms_per_token'])} | {C.fmt(r['full_ms_per_token'])} | "
                f"{C.fmt(r['same_tokens'])} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one timed run per measurement")
    parser.add_argument("--programs", default="", help=f"comma-separated names of "
                                                       f"{sorted(PROGRAMS)} (default: all)")
    parser.add_argument("--new", default="16,64,256",
                        help=f"comma-separated numbers of new tokens (at most {MAX_NEW})")
    parser.add_argument("--batch", type=int, default=8, help="prompts decoded together")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds each measurement repeats (default 0.5; --quick 0)")
    C.output_arguments(parser, OUT)
    args = parser.parse_args(argv)
    min_time = args.min_time if args.min_time is not None else (0.0 if args.quick else 0.5)
    names = [x.strip() for x in args.programs.split(",") if x.strip()] or list(PROGRAMS)
    unknown = [x for x in names if x not in PROGRAMS]
    if unknown:
        parser.error(f"unknown programs {unknown}; known: {sorted(PROGRAMS)}")
    news = [int(x) for x in args.new.split(",") if x.strip()]
    if not news or any(not 1 <= n <= MAX_NEW for n in news):
        parser.error(f"--new: numbers of new tokens in 1..{MAX_NEW}, got {args.new!r}")
    if args.batch < 1:
        parser.error("--batch must be at least 1")

    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    prompts = [rng.integers(0, VOCAB, PROMPT).tolist() for _ in range(args.batch)]
    result: dict = {"description": "incremental decoding (cached keys/values) vs full "
                                   "recomputation at every step, greedy generation",
                    "generated_by": "benchmarks/incremental_decoding.py",
                    "command": C.command_line(), "machine": C.machine(),
                    "settings": {"min_time": min_time, "threads": args.threads,
                                 "batch": args.batch, "prompt": PROMPT, "vocab": VOCAB,
                                 "max_seq_len": MAX_SEQ_LEN, "seed": args.seed,
                                 "new_tokens": news},
                    "prompts": prompts, "programs": {}}
    failed = []
    for i, name in enumerate(names, 1):
        build, doc = PROGRAMS[name]
        t0 = time.perf_counter()
        model = theory_kit.compile(build(), vocab=set(range(VOCAB)), max_seq_len=MAX_SEQ_LEN,
                                   causal=True, verify=None).model
        s = model.summary()
        entry = {"doc": doc, "compile_s": time.perf_counter() - t0,
                 "sizes": {"layers": s["layers"], "heads": int(sum(s["heads"])),
                           "mlp_hidden": s["mlp_hidden"], "residual_width": s["residual_width"],
                           "params": s["params"], "params_nonzero": s["params_nonzero"]},
                 "runs": []}
        result["programs"][name] = entry
        generate(model, prompts, 2, True)   # warm-up (plans, caches)
        generate(model, prompts, 2, False)
        for new in news:
            r = measure(model, prompts, new, min_time)
            entry["runs"].append(r)
            if not r["same_tokens"]:
                failed.append(f"{name} at {new} new tokens")
            C.progress(f"[{i}/{len(names)}] {name}, {new} new tokens x {args.batch}: "
                       f"incremental {r['incremental_s']:.3g} s, full {r['full_s']:.3g} s, "
                       f"x{r['speedup']:.3g}, same tokens: {r['same_tokens']}")
    C.finish(result, start, args.out, markdown, readme=not args.no_readme,
             section="incremental_decoding", title="## Incremental decoding (`make bench`)")
    if failed:
        C.progress(f"DIFFERENT TOKENS: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
