"""Validate-first InvalidInput for bad arguments, SolverFailed for every non-optimal solve."""

import cvxpy as cp
import numpy as np
import pytest

from theory_kit.errors import InvalidInput, SolverFailed, TheoryKitError
from theory_kit.landscape import (attention_nonconvex_baseline, gated_relu, linear_attention_convex,
                                  lipschitz_bounds, nonconvex_baseline, solve, toy_attention_dataset,
                                  toy_relu_dataset, two_layer_relu)
from theory_kit.landscape import relu as relu_module
from theory_kit.landscape import solving as solve_module

X_GOOD, Y_GOOD = toy_relu_dataset(12, seed=0)


def _with(array, index, value):
    out = np.array(array, dtype=float)
    out[index] = value
    return out


@pytest.mark.parametrize("kwargs,fragment", [
    ({"X": _with(X_GOOD, (3, 1), np.nan)}, "nan at index (3, 1)"),
    ({"X": _with(X_GOOD, (0, 0), np.inf)}, "inf at index (0, 0)"),
    ({"y": _with(Y_GOOD, 5, -np.inf)}, "-inf at index 5"),
    ({"y": Y_GOOD[:-1]}, "length 12"),
    ({"X": X_GOOD[:, 0]}, "must be 2-D"),
    ({"y": Y_GOOD[:, None]}, "must be 1-D"),
    ({"beta": 0.0}, "beta must be a finite real number > 0, got 0.0"),
    ({"beta": -1}, "got -1"),
    ({"beta": float("nan")}, "got nan"),
    ({"beta": True}, "got True"),
    ({"solver": "GUROBI_NOT_HERE"}, "'GUROBI_NOT_HERE'"),
    ({"solver": 3}, "got 3"),
    ({"patterns": "some"}, "got 'some'"),
    ({"patterns": 0}, "got 0"),
    ({"patterns": -4}, "got -4"),
    ({"patterns": 2.5}, "got 2.5"),
    ({"patterns": True}, "got True"),
    ({"seed": -1}, "seed"),
    ({"solver_options": [1]}, "solver_options"),
])
@pytest.mark.parametrize("fn", [two_layer_relu, gated_relu])
def test_bad_inputs_raise_invalid_input_quoting_the_value(fn, kwargs, fragment):
    args = {"X": X_GOOD, "y": Y_GOOD, "beta": 0.1, **kwargs}
    with pytest.raises(InvalidInput) as info:
        fn(args.pop("X"), args.pop("y"), **args)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TheoryKitError)


def test_all_problems_are_reported_at_once():
    with pytest.raises(InvalidInput) as info:
        two_layer_relu(_with(X_GOOD, (0, 0), np.nan), Y_GOOD, beta=-2, patterns="x", solver="NOPE")
    text = str(info.value)
    assert "4 invalid input(s)" in text
    for fragment in ("nan", "beta", "patterns", "NOPE"):
        assert fragment in text


