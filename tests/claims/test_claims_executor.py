"""`verify(..., executor=...)`: the quantity evaluated ahead on worker processes or Dask gives the
serial verdict exactly (issue 18 item 4); unpicklable claims and bad executors are refused clearly.

One process pool and one Dask LocalCluster (2 single-threaded worker processes each) are started
per module and shared: spawning workers that import theory_kit costs seconds on a loaded machine.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import sympy as sp

from theory_kit import bounds
from theory_kit.bounds import symbols as sym
from theory_kit.claims import Claim, verify
from theory_kit.claims.builtin import softmax_pmax
from theory_kit.claims.cli import main
from theory_kit.claims.verify import WorkerTraceback
from theory_kit.errors import InvalidClaim, InvalidInput
from theory_kit.sweep.engines import process_pool, terminate

BUDGET = 120


# -- quantities (top level: worker processes import them by name) -----------------------------
def dented(n, beta):
    """p_max with Delta = 1, pushed below the bound by a bump at n = 1024, beta = 21."""
    bump = math.exp(-((n - 1024) / 400) ** 2 - (math.log(beta / 21.0) / 0.3) ** 2)
    return softmax_pmax(n=n, beta=beta, Delta=1.0, spread=0.0) * (1 - 0.02 * bump)


def dented_claim():
    return Claim("dented", dented, bounds.softmax_pmax_lower(sym.n, sym.beta, 1),
                 {"n": (2, 1024, "int"), "beta": (0.1, 50.0, "log")}, relation=">=", rtol=1e-4)


def lattice(a, b, c):
    """Holds on the whole box; tight at a = b = c = 7 (integers: the ±1 neighbourhood runs)."""
    return (a - 7) ** 2 + (b - 7) ** 2 + (c - 7) ** 2 + 1.0


def lattice_claim():
    return Claim("lattice", lattice, sp.Integer(1), {"a": (0, 40, "int"), "b": (0, 40, "int"),
                                                     "c": (0, 40, "int")}, relation=">=")


def small_grid(i, j):
    return i * j


def small_grid_claim():  # 10 x 10 points <= budget: exhaustive
    return Claim("small_grid", small_grid, "80", {"i": (0, 9, "int"), "j": (0, 9, "int")})


def raises_far_out(x, y):
    if x > 0.9 and y > 0.9:
        raise ZeroDivisionError(f"sensor saturated at x={x:.3f}")
    return x + y


def exits(status):
    os._exit(status)  # kills the worker process


def returns_lock(x):
    return threading.Lock()


MAIN_THREAD_CALLS: list = []


def counted(x, y):
    MAIN_THREAD_CALLS.append(threading.current_thread() is threading.main_thread())
    return x * y


def claims():
    return [dented_claim(), lattice_claim(), small_grid_claim(),
            Claim("formula", "x*(1-x) + y/10", "1/4", {"x": (0.0, 1.0, "real"), "y": (0.0, 1.0, "real")})]


@pytest.fixture(scope="module")
def pool():
    made = process_pool(2)
    yield made
    terminate(made)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0")
    made = distributed.Client(cluster)
    yield made
    made.close()
    cluster.close()


@pytest.fixture(scope="module")
def serial_verdicts():
    return [verify(c, budget=BUDGET, seed=3) for c in claims()]


def test_serial_verdicts_cover_every_batched_phase(serial_verdicts):
    dented_v, lattice_v, grid_v, formula_v = serial_verdicts
    assert not dented_v.holds and dented_v.counterexample["n"] > 600
    assert lattice_v.holds and dict(lattice_v.worst_params) == {"a": 7, "b": 7, "c": 7}
    assert grid_v.exhaustive and not grid_v.holds and grid_v.n_evaluated == 100
    assert formula_v.holds is False  # 1/4 + y/10 > 1/4
    phases = {e.phase for v in serial_verdicts for e in v.log}
    assert phases == {"exhaustive", "corners", "sobol", "local"}


def test_a_process_pool_gives_the_serial_verdicts(pool, serial_verdicts):
    for claim, serial in zip(claims(), serial_verdicts):
        assert verify(claim, budget=BUDGET, seed=3, executor=pool) == serial, claim.name


def test_a_dask_cluster_gives_the_serial_verdicts(client, serial_verdicts):
    # the violated claim (the process pool covers the others; each batch is a Dask round trip)
    assert verify(dented_claim(), budget=BUDGET, seed=3, executor=client) == serial_verdicts[0]


@pytest.mark.slow  # spawns its own workers (they import theory_kit: ~10 s on a loaded machine)
def test_local_executor_starts_and_stops_its_own_processes(serial_verdicts):
    before = set(multiprocessing.active_children())
    assert verify(dented_claim(), budget=BUDGET, seed=3, executor="local") == serial_verdicts[0]
    assert set(multiprocessing.active_children()) <= before  # its workers are stopped


def test_stop_on_violation_and_prove_match_serial(pool):
    serial = verify(dented_claim(), budget=BUDGET, seed=3, stop_on_violation=True)
    assert serial.n_evaluated < BUDGET and not serial.holds
    assert verify(dented_claim(), budget=BUDGET, seed=3, stop_on_violation=True, executor=pool) == serial
    true_formula = Claim("formula_true", "x*(1-x)", "1/4", {"x": (0.0, 1.0, "real")})
    proved = verify(true_formula, budget=64, method="prove", max_seconds=30)
    parallel = verify(true_formula, budget=64, method="prove", max_seconds=30, executor=pool)
    assert proved.status == parallel.status == "proved"
    assert parallel.log == proved.log and parallel.n_evaluated == proved.n_evaluated


def test_most_points_are_evaluated_by_the_executor():
    MAIN_THREAD_CALLS.clear()
    claim = Claim("counted", counted, "1", {"x": (0.0, 1.0, "real"), "y": (0.0, 1.0, "real")})
    with ThreadPoolExecutor(2) as threads:
        parallel = verify(claim, budget=BUDGET, seed=1, executor=threads)
    in_workers = MAIN_THREAD_CALLS.count(False)
    MAIN_THREAD_CALLS.clear()
    assert verify(claim, budget=BUDGET, seed=1) == parallel
    assert len(MAIN_THREAD_CALLS) == parallel.n_evaluated == BUDGET
    # corners + Sobol are half the budget; pattern moves and simplices most of the rest
    assert in_workers >= 0.6 * BUDGET, in_workers


def test_a_quantity_that_raises_fails_at_the_same_point_with_the_worker_traceback(pool):
    claim = Claim("raises", raises_far_out, "3", {"x": (0.0, 1.0, "real"), "y": (0.0, 1.0, "real")})
    with pytest.raises(InvalidClaim) as serial:
        verify(claim, budget=BUDGET)
    with pytest.raises(InvalidClaim) as parallel:
        verify(claim, budget=BUDGET, executor=pool)
    assert str(parallel.value) == str(serial.value)
    assert "quantity raised ZeroDivisionError: sensor saturated" in str(parallel.value)
    cause = parallel.value.__cause__
    assert isinstance(cause, WorkerTraceback) and "raises_far_out" in str(cause)


def closure_claim():
    offset = 0.5
    return Claim("closure", lambda x: x + offset, "2", {"x": (0.0, 1.0, "real")})


def test_unpicklable_quantities_are_refused_before_anything_runs(pool):
    for executor in ("local", pool):
        with pytest.raises(InvalidClaim, match=r"claim 'closure': its quantity .*<lambda>.* cannot be sent to "
                                               r".*define it at the top level"):
            verify(closure_claim(), budget=20, executor=executor)
    with ThreadPoolExecutor(2) as threads:  # threads need no pickling
        assert verify(closure_claim(), budget=40, executor=threads) == verify(closure_claim(), budget=40)


def test_dask_takes_closures_but_not_what_cloudpickle_refuses(client):
    assert verify(closure_claim(), budget=40, executor=client) == verify(closure_claim(), budget=40)
    lock = threading.Lock()
    locked = Claim("locked", lambda x: x + 0 * bool(lock), "2", {"x": (0.0, 1.0, "real")})
    with pytest.raises(InvalidClaim, match="claim 'locked'.*cannot be sent to the Dask workers"):
        verify(locked, budget=20, executor=client)


def test_a_value_that_cannot_travel_back_is_named(pool):
    claim = Claim("lock_valued", returns_lock, "1", {"x": (0.0, 1.0, "real")})
    with pytest.raises(InvalidClaim, match=r"quantity returned lock .*cannot be sent back from a worker"):
        verify(claim, budget=20, executor=pool)


@pytest.mark.parametrize("executor", ["dask", "threads", 2, object(), True])
def test_bad_executors_are_invalid_input_quoting_the_value(executor):
    with pytest.raises(InvalidInput, match=r"executor must be one of 'serial', 'local', a concurrent\.futures"
                                           r"\.Executor or a distributed\.Client, got " + type(executor).__name__):
        verify(dented_claim(), budget=20, executor=executor)


@pytest.mark.slow  # spawns its own worker
def test_a_crashed_worker_is_an_invalid_claim_naming_the_executor():
    broken = process_pool(1)
    try:
        claim = Claim("exits", exits, "1", {"status": (3, 5, "int")})
        with pytest.raises(InvalidClaim, match=r"claim 'exits': evaluating 3 points on ProcessPoolExecutor "
                                               r"failed: BrokenProcessPool"):
            verify(claim, budget=20, executor=broken)
    finally:
        terminate(broken)


CLI_CLAIM = ["verify", "--quantity", "x*(1-x) + y/10", "--bound", "1/4", "--domain",
             "x=0..1:real,y=0..1:real", "--budget", "120", "--json"]


@pytest.mark.slow  # spawns its own workers
def test_cli_local_executor_gives_the_same_verdict(capsys):
    assert main(CLI_CLAIM) == 1
    serial = json.loads(capsys.readouterr().out)
    assert main(CLI_CLAIM + ["--executor", "local", "--workers", "2"]) == 1
    assert json.loads(capsys.readouterr().out) == serial


def test_cli_executor_option_gives_the_same_verdict(capsys, client):
    base = CLI_CLAIM
    assert main(base) == 1
    serial = json.loads(capsys.readouterr().out)
    assert main(base + ["--executor", client.scheduler.address]) == 1
    assert json.loads(capsys.readouterr().out) == serial
    assert main(base + ["--executor", "threads"]) == 2
    assert "--executor must be serial, local or a Dask scheduler address" in capsys.readouterr().err
    assert main(base + ["--workers", "2"]) == 2
    assert "--workers 2 needs --executor local" in capsys.readouterr().err
