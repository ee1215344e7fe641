"""pyscnn against the pricing-certified optimum of a two-layer ReLU network (issue 20, item 3).

pyscnn (Mishkin, Sahiner & Pilanci 2022) solves the convex reformulation of a two-layer ReLU
network on *sampled* gate vectors with its augmented-Lagrangian solver `AL`: its value is the
optimum over those patterns only, an upper bound on the global optimum with no certificate that
it is the global one. `two_layer_relu(patterns="pricing")` certifies the global optimum by
exact pricing. On the same seeded data and beta (toy_relu_dataset(N, seed=0, d=D), TOY_BETA)
this benchmark runs pyscnn with G = 100, 1,000 and 4,000 sampled gates (seed 0) and reports,
per G, its time and (network objective of its solution) / (certified lower bound) - 1: how far
sampled gates leave pyscnn from the optimum the certificate proves. Where the pricing result is not
certified (its relative gap is printed), the lower bound is loose and pyscnn's excess over it
overstates the distance; pyscnn's value / the pricing result's value is printed as well.

The certified optimum is read from benchmarks/results/landscape_pricing.json
(benchmarks/landscape_pricing.py) when it holds the size, else computed here (minutes).
pyscnn is a benchmark-only dependency with torch: run this in a throwaway virtualenv, e.g.

    python -m venv /tmp/pyscnn-venv
    /tmp/pyscnn-venv/bin/pip install torch==2.13.0 && /tmp/pyscnn-venv/bin/pip install --no-deps pyscnn
    /tmp/pyscnn-venv/bin/pip install cvxpy scikit-learn scipy tqdm opt_einsum linalg_backends sympy
    PYTHONPATH=. /tmp/pyscnn-venv/bin/python benchmarks/landscape_pyscnn_pricing.py [--sizes 5x12 5x100 10x50]
                                                       [--gates 100 1000 4000]

(pyscnn declares torchvision as a dependency but does not import it for this use.)
Writes benchmarks/results/landscape_pyscnn_pricing.json (temp file + rename) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import landscape_solvers as LS  # noqa: E402  (pyscnn loading and the shared scoring)
from _common import RESULTS, machine, write_json  # noqa: E402

from theory_kit.landscape import TOY_BETA, toy_relu_dataset, two_layer_relu  # noqa: E402

OUT = RESULTS / "landscape_pyscnn_pricing.json"
PRICING = RESULTS / "landscape_pricing.json"
DEFAULT_SIZES = ("5x12", "5x100", "10x50")
GATES = (100, 1000, 4000)


def certified(d: int, n: int, X, y) -> dict:
    """The certified optimum of (d, n): from landscape_pricing.json, else solved here."""
    if PRICING.exists():
        for row in json.loads(PRICING.read_text()).get("rows", []):
            if (row["d"], row["n"]) == (d, n):   # certified or not: its certificate says
                return {"value": row["value"], "lower_bound": row["lower_bound"],
                        "certificate": row["certificate"], "relative_gap": row["relative_gap"],
                        "source": str(PRICING.name)}
    result = two_layer_relu(X, y, beta=TOY_BETA, patterns="pricing")
    return {"value": result.value, "lower_bound": result.lower_bound,
            "certificate": result.certificate, "relative_gap": result.relative_gap,
            "source": "computed"}


def run_pyscnn(X, y, gates: int, api) -> dict:
    """pyscnn's AL solver on `gates` gate vectors sampled by pyscnn (seed 0), scored as in
    landscape_solvers.py (convex and recovered-network objectives, cone violation)."""
    from scnn.activations import sample_gate_vectors

    row = LS._run_pyscnn(X, y, TOY_BETA, SimpleNamespace(gates=sample_gate_vectors(0, X.shape[1], gates)), api)
    return {"gates": gates, "seconds": row.pop("solve_seconds", None), **row}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=DEFAULT_SIZES, help="DxN pairs, e.g. 5x100")
    parser.add_argument("--gates", nargs="+", type=int, default=GATES, help="sampled gate counts")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    api, why_not = LS._load_pyscnn()
    if api is None:
        print(f"pyscnn unavailable ({why_not}); see this script's docstring")
        return 1
    rows = []
    print(f"{'d':>3} {'n':>4} {'lower bound':>12} {'rel. gap':>8} {'G':>5} {'pyscnn s':>8} {'patterns':>8} "
          f"{'pyscnn/p* - 1':>13} {'pyscnn/value':>12} {'cone viol.':>10}")
    for size in args.sizes:
        d, n = (int(v) for v in size.lower().split("x"))
        X, y = toy_relu_dataset(n, seed=0, d=d)
        cert = certified(d, n, X, y)
        for gates in args.gates:
            row = {"d": d, "n": n, "certified": cert, **run_pyscnn(X, y, gates, api)}
            row["excess_over_certified"] = row["network_objective"] / cert["lower_bound"] - 1
            row["ratio_to_pricing_value"] = row["network_objective"] / cert["value"]
            rows.append(row)
            print(f"{d:>3} {n:>4} {cert['lower_bound']:>12.6f} {cert['relative_gap']:>8.1e} {gates:>5} {row['seconds']:>8.1f} "
                  f"{row['n_patterns_used']:>8} {row['excess_over_certified']:>13.2e} "
                  f"{row['ratio_to_pricing_value']:>12.6f} "
                  f"{row['cone_violation']:>10.1e}", flush=True)
            write_json(args.out, {"meta": machine(), "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
