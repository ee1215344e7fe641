"""Small task functions for examples, the benchmark and the tests (numpy only)."""

from __future__ import annotations

import time

import numpy as np

__all__ = ["noisy_mean", "spin"]


def noisy_mean(n: int, scale: float, seed: int) -> dict:
    """The mean and spread of n seeded normal draws of standard deviation `scale`."""
    x = np.random.default_rng(seed).normal(0.0, scale, size=n)
    return {"mean": float(x.mean()), "std": float(x.std())}


def spin(ms: float, seed: int, i: int = 0) -> dict:
    """Busy CPU work for about `ms` milliseconds (a stand-in cell of known cost)."""
    rng = np.random.default_rng(seed)
    end = time.perf_counter() + ms / 1000.0
    acc = 0.0
    while time.perf_counter() < end:
        acc += float(rng.random())
    return {"acc_positive": acc >= 0.0}
