"""The sample-complexity experiments of issue 19, their small, medium and full configurations,
the figure they make, and the sweep cell that runs a configuration through theory_kit.sweep.

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
are what `make figures` runs (figures/fig_learn_*.py); they are sized for about 0.5-1
CPU-minute each (most of it XLA compilation when the cache is cold), not for the theory's
regime: 400 Adam steps of batch 16, width 16, 2 seeds, a grid of 3 sizes and a 95% target on
128 held-out prompts. The full configurations measure the growth rates (benchmarks/README.md,
"Learning: measured growth rates": 16-37 minutes each on one worker of a loaded 2-core
machine): 3 seeds, each arm at its own sizes n, grid and step budget (`ArmSetting`: the hard
arms at the sizes and budgets where they can reach the target, the easy ones where they are
cheap), addition in base 2 so the models learn it within budget. The medium configurations
are the earlier round (one grid, budget and size range per experiment). A medium or full
configuration runs as a sweep, one cell per (size n, seed) running every arm measured at n,
paired: the arms of a cell share its derived seed, hence its training and held-out prompts and
their initial weights:

    python -m theory_kit.learning.experiments parity --config full --store runs/learn_parity

(`theory_kit.sweep.run("theory_kit.learning.experiments:cell", grid, ...)`; rerunning resumes;
at the end it prints the medians and growth fits, `from_sweep(sweep.load(store))` gives them
as a Result.)
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

__all__ = ["Experiment", "ArmSetting", "EXPERIMENTS", "CONFIGS", "Result", "get_experiment", "run",
           "summarise", "figure", "fit_lines", "cell", "sweep_grid", "from_sweep", "write_figure",
           "compilation_cache", "length_generalisation"]


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
    per_arm: tuple = ()

    def __post_init__(self):
        labels = [label for label, _ in self.arms]
        for label, setting in self.per_arm:
            if label not in labels or not isinstance(setting, ArmSetting):
                raise InvalidInput(f"Experiment {self.name}: per_arm entry {label!r} must name "
                                   f"an arm of {labels} and hold an ArmSetting, got "
                                   f"{setting!r}")
            if setting.ns is not None and not set(setting.ns) <= set(self.ns):
                raise InvalidInput(f"Experiment {self.name}: arm {label!r} sizes {setting.ns} "
                                   f"are not all in the experiment's sizes {self.ns}")

    def _setting(self, label: str) -> ArmSetting:
        return dict(self.per_arm).get(label, ArmSetting())

    def arm_ns(self, label: str) -> tuple:
        """The sizes n at which the arm `label` is measured (default: every size)."""
        return self._setting(label).ns or self.ns

    def arm_search(self, label: str) -> cx.SearchConfig:
        """The arm's size search (the experiment's, with the arm's own grid if it has one)."""
        grid = self._setting(label).grid
        return self.search if grid is None else dataclasses.replace(self.search, grid=grid)

    def arm_train(self, label: str) -> TrainConfig:
        """The arm's optimisation (the experiment's unless the arm sets its own)."""
        return self._setting(label).train or self.train

    def conditions(self, ns: Optional[Sequence[int]] = None,
                   arms: Optional[Sequence[str]] = None) -> list[cx.Condition]:
        """The (n, arm) conditions, n in `ns` (default all) and within the arm's own sizes."""
        out = []
        top = max(self.ns)
        for n in (self.ns if ns is None else ns):
            for label, (family, cot) in self.arms:
                if (arms is None or label in arms) and n in self.arm_ns(label):
                    task = tasklib.make_task(family, n, max_size=max(top, n),
                                             **dict(self.task_args))
                    out.append(cx.Condition(task=task, cot=cot, label=label))
        return out


@dataclass(frozen=True, kw_only=True)
class ArmSetting:
    """What one arm of an experiment sets for itself (None: the experiment's).

    Attributes:
        ns: the sizes n it is measured at (a hard arm at small n, an easy one at large n),
            a subset of the experiment's sizes.
        grid: its training-set sizes (SearchConfig.grid).
        train: its optimisation.
    """

    ns: Optional[tuple] = None
    grid: Optional[tuple] = None
    train: Optional[TrainConfig] = None

    def __post_init__(self):
        if self.ns is not None and not (isinstance(self.ns, tuple) and self.ns and all(
                isinstance(n, int) and n >= 1 for n in self.ns)):
            raise InvalidInput(f"ArmSetting: ns must be a non-empty tuple of ints >= 1, got "
                               f"{self.ns!r}")
        if self.grid is not None:
            cx.SearchConfig(grid=self.grid)   # validates the grid


