"""Claims about measured random quantities, checked against confidence intervals over seeds.

A deterministic `Claim` can be refuted by one counterexample or proved; a claim about a random
quantity (a trained model's sample complexity, a held-out accuracy) can only be tested. A
`StatisticalClaim` pairs a sampler, `sample(seed=s, **point) -> float`, with a sympy bound over
the point's parameters, a finite grid of points, the seeds to draw and a level alpha:

    claim = StatisticalClaim(
        "cot_parity_samples", sample=parity_cot_sample_complexity, bound="40*n**2",
        points={"n": [4, 6, 8]}, relation="<=", statistic="median", seeds=20, level=0.05)
    verdict = verify_statistical(claim)      # "consistent at level 0.05" or "refuted at level 0.05"

The test is one-sided per point and Bonferroni-corrected over the points: a "<=" claim is refuted
at level alpha when, at some point, the lower confidence bound of the statistic at level
1 - alpha/m (m points) lies above the bound. Under the claim, the chance of a refutation is at
most alpha, whatever the distribution (for "order" intervals) or asymptotically (for "t" and
"bootstrap"). A verdict is never "proved": "consistent" means only that the data did not refute
the claim, and the verdict says how wide its intervals were (and when too few seeds made a
refutation impossible).

Intervals: "order" (default for medians and quantiles) is the exact distribution-free interval
from order statistics (a binomial count of seeds on each side), and accepts +inf samples, e.g. a
sample complexity that was not reached within the searched sizes. "t" (default for means) is
Student's t interval; "bootstrap" is the percentile bootstrap, seeded.

`fit_growth` fits the growth rate of a measured quantity in a task size (power law
q = C n^a or exponential q = C e^(a n)) with a bootstrap interval over seeds; `verify_growth`
tests a claimed rate ("the exponent is at most 1") against that interval with the same verdict
vocabulary.
"""

from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
import sympy as sp

from theory_kit import progress as _progress
from theory_kit.claims.claim import _NAME_RE, _check_bound, check_text_fields, raise_problems
from theory_kit.claims.parsing import parse_expression
from theory_kit.errors import InvalidClaim, InvalidMeasurement

__all__ = [
    "StatisticalClaim",
    "StatisticalVerdict",
    "PointResult",
    "GrowthFit",
    "GrowthVerdict",
    "STATISTICS",
    "INTERVALS",
    "confidence_bounds",
    "verify_statistical",
    "fit_growth",
    "verify_growth",
]

#: Statistics of the seeds' samples a claim may bound: the mean, the median, or a quantile
#: given as ("quantile", q) with 0 < q < 1.
STATISTICS = ("mean", "median", "quantile")
#: Confidence intervals: exact order-statistic intervals (median/quantile), Student's t
#: (mean), or the seeded percentile bootstrap (any statistic).
INTERVALS = ("order", "t", "bootstrap")
_RELATIONS = ("<=", ">=", "==")
_DEFAULT_BOOTSTRAP = 4000


def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _statistic(spec) -> tuple[str, Optional[float]]:
    if spec in ("mean", "median"):
        return spec, (0.5 if spec == "median" else None)
    if isinstance(spec, (tuple, list)) and len(spec) == 2 and spec[0] == "quantile" and _is_real(spec[1]) \
            and 0 < float(spec[1]) < 1:
        return "quantile", float(spec[1])
    raise InvalidClaim(f"statistic must be 'mean', 'median' or ('quantile', q) with 0 < q < 1, got {spec!r}")


