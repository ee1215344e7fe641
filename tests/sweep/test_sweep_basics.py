"""theory_kit.sweep without Dask: seeds, validation, the store, failures, the command line."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest

import sweep_tasks
from theory_kit import cli, sweep
from theory_kit.errors import InvalidInput, SweepStoreError, TheoryKitError
from theory_kit.sweep.engines import jobqueue_cluster
from theory_kit.sweep.grid import RESERVED
from theory_kit.sweep.store import FILENAME, Store

WORK = "sweep_tasks:work"
#: Row fields that legitimately differ between runs of the same sweep.
VOLATILE = ("duration", "host", "finished_at", "attempts")


def strip(rows):
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]


def test_seeds_depend_only_on_params_and_index():
    a = sweep.expand({"n": [1, 2], "lam": [0.5]}, seeds=3)
    b = sweep.expand([{"lam": 0.5, "n": 1}, {"lam": 0.5, "n": 2}], seeds=[0, 1, 2])
    assert [(c.params, c.seed) for c in a] == [(c.params, c.seed) for c in b]
    assert len({c.seed for c in a}) == 6 and all(0 <= c.seed < 2**32 for c in a)
    assert sweep.cell_seed({"n": 1, "lam": 0.5}, 2) == a[2].seed


def test_every_problem_is_reported_at_once():
    with pytest.raises(InvalidInput) as info:
        sweep.run(lambda x, seed: {}, {"seed": [1], "x": [], "y": [object()], "z": 3},
                  seeds=0, store="unused", engine="local", workers=0, address="tcp://x:1")
    text = str(info.value)
    for needle in ("cannot be sent to worker processes", "'seed' is reserved",
                   "list of values is empty", "object is not a JSON value", "grid['z']",
                   "seeds must be a whole number >= 1, got 0", "workers", "needs engine='dask'"):
        assert needle in text, needle


def test_a_raising_cell_is_recorded_with_its_traceback_and_the_sweep_goes_on(tmp_path):
    rows = sweep.run("sweep_tasks:fails_on_two", {"x": [1, 2, 3]}, seeds=1, store=tmp_path,
                     engine="serial")
    assert [r["status"] for r in rows] == ["ok", "error", "ok"]
    assert "ValueError: bad x 2" in rows[1]["error"] and "Traceback" in rows[1]["error"]
    assert rows[0]["y"] == 1 and rows[0]["error"] is None
    # a restart counts the failed cell as finished unless asked to retry it
    again = sweep.run("sweep_tasks:fails_on_two", {"x": [1, 2, 3]}, seeds=1, store=tmp_path,
                      engine="serial", retry_failed=True)
    assert again[1]["finished_at"] > rows[1]["finished_at"]
    assert again[0]["finished_at"] == rows[0]["finished_at"]


def test_reserved_names_are_refused_and_bad_calls_or_results_are_failed_cells(tmp_path):
    with pytest.raises(InvalidInput, match="'status' is reserved"):
        sweep.run("builtins:dict", [{"status": 1}], seeds=1, store=tmp_path, engine="serial")
    rows = sweep.run("builtins:sorted", [{"key": None}], seeds=1, store=tmp_path / "b",
                     engine="serial")  # sorted() without an iterable raises TypeError
    assert rows[0]["status"] == "error" and "TypeError" in rows[0]["error"]
    rows = sweep.run("sweep_tasks:returns_list", [{"x": 1}], seeds=1, store=tmp_path / "c",
                     engine="serial")
    assert rows[0]["status"] == "error" and "must return a dict" in rows[0]["error"]


def test_local_engine_equals_serial_and_resumes(tmp_path):
    grid = {"x": list(range(6))}
    serial = sweep.run(WORK, grid, seeds=2, store=tmp_path / "s", engine="serial")
    local = sweep.run(sweep_tasks.work, grid, seeds=2, store=tmp_path / "l", engine="local",
                      workers=2)
    assert strip(local) == strip(serial)
    assert all(r["status"] == "ok" and r["version"] for r in local)
    bigger = sweep.run(WORK, {"x": list(range(8))}, seeds=2, store=tmp_path / "s",
                       engine="serial")
    assert strip(bigger[:12]) == strip(serial)
    assert [r["finished_at"] for r in bigger[:12]] == [r["finished_at"] for r in serial]


def test_two_sweeps_write_different_stores_concurrently(tmp_path):
    grid = {"x": list(range(8))}
    out = {}

    def go(name):
        out[name] = sweep.run(WORK, grid, seeds=2, store=tmp_path / name, engine="local",
                              workers=1)

    threads = [threading.Thread(target=go, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    reference = sweep.run(WORK, grid, seeds=2, store=tmp_path / "ref", engine="serial")
    assert strip(out["a"]) == strip(out["b"]) == strip(reference)
    assert len(reference) == 16


def test_one_store_is_written_by_one_sweep_at_a_time(tmp_path):
    with Store(tmp_path, create=True) as held:
        held.lock()
        with pytest.raises(SweepStoreError, match=f"{tmp_path}.*in use by pid"):
            sweep.run(WORK, {"x": [1]}, seeds=1, store=tmp_path, engine="serial")


def test_a_store_of_another_function_is_refused(tmp_path):
    sweep.run(WORK, {"x": [1]}, seeds=1, store=tmp_path, engine="serial")
    with pytest.raises(SweepStoreError, match="holds results of 'sweep_tasks:work'"):
        sweep.run("sweep_tasks:fails_on_two", {"x": [1]}, seeds=1, store=tmp_path,
                  engine="serial")


def _finished_store(tmp_path):
    store = tmp_path / "store"
    sweep.run(WORK, {"x": list(range(40))}, seeds=3, store=store, engine="serial")
    return store, store / FILENAME


@pytest.mark.parametrize("damage", ["truncate", "garbage", "header", "row", "empty-row-text"])
def test_a_corrupted_or_truncated_store_is_a_clear_error_naming_the_file(tmp_path, damage):
    store, path = _finished_store(tmp_path)
    size = path.stat().st_size
    assert size > 8192
    if damage == "truncate":
        with open(path, "r+b") as fh:
            fh.truncate(size // 2)
    elif damage == "garbage":
        with open(path, "r+b") as fh:
            fh.seek(4096)
            fh.write(b"\xab" * (size - 4096))
    elif damage == "header":
        with open(path, "r+b") as fh:
            fh.write(b"not a database!!")
    else:  # a row changed behind the store's back: caught by its checksum
        db = sqlite3.connect(path)
        value = '{"y": 0}' if damage == "row" else "{"
        db.execute("UPDATE cells SET result = ? WHERE seed_index = 1", (value,))
        db.commit()
        db.close()
    for call in (lambda: sweep.load(store), lambda: sweep.status(store),
                 lambda: sweep.run(WORK, {"x": [1]}, seeds=1, store=store, engine="serial")):
        with pytest.raises(SweepStoreError) as info:
            call()
        assert str(path) in str(info.value) and "corrupted or truncated" in str(info.value)
    assert cli.main(["sweep", "table", str(store)]) == 2


def test_a_missing_store_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SweepStoreError, match=str(tmp_path / "nothing")):
        sweep.load(tmp_path / "nothing")
    assert cli.main(["sweep", "status", str(tmp_path / "nothing")]) == 2
    assert "no sweep store here" in capsys.readouterr().err


def test_the_command_line_runs_shows_and_prints_a_sweep(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"fn": WORK, "grid": {"x": [1, 2, 3]}, "seeds": 2,
                                "store": "out", "engine": "serial"}))
    assert cli.main(["sweep", "run", str(spec)]) == 0
    assert "6 cells, 6 ok, 0 failed" in capsys.readouterr().err
    assert cli.main(["sweep", "status", str(tmp_path / "out"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["cells"], info["ok"], info["failed"], info["remaining"]) == (6, 6, 0, 0)
    assert cli.main(["sweep", "table", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("x,seed_index,seed,status,") and len(lines) == 7
    assert cli.main(["sweep", "table", str(tmp_path / "out"), "--format", "json"]) == 0
    assert strip(json.loads(capsys.readouterr().out)) == strip(sweep.load(tmp_path / "out",
                                                                          dataframe=False))


def test_a_python_spec_may_define_its_task(tmp_path, capsys):
    spec = tmp_path / "my_sweep_spec_1.py"
    spec.write_text("def fn(a, seed):\n    return {'double': 2 * a}\n"
                    "grid = {'a': [1, 2]}\nseeds = 1\nstore = 'out'\nworkers = 1\n")
    assert cli.main(["sweep", "run", str(spec)]) == 0
    rows = sweep.load(tmp_path / "out", dataframe=False)
    assert [r["double"] for r in rows] == [2, 4]
    assert sweep.status(tmp_path / "out")["fn"] == "my_sweep_spec_1:fn"


def test_a_bad_spec_lists_its_problems(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"grid": {"x": [1]}, "seed": 2}))
    assert cli.main(["sweep", "run", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "fn: missing" in err and "seeds: missing" in err and "unknown keys ['seed']" in err


def test_jobqueue_configs_are_checked_and_dask_jobqueue_is_optional(tmp_path, monkeypatch):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"jobqueue": "slurmm", "cluster": 3, "scale": {}, "adapt": {},
                               "cores": 8}))
    with pytest.raises(InvalidInput) as info:
        jobqueue_cluster(bad)
    for needle in ("'slurmm' is not one of", "cluster: must be a mapping", "not both",
                   "unknown keys ['cores']"):
        assert needle in str(info.value)
    good = tmp_path / "slurm.json"
    good.write_text(json.dumps({"jobqueue": "slurm", "cluster": {"cores": 1}}))
    monkeypatch.setitem(__import__("sys").modules, "dask_jobqueue", None)
    with pytest.raises(InvalidInput, match="pip install dask-jobqueue"):
        jobqueue_cluster(good)
    assert issubclass(SweepStoreError, TheoryKitError) and "seed" in RESERVED


def test_check_passes_ok_rows_and_names_failed_cells(tmp_path):
    from theory_kit.errors import SweepFailed

    rows = sweep.run("sweep_tasks:fails_on_two", {"x": [1, 2]}, seeds=1, store=tmp_path,
                     engine="serial")
    assert sweep.check(rows[:1]) == rows[:1]
    with pytest.raises(SweepFailed) as info:
        sweep.check(rows)
    assert "1 of 2 sweep cells failed" in str(info.value) and "{'x': 2} seed_index=0" in \
        str(info.value) and "ValueError: bad x 2" in str(info.value)
    assert info.value.rows == rows[1:]


def test_a_long_sweep_shows_a_progress_bar_with_eta(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("THEORY_KIT_PROGRESS", "1")  # stderr is not a terminal under pytest
    monkeypatch.setenv("SWEEP_TEST_SLEEP", "0.12")
    sweep.run(WORK, {"x": list(range(8))}, seeds=1, store=tmp_path, engine="serial")
    err = capsys.readouterr().err
    assert "sweep" in err and "cell" in err and "<" in err  # tqdm: "elapsed<remaining"
    monkeypatch.setenv("SWEEP_TEST_SLEEP", "0")
    sweep.run(WORK, {"x": list(range(8))}, seeds=2, store=tmp_path, engine="serial",
              progress=False)
    assert capsys.readouterr().err == ""


def test_a_task_that_breaks_its_worker_is_a_failed_cell_not_a_crash(tmp_path):
    """A worker that dies on a cell (here: the task cannot be unpickled there, which ends the
    worker process like a segfault would) breaks the process pool: the pool is rebuilt, the
    cell retried, and after MAX_ATTEMPTS recorded as failed; the sweep itself finishes."""
    from theory_kit.sweep.engines import MAX_ATTEMPTS

    rows = sweep.run(sweep_tasks.Unpicklable(), {"x": [1, 2]}, seeds=1, store=tmp_path,
                     engine="local", workers=1)
    assert [r["status"] for r in rows] == ["error", "error"]
    assert f"died {MAX_ATTEMPTS} times" in rows[0]["error"]
    assert rows[0]["attempts"] == MAX_ATTEMPTS


def test_a_worker_process_that_dies_has_its_cell_rerun_on_the_local_engine(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv("SWEEP_TEST_MARK", str(tmp_path / "died"))
    rows = sweep.run("sweep_tasks:dies_once", {"x": [0, 1, 2, 3]}, seeds=1,
                     store=tmp_path / "s", engine="local", workers=2)
    assert (tmp_path / "died").exists()
    assert [(r["status"], r["y"]) for r in rows] == [("ok", 0), ("ok", 1), ("ok", 4), ("ok", 9)]
    assert rows[1]["attempts"] == 2


def test_load_gives_a_dataframe_exactly_when_pandas_is_there(tmp_path, monkeypatch):
    import sys
    import types

    rows = sweep.run(WORK, {"x": [1, 2]}, seeds=1, store=tmp_path, engine="serial")
    monkeypatch.setitem(sys.modules, "pandas", None)  # not installed
    assert sweep.load(tmp_path) == rows
    with pytest.raises(InvalidInput, match="needs pandas"):
        sweep.load(tmp_path, dataframe=True)
    fake = types.SimpleNamespace(DataFrame=lambda data: ("frame", data))
    monkeypatch.setitem(sys.modules, "pandas", fake)
    assert sweep.load(tmp_path) == ("frame", rows)
    assert sweep.load(tmp_path, dataframe=False) == rows


def test_the_dask_engine_without_dask_installed_is_refused_up_front(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "distributed" else real(name, *a))
    with pytest.raises(InvalidInput, match=r"pip install 'theory_kit\[sweep\]'"):
        sweep.run(WORK, {"x": [1]}, seeds=1, store=tmp_path / "s", engine="dask")
    assert not (tmp_path / "s").exists()  # nothing created before the arguments are checked
