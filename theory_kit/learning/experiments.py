"""The sample-complexity experiments of issue 19, their small and full configurations, the
figure they make, and the sweep cell that runs a full configuration through theory_kit.sweep.

    parity        parity of n bits: end to end vs a running-parity chain of thought
                  (prediction: end to end grows exponentially in n, CoT polynomially —
                  Wies, Levine & Shashua 2023; Kim & Suzuki 2024)
    addition      n-digit addition: plain vs reversed output vs carry scratchpad
                  (prediction: reversed and scratchpad need far fewer samples — Lee et al. 2024)
    composition   n-hop pointer chasing: end to end vs one CoT token per hop
                  (prediction: CoT sample complexity does not grow with n, end to end does —
                  Joshi et al. 2025)

`run(name, config="small", seed=0)` searches every (size, arm) at once (`complexity.search`)
and returns a `Result`: per-seed thresholds, medians with bootstrap intervals, growth fits per
arm (power and exponential) and learning curves; `figure` plots one. The small configurations
are what `make figures` runs (figures/fig_learn_*.py); they are sized for about 1.5 CPU-minutes
each, not for the theory's regime: 400 Adam steps, width 16, 2 seeds, a grid of 3 sizes and a
95% target on 128 held-out prompts (the full configurations: 99% on 512). A full
configuration runs as a sweep, one cell per (size, arm, seed) (no pairing of arms by seed
there):

    python -m theory_kit.learning.experiments parity --store runs/learn_parity --workers 2

(`theory_kit.sweep.run("theory_kit.learning.experiments:cell", grid, ...)`; rerunning resumes,
`theory-kit sweep table runs/learn_parity` prints the rows).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import matplotlib.ticker
import numpy as np

from theory_kit.errors import InvalidInput
from theory_kit.learning import complexity as cx
from theory_kit.learning import tasks as tasklib
from theory_kit.learning.training import TrainConfig

__all__ = ["Experiment", "EXPERIMENTS", "Result", "get_experiment", "run", "figure", "fit_lines",
           "cell", "sweep_grid", "write_figure"]


@dataclass(frozen=True, kw_only=True)
class Experiment:
    """An experiment at one configuration.

    Attributes:
        name: its key in EXPERIMENTS.
        arms: arm label -> (task family, with chain of thought).
        ns: task sizes.
        search: the size search.
        train: the optimisation.
        model: ModelConfig fields.
        task_args: keyword arguments of make_task (base, table).
        prediction: the theory's prediction, in words (printed with the measured rates).
    """

    name: str
    arms: tuple
    ns: tuple
    search: cx.SearchConfig
    train: TrainConfig
    model: tuple = (("width", 16), ("layers", 2), ("heads", 1))
    task_args: tuple = ()
    prediction: str = ""

    def conditions(self, ns: Optional[Sequence[int]] = None,
                   arms: Optional[Sequence[str]] = None) -> list[cx.Condition]:
        out = []
        top = max(self.ns)
        for n in (self.ns if ns is None else ns):
            for label, (family, cot) in self.arms:
                if arms is None or label in arms:
                    task = tasklib.make_task(family, n, max_size=max(top, n),
                                             **dict(self.task_args))
                    out.append(cx.Condition(task=task, cot=cot, label=label))
        return out


_TINY_TRAIN = TrainConfig(steps=5, batch=4)
_TINY_MODEL = (("width", 8), ("layers", 1), ("heads", 1))
_SMALL_TRAIN = TrainConfig(steps=400, batch=32, learning_rate=5e-3, warmup=20)
_FULL_TRAIN = TrainConfig(steps=2000, batch=64, learning_rate=3e-3, warmup=100)
_FULL_MODEL = (("width", 64), ("layers", 2), ("heads", 4))

_SPECS: dict[str, dict] = {
    "parity": dict(
        arms=(("end to end", ("parity", False)), ("CoT", ("parity", True))),
        prediction=("end to end: exponential in n (gradient signal 2^-n; Wies et al. 2023); "
                    "CoT: polynomial (Kim & Suzuki 2024)"),
        small=dict(ns=(10, 13), grid=(32, 128, 512), seeds=2, rounds=0, test=128, target=0.95),
        full=dict(ns=(14, 16, 18, 20, 22, 24), grid=(16, 32, 64, 128, 256, 512, 1024, 2048,
                                                  4096, 8192), seeds=5, rounds=2, test=512)),
    "addition": dict(
        arms=(("plain", ("add_plain", False)), ("reversed", ("add_reversed", False)),
              ("scratchpad", ("add_scratchpad", True))),
        prediction=("reversed and scratchpad need far fewer samples than plain "
                    "(Lee et al. 2024)"),
        task_args=(("base", 10),),
        small=dict(ns=(2, 3), grid=(32, 128, 512), seeds=2, rounds=0, test=128, target=0.95),
        full=dict(ns=(2, 3, 4, 5, 6, 7), grid=(16, 32, 64, 128, 256, 512, 1024, 2048, 4096,
                                               8192), seeds=5, rounds=2, test=512)),
    "composition": dict(
        arms=(("end to end", ("hops", False)), ("CoT", ("hops", True))),
        prediction=("CoT sample complexity does not grow with the number of hops n; "
                    "end to end does (Joshi et al. 2025)"),
        task_args=(("table", 6),),
        small=dict(ns=(2, 4), grid=(32, 128, 512), seeds=2, rounds=0, test=128, target=0.95),
        full=dict(ns=(1, 2, 3, 4, 5, 6), grid=(16, 32, 64, 128, 256, 512, 1024, 2048, 4096,
                                               8192), seeds=5, rounds=2, test=512)),
}

#: Experiment names.
EXPERIMENTS = tuple(_SPECS)
#: Configurations: "small" (figures), "full" (sweeps), "tiny" (smoke tests of the machinery).
CONFIGS = ("tiny", "small", "full")


def get_experiment(name: str, config: str = "small") -> Experiment:
    """The experiment `name` at a configuration of CONFIGS.

    Raises:
        InvalidInput: an unknown name or configuration."""
    if name not in _SPECS:
        raise InvalidInput(f"experiment: unknown experiment {name!r}; one of {EXPERIMENTS}")
    if config not in CONFIGS:
        raise InvalidInput(f"experiment: config must be one of {CONFIGS}, got {config!r}")
    spec = _SPECS[name]
    c = spec["small"] if config == "tiny" else spec[config]
    if config == "tiny":   # a smoke run of the machinery (tests): nothing is learned
        c = {**c, "grid": (4, 8), "seeds": 1, "rounds": 1, "test": 4}
    return Experiment(
        name=name, arms=spec["arms"], ns=c["ns"], prediction=spec["prediction"],
        search=cx.SearchConfig(grid=c["grid"], seeds=c["seeds"], rounds=c["rounds"],
                               test=c["test"], target=c.get("target", 0.99)),
        train={"tiny": _TINY_TRAIN, "small": _SMALL_TRAIN, "full": _FULL_TRAIN}[config],
        model={"tiny": _TINY_MODEL, "small": Experiment.model, "full": _FULL_MODEL}[config],
        task_args=spec.get("task_args", ()))


@dataclass(frozen=True)
class Result:
    """What `run` measured.

    Attributes:
        experiment: the Experiment.
        thresholds: rows (n, arm, seed, threshold) (inf: censored).
        medians: rows (n, arm, median, low, high) (95% bootstrap over seeds).
        fits: rows (arm, law, rate, low, high, sizes used, censored sizes).
        curves: rows (n, arm, size, mean accuracy, min accuracy).
        probes: rows (n, arm, seed, size, accuracy, answer loss, train loss).
    """

    experiment: Experiment
    thresholds: list = field(default_factory=list)
    medians: list = field(default_factory=list)
    fits: list = field(default_factory=list)
    curves: list = field(default_factory=list)
    probes: list = field(default_factory=list)


def run(name: str, config: str = "small", seed: int = 0,
        exp: Optional[Experiment] = None) -> Result:
    """Run an experiment (every size and arm in one search); `exp` overrides the named
    configuration (tests use a tiny one)."""
    exp = exp or get_experiment(name, config)
    conds = exp.conditions()
    probes, found = cx.search(conds, exp.search, train_config=exp.train,
                              model=dict(exp.model), seed=seed, desc=f"learn {exp.name}")
    res = Result(exp)
    for t in found:
        c = conds[t.condition]
        res.thresholds.append((c.task.n, c.label, t.seed, t.size))
    for ci, c in enumerate(conds):
        vals = [t.size for t in found if t.condition == ci]
        res.medians.append((c.task.n, c.label, *cx.median_interval(vals, seed=seed)))
        for size, mean, low in cx.learning_curve(probes, ci, exp.search.grid):
            res.curves.append((c.task.n, c.label, size, mean, low))
    for label, _ in exp.arms:
        per = [[t.size for t in found if conds[t.condition].label == label
                and conds[t.condition].task.n == n] for n in exp.ns]
        for law in ("power", "exponential"):
            f = cx.fit_growth(exp.ns, per, law=law, seed=seed)
            res.fits.append((label, law, f.rate, f.low, f.high,
                             " ".join(map(str, f.sizes_used)), " ".join(map(str, f.censored))))
    for p in probes:
        c = conds[p.condition]
        res.probes.append((c.task.n, c.label, p.seed, p.size, p.accuracy, p.answer_loss,
                           p.train_loss))
    return res


def figure(res: Result, ax_threshold, ax_curve) -> None:
    """Median threshold vs n per arm (bars: 95% bootstrap; triangles at the top: censored,
    more than the grid's largest size) and learning curves at the largest n."""
    exp = res.experiment
    top = exp.search.grid[-1]
    for j, (label, _) in enumerate(exp.arms):
        rows = [r for r in res.medians if r[1] == label]
        ok = [r for r in rows if math.isfinite(r[2])]
        if ok:
            ns = np.array([r[0] for r in ok], dtype=float)
            med = np.array([r[2] for r in ok])
            lo = np.array([r[3] for r in ok])
            hi = np.array([min(r[4], 2 * top) for r in ok])
            ax_threshold.errorbar(ns + 0.05 * j, med, yerr=[med - lo, hi - med], marker="o",
                                  ms=3, lw=0.8, capsize=2, color=f"C{j}", label=label)
        cens = [r[0] for r in rows if not math.isfinite(r[2])]
        if cens:
            ax_threshold.plot(np.array(cens) + 0.05 * j, [2 * top] * len(cens), ls="none",
                              marker="^", ms=4, color=f"C{j}",
                              label=None if ok else f"{label} (> {top})")
        n_top = max(exp.ns)
        curve = [r for r in res.curves if r[1] == label and r[0] == n_top]
        if curve:
            ax_curve.semilogx([r[2] for r in curve], [r[3] for r in curve], marker="o", ms=3,
                              lw=0.8, color=f"C{j}", label=label)
    ax_threshold.axhline(top, color="0.6", lw=0.6, ls=":")
    ax_threshold.set_yscale("log")
    ax_threshold.set_xlabel("task size $n$")
    ax_threshold.set_ylabel(f"samples to {exp.search.target:.0%} held-out")
    ax_threshold.set_xticks(list(exp.ns))
    ax_threshold.legend(fontsize=6, loc="lower right")
    ax_curve.set_xticks(list(exp.search.grid))
    ax_curve.set_xticklabels([str(g) for g in exp.search.grid])
    ax_curve.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax_curve.legend(fontsize=6, loc="lower right")
    ax_curve.axhline(exp.search.target, color="0.6", lw=0.6, ls=":")
    ax_curve.set_xlabel("training-set size")
    ax_curve.set_ylabel(f"held-out exact match, $n={max(exp.ns)}$")
    ax_curve.set_ylim(0, 1.02)


def fit_lines(res: Result) -> list[str]:
    """The measured growth rates with intervals, next to the prediction (for notes/logs)."""
    lines = [f"{res.experiment.name}: prediction: {res.experiment.prediction}"]
    for label, law, rate, low, high, used, cens in res.fits:
        unit = "exponent a in n^a" if law == "power" else "rate a in e^(a n)"
        lines.append(f"  {label:>11} {law:>11}: {unit} = {rate:.3g} [{low:.3g}, {high:.3g}] "
                     f"(sizes {used or '-'}; censored {cens or '-'})")
    return lines


def write_figure(name: str, stem: str, out_dir, seed: int = 0, config: str = "small",
                 annotate=None) -> list:
    """The body of figures/fig_learn_<name>.py: run, print the fits, plot, save the figure and
    its data (thresholds, medians, fits, curves, probes; `annotate(res, fig)` may add tables,
    returned as {suffix: (header, rows)})."""
    from theory_kit import plotting

    res = run(name, config, seed=seed)
    for line in fit_lines(res):
        print(line)
    fig, (ax_t, ax_c) = plotting.new_figure(width="double", height=2.3, ncols=2)
    figure(res, ax_t, ax_c)
    extra = annotate(res, fig) if annotate is not None else {}
    return plotting.save_figure(fig, stem, out_dir, data={
        "": (("n", "arm", "seed", "threshold"), res.thresholds),
        "medians": (("n", "arm", "median", "low", "high"), res.medians),
        "fits": (("arm", "law", "rate", "low", "high", "sizes_used", "censored"), res.fits),
        "curves": (("n", "arm", "size", "mean_accuracy", "min_accuracy"), res.curves),
        "probes": (("n", "arm", "seed", "size", "accuracy", "answer_loss", "train_loss"),
                   res.probes), **extra})


# -- sweeps (full configurations) ---------------------------------------------------------------
def sweep_grid(name: str, config: str = "full") -> list[dict]:
    """The sweep cells of an experiment: one per (n, arm)."""
    exp = get_experiment(name, config)
    return [{"experiment": name, "config": config, "n": n, "arm": label}
            for n in exp.ns for label, _ in exp.arms]


def cell(experiment: str, config: str, n: int, arm: str, seed: int) -> dict:
    """One sweep cell: the threshold search of one (n, arm) with one seed (theory_kit.sweep
    task function; `seed` is the cell's derived seed)."""
    exp = get_experiment(experiment, config)
    exp = dataclasses.replace(exp, search=dataclasses.replace(exp.search, seeds=1))
    conds = exp.conditions(ns=[n], arms=[arm])
    if not conds:
        raise InvalidInput(f"cell: no arm {arm!r} in {experiment}")
    probes, found = cx.search(conds, exp.search, train_config=exp.train,
                              model=dict(exp.model), seed=seed % 2**20)
    return {"threshold": found[0].size if math.isfinite(found[0].size) else None,
            "probes": [[p.size, p.accuracy] for p in probes]}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run a full learning experiment as a sweep")
    parser.add_argument("name", choices=EXPERIMENTS)
    parser.add_argument("--config", default="full", choices=CONFIGS)
    parser.add_argument("--store", required=True)
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--engine", default="local")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    from theory_kit import sweep

    seeds = args.seeds or get_experiment(args.name, args.config).search.seeds
    sweep.run("theory_kit.learning.experiments:cell", sweep_grid(args.name, args.config),
              seeds=seeds, store=args.store, engine=args.engine, workers=args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