def _grid(points, problems: list[str]) -> tuple[tuple[str, ...], tuple[tuple, ...]]:
    """Points as (names, tuple of value tuples): a mapping name -> values (their product) or a
    sequence of mappings name -> value (all with the same names)."""
    if isinstance(points, Mapping):
        names = tuple(points)
        values = []
        for name in names:
            v = points[name]
            if isinstance(v, (str, bytes)) or not isinstance(v, Sequence) or len(v) == 0:
                problems.append(f"points[{name!r}] must be a non-empty sequence of values, got {v!r}")
                values.append(())
            else:
                values.append(tuple(v))
        return names, tuple(itertools.product(*values))
    if isinstance(points, Sequence) and not isinstance(points, (str, bytes)) and len(points) > 0 \
            and all(isinstance(p, Mapping) for p in points):
        names = tuple(points[0])
        for i, p in enumerate(points):
            if tuple(p) != names:
                problems.append(f"points[{i}] has parameters {sorted(p)}, points[0] has {sorted(names)}: every point needs the same names")
        return names, tuple(tuple(p.get(n) for n in names) for p in points)
    problems.append(f"points must be a mapping name -> values or a non-empty list of mappings name -> value, got {points!r}")
    return (), ()


@dataclass(frozen=True, eq=False)
class StatisticalClaim:
    """A bound on a statistic of a random measurement, at every point of a finite grid.

    Attributes:
        name: identifier (letters, digits, underscores; starts with a letter).
        sample: callable, `sample(seed=s, **point) -> float`: one random measurement (a
            training run, a sample-complexity search) determined by its seed. +inf is allowed
            for "order" intervals (a quantity beyond the searched range); NaN never is.
        bound: sympy expression or its text over the grid's parameter names, e.g. "40*n**2".
        points: mapping name -> values (the grid is their product) or a list of mappings.
        relation: "<=", ">=" or "==" (the statistic against the bound).
        statistic: "mean", "median" or ("quantile", q).
        seeds: number of seeds (seeds 0..k-1) or the seeds themselves, distinct ints.
        level: alpha, the chance of refuting a true claim (0 < alpha < 1).
        interval: "order", "t" or "bootstrap"; None picks "order" for medians and quantiles and
            "t" for means.
        n_bootstrap: resamples of the "bootstrap" interval.
        source, description: where the claim comes from and what is measured.

    Raises:
        InvalidClaim: every problem of the specification at once.
    """

    name: str
    sample: Callable[..., Any]
    bound: Any
    points: Any
    relation: str = "<="
    statistic: Any = "median"
    seeds: Any = 10
    level: float = 0.05
    interval: Optional[str] = None
    n_bootstrap: int = _DEFAULT_BOOTSTRAP
    source: str = ""
    description: str = ""
    names: tuple = field(init=False, repr=False)
    grid: tuple = field(init=False, repr=False)
    quantile: Optional[float] = field(init=False, repr=False, default=None)

    def __post_init__(self):
        problems: list[str] = []
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            problems.append(f"name must be letters, digits and underscores starting with a letter, got {self.name!r}")
        if not callable(self.sample):
            problems.append(f"sample must be a callable sample(seed=..., **point) -> float, got {type(self.sample).__name__} {self.sample!r}")
        names, grid = _grid(self.points, problems)
        for n in names:
            if not isinstance(n, str) or not n.isidentifier() or n == "seed":
                problems.append(f"parameter name {n!r} must be an identifier other than 'seed' (the sampler receives seed=)")
        bound = self.bound
        if isinstance(bound, str):
            try:
                bound = parse_expression(bound, [n for n in names if isinstance(n, str)], source="bound")
            except InvalidClaim as exc:
                problems.append(f"bound {self.bound!r}: {getattr(exc, 'reason', exc)}")
                bound = None
        if bound is not None:
            problems += _check_bound(bound, {n for n in names if isinstance(n, str)})
        if self.relation not in _RELATIONS:
            problems.append(f"relation must be one of {', '.join(map(repr, _RELATIONS))}, got {self.relation!r}")
        statistic, q = None, None
        try:
            statistic, q = _statistic(self.statistic)
        except InvalidClaim as exc:
            problems.append(str(exc))
        seeds = self.seeds
        if _is_real(seeds) and float(seeds).is_integer():
            seeds = tuple(range(int(seeds))) if int(seeds) >= 2 else None
        elif isinstance(seeds, Sequence) and not isinstance(seeds, (str, bytes)):
            seeds = tuple(seeds)
            if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in seeds) or len(set(seeds)) != len(seeds):
                seeds = None
            elif len(seeds) < 2:
                seeds = None
        else:
            seeds = None
        if seeds is None:
            problems.append(f"seeds must be a count >= 2 or a sequence of >= 2 distinct ints, got {self.seeds!r}")
        if not _is_real(self.level) or not 0 < float(self.level) < 1:
            problems.append(f"level (alpha) must be a real in (0, 1), got {self.level!r}")
        interval = self.interval
        if interval is None and statistic is not None:
            interval = "t" if statistic == "mean" else "order"
        if interval is not None and interval not in INTERVALS:
            problems.append(f"interval must be one of {', '.join(map(repr, INTERVALS))} or None, got {interval!r}")
        elif interval == "order" and statistic == "mean":
            problems.append("an 'order' interval bounds a median or quantile, not a mean: use interval='t' or 'bootstrap'")
        elif interval == "t" and statistic not in (None, "mean"):
            problems.append(f"a 't' interval bounds a mean, not a {statistic}: use interval='order' or 'bootstrap'")
        if not isinstance(self.n_bootstrap, numbers.Integral) or isinstance(self.n_bootstrap, bool) or self.n_bootstrap < 100:
            problems.append(f"n_bootstrap must be an int >= 100, got {self.n_bootstrap!r}")
        check_text_fields(self, problems)
        raise_problems(f"invalid statistical claim {self.name!r}", problems)
        object.__setattr__(self, "bound", bound)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "grid", grid)
        object.__setattr__(self, "statistic", statistic)
        object.__setattr__(self, "quantile", q)
        object.__setattr__(self, "seeds", seeds)
        object.__setattr__(self, "level", float(self.level))
        object.__setattr__(self, "interval", interval)

    def point(self, values: tuple) -> dict:
        """The grid point `values` as a mapping name -> value."""
        return dict(zip(self.names, values))

    def bound_at(self, values: tuple) -> float:
        """The bound's value at a grid point (float; exact sympy arithmetic, then rounded)."""
        subs = {s: values[self.names.index(str(s))] for s in self.bound.free_symbols}
        value = self.bound.subs(subs).evalf(30)
        if not value.is_real:
            raise InvalidClaim(f"bound {self.bound} is not a real number at {self.point(values)}: {value}")
        return float(value)

    def describe(self) -> str:
        stat = f"quantile {self.quantile}" if self.statistic == "quantile" else self.statistic
        return (f"{self.name}: {stat} over {len(self.seeds)} seeds {self.relation} {self.bound} "
                f"at {len(self.grid)} point(s) of {', '.join(self.names)}, level {self.level:g}")


