"""Helpers for the figure-build tests: run figures/build.py into temporary folders."""

from __future__ import annotations

import csv
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from theory_kit import paths
from theory_kit.paper.loading import load_file

BUILD = paths.FIGURES_DIR / "build.py"


def build_env(out_dir: Path, cache_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["THEORY_KIT_FIGURES_OUT"] = str(out_dir)
    env["THEORY_KIT_FIGURES_CACHE"] = str(cache_dir)
    return env


def run_build(out_dir: Path, cache_dir: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(BUILD), "--out-dir", str(out_dir), "--cache-dir", str(cache_dir), *args]
    return subprocess.run(cmd, env=build_env(out_dir, cache_dir), capture_output=True, text=True,
                          timeout=timeout, cwd=paths.REPO_ROOT)


def png_is_complete(data: bytes) -> bool:
    """Walk every PNG chunk, checking CRCs, up to a final IEND."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return False
    pos = 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        crc = data[pos + 8 + length:pos + 12 + length]
        if len(body) != length or len(crc) != 4 or zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            return False
        pos += 12 + length
        if kind == b"IEND":
            return pos == len(data)
    return False


def incomplete_files(out_dir: Path) -> list[str]:
    """Every file in out_dir that is not a complete PDF, PNG or CSV (names with the reason)."""
    bad = []
    for p in sorted(out_dir.rglob("*")):
        if p.is_dir():
            bad.append(f"{p.name}: unexpected folder")
            continue
        data = p.read_bytes()
        if p.suffix == ".pdf":
            if not (data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")):
                bad.append(f"{p.name}: truncated PDF")
        elif p.suffix == ".png":
            if not png_is_complete(data):
                bad.append(f"{p.name}: truncated PNG")
        elif p.suffix == ".csv":
            if not data.endswith(b"\n") or len(data.splitlines()) < 2:
                bad.append(f"{p.name}: truncated CSV")
        else:
            bad.append(f"{p.name}: unexpected file (temporary?)")
    return bad


def csv_rows(path: Path) -> list[dict]:
    """The rows of a figure's CSV, as dicts."""
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def build_twice(tmp: Path, name: str, **overrides) -> tuple[list[Path], list[Path]]:
    """Run figures/<name>.py's main twice (seed 0) into tmp/a and tmp/b with module constants
    overridden (a shrunken configuration); returns both lists of written files."""
    fig = load_file(paths.FIGURES_DIR / f"{name}.py")
    mp = pytest.MonkeyPatch()
    for key, value in overrides.items():
        mp.setattr(fig, key, value)
    try:
        return fig.main(out_dir=tmp / "a", seed=0), fig.main(out_dir=tmp / "b", seed=0)
    finally:
        mp.undo()


def assert_same_data(a: list[Path], b: list[Path], names: set[str]) -> None:
    """Both builds wrote exactly `names`, and byte-identical CSVs."""
    assert {p.name for p in a} == names
    for pa, pb in zip(a, b):
        if pa.suffix == ".csv":
            assert pa.read_bytes() == pb.read_bytes(), pa.name
