"""Figure (issue 19): sample complexity of parity of n bits, end to end vs a running-parity chain
of thought: the smallest training-set size reaching the target held-out exact match (95% in the
small and full configurations; median over seeds, 95% bootstrap bars; triangles: not
reached within the grid) against the task size n, and learning curves at the largest n. Small
configuration (`theory_kit.learning.experiments`, "small"): tiny models and step budgets sized
for make figures; the full one runs as a sweep: `python -m theory_kit.learning.experiments
parity --store runs/learn_parity`.

Landscape link (item 6): the compiled construction of the same CoT program
(`theory_kit.learning.construction`) run on a CoT training pool of the largest n (same
distribution and size as the models'): its exact
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


def _construction(res: experiments.Result, fig) -> dict:
    """The compiled construction next to the trained models at the largest n (item 6)."""
    n, top = max(res.experiment.ns), res.experiment.search.grid[-1]
    task = tasks.make_task("parity", n)
    pool, _ = tasks.split_pools(task, train=top, test=1, seed=0)
    built = construction.construction_loss(tasks.dataset(task, pool, cot=True))
    assert built.exact_match == 1.0, "the compiled construction must solve the training set"
    rows = [(f"construction beta={b:g}", "-", "-", loss, built.exact_match, b)
            for b, loss in zip(built.scales, built.losses)]
    solved = 0
    for pn, arm, s, size, acc, _, train_loss in res.probes:
        if pn == n and size == top:
            rows.append((f"trained {arm}", s, size, train_loss, acc,
                         construction.matching_scale(max(train_loss, 0.0), built.values)))
            solved += acc == 1.0
    fig.suptitle(f"n={n}: compiled construction ({built.layers} layers, width {built.width}) "
                 f"exact on the training set; {solved} trained models at {top} samples reach "
                 f"zero held-out error", fontsize=6)
    return {"construction": (("model", "seed", "train_size", "target_loss", "exact_match",
                              "beta"), rows)}


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    return experiments.write_figure("parity", NAME, out_dir, seed, annotate=_construction)


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
