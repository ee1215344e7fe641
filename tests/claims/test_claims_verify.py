"""The verifier: planted false claims are caught, true ones hold, failures are reported clearly."""

import math

import numpy as np
import pytest
import sympy as sp

from theory_kit import bounds
from theory_kit.bounds import symbols as sym
from theory_kit.claims import Claim, assert_holds, get, ratio_from_margin, verify
from theory_kit.claims.builtin import SOFTMAX_DOMAIN, softmax_pmax
from theory_kit.errors import BoundViolated, InvalidClaim, InvalidInput

# ---------------------------------------------------------------------------------------------
# Planted false claims


def halved_softmax_claim():
    """The softmax bound with (n-1) replaced by (n-1)/2: false wherever exp(-beta Delta) matters."""
    bound = 1 / (1 + (sym.n - 1) / 2 * sp.exp(-sym.beta * sym.Delta))
    return Claim("planted_halved", softmax_pmax, bound, SOFTMAX_DOMAIN, relation=">=", rtol=1e-10)


def corner_quantity(n, beta):
    """p_max with Delta = 1, dented only for n > 900 and beta within 5% of 21 (0.1% of the box)."""
    dent = 0.0
    if n > 900:
        dent = 0.02 * (n - 900) / 124 * max(0.0, 1 - abs(math.log(beta / 21.0)) / 0.05)
    return softmax_pmax(n=n, beta=beta, Delta=1.0, spread=0.0) - dent


def corner_claim():
    return Claim("planted_corner", corner_quantity, bounds.softmax_pmax_lower(sym.n, sym.beta, 1),
                 {"n": (2, 1024, "int"), "beta": (0.1, 50.0, "log")}, relation=">=", rtol=1e-10)


def comb_quantity(m, y):
    """Exceeds 1 only at integers m within ±1 of 18 + 37k and y > 0.99.

    The last term vanishes exactly at integers and is >= 0.25 at any m more than 1e-6 away from
    one, so the continuous relaxation in m never violates: only integer evaluation finds it.
    """
    frac = abs(m - round(m))
    return y * (1 + 0.01 * math.cos(math.pi * (m - 18) / 37) ** 256) - abs(math.sin(math.pi * frac)) ** 0.1


def comb_claim():
    return Claim("planted_comb", comb_quantity, sp.Integer(1), {"m": (1, 1000, "int"), "y": (0.0, 1.0, "real")})


def test_halved_softmax_bound_is_caught_immediately_and_deterministically():
    v1, v2 = verify(halved_softmax_claim()), verify(halved_softmax_claim())
    assert not v1.holds
    assert v1.first_violation_at is not None and v1.first_violation_at <= 10
    assert v1.log == v2.log and v1.summary() == v2.summary()
    cex = v1.counterexample
    q = softmax_pmax(**cex)
    b = 1 / (1 + (cex["n"] - 1) / 2 * math.exp(-cex["beta"] * cex["Delta"]))
    assert q < b * (1 - 1e-6)
    assert v1.worst_ratio == pytest.approx(b / q)


@pytest.mark.parametrize("seed", range(5))
def test_corner_violation_is_found_and_driven_to_its_worst_point(seed):
    v = verify(corner_claim(), seed=seed)
    assert not v.holds
    assert v.counterexample["n"] > 900 and abs(math.log(v.counterexample["beta"] / 21.0)) < 0.05
    # the local search pushes to the deepest point of the dent
    assert v.counterexample["n"] == 1024 and v.counterexample["beta"] == pytest.approx(21.0, rel=1e-4)
    assert v.worst_ratio > 1.02


def test_corner_claim_same_seed_same_verdict():
    assert verify(corner_claim(), seed=3).log == verify(corner_claim(), seed=3).log


@pytest.mark.parametrize("seed", range(5))
def test_integer_only_violation_is_found(seed):
    v = verify(comb_claim(), seed=seed)
    assert not v.holds
    m, y = v.counterexample["m"], v.counterexample["y"]
    assert isinstance(m, int) and (m - 18) % 37 in (0, 1, 36) and y > 0.99
    for ev in v.log:  # every int parameter was evaluated at an integer
        assert isinstance(ev.params["m"], int)