_TINY_TRAIN = TrainConfig(steps=5, batch=4)
_TINY_MODEL = (("width", 8), ("layers", 1), ("heads", 1))
# batch 16 (was 32): half the compute of the figures, the arms still separate (issue 19's
# 3-minute budget for the three small figures together)
_SMALL_TRAIN = TrainConfig(steps=400, batch=16, learning_rate=5e-3, warmup=20)
_LENGTH_TRAIN = TrainConfig(steps=400, batch=32, learning_rate=5e-3, warmup=20)
_MEDIUM_TRAIN = TrainConfig(steps=600, batch=32, learning_rate=3e-3, warmup=30)
_MEDIUM_TRAIN_LONG = TrainConfig(steps=800, batch=32, learning_rate=5e-3, warmup=30)
_MEDIUM_MODEL = (("width", 32), ("layers", 2), ("heads", 2))
_FULL_PARITY_TRAIN = TrainConfig(steps=1500, batch=32, learning_rate=2e-3, warmup=100)
_FULL_LONG_TRAIN = TrainConfig(steps=2000, batch=32, learning_rate=5e-3, warmup=30)

_SPECS: dict[str, dict] = {
    "parity": dict(
        arms=(("end to end", ("parity", False)), ("CoT", ("parity", True))),
        prediction=("end to end: exponential in n (gradient signal 2^-n; Wies et al. 2023); "
                    "CoT: polynomial (Kim & Suzuki 2024)"),
        small=dict(ns=(10, 13), grid=(32, 128, 512), seeds=2, rounds=0, test=128, target=0.95),
        medium=dict(ns=(10, 12, 14, 16), grid=(32, 64, 128, 256, 512), seeds=3, rounds=0,
                    test=128, target=0.95, train=_MEDIUM_TRAIN),
        # CoT at the medium sizes with 2.5x the steps (600 left n = 12, 16 under-optimised);
        # end to end at two sizes only, on its own grid (so its own short layout): censored at
        # every n whose input space holds a pool and unseen test prompts (a pilot at n = 4..8,
        # 1500 steps, memorised its pools, held-out <= 0.59; benchmarks/README.md)
        full=dict(ns=(10, 12, 14, 16), grid=(32, 64, 128, 256, 512), seeds=3, rounds=0,
                  test=128, target=0.95, train=_FULL_PARITY_TRAIN,
                  per_arm=(("end to end", ArmSetting(ns=(10, 12), grid=(128, 512))),))),
    "addition": dict(
        arms=(("plain", ("add_plain", False)), ("reversed", ("add_reversed", False)),
              ("scratchpad", ("add_scratchpad", True))),
        prediction=("reversed and scratchpad need far fewer samples than plain "
                    "(Lee et al. 2024)"),
        task_args=(("base", 10),),
        small=dict(ns=(4, 5), grid=(32, 64, 128), seeds=2, rounds=0, test=128, target=0.95,
                   task_args=(("base", 2),)),
        medium=dict(ns=(5, 6, 7), grid=(32, 128, 512), seeds=3, rounds=0, test=128,
                    target=0.95, train=_MEDIUM_TRAIN_LONG, model=_MEDIUM_MODEL,
                    task_args=(("base", 2),)),
        # scratchpad as in the medium run; plain and reversed at n = 6, 7 (pools up to 2048:
        # n = 5's 1024 inputs cap it at 512) with 2.5x the steps
        full=dict(ns=(5, 6, 7), grid=(32, 128, 512), seeds=3, rounds=0, test=128,
                  target=0.95, train=_MEDIUM_TRAIN_LONG, model=_MEDIUM_MODEL,
                  task_args=(("base", 2),),
                  per_arm=tuple((arm, ArmSetting(ns=(6, 7), grid=(128, 512, 2048),
                                                 train=_FULL_LONG_TRAIN))
                                for arm in ("plain", "reversed")))),
    "composition": dict(
        arms=(("end to end", ("hops", False)), ("CoT", ("hops", True))),
        prediction=("CoT sample complexity does not grow with the number of hops n; "
                    "end to end does (Joshi et al. 2025)"),
        task_args=(("table", 6),),
        small=dict(ns=(2, 4), grid=(32, 128, 512), seeds=2, rounds=0, test=128, target=0.95),
        medium=dict(ns=(1, 2, 3), grid=(64, 256, 1024, 4096), seeds=3, rounds=0, test=128,
                    target=0.95, train=_MEDIUM_TRAIN_LONG, model=_MEDIUM_MODEL),
        # CoT on a finer grid; end to end on a grid up to 16,384 with 2.5x the steps (at 800
        # steps n = 2 needed more than 4,096 samples)
        full=dict(ns=(1, 2, 3), grid=(64, 128, 256, 512), seeds=3, rounds=0, test=128,
                  target=0.95, train=_MEDIUM_TRAIN_LONG, model=_MEDIUM_MODEL,
                  per_arm=(("end to end", ArmSetting(grid=(256, 1024, 4096, 16384),
                                                     train=_FULL_LONG_TRAIN)),))),
}

