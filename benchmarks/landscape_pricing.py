"""Certified two-layer ReLU optima beyond d = 2: column generation with exact pricing (issue 20).

For each (D, N): data toy_relu_dataset(N, seed=0, d=D), beta = TOY_BETA. We run
`two_layer_relu(patterns="pricing")` and report wall-clock time, column-generation rounds,
patterns used, the certified relative gap (value − lower bound)/value and the final pricing gap;
then re-verify the certificate independently (`verify_two_layer_relu`), and train non-convex
networks (L-BFGS, widths 8, 32 and 128, 3 inits each) to check the certified value is ≤ every trained
objective. Where full enumeration is feasible (≤ 4096 patterns: small N) we also solve with
patterns="all" and report the relative difference of the optima, and the time ratio
pricing/enumeration measured in the same run (absolute times are noisy on the shared machine).
pyscnn is not run here (see landscape_solvers.py for the pyscnn comparison on fixed patterns).
With --compare-methods, the certificate is also re-verified with each exact pricing (box and sign
branch and bound, `landscape.pricing`) on the same final dual vector: time, nodes, agreement.

    PYTHONPATH=. python benchmarks/landscape_pricing.py [--sizes 5x30 5x100 10x50] [--compare-methods] [--out FILE]

Writes benchmarks/results/landscape_pricing.json (temp file + rename) and prints a table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, write_json  # noqa: E402

from theory_kit.landscape import (TOY_BETA, max_pattern_count, toy_relu_dataset, two_layer_relu,  # noqa: E402
                                  verify_two_layer_relu)
from theory_kit.landscape.nonconvex import train_two_layer_relu  # noqa: E402

OUT = RESULTS / "landscape_pricing.json"
# the acceptance sizes are 5x100 and 10x50 (benchmarks/README.md)
DEFAULT_SIZES = ("5x12", "5x30", "5x100", "10x50")
TRAINED_WIDTHS = (8, 32, 128)
ENUMERATION_BUDGET = 4096


def run_one(d: int, n: int, compare_methods: bool = False) -> dict:
    X, y = toy_relu_dataset(n, seed=0, d=d)
    start = time.perf_counter()
    result = two_layer_relu(X, y, beta=TOY_BETA, patterns="pricing")
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    check = verify_two_layer_relu(X, y, result)
    verify_seconds = time.perf_counter() - start
    trained = [train_two_layer_relu(X, y, beta=TOY_BETA, width=w, seed=k)[2]
               for w in TRAINED_WIDTHS for k in range(3)]
    row = {"d": d, "n": n, "seconds": seconds, "iterations": result.iterations, "patterns": result.n_patterns,
           "value": result.value, "lower_bound": result.lower_bound, "relative_gap": result.relative_gap,
           "pricing_gap": result.pricing_gap, "width": result.width, "certificate": result.certificate,
           "pricing_method": result.pricing_method, "verify_seconds": verify_seconds,
           "verify_nodes": check.pricing_nodes,
           "verified": check.agrees, "verified_relative_gap": check.relative_gap,
           "min_trained": min(trained), "trained_at_or_above_certified": bool(min(trained) >= result.lower_bound),
           "trained_reaching_optimum": int(sum(t <= result.value * (1 + 1e-6) for t in trained)),
           "n_trained": len(trained)}
    for method in ("box", "sign") if compare_methods else ():
        start = time.perf_counter()
        other = verify_two_layer_relu(X, y, result, method=method)
        row[f"verify_{method}"] = {"seconds": time.perf_counter() - start, "nodes": other.pricing_nodes,
                                   "agrees": other.agrees, "relative_gap": other.relative_gap}
    if max_pattern_count(n, min(n, d)) <= ENUMERATION_BUDGET:
        start = time.perf_counter()
        full = two_layer_relu(X, y, beta=TOY_BETA, patterns="all")
        row["enumeration_seconds"] = time.perf_counter() - start
        row["enumeration_patterns"] = full.n_patterns
        row["enumeration_relative_difference"] = abs(result.value - full.value) / full.value
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=DEFAULT_SIZES, help="DxN pairs, e.g. 5x100")
    parser.add_argument("--compare-methods", action="store_true",
                        help="also re-verify with the box and the sign branch and bound (time, nodes)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rows = []
    print(f"{'d':>3} {'n':>4} {'sec':>8} {'iters':>5} {'pats':>5} {'rel gap':>9} {'verified':>8} "
          f"{'min trained/value':>17} {'enum diff':>9}")
    for size in args.sizes:
        d, n = (int(v) for v in size.lower().split("x"))
        row = run_one(d, n, args.compare_methods)
        rows.append(row)
        enum = row.get("enumeration_relative_difference")
        print(f"{d:>3} {n:>4} {row['seconds']:>8.1f} {row['iterations']:>5} {row['patterns']:>5} "
              f"{row['relative_gap']:>9.1e} {str(row['verified']):>8} {row['min_trained'] / row['value']:>17.6f} "
              f"{'-' if enum is None else f'{enum:.1e}':>9}", flush=True)
        write_json(args.out, {"meta": machine(), "rows": rows})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
