"""Figure (issue 19): sample complexity of n-hop pointer chasing, end to end vs one CoT token per
hop: the smallest training-set size reaching the target held-out exact match (95% in the small
configuration, 99% in the full one; median over seeds, 95% bootstrap bars; triangles: not
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
EXPERIMENT = "composition"


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    res = experiments.run(EXPERIMENT, "small", seed=seed)
    for line in experiments.fit_lines(res):
        print(line)
    fig, (ax_t, ax_c) = plotting.new_figure(width="double", height=2.3, ncols=2)
    experiments.figure(res, ax_t, ax_c)
    return plotting.save_figure(fig, NAME, out_dir, data={
        "": (("n", "arm", "seed", "threshold"), res.thresholds),
        "medians": (("n", "arm", "median", "low", "high"), res.medians),
        "fits": (("arm", "law", "rate", "low", "high", "sizes_used", "censored"), res.fits),
        "curves": (("n", "arm", "size", "mean_accuracy", "min_accuracy"), res.curves),
        "probes": (("n", "arm", "seed", "size", "accuracy", "answer_loss", "train_loss"),
                   res.probes)})


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
