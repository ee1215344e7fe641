"""Sample complexity: the smallest training-set size that reaches a target held-out accuracy,
searched over sizes, with bootstrap intervals over seeds, learning curves and growth-rate fits.

`search` runs every (condition, seed, size) model of one round in a single `training.train`
call (padded to one shape, so one compilation serves all rounds): round 0 probes a geometric
grid of sizes; each later round probes, for every (condition, seed) whose threshold the probes
bracket, `len(grid)` sizes spaced geometrically strictly inside the bracket (a bisection that
cuts the interval into len(grid) + 1 parts per round instead of 2, so the round keeps its
shape). A (condition, seed)'s threshold is the smallest probed size from which every larger
probed size reaches the target (so one lucky small run does not count), `inf` when the largest
probe misses it (censored: more samples than the grid holds, or never within the step budget).

Seeds: the prompts of a (seed index, n) are shared by every condition at that size (paired
comparisons: CoT and end to end train on the same prompts), and a seed index's initial weights
are shared by its sizes and conditions.

`median_interval` bootstraps the median threshold over seeds; `fit_growth` fits log(threshold)
against log(n) (power law, rate a in n^a) or n (exponential, rate a in e^{a n}) by least squares
on the per-size medians, with percentile-bootstrap intervals from resampling seeds within each
size. Sizes whose median is censored are left out of the fit and counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from theory_kit.claims import statistical
from theory_kit.errors import InvalidInput, InvalidMeasurement
from theory_kit.learning import tasks as tasklib
from theory_kit.learning import training
from theory_kit.learning.models import ModelConfig
from theory_kit.progress import progress

__all__ = ["Condition", "SearchConfig", "Probe", "Threshold", "search", "thresholds",
           "median_interval", "GrowthFit", "fit_growth", "learning_curve"]


@dataclass(frozen=True, kw_only=True)
class Condition:
    """A task trained with or without its chain of thought; `label` names the arm (e.g.
    "CoT", "end to end", "reversed")."""

    task: tasklib.Task
    cot: bool
    label: str


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    """The size search.

    Attributes:
        grid: increasing training-set sizes of round 0 (geometric, e.g. 16, 32, ..., 512).
        seeds: seeds per condition (independent prompts and initial weights).
        target: held-out exact-match accuracy a size must reach.
        test: held-out prompts per (seed, size n) (unseen in the training pool).
        rounds: refinement rounds after the grid (0: the grid only).
    """

    grid: tuple = (16, 32, 64, 128, 256)
    seeds: int = 2
    target: float = 0.99
    test: int = 256
    rounds: int = 1

    def __post_init__(self):
        g = self.grid
        if not (isinstance(g, tuple) and g and all(isinstance(x, int) and x >= 1 for x in g)
                and list(g) == sorted(set(g))):
            raise InvalidInput(f"SearchConfig: grid must be a tuple of increasing ints >= 1, "
                               f"got {g!r}")
        if not (isinstance(self.seeds, int) and self.seeds >= 1):
            raise InvalidInput(f"SearchConfig: seeds must be an int >= 1, got {self.seeds!r}")
        if not 0 < self.target <= 1:
            raise InvalidInput(f"SearchConfig: target must be in (0, 1], got {self.target!r}")
        if not (isinstance(self.test, int) and self.test >= 1):
            raise InvalidInput(f"SearchConfig: test must be an int >= 1, got {self.test!r}")
        if not (isinstance(self.rounds, int) and self.rounds >= 0):
            raise InvalidInput(f"SearchConfig: rounds must be an int >= 0, got {self.rounds!r}")


@dataclass(frozen=True)
class Probe:
    """One trained model: its condition (index), seed index, training-set size and results."""

    condition: int
    seed: int
    size: int
    round: int
    accuracy: float
    answer_loss: float
    train_loss: float


@dataclass(frozen=True)
class Threshold:
    """A (condition, seed)'s smallest size reaching the target (inf: censored)."""

    condition: int
    seed: int
    size: float


