"""Bound text is parsed safely: never evaluated as Python, domain names are plain symbols.

Issue 23 item 8 (`theory-kit verify --bound "__import__('os').system(...)"` ran the command:
sympy's parse_expr/sympify call eval) and issue 22 item 5 (Claim(bound="(n-1)*exp(-beta)")).
The parser and its whitelist live in theory_kit.claims.parsing.
"""

from __future__ import annotations

import builtins
import time

import pytest
import sympy as sp

from theory_kit.claims import Claim, verify
from theory_kit.claims.cli import UsageError, main, parse_bound
from theory_kit.errors import InvalidClaim, InvalidInput

USER_MODULE = '''
def square(x):
    return x * x
'''

#: Hang guard only (these return in milliseconds; without the limits they never return).
FAST = 10.0


def parse(text, names=("n",), **kw):
    from theory_kit.claims import parse_expression

    return parse_expression(text, names, **kw)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "tk_parsing_quantities.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "tk_parsing_quantities"


def _attacks(marker):
    touch = f"__import__('os').system('touch {marker}')"
    return [
        touch,
        f"n + {touch}",
        f"exp({touch})",
        f"(lambda: {touch})()",
        f"[{touch} for _ in 'a']",
        "().__class__.__bases__[0].__subclasses__()",
        f"__builtins__['eval'](\"{touch}\")",
        f"f'{{{touch}}}'",
        f"exp(n).func.__globals__['__builtins__']['exec'](\"{touch}\")",
        f"max(*[{touch}])",
        f"exp(x={touch})",
        f"n if {touch} else n",
        f"(y := {touch})",
    ]


# -- injection ----------------------------------------------------------------------------------


def test_injected_python_is_never_run(tmp_path):
    marker = tmp_path / "pwned_parse"
    for text in _attacks(marker):
        with pytest.raises(InvalidClaim) as info:
            parse(text)
        assert repr(text)[:40] in str(info.value) or "characters" in str(info.value), str(info.value)
        assert not marker.exists(), text


def test_cli_parse_bound_never_runs_text(tmp_path):
    marker = tmp_path / "pwned_cli_parse"
    for text in _attacks(marker):
        with pytest.raises(UsageError):
            parse_bound(text, ["n"])
        assert not marker.exists(), text


def test_cli_verify_with_injected_bound_exits_2_without_running_it(tmp_path, capsys, user_module):
    marker = tmp_path / "pwned_cli"
    rc = main(["verify", "--quantity", f"{user_module}:square", "--bound",
               f"__import__('os').system('touch {marker}')", "--domain", "x=0..1"])
    err = capsys.readouterr().err
    assert rc == 2
    assert not marker.exists()
    assert "--bound \"__import__('os').system(" in err and "attribute access" in err, err


def test_claim_with_injected_string_bound_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned_claim"
    with pytest.raises(InvalidClaim, match="attribute access"):
        Claim("c", lambda n: n, f"__import__('os').system('touch {marker}')", {"n": (1, 2, "int")})
    assert not marker.exists()


