"""Parameter sweeps on a local engine or Dask, with a resumable store (issue 18).

    from theory_kit import sweep
    rows = sweep.run("mymod:trial", {"n": [4, 8, 16], "lam": [0.1, 1.0]}, seeds=5,
                     store="runs/lam", engine="local", workers=2)

The task function takes the grid's parameters and `seed` as keyword arguments and returns a
dict of result fields. Every cell (parameters × seed index) gets a seed derived from its
parameters (`cell_seed`), is committed to the store (`store.Store`, SQLite) as soon as it
finishes, and is skipped when the sweep is run again. Engines: "local" (worker processes, no
setup), "dask" (a LocalCluster, a scheduler address, or a dask-jobqueue cluster from a config
file; needs `theory_kit[sweep]`), "serial" (in this process). `load(store)` reads a store (a
DataFrame when pandas is installed), `status(store)` says how far it got, `check(rows)` raises
SweepFailed if any cell failed. Command line: `theory-kit sweep run SPEC`, `theory-kit sweep
status DIR`, `theory-kit sweep table DIR`. `job_script(config)` shows the batch script a
dask-jobqueue config submits. Also on these engines: `claims.verify(..., executor=...)` and
pytest shards (`shards`: `python -m theory_kit.sweep.shards K STORE -- PYTEST_ARGS`).
"""

from theory_kit.sweep.engines import job_script
from theory_kit.sweep.grid import Cell, canonical_json, cell_seed, expand
from theory_kit.sweep.run import check, load, run, status

__all__ = ["run", "load", "status", "check", "expand", "cell_seed", "canonical_json", "Cell",
           "job_script"]
