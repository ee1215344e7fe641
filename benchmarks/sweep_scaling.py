"""Sweep scaling (issue 18 acceptance): 2 workers vs serial on a 200-cell sweep, and the
per-task scheduling overhead of each engine, with a projection of efficiency at 100 workers.

    .venv/bin/python benchmarks/sweep_scaling.py            # 200 cells of 40 ms CPU work
    .venv/bin/python benchmarks/sweep_scaling.py --quick    # 60 cells of 20 ms

One run, wall-clock, on whatever else the machine is doing (the numbers say how loaded it
was: `load_before`/`load_after` and `uptime`, and `raw_ceiling_2proc`: the speed-up two bare
processes get on the same work at the same time; `*_vs_ceiling` are the sweep's ratios against
it). Writes benchmarks/results/sweep_scaling.json and prints a summary.

CPU-time efficiency, readable under load: each `spin` cell reports the CPU seconds its thread
used (`cpu_s`); cpu_efficiency = sum of cells' CPU seconds / (wall x workers) is the share of
the workers' wall time that went into cell work. On an idle machine it is what the speed-up
divided by the workers is (1 = perfect); on a loaded one it separates "the sweep wasted the
time" (low) from "the cores were busy with someone else" (low too, but then `cell_cpu_share`,
the cells' CPU / wall while running, is low as well). Their quotient, `occupancy` = sum of
cell wall durations / (wall x workers), is the share of the workers' time spent inside cells:
the engine's own efficiency, which load does not hide. The serial run's values are the same
ratios for one worker.

Overhead per task = wall time of a sweep of no-op cells / cells (with 2 workers: both the
client's share — one fsync'd SQLite commit per cell — and the engine's). Projection to W = 100
workers and cells of t seconds: each cell pays the measured per-task latency L (2 x the no-op
wall per task, 2 workers running side by side), and the client and scheduler must absorb W / t
results per second, each costing c CPU seconds (measured: this process's CPU time per no-op
cell, which covers the in-process scheduler, the client and the store), so efficiency is about
t / (t + L) * min(1, t / (W * c)). The λ sweep's cells take 2-10 s (fig_subleq_lambda: one λ,
100 programs, 20 loops); learning cells (training a small model) are assumed 60-300 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from theory_kit import sweep  # noqa: E402
from theory_kit.paths import write_atomic  # noqa: E402
from theory_kit.sweep.grid import Cell  # noqa: E402
from theory_kit.sweep.store import Store  # noqa: E402

FN = "theory_kit.sweep.demo:spin"


def timed(label, cpu=None, **kwargs):
    with tempfile.TemporaryDirectory() as store:
        start, cpu_start = time.perf_counter(), time.process_time()
        rows = sweep.run(FN, store=store, progress=False, **kwargs)
        wall = time.perf_counter() - start
        if cpu is not None:  # CPU seconds of this process: client + store + (local) scheduler
            cpu.append(time.process_time() - cpu_start)
    assert all(r["status"] == "ok" for r in rows), [r["error"] for r in rows if r["error"]]
    workers = 1 if kwargs.get("engine") == "serial" else 2
    print(f"  {label:<34} {wall:7.2f} s   cpu efficiency {cpu_efficiency(rows, wall, workers):.2f}",
          flush=True)
    return wall, rows


def cpu_efficiency(rows, wall, workers):
    """Sum of the cells' CPU seconds / (wall x workers)."""
    return sum(r["cpu_s"] for r in rows) / (wall * workers)


def cell_cpu_share(rows):
    """The cells' CPU seconds / their wall seconds while running: the share of a core they got."""
    return sum(r["cpu_s"] for r in rows) / sum(r["duration"] for r in rows)


def uptime():
    try:
        import subprocess

        return subprocess.run(["uptime"], stdout=subprocess.PIPE, text=True).stdout.strip()
    except OSError:
        return None


def _chunk(args):
    from theory_kit.sweep.demo import spin

    ms, seeds = args
    for seed in seeds:
        spin(ms, seed)


def raw_ceiling(cells, ms):
    """Speed-up of 2 bare processes over 1 on the same work, no sweep machinery: what the
    machine offers right now (other load included); the sweep's ratios are read against it."""
    import multiprocessing

    seeds = list(range(cells))
    start = time.perf_counter()
    _chunk((ms, seeds))
    one = time.perf_counter() - start
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_chunk, [(0.0, [0]), (0.0, [0])], chunksize=1)  # workers started and warm
        start = time.perf_counter()
        pool.map(_chunk, [(ms, seeds[0::2]), (ms, seeds[1::2])], chunksize=1)
        two = time.perf_counter() - start
    return one, two


def _noop(i):
    return i


def plain_dask(address, cells):
    """Seconds per task of bare Dask (map + as_completed with results) on the same cluster:
    the part of the dask engine's overhead that is Dask's own."""
    from distributed import Client, as_completed

    with Client(address) as client:
        start = time.perf_counter()
        futures = client.map(_noop, range(cells), pure=False)
        for _ in as_completed(futures, with_results=True):
            pass
        return (time.perf_counter() - start) / cells