# ---------------------------------------------------------------------------------------------
# intervals


def _order_bounds(x: np.ndarray, q: float, alpha: float) -> tuple[float, float]:
    """Exact one-sided (1 - alpha) bounds of the q-quantile from order statistics.

    Lower: the j-th smallest sample x_(j) is <= the quantile with probability
    P(Bin(k, q) >= j); the largest j with that probability >= 1 - alpha gives the bound (-inf
    when even x_(1) does not reach the level: too few samples). Upper symmetrically."""
    from scipy.stats import binom

    k = x.size
    xs = np.sort(x)
    js = np.arange(1, k + 1)
    lower_ok = binom.sf(js - 1, k, q) >= 1 - alpha        # P(Bin >= j)
    upper_ok = binom.cdf(js - 1, k, q) >= 1 - alpha       # P(Bin <= j - 1) = P(x_(j) >= quantile)
    lo = float(xs[np.nonzero(lower_ok)[0].max()]) if lower_ok.any() else -math.inf
    hi = float(xs[np.nonzero(upper_ok)[0].min()]) if upper_ok.any() else math.inf
    return lo, hi


def _quantile(x: np.ndarray, q: float, axis=None):
    """The q-quantile: the usual median (the midpoint of the middle two; +inf-safe) for
    q = 1/2, else the inverted-CDF quantile (an order statistic, +inf-safe)."""
    if q == 0.5:
        return np.median(x, axis=axis)
    return np.quantile(x, q, axis=axis, method="inverted_cdf")


