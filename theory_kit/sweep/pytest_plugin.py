"""pytest plugin: run one shard of the collected items, and report what it ran.

Loaded by tests/conftest.py (`pytest_plugins`), or anywhere with `-p theory_kit.sweep.pytest_plugin`.

  --shard I/K  (or THEORY_KIT_SHARD=I/K)  keep the items `shards.select` assigns to shard I
               of K, after -m/-k deselection; the others are reported as deselected.
  THEORY_KIT_SHARD_REPORT=PATH            write {"selected": [nodeids], "outcomes":
               {nodeid: passed|failed|skipped|error}, "collection_errors": n} to PATH (JSON,
               temp file + rename) at the end of the session: what `shards.run_shard` stores.

Without either, the plugin does nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from theory_kit.errors import InvalidInput
from theory_kit.sweep.shards import REPORT_ENV, SHARD_ENV, parse_shard, select


def pytest_addoption(parser):
    parser.addoption("--shard", default=None, metavar="I/K",
                     help=f"run shard I of K (0-based) of the selected items (or ${SHARD_ENV}); "
                          "the K shards partition the unsharded run")


def _shard(config):
    text = config.getoption("--shard") or os.environ.get(SHARD_ENV)
    if not text:
        return None
    try:
        return parse_shard(text)
    except InvalidInput as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_configure(config):
    _shard(config)  # a malformed --shard is a usage error before collection
    path = os.environ.get(REPORT_ENV)
    if path:
        config.pluginmanager.register(_Recorder(Path(path)), "theory_kit_shard_recorder")


@pytest.hookimpl(trylast=True)  # after -m/-k have deselected: shards split what would run
def pytest_collection_modifyitems(config, items):
    shard = _shard(config)
    if shard is None:
        return
    keep = set(select([item.nodeid for item in items], *shard))
    dropped = [item for item in items if item.nodeid not in keep]
    items[:] = [item for item in items if item.nodeid in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)


class _Recorder:
    """Each item's outcome (a failure in setup or teardown is an "error"), written at the end."""

    def __init__(self, path: Path):
        self.path = path
        self.outcomes: dict = {}
        self.collection_errors = 0

    def pytest_collectreport(self, report):
        if report.failed:
            self.collection_errors += 1

    def pytest_runtest_logreport(self, report):
        if report.failed:
            self.outcomes[report.nodeid] = "failed" if report.when == "call" else "error"
        elif report.skipped and report.when in ("setup", "call"):
            self.outcomes.setdefault(report.nodeid, "skipped")
        elif report.passed and report.when == "call":
            self.outcomes.setdefault(report.nodeid, "passed")

    def pytest_sessionfinish(self, session, exitstatus):
        data = {"selected": sorted(item.nodeid for item in getattr(session, "items", [])),
                "outcomes": self.outcomes, "collection_errors": self.collection_errors}
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)
