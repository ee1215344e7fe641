"""Create (or reuse) <repo>/.venv-tracr: a virtualenv with Tracr, jax and dm-haiku, for benchmarks only.

Tracr is never a dependency of theory_kit: it pins old jax/haiku APIs and lives in its own
git-ignored virtualenv, which only benchmarks/_tracr_worker.py and
benchmarks/record_tracr_reference.py run in. `make bench-peers` calls this script first.

    python benchmarks/setup_tracr_venv.py             # reuse .venv-tracr if Tracr imports there,
                                                      # else (re)create it with pinned versions
    python benchmarks/setup_tracr_venv.py --unpinned  # latest versions instead of the pins
    python benchmarks/setup_tracr_venv.py --recreate  # delete .venv-tracr first

Pinned versions are the ones the numbers in benchmarks/README.md were measured with; if they
cannot be installed (e.g. a newer Python without wheels) the script retries without pins and says
so. Every step is printed. Standard library only: it runs under any Python 3.9+.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv-tracr"
PYTHON = VENV / "bin" / "python"
#: Known-good set (Python 3.11, linux x86_64). numpy is pinned too: Tracr's assemble step uses it.
PINNED = ("tracr-pypi==1.0.0", "jax==0.10.2", "jaxlib==0.10.2", "dm-haiku==0.0.17",
          "numpy==2.4.6")
UNPINNED = ("tracr-pypi", "jax", "dm-haiku")
PROBE = ("import importlib.metadata as m, tracr.compiler.compiling, tracr.compiler.lib, jax, haiku;"
         "print(' '.join(f'{p}=={m.version(p)}' for p in "
         "('tracr-pypi', 'jax', 'jaxlib', 'dm-haiku', 'numpy')))")


def say(msg: str) -> None:
    print(f"[setup_tracr_venv] {msg}", flush=True)


def run(cmd: list[str]) -> None:
    say("$ " + " ".join(cmd))
    subprocess.run(cmd, check=True)


def probe(python: Path) -> str | None:
    """Installed versions if `python` imports Tracr, jax and haiku, else None."""
    if not python.exists():
        return None
    try:
        out = subprocess.run([str(python), "-c", PROBE], capture_output=True, text=True,
                             timeout=600)
    except subprocess.TimeoutExpired:
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def create(packages: tuple[str, ...]) -> None:
    if VENV.exists():
        say(f"removing the broken or outdated {VENV}")
        shutil.rmtree(VENV)
    # The venv is built from the interpreter running this script (the project's .venv under
    # `make bench-peers`; `venv` then uses that venv's base Python).
    run([sys.executable, "-m", "venv", str(VENV)])
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--upgrade", "pip"])
    run([str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         *packages])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unpinned", action="store_true",
                        help="install the latest tracr-pypi, jax and dm-haiku instead of the pins")
    parser.add_argument("--recreate", action="store_true", help=f"delete {VENV} first")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    if not args.recreate:
        versions = probe(PYTHON)
        if versions:
            say(f"reusing {VENV} (Tracr imports): {versions}")
            return 0
        say(f"{VENV} " + ("exists but Tracr does not import there" if VENV.exists()
                          else "does not exist") + "; creating it")
    packages = UNPINNED if args.unpinned else PINNED
    try:
        create(packages)
    except subprocess.CalledProcessError as exc:
        if args.unpinned:
            raise
        say(f"installing the pinned versions failed ({exc}); retrying without pins: "
            + " ".join(UNPINNED))
        create(UNPINNED)
    versions = probe(PYTHON)
    if not versions:
        say(f"FAILED: Tracr still does not import in {PYTHON}")
        return 1
    say(f"ready in {time.perf_counter() - start:.0f} s: {PYTHON} has {versions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