def _point_statistic(x: np.ndarray, statistic: str, q: Optional[float]) -> float:
    if statistic == "mean":
        return float(np.mean(x))
    return float(_quantile(x, q))


def confidence_bounds(samples, *, statistic="median", interval: Optional[str] = None, alpha: float = 0.05,
                      n_bootstrap: int = _DEFAULT_BOOTSTRAP, seed: int = 0) -> tuple[float, float, float]:
    """(estimate, lower, upper): the statistic of `samples` and its one-sided (1 - alpha) bounds.

    `lower` is a (1 - alpha) lower confidence bound and `upper` a (1 - alpha) upper one (so
    [lower, upper] is a (1 - 2 alpha) two-sided interval). +inf samples are allowed for
    medians and quantiles with the "order" interval; NaN never.

    Raises:
        InvalidMeasurement: NaN or -inf samples, +inf where the interval cannot take it, fewer
            than 2 samples.
    """
    statistic, q = _statistic(statistic)
    interval = interval or ("t" if statistic == "mean" else "order")
    if interval not in INTERVALS:
        raise InvalidClaim(f"interval must be one of {', '.join(map(repr, INTERVALS))}, got {interval!r}")
    x = np.asarray(samples, dtype=float).ravel()
    if x.size < 2:
        raise InvalidMeasurement(f"a confidence interval needs >= 2 samples, got {x.size}: {samples!r}")
    if np.isnan(x).any() or (x == -np.inf).any():
        raise InvalidMeasurement(f"samples must be numbers or +inf, got {x.tolist()}")
    if np.isinf(x).any() and (statistic == "mean" or interval != "order"):
        raise InvalidMeasurement(
            f"+inf samples (e.g. a sample complexity beyond the searched sizes) can only be bounded as a median "
            f"or quantile with interval='order', got statistic={statistic!r}, interval={interval!r}: {x.tolist()}")
    if not 0 < alpha < 1:
        raise InvalidClaim(f"alpha must be in (0, 1), got {alpha!r}")
    estimate = _point_statistic(x, statistic, q)
    if interval == "order":
        if statistic == "mean":
            raise InvalidClaim("an 'order' interval bounds a median or quantile, not a mean")
        lo, hi = _order_bounds(x, q, alpha)
    elif interval == "t":
        if statistic != "mean":
            raise InvalidClaim(f"a 't' interval bounds a mean, not a {statistic}")
        from scipy.stats import t as student

        half = float(student.ppf(1 - alpha, x.size - 1)) * float(np.std(x, ddof=1)) / math.sqrt(x.size)
        lo, hi = estimate - half, estimate + half
    else:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, x.size, size=(n_bootstrap, x.size))
        boot = x[idx]
        stats = boot.mean(axis=1) if statistic == "mean" else _quantile(boot, q, axis=1)
        lo = float(np.quantile(stats, alpha, method="inverted_cdf"))
        hi = float(np.quantile(stats, 1 - alpha, method="inverted_cdf"))
    return estimate, lo, hi


# ---------------------------------------------------------------------------------------------
# verdicts


@dataclass(frozen=True)
class PointResult:
    """One grid point: its samples, the statistic, its confidence bounds and the bound.

    `lower`/`upper` are one-sided bounds at the Bonferroni-corrected level 1 - alpha/m;
    `refutes` says whether this point alone refutes the claim."""

    point: Mapping[str, Any]
    samples: tuple
    estimate: float
    lower: float
    upper: float
    bound: float
    refutes: bool

    def describe(self, relation: str) -> str:
        where = ", ".join(f"{k}={v}" for k, v in self.point.items())
        return (f"{where}: estimate {self.estimate:.6g}, confidence bounds [{self.lower:.6g}, {self.upper:.6g}] "
                f"{'violate' if self.refutes else 'allow'} {relation} {self.bound:.6g}")