#: Experiment names.
EXPERIMENTS = tuple(_SPECS)
#: Configurations: "small" (figures), "full" (the measured growth rates: a sweep of 16-37
#: minutes per experiment on one worker of a loaded 2-core machine, per-arm sizes and budgets),
#: "medium" (the earlier round: one grid, budget and size range per experiment), "tiny" (smoke
#: tests of the machinery).
CONFIGS = ("tiny", "small", "medium", "full")


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
    train = _TINY_TRAIN if config == "tiny" else _SMALL_TRAIN
    model = _TINY_MODEL if config == "tiny" else Experiment.model
    return Experiment(
        name=name, arms=spec["arms"], ns=c["ns"], prediction=spec["prediction"],
        search=cx.SearchConfig(grid=c["grid"], seeds=c["seeds"], rounds=c["rounds"],
                               test=c["test"], target=c.get("target", 0.99)),
        train=c.get("train", train), model=c.get("model", model),
        task_args=c.get("task_args", spec.get("task_args", ())), per_arm=c.get("per_arm", ()))


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
    """Run an experiment (every size and arm; one search per (grid, optimisation) of the arms,
    a single one unless arms set their own); `exp` overrides the named configuration (tests
    use a tiny one)."""
    exp = exp or get_experiment(name, config)
    return summarise(exp, *_measure(exp, exp.ns, seed, f"learn {exp.name}"), seed=seed)


def _measure(exp: Experiment, ns: Sequence[int], seed: int, desc: str) -> tuple[list, list]:
    """Threshold rows and probe rows of every arm at the sizes `ns` (within each arm's own):
    one `complexity.search` (one compiled shape) per distinct (grid, optimisation) of the
    arms, so arms that share them train together, padded to one shape."""
    groups: dict = {}
    for label, _ in exp.arms:
        groups.setdefault((exp.arm_search(label), exp.arm_train(label)), []).append(label)
    thresholds, probes = [], []
    for (search, train), labels in groups.items():
        conds = exp.conditions(ns=ns, arms=labels)
        if conds:
            found_probes, found = cx.search(conds, search, train_config=train,
                                            model=dict(exp.model), seed=seed, desc=desc)
            thresholds += _threshold_rows(conds, found)
            probes += _probe_rows(conds, found_probes)
    return thresholds, probes


def _threshold_rows(conds, found) -> list:
    """(n, arm, seed index, threshold) rows of a search."""
    return [(conds[t.condition].task.n, conds[t.condition].label, t.seed, t.size)
            for t in found]


def _probe_rows(conds, probes) -> list:
    """(n, arm, seed index, size, accuracy, answer loss, train loss) rows of a search."""
    return [(conds[p.condition].task.n, conds[p.condition].label, p.seed, p.size, p.accuracy,
             p.answer_loss, p.train_loss) for p in probes]


