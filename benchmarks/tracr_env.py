"""Locate, or create, a Python interpreter in which Tracr (tracr-pypi + jax + dm-haiku) imports.

Tracr pins old jax/haiku APIs, so it lives in its own virtualenv, never in theory_kit's .venv.
Search order: $THEORY_KIT_TRACR_PYTHON, <repo>/.venv-tracr, /tmp/tracrvenv.

    python benchmarks/tracr_env.py            # print the interpreter, exit 1 if none works
    python benchmarks/tracr_env.py --create   # create <repo>/.venv-tracr when none works

Standard library only: it runs under any Python 3.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent
ENV_VAR = "THEORY_KIT_TRACR_PYTHON"
REPO_VENV = REPO / ".venv-tracr"
SCRATCH_VENV = Path("/tmp/tracrvenv")
PACKAGES = ("tracr-pypi", "jax", "dm-haiku")
_PROBE = "import tracr.compiler.lib, tracr.compiler.compiling, jax, haiku"


def candidates() -> list[Path]:
    """Interpreters to try, in order of preference."""
    found = []
    if os.environ.get(ENV_VAR):
        found.append(Path(os.environ[ENV_VAR]))
    found += [REPO_VENV / "bin" / "python", SCRATCH_VENV / "bin" / "python"]
    return found


def has_tracr(python: Path) -> bool:
    """True iff `python` exists and imports Tracr, jax and haiku."""
    if not python.exists():
        return False
    probe = subprocess.run([str(python), "-c", _PROBE], capture_output=True, timeout=300)
    return probe.returncode == 0


def find_tracr_python() -> Optional[Path]:
    """The first candidate interpreter that imports Tracr, or None."""
    for python in candidates():
        if has_tracr(python):
            return python
    return None


def create_tracr_venv(path: Path = REPO_VENV) -> Path:
    """Create a virtualenv at `path` with Tracr installed; return its interpreter.

    Raises:
        subprocess.CalledProcessError: venv creation or pip install failed.
    """
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    python = path / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PACKAGES], check=True)
    if not has_tracr(python):
        raise RuntimeError(f"installed {PACKAGES} into {path} but `{_PROBE}` still fails")
    return python


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--create", action="store_true",
                        help=f"create {REPO_VENV} when no working interpreter is found")
    args = parser.parse_args(argv)
    python = find_tracr_python()
    if python is None and args.create:
        python = create_tracr_venv()
    if python is None:
        print("no Python with Tracr found; tried: " + ", ".join(map(str, candidates()))
              + f". Run `python {Path(__file__).relative_to(REPO)} --create`", file=sys.stderr)
        return 1
    print(python)
    return 0


if __name__ == "__main__":
    sys.exit(main())