@dataclass(frozen=True)
class StatisticalVerdict:
    """The outcome of a statistical test: "consistent" or "refuted" at level `level`, never
    "proved". `results` holds every point; `worst` the one closest to refuting (or refuting);
    `powerless` the points where too few seeds made a refutation impossible at this level."""

    claim: str
    status: str
    level: float
    relation: str
    results: tuple
    worst: PointResult
    powerless: tuple = ()

    @property
    def refuted(self) -> bool:
        return self.status == "refuted"

    @property
    def consistent(self) -> bool:
        return self.status == "consistent"

    def __str__(self) -> str:
        m = len(self.results)
        head = f"{self.claim}: {self.status} at level {self.level:g}"
        body = (f" ({m} point(s), one-sided bounds at level 1 - {self.level:g}/{m} each; "
                f"{'first violation' if self.refuted else 'closest point'}: {self.worst.describe(self.relation)})")
        tail = ""
        if self.powerless:
            where = "; ".join(", ".join(f"{k}={v}" for k, v in p.items()) for p in self.powerless)
            tail = (f". Not a test at {where}: with this many seeds no sample could have refuted the claim at this "
                    f"level (add seeds)")
        return head + body + tail


def _refutes(relation: str, lo: float, hi: float, bound: float) -> bool:
    if relation == "<=":
        return lo > bound
    if relation == ">=":
        return hi < bound
    return lo > bound or hi < bound


def _margin(relation: str, lo: float, hi: float, bound: float) -> float:
    """How far the interval is from refuting (negative: it refutes)."""
    if relation == "<=":
        return bound - lo
    if relation == ">=":
        return hi - bound
    return min(bound - lo, hi - bound)


def _one_sample(claim: StatisticalClaim, values: tuple, seed: int) -> float:
    point = claim.point(values)
    try:
        v = claim.sample(seed=seed, **point)
    except TypeError as exc:
        raise InvalidClaim(f"statistical claim {claim.name!r}: sample(seed={seed}, **{point}) raised {exc}") from exc
    if not _is_real(v) and not (isinstance(v, np.ndarray) and v.shape == ()):
        raise InvalidMeasurement(f"statistical claim {claim.name!r}: sample(seed={seed}, **{point}) returned "
                                 f"{type(v).__name__} {v!r}, not a real number")
    v = float(v)
    if math.isnan(v):
        raise InvalidMeasurement(f"statistical claim {claim.name!r}: sample(seed={seed}, **{point}) returned NaN")
    return v


def _cell(args):  # module-level: picklable for process executors
    claim, values, seed = args
    return _one_sample(claim, values, seed)


def verify_statistical(claim: StatisticalClaim, *, samples: Optional[Mapping] = None, executor=None,
                       seed: int = 0) -> StatisticalVerdict:
    """Test `claim` at level claim.level; returns a StatisticalVerdict.

    Args:
        claim: the StatisticalClaim.
        samples: measurements already made (e.g. read from a sweep store): mapping from a grid
            point (a tuple of values in claim.names order, or a mapping name -> value) to the
            sequence of its samples, one per seed. Missing points are sampled.
        executor: None (sample in this process, with a progress bar) or a
            concurrent.futures.Executor / dask Client whose `map` runs the (point, seed) cells.
        seed: seed of the bootstrap resampling (interval="bootstrap" only).

    Raises:
        InvalidMeasurement: a sample is NaN, not a number, or +inf where the interval cannot
            take it; given samples for a point not on the grid.
    """
    if not isinstance(claim, StatisticalClaim):
        raise InvalidClaim(f"verify_statistical takes a StatisticalClaim, got {type(claim).__name__} {claim!r}")
    given: dict[tuple, tuple] = {}
    for key, vals in (samples or {}).items():
        values = tuple(key[n] for n in claim.names) if isinstance(key, Mapping) else tuple(key) if isinstance(key, tuple) else (key,)
        if values not in claim.grid:
            raise InvalidMeasurement(f"samples given for {key!r}, which is not a point of claim {claim.name!r}'s grid "
                                     f"({', '.join(claim.names)}: {list(claim.grid)[:5]}...)")
        given[values] = tuple(float(v) for v in vals)
    todo = [(claim, values, s) for values in claim.grid if values not in given for s in claim.seeds]
    if executor is None:
        measured = [_cell(c) for c in _progress.progress(todo, desc=f"claim {claim.name}", unit="run")]
    else:
        measured = list(executor.map(_cell, todo))
        if measured and hasattr(measured[0], "result"):  # dask futures
            measured = [f.result() for f in measured]
    by_point: dict[tuple, list] = {}
    for (_, values, _), v in zip(todo, measured):
        by_point.setdefault(values, []).append(v)
    m = len(claim.grid)
    alpha = claim.level / m
    results, powerless = [], []
    for values in claim.grid:
        xs = given.get(values) or tuple(by_point[values])
        est, lo, hi = confidence_bounds(xs, statistic=(claim.statistic, claim.quantile) if claim.statistic == "quantile"
                                        else claim.statistic, interval=claim.interval, alpha=alpha,
                                        n_bootstrap=claim.n_bootstrap, seed=seed)
        bound = claim.bound_at(values)
        point = MappingProxyType(claim.point(values))
        if {"<=": lo == -math.inf, ">=": hi == math.inf, "==": lo == -math.inf and hi == math.inf}[claim.relation]:
            powerless.append(point)
        results.append(PointResult(point, tuple(xs), est, lo, hi, bound, _refutes(claim.relation, lo, hi, bound)))
    worst = min(results, key=lambda r: _margin(claim.relation, r.lower, r.upper, r.bound))
    status = "refuted" if any(r.refutes for r in results) else "consistent"
    return StatisticalVerdict(claim.name, status, claim.level, claim.relation, tuple(results), worst, tuple(powerless))