def summarise(exp: Experiment, thresholds: Sequence[tuple], probes: Sequence[tuple], *,
              seed: int = 0) -> Result:
    """A Result from per-seed threshold rows (n, arm, seed, threshold) and probe rows (n, arm,
    seed, size, accuracy, answer loss, train loss): medians with bootstrap intervals per
    (n, arm), growth fits per arm (power and exponential), learning curves over the grid
    (`seed` seeds the bootstraps)."""
    res = Result(exp, thresholds=list(thresholds), probes=list(probes))
    for n in exp.ns:
        for label, _ in exp.arms:
            vals = [r[3] for r in thresholds if r[0] == n and r[1] == label]
            if not vals:
                continue
            res.medians.append((n, label, *cx.median_interval(vals, seed=seed)))
            pairs = [(r[3], r[4]) for r in probes if r[0] == n and r[1] == label]
            res.curves.extend((n, label, *point) for point in
                              cx.learning_curve(pairs, exp.arm_search(label).grid))
    for label, _ in exp.arms:
        per = [[r[3] for r in thresholds if r[1] == label and r[0] == n] for n in exp.ns]
        ns = [n for n, v in zip(exp.ns, per) if v]
        per = [v for v in per if v]
        for law in ("power", "exponential"):
            f = cx.fit_growth(ns, per, law=law, seed=seed)
            res.fits.append((label, law, f.rate, f.low, f.high,
                             " ".join(map(str, f.sizes_used)), " ".join(map(str, f.censored))))
    return res


def figure(res: Result, ax_threshold, ax_curve) -> None:
    """Median threshold vs n per arm (bars: 95% bootstrap; triangles at the top: censored,
    more than the grid's largest size) and learning curves at the largest n."""
    exp = res.experiment
    tops = {exp.arm_search(label).grid[-1] for label, _ in exp.arms}
    shared_ns = len({exp.arm_ns(label) for label, _ in exp.arms}) == 1
    for j, (label, _) in enumerate(exp.arms):
        top = exp.arm_search(label).grid[-1]
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
        n_top = max(exp.arm_ns(label))
        curve = [r for r in res.curves if r[1] == label and r[0] == n_top]
        if curve:
            ax_curve.semilogx([r[2] for r in curve], [r[3] for r in curve], marker="o", ms=3,
                              lw=0.8, color=f"C{j}",
                              label=label if shared_ns else f"{label}, $n={n_top}$")
    for top in sorted(tops):
        ax_threshold.axhline(top, color="0.6", lw=0.6, ls=":")
    ax_threshold.set_yscale("log")
    ax_threshold.set_xlabel("task size $n$")
    ax_threshold.set_ylabel(f"samples to {exp.search.target:.0%} held-out")
    ax_threshold.set_xticks(list(exp.ns))
    ax_threshold.legend(fontsize=6, loc="lower right")
    grid = sorted({g for label, _ in exp.arms for g in exp.arm_search(label).grid})
    ax_curve.set_xticks(grid)
    ax_curve.set_xticklabels([str(g) for g in grid])
    ax_curve.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax_curve.legend(fontsize=6, loc="lower right")
    ax_curve.axhline(exp.search.target, color="0.6", lw=0.6, ls=":")
    ax_curve.set_xlabel("training-set size")
    ax_curve.set_ylabel(f"held-out exact match, $n={max(exp.ns)}$" if shared_ns
                        else "held-out exact match, the arm's largest $n$")
    ax_curve.set_ylim(0, 1.02)


def fit_lines(res: Result) -> list[str]:
    """The measured growth rates with intervals, next to the prediction (for notes/logs)."""
    lines = [f"{res.experiment.name}: prediction: {res.experiment.prediction}"]
    for label, law, rate, low, high, used, cens in res.fits:
        unit = "exponent a in n^a" if law == "power" else "rate a in e^(a n)"
        lines.append(f"  {label:>11} {law:>11}: {unit} = {rate:.3g} [{low:.3g}, {high:.3g}] "
                     f"(sizes {used or '-'}; censored {cens or '-'})")
    return lines


