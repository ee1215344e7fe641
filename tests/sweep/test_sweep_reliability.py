"""Reliability of sweeps on real processes (issue 18 item 5): Dask LocalCluster with worker
processes started here; a killed worker, a killed client and Ctrl-C; engines agree.

Skipped without dask/distributed (the extra theory_kit[sweep]; `make test` installs it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import sweep_tasks
from theory_kit import sweep
from theory_kit.sweep.store import Store

distributed = pytest.importorskip("distributed")

WORK = "sweep_tasks:work"
VOLATILE = ("duration", "host", "finished_at", "attempts")
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def strip(rows):
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]


def serial_reference(tmp_path, grid, seeds, monkeypatch):
    monkeypatch.setenv("SWEEP_TEST_SLEEP", "0")
    monkeypatch.delenv("SWEEP_TEST_LOG", raising=False)
    return sweep.run(WORK, grid, seeds=seeds, store=tmp_path / "serial", engine="serial")


def wait_for(predicate, timeout=60.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two single-threaded worker processes; they read SWEEP_TEST_LOG/SLEEP as set here."""
    log = tmp_path_factory.mktemp("cluster") / "calls.log"
    saved = {k: os.environ.get(k) for k in ("SWEEP_TEST_LOG", "SWEEP_TEST_SLEEP")}
    os.environ.update(SWEEP_TEST_LOG=str(log), SWEEP_TEST_SLEEP="0.25")
    made = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                    dashboard_address=":0")
    try:
        yield made, log
    finally:
        made.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_dask_local_and_serial_engines_give_identical_tables(cluster, tmp_path, monkeypatch):
    made, log = cluster
    grid = {"x": list(range(8))}
    on_dask = sweep.run(WORK, grid, seeds=2, store=tmp_path / "dask", engine="dask",
                        address=made.scheduler_address)
    reference = serial_reference(tmp_path, grid, 2, monkeypatch)
    local = sweep.run(WORK, grid, seeds=2, store=tmp_path / "local", engine="local", workers=2)
    assert strip(on_dask) == strip(local) == strip(reference)
    assert len(reference) == 16 and all(r["status"] == "ok" for r in on_dask)


def test_dask_engine_starts_and_stops_its_own_local_cluster(tmp_path, monkeypatch):
    grid = {"x": [1, 2, 3]}
    reference = serial_reference(tmp_path, grid, 2, monkeypatch)
    own = sweep.run(WORK, grid, seeds=2, store=tmp_path / "own", engine="dask", workers=2)
    assert strip(own) == strip(reference)


def test_a_worker_killed_mid_sweep_has_its_cells_rerun(cluster, tmp_path, monkeypatch):
    made, log = cluster
    log.write_text("")
    grid = {"x": list(range(16))}
    out = {}

    def go():
        try:
            out["rows"] = sweep.run(WORK, grid, seeds=1, store=tmp_path / "killed",
                                    engine="dask", address=made.scheduler_address)
        except BaseException as exc:  # reported by the assertion below
            out["error"] = exc

    thread = threading.Thread(target=go)
    thread.start()
    def in_flight():  # (x, pid) of cells a worker started and has not finished
        lines = sweep_tasks.log_lines(log)
        ended = {w[1] for w in lines if w[0] == "end"}
        return [(w[1], int(w[2])) for w in lines if w[0] == "start" and w[1] not in ended]

    with distributed.Client(made.scheduler_address) as client:
        workers = set(client.run(os.getpid).values())  # the cluster's worker processes
    wait_for(lambda: sum(w[0] == "end" for w in sweep_tasks.log_lines(log)) >= 3
             and in_flight(), what="three finished cells and one running")
    victim_cell, victim_pid = in_flight()[0]
    assert victim_pid in workers
    os.kill(victim_pid, signal.SIGKILL)  # mid-cell: each cell sleeps 0.25 s
    thread.join(timeout=120)
    assert "error" not in out, out.get("error")
    lines = sweep_tasks.log_lines(log)
    starts = [w[1] for w in lines if w[0] == "start"]
    ends = [w[1] for w in lines if w[0] == "end"]
    # the killed worker's cell runs again (unless, on a very slow machine, it finished in the
    # instant before the kill: then the worker died in its next cell, which reruns instead)
    rerun = {c for c in starts if starts.count(c) >= 2}
    assert rerun, f"no cell was rerun after killing the worker running cell {victim_cell}"
    # every cell finished; one whose result was still in the dead worker's memory may have
    # finished twice (Dask recomputes lost results), never recorded twice
    assert set(ends) == {str(x) for x in range(16)}
    assert strip(out["rows"]) == strip(serial_reference(tmp_path, grid, 1, monkeypatch))


def _spec(tmp_path, n, engine="local"):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"fn": WORK, "grid": {"x": list(range(n))}, "seeds": 1,
                                "store": "store", "engine": engine, "workers": 2}))
    return spec