# ---------------------------------------------------------------------------------------------
# growth rates

_MODELS = ("power", "exponential")


@dataclass(frozen=True)
class GrowthFit:
    """A fitted growth rate: q ≈ C n^rate ("power") or q ≈ C e^(rate n) ("exponential"),
    least squares on log q of the per-size statistic, with a percentile bootstrap interval
    (seeds resampled within each size) at two-sided level 1 - 2 alpha. `dropped`: the share
    of bootstrap resamples left out because a size's median or quantile came out +inf
    (censored samples, e.g. a sample complexity beyond the searched sizes)."""

    model: str
    rate: float
    constant: float
    lower: float
    upper: float
    alpha: float
    sizes: tuple
    statistic: tuple
    dropped: float = 0.0

    def __str__(self) -> str:
        form = "C n^a" if self.model == "power" else "C e^(a n)"
        return (f"{form}: a = {self.rate:.4g} (one-sided {1 - self.alpha:.0%} bounds [{self.lower:.4g}, {self.upper:.4g}]), "
                f"C = {self.constant:.4g}, over sizes {list(self.sizes)}")


def _fit_log(sizes: np.ndarray, values: np.ndarray, model: str) -> tuple[float, float]:
    x = np.log(sizes) if model == "power" else sizes
    slope, intercept = np.polyfit(x, np.log(values), 1)
    return float(slope), float(math.exp(intercept))


