"""Task functions for the sweep tests (importable by worker processes: the repo root is on
sys.path, which spawned workers inherit).

`work` logs "start x pid" and "end x pid" lines to the file named by $SWEEP_TEST_LOG (when set, one
O_APPEND write per line, so concurrent workers never interleave a line) and sleeps
$SWEEP_TEST_SLEEP seconds in between: the tests count calls and kill things mid-sweep."""

from __future__ import annotations

import os
import random
import time


def _log(text: str) -> None:
    path = os.environ.get("SWEEP_TEST_LOG")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (text + "\n").encode())
        finally:
            os.close(fd)


def work(x: int, seed: int) -> dict:
    _log(f"start {x} {os.getpid()}")
    time.sleep(float(os.environ.get("SWEEP_TEST_SLEEP", "0") or 0))
    value = random.Random(seed).randrange(10**6)
    _log(f"end {x} {os.getpid()}")
    return {"y": x * x, "r": value, "pid_free": True}


def fails_on_two(x: int, seed: int) -> dict:
    if x == 2:
        raise ValueError(f"bad x {x}")
    return {"y": x}


def log_lines(path) -> list:
    try:
        with open(path, encoding="utf-8") as fh:
            return [line.split() for line in fh.read().splitlines() if line]
    except FileNotFoundError:
        return []


def returns_list(x: int, seed: int) -> list:
    return [x]


class Unpicklable:
    """A callable whose pickle cannot be loaded in a worker: its call never runs there."""

    def __call__(self, x: int, seed: int) -> dict:
        return {"y": x}

    def __reduce__(self):
        return (_refuse, ())


def _refuse():
    raise RuntimeError("cannot be rebuilt in a worker")


def dies_once(x: int, seed: int) -> dict:
    """Ends its worker process abruptly the first time it runs x == 1 (marker file in
    $SWEEP_TEST_MARK), as a segfault or the OOM killer would."""
    mark = os.environ["SWEEP_TEST_MARK"]
    if x == 1 and not os.path.exists(mark):
        open(mark, "w").close()
        os._exit(1)
    return {"y": x * x}