def test_comb_looks_fine_in_the_real_neighbourhood_of_its_counterexample():
    m = verify(comb_claim()).counterexample["m"]
    assert comb_quantity(m, 1.0) > 1
    for off in (1e-6, 1e-3, 0.1, 0.25, 0.5):
        for s in (-1, 1):
            assert comb_quantity(m + s * off, 1.0) <= 1


# ---------------------------------------------------------------------------------------------
# True claims


def test_true_softmax_claim_holds_and_reports_where_it_is_tight():
    v = verify(get("softmax_pmax"))
    assert v.holds and v.counterexample is None
    assert 0.999999 < v.worst_ratio <= 1.0
    assert v.worst_params["spread"] == 0.0  # tight only when every other logit is exactly Delta below
    assert v.n_evaluated == v.budget == 2000
    assert len(v.log) == v.n_evaluated and v.first_violation_at is None


def test_tightened_true_claim_is_caught():
    claim = get("softmax_pmax")
    tight = Claim("tightened", claim.quantity, claim.bound * (1 + sp.Rational(1, 10**6)), claim.domain,
                  relation=">=", rtol=claim.rtol)
    assert not verify(tight).holds


def test_worst_ratio_is_quantity_over_bound_for_positive_sides():
    c = Claim("sq", lambda x: x * x, sp.Symbol("x"), {"x": (0.1, 0.9, "real")})
    v = verify(c, budget=300)
    assert v.holds
    assert v.worst_ratio == pytest.approx(0.9, rel=1e-6)  # x^2 / x largest at x = 0.9
    assert v.worst_params["x"] == pytest.approx(0.9)


def test_ratio_from_margin_scale():
    assert ratio_from_margin(0.25) == 0.75
    assert ratio_from_margin(-0.5) == 2.0
    assert ratio_from_margin(-1.0) == math.inf and ratio_from_margin(-2.0) == math.inf


def test_sign_issues_negative_bound_and_total_violation():
    lin = get("softmax_pmax_linear")  # its bound is negative over much of the domain
    assert verify(lin, budget=400).holds
    bad = Claim("neg", lambda x: 1.0, -sp.Symbol("x"), {"x": (0.0, 1.0, "real")})
    v = verify(bad, budget=50)
    assert not v.holds and v.worst_ratio == math.inf and v.worst_margin == -2.0


def test_bounds_that_underflow_in_float64_are_evaluated_with_mpmath():
    beta = sp.Symbol("beta")
    # exp(-1000 beta) underflows to 0.0 in float64, which would make "0 < bound" false
    c = Claim("tiny", lambda beta: 0.0, sp.exp(-1000 * beta), {"beta": (1.0, 100.0, "log")}, relation="<")
    v = verify(c, budget=100)
    assert v.holds
    x = sp.Symbol("x")
    big2 = Claim("huge2", lambda x: 1e300, sp.exp(x), {"x": (710.0, 1000.0, "real")}, relation="<=")
    v2 = verify(big2, budget=100)
    assert v2.holds and math.isinf(v2.worst_bound)  # exp(x) overflows floats: compared in mpmath


def test_equality_relation():
    x = sp.Symbol("x")
    ok = Claim("eq", lambda x: (x + 1) ** 2, x**2 + 2 * x + 1, {"x": (-5.0, 5.0, "real")}, relation="==", rtol=1e-12)
    v = verify(ok, budget=300, strict=True)
    # near x = -1 the expanded form cancels: compared strictly in floats, rounding needs an atol
    assert not v.holds and abs(v.counterexample["x"] + 1) < 1e-3
    # by default the bound is re-evaluated at 50 digits, where it is exact: rounding, not a counterexample
    v = verify(ok, budget=300)
    assert v.holds and v.n_near_misses > 0
    ok = Claim("eq", lambda x: (x + 1) ** 2, x**2 + 2 * x + 1, {"x": (-5.0, 5.0, "real")}, relation="==", rtol=1e-12, atol=1e-13)
    assert verify(ok, budget=300).holds
    off = Claim("eq_off", lambda x: (x + 1) ** 2 + 1e-3, x**2 + 2 * x + 1, {"x": (-5.0, 5.0, "real")}, relation="==", rtol=1e-12)
    assert not verify(off, budget=300).holds


