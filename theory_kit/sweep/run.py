"""`run`: a resumable parameter sweep; `load` and `status`: what a store holds."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from theory_kit.errors import InvalidInput, SweepFailed
from theory_kit.progress import progress as _progress
from theory_kit.sweep.engines import ENGINES
from theory_kit.sweep.grid import RESERVED, Grid, expand
from theory_kit.sweep.store import Store
from theory_kit.sweep.task import function_name

__all__ = ["run", "load", "status", "check", "Rows"]

Rows = List[Dict[str, Any]]


def _validate(fn, engine, workers, address, cluster, problems: List[str]) -> None:
    if isinstance(fn, str):
        module, _, attr = fn.partition(":")
        if not module.strip() or not attr.strip():
            problems.append(f"fn: {fn!r} is not MODULE:FUNCTION")
    elif not callable(fn):
        problems.append(f"fn: {fn!r:.60} is neither a function nor a 'MODULE:FUNCTION' string")
    elif engine == "local":  # the local engine pickles by reference (spawned processes)
        try:
            pickle.dumps(fn)
        except Exception as exc:  # lambdas, closures, functions defined in exec'd code
            problems.append(f"fn: {function_name(fn)} cannot be sent to worker processes "
                            f"({type(exc).__name__}); define it at the top level of a module "
                            "or give 'MODULE:FUNCTION'")
    if engine not in ENGINES:
        problems.append(f"engine: {engine!r} is not one of {', '.join(map(repr, ENGINES))}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        problems.append(f"workers: must be a whole number >= 1 or None, got {workers!r}")
    if engine == "dask":
        import importlib.util

        if importlib.util.find_spec("distributed") is None:
            problems.append("engine: 'dask' needs dask and distributed: "
                            "pip install 'theory_kit[sweep]'")
    else:
        for name, value in (("address", address), ("cluster", cluster)):
            if value is not None:
                problems.append(f"{name}: {value!r} needs engine='dask' (got engine={engine!r})")
    if address is not None and cluster is not None:
        problems.append(f"give address ({address!r}) or cluster ({cluster!r}), not both")


def run(fn: Union[str, Callable[..., Dict[str, Any]]], grid: Grid, *,
        seeds: Union[int, Sequence[int]], store: Union[str, os.PathLike], engine: str = "local",
        address: Optional[str] = None, cluster: Optional[Union[str, os.PathLike]] = None,
        workers: Optional[int] = None, progress: bool = True,
        retry_failed: bool = False) -> Rows:
    """Run `fn(**params, seed=...)` on every cell of `grid` × `seeds`, storing each finished
    cell in `store` as it completes; cells already in the store are not run again.

    Args:
        fn: the task function (top-level, so worker processes can import it) or
            "MODULE:FUNCTION"; it returns a dict of result fields (JSON values, numpy scalars
            and arrays are converted).
        grid: {name: [values]} (Cartesian product) or a list of parameter dicts.
        seeds: n (seed indices 0..n-1) or a list of seed indices. Each cell's `seed` is derived
            from its parameters and seed index (`grid.cell_seed`): independent of workers and
            completion order.
        store: the store folder (created if missing).
        engine: "local" (worker processes, no setup), "dask" or "serial" (in this process).
        address: with engine="dask", a running scheduler ("tcp://host:8786").
        cluster: with engine="dask", a dask-jobqueue config file (`engines.jobqueue_cluster`).
        workers: processes for "local" (default: CPU count) and the dask LocalCluster
            (default 2); ignored with address/cluster.
        progress: a bar with ETA on stderr (when stderr is a terminal; see theory_kit.progress).
        retry_failed: also rerun cells recorded as errors (default: they count as finished).

    Returns:
        The table of this grid's cells, in grid order then seed order: one dict per cell with
        the parameters, seed_index, seed, status ("ok"/"error"), result fields, error (the
        traceback or None), duration, host, version, finished_at, attempts. `load(store)`
        gives the same as a DataFrame when pandas is installed.

    Raises:
        InvalidInput: every problem with the arguments, at once, before anything runs.
        SweepStoreError: the store is corrupted, in use, or holds another function's results.
        KeyboardInterrupt: after Ctrl-C, once workers are stopped; finished cells are kept.
    """
    problems: List[str] = []
    _validate(fn, engine, workers, address, cluster, problems)
    try:
        cells = expand(grid, seeds)
    except InvalidInput as exc:
        problems.extend(line.strip() for line in str(exc).splitlines()[1:])
        cells = []
    if problems:
        raise InvalidInput(f"invalid sweep ({len(problems)} problem"
                           f"{'s' if len(problems) > 1 else ''}):\n  " + "\n  ".join(problems))
    with Store(store, create=True) as db:
        db.lock()
        db.begin_sweep(fn=function_name(fn), cells=cells, engine=engine)
        done = db.finished(include_errors=not retry_failed)
        pending = [c for c in cells if c.key not in done]
        options = {"workers": workers}
        if engine == "dask":
            options.update(address=address, cluster=None if cluster is None else str(cluster))
        finished = 0
        if pending:
            stream = ENGINES[engine](fn, pending, **options)
            bar = _progress(stream, total=len(pending), desc="sweep", unit="cell",
                            show=None if progress else False)
            try:
                for cell, outcome in bar:
                    db.record(cell, outcome)
                    finished += 1
            except KeyboardInterrupt:
                print(f"sweep interrupted: {len(cells) - len(pending) + finished} of "
                      f"{len(cells)} cells finished and kept in {db.path}; run it again to "
                      "resume", file=sys.stderr)
                raise
            finally:
                bar.close()
                stream.close()
        rows = db.rows(only={c.key for c in cells})
    return rows


def check(rows: Rows) -> Rows:
    """`rows` when every cell is ok (for scripts that need all of them, e.g. a figure).

    Raises:
        SweepFailed: naming every failed cell's parameters, with the first one's traceback."""
    failed = [r for r in rows if r.get("status") != "ok"]
    if not failed:
        return rows
    # a failed row has no result fields: what is not a sweep column is a parameter
    names = [{k: v for k, v in r.items() if k not in RESERVED} for r in failed]
    listing = "\n  ".join(f"{p} seed_index={r['seed_index']}" for p, r in zip(names, failed))
    raise SweepFailed(f"{len(failed)} of {len(rows)} sweep cells failed:\n  {listing}\n"
                      f"first traceback:\n{failed[0].get('error')}", rows=failed)


def load(store: Union[str, os.PathLike], *, dataframe: Optional[bool] = None):
    """Every cell recorded in `store`: a pandas DataFrame when `dataframe` is True, or None
    (the default) and pandas is installed; otherwise a list of dicts (see `run`).

    pandas is not a theory_kit dependency (~60 MB, unused by the core): rows are plain dicts,
    which `pandas.DataFrame(rows)` turns into a frame wherever pandas exists.

    Raises:
        SweepStoreError: no store there, or it is corrupted or truncated (the file named).
        InvalidInput: dataframe=True without pandas installed."""
    with Store(store) as db:
        rows = db.rows()
    if dataframe is False:
        return rows
    try:
        import pandas
    except ImportError:
        if dataframe:
            raise InvalidInput("load(..., dataframe=True) needs pandas: pip install pandas"
                               ) from None
        return rows
    return pandas.DataFrame(rows)


def status(store: Union[str, os.PathLike]) -> Dict[str, Any]:
    """What a store holds: fn, cells of its last sweep, ok, failed, remaining, compute
    seconds, hosts and versions.

    Raises:
        SweepStoreError: no store there, or it is corrupted or truncated."""
    with Store(store) as db:
        meta = db.meta()
        rows = db.rows()
        finished = db.finished()
    grid_keys = set(meta.get("cells", []))
    return {
        "store": str(Path(store)),
        "fn": meta.get("fn"),
        "engine": meta.get("engine"),
        "cells": len(grid_keys),
        "ok": sum(r["status"] == "ok" for r in rows),
        "failed": sum(r["status"] == "error" for r in rows),
        "remaining": len(grid_keys - finished),
        "compute_seconds": sum(r["duration"] or 0.0 for r in rows),
        "hosts": sorted({r["host"] for r in rows if r["host"]}),
        "versions": sorted({r["version"] for r in rows if r["version"]}),
        "last_finished_at": max((r["finished_at"] for r in rows), default=None),
    }
