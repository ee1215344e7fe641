"""Sharding a pytest run (the thorough property-test profile) across workers of a sweep.

    THEORY_KIT_SHARD=2/8 HYPOTHESIS_PROFILE=thorough pytest -m slow    # one shard, by hand
    python -m theory_kit.sweep.shards 8 runs/thorough -- -m slow      # all 8 through a sweep

The pytest plugin `theory_kit.sweep.pytest_plugin` (loaded by tests/conftest.py, or with
`-p theory_kit.sweep.pytest_plugin`) keeps, of the items left after collection and -m/-k
deselection, those `select(nodeids, i, k)` assigns to shard i: the nodeids sorted, the j-th to
shard j mod k. Every shard computes the same list, so the k shards partition exactly what the
unsharded run would run (union = all, pairwise disjoint, sizes within one of each other).

Items, not examples, are split: a Hypothesis property is derandomized under the thorough
profile, so its examples are a fixed sequence; splitting `max_examples` into seed ranges would
run *other* examples than the unsharded run (same count, different programs), which is not the
same coverage. The largest single property therefore bounds a shard's duration.

`run_shards(k, store, ...)` runs shard i as cell {"shard": i, ...} of a `theory_kit.sweep.run`
(any engine: local processes, a Dask LocalCluster, a scheduler or a SLURM cluster); each cell
runs pytest in a subprocess in `root` (a checkout every worker sees, e.g. on a shared file
system) and stores exit code, counts, the nodeids it ran and the failed ones. `check_partition`
verifies afterwards that the shards' nodeids are pairwise disjoint (and, given the unsharded
collection, that they cover it).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from theory_kit.errors import InvalidInput

__all__ = ["parse_shard", "select", "run_shard", "run_shards", "check_partition", "main",
           "SHARD_ENV", "REPORT_ENV"]

#: Environment variable naming the shard to run, "I/K" (0 <= I < K); the --shard option wins.
SHARD_ENV = "THEORY_KIT_SHARD"
#: Environment variable naming a JSON file the plugin writes the shard's items and outcomes to.
REPORT_ENV = "THEORY_KIT_SHARD_REPORT"
#: pytest exit codes that mean the shard ran: all passed, some failed, none collected.
_RAN = (0, 1, 5)


def parse_shard(text: str) -> Tuple[int, int]:
    """(i, k) from "I/K".

    Raises:
        InvalidInput: not two whole numbers with 0 <= I < K (the text quoted)."""
    head, sep, tail = str(text).strip().partition("/")
    try:
        i, k = int(head), int(tail)
    except ValueError:
        i = k = -1
    if not sep or k < 1 or not 0 <= i < k:
        raise InvalidInput(f"shard {text!r}: expected I/K with whole numbers 0 <= I < K, e.g. 0/4")
    return i, k


def select(nodeids: Sequence[str], i: int, k: int) -> List[str]:
    """The nodeids of shard i of k: sorted, every k-th from the i-th (input order is ignored).

    Raises:
        InvalidInput: i, k out of range, or a nodeid given twice."""
    if k < 1 or not 0 <= i < k:
        raise InvalidInput(f"shard {i}/{k}: expected 0 <= i < k")
    ordered = sorted(nodeids)
    twice = sorted({a for a, b in zip(ordered, ordered[1:]) if a == b})
    if twice:
        raise InvalidInput(f"nodeids given more than once: {twice[:5]}")
    return ordered[i::k]


def run_shard(shard: int, shards: int, root: str, args: str = "", profile: str = "thorough",
              seed: int = 0) -> Dict[str, Any]:
    """The sweep task: `python -m pytest ARGS` in `root` as shard `shard` of `shards`.

    Args:
        shard, shards: which shard (0-based) of how many.
        root: the checkout to run in (its tests/conftest.py loads the shard plugin; other
            folders get it with -p).
        args: pytest arguments as one shell-quoted string (a JSON value keys the cell).
        profile: HYPOTHESIS_PROFILE for the run.
        seed: the sweep's cell seed, unused (the profiles are derandomized).

    Returns:
        exit_code, passed, failed, skipped, errors (setup/teardown/collection), selected (how
        many items this shard ran), nodeids (those items), failures (failed nodeids), seconds,
        output (the last 3,000 characters of pytest's output).

    Raises:
        RuntimeError: pytest did not run the tests (usage or internal error, interrupted): the
            sweep records the cell as an error with the output."""
    del seed
    parse_shard(f"{shard}/{shards}")
    with tempfile.TemporaryDirectory(prefix="theory-kit-shard-") as tmp:
        report = Path(tmp) / "report.json"
        env = {**os.environ, SHARD_ENV: f"{shard}/{shards}", REPORT_ENV: str(report),
               "HYPOTHESIS_PROFILE": profile, "PYTHONPATH": os.pathsep.join(
                   [str(root)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
        command = [sys.executable, "-m", "pytest", "-p", "theory_kit.sweep.pytest_plugin",
                   "-p", "no:cacheprovider", "-q", *shlex.split(args)]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=root, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        seconds = time.perf_counter() - start
        output = done.stdout[-3000:]
        if done.returncode not in _RAN or (done.returncode != 5 and not report.is_file()):
            raise RuntimeError(f"pytest shard {shard}/{shards} in {root} exited with "
                               f"{done.returncode} ({' '.join(command)}):\n{output}")
        items = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else {}
    outcomes = items.get("outcomes", {})
    return {"exit_code": done.returncode, "selected": len(items.get("selected", [])),
            "passed": sum(o == "passed" for o in outcomes.values()),
            "failed": sum(o == "failed" for o in outcomes.values()),
            "skipped": sum(o == "skipped" for o in outcomes.values()),
            "errors": sum(o == "error" for o in outcomes.values()) + items.get("collection_errors", 0),
            "nodeids": items.get("selected", []),
            "failures": sorted(n for n, o in outcomes.items() if o in ("failed", "error")),
            "seconds": seconds, "output": output}


def run_shards(shards: int, store: Union[str, os.PathLike], *, pytest_args: Sequence[str] = (),
               profile: str = "thorough", root: Union[str, os.PathLike, None] = None,
               engine: str = "local", **sweep_options: Any) -> List[Dict[str, Any]]:
    """Run a pytest selection as `shards` shards through `theory_kit.sweep.run`.

    Args:
        shards: how many shards (>= 1).
        store: the sweep's store folder (rerunning skips the shards already recorded).
        pytest_args: arguments for every shard, e.g. ["-m", "slow"] or test paths.
        profile: HYPOTHESIS_PROFILE (default "thorough").
        root: the checkout the shards run in (default: the current directory); on a cluster, a
            path every worker sees.
        engine, **sweep_options: as `theory_kit.sweep.run` (workers, address, cluster,
            progress, retry_failed).

    Returns:
        The sweep's rows, one per shard (see `run_shard` for the fields).

    Raises:
        InvalidInput: shards is not a whole number >= 1 (and everything `sweep.run` raises)."""
    from theory_kit.sweep.run import run

    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise InvalidInput(f"shards must be a whole number >= 1, got {shards!r}")
    root = str(Path(root if root is not None else os.getcwd()).resolve())
    args = shlex.join([str(a) for a in pytest_args])
    grid = [{"shard": i, "shards": shards, "root": root, "args": args, "profile": profile}
            for i in range(shards)]
    return run("theory_kit.sweep.shards:run_shard", grid, seeds=1, store=store, engine=engine,
               **sweep_options)


def check_partition(rows: Sequence[Dict[str, Any]],
                    expected: Optional[Sequence[str]] = None) -> List[str]:
    """Problems with the shards of `rows` (empty when they partition the run): a shard that
    did not finish, a nodeid run by two shards, and — given `expected`, the unsharded
    collection — a nodeid no shard ran or one that is not in it."""
    problems: List[str] = []
    owner: Dict[str, int] = {}
    for row in rows:
        if row.get("status") != "ok":
            problems.append(f"shard {row.get('shard')}/{row.get('shards')} did not finish: "
                            f"{str(row.get('error'))[-300:]}")
            continue
        for nodeid in row["nodeids"]:
            if nodeid in owner:
                problems.append(f"{nodeid} ran in shards {owner[nodeid]} and {row['shard']}")
            owner[nodeid] = row["shard"]
    if expected is not None:
        missing = sorted(set(expected) - set(owner))
        extra = sorted(set(owner) - set(expected))
        problems += [f"{n} ran in no shard" for n in missing]
        problems += [f"{n} ran in a shard but is not in the unsharded collection" for n in extra]
    return problems


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m theory_kit.sweep.shards K STORE [options] [-- PYTEST_ARGS]`: run K shards
    through a sweep, print one line per shard and check that they partition the run.

    Returns:
        0 every shard passed, 1 a test failed, 2 a shard did not run or shards overlapped."""
    parser = argparse.ArgumentParser(
        prog="python -m theory_kit.sweep.shards",
        description="Run a pytest selection (default: the thorough profile) as K shards through "
                    "theory_kit.sweep; pass/fail per shard is kept in STORE. Arguments after -- go "
                    "to pytest, e.g. -- -m slow.")
    parser.add_argument("shards", type=int, help="number of shards K")
    parser.add_argument("store", help="the sweep's store folder (a rerun skips finished shards)")
    parser.add_argument("--engine", default="local", help="local (default), dask or serial")
    parser.add_argument("--workers", type=int, default=None, help="local processes / LocalCluster workers")
    parser.add_argument("--address", default=None, help="a Dask scheduler (engine dask)")
    parser.add_argument("--cluster", default=None, help="a dask-jobqueue config file (engine dask)")
    parser.add_argument("--profile", default="thorough", help="HYPOTHESIS_PROFILE (default thorough)")
    parser.add_argument("--root", default=None, help="the checkout to run in (default: here)")
    parser.add_argument("--retry-failed", action="store_true", help="rerun shards recorded as errors")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    options = {k: getattr(args, k) for k in ("workers", "address", "cluster") if getattr(args, k) is not None}
    try:
        rows = run_shards(args.shards, args.store, pytest_args=pytest_args, profile=args.profile,
                          root=args.root, engine=args.engine, progress=not args.no_progress,
                          retry_failed=args.retry_failed, **options)
    except InvalidInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    for row in rows:
        if row["status"] == "ok":
            print(f"shard {row['shard']}/{row['shards']}: {row['selected']} items, {row['passed']} passed, "
                  f"{row['failed']} failed, {row['skipped']} skipped, {row['errors']} errors "
                  f"({row['seconds']:.1f} s on {row['host']})")
            for nodeid in row["failures"]:
                print(f"  FAILED {nodeid}")
        else:
            print(f"shard {row['shard']}/{row['shards']}: did not run:\n{row['error']}")
    problems = check_partition(rows)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 2
    return 1 if any(row["failed"] or row["errors"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