def test_parsing_never_calls_eval_or_exec(monkeypatch):
    calls = []

    def spy(name):
        real = getattr(builtins, name)

        def wrapped(*args, **kwargs):
            if args and isinstance(args[0], str):  # source text (imports exec code objects)
                calls.append((name, args[0]))
            return real(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(builtins, "eval", spy("eval"))
    monkeypatch.setattr(builtins, "exec", spy("exec"))
    exprs = [parse_bound("1/(1 + (n-1)*exp(-beta))", ["n", "beta"]),
             parse("floor(n/2) + Max(n, 3)**2 - sqrt(2)*pi + 0.5")]
    monkeypatch.undo()
    assert calls == [] and all(isinstance(e, sp.Expr) for e in exprs)


@pytest.mark.parametrize("text, fragment", [
    ("n.real", "attribute access is not allowed: 'n.real'"),
    ("().__class__", "attribute access is not allowed"),
    ("[n][0]", "subscript is not allowed"),
    ("(lambda: 1)()", "only calls of plain function names are allowed, not of lambda"),
    ("lambda n: n", "lambda is not allowed"),
    ("[n for n in 'ab']", "comprehension is not allowed"),
    ("sum(n for n in 'ab')", "unknown function 'sum'"),
    ("f'{n}'", "f-string is not allowed"),
    ("'n'", "string \"'n'\" is not allowed"),
    ("b'n'", "string"),
    ("exp(x=1)", "keyword arguments are not allowed"),
    ("max(*[n])", "starred arguments are not allowed"),
    ("n if n else 1", "conditional expression"),
    ("n and 1", "'and'/'or' is not allowed"),
    ("not n", "'not' is not supported"),
    ("~n", "bitwise not"),
    ("n ^ 2", "'^' is bitwise xor in Python, not a power: write a**b"),
    ("n @ n", "matrix product"),
    ("n << 1", "shift"),
    ("(n, 1)", "tuple is not allowed"),
    ("{n: 1}", "dict is not allowed"),
    ("(m := 2)", "':=' assignment is not allowed"),
    ("1j", "complex number '1j' is not allowed"),
    ("True", "True is not a number"),
    ("None", "None is not a number"),
    ("...", "Ellipsis is not a number"),
    ("__import__('os')", "unknown function '__import__'"),
    ("eval('1')", "unknown function 'eval'"),
    ("sympify('n')", "unknown function 'sympify'"),
    ("Symbol('n')", "unknown function 'Symbol'"),
    ("m + 1", "name 'm' is not a domain parameter (the domain has 'n')"),
    ("__builtins__", "name '__builtins__' is not a domain parameter"),
    ("exp", "'exp' is a function: call it"),
    ("n(2)", "'n' is a domain parameter, not a function"),
    ("atan2(n)", "atan2 takes 2 argument(s), got 1"),
    ("sqrt(n, 2)", "sqrt takes 1 argument(s), got 2"),
    ("Max()", "Max takes at least 1 argument(s), got 0"),
    ("Max(n < 2, 1)", "comparison 'n < 2' is not allowed inside an expression"),
    ("n +* 2", "does not parse: invalid syntax"),
    ("", "is empty"),
    ("   ", "is empty"),
    ("n\x00", "does not parse"),
    ("n\n+ 1", "does not parse"),
    ("1/0", "division by zero in '1/0'"),
    ("n/(n-n)", "division by zero"),
    ("0**-1", "division by zero"),
    ("log(0)", "complex infinity (zoo"),
    ("oo - oo", "undefined (nan)"),
    ("sqrt(-1)", "is not real"),
    ("n % 0", "cannot be built: ZeroDivisionError"),
])
def test_constructs_outside_the_whitelist_are_refused(text, fragment):
    with pytest.raises(InvalidClaim) as info:
        parse(text)
    msg = str(info.value)
    assert msg.startswith(f"expression {text!r}"), msg
    assert fragment in msg, msg
    assert info.value.text == text


def test_comparison_is_refused_with_a_hint():
    with pytest.raises(InvalidClaim, match=r"is a comparison, not an expression \(write the relation with --relation\)"):
        parse("n < 2", source="--bound")
    with pytest.raises(InvalidClaim, match=r"write the relation with the claim's relation argument"):
        Claim("c", lambda n: n, "n <= 2", {"n": (1, 2, "int")})
    with pytest.raises(UsageError, match=r"--bound 'n == 2' is a comparison"):
        parse_bound("n == 2", ["n"])


def test_non_string_text_and_bad_names_are_refused():
    with pytest.raises(InvalidClaim, match="expression must be a string, got int 3"):
        parse(3)
    with pytest.raises(InvalidClaim, match="names must be an iterable of parameter names, not the string 'n'"):
        parse("n", "n")
    with pytest.raises(InvalidClaim, match="names must map parameter names to sympy Symbols"):
        parse("n", {"n": "n"})


# -- names ----------------------------------------------------------------------------------------


def test_domain_names_are_plain_symbols_even_when_sympy_has_a_meaning_for_them():
    names = ["beta", "gamma", "E", "S", "N", "I", "O", "Q", "pi", "exp", "zeta", "lambda_"]
    expr = parse("beta + gamma*E - S/N + I**2 + O + Q + pi + exp + zeta + lambda_", names)
    syms = {n: sp.Symbol(n) for n in names}
    assert expr == (syms["beta"] + syms["gamma"] * syms["E"] - syms["S"] / syms["N"] + syms["I"] ** 2 + syms["O"]
                    + syms["Q"] + syms["pi"] + syms["exp"] + syms["zeta"] + syms["lambda_"])
    assert {type(s) for s in expr.free_symbols} == {sp.Symbol}
    assert {str(s) for s in expr.free_symbols} == set(names)
    assert not expr.atoms(sp.Function)


def test_constants_and_functions_when_not_domain_names():
    assert parse("pi + E", []) == sp.pi + sp.E
    assert parse("oo", []) == sp.oo
    assert parse("gamma(n)", ["n"]) == sp.gamma(sp.Symbol("n"))
    assert parse("gamma", ["gamma"]) == sp.Symbol("gamma")


def test_a_mapping_of_names_keeps_the_callers_symbols():
    n = sp.Symbol("n", positive=True, integer=True)
    expr = parse("sqrt(n**2)", {"n": n})
    assert expr == n  # the assumptions were used
    assert parse("sqrt(n**2)", ["n"]) == sp.sqrt(sp.Symbol("n") ** 2)


# -- whitelist ------------------------------------------------------------------------------------

_CALLS = {  # function -> the argument text used (x is in [0.2, 0.8])
    "log": ["x", "x, 2"], "acosh": ["x + 1"], "atan2": ["x, 1"], "binomial": ["x + 3, 2"],
    "Min": ["x, 1/2", "x"], "min": ["x, 1/2"], "Max": ["x, 1/2, 0.3"], "max": ["x, 1/2"],
}


def test_every_whitelisted_function_parses_and_is_evaluated_by_the_verifier():
    from theory_kit.claims.parsing import FUNCTIONS

    x = sp.Symbol("x")
    assert {"exp", "log", "sqrt", "sin", "cos", "tan", "atan", "floor", "ceiling", "Abs", "abs", "Min", "min",
            "Max", "max", "factorial", "binomial", "gamma", "erf"} <= set(FUNCTIONS)
    for name, fn in FUNCTIONS.items():
        for args in _CALLS.get(name, ["x"]):
            text = f"{name}({args})"
            expr = parse(text, ["x"])
            expected = fn(*[parse(a, ["x"]) for a in args.split(", ")])
            assert expr == expected, (text, expr, expected)
            exact = sp.lambdify(x, expected, modules="mpmath")
            claim = Claim("f", lambda x: float(exact(x)), text, {"x": (0.2, 0.8, "real")}, relation="==",
                          rtol=1e-9, atol=1e-12)
            verdict = verify(claim, budget=12)
            assert verdict.holds, (text, verdict.summary())


def test_operators():
    n, m = sp.symbols("n m")
    assert parse("n + m - 1", ["n", "m"]) == n + m - 1
    assert parse("n * m / 2", ["n", "m"]) == n * m / 2
    assert parse("n ** 2 ** 3", ["n"]) == n ** 8  # right-associative, as in Python
    assert parse("-n ** 2", ["n"]) == -(n ** 2)
    assert parse("+n", ["n"]) == n
    assert parse("n // 2", ["n"]) == sp.floor(n / 2)
    assert parse("n % 3", ["n"]) == sp.Mod(n, 3)
    assert parse("2 ** -1", []) == sp.Rational(1, 2)
    assert parse("(n - 1) * exp(-m)", ["n", "m"]) == (n - 1) * sp.exp(-m)


def test_numbers_are_exact():
    for text, value in [("3", sp.Integer(3)), ("0.1", sp.Rational(1, 10)), ("1e-3", sp.Rational(1, 1000)),
                        ("2.5e2", sp.Integer(250)), ("1_000", sp.Integer(1000)), ("0x10", sp.Integer(16)),
                        ("1/3", sp.Rational(1, 3)), ("2**100", sp.Integer(2) ** 100),
                        ("12345678901234567890123", sp.Integer(12345678901234567890123)), ("0.1 + 0.2", sp.Rational(3, 10))]:
        got = parse(text, [])
        assert got == value and type(got) is type(value) or got == value and got.is_Rational, (text, got)
    assert parse("0.1*n") == sp.Symbol("n") / 10
    assert not parse("0.1*n + 2.5").atoms(sp.Float)


# -- limits ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, fragment", [
    ("10**10**10", "would make sympy compute a number of about 3.32e+10 bits"),
    ("9**9**9", "would make sympy compute a number of about"),
    ("2**2**2**2**2**2", "would make sympy compute a number of about"),
    ("(2*n)**10**10", "would make sympy compute a number of about"),
    ("sqrt(2)**10**10", "would make sympy compute a number of about"),
    ("(3*sqrt(2)*n)**(10**9)", "would make sympy compute a number of about"),
    ("n*10**400", "would make sympy compute a number"),
    ("2**-2000", "would make sympy compute a number"),
    ("9" * 4000, "is a number of 13288 bits; at most 1100"),
    ("9" * 5000, "does not parse"),
    ("1e400", "is a number of 1329 bits"),
    ("1e999999999", "is out of range"),
    ("1e-999999999", "is out of range"),
    ("factorial(10**6)", "factorial of a number beyond 1000 in magnitude is not supported"),
    ("gamma(10**9 + 1/2)", "gamma of a number beyond 1000"),
    ("loggamma(10**6)", "loggamma of a number beyond 1000"),
    ("binomial(10**9, 5*10**8)", "binomial of a number beyond 1000"),
    ("exp(800)", "beyond the supported magnitude 2^1100"),
    ("floor(exp(exp(exp(100))))", "'exp(exp(100))' is about 2.77e+"),
    ("Min(exp(exp(exp(100))), 1)", "beyond the supported magnitude"),
    ("Mod(exp(10**10), 3)", "unknown function 'Mod'"),
    ("exp(10**10) % 3", "beyond the supported magnitude"),
    ("exp(10**10) // 3", "beyond the supported magnitude"),
])
def test_huge_numbers_are_refused_before_sympy_computes_them(text, fragment):
    start = time.perf_counter()
    with pytest.raises(InvalidClaim) as info:
        parse(text)
    assert time.perf_counter() - start < FAST
    assert fragment in str(info.value), str(info.value)


