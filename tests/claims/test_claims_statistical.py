"""Statistical claims: verdicts at level alpha against confidence intervals over seeds."""

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy.stats import binom

from theory_kit.claims.statistical import (
    StatisticalClaim,
    confidence_bounds,
    fit_growth,
    verify_growth,
    verify_statistical,
)
from theory_kit.errors import InvalidClaim, InvalidMeasurement, TheoryKitError


def normal_sample(seed, n):
    """A measurement with mean and median n and unit spread."""
    return n + float(np.random.default_rng([seed, n]).normal())


def claim(bound, relation="<=", statistic="median", seeds=30, **kw):
    return StatisticalClaim("toy", normal_sample, bound, {"n": [2, 4, 8]}, relation=relation,
                            statistic=statistic, seeds=seeds, **kw)


@pytest.mark.parametrize("statistic", ["median", "mean"])
def test_a_true_claim_is_consistent_and_a_false_one_refuted(statistic):
    ok = verify_statistical(claim("n + 1", statistic=statistic))
    assert ok.consistent and not ok.refuted
    assert "consistent at level 0.05" in str(ok) and "proved" not in str(ok)
    bad = verify_statistical(claim("n - 1", statistic=statistic))
    assert bad.refuted and "refuted at level 0.05" in str(bad)
    assert bad.worst.refutes and bad.worst.lower > bad.worst.bound
    assert {dict(r.point)["n"] for r in bad.results} == {2, 4, 8}
    low = verify_statistical(claim("n + 1", relation=">=", statistic=statistic))
    assert low.refuted and low.worst.upper < low.worst.bound


def test_equality_claims_use_both_sides():
    assert verify_statistical(claim("n", relation="==", statistic="mean")).consistent
    assert verify_statistical(claim("n + 2", relation="==", statistic="mean")).refuted
    assert verify_statistical(claim("n - 2", relation="==", statistic="mean")).refuted


def test_order_intervals_never_refute_a_true_median_claim_more_often_than_alpha():
    # exponential samples with scale 1 have median ln 2: the claim "median <= ln 2" is true and
    # attained, the worst case for the test; the exact interval refutes it with chance <= alpha
    rng = np.random.default_rng(0)
    trials, alpha = 2000, 0.1
    refuted = 0
    for _ in range(trials):
        _, lo, _ = confidence_bounds(rng.exponential(size=15), statistic="median", alpha=alpha)
        refuted += lo > math.log(2)
    # a binomial(trials, alpha) count exceeds this with chance < 1e-3
    assert refuted <= binom.ppf(1 - 1e-3, trials, alpha)
    assert refuted >= binom.ppf(1e-3, trials, 0.01)  # and the test is not vacuous (it does refute sometimes)


def test_t_interval_covers_the_mean_at_its_level():
    rng = np.random.default_rng(1)
    trials, alpha = 2000, 0.05
    misses = sum(confidence_bounds(rng.normal(3.0, 2.0, size=10), statistic="mean", alpha=alpha)[1] > 3.0
                 for _ in range(trials))
    assert binom.ppf(1e-3, trials, alpha) <= misses <= binom.ppf(1 - 1e-3, trials, alpha)


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate():
    x = np.random.default_rng(2).normal(size=40)
    a = confidence_bounds(x, statistic="mean", interval="bootstrap", seed=7)
    assert a == confidence_bounds(x, statistic="mean", interval="bootstrap", seed=7)
    assert a[1] < a[0] < a[2]
    assert confidence_bounds(x, statistic=("quantile", 0.9), interval="bootstrap")[0] == pytest.approx(np.quantile(x, 0.9), abs=0.2)


def test_bonferroni_widens_the_intervals_with_more_points():
    one = StatisticalClaim("one", normal_sample, "n", {"n": [4]}, seeds=30)
    three = StatisticalClaim("three", normal_sample, "n", {"n": [4, 5, 6]}, seeds=30)
    lo1 = verify_statistical(one).results[0].lower
    lo3 = verify_statistical(three).results[0].lower
    assert lo3 <= lo1


def test_too_few_seeds_is_reported_as_no_test():
    v = verify_statistical(claim("n - 100", seeds=3))   # false, but 3 seeds cannot show it at 0.05/3
    assert v.consistent and len(v.powerless) == 3
    assert "Not a test" in str(v) and "add seeds" in str(v)
    assert verify_statistical(claim("n - 100", seeds=12)).refuted


def test_infinite_samples_are_censored_values_for_medians_only():
    x = [3.0, 5.0, math.inf, 4.0, math.inf, 6.0, 2.0, 3.0, 4.0, 5.0, 4.0, 3.0]
    est, lo, hi = confidence_bounds(x, statistic="median")
    assert math.isfinite(est) and lo <= est <= hi
    with pytest.raises(InvalidMeasurement, match=r"\+inf samples"):
        confidence_bounds(x, statistic="mean")
    with pytest.raises(InvalidMeasurement, match="NaN|numbers"):
        confidence_bounds([1.0, float("nan")], statistic="median")
    with pytest.raises(InvalidMeasurement, match=">= 2 samples"):
        confidence_bounds([1.0])


def test_a_nan_measurement_names_the_point_and_seed():
    def sample(seed, n):
        return float("nan") if (seed, n) == (3, 4) else 1.0

    with pytest.raises(InvalidMeasurement, match=r"seed=3, \*\*\{'n': 4\}.*NaN"):
        verify_statistical(StatisticalClaim("nan", sample, "2", {"n": [2, 4]}, seeds=5))
    with pytest.raises(InvalidMeasurement, match="not a real number"):
        verify_statistical(StatisticalClaim("str", lambda seed, n: "1", "2", {"n": [2]}, seeds=5))


