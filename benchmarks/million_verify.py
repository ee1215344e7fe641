"""Million-input exhaustive verification (issue 21 item 3): time and peak memory.

`compile(make_sort_unique(tokens, tokens), vocab={1, 2, 3, 4}, max_seq_len=10,
verify="exhaustive")` checks all 1,398,100 inputs, streamed in chunks (`verify.CHUNK`) with a
progress bar. Each run is a fresh subprocess, so its peak RSS (`ru_maxrss`) is its own.

For comparison, the code of a reference commit (default 0eb631a, the commit issue 21 measured;
extracted with `git archive` into a temporary directory) runs the same compile at a smaller
max_seq_len (default 8: 87,380 inputs), next to the current code at that size; its time at
max_seq_len 10 is extrapolated by the current code's own 8 -> 10 ratio (said so in the output).

    python benchmarks/million_verify.py [--max-seq-len 10] [--small 8] [--ref 0eb631a]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _threads  # noqa: E402  (before numpy)

_threads.apply(_threads.threads_from_argv(sys.argv))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
from theory_kit import rasp
from theory_kit.compiler import compile
from theory_kit.library import make_sort_unique
n = int(sys.argv[1])
t = time.perf_counter()
model = compile(make_sort_unique(rasp.tokens, rasp.tokens), vocab={1, 2, 3, 4},
                max_seq_len=n, verify="exhaustive")
seconds = time.perf_counter() - t
print(json.dumps({"max_seq_len": n, "inputs": getattr(model, "verified_inputs", None),
                  "seconds": seconds,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(code_dir: Path, n: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(code_dir))
    out = subprocess.run([sys.executable, "-c", CHILD, str(n)], env=env, cwd=str(code_dir),
                         check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-seq-len", type=int, default=10)
    ap.add_argument("--small", type=int, default=8)
    ap.add_argument("--ref", default="0eb631a")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    big = run(REPO, args.max_seq_len)
    print(f"current, max_seq_len {args.max_seq_len}: {big['inputs']:,} inputs in "
          f"{big['seconds']:.1f} s ({big['inputs'] / big['seconds']:,.0f} inputs/s), peak RSS "
          f"{big['peak_rss_mib']:.0f} MiB", flush=True)
    small = run(REPO, args.small)
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.ref],
                                 check=True, stdout=subprocess.PIPE).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        old = run(Path(tmp), args.small)
    scale = big["seconds"] / small["seconds"]
    print(f"max_seq_len {args.small} ({small['inputs']:,} inputs): current {small['seconds']:.1f} s "
          f"(peak {small['peak_rss_mib']:.0f} MiB), {args.ref} {old['seconds']:.1f} s (peak "
          f"{old['peak_rss_mib']:.0f} MiB): {old['seconds'] / small['seconds']:.2f}x")
    print(f"{args.ref} at max_seq_len {args.max_seq_len}, extrapolated by the current code's "
          f"{args.small} -> {args.max_seq_len} time ratio {scale:.1f}: "
          f"~{old['seconds'] * scale:.0f} s (vs {big['seconds']:.1f} s measured now)")


if __name__ == "__main__":
    main()