def test_large_but_supported_numbers_and_symbolic_powers_are_fine():
    n = sp.Symbol("n")
    assert parse("10**300") == sp.Integer(10) ** 300
    assert parse("1e-300") == sp.Rational(1, 10 ** 300)
    assert parse("(n - 1)**(10**9)") == (n - 1) ** (10 ** 9)
    assert parse("n**(10**300)") == n ** (sp.Integer(10) ** 300)
    assert parse("exp(-10**6)") == sp.exp(-10 ** 6)
    assert parse("factorial(n) + gamma(n + 1/2) + binomial(n, 3)") == (
        sp.factorial(n) + sp.gamma(n + sp.Rational(1, 2)) + sp.binomial(n, 3))


def test_deep_nesting_and_long_text_are_refused_fast():
    cases = [("exp(" * 150 + "n" + ")" * 150, "nesting deeper than 100 levels"),
             ("-" * 5000 + "n", "too deeply nested"),
             ("(" * 300 + "n" + ")" * 300, "does not parse: too many nested parentheses"),
             ("n**" * 200 + "n", "nesting deeper than 100 levels"),
             ("+".join(["n"] * 5000), "does not parse"),
             ("n" * 10_001, "is too long: 10001 characters, at most 10000")]
    for text, fragment in cases:
        start = time.perf_counter()
        with pytest.raises(InvalidClaim) as info:
            parse(text)
        assert time.perf_counter() - start < FAST
        assert fragment in str(info.value), (fragment, str(info.value)[-300:])
        assert len(str(info.value)) < 1000  # the text is quoted, truncated