def test_validation_happens_before_any_pattern_work_or_solving(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("reached solving with invalid input")

    monkeypatch.setattr(relu_module, "activation_patterns", forbidden)
    monkeypatch.setattr(relu_module, "solve", forbidden)
    with pytest.raises(InvalidInput):
        two_layer_relu(X_GOOD, Y_GOOD, beta=0.0)
    with pytest.raises(InvalidInput):
        gated_relu(X_GOOD, Y_GOOD, beta=0.1, solver="NOPE")


def test_solve_rejects_non_problems_and_duplicate_names():
    with pytest.raises(InvalidInput, match="cvxpy.Problem"):
        solve("not a problem")
    a, b = cp.Variable(name="z"), cp.Variable(name="z")
    with pytest.raises(InvalidInput, match="duplicates"):
        solve(cp.Problem(cp.Minimize(cp.square(a) + cp.square(b))))


@pytest.mark.parametrize("solver", ["CLARABEL", "SCS"])
def test_infeasible_raises_with_status_and_solver(solver):
    x = cp.Variable(name="x")
    with pytest.raises(SolverFailed) as info:
        solve(cp.Problem(cp.Minimize(x), [x >= 1, x <= 0]), solver=solver)
    assert info.value.status == "infeasible" and info.value.solver == solver


def test_unbounded_raises_with_status_and_solver():
    x = cp.Variable(name="x")
    with pytest.raises(SolverFailed) as info:
        solve(cp.Problem(cp.Minimize(x), [x <= 3]))
    assert info.value.status == "unbounded" and info.value.solver == "CLARABEL"


def test_iteration_limit_raises_user_limit():
    with pytest.raises(SolverFailed) as info:
        two_layer_relu(X_GOOD, Y_GOOD, beta=0.1, solver_options={"max_iter": 2})
    assert info.value.status == "user_limit" and info.value.solver == "CLARABEL"


def test_inaccurate_solve_raises_optimal_inaccurate():
    with pytest.raises(SolverFailed) as info:
        two_layer_relu(X_GOOD, Y_GOOD, beta=0.1, solver="SCS", solver_options={"max_iters": 5})
    assert info.value.status == "optimal_inaccurate" and info.value.solver == "SCS"


def test_solver_crash_and_bad_options_raise_solver_error():
    x = cp.Variable(name="x")
    with pytest.raises(SolverFailed) as info:
        solve(cp.Problem(cp.Minimize(cp.square(x))), solver="CLARABEL", solver_options={"no_such_option": 1})
    assert info.value.status == "solver_error" and info.value.solver == "CLARABEL"
    with pytest.raises(SolverFailed) as info:  # an LP solver cannot take a second-order cone
        two_layer_relu(X_GOOD, Y_GOOD, beta=0.1, solver="HIGHS")
    assert info.value.solver == "HIGHS"


def test_value_below_certified_bound_is_reported_as_inaccurate(monkeypatch):
    real_solve = relu_module.solve

    def lying_solve(problem, **kwargs):
        sol = real_solve(problem, **kwargs)
        return type(sol)(status=sol.status, value=0.5 * sol.value, solver=sol.solver,
                         solve_seconds=sol.solve_seconds, solver_seconds=sol.solver_seconds,
                         variables=dict(sol.variables))

    monkeypatch.setattr(relu_module, "solve", lying_solve)
    with pytest.raises(SolverFailed) as info:
        two_layer_relu(X_GOOD, Y_GOOD, beta=0.1)
    assert info.value.status == "optimal_inaccurate"


def test_solve_keeps_cvxpy_warnings_out_of_the_callers_filters():
    x = cp.Variable(name="x")
    solution = solve(cp.Problem(cp.Minimize(cp.square(x - 1))))
    assert solution.status == "optimal" and solution.variables["x"] == pytest.approx(1.0, abs=1e-6)
    assert solution.solver_seconds >= 0 and solution.solve_seconds >= 0
    assert solve_module.DEFAULT_SOLVER == "CLARABEL"


def test_other_entry_points_validate_too():
    Xs, Ys = toy_attention_dataset(4, seed=0)
    with pytest.raises(InvalidInput, match="agree on N and T"):
        linear_attention_convex(Xs, Ys[:, :2], beta=0.1)
    with pytest.raises(InvalidInput, match="beta"):
        attention_nonconvex_baseline(Xs, Ys, beta=0, heads=(1,))
    with pytest.raises(InvalidInput, match="widths entry 0"):
        nonconvex_baseline(X_GOOD, Y_GOOD, beta=0.1, widths=(2, 0))
    with pytest.raises(InvalidInput, match="expects"):
        lipschitz_bounds([np.ones((3, 4)), np.ones((5, 1))])
    with pytest.raises(InvalidInput, match="finite"):
        lipschitz_bounds([np.ones((3, 4)), _with(np.ones((4, 1)), (2, 0), np.nan)])
