"""Benchmark: convex two-layer ReLU solve time against n and pattern count — Clarabel, SCS, pyscnn.

Run from the repository root:

    .venv/bin/python benchmarks/landscape_solvers.py            # default grid, a few minutes
    .venv/bin/python benchmarks/landscape_solvers.py --quick    # smallest sizes only
    .venv/bin/python benchmarks/landscape_solvers.py --large   # adds n = 800 and 800 sampled patterns

Problems (all from theory_kit.landscape, seeded, the same for every solver):
  grid "all-patterns-d2":  toy_relu_dataset(n, seed=0), D = 2, every activation pattern
                           (angular sweep, P ≈ 2n), beta = TOY_BETA.
  grid "sampled-d5":       N = 100 Gaussian points in D = 5 with a ReLU-teacher target,
                           P patterns from seeded Gaussian gates, beta = TOY_BETA.

Solvers: cvxpy + Clarabel and cvxpy + SCS (each with its default settings, via landscape.solve on
the problem from build_two_layer_relu_problem), and pyscnn's augmented-Lagrangian solver `AL` for
`ConvexReLU` with the *same* gate vectors (float64, unitize_data=False, λ = beta/N because pyscnn
scales the squared loss by 1/(2N)), default settings. pyscnn is optional: when it cannot be
imported its rows say so and the run continues.

Every solution is scored the same way: the convex objective at its (U, V), the largest violation
of the cone constraints (2D_i − I) X u_i ≥ 0, and the non-convex objective of the network recovered
from it (u/√‖u‖, √‖u‖) — the honest number, since a cone violation makes recovery inexact. Relative
differences are against Clarabel on the same problem.

Writes benchmarks/results/landscape_solvers.json and prints a table. Timings are wall-clock on the
current machine (2 cores in CI); they are evidence, never asserted by tests.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

from theory_kit.errors import SolverFailed
from theory_kit.landscape import (TOY_BETA, build_two_layer_relu_problem, enumerate_patterns, sample_patterns,
                                  solve, toy_relu_dataset, two_layer_objective)
from theory_kit.paths import REPO_ROOT

OUT = REPO_ROOT / "benchmarks" / "results" / "landscape_solvers.json"
DEFAULT_NS = (25, 50, 100, 200, 400)
DEFAULT_SAMPLED_P = (25, 50, 100, 200, 400)
SAMPLED_N, SAMPLED_D = 100, 5


def _version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _score(X, y, beta, masks, U, V) -> dict:
    """Convex objective, cone violation and recovered-network objective of a solution (U, V)."""
    pred = np.sum(masks * (X @ (U - V)), axis=1)
    convex = 0.5 * float(np.sum((pred - y) ** 2)) + beta * float(
        np.linalg.norm(U, axis=0).sum() + np.linalg.norm(V, axis=0).sum())
    signs = 2.0 * masks - 1.0
    violation = max(float(np.max(np.maximum(-signs * (X @ U), 0.0))), float(np.max(np.maximum(-signs * (X @ V), 0.0))))
    nu, nv = np.linalg.norm(U, axis=0), np.linalg.norm(V, axis=0)
    W = np.hstack([U[:, nu > 0] / np.sqrt(nu[nu > 0]), V[:, nv > 0] / np.sqrt(nv[nv > 0])])
    alpha = np.concatenate([np.sqrt(nu[nu > 0]), -np.sqrt(nv[nv > 0])])
    return {"convex_objective": convex, "cone_violation": violation,
            "network_objective": two_layer_objective(X, y, W, alpha, beta=beta)}


def _run_cvxpy(X, y, beta, pattern_set, solver: str) -> dict:
    problem = build_two_layer_relu_problem(X, y, beta=beta, pattern_set=pattern_set)
    try:
        solution = solve(problem, solver=solver)
    except SolverFailed as exc:
        return {"status": exc.status, "error": str(exc)}
    row = {"status": solution.status, "solve_seconds": solution.solve_seconds,
           "solver_seconds": solution.solver_seconds, "reported_value": solution.value}
    row.update(_score(X, y, beta, pattern_set.masks.astype(float), solution.variables["U"], solution.variables["V"]))
    return row


def _load_pyscnn():
    try:
        from scnn.metrics import Metrics
        from scnn.models import ConvexReLU
        from scnn.optimize import optimize_model
        from scnn.regularizers import NeuronGL1
        from scnn.solvers import AL
    except Exception as exc:  # ImportError, or torch failing to load its libraries
        return None, f"{type(exc).__name__}: {exc}"
    return (Metrics, ConvexReLU, optimize_model, NeuronGL1, AL), None


def _run_pyscnn(X, y, beta, pattern_set, api) -> dict:
    Metrics, ConvexReLU, optimize_model, NeuronGL1, AL = api
    model = ConvexReLU(np.array(pattern_set.gates), c=1)
    start = time.perf_counter()
    try:
        convex_model, _ = optimize_model(model, AL(model), Metrics(), X, y, regularizer=NeuronGL1(beta / len(y)),
                                         return_convex=True, unitize_data=False, dtype="float64", verbose=False)
    except Exception as exc:  # report, do not abort the benchmark
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    seconds = time.perf_counter() - start
    # pyscnn may reorder gates internally: score with the gates of the returned model
    masks = convex_model.compute_activations(X).astype(float)
    U, V = convex_model.parameters[0][0].T, convex_model.parameters[1][0].T
    row = {"status": "finished", "solve_seconds": seconds, "solver_seconds": seconds,
           "n_patterns_used": int(masks.shape[1])}
    row.update(_score(X, y, beta, masks, U, V))
    return row


def _problems(ns, sampled_ps):
    for n in ns:
        X, y = toy_relu_dataset(n, seed=0)
        yield "all-patterns-d2", X, y, enumerate_patterns(X)
    X, y = toy_relu_dataset(SAMPLED_N, seed=0, d=SAMPLED_D)
    for p in sampled_ps:
        yield "sampled-d5", X, y, sample_patterns(X, p, seed=0)


def run(ns, sampled_ps, *, with_pyscnn: bool = True) -> dict:
    api, why_not = _load_pyscnn() if with_pyscnn else (None, "disabled with --no-pyscnn")
    rows = []
    for grid, X, y, pattern_set in _problems(ns, sampled_ps):
        base = {"grid": grid, "n": int(X.shape[0]), "d": int(X.shape[1]), "n_patterns": pattern_set.n_patterns,
                "beta": TOY_BETA}
        results = {"CLARABEL": _run_cvxpy(X, y, TOY_BETA, pattern_set, "CLARABEL"),
                   "SCS": _run_cvxpy(X, y, TOY_BETA, pattern_set, "SCS")}
        results["pyscnn-AL"] = (_run_pyscnn(X, y, TOY_BETA, pattern_set, api) if api is not None
                                else {"status": "unavailable", "error": why_not})
        reference = results["CLARABEL"].get("convex_objective")
        for solver, result in results.items():
            row = {**base, "solver": solver, **result}
            if reference is not None and "convex_objective" in result:
                row["rel_diff_convex"] = (result["convex_objective"] - reference) / abs(reference)
                row["rel_diff_network"] = (result["network_objective"] - reference) / abs(reference)
            rows.append(row)
            _print_row(row)
    return {
        "meta": {
            "script": "benchmarks/landscape_solvers.py",
            "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python": sys.version.split()[0], "platform": platform.platform(), "machine": platform.machine(),
            "versions": {name: _version(name) for name in ("cvxpy", "clarabel", "scs", "numpy", "scipy", "pyscnn",
                                                            "torch")},
            "pyscnn_available": api is not None, "pyscnn_unavailable_reason": why_not,
            "notes": "solve_seconds: wall time incl. cvxpy compilation (cvxpy rows) or optimize_model (pyscnn); "
                     "solver_seconds: the solver's own time. rel_diff_* are relative to Clarabel's convex "
                     "objective on the same problem; network = recovered non-convex objective.",
        },
        "rows": rows,
    }


_HEADER = f"{'grid':<16} {'n':>4} {'d':>2} {'P':>4}  {'solver':<10} {'status':<18} {'wall s':>8} {'solver s':>9} " \
          f"{'convex obj':>12} {'rel diff':>9} {'cone viol':>9} {'net rel':>9}"


def _fmt(value, spec):
    return format(value, spec) if isinstance(value, (int, float)) and math.isfinite(value) else "-"


def _print_row(row) -> None:
    print(f"{row['grid']:<16} {row['n']:>4} {row['d']:>2} {row['n_patterns']:>4}  {row['solver']:<10} "
          f"{row['status']:<18} {_fmt(row.get('solve_seconds'), '8.3f')} {_fmt(row.get('solver_seconds'), '9.3f')} "
          f"{_fmt(row.get('convex_objective'), '12.6f')} {_fmt(row.get('rel_diff_convex'), '9.1e')} "
          f"{_fmt(row.get('cone_violation'), '9.1e')} {_fmt(row.get('rel_diff_network'), '9.1e')}", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="n in (25, 50), P in (25, 50)")
    size.add_argument("--large", action="store_true", help="add n = 800 and P = 800")
    parser.add_argument("--no-pyscnn", action="store_true", help="skip pyscnn even if installed")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output JSON (default {OUT})")
    args = parser.parse_args(argv)
    ns, ps = DEFAULT_NS, DEFAULT_SAMPLED_P
    if args.quick:
        ns, ps = (25, 50), (25, 50)
    elif args.large:
        ns, ps = DEFAULT_NS + (800,), DEFAULT_SAMPLED_P + (800,)
    print(_HEADER)
    print("-" * len(_HEADER))
    report = run(ns, ps, with_pyscnn=not args.no_pyscnn)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out}")
    if not report["meta"]["pyscnn_available"]:
        print(f"pyscnn unavailable: {report['meta']['pyscnn_unavailable_reason']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
