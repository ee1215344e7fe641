"""Where cells run: in this process, in local worker processes, or on Dask.

Each engine is a generator `engine(fn, cells, **options)` yielding `(cell, outcome)` as cells
finish (in completion order; the store and the table never depend on it). Closing the
generator (done, Ctrl-C, an error in the caller) stops the workers it started; cells still
running are abandoned and rerun by the next sweep.

  serial  in this process, one cell after another: the reference, and for debugging (pdb,
          prints). Not in the issue's list; kept because it is what "a serial run" means.
  local   `concurrent.futures.ProcessPoolExecutor` (spawn): the embedded default, no setup and
          no Dask needed. A worker that dies (segfault, OOM killer) breaks the pool: the pool
          is rebuilt and the cells that were in flight rerun; a cell in flight at
          MAX_ATTEMPTS deaths is recorded as an error.
  dask    `distributed`: a `LocalCluster` of `workers` processes (default), a running
          scheduler (`address="tcp://host:8786"`), or a dask-jobqueue cluster from a config
          file (`cluster="slurm.yaml"`, see `jobqueue_cluster`). Dask reruns the tasks of a lost
          worker itself (up to `distributed.scheduler.allowed-failures`, then KilledWorker,
          recorded as that cell's error).
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from theory_kit.errors import InvalidInput
from theory_kit.sweep.grid import Cell
from theory_kit.sweep.task import run_cell

__all__ = ["ENGINES", "serial", "local", "dask", "jobqueue_cluster", "MAX_ATTEMPTS",
           "JOBQUEUE_CLASSES", "process_pool", "terminate", "job_script"]

#: A cell in flight when its worker process died this many times is recorded as an error.
MAX_ATTEMPTS = 3
#: Cells submitted ahead of the free workers (keeps every worker busy, memory bounded).
_AHEAD = 4

Outcome = Dict[str, Any]
Fn = Union[str, Callable]


def serial(fn: Fn, cells: Sequence[Cell], *, workers: Optional[int] = None,
           **_: Any) -> Iterator[Tuple[Cell, Outcome]]:
    """Every cell in this process, in order."""
    for cell in cells:
        yield cell, run_cell(fn, cell.kwargs())


def _ignore_sigint() -> None:  # workers leave Ctrl-C to the client, which stops them
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def process_pool(workers: Optional[int] = None):
    """A `ProcessPoolExecutor` of `workers` spawned processes (default: the CPU count) that
    ignore SIGINT: Ctrl-C reaches this process only, which stops them (`terminate`).
    Spawned, not forked: a fork of a process holding threads (Dask, BLAS) can deadlock."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1,
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=_ignore_sigint)


def terminate(pool) -> None:
    """Stop a ProcessPoolExecutor now, running tasks included (shutdown alone waits for them),
    and return once every worker's exit is recorded.

    The executor's manager thread joins the same workers after shutdown: whichever thread
    reaps a worker records its exit code, and a join here can return while the worker is
    already reaped by the other but its exit not yet recorded (seen under CPU load: a worker
    `is_alive()` after its join, exit code -15 a second later). So the manager thread is
    joined too, then each exit code awaited (at most 10 s)."""
    processes = dict(getattr(pool, "_processes", None) or {})
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes.values():
        try:
            process.terminate()
        except (OSError, AttributeError, ValueError):
            pass
    for process in processes.values():
        try:
            process.join(timeout=5)
            if process.is_alive():   # SIGTERM not acted on within 5 s (a loaded machine): SIGKILL
                process.kill()
                process.join(timeout=5)
        except (OSError, AttributeError, ValueError, AssertionError):
            pass
    if manager is not None:
        manager.join(timeout=10)
    deadline = time.monotonic() + 10
    while (any(process.exitcode is None for process in processes.values())
           and time.monotonic() < deadline):
        time.sleep(0.01)


def local(fn: Fn, cells: Sequence[Cell], *, workers: Optional[int] = None,
          **_: Any) -> Iterator[Tuple[Cell, Outcome]]:
    """Cells on `workers` local processes (default: the CPU count)."""
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    n = workers or os.cpu_count() or 1
    todo: List[Cell] = list(reversed(cells))  # pop() from the end keeps grid order
    attempts: Dict[str, int] = {}
    while todo:
        pool = process_pool(n)
        running: Dict[Any, Cell] = {}
        broken = False
        try:
            while todo or running:
                while todo and len(running) < n * _AHEAD:
                    cell = todo.pop()
                    attempts[cell.key] = attempts.get(cell.key, 0) + 1
                    running[pool.submit(run_cell, fn, cell.kwargs())] = cell
                done, _pending = wait(list(running), return_when=FIRST_COMPLETED)
                for future in done:
                    cell = running.pop(future)
                    try:
                        outcome = future.result()
                    except BrokenProcessPool:
                        broken = True
                        if attempts[cell.key] >= MAX_ATTEMPTS:
                            yield cell, _lost(cell, attempts[cell.key])
                        else:
                            todo.append(cell)
                        continue
                    except Exception as exc:  # the call never ran: e.g. fn did not unpickle
                        import traceback

                        outcome = {"status": "error", "result": None, "duration": None,
                                   "host": None, "version": None,
                                   "error": "".join(traceback.format_exception(
                                       type(exc), exc, exc.__traceback__))}
                    outcome["attempts"] = attempts[cell.key]
                    yield cell, outcome
                if broken:
                    for future, cell in running.items():  # in flight when the pool broke
                        if attempts[cell.key] >= MAX_ATTEMPTS:
                            yield cell, _lost(cell, attempts[cell.key])
                        else:
                            todo.append(cell)
                    running.clear()
                    break
        finally:
            terminate(pool)


