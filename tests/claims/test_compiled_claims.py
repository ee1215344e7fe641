"""The compiled-model claims (theory_kit.claims.compiled) hold and catch wrong formulas."""

import math


from theory_kit.bounds import sizes
from theory_kit.claims import Claim, get, verify
from theory_kit.claims import compiled


def test_both_claims_registered_and_hold():
    for name in ("compiled_min_beta", "size_formulas"):
        claim = get(name)
        verdict = verify(claim, budget=100, seed=0)
        assert verdict.holds, (name, verdict.counterexample)


def test_min_exact_beta_positive_and_below_compiler_beta():
    lo, hi = compiled.MIN_BETA_N_RANGE
    for n in range(lo, hi + 1):
        b = compiled.min_exact_beta(n)
        assert 0 < b <= compiled.compiler_beta(n)
        assert math.isfinite(b)


def test_min_beta_bound_is_the_compilers_beta():
    claim = get("compiled_min_beta")
    (sym,) = claim.bound.free_symbols
    lo, hi = compiled.MIN_BETA_N_RANGE
    for n in range(lo, hi + 1):
        assert math.isclose(float(claim.bound.subs(sym, n)), compiled.compiler_beta(n), rel_tol=1e-12)


def test_min_exact_beta_is_a_tight_bracket():
    # Exact at the returned beta, not exact slightly below it (BETA_RTOL bracket).
    n = 3
    b = compiled.min_exact_beta(n)
    assert compiled._is_exact(n, b)
    assert not compiled._is_exact(n, b * (1 - 2 * compiled.BETA_RTOL) - 1e-9)


def test_off_by_one_size_formula_is_caught():
    good = get("size_formulas")
    wrong = Claim(name="size_formulas_wrong", quantity=good.quantity, bound=good.bound + 1,
                  domain=dict(good.domain), relation="==")
    verdict = verify(wrong, budget=100, seed=0)
    assert not verdict.holds


def test_off_by_one_single_program_formula_is_caught():
    hist = sizes.size_formulas("make_hist")["residual_width"]
    wrong = Claim(name="hist_width_wrong",
                  quantity=lambda V, N: compiled._residual_width("make_hist", V, N),
                  bound=hist - 1, domain={"V": (2, 4, "int"), "N": (2, 4, "int")}, relation="==")
    assert not verify(wrong, budget=50, seed=0).holds
    right = Claim(name="hist_width_right",
                  quantity=lambda V, N: compiled._residual_width("make_hist", V, N),
                  bound=hist, domain={"V": (2, 4, "int"), "N": (2, 4, "int")}, relation="==")
    assert verify(right, budget=50, seed=0).holds


def test_min_exact_beta_does_not_depend_on_the_compilers_beta(monkeypatch):
    # the old bisection started from the compiler's beta, so the claim held by construction
    compiled.min_exact_beta.cache_clear()

    def forbidden(N):
        raise AssertionError("min_exact_beta must not use the compiler's beta")

    monkeypatch.setattr(compiled, "compiler_beta", forbidden)
    try:
        b = compiled.min_exact_beta(3)
    finally:
        compiled.min_exact_beta.cache_clear()
    assert 0 < b < math.inf


def test_a_compiler_beta_formula_that_is_too_small_is_caught():
    good = get("compiled_min_beta")
    (sym,) = good.bound.free_symbols
    b3 = compiled.min_exact_beta(3)
    # a formula below the measured minimum at N = 3 (as a wrong constant in the compiler would be)
    wrong = Claim("min_beta_too_small", good.quantity, good.bound * (0.9 * b3 / float(good.bound.subs(sym, 3))),
                  dict(good.domain), relation="<=")
    assert not verify(wrong, budget=100, seed=0).holds