def test_strict_relation_fails_on_equality():
    x = sp.Symbol("x")
    assert not verify(Claim("strict", lambda x: x, x, {"x": (0.0, 1.0, "real")}, relation="<"), budget=20).holds
    assert verify(Claim("loose", lambda x: x, x, {"x": (0.0, 1.0, "real")}, relation="<="), budget=20).holds


def test_finite_integer_domains_are_enumerated_exhaustively():
    a, b = sp.symbols("a b")
    c = Claim("small", lambda a, b: a * b, a**2 + b**2, {"a": (-3, 3, "int"), "b": (1, 9, "int")})
    v = verify(c)
    assert v.holds and v.exhaustive and v.n_evaluated == 63
    assert v.worst_ratio == pytest.approx(0.5)  # ab <= (a^2+b^2)/2: tight at a = b


def test_budget_is_respected():
    for budget in (1, 7, 100):
        assert verify(get("softmax_pmax"), budget=budget).n_evaluated == budget


def test_progress_callback_sees_every_phase():
    seen = []
    verify(get("softmax_pmax"), budget=300, progress=lambda done, budget, phase: seen.append((done, budget, phase)))
    phases = [p for _, _, p in seen]
    assert phases[0] == "corners" and phases[-1] == "done"
    assert {"sobol", "local"} <= set(phases)
    assert all(b == 300 and 0 <= d <= 300 for d, b, _ in seen)
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)


def test_stop_on_violation():
    v = verify(halved_softmax_claim(), stop_on_violation=True)
    assert not v.holds and v.n_evaluated == v.first_violation_at


def test_assert_holds():
    assert assert_holds(get("softmax_pmax"), budget=100).holds
    with pytest.raises(BoundViolated, match="claim 'planted_halved' fails at n=") as e:
        assert_holds(halved_softmax_claim())
    assert e.value.verdict is not None and not e.value.verdict.holds


# ---------------------------------------------------------------------------------------------
# Failures of the quantity or bound


def test_quantity_that_raises_names_the_claim_and_the_parameters():
    def boom(n):
        return 1 / (n - 5)

    c = Claim("boom", boom, sp.Integer(1) / sym.n, {"n": (1, 10, "int")})
    with pytest.raises(InvalidClaim, match=r"claim 'boom': quantity raised ZeroDivisionError: division by zero at n=5"):
        verify(c)


def test_quantity_that_returns_nan_or_inf():
    c = Claim("nan", lambda n: float("nan") if n == 3 else 0.0, sp.Integer(1), {"n": (1, 4, "int")})
    with pytest.raises(InvalidClaim, match=r"claim 'nan': quantity returned nan at n=3; it must be finite"):
        verify(c)
    c = Claim("inf", lambda n: np.inf, sp.Integer(1), {"n": (1, 4, "int")})
    with pytest.raises(InvalidClaim, match=r"claim 'inf': quantity returned inf at n=1"):
        verify(c)


def test_quantity_that_returns_a_non_number():
    c = Claim("str", lambda n: "0.5", sp.Integer(1), {"n": (1, 4, "int")})
    with pytest.raises(InvalidClaim, match=r"claim 'str': quantity returned str '0.5' at n=1; expected a real number"):
        verify(c)


def test_bound_that_is_not_real_on_the_domain():
    x = sp.Symbol("x")
    c = Claim("sqrt", lambda x: 0.0, sp.sqrt(x - 2), {"x": (1.0, 3.0, "real")})
    with pytest.raises(InvalidClaim, match=r"claim 'sqrt': bound sqrt\(x - 2\) is not real at x=1.0"):
        verify(c)


def test_bad_arguments():
    with pytest.raises(InvalidInput, match="budget must be an int >= 1, got 0"):
        verify(get("softmax_pmax"), budget=0)
    with pytest.raises(InvalidInput, match="seed must be an int >= 0, got -1"):
        verify(get("softmax_pmax"), seed=-1)
    with pytest.raises(InvalidInput, match="verify expects a Claim, got str"):
        verify("softmax_pmax")