def test_long_flat_sums_and_products_do_not_count_as_nesting():
    n = sp.Symbol("n")
    assert parse(" + ".join(["n"] * 600)) == 600 * n
    assert parse("*".join(["n"] * 600)) == n ** 600
    assert parse("1" + "-n" * 600) == 1 - 600 * n
    assert parse("(" * 150 + "n" + ")" * 150) == n  # parentheses alone are no nesting


# -- Claim(bound="...") (issue 22 item 5) --------------------------------------------------------------


def test_claim_accepts_a_string_bound_with_domain_names_as_plain_symbols():
    def pmax(n, beta):
        import math

        return 1 / (1 + (n - 1) * math.exp(-beta))

    claim = Claim("pmax", pmax, "1/(1 + (n-1)*exp(-beta))", {"n": (2, 100, "int"), "beta": (0.1, 20, "log")},
                  relation=">=", rtol=1e-12)
    n, beta = sp.Symbol("n"), sp.Symbol("beta")
    assert claim.bound == 1 / (1 + (n - 1) * sp.exp(-beta))
    assert isinstance(claim.bound, sp.Expr) and not claim.bound.atoms(sp.beta)
    assert "1/((n - 1)*exp(-beta) + 1)" in claim.describe()
    assert verify(claim, budget=60).holds


def test_claim_string_bound_with_gamma_and_E_as_parameters():
    claim = Claim("g", lambda gamma, E: gamma * E, "gamma*E", {"gamma": (0, 1, "real"), "E": (1, 2, "real")},
                  relation="==")
    assert claim.bound == sp.Symbol("gamma") * sp.Symbol("E")
    assert verify(claim, budget=30).holds


def test_claim_string_bound_problems_are_listed_with_the_others():
    with pytest.raises(InvalidClaim) as info:
        Claim("c", lambda n: n, "m + 1", {"n": (3, 1, "int")})
    problems = info.value.problems
    assert any("inverted range" in p for p in problems)
    assert any("got str 'm + 1': name 'm' is not a domain parameter (the domain has 'n')" in p for p in problems)


# -- theory_kit.bounds never sympifies text ------------------------------------------------------------


def test_bound_functions_refuse_text_instead_of_evaluating_it(tmp_path):
    from theory_kit import bounds

    marker = tmp_path / "pwned_bounds"
    text = f"__import__('os').system('touch {marker}')"
    for call in (lambda: bounds.softmax_pmax_lower(text), lambda: bounds.offmax_mass_upper(2, text),
                 lambda: bounds.relu_exact_slope(text), lambda: bounds.tie_breaker_upper(text),
                 lambda: bounds.unit_roundoff(text), lambda: bounds.layer_norm_hash_gap_lower(text)):
        with pytest.raises(InvalidInput, match="bound arguments must be numbers or sympy expressions, got the str"):
            call()
        assert not marker.exists()
    assert bounds.softmax_pmax_lower(3, 2, 1) == 1 / (1 + 2 * sp.exp(-2))