def _prepared(conditions: Sequence[Condition], config: SearchConfig, seed: int):
    """Padded pools, held-out rows and masks of every (condition, seed index)."""
    pools, helds = {}, {}
    for ci, c in enumerate(conditions):
        for s in range(config.seeds):
            key = (c.task.choices, s)
            if key not in pools:
                pools[key] = tasklib.split_pools(c.task, train=config.grid[-1],
                                                 test=config.test, seed=seed * 1_000_003 + s * 997
                                                 + c.task.n)
            train, held = pools[key]
            helds[ci, s] = (tasklib.dataset(c.task, train, cot=c.cot),
                            tasklib.dataset(c.task, held, cot=c.cot))
    length = max(d.length for d, _ in helds.values())
    arrays = {}
    for key, (d, h) in helds.items():
        tokens, target, answer = d.padded(length)
        arrays[key] = (tokens, h.padded(length)[0], target, answer)
    vocab = max(len(c.task.vocab) for c in conditions)
    return arrays, length, vocab


def search(conditions: Sequence[Condition], config: SearchConfig, *,
           train_config: training.TrainConfig = training.TrainConfig(),
           model: Optional[dict] = None, seed: int = 0, desc: str = "search"
           ) -> tuple[list[Probe], list[Threshold]]:
    """Train and evaluate the probes of every round; the per-(condition, seed) thresholds.

    Args:
        conditions: the arms (tasks of one family may differ in size and layout).
        config: grid, seeds, target, held-out size, refinement rounds.
        train_config: the optimisation of every model.
        model: ModelConfig fields (kind, width, layers, heads); vocab and length are set to
            fit every condition.
        seed: the experiment's seed (prompts and initial weights derive from it).
        desc: progress label.

    Returns:
        (every Probe in round order, every Threshold in (condition, seed) order).

    Raises:
        InvalidInput: no conditions, or a grid the tasks' input spaces cannot hold."""
    if not conditions:
        raise InvalidInput("search: no conditions")
    arrays, length, vocab = _prepared(conditions, config, seed)
    mconf = ModelConfig(**{"vocab": vocab, "length": length, **(model or {})})
    pairs = [(ci, s) for ci in range(len(conditions)) for s in range(config.seeds)]
    probes: list[Probe] = []
    planned = [(ci, s, g) for ci, s in pairs for g in config.grid]
    for rnd in progress(range(config.rounds + 1), total=config.rounds + 1, desc=desc,
                        unit="round"):
        pools = np.stack([arrays[ci, s][0] for ci, s, _ in planned])
        held = np.stack([arrays[ci, s][1] for ci, s, _ in planned])
        target = np.stack([arrays[ci, s][2] for ci, s, _ in planned])
        answer = np.stack([arrays[ci, s][3] for ci, s, _ in planned])
        sizes = np.array([g for _, _, g in planned])
        seeds = np.array([(seed * 7919 + s) % 2**31 for _, s, _ in planned])
        trained = training.train(mconf, train_config, pools, sizes, seeds, target)
        ev = training.evaluate(trained, held, target, answer)
        seen = {(p.condition, p.seed, p.size) for p in probes}
        for i, (ci, s, g) in enumerate(planned):
            if (ci, s, g) not in seen:   # padding probes repeat a size: keep its first result
                seen.add((ci, s, g))
                probes.append(Probe(ci, s, int(g), rnd, float(ev.accuracy[i]),
                                    float(ev.answer_loss[i]), float(trained.final_loss[i])))
        if rnd == config.rounds:
            break
        planned = _refine(probes, pairs, config)
        if planned is None:
            break
    return probes, thresholds(probes, pairs, config.target)


def thresholds(probes: Sequence[Probe], pairs: Sequence[tuple], target: float
               ) -> list[Threshold]:
    """The smallest probed size of each (condition, seed) from which every larger probed size
    reaches `target` (inf when the largest does not)."""
    out = []
    for ci, s in pairs:
        ps = sorted((p.size, p.accuracy >= target) for p in probes
                    if p.condition == ci and p.seed == s)
        size = math.inf
        for x, ok in reversed(ps):
            if not ok:
                break
            size = x
        out.append(Threshold(ci, s, float(size)))
    return out


