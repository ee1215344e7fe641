"""Run theory_kit's own benchmarks (`make bench`), one subprocess each, with progress output.

    .venv/bin/python benchmarks/run_all.py            # compiler_throughput, looped_throughput,
                                                      # landscape_solvers, incremental_decoding,
                                                      # subleq_automatic_vs_hand,
                                                      # sweep_scaling, tool_generation
    .venv/bin/python benchmarks/run_all.py --quick    # each script's --quick mode
    .venv/bin/python benchmarks/run_all.py --with-tracr   # also compare_tracr.py (needs
                                                          # .venv-tracr: `make bench-peers`)

Scripts that are not present are skipped with a note (landscape_solvers.py is written
separately). Each script writes its own benchmarks/results/*.json and README table; this runner
only orders them, streams their output, and exits non-zero if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SCRIPTS = ("compiler_throughput.py", "looped_throughput.py", "landscape_solvers.py",
           "incremental_decoding.py", "subleq_automatic_vs_hand.py", "sweep_scaling.py",
           "tool_generation.py")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    parser.add_argument("--with-tracr", action="store_true",
                        help="also run compare_tracr.py (Tracr in .venv-tracr)")
    args = parser.parse_args(argv)
    scripts = list(SCRIPTS) + (["compare_tracr.py"] if args.with_tracr else [])
    failures, start = [], time.perf_counter()
    for i, name in enumerate(scripts, 1):
        path = HERE / name
        if not path.exists():
            print(f"[run_all {i}/{len(scripts)}] {name}: not present, skipped", flush=True)
            continue
        cmd = [sys.executable, str(path.relative_to(REPO))] + (["--quick"] if args.quick else [])
        print(f"[run_all {i}/{len(scripts)}] {' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.run(cmd, cwd=REPO).returncode
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"[run_all {i}/{len(scripts)}] {name}: {status} in {time.perf_counter() - t0:.0f} s "
              f"(total {time.perf_counter() - start:.0f} s)", flush=True)
        if code:
            failures.append(name)
    print(f"[run_all] done in {time.perf_counter() - start:.0f} s"
          + (f"; failed: {', '.join(failures)}" if failures else "; all ok"), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
