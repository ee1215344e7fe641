"""Shared fixtures for the landscape tests: the d = 2 toy problems are solved once per session."""

import pytest

from theory_kit.landscape import TOY_BETA, toy_relu_dataset, two_layer_relu


@pytest.fixture(scope="session")
def toy_solutions():
    """{n: (X, y, TwoLayerReluResult)} for the acceptance sizes, all patterns, Clarabel."""
    out = {}
    for n in (50, 100, 200):
        X, y = toy_relu_dataset(n, seed=0)
        out[n] = (X, y, two_layer_relu(X, y, beta=TOY_BETA))
    return out
