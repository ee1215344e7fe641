"""`theory-kit sweep run SPEC | status DIR | table DIR`: sweeps from the command line.

A SPEC is a JSON file or a Python file naming the sweep:

    {"fn": "mymod:trial", "grid": {"n": [4, 8], "lam": [0.1, 1.0]}, "seeds": 5,
     "store": "runs/lam", "engine": "local", "workers": 2}

Required: fn, grid, seeds, store. Optional: engine, workers, address, cluster, retry_failed.
A Python spec defines the same names at module level; its `fn` may be a function defined in
the spec itself (the spec is imported as a module named after the file, its folder importable,
so worker processes import it too). Relative `store` and `cluster` paths are relative to the
spec's folder, so a spec and its results move together; so is a MODULE:FUNCTION's module.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict

from theory_kit.errors import InvalidInput

__all__ = ["load_spec", "cmd_run", "cmd_status", "cmd_table", "SPEC_KEYS", "REQUIRED"]

REQUIRED = ("fn", "grid", "seeds", "store")
SPEC_KEYS = REQUIRED + ("engine", "workers", "address", "cluster", "retry_failed")


def load_spec(path) -> Dict[str, Any]:
    """The keyword arguments of `sweep.run` a spec file gives (paths resolved against it).

    Raises:
        InvalidInput: the file is missing, does not parse or import, lacks a required name or
            has unknown keys (all listed)."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"sweep spec {path} does not exist or is not a file")
    folder = path.resolve().parent
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))  # the spec's modules (and the spec itself) import
    if path.suffix == ".py":
        if not path.stem.isidentifier():
            raise InvalidInput(f"{path}: a Python spec's name must be a module name")
        try:
            module = importlib.import_module(path.stem)
        except Exception as exc:  # the user's spec failed to run: say which and why
            raise InvalidInput(f"{path}: importing it failed: {type(exc).__name__}: {exc}"
                               ) from exc
        if Path(getattr(module, "__file__", "") or "").resolve() != path.resolve():
            raise InvalidInput(f"{path}: module name {path.stem!r} is taken by "
                               f"{getattr(module, '__file__', module)}; rename the spec")
        spec = {k: getattr(module, k) for k in SPEC_KEYS if hasattr(module, k)}
        unknown = []
    else:
        try:
            spec = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InvalidInput(f"{path}: not valid JSON: {exc}") from None
        if not isinstance(spec, dict):
            raise InvalidInput(f"{path}: must hold a JSON object, got {type(spec).__name__}")
        unknown = sorted(set(spec) - set(SPEC_KEYS))
    problems = [f"{k}: missing" for k in REQUIRED if k not in spec]
    if unknown:
        problems.append(f"unknown keys {unknown} (allowed: {', '.join(SPEC_KEYS)})")
    if problems:
        raise InvalidInput(f"{path}: invalid sweep spec:\n  " + "\n  ".join(problems))
    for key in ("store", "cluster"):
        if isinstance(spec.get(key), str):
            spec[key] = str(folder / spec[key])
    return spec


def cmd_run(args: argparse.Namespace) -> int:
    from theory_kit.sweep.run import run

    spec = load_spec(args.spec)
    for key in ("engine", "workers", "address", "cluster", "store"):
        if getattr(args, key, None) is not None:
            spec[key] = getattr(args, key)
    if args.retry_failed:
        spec["retry_failed"] = True
    try:
        rows = run(spec.pop("fn"), spec.pop("grid"), progress=not args.no_progress, **spec)
    except KeyboardInterrupt:
        return 130
    failed = sum(r["status"] == "error" for r in rows)
    print(f"{len(rows)} cells, {len(rows) - failed} ok, {failed} failed; store {spec['store']}",
          file=sys.stderr)
    return 0 if not failed else 1


def cmd_status(args: argparse.Namespace) -> int:
    from theory_kit.sweep.run import status

    info = status(args.dir)
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    last = info["last_finished_at"]
    info["last_finished_at"] = (None if last is None else datetime.fromtimestamp(
        last, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"))
    info["compute_seconds"] = round(info["compute_seconds"], 3)
    for key, value in info.items():
        if isinstance(value, list):
            value = ", ".join(value) or "-"
        print(f"{key:>17}: {value}")
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    from theory_kit.sweep.run import load

    rows = load(args.dir, dataframe=False)
    if args.failed:
        rows = [r for r in rows if r["status"] == "error"]
    if args.format == "json":
        print(json.dumps(rows, indent=1))
        return 0
    columns: Dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    writer = csv.DictWriter(sys.stdout, fieldnames=list(columns),
                            delimiter="\t" if args.format == "tsv" else ",", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return 0
