"""Start-up time of the `theory-kit` command: `--version`, `--help` and bare `import theory_kit`.

Each command runs in a fresh interpreter (`python -m theory_kit ...`), `--repeats` times after
one warm-up run (so .pyc files exist and the page cache is warm); the median wall-clock time is
reported. With `--base DIR` the same commands run with `PYTHONPATH=DIR` (a clean checkout of an
earlier commit, e.g. 0eb631a) and the ratio base / now is printed. It also lists which heavy
third-party modules (numpy, scipy, sympy, mpmath, cvxpy, matplotlib) `--version` imports, and
how much of `--version` is the package's own `import theory_kit` (the cli cannot avoid it).

    .venv/bin/python benchmarks/cli_startup.py --base /tmp/base0

Writes benchmarks/results/cli_startup.json. Wall-clock evidence from one machine, never
asserted by tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
HEAVY = ("numpy", "scipy", "sympy", "mpmath", "cvxpy", "matplotlib")

COMMANDS = {
    "--version": ["-m", "theory_kit", "--version"],
    "--help": ["-m", "theory_kit", "--help"],
    "import theory_kit": ["-c", "import theory_kit"],
    "python (empty)": ["-c", "pass"],
}

_PROBE = """
import sys, runpy
sys.argv = ["theory-kit", "--version"]
import io, contextlib
with contextlib.redirect_stdout(io.StringIO()):
    try:
        runpy.run_module("theory_kit", run_name="__main__")
    except SystemExit:
        pass
print(",".join(m for m in {heavy!r} if m in sys.modules))
"""


def _env(tree: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    env.pop("PYTHONSTARTUP", None)
    return env


def _run(tree: Path, args: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], env=_env(tree), capture_output=True,
                          check=False, cwd=tree)
    return time.perf_counter() - start, done


def _time(trees: list[Path], args: list[str], repeats: int) -> list[dict]:
    """Time `args` under each tree, interleaved run by run so both see the same machine load."""
    for tree in trees:  # warm-up: .pyc files and the page cache
        _run(tree, args)
    times: list[list[float]] = [[] for _ in trees]
    last = [None] * len(trees)
    for _ in range(repeats):
        for i, tree in enumerate(trees):
            seconds, last[i] = _run(tree, args)
            times[i].append(seconds)
    return [{"median_s": statistics.median(t), "min_s": min(t), "returncode": done.returncode,
             "stdout_first_line": done.stdout.decode(errors="replace").partition("\n")[0]}
            for t, done in zip(times, last)]


def _heavy(tree: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY)], env=_env(tree),
                          capture_output=True, text=True, check=False, cwd=tree)
    line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    return [m for m in line.split(",") if m]


def measure(trees: list[Path], repeats: int) -> list[dict]:
    """Per tree: median start-up times (seconds) of COMMANDS with PYTHONPATH=tree, and the heavy
    modules `--version` imports."""
    per_command = {name: _time(trees, args, repeats) for name, args in COMMANDS.items()}
    return [{"tree": str(tree),
             "commands": {name: per_command[name][i] for name in COMMANDS},
             "heavy_modules_on_version": _heavy(tree)} for i, tree in enumerate(trees)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per command (7)")
    parser.add_argument("--base", type=Path, default=None,
                        help="an earlier checkout to compare with (e.g. /tmp/base0 = 0eb631a)")
    parser.add_argument("--no-write", action="store_true", help="do not write results/*.json")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    trees = [REPO] + ([args.base.resolve()] if args.base is not None else [])
    measured = measure(trees, args.repeats)
    now = measured[0]
    result = {"python": sys.version.split()[0], "machine": platform.machine(),
              "cpus": os.cpu_count(), "repeats": args.repeats, "now": now}
    if args.base is not None:
        base = measured[1]
        result["base"] = base
        result["ratio_base_over_now"] = {
            name: base["commands"][name]["median_s"] / now["commands"][name]["median_s"]
            for name in COMMANDS}
    width = max(map(len, COMMANDS))
    header = f"{'command':<{width}}  {'now (s)':>8}" + ("  base (s)  base/now" if args.base else "")
    print(header)
    for name in COMMANDS:
        line = f"{name:<{width}}  {now['commands'][name]['median_s']:8.3f}"
        if args.base is not None:
            line += (f"  {result['base']['commands'][name]['median_s']:8.3f}"
                     f"  {result['ratio_base_over_now'][name]:8.2f}")
        print(line)
    print(f"heavy modules imported by --version now: {now['heavy_modules_on_version'] or 'none'}")
    if args.base is not None:
        print(f"                                   base: "
              f"{result['base']['heavy_modules_on_version'] or 'none'}")
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / "cli_startup.json"
        out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
