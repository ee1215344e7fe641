"""Shared pytest configuration: hypothesis profiles, and sharding.

Profiles (select with the environment variable HYPOTHESIS_PROFILE, default "ci"):
  ci        `make test`: derandomized (the same examples on every run and machine), no
            example database, no deadline. Tests that compile generated programs set their
            own max_examples (1,000 generated programs under ci).
  thorough  `make test-slow`: also derandomized (reproducible), 1,000 examples per ordinary
            property and 20,000 generated programs in the slow compile sweep.

No deadline anywhere: timings on shared CI machines are noisy and a slow example is not a
wrong one. `too_slow` is suppressed only in profiles that compile programs per example
(data generation includes drawing whole programs; the cost is real and intended).

Sharding (theory_kit.sweep.pytest_plugin): `--shard I/K` or THEORY_KIT_SHARD=I/K runs shard I
(0-based) of K of the items that would otherwise run (after -m/-k); the K shards partition the
unsharded run exactly. Split the thorough profile over 4 machines with
    HYPOTHESIS_PROFILE=thorough THEORY_KIT_SHARD=i/4 pytest -m slow      (i = 0..3)
or through a sweep (local processes, Dask, SLURM), with pass/fail per shard in its store:
    python -m theory_kit.sweep.shards 4 runs/thorough -- -m slow
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["theory_kit.sweep.pytest_plugin"]

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=100,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=1000,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
