"""Run every proofs_numeric/check_*.py, print [k/N] name ... verdict, exit 1 if any fails
(with a progress bar on stderr when it is a terminal).

Paths are absolute (computed from this file), so it runs from any working directory. Extra
arguments (--out-dir DIR, --budget N, --seed S) are passed to every check.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # runnable as a plain script without installing the package
    sys.path.insert(0, str(HERE.parent))

from theory_kit.progress import progress  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run all checks; returns 0 if every one passed, 1 otherwise."""
    argv = list(sys.argv[1:] if argv is None else argv)
    scripts = sorted(HERE.glob("check_*.py"))
    failed = []
    # A bar with an ETA on stderr when it is a terminal (theory_kit.progress), one tick per claim.
    for k, script in enumerate(progress(scripts, desc="proofs", unit="claim"), 1):
        name = script.stem[len("check_"):]
        print(f"[{k}/{len(scripts)}] {name} ...", end=" ", flush=True)
        proc = subprocess.run([sys.executable, str(script), *argv], cwd=str(HERE.parent),
                              capture_output=True, text=True)
        last = (proc.stdout.strip().splitlines() or [""])[-1]
        if proc.returncode == 0:
            print(f"ok: {last}", flush=True)
        else:
            failed.append(name)
            print(f"FAILED (exit {proc.returncode}): {last}", flush=True)
            if proc.stderr.strip():
                print(proc.stderr.rstrip(), file=sys.stderr)
    print(f"{len(scripts) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