def _refine(probes, pairs, config: SearchConfig) -> Optional[list]:
    """The next round's probes: len(grid) sizes inside each open bracket (fail, pass); pairs
    without one repeat their last probes (same shape every round). None: nothing to refine."""
    g = len(config.grid)
    planned, any_open = [], False
    for (ci, s), found in zip(pairs, thresholds(probes, pairs, config.target)):
        th = found.size
        sizes = sorted(p.size for p in probes if p.condition == ci and p.seed == s)
        below = [x for x in sizes if x < th]
        inside: list[int] = []
        if math.isfinite(th) and below and th - below[-1] > 1:
            lo, hi = below[-1], int(th)
            ratio = (hi / lo) ** (1.0 / (g + 1))
            inside = sorted({min(hi - 1, max(lo + 1, int(round(lo * ratio ** k))))
                             for k in range(1, g + 1)})
        any_open |= bool(inside)
        fill = inside or [sizes[-1]]
        planned += [(ci, s, fill[k % len(fill)]) for k in range(g)]
    return planned if any_open else None


def median_interval(values: Sequence[float], *, level: float = 0.95, boots: int = 2000,
                    seed: int = 0) -> tuple[float, float, float]:
    """(median, low, high): the median over seeds and its percentile-bootstrap interval
    (inf propagates: a median of mostly censored seeds is inf)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise InvalidInput("median_interval: no values")
    rng = np.random.default_rng(seed)
    meds = np.sort(np.median(x[rng.integers(0, x.size, size=(boots, x.size))], axis=1))
    a = (1 - level) / 2
    return (float(np.median(x)), float(np.quantile(meds, a, method="lower")),
            float(np.quantile(meds, 1 - a, method="higher")))


@dataclass(frozen=True)
class GrowthFit:
    """log(threshold) = c + rate * f(n), f = log (power: threshold ~ n^rate) or identity
    (exponential: threshold ~ e^{rate n}); `low`, `high` a bootstrap interval for rate
    (nan when fewer than 2 sizes have a finite median); `censored` sizes left out."""

    law: str
    rate: float
    low: float
    high: float
    sizes_used: tuple
    censored: tuple = field(default=())


def fit_growth(ns: Sequence[int], per_seed: Sequence[Sequence[float]], *, law: str = "power",
               level: float = 0.95, boots: int = 2000, seed: int = 0) -> GrowthFit:
    """Fit the growth of the median threshold in the task size n
    (`theory_kit.claims.statistical.fit_growth` on the sizes whose median is finite;
    bootstrap resamples with a censored median are left out there).

    Args:
        ns: task sizes.
        per_seed: per_seed[i] = the thresholds of the seeds at ns[i] (inf = censored).
        law: "power" or "exponential".
        level: two-sided level of the bootstrap interval.

    Raises:
        InvalidInput: an unknown law or mismatched lengths."""
    if law not in ("power", "exponential"):
        raise InvalidInput(f"fit_growth: law must be 'power' or 'exponential', got {law!r}")
    if len(ns) != len(per_seed):
        raise InvalidInput(f"fit_growth: {len(ns)} sizes but {len(per_seed)} threshold lists")
    vals = [np.asarray(v, dtype=float) for v in per_seed]
    finite = [i for i, v in enumerate(vals) if v.size and math.isfinite(float(np.median(v)))]
    used = tuple(int(ns[i]) for i in finite)
    censored = tuple(int(ns[i]) for i in range(len(ns)) if i not in finite)
    if len(finite) < 2:
        return GrowthFit(law, math.nan, math.nan, math.nan, used, censored)
    try:
        fit = statistical.fit_growth({int(ns[i]): vals[i] for i in finite}, model=law, statistic="median",
                                     alpha=(1 - level) / 2, n_bootstrap=boots, seed=seed)
    except InvalidMeasurement:  # a single seed per size, or every resample censored: no interval
        return GrowthFit(law, math.nan, math.nan, math.nan, used, censored)
    return GrowthFit(law, fit.rate, fit.lower, fit.upper, used, censored)


def learning_curve(probes: Sequence[tuple[int, float]], sizes: Sequence[int]
                   ) -> list[tuple[int, float, float]]:
    """(size, mean accuracy, min accuracy) over seeds at each of `sizes`, from the (size,
    accuracy) pairs of one condition's probes (sizes no seed probed are skipped)."""
    out = []
    for g in sizes:
        acc = [a for size, a in probes if size == g]
        if acc:
            out.append((int(g), float(np.mean(acc)), float(np.min(acc))))
    return out