def compilation_cache(folder=None) -> Optional[str]:
    """Keep XLA's compiled programs in `folder` (default figures/.cache/jax, git-ignored; env
    THEORY_KIT_JAX_CACHE, "off" to disable) so a later build, or another figure whose models
    have the same shapes, loads them instead of compiling (15-40 s each). A loaded program is
    the same program: results are bitwise those of a fresh compilation. Returns the folder."""
    import os

    import jax

    from theory_kit import paths

    folder = folder or os.environ.get("THEORY_KIT_JAX_CACHE") or str(
        paths.figures_cache_dir() / "jax")
    if folder == "off":
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return str(folder)


def write_figure(name: str, stem: str, out_dir, seed: int = 0, config: str = "small",
                 annotate=None) -> list:
    """The body of figures/fig_learn_<name>.py: run, print the fits, plot, save the figure and
    its data (thresholds, medians, fits, curves, probes; `annotate(res, fig)` may add tables,
    returned as {suffix: (header, rows)})."""
    from theory_kit import plotting

    compilation_cache()
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


# -- length generalisation ---------------------------------------------------------------------
def length_generalisation(family: str, n_train: int, n_test: Sequence[int], *, cot: bool,
                          size: int, seeds: int = 2, test: int = 128, seed: int = 0,
                          train: TrainConfig = _LENGTH_TRAIN, model: Optional[dict] = None,
                          task_args: Optional[dict] = None) -> list[tuple]:
    """Train at size n_train, test at other sizes (length generalisation, issue 19 item 1).

    `seeds` models (one compilation) train on the first `size` prompts of their own pool of
    the task `family` at n_train (with its chain of thought when `cot`); each is then decoded
    greedily on `test` prompts of every size in n_test (same vocabulary; `Task.with_size`),
    all sequences padded to the longest, so the position embeddings cover every length (those
    past the training length are never trained).

    Returns:
        rows (n, seed index, exact-match accuracy, answer loss), n in the order of n_test.

    Raises:
        InvalidInput: sizes below 1, an empty n_test, or a pool the task cannot hold."""
    from theory_kit.learning import training
    from theory_kit.learning.models import ModelConfig

    if not n_test or min(n_test) < 1 or n_train < 1:
        raise InvalidInput(f"length_generalisation: sizes must be >= 1, got n_train={n_train!r}"
                           f", n_test={tuple(n_test)!r}")
    if not (isinstance(seeds, int) and seeds >= 1):
        raise InvalidInput(f"length_generalisation: seeds must be an int >= 1, got {seeds!r}")
    top = max(max(n_test), n_train)
    base = tasklib.make_task(family, n_train, max_size=top, **(task_args or {}))
    data, helds = [], {}
    for s in range(seeds):
        pool, held = tasklib.split_pools(base, train=size, test=test, seed=seed * 1_000_003 + s)
        data.append(tasklib.dataset(base, pool, cot=cot))
        for m in n_test:
            prompts = held if m == n_train else tasklib.split_pools(
                base.with_size(m), train=1, test=test, seed=seed * 1_000_003 + s)[1]
            helds[m, s] = tasklib.dataset(base.with_size(m), prompts, cot=cot)
    length = max(d.length for d in data + list(helds.values()))
    mconf = ModelConfig(**{"vocab": len(base.vocab), "length": length,
                           **dict(model or dict(Experiment.model))})
    pools = np.stack([d.padded(length)[0] for d in data])
    trained = training.train(mconf, train, pools, [size] * seeds,
                             [(seed * 7919 + s) % 2**31 for s in range(seeds)],
                             np.stack([d.padded(length)[1] for d in data]))
    rows = []
    for m in n_test:
        padded = [helds[m, s].padded(length) for s in range(seeds)]
        ev = training.evaluate(trained, np.stack([p[0] for p in padded]),
                               np.stack([p[1] for p in padded]),
                               np.stack([p[2] for p in padded]))
        rows += [(int(m), s, float(ev.accuracy[s]), float(ev.answer_loss[s]))
                 for s in range(seeds)]
    return rows


# -- sweeps (medium and full configurations) ---------------------------------------------------
def sweep_grid(name: str, config: str = "full") -> list[dict]:
    """The sweep cells of an experiment: one per size n (each runs every arm, paired)."""
    exp = get_experiment(name, config)
    return [{"experiment": name, "config": config, "n": n} for n in exp.ns]


