"""Malformed or out-of-range data at the landscape entry points gives a clear TheoryKitError.

Rows in the style of test_bad_input.py (same `Case`). Each row was a defect on commit 0eb631a: an
internal IndexError, a numpy overflow RuntimeWarning, a Rust panic escaping as a BaseException, or
a SolverFailed saying only "Clarabel failed"/"infeasible" for data outside the float64 range.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.fuzz.test_bad_input import Case, check_case
from theory_kit import errors
from theory_kit.errors import TheoryKitError
from theory_kit.landscape import (build_linear_attention_problem, gated_relu, linear_attention_convex,
                                  lipschitz_bounds, solve, toy_attention_dataset, toy_relu_dataset, two_layer_relu)
from theory_kit.landscape.nonconvex import train_two_layer_relu

I = errors.InvalidInput
X, Y = toy_relu_dataset(8, seed=0)
XA, YA = toy_attention_dataset(4, seq_len=3, d=2, seed=0)
LAYERS = [np.ones((2, 3)), np.ones((3, 3)), np.ones((3, 1))]

CASES = [
    Case("relu_targets_overflow", lambda c: two_layer_relu(X, 1e200 * Y, beta=1.0), I,
         "y is too large for float64"),
    Case("relu_beta_underflows_against_data", lambda c: two_layer_relu(1e150 * X, 1e100 * Y, beta=1e-300), I,
         "beta = 1e-300 is negligible"),
    Case("relu_data_scales_far_apart", lambda c: two_layer_relu(1e-300 * X, 1e300 * Y, beta=1.0), I,
         "X and y are too far apart in scale"),
    Case("gated_targets_overflow", lambda c: gated_relu(X, 1e200 * Y, beta=1.0), I,
         "y is too large for float64"),
    Case("train_targets_overflow", lambda c: train_two_layer_relu(X, 1e200 * Y, beta=1.0, width=2), I,
         "outside float64 range"),
    Case("attention_targets_overflow", lambda c: linear_attention_convex(XA, 1e200 * YA, beta=0.1), I,
         "Y is too large for float64"),
    Case("attention_cube_of_x_overflows", lambda c: linear_attention_convex(1e120 * XA, YA, beta=1.0), I,
         "X is outside the float64 range of this cubic model"),
    Case("lipschitz_weights_overflow", lambda c: lipschitz_bounds([1e200 * W for W in LAYERS]), I,
         "weights are outside the float64 range"),
    Case("solve_clarabel_panic_is_solver_failed",
         lambda c: solve(build_linear_attention_problem(XA, 1e200 * YA, beta=0.1)), errors.SolverFailed,
         "crashed"),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_bad_landscape_input_raises_a_useful_theory_kit_error(case):
    check_case(case, None)
