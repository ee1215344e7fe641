"""Absolute paths of the repository's artifact folders: the one place scripts get paths from.

Scripts (figures/fig_*.py, figures/build.py, paper_appendix/*.py, proofs_numeric/*.py) never
build paths from the working directory; they ask this module. Output folders can be redirected
with environment variables so tests and CI can build into temporary directories:

    THEORY_KIT_FIGURES_OUT      figures/out          (PDF, PNG and CSV of every figure)
    THEORY_KIT_FIGURES_CACHE    figures/.cache       (build cache and staging area)
    THEORY_KIT_APPENDIX_GENERATED  paper_appendix/generated  (generated \\newcommand files)
    THEORY_KIT_APPENDIX_BUILD   paper_appendix/build (LaTeX build directory)

All of these folders are git-ignored; nothing written there is ever committed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = [
    "REPO_ROOT",
    "PACKAGE_DIR",
    "FIGURES_DIR",
    "PROOFS_DIR",
    "APPENDIX_DIR",
    "figures_out_dir",
    "figures_cache_dir",
    "appendix_generated_dir",
    "appendix_build_dir",
    "figure_scripts",
    "library_hash",
    "current_umask",
    "write_atomic",
]

PACKAGE_DIR: Path = Path(__file__).resolve().parent
REPO_ROOT: Path = PACKAGE_DIR.parent
FIGURES_DIR: Path = REPO_ROOT / "figures"
PROOFS_DIR: Path = REPO_ROOT / "proofs_numeric"
APPENDIX_DIR: Path = REPO_ROOT / "paper_appendix"


def _from_env(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser().resolve() if value else default


def figures_out_dir() -> Path:
    """Where figure scripts write PDF/PNG/CSV (default figures/out; env THEORY_KIT_FIGURES_OUT)."""
    return _from_env("THEORY_KIT_FIGURES_OUT", FIGURES_DIR / "out")


def figures_cache_dir() -> Path:
    """Build cache and staging area (default figures/.cache; env THEORY_KIT_FIGURES_CACHE)."""
    return _from_env("THEORY_KIT_FIGURES_CACHE", FIGURES_DIR / ".cache")


def appendix_generated_dir() -> Path:
    """Generated macro/table files (default paper_appendix/generated)."""
    return _from_env("THEORY_KIT_APPENDIX_GENERATED", APPENDIX_DIR / "generated")


def appendix_build_dir() -> Path:
    """LaTeX build directory (default paper_appendix/build)."""
    return _from_env("THEORY_KIT_APPENDIX_BUILD", APPENDIX_DIR / "build")


def figure_scripts() -> list[Path]:
    """Every figures/fig_<name>.py, sorted by name."""
    return sorted(FIGURES_DIR.glob("fig_*.py"))


def library_hash() -> str:
    """Hash of every theory_kit/**/*.py: the "library version" figures and tables are built with."""
    h = hashlib.sha256()
    for p in sorted(PACKAGE_DIR.rglob("*.py")):
        if "__pycache__" in p.parts:
            continue
        rel = p.relative_to(PACKAGE_DIR).as_posix().encode()
        data = p.read_bytes()
        h.update(len(rel).to_bytes(8, "little") + rel + len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows.

    Linux reports it in /proc/self/status ("Umask: 0022"); elsewhere it is read with the
    classic os.umask set-and-restore (a moment during which another thread creating files
    would see umask 0o077 — the conservative value, never a looser one).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8) & 0o777
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str) -> None:
    """Write text to path via a temporary file in the same folder and os.replace, so an
    interrupted run never leaves a half-written file.

    The file gets the permissions an ordinary `open(path, "w")` would give it (0o666 minus the
    user's umask), not tempfile.mkstemp's owner-only 0o600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), 0o666 & ~current_umask())
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
