"""Small task functions for examples, the benchmark and the tests (numpy only)."""

from __future__ import annotations

import time

import numpy as np

__all__ = ["noisy_mean", "spin"]


def noisy_mean(n: int, scale: float, seed: int) -> dict:
    """The mean and spread of n seeded normal draws of standard deviation `scale`."""
    x = np.random.default_rng(seed).normal(0.0, scale, size=n)
    return {"mean": float(x.mean()), "std": float(x.std())}


#: Iterations of `spin`'s loop per requested millisecond (about 1 ms on one current core).
SPIN_PER_MS = 8_000


def spin(ms: float, seed: int, i: int = 0) -> dict:
    """A fixed amount of CPU work, about `ms` milliseconds on an idle core (a stand-in cell of
    known cost: fixed work, not a wall-clock wait, so contention for cores shows). `cpu_s` is
    the CPU time this thread spent on it (vs the row's wall `duration`: the share of a core the
    cell got)."""
    start = time.thread_time()
    acc = seed & 0x7FFFFFFF
    for _ in range(int(ms * SPIN_PER_MS)):
        acc = (acc * 1103515245 + 12345) & 0x7FFFFFFF
    return {"acc": acc, "cpu_s": time.thread_time() - start}