def cell(experiment: str, config: str, n: int, seed: int) -> dict:
    """One sweep cell: the threshold search of every arm at size n with one seed
    (theory_kit.sweep task function). The arms are paired: `seed` (the cell's derived seed,
    the same for every arm since the arm is not a cell parameter) draws the training and
    held-out prompts every arm trains and is tested on, and the initial weights of every
    arm's models. Arms with their own grid draw their pool with the same seed, so a pool is
    a prefix of the longer one; their held-out prompts are drawn from the same stream, but
    skip the prompts of their own pool, so they can differ where the pools differ.

    Returns:
        thresholds: {arm: smallest size reaching the target, None when censored};
        probes: [[arm, size, accuracy, answer loss, train loss], ...]."""
    exp = get_experiment(experiment, config)
    if n not in exp.ns:
        raise InvalidInput(f"cell: n = {n!r} is not a size of {experiment} {config} {exp.ns}")
    exp = dataclasses.replace(exp, search=dataclasses.replace(exp.search, seeds=1))
    compilation_cache()   # the cells of one n share their shapes: one compilation for all seeds
    found, probes = _measure(exp, [n], seed % 2**20, f"learn {experiment} n={n}")
    return {"thresholds": {arm: size if math.isfinite(size) else None
                           for _, arm, _, size in found},
            "probes": [[arm, size, acc, aloss, tloss]
                       for _, arm, _, size, acc, aloss, tloss in probes]}


def from_sweep(rows: Sequence[dict], *, seed: int = 0) -> Result:
    """The Result of a finished sweep of `cell` (rows of `theory_kit.sweep.run` or `load`):
    thresholds per (n, arm, seed index), medians, growth fits and curves as `run` gives.

    Raises:
        InvalidInput: no rows, rows that are not a `cell` sweep's, rows of several
            experiments or configurations, or a failed cell (its parameters quoted)."""
    if not rows:
        raise InvalidInput("from_sweep: no rows")
    bad = [r for r in rows if r.get("status", "ok") != "ok"]
    if bad:
        raise InvalidInput(f"from_sweep: {len(bad)} cells did not finish, e.g. "
                           f"n={bad[0].get('n')!r} seed_index={bad[0].get('seed_index')!r}")
    need = ("experiment", "config", "n", "seed_index", "thresholds", "probes")
    foreign = [r for r in rows if not (isinstance(r, dict) and all(k in r for k in need))]
    if foreign:
        raise InvalidInput(f"from_sweep: {len(foreign)} rows are not rows of a `cell` sweep "
                           f"(each needs {', '.join(need)}), e.g. {foreign[0]!r:.120}")
    kinds = {(r["experiment"], r["config"]) for r in rows}
    if len(kinds) != 1:
        raise InvalidInput(f"from_sweep: rows of several experiments/configs {sorted(kinds)}")
    exp = get_experiment(*kinds.pop())
    thresholds, probes = [], []
    for r in sorted(rows, key=lambda r: (r["n"], r["seed_index"])):
        for label, _ in exp.arms:
            if label not in r["thresholds"]:   # the arm is not measured at this n
                continue
            size = r["thresholds"][label]
            thresholds.append((r["n"], label, r["seed_index"],
                               math.inf if size is None else float(size)))
        probes += [(r["n"], arm, r["seed_index"], size, acc, aloss, tloss)
                   for arm, size, acc, aloss, tloss in r["probes"]]
    return summarise(exp, thresholds, probes, seed=seed)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run a learning experiment as a sweep and print "
                                                 "its growth rates")
    parser.add_argument("name", choices=EXPERIMENTS)
    parser.add_argument("--config", default="full", choices=CONFIGS)
    parser.add_argument("--store", required=True)
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--engine", default="local")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    from theory_kit import sweep

    seeds = args.seeds or get_experiment(args.name, args.config).search.seeds
    rows = sweep.run("theory_kit.learning.experiments:cell", sweep_grid(args.name, args.config),
                     seeds=seeds, store=args.store, engine=args.engine, workers=args.workers)
    res = from_sweep(sweep.check(rows))
    for r in res.medians:
        print(f"  n={r[0]:<3} {r[1]:>11}: median {r[2]:g} [{r[3]:g}, {r[4]:g}]")
    for line in fit_lines(res):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
