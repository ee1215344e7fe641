"""Sharding a pytest run across a sweep (issue 18 item 4): the shards partition the collection
exactly, and a small sharded run through `theory_kit.sweep` stores pass/fail per shard."""

from __future__ import annotations

import itertools
import json
import random
import textwrap
from pathlib import Path

import pytest

from theory_kit.errors import InvalidInput
from theory_kit.sweep import shards
from theory_kit.sweep.shards import check_partition, parse_shard, run_shards, select

REPO = Path(__file__).resolve().parents[2]


def assert_partition(parts, everything):
    assert sorted(itertools.chain.from_iterable(parts)) == sorted(everything)  # union, no repeats
    for a, b in itertools.combinations(parts, 2):
        assert not set(a) & set(b)


@pytest.mark.parametrize("k", [1, 2, 3, 7, 40])
def test_select_partitions_any_list_evenly_whatever_its_order(k):
    ids = [f"tests/t{i % 5}.py::test_{i}[{i % 3}]" for i in range(31)]
    parts = [select(ids, i, k) for i in range(k)]
    assert_partition(parts, ids)
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    shuffled = random.Random(k).sample(ids, len(ids))
    assert [select(shuffled, i, k) for i in range(k)] == parts


@pytest.mark.parametrize("text", ["3/3", "-1/2", "1", "a/b", "1/0", "0/-2", ""])
def test_malformed_shards_are_invalid_input(text):
    with pytest.raises(InvalidInput, match="expected I/K with whole numbers 0 <= I < K"):
        parse_shard(text)
    assert parse_shard(" 2/5 ") == (2, 5)


def test_select_refuses_repeated_nodeids():
    with pytest.raises(InvalidInput, match="more than once"):
        select(["a::t", "b::t", "a::t"], 0, 2)


class Collected:
    def pytest_collection_finish(self, session):
        self.ids = [item.nodeid for item in session.items]


def collect(*args):
    """The nodeids this checkout's pytest would run with `args` (in this process)."""
    recorder = Collected()
    code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "--rootdir", str(REPO),
                        "-c", str(REPO / "setup.cfg"), *args], plugins=[recorder])
    assert code == 0, code
    return recorder.ids


def test_shards_of_the_real_collection_partition_it_after_marker_selection(capsys):
    paths = [str(REPO / "tests" / p) for p in ("claims", "sweep")]
    everything = collect("-m", "not slow", *paths)
    assert len(everything) > 100 and len(collect(*paths)) > len(everything)  # -m deselected some
    parts = [collect("-m", "not slow", "--shard", f"{i}/3", *paths) for i in range(3)]
    assert_partition(parts, everything)
    assert [sorted(p) for p in parts] == [select(everything, i, 3) for i in range(3)]
    capsys.readouterr()


def test_a_malformed_shard_option_is_a_usage_error(capsys):
    code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", "--rootdir", str(REPO),
                        "-c", str(REPO / "setup.cfg"), "--shard", "3/3",
                        str(REPO / "tests" / "sweep" / "sweep_tasks.py")])
    assert code == pytest.ExitCode.USAGE_ERROR
    assert "shard '3/3': expected I/K" in capsys.readouterr().err


TINY = textwrap.dedent('''
    import pytest

    @pytest.fixture
    def broken():
        raise RuntimeError("fixture down")

    @pytest.mark.parametrize("x", range(4))
    def test_ok(x):
        assert x >= 0

    def test_fails():
        assert 1 == 2

    def test_skipped():
        pytest.skip("not here")

    def test_error(broken):
        pass
''')


def test_a_sharded_run_through_the_sweep_stores_pass_fail_per_shard_and_resumes(tmp_path, capsys):
    (tmp_path / "test_tiny.py").write_text(TINY)
    store = tmp_path / "store"
    rows = run_shards(2, store, pytest_args=["test_tiny.py"], root=tmp_path, engine="serial",
                      progress=False)
    assert [r["shard"] for r in rows] == [0, 1] and all(r["status"] == "ok" for r in rows)
    everything = [f"test_tiny.py::test_ok[{x}]" for x in range(4)] + [
        "test_tiny.py::test_fails", "test_tiny.py::test_skipped", "test_tiny.py::test_error"]
    assert check_partition(rows, expected=everything) == []
    assert [r["nodeids"] for r in rows] == [select(everything, i, 2) for i in range(2)]
    totals = {k: sum(r[k] for r in rows) for k in ("selected", "passed", "failed", "skipped",
                                                   "errors")}
    assert totals == {"selected": 7, "passed": 4, "failed": 1, "skipped": 1, "errors": 1}
    assert sorted(itertools.chain.from_iterable(r["failures"] for r in rows)) == [
        "test_tiny.py::test_error", "test_tiny.py::test_fails"]
    assert {r["exit_code"] for r in rows} <= {0, 1}
    # a rerun finds every shard in the store and runs nothing; the command line reports them
    again = run_shards(2, store, pytest_args=["test_tiny.py"], root=tmp_path, engine="serial",
                       progress=False)
    assert again == rows
    assert shards.main(["2", str(store), "--engine", "serial", "--no-progress", "--root",
                        str(tmp_path), "--", "test_tiny.py"]) == 1
    out = capsys.readouterr().out
    assert "FAILED test_tiny.py::test_fails" in out and out.count("shard ") == 2


def test_check_partition_names_overlaps_gaps_and_unfinished_shards():
    rows = [{"shard": 0, "shards": 3, "status": "ok", "nodeids": ["a", "b"]},
            {"shard": 1, "shards": 3, "status": "ok", "nodeids": ["b"]},
            {"shard": 2, "shards": 3, "status": "error", "error": "RuntimeError: exited with 4"}]
    problems = check_partition(rows, expected=["a", "b", "c"])
    assert problems == ["b ran in shards 0 and 1",
                        "shard 2/3 did not finish: RuntimeError: exited with 4", "c ran in no shard"]


def test_a_shard_whose_pytest_cannot_run_is_recorded_as_an_error(tmp_path):
    rows = run_shards(1, tmp_path / "store", pytest_args=["--no-such-option"], root=tmp_path,
                      engine="serial", progress=False)
    assert [r["status"] for r in rows] == ["error"]
    assert "exited with 4" in rows[0]["error"] and "--no-such-option" in rows[0]["error"]
    with pytest.raises(InvalidInput, match="shards must be a whole number >= 1, got 0"):
        run_shards(0, tmp_path / "other")
    json.dumps(rows)  # a plain table
