"""Malformed bounds, quantities and bound text in claims give a TheoryKitError naming the problem.

Issue 23 items 8 and 9: a bound containing zoo raised KeyError('ComplexInfinity') from lambdify,
a Piecewise without an otherwise branch TypeError('cannot create mpf from None'), an unevaluated
Integral sympy's PrintMethodNotImplementedError, a quantity returning 10**400 OverflowError, and
bound text was evaluated as Python. Rows follow tests/fuzz/test_bad_input.py (its Case).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.test_bad_input import Case, check_case
from theory_kit import errors
from theory_kit.claims.cli import UsageError, parse_bound
from theory_kit.errors import TheoryKitError

C = errors.InvalidClaim
n, y = sp.Symbol("n"), sp.Symbol("y")


def _verify(bound=n, quantity=lambda n: n, domain=None, **kw):
    from theory_kit.claims import Claim, verify

    claim = Claim("bad", quantity, bound, domain or {"n": (1, 10, "int")}, **kw)
    return verify(claim, budget=30)


def _parse(text, names=("n",)):
    from theory_kit.claims import parse_expression

    return parse_expression(text, names)


CASES = [
    # -- bounds that cannot be evaluated ---------------------------------------------------------
    Case("bound_zoo", lambda c: _verify(bound=sp.zoo), C, "contains zoo (complex infinity"),
    Case("bound_times_zoo", lambda c: _verify(bound=n * sp.zoo), C, "contains zoo"),
    Case("bound_plus_zoo_inside_function", lambda c: _verify(bound=sp.exp(n * sp.zoo) + 1), C,
         "contains zoo"),
    Case("bound_nan", lambda c: _verify(bound=n + sp.nan), C, "contains nan"),
    Case("bound_piecewise_without_otherwise", lambda c: _verify(bound=sp.Piecewise((n, n > 5))), C,
         "is undefined at n=1: none of its piecewise conditions holds there"),
    Case("bound_piecewise_without_otherwise_real", lambda c: _verify(
        bound=sp.Piecewise((1 / n, n > 0.5)), domain={"n": (0, 1, "real")}), C,
         "is undefined at n=0.0"),
    Case("bound_integral", lambda c: _verify(bound=sp.Integral(sp.exp(-y ** 2), (y, 0, n))), C,
         "contains an unevaluated Integral"),
    Case("bound_integral_of_the_parameter", lambda c: _verify(bound=sp.Integral(n, n)), C,
         "unevaluated Integral"),
    Case("bound_derivative", lambda c: _verify(bound=sp.Derivative(sp.exp(n * y), y).subs(y, 1) + n), C,
         "unevaluated"),
    Case("bound_limit", lambda c: _verify(bound=sp.Limit(sp.sin(n * y) / y, y, 0)), C,
         "unevaluated Limit"),
    # -- bound text (never evaluated) ------------------------------------------------------------
    Case("claim_text_import", lambda c: _verify(bound="__import__('os').getcwd()"), C,
         "not of attribute access"),
    Case("claim_text_dunder_class", lambda c: _verify(bound="().__class__.__bases__[0]"), C,
         "subscript is not allowed"),
    Case("claim_text_lambda", lambda c: _verify(bound="(lambda: 1)()"), C,
         "not of lambda"),
    Case("claim_text_huge_power", lambda c: _verify(bound="10**10**10"), C,
         "would make sympy compute a number of about 3.32e+10 bits"),
    Case("claim_text_unknown_name", lambda c: _verify(bound="m"), C,
         "got str 'm': name 'm' is not a domain parameter"),
    Case("claim_text_comparison", lambda c: _verify(bound="n < 3"), C,
         "is a comparison, not an expression"),
    Case("cli_bound_import", lambda c: parse_bound("__import__('os').getcwd()", ["n"]), UsageError,
         "--bound \"__import__('os').getcwd()\": only calls of plain function names"),
    Case("cli_bound_getattr_chain", lambda c: parse_bound("exp(n).func.__globals__", ["n"]), UsageError,
         "attribute access is not allowed"),
    Case("cli_bound_too_long", lambda c: parse_bound("n+" * 6000 + "n", ["n"]), UsageError,
         "is too long: 12001 characters, at most 10000"),
    Case("parse_deep", lambda c: _parse("sqrt(" * 200 + "n" + ")" * 200), C, "nesting deeper than 100"),
    Case("parse_float_beyond_range", lambda c: _parse("1e999999999"), C, "out of range"),
]


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_claim_input_raises_a_useful_theory_kit_error(case, tmp_path):
    check_case(case, None)


# -- valid edge cases: no error, the right answer ---------------------------------------------------


def test_quantity_beyond_float_range_is_compared_exactly_in_mpmath():
    # 10**400 used to raise OverflowError (int too large to convert to float)
    violated = _verify(quantity=lambda n: 10 ** 400, bound=n)
    assert not violated.holds and violated.worst_quantity == float("inf") and violated.worst_ratio == float("inf")
    held = _verify(quantity=lambda n: 10 ** 400, bound=10 ** (400 + n), relation="<")
    assert held.holds and held.n_evaluated == 10
    # exact comparison far outside floats, both sides: 2**(1000 n) vs 2**(1000 n) / 3
    assert _verify(quantity=lambda n: 2 ** (1000 * n), bound=2 ** (1000 * n), relation="==").holds
    below = _verify(quantity=lambda n: Fraction(2 ** (1000 * n), 3), bound=2 ** (1000 * n) / 2)
    assert below.holds
    above = _verify(quantity=lambda n: 2 ** (1000 * n), bound=2 ** (1000 * n) / 2)
    assert not above.holds and above.n_violations == 10
    # still refused: infinities and non-numbers
    for quantity, match in ((lambda n: float("inf"), "quantity returned inf at n=1; it must be finite"),
                            (lambda n: "1e400", "quantity returned str '1e400'")):
        with pytest.raises(errors.InvalidClaim, match=match):
            _verify(quantity=quantity)


def test_piecewise_without_otherwise_is_an_error_only_where_no_branch_applies():
    assert _verify(bound=sp.Piecewise((n, n > 5), (n + 1, n <= 5)), relation="<=").holds
    with pytest.raises(errors.InvalidClaim, match=r"is undefined at n=10: none of its Piecewise conditions"):
        _verify(bound=sp.Piecewise((n, n < 10)))


def test_bound_numpy_cannot_print_is_evaluated_with_mpmath():
    # LambertW has no numpy translation (NameError inside lambdify's numpy code)
    verdict = _verify(quantity=lambda n: float(sp.LambertW(n)), bound=sp.LambertW(n), relation="==", rtol=1e-12)
    assert verdict.holds


def test_injected_text_is_not_run(tmp_path):
    marker = tmp_path / "pwned_fuzz"
    text = f"__import__('os').system('touch {marker}')"
    for call in (lambda: _verify(bound=text), lambda: parse_bound(text, ["n"]), lambda: _parse(text)):
        with pytest.raises(TheoryKitError):
            call()
        assert not marker.exists()


_ALPHABET = "n()+-*/%.,e0123456789 _^<=>[]'\":;@~!&|{}ablogexpsqrtfloorMaxminpi"


@given(st.text(alphabet=_ALPHABET, max_size=40))
def test_random_text_either_parses_to_an_expression_or_raises_invalid_claim(text):
    try:
        expr = _parse(text, ["n", "b"])
    except errors.InvalidClaim:
        return
    assert isinstance(expr, sp.Expr)
    assert expr.free_symbols <= {sp.Symbol("n"), sp.Symbol("b")}