def _start_client(tmp_path, spec, log, sleep):
    env = {**os.environ, "SWEEP_TEST_LOG": str(log), "SWEEP_TEST_SLEEP": str(sleep),
           "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO), os.environ.get("PYTHONPATH",
                                                                                 "")])}
    return subprocess.Popen([sys.executable, "-m", "theory_kit", "sweep", "run", str(spec)],
                            env=env, cwd=tmp_path, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_killed_client_resumes_without_recomputing_finished_cells(tmp_path, monkeypatch):
    n = 24
    spec, log = _spec(tmp_path, n), tmp_path / "first.log"
    proc = _start_client(tmp_path, spec, log, sleep=0.1)
    try:
        wait_for(lambda: sum(w[0] == "end" for w in sweep_tasks.log_lines(log)) >= 6,
                 what="six finished cells")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the client and its worker processes, at once
        proc.communicate(timeout=30)
    with Store(tmp_path / "store") as db:
        kept = db.rows()
    assert 0 < len(kept) < n
    monkeypatch.setenv("SWEEP_TEST_LOG", str(tmp_path / "second.log"))
    monkeypatch.setenv("SWEEP_TEST_SLEEP", "0")
    rows = sweep.run(WORK, {"x": list(range(n))}, seeds=1, store=tmp_path / "store",
                     engine="local", workers=2)
    rerun = {int(w[1]) for w in sweep_tasks.log_lines(tmp_path / "second.log")}
    assert rerun.isdisjoint(r["x"] for r in kept)
    assert rerun | {r["x"] for r in kept} == set(range(n))
    assert strip(rows) == strip(serial_reference(tmp_path, {"x": list(range(n))}, 1,
                                                 monkeypatch))


def _stored_ok(store):
    """Finished cells in a store another process is writing (0 before it exists)."""
    try:
        return sweep.status(store)["ok"]
    except Exception:  # not created yet, or its first transaction still open
        return 0


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_ctrl_c_stops_the_sweep_and_keeps_finished_cells(tmp_path, engine):
    spec, log = _spec(tmp_path, 40, engine), tmp_path / "calls.log"
    proc = _start_client(tmp_path, spec, log, sleep=0.1)
    try:
        wait_for(lambda: sum(w[0] == "end" for w in sweep_tasks.log_lines(log)) >= 4,
                 timeout=90, what="four finished cells")
        # on a loaded machine the client can lag the workers: wait until it has stored one
        wait_for(lambda: _stored_ok(tmp_path / "store") >= 1, timeout=90,
                 what="a stored cell")
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends the foreground group
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "sweep interrupted" in err and "run it again to resume" in err
    assert "Traceback" not in err
    info = sweep.status(tmp_path / "store")
    ended = sum(w[0] == "end" for w in sweep_tasks.log_lines(log))
    # the client kept what it had received; a result still on its way when Ctrl-C came is not
    # in the store (that cell reruns next time), and nothing unfinished is recorded
    assert 1 <= info["ok"] <= ended and info["remaining"] == 40 - info["ok"]
    assert info["failed"] == 0


def test_a_jobqueue_config_file_builds_and_scales_its_cluster(tmp_path, monkeypatch):
    """The `cluster=` path end to end, with a stand-in dask_jobqueue whose SLURMCluster is a
    LocalCluster (dask-jobqueue itself needs a batch system): the config's `cluster` mapping
    reaches the class, `scale: {jobs: 2}` scales it, the sweep runs on it."""
    import types

    made = {}

    class FakeSLURMCluster(distributed.LocalCluster):
        def __init__(self, **kwargs):
            made["kwargs"] = kwargs
            super().__init__(n_workers=0, threads_per_worker=1, processes=True,
                             dashboard_address=":0")

        def scale(self, jobs=None, **kwargs):
            made.setdefault("jobs", []).append(jobs)  # closing scales to 0 too
            return super().scale(jobs)

    monkeypatch.setitem(sys.modules, "dask_jobqueue",
                        types.SimpleNamespace(SLURMCluster=FakeSLURMCluster))
    config = tmp_path / "slurm.yaml"
    config.write_text("jobqueue: slurm\ncluster:\n  cores: 1\n  memory: 1GB\n"
                      "  walltime: '00:10:00'\nscale: {jobs: 2}\n")
    grid = {"x": [1, 2, 3]}
    rows = sweep.run(WORK, grid, seeds=1, store=tmp_path / "slurm", engine="dask",
                     cluster=config)
    assert made["kwargs"] == {"cores": 1, "memory": "1GB", "walltime": "00:10:00"}
    assert made["jobs"][0] == 2
    assert strip(rows) == strip(serial_reference(tmp_path, grid, 1, monkeypatch))
