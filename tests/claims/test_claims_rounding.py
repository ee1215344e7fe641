"""Rounding-aware verdicts: float noise is a near miss, not a counterexample; real violations are caught."""

import math

import numpy as np
import pytest

from theory_kit.claims import Claim, verify
from theory_kit.claims.builtin import softmax_pmax
from theory_kit.claims.quantities import gap_logits, softmax
from theory_kit.claims.verify import NEAR_MISS_ULPS
from theory_kit import bounds
from theory_kit.bounds import symbols as sym

TIGHT_DOMAIN = {"n": (2, 1024, "int"), "beta": (0.1, 50.0, "log")}


def offmax_mass(n, beta):
    """t/(1+t), t = (n-1) exp(-beta), measured as a softmax's off-maximum mass (sums round)."""
    return float(np.sum(softmax(gap_logits(1, n - 1, 1.0, 0.0), beta)[1:]))


def tight_claim():
    return Claim("tight_t_over_1_plus_t", offmax_mass, "(n-1)*exp(-beta)", TIGHT_DOMAIN)


def tight_expression_claim():
    return Claim("tight_expr", "(n-1)*exp(-beta)/(1+(n-1)*exp(-beta))", "(n-1)*exp(-beta)", TIGHT_DOMAIN)


def subnormal_quantity(x):
    """exp(-x) * 1e-300: underflows into the subnormals for x > ~18, rounding by up to 2x."""
    return math.exp(-x) * 1e-300


def subnormal_claim():
    return Claim("subnormal", subnormal_quantity, "exp(-x)*10**(-300)", {"x": (1.0, 200.0, "real")})


def dented_quantity(n, beta):
    """p_max with Delta = 1, spread 0 (equal to its bound up to rounding everywhere), lowered by a
    relative 1e-9 only for n > 900 and beta within 5% of 21 (about 0.1% of the box)."""
    dent = 1e-9 * (n - 900) / 124 * max(0.0, 1 - abs(math.log(beta / 21.0)) / 0.05) if n > 900 else 0.0
    return softmax_pmax(n=n, beta=beta, Delta=1.0, spread=0.0) * (1 - dent)


def dented_claim():
    return Claim("dented", dented_quantity, bounds.softmax_pmax_lower(sym.n, sym.beta, 1), TIGHT_DOMAIN, relation=">=")


@pytest.mark.parametrize("seed", range(10))
def test_tight_bound_holds_by_default_and_fails_strictly(seed):
    v = verify(tight_claim(), seed=seed)
    assert v.holds and v.status == "holds" and v.counterexample is None
    assert v.worst_ratio <= 1.0
    assert all(0 < nm.ulps <= NEAR_MISS_ULPS and nm.reason == "ulps" for nm in v.near_misses if nm.reason == "ulps")
    if seed == 0:
        assert v.n_near_misses > 0  # the float comparison did fail, and is reported
        strict = verify(tight_claim(), seed=seed, strict=True)
        assert not strict.holds and 1 < strict.worst_ratio < 1 + 1e-14


@pytest.mark.parametrize("seed", range(10))
def test_tight_bound_with_expression_quantity_holds(seed):
    v = verify(tight_expression_claim(), seed=seed, budget=500)
    assert v.holds and v.worst_ratio <= 1.0


@pytest.mark.parametrize("seed", range(10))
def test_subnormal_underflow_holds_by_default(seed):
    v = verify(subnormal_claim(), seed=seed, budget=500)
    assert v.holds
    assert any(nm.reason == "underflow" for nm in v.near_misses)
    if seed == 0:
        strict = verify(subnormal_claim(), seed=seed, budget=500, strict=True)
        assert not strict.holds and strict.worst_ratio > 1.5


@pytest.mark.parametrize("seed", range(10))
def test_relative_1e9_violation_in_a_corner_is_still_caught(seed):
    v = verify(dented_claim(), seed=seed)
    assert not v.holds and v.status == "violated"
    cex = v.counterexample
    assert cex["n"] > 900 and abs(math.log(cex["beta"] / 21.0)) < 0.05
    assert 1 + 1e-11 < v.worst_ratio < 1 + 2e-9


def test_a_violation_beyond_a_few_ulps_is_a_counterexample():
    c = Claim("ulps16", lambda x: x * (1 + 16 * 2.0**-52), "x", {"x": (1.0, 1.5, "real")})
    assert not verify(c, budget=50).holds
    c = Claim("ulps2", lambda x: x * (1 + 2 * 2.0**-52), "x", {"x": (1.0, 1.5, "real")})
    v = verify(c, budget=50)
    assert v.holds and v.near_misses and v.near_misses[0].ulps <= 4


def test_strict_relation_still_fails_on_equality():
    assert not verify(Claim("lt", lambda x: x, "x", {"x": (0.0, 1.0, "real")}, relation="<"), budget=20).holds
    assert not verify(Claim("lt_e", "x", "x", {"x": (0.0, 1.0, "real")}, relation="<"), budget=20).holds


def test_expression_quantity_is_checked_and_exact():
    c = Claim("e", "x**2", "x", {"x": (0.1, 0.9, "real")})
    assert c.quantity_expr is not None and c.quantity(x=0.5) == 0.25
    with pytest.raises(Exception, match="quantity"):
        Claim("bad", "y**2", "x", {"x": (0.1, 0.9, "real")})


def test_summary_and_docstring_document_the_rule():
    v = verify(tight_claim(), budget=300)
    s = v.summary()
    assert s["status"] == "holds" and s["strict"] is False and s["n_near_misses"] == v.n_near_misses
    from theory_kit.claims import Verdict
    assert "near_misses" in Verdict.__doc__ and "smallest normal" in Verdict.__doc__
