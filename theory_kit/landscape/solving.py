"""The one place theory_kit.landscape calls a convex solver: `solve(problem)` -> ConvexSolution.

Builders elsewhere in this package return `cvxpy.Problem`s with named variables and never solve;
this module solves them with a named solver, times the call, and turns every non-optimal outcome
(infeasible, unbounded, inaccurate, iteration limit, solver crash) into `SolverFailed` carrying
cvxpy's status and the solver name. Warnings cvxpy raises during the solve are captured into the
result (so behaviour does not depend on the caller's warning filters).
"""

from __future__ import annotations

import time
import warnings
from typing import Mapping

import cvxpy as cp
import numpy as np

from theory_kit.errors import SolverFailed
from theory_kit.landscape._validate import Problems, check_solver
from theory_kit.landscape.results import ConvexSolution

__all__ = ["DEFAULT_SOLVER", "solve", "check_certificate_consistent"]

DEFAULT_SOLVER = "CLARABEL"


def solve(problem: cp.Problem, *, solver: str = DEFAULT_SOLVER,
          solver_options: Mapping[str, object] | None = None) -> ConvexSolution:
    """Solve a cvxpy problem to optimality with a named solver.

    Args:
        problem: a `cvxpy.Problem`, e.g. from `build_two_layer_relu_problem`. Its variables must
            have distinct names (they key `ConvexSolution.variables`).
        solver: an installed cvxpy solver name, case-insensitive ("CLARABEL", "SCS", ...).
        solver_options: extra keyword arguments for `problem.solve` (e.g. {"max_iter": 50}).

    Returns:
        ConvexSolution with status "optimal", the value, timings and the variables' values.

    Raises:
        InvalidInput: `problem` is not a cvxpy Problem, has duplicate variable names, the solver
            is unknown/not installed, or solver_options is not a mapping.
        SolverFailed: the solver raised, or returned any status other than "optimal"
            (infeasible, unbounded, optimal_inaccurate, user_limit, ...); `.status` is cvxpy's
            status (or "solver_error") and `.solver` the solver name.
    """
    problems = Problems("landscape.solve")
    if not isinstance(problem, cp.Problem):
        problems.add(f"problem must be a cvxpy.Problem, got {type(problem).__name__}")
    else:
        names = [v.name() for v in problem.variables()]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            problems.add(f"problem variables must have distinct names, duplicates: {duplicates}")
    name = check_solver(problems, solver)
    if solver_options is not None and not isinstance(solver_options, Mapping):
        problems.add(f"solver_options must be a mapping or None, got {solver_options!r}")
    problems.raise_if_any()
    options = dict(solver_options or {})

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            problem.solve(solver=name, **options)
        except cp.error.SolverError as exc:
            raise SolverFailed(f"{name} failed on a problem with {problem.size_metrics.num_scalar_variables} "
                               f"scalar variables: {exc}", status="solver_error", solver=name) from exc
        except (TypeError, ValueError) as exc:
            # cvxpy/solver rejecting an option, or the problem being invalid for this solver
            raise SolverFailed(f"{name} rejected the problem or options {options}: {exc}",
                               status="solver_error", solver=name) from exc
        except BaseException as exc:
            # A Rust solver (Clarabel) that panics raises pyo3's PanicException, a BaseException
            # (seen on badly scaled SDPs); it is a solver crash, not an interrupt of ours.
            if type(exc).__name__ != "PanicException":
                raise
            raise SolverFailed(f"{name} crashed (panicked) on a problem with "
                               f"{problem.size_metrics.num_scalar_variables} scalar variables: {exc}",
                               status="solver_error", solver=name) from exc
    seconds = time.perf_counter() - start
    messages = tuple(str(w.message) for w in caught)
    status = problem.status
    if status != cp.OPTIMAL:
        detail = f" (cvxpy warned: {'; '.join(messages)})" if messages else ""
        raise SolverFailed(f"{name} returned status {status!r}, not 'optimal'{detail}",
                           status=status, solver=name)
    stats = problem.solver_stats
    solver_seconds = float(stats.solve_time) if stats is not None and stats.solve_time is not None else float("nan")
    values = {}
    for variable in problem.variables():
        if variable.value is None:
            raise SolverFailed(f"{name} reported 'optimal' but left variable {variable.name()!r} without a value",
                               status=status, solver=name)
        values[variable.name()] = np.asarray(variable.value, dtype=float)
    return ConvexSolution(status=status, value=float(problem.value), solver=name, solve_seconds=seconds,
                          solver_seconds=solver_seconds, variables=values, warnings=messages)



# Relative slack allowed between a solver's value and a rigorous lower bound before we call the
# solve inaccurate (Clarabel's default tolerances are ~1e-8).
CONSISTENCY_RTOL = 1e-6


def check_certificate_consistent(value: float, lower_bound: float, *, solver: str, context: str) -> None:
    """Raise SolverFailed if a solver's optimal value lies below a rigorous lower bound.

    A certified lower bound cannot exceed the true optimum, so value < lower_bound (beyond
    CONSISTENCY_RTOL) means the reported value is wrong: an inaccurate solve.

    Raises:
        SolverFailed: with status "optimal_inaccurate" and the solver name.
    """
    if lower_bound > value + CONSISTENCY_RTOL * max(1.0, abs(value)):
        raise SolverFailed(f"{context}: {solver} reported value {value!r} below the certified lower bound "
                           f"{lower_bound!r}; the solve is inaccurate (tighten the solver tolerances)",
                           status="optimal_inaccurate", solver=solver)
