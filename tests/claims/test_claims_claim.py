"""Claim validation: every malformed specification is reported, all at once, quoting the values."""

import dataclasses

import pytest
import sympy as sp

from theory_kit.claims import Claim, parse_domain
from theory_kit.errors import InvalidClaim, TheoryKitError

n, x = sp.symbols("n x")


def q(n):
    return 1.0


def test_valid_claim_normalises_domain_and_is_frozen():
    c = Claim("ok", q, 1 / n, {"n": (2.0, 10, "int")})
    assert c.domain["n"] == (2, 10, "int") and isinstance(c.domain["n"][0], int)
    assert [s.name for s in c.params] == ["n"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.relation = ">="
    with pytest.raises(TypeError):
        c.domain["n"] = (1, 2, "int")


def test_unknown_symbol_is_named_with_the_domain():
    with pytest.raises(InvalidClaim) as e:
        Claim("c", q, n + x, {"n": (1, 2, "int")})
    assert "bound uses symbol(s) 'x' not in the domain (domain has 'n')" in str(e.value)
    assert isinstance(e.value, TheoryKitError) and isinstance(e.value, ValueError)


def test_empty_domain():
    with pytest.raises(InvalidClaim, match="domain is empty: a claim needs at least one parameter"):
        Claim("c", lambda: 1.0, sp.Integer(1), {})


def test_inverted_range():
    with pytest.raises(InvalidClaim, match=r"domain\['n'\]: inverted range, lo=5 > hi=1"):
        Claim("c", q, 1 / n, {"n": (5, 1, "real")})


def test_log_scale_needs_positive_lo():
    with pytest.raises(InvalidClaim, match=r"domain\['n'\]: a log parameter is searched on a log scale and needs lo > 0, got lo=0"):
        Claim("c", q, 1 / n, {"n": (0, 1, "log")})


def test_int_needs_integer_ends():
    with pytest.raises(InvalidClaim, match=r"domain\['n'\]: an int parameter needs integer ends, got lo=0.5, hi=2.5"):
        Claim("c", q, 1 / n, {"n": (0.5, 2.5, "int")})


def test_bound_must_be_a_sympy_expression():
    # issue 22 item 5: a string bound is now parsed safely (it used to be refused, see
    # tests/claims/test_claims_parsing.py); anything else that is not a sympy expression is refused
    assert Claim("c", q, "1/n", {"n": (1, 2, "real")}).bound == 1 / n
    with pytest.raises(InvalidClaim, match=r"got str 'n/': does not parse"):
        Claim("c", q, "n/", {"n": (1, 2, "real")})
    with pytest.raises(InvalidClaim, match="bound must be a sympy expression, got float 0.5"):
        Claim("c", q, 0.5, {"n": (1, 2, "real")})
    with pytest.raises(InvalidClaim, match="bound must be a sympy expression, got StrictLessThan"):
        Claim("c", q, n < 2, {"n": (1, 2, "real")})


def test_undefined_function_in_bound():
    f = sp.Function("f")
    with pytest.raises(InvalidClaim, match="bound calls undefined function"):
        Claim("c", q, f(n), {"n": (1, 2, "real")})


def test_bad_relation_and_kind_and_name():
    with pytest.raises(InvalidClaim) as e:
        Claim("2bad", q, 1 / n, {"n": (1, 2, "float")}, relation="=<")
    msg = str(e.value)
    assert "name must be letters, digits and underscores starting with a letter, got '2bad'" in msg
    assert "kind must be one of 'int', 'real', 'log', 'logint', got 'float'" in msg
    assert "relation must be one of '<=', '<', '>=', '>', '==', got '=<'" in msg


def test_every_problem_is_reported_at_once():
    def quantity(a):
        return 0.0

    with pytest.raises(InvalidClaim) as e:
        Claim("many", quantity, "oops", {"n": (3, 1, "int"), "b": (0, 1, "log")}, relation="?")
    problems = e.value.problems
    assert len(problems) == 6, problems
    joined = "\n".join(problems)
    for fragment in ("inverted range, lo=3 > hi=1", "needs lo > 0, got lo=0", "got str 'oops'",
                     "relation must be one of", "does not accept parameter(s) 'n', 'b'",
                     "requires argument(s) 'a' that are not in the domain"):
        assert fragment in joined
    assert str(e.value).startswith("invalid claim 'many':\n  - ")


def test_quantity_must_accept_the_parameters():
    def needs_more(n, extra):
        return 0.0

    with pytest.raises(InvalidClaim, match="requires argument\\(s\\) 'extra' that are not in the domain"):
        Claim("c", needs_more, 1 / n, {"n": (1, 2, "real")})
    with pytest.raises(InvalidClaim, match="quantity must be a callable"):
        Claim("c", 3.0, 1 / n, {"n": (1, 2, "real")})
    Claim("c", lambda **kw: 0.0, 1 / n, {"n": (1, 2, "real")})  # **kwargs accepts anything


def test_strict_relation_refuses_tolerance():
    with pytest.raises(InvalidClaim, match="a strict relation '<' cannot be checked up to a tolerance"):
        Claim("c", q, 1 / n, {"n": (1, 2, "real")}, relation="<", rtol=1e-9)
    with pytest.raises(InvalidClaim, match="rtol must be a finite real >= 0, got -1"):
        Claim("c", q, 1 / n, {"n": (1, 2, "real")}, rtol=-1)


def test_symbols_with_the_same_name_but_different_assumptions():
    n_pos = sp.Symbol("n", positive=True)
    with pytest.raises(InvalidClaim, match="2 different symbols named 'n'"):
        Claim("c", q, n + n_pos, {"n": (1, 2, "real")})


def test_degenerate_range_is_a_fixed_parameter():
    c = Claim("c", q, 1 / n, {"n": (3, 3, "int")})
    assert c.params[0].n_values == 1


def test_parse_domain():
    assert parse_domain("n=2..1024:int, beta=0.1..50:log,x=-1..1") == {
        "n": (2, 1024, "int"), "beta": (0.1, 50.0, "log"), "x": (-1.0, 1.0, "real")}
    assert parse_domain("i=2..1000000:logint")["i"] == (2, 1000000, "logint")


def test_parse_domain_reports_every_bad_item():
    with pytest.raises(InvalidClaim) as e:
        parse_domain("n=2..x:int,beta,n=1..2:int,n=3..4")
    msg = str(e.value)
    assert "'n=2..x:int': 'x' is not a number" in msg
    assert "'beta' is not NAME=LO..HI[:KIND]" in msg
    assert "parameter 'n' is given twice" in msg
    with pytest.raises(InvalidClaim, match="domain string is empty"):
        parse_domain("  ")


def test_claim_takes_the_command_lines_domain_text():
    # issue 22 item 5: the Python API accepts what `theory-kit verify --domain` accepts
    c = Claim("c", "(n-1)*exp(-beta)", "n*exp(-beta)", "n=2..1024:int, beta=0.1..50:log")
    assert dict(c.domain) == {"n": (2, 1024, "int"), "beta": (0.1, 50.0, "log")}
    assert [s.kind for s in c.params] == ["int", "log"]
    assert c.bound == sp.Symbol("n") * sp.exp(-sp.Symbol("beta"))
    with pytest.raises(InvalidClaim) as e:
        Claim("c", q, "1/n", "n=2..x:int")
    assert "'n=2..x:int': 'x' is not a number" in str(e.value)