def commit_cost(n=200):
    """Seconds per durable store commit (the client's serialized work per cell)."""
    with tempfile.TemporaryDirectory() as root:
        with Store(root, create=True) as db:
            cells = [Cell.of({"i": i}, 0) for i in range(n)]
            outcome = {"status": "ok", "result": '{"x": 1}', "duration": 0.0, "host": "h",
                       "version": "v"}
            start = time.perf_counter()
            for cell in cells:
                db.record(cell, outcome)
            return (time.perf_counter() - start) / n


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    cells, ms = (60, 20.0) if args.quick else (200, 40.0)
    grid = {"i": list(range(cells)), "ms": [ms]}
    noop = {"i": list(range(cells)), "ms": [0.0]}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(f"sweep_scaling: {cells} cells of {ms:g} ms; {uptime()}", flush=True)
    out = {"cells": cells, "cell_ms": ms, "cpus": os.cpu_count(), "load_before": load,
           "uptime_before": uptime(), "python": platform.python_version()}

    out["serial_s"], reference = timed("serial (in-process)", grid=grid, seeds=1,
                                       engine="serial")
    out["local2_s"], local = timed("local, 2 processes", grid=grid, seeds=1, engine="local",
                                   workers=2)
    from distributed import LocalCluster

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    out["dask_cluster_start_s"] = time.perf_counter() - start
    print(f"  {'dask LocalCluster start-up':<34} {out['dask_cluster_start_s']:7.2f} s")
    try:
        out["dask2_s"], on_dask = timed("dask, 2 workers (running cluster)", grid=grid, seeds=1,
                                        engine="dask", address=cluster.scheduler_address)
        cpu = []
        out["dask_noop_s"], _ = timed("dask, no-op cells", cpu=cpu, grid=noop, seeds=1,
                                      engine="dask", address=cluster.scheduler_address)
        out["dask_client_and_scheduler_cpu_ms_per_task"] = cpu[0] / cells * 1e3
        out["plain_dask_ms_per_task"] = plain_dask(cluster.scheduler_address, cells) * 1e3
        print(f"  {'bare dask map, no-op tasks':<34} "
              f"{out['plain_dask_ms_per_task'] * cells / 1e3:7.2f} s", flush=True)
    finally:
        cluster.close()
    out["serial_noop_s"], _ = timed("serial, no-op cells", grid=noop, seeds=1, engine="serial")
    out["local_noop_s"], _ = timed("local 2, no-op cells", grid=noop, seeds=1, engine="local",
                                   workers=2)
    out["store_commit_ms"] = commit_cost() * 1e3
    one, two = raw_ceiling(cells, ms)
    out["raw_1proc_s"], out["raw_2proc_s"], out["raw_ceiling_2proc"] = one, two, one / two
    print(f"  {'bare processes: 1 vs 2':<34} {one:7.2f} s / {two:.2f} s", flush=True)
    out["load_after"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    out["uptime_after"] = uptime()
    for name, rows, wall, workers in (("serial", reference, out["serial_s"], 1),
                                      ("local2", local, out["local2_s"], 2),
                                      ("dask2", on_dask, out["dask2_s"], 2)):
        out[f"cpu_efficiency_{name}"] = cpu_efficiency(rows, wall, workers)
        out[f"cell_cpu_share_{name}"] = cell_cpu_share(rows)
        # = cpu_efficiency / cell_cpu_share: the share of the workers' wall time spent inside
        # cells, whatever the cells got of the cores meanwhile (the engine's own efficiency)
        out[f"occupancy_{name}"] = sum(r["duration"] for r in rows) / (wall * workers)
    out["cell_cpu_ms_mean"] = sum(r["cpu_s"] for r in reference) / len(reference) * 1e3

    out["mean_cell_s_serial"] = sum(r["duration"] for r in reference) / len(reference)
    strip = lambda rows: [{k: r[k] for k in ("i", "seed", "acc")} for r in rows]  # noqa
    assert strip(reference) == strip(local) == strip(on_dask)
    out["speedup_local2"] = out["serial_s"] / out["local2_s"]
    out["speedup_dask2"] = out["serial_s"] / out["dask2_s"]
    out["local2_vs_ceiling"] = out["speedup_local2"] / out["raw_ceiling_2proc"]
    out["dask2_vs_ceiling"] = out["speedup_dask2"] / out["raw_ceiling_2proc"]
    out["speedup_dask2_with_startup"] = out["serial_s"] / (out["dask2_s"]
                                                           + out["dask_cluster_start_s"])
    for engine in ("serial", "local", "dask"):
        out[f"overhead_ms_per_task_{engine}"] = out[f"{engine}_noop_s"] / cells * 1e3
    # latency each cell pays on a worker (2 workers ran the no-op cells side by side), and the
    # serialized work per cell (this process hosts the LocalCluster scheduler, the client and
    # the store): efficiency ~ t / (t + latency) * min(1, t / (W * serialized))
    latency = 2 * out["overhead_ms_per_task_dask"] / 1e3
    serial_part = out["dask_client_and_scheduler_cpu_ms_per_task"] / 1e3
    out["projection_100_workers"] = {
        f"{t:g}s": round(t / (t + latency) * min(1.0, t / (100 * serial_part)), 3)
        for t in (0.1, 1.0, 2.0, 4.0, 10.0, 60.0, 300.0)}
    print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in out.items()},
                     indent=1))
    write_atomic(REPO / "benchmarks" / "results" / "sweep_scaling.json",
                 json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
