"""Figure (issue 19): sample complexity of parity of n bits, end to end vs a running-parity chain
of thought: the smallest training-set size reaching the target held-out exact match (95% in the
small configuration, 99% in the full one; median over seeds, 95% bootstrap bars; triangles: not
reached within the grid) against the task size n, and learning curves at the largest n. Small
configuration (`theory_kit.learning.experiments`, "small"): tiny models and step budgets sized
for make figures; the full one runs as a sweep: `python -m theory_kit.learning.experiments
parity --store runs/learn_parity`.

Landscape link (item 6): the compiled construction of the same CoT program
(`theory_kit.learning.construction`) run on the CoT training set of the largest n: its exact
match (1.0: it exists and is exact) and loss at logit scales beta, next to each trained model's
final training loss, the scale beta* at which the construction's loss equals it, and the
model's held-out exact match (<name>_construction.csv; the title says whether any trained model
reached zero held-out error).

Data: <name>.csv (per-seed thresholds), <name>_medians.csv, <name>_fits.csv (growth rates with
bootstrap intervals, power and exponential laws), <name>_curves.csv, <name>_probes.csv.
"""

from __future__ import annotations

from pathlib import Path

from theory_kit import plotting
from theory_kit.learning import construction, experiments, tasks

NAME = "fig_learn_parity"
EXPERIMENT = "parity"


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    res = experiments.run(EXPERIMENT, "small", seed=seed)
    for line in experiments.fit_lines(res):
        print(line)
    fig, (ax_t, ax_c) = plotting.new_figure(width="double", height=2.3, ncols=2)
    experiments.figure(res, ax_t, ax_c)
    n = max(res.experiment.ns)
    task = tasks.make_task("parity", n)
    pool, _ = tasks.split_pools(task, train=res.experiment.search.grid[-1], test=1, seed=seed)
    built = construction.construction_loss(tasks.dataset(task, pool, cot=True))
    assert built.exact_match == 1.0, "the compiled construction must solve the training set"
    rows = [("construction", "-", "-", "-", built.exact_match, "-")]
    rows += [(f"construction beta={b:g}", "-", "-", loss, built.exact_match, b)
             for b, loss in zip(built.scales, built.losses)]
    solved = 0
    for pn, arm, s, size, acc, _, train_loss in res.probes:
        if pn == n and size == res.experiment.search.grid[-1]:
            rows.append((f"trained {arm}", s, size, train_loss, acc,
                         construction.matching_scale(max(train_loss, 0.0), built.values)))
            solved += acc == 1.0
    fig.suptitle(f"n={n}: compiled construction ({built.layers} layers, width {built.width}) "
                 f"exact on the training set; {solved} trained models at "
                 f"{res.experiment.search.grid[-1]} samples reach zero held-out error",
                 fontsize=6)
    return plotting.save_figure(fig, NAME, out_dir, data={
        "": (("n", "arm", "seed", "threshold"), res.thresholds),
        "medians": (("n", "arm", "median", "low", "high"), res.medians),
        "fits": (("arm", "law", "rate", "low", "high", "sizes_used", "censored"), res.fits),
        "curves": (("n", "arm", "size", "mean_accuracy", "min_accuracy"), res.curves),
        "probes": (("n", "arm", "seed", "size", "accuracy", "answer_loss", "train_loss"),
                   res.probes),
        "construction": (("model", "seed", "train_size", "target_loss", "exact_match",
                          "beta"), rows)})


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