def test_every_problem_of_a_specification_is_reported_at_once():
    with pytest.raises(InvalidClaim) as err:
        StatisticalClaim("bad name", 3, "m + 1", {"n": []}, relation="<", statistic="mode", seeds=1, level=1.5,
                         interval="exact", n_bootstrap=5)
    text = str(err.value)
    for part in ("name must be", "sample must be", "points['n']", "relation must be", "statistic must be",
                 "seeds must be", "level (alpha)", "interval must be", "n_bootstrap"):
        assert part in text, part
    assert isinstance(err.value, TheoryKitError)
    with pytest.raises(InvalidClaim, match="not a domain parameter"):
        StatisticalClaim("unknown", normal_sample, "m + 1", {"n": [1]})
    with pytest.raises(InvalidClaim, match="'order' interval bounds a median"):
        StatisticalClaim("mix", normal_sample, "n", {"n": [1]}, statistic="mean", interval="order")


def test_given_samples_skip_sampling_and_must_be_on_the_grid():
    calls = []

    def sample(seed, n):
        calls.append((seed, n))
        return float(n)

    c = StatisticalClaim("given", sample, "n", {"n": [1, 2]}, seeds=10)
    v = verify_statistical(c, samples={(1,): [1.0] * 10, (2,): [2.0] * 10})
    assert calls == [] and v.consistent
    verify_statistical(c, samples={1: [1.0] * 10})  # a bare value for a one-parameter grid
    assert {n for _, n in calls} == {2}
    with pytest.raises(InvalidMeasurement, match="not a point"):
        verify_statistical(c, samples={(7,): [1.0, 2.0]})


def test_an_executor_gives_the_serial_verdict():
    c = claim("n + 0.3")
    with ThreadPoolExecutor(2) as pool:
        parallel = verify_statistical(c, executor=pool)
    serial = verify_statistical(c)
    assert [r.samples for r in parallel.results] == [r.samples for r in serial.results]
    assert parallel.status == serial.status


def test_points_as_a_list_of_mappings():
    c = StatisticalClaim("pts", lambda seed, n, k: n * k, "n*k", [{"n": 1, "k": 2}, {"n": 3, "k": 1}], seeds=4,
                         statistic="mean")
    v = verify_statistical(c)
    assert [dict(r.point) for r in v.results] == [{"n": 1, "k": 2}, {"n": 3, "k": 1}]
    assert v.consistent  # zero spread: the t interval is the point itself


def power_samples(rate, noise=0.1, seeds=12):
    rng = np.random.default_rng(3)
    return {n: 5.0 * n**rate * np.exp(noise * rng.normal(size=seeds)) for n in (2, 4, 8, 16)}


def test_growth_fit_recovers_a_power_law_and_an_exponential():
    fit = fit_growth(power_samples(2.0))
    assert fit.lower <= 2.0 <= fit.upper and fit.rate == pytest.approx(2.0, abs=0.1)
    assert fit.constant == pytest.approx(5.0, rel=0.3)
    rng = np.random.default_rng(4)
    exp_samples = {n: 3.0 * np.exp(0.7 * n + 0.05 * rng.normal(size=10)) for n in (1, 2, 3, 5)}
    efit = fit_growth(exp_samples, model="exponential", statistic="mean")
    assert efit.lower <= 0.7 <= efit.upper
    assert fit == fit_growth(power_samples(2.0))  # seeded bootstrap: reproducible


def test_growth_claims():
    s = power_samples(2.0)
    assert verify_growth(s, relation="<=", rate=2.5).status == "consistent"
    refuted = verify_growth(s, relation="<=", rate=1.0)
    assert refuted.refuted and "refuted at level 0.05" in str(refuted)
    assert verify_growth(s, relation=">=", rate=3.0).refuted
    assert verify_growth(s, relation="==", rate=2.0).status == "consistent"


def test_growth_fit_refuses_what_it_cannot_fit():
    with pytest.raises(InvalidMeasurement, match=">= 2 sizes"):
        fit_growth({2: [1.0, 2.0]})
    with pytest.raises(InvalidMeasurement, match="positive numbers"):
        fit_growth({2: [1.0, 2.0], 4: [0.0, 1.0]})
    with pytest.raises(InvalidMeasurement, match="positive numbers"):
        fit_growth({2: [1.0, 2.0], 4: [math.inf, math.inf]})   # the median itself is censored
    with pytest.raises(InvalidMeasurement, match="positive numbers"):
        fit_growth({2: [1.0, 2.0], 4: [math.inf, 1.0]}, statistic="mean")
    with pytest.raises(InvalidClaim, match="model must be"):
        fit_growth(power_samples(1.0), model="cubic")
    with pytest.raises(InvalidClaim, match="rate must be"):
        verify_growth(power_samples(1.0), relation="<=", rate=float("nan"))


def test_growth_fit_takes_censored_seeds_when_the_median_stays_finite():
    s = power_samples(2.0)
    s[16] = np.concatenate([s[16][:9], [math.inf] * 3])   # 3 of 12 seeds beyond the searched sizes
    fit = fit_growth(s)
    assert math.isfinite(fit.rate) and 0 < fit.dropped < 0.5
    assert fit.lower <= fit.rate <= fit.upper