def _lost(cell: Cell, attempts: int) -> Outcome:
    return {"status": "error", "result": None, "duration": None, "host": None, "version": None,
            "attempts": attempts,
            "error": (f"the worker process died {attempts} times while this cell was sent to "
                      "it or running (a crash, the OOM killer, a signal, or a task function "
                      "whose pickle cannot be loaded there); not retried again")}


# -- dask ----------------------------------------------------------------------------------

#: `jobqueue:` names in a cluster config file -> dask_jobqueue classes.
JOBQUEUE_CLASSES = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster",
                    "lsf": "LSFCluster", "oar": "OARCluster", "htcondor": "HTCondorCluster",
                    "moab": "MoabCluster"}
_CONFIG_KEYS = ("jobqueue", "cluster", "scale", "adapt")


def _read_config(path: Path) -> Dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return json.loads(text)
    try:
        import yaml  # a dependency of dask
    except ImportError:
        raise InvalidInput(f"{path}: reading YAML needs pyyaml (it comes with dask); "
                           "or write the config as JSON") from None
    return yaml.safe_load(text)


def jobqueue_cluster(config: Union[str, Path], *, scale: bool = True):
    """A dask-jobqueue cluster from a YAML or JSON file, scaled as it says (unless `scale` is
    False: then no job is submitted, e.g. to look at `cluster.job_script()`):

        jobqueue: slurm          # slurm, pbs, sge, lsf, oar, htcondor or moab
        cluster:                 # keyword arguments of dask_jobqueue.SLURMCluster
          cores: 8               # per job
          processes: 8           # Dask workers per job (1 thread each: cells are CPU-bound)
          memory: 16GB
          walltime: "02:00:00"
          queue: normal
          account: mygroup
          job_script_prologue: ["source ~/theory_kit/.venv/bin/activate"]
        scale: {jobs: 4}         # fixed size; or  adapt: {minimum_jobs: 0, maximum_jobs: 50}

    Raises:
        InvalidInput: the file is missing or malformed (every problem listed), dask-jobqueue
            is not installed, or the cluster class refuses the `cluster` arguments."""
    path = Path(config)
    if not path.is_file():
        raise InvalidInput(f"cluster config {path} does not exist or is not a file")
    try:
        spec = _read_config(path)
    except InvalidInput:
        raise
    except Exception as exc:  # a YAML/JSON syntax error: say where
        raise InvalidInput(f"{path}: not valid YAML/JSON: {exc}") from None
    problems = []
    if not isinstance(spec, dict):
        raise InvalidInput(f"{path}: must be a mapping with keys {', '.join(_CONFIG_KEYS)}, "
                           f"got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(_CONFIG_KEYS))
    if unknown:
        problems.append(f"unknown keys {unknown} (allowed: {', '.join(_CONFIG_KEYS)})")
    kind = spec.get("jobqueue")
    if kind not in JOBQUEUE_CLASSES:
        problems.append(f"jobqueue: {kind!r} is not one of {', '.join(JOBQUEUE_CLASSES)}")
    for key in ("cluster", "scale", "adapt"):
        if key in spec and not isinstance(spec[key], dict):
            problems.append(f"{key}: must be a mapping of keyword arguments, got {spec[key]!r}")
    if "scale" in spec and "adapt" in spec:
        problems.append("give either scale or adapt, not both")
    if problems:
        raise InvalidInput(f"{path}: invalid cluster config:\n  " + "\n  ".join(problems))
    try:
        import dask_jobqueue
    except ImportError:
        raise InvalidInput(f"{path}: a {kind} cluster needs dask-jobqueue: pip install "
                           "'theory_kit[sweep]' or pip install dask-jobqueue (on the machine that "
                           "submits the jobs)") from None
    refused = None
    with warnings.catch_warnings():
        # a cluster whose __init__ raised warns "unclosed cluster" when collected: it never ran
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            cluster = getattr(dask_jobqueue, JOBQUEUE_CLASSES[kind])(**spec.get("cluster", {}))
        except (TypeError, ValueError) as exc:  # an unknown keyword, a missing cores/memory
            refused = f"{type(exc).__name__}: {exc}"
        if refused is not None:
            gc.collect()
    if refused is not None:
        raise InvalidInput(f"{path}: cluster: dask_jobqueue.{JOBQUEUE_CLASSES[kind]} refuses "
                           f"{spec.get('cluster', {})!r}: {refused}")
    if not scale:
        return cluster
    if "adapt" in spec:
        cluster.adapt(**spec["adapt"])
    else:
        cluster.scale(**spec.get("scale", {"jobs": 1}))
    return cluster


def job_script(config: Union[str, Path]) -> str:
    """The batch script a dask-jobqueue config file submits for each job (nothing is
    submitted): check partition, cores, memory, walltime and prologue before a sweep.

    Raises:
        InvalidInput: as `jobqueue_cluster`."""
    cluster = _ignoring_sigint(lambda: jobqueue_cluster(config, scale=False))
    try:
        return cluster.job_script()
    finally:
        cluster.close()


def _dask_client(workers: Optional[int], address: Optional[str], cluster: Optional[str]):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InvalidInput("engine='dask' needs dask and distributed: "
                           "pip install 'theory_kit[sweep]'") from None
    if address is not None:
        return Client(address), None
    if cluster is not None:
        made = jobqueue_cluster(cluster)
        return Client(made), made
    made = _ignoring_sigint(lambda: LocalCluster(n_workers=workers or 2, threads_per_worker=1,
                                                 processes=True, dashboard_address=":0"))
    return Client(made), made


def _ignoring_sigint(start: Callable[[], Any]) -> Any:
    """`start()` with SIGINT ignored, so the worker processes it spawns inherit "ignore" and
    leave Ctrl-C to this process, which stops them (instead of each printing a traceback).
    Signal handlers can only be changed from the main thread; elsewhere `start()` as is."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return start()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return start()
    finally:
        signal.signal(signal.SIGINT, previous)


def _task_key(fn: Fn, cell: Cell) -> str:
    """The cell's Dask key: the function and the cell (two sweeps sharing a scheduler never
    share a task unless they run the same function on the same cell)."""
    import hashlib

    from theory_kit.sweep.task import function_name

    text = function_name(fn) + "\n" + cell.key
    return "sweep-cell-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def dask(fn: Fn, cells: Sequence[Cell], *, workers: Optional[int] = None,
         address: Optional[str] = None, cluster: Optional[str] = None,
         **_: Any) -> Iterator[Tuple[Cell, Outcome]]:
    """Cells as Dask tasks on a LocalCluster, a scheduler at `address`, or a jobqueue cluster."""
    from distributed import as_completed

    client, made = _dask_client(workers, address, cluster)
    futures = []
    try:
        by_key = {}
        for cell in cells:
            future = client.submit(run_cell, fn, cell.kwargs(), key=_task_key(fn, cell),
                                   pure=False)
            by_key[future.key] = cell
            futures.append(future)
        # with_results: results are gathered in batches as they finish, not one round trip
        # to a worker per cell (which costs ~20 ms a cell on a busy machine)
        for future, result in as_completed(futures, with_results=True, raise_errors=False):
            cell = by_key[future.key]
            if future.status == "finished":
                outcome = result
                outcome.setdefault("attempts", 1)
            else:  # e.g. KilledWorker: the cell took down workers allowed-failures times
                import traceback

                exc = result if isinstance(result, BaseException) else future.exception()
                outcome = {"status": "error", "result": None, "duration": None, "host": None,
                           "version": None, "attempts": 1,
                           "error": "".join(traceback.format_exception(
                               type(exc), exc, exc.__traceback__))}
            future.release()
            yield cell, outcome
    finally:
        with _quiet_distributed():
            try:
                client.cancel(futures, force=True)
            except Exception:  # the client may already be gone; nothing left to cancel then
                pass
            client.close()
            if made is not None:
                made.close()


@contextlib.contextmanager
def _quiet_distributed():
    """Silence the `distributed` loggers while a sweep's client and cluster shut down: after
    Ctrl-C (or a finished sweep) the in-process scheduler logs closed-comm tracebacks at
    CRITICAL for messages to workers that are already stopping; every result the sweep keeps
    is in the store by then, so the noise only hides the "sweep interrupted" message."""
    import logging

    logger = logging.getLogger("distributed")
    previous = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(previous)


#: engine name -> generator function.
ENGINES: Dict[str, Callable[..., Iterator[Tuple[Cell, Outcome]]]] = {
    "serial": serial, "local": local, "dask": dask}