def fit_growth(samples: Mapping, *, model: str = "power", statistic="median", alpha: float = 0.05,
               n_bootstrap: int = _DEFAULT_BOOTSTRAP, seed: int = 0) -> GrowthFit:
    """Fit the growth of a measured positive quantity in a size n.

    Args:
        samples: mapping size n -> the samples at n (one per seed); >= 2 sizes, >= 2 samples each.
        model: "power" (log q against log n) or "exponential" (log q against n).
        statistic: "median" (default; robust to a few failed runs) or "mean" of each size's samples.
        alpha: each of the returned bounds is one-sided at level 1 - alpha.
        n_bootstrap: resamples; seed: their seed.

    Raises:
        InvalidMeasurement: fewer than 2 sizes, non-positive samples, +inf samples under a
            mean or where a size's median/quantile itself is +inf (a fit on the log scale
            needs positive, finite statistics), sizes <= 0 for a power law.
    """
    if model not in _MODELS:
        raise InvalidClaim(f"model must be one of {', '.join(map(repr, _MODELS))}, got {model!r}")
    stat, q = _statistic(statistic)
    if not isinstance(samples, Mapping) or len(samples) < 2:
        raise InvalidMeasurement(f"a growth fit needs samples at >= 2 sizes, got {samples!r}")
    sizes = np.array(sorted(samples), dtype=float)
    if model == "power" and (sizes <= 0).any():
        raise InvalidMeasurement(f"a power-law fit needs sizes > 0, got {sizes.tolist()}")
    data = []
    for n in sorted(samples):
        x = np.asarray(samples[n], dtype=float).ravel()
        censored_ok = stat != "mean" and not np.isnan(x).any() and math.isfinite(_point_statistic(x, stat, q))
        if x.size < 2 or (x <= 0).any() or not (np.isfinite(x).all() or censored_ok):
            raise InvalidMeasurement(f"samples at size {n} must be >= 2 positive numbers, finite or (for a median or "
                                     f"quantile that stays finite) +inf: a fit on the log scale; got {x.tolist()}")
        data.append(x)

    def per_size(xs):
        return np.array([_point_statistic(x, stat, q) for x in xs])

    rate, constant = _fit_log(sizes, per_size(data), model)
    rng = np.random.default_rng(seed)
    boot = np.empty((n_bootstrap, len(data)))   # each size's statistic, resampled within the size
    for j, x in enumerate(data):
        resampled = x[rng.integers(0, x.size, (n_bootstrap, x.size))]
        boot[:, j] = resampled.mean(axis=1) if stat == "mean" else _quantile(resampled, q, axis=1)
    t = np.log(sizes) if model == "power" else sizes
    t = t - t.mean()
    kept = np.isfinite(boot).all(axis=1)        # resamples whose statistic is censored (+inf) are left out
    if not kept.any():
        raise InvalidMeasurement(f"every bootstrap resample has a censored (+inf) statistic at some size: too many "
                                 f"+inf samples for an interval ({n_bootstrap} resamples)")
    logs = np.log(boot[kept])
    rates = (logs - logs.mean(axis=1, keepdims=True)) @ t / float(t @ t)   # least-squares slopes, all at once
    lo = float(np.quantile(rates, alpha, method="inverted_cdf"))
    hi = float(np.quantile(rates, 1 - alpha, method="inverted_cdf"))
    return GrowthFit(model, rate, constant, lo, hi, float(alpha), tuple(float(s) for s in sizes),
                     tuple(float(v) for v in per_size(data)), 1.0 - float(kept.mean()))


@dataclass(frozen=True)
class GrowthVerdict:
    """A claimed growth rate tested against a GrowthFit's bootstrap interval."""

    status: str
    relation: str
    rate: float
    level: float
    fit: GrowthFit

    @property
    def refuted(self) -> bool:
        return self.status == "refuted"

    def __str__(self) -> str:
        return f"growth rate {self.relation} {self.rate:g}: {self.status} at level {self.level:g} (fit {self.fit})"


def verify_growth(samples: Mapping, *, relation: str, rate: float, model: str = "power", statistic="median",
                  level: float = 0.05, n_bootstrap: int = _DEFAULT_BOOTSTRAP, seed: int = 0) -> GrowthVerdict:
    """Test "the growth rate is <= / >= / == `rate`" at level `level` (bootstrap over seeds).

    "<=" is refuted when the fit's one-sided (1 - level) lower bound exceeds `rate`; ">="
    when its upper bound is below; "==" when the two-sided (1 - level) interval excludes it.
    """
    if relation not in _RELATIONS:
        raise InvalidClaim(f"relation must be one of {', '.join(map(repr, _RELATIONS))}, got {relation!r}")
    if not _is_real(rate) or not math.isfinite(rate):
        raise InvalidClaim(f"rate must be a finite real, got {rate!r}")
    if not _is_real(level) or not 0 < level < 1:
        raise InvalidClaim(f"level must be in (0, 1), got {level!r}")
    alpha = level / 2 if relation == "==" else level
    fit = fit_growth(samples, model=model, statistic=statistic, alpha=alpha, n_bootstrap=n_bootstrap, seed=seed)
    status = "refuted" if _refutes(relation, fit.lower, fit.upper, float(rate)) else "consistent"
    return GrowthVerdict(status, relation, float(rate), float(level), fit)
