"""Figure (issue 19): sample complexity of n-hop pointer chasing, end to end vs one CoT token per
hop: the smallest training-set size reaching the target held-out exact match (95% in the small
and full configurations; median over seeds, 95% bootstrap bars; triangles: not
reached within the grid) against the task size n, and learning curves at the largest n. Small
configuration (`theory_kit.learning.experiments`, "small"): tiny models and step budgets sized
for make figures; the full one runs as a sweep: `python -m theory_kit.learning.experiments
composition --store runs/learn_composition`.

Data: <name>.csv (per-seed thresholds), <name>_medians.csv, <name>_fits.csv (growth rates with
bootstrap intervals, power and exponential laws), <name>_curves.csv, <name>_probes.csv.
"""

from __future__ import annotations

from pathlib import Path

from theory_kit import plotting
from theory_kit.learning import experiments

NAME = "fig_learn_composition"


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    return experiments.write_figure("composition", NAME, out_dir, seed)


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
