"""The `claims` and `verify` subcommands: output, exit codes 0/1/2, user claims."""

import argparse
import json

import pytest

from theory_kit.claims import names
from theory_kit.claims.cli import main, register_commands
from theory_kit.errors import TheoryKitError

USER_MODULE = '''
import math

def comb(m, y):
    frac = abs(m - round(m))
    return y * (1 + 0.01 * math.cos(math.pi * (m - 18) / 37) ** 256) - abs(math.sin(math.pi * frac)) ** 0.1

def square(x):
    return x * x

def beta_sq(beta, gamma):
    return beta ** 2 + gamma

def broken(x):
    raise RuntimeError("sensor offline")
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "tk_user_quantities.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "tk_user_quantities"


def test_claims_lists_every_claim_on_one_line(capsys):
    assert main(["claims"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(names())
    assert any(line.split()[:2] == ["layer_norm_hash_gap", ">="] and "Merrill & Sabharwal" in line for line in lines)


def test_claims_json(capsys):
    assert main(["claims", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {d["name"] for d in data} == set(names())
    assert all(set(d) >= {"name", "relation", "bound", "source", "domain"} for d in data)


def test_verify_builtin_holds(capsys):
    assert main(["verify", "softmax_pmax", "--budget", "200", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "verdict      HOLDS" in out and "evaluated    200 of budget 200 (seed 1)" in out
    assert "worst ratio" in out and "where" in out


def test_verify_json(capsys):
    assert main(["verify", "bipolar_address_codes", "--budget", "100", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["holds"] is True and data["n_evaluated"] == 100 and data["bound_expr"] == "d - 2"


def test_verify_user_claim_counterexample_printed_in_full(capsys, user_module):
    rc = main(["verify", "--quantity", f"{user_module}:comb", "--bound", "1", "--domain", "m=1..1000:int,y=0..1"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "COUNTEREXAMPLE FOUND" in out and "counterexample (full precision):" in out
    assert "  m = " in out and "  y = " in out and "  quantity = 1.0" in out


def test_verify_user_claim_holds_with_relation(capsys, user_module):
    rc = main(["verify", "--quantity", f"{user_module}:square", "--bound", "x", "--domain", "x=0..1",
               "--relation", "<=", "--budget", "200"])
    assert rc == 0, capsys.readouterr()


def test_beta_is_a_symbol_not_sympys_beta_function(capsys, user_module):
    # beta and gamma are sympy functions; as domain names they must parse as plain symbols
    rc = main(["verify", "--quantity", f"{user_module}:beta_sq", "--bound", "beta**2 + gamma", "--domain",
               "beta=0.5..2:log,gamma=0..1", "--relation", "==", "--rtol", "1e-12", "--budget", "50"])
    assert rc == 0, capsys.readouterr()


@pytest.mark.parametrize("argv,message", [
    (["verify", "nope"], "unknown claim 'nope'; known claims:"),
    (["verify"], "name a claim (see `theory-kit claims`) or give --quantity, --bound and --domain"),
    (["verify", "softmax_pmax", "--bound", "1"], "give either a claim name ('softmax_pmax') or --quantity/--bound/--domain, not both"),
    (["verify", "--bound", "1", "--domain", "x=0..1"], "missing --quantity"),
    (["verify", "--quantity", "tk_user_quantities:square", "--bound", "x", "--domain", "x=1..0"], "inverted range, lo=1.0 > hi=0.0"),
    (["verify", "--quantity", "tk_user_quantities:square", "--bound", "x", "--domain", "x=0..1:float"], "kind must be one of"),
    (["verify", "--quantity", "tk_user_quantities:square", "--bound", "x", "--domain", "x:0..1"], "is not NAME=LO..HI[:KIND]"),
    (["verify", "--quantity", "tk_user_quantities:square", "--bound", "x +* 2", "--domain", "x=0..1"], "--bound 'x +* 2' does not parse"),
    (["verify", "--quantity", "tk_user_quantities:square", "--bound", "x < 2", "--domain", "x=0..1"], "not an expression (write the relation with --relation)"),
    (["verify", "--quantity", "tk_user_quantities", "--bound", "x", "--domain", "x=0..1"], "--quantity must be MODULE:FUNCTION"),
    (["verify", "--quantity", "no_such_module_xyz:f", "--bound", "x", "--domain", "x=0..1"], "cannot import module 'no_such_module_xyz'"),
    (["verify", "--quantity", "tk_user_quantities:nothing", "--bound", "x", "--domain", "x=0..1"], "has no attribute 'nothing'"),
    (["verify", "--quantity", "tk_user_quantities:square", "--bound", "x", "--domain", "x=0..1", "--relation", "=<"], "relation must be one of"),
    (["verify", "--quantity", "tk_user_quantities:broken", "--bound", "x", "--domain", "x=0..1"], "quantity raised RuntimeError: sensor offline at x=0.0"),
    (["verify", "softmax_pmax", "--budget", "0"], "budget must be an int >= 1, got 0"),
])
def test_bad_usage_exits_2_with_a_message(capsys, user_module, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err


def test_argparse_errors_exit_2(capsys):
    assert main(["verify", "softmax_pmax", "--budget", "many"]) == 2
    assert "invalid int value: 'many'" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2


def test_register_commands_plugs_into_another_parser(capsys):
    parser = argparse.ArgumentParser(prog="theory-kit")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("compile")  # the lead's own subcommands live beside ours
    register_commands(sub)
    args = parser.parse_args(["verify", "layer_norm_hash_tiebreak", "--budget", "50"])
    assert args.func(args) == 0
    assert "HOLDS" in capsys.readouterr().out
    args = parser.parse_args(["claims"])
    assert args.func(args) == 0


def test_progress_goes_to_stderr(capsys):
    assert main(["verify", "softmax_pmax", "--budget", "100", "--progress"]) == 0
    err = capsys.readouterr().err
    assert "[verify] 0/100 corners" in err and "[verify] 100/100 done" in err


# -- issue 22 items 2 and 5: --latex, the default domain kind, exit codes, one loader -----------------


def test_verify_latex_prints_one_booktabs_row_per_verdict(capsys, user_module):
    # searched, not refuted
    assert main(["verify", "--quantity", f"{user_module}:square", "--bound", "x", "--domain", "x=0..1:real",
                 "--budget", "50", "--latex"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.rstrip().endswith(r"\\"), out
    name, statement, domain, verdict = out.rstrip()[:-2].split(" & ")
    assert name == r"{\def\_{\textunderscore\allowbreak}\texttt{user\_claim}}"
    assert statement == r"$\mathtt{square} \leq x$"
    assert domain == r"$x \in [0, 1]$ (real)"
    assert verdict.startswith("searched 50 points") and "not refuted (worst ratio 1)" in verdict
    # refuted: the counterexample, numbers through theory_kit.tex
    assert main(["verify", "--quantity", f"{user_module}:square", "--bound", "x/2", "--domain", "x=0..3:real",
                 "--budget", "50", "--latex"]) == 1
    verdict = capsys.readouterr().out.rstrip()[:-2].rstrip().split(" & ")[3]
    assert verdict == "refuted at $x = 3$: quantity 9, bound 1.5 (searched 50 points)", verdict
    # proved
    assert main(["verify", "--quantity", "x*exp(-x)", "--bound", "exp(-1)", "--domain", "x=0..10:real",
                 "--prove", "--latex"]) == 0
    row = capsys.readouterr().out
    assert r"$x e^{- x} \leq e^{-1}$" in row and " & proved (certificate: " in row


def test_verify_latex_and_json_are_exclusive(capsys):
    assert main(["verify", "softmax_pmax", "--json", "--latex"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_domain_kind_default_is_stated_in_help_and_noted(capsys, user_module):
    help_text = " ".join(build_verify_help().split())
    assert "an entry without :KIND is real (default)" in help_text
    assert main(["verify", "--quantity", f"{user_module}:square", "--bound", "x", "--domain", "x=0..1",
                 "--budget", "20"]) == 0
    err = capsys.readouterr().err
    assert "note: x given without a kind: searched as real" in err


def build_verify_help() -> str:
    from theory_kit.claims.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["verify"].format_help()


def test_a_string_exit_code_is_a_usage_error_not_a_crash(capsys, monkeypatch):
    import theory_kit.claims.cli as claims_cli

    class Exiting(argparse.ArgumentParser):
        def parse_args(self, *args, **kwargs):
            raise SystemExit("the parser gave up: bad --domain 'x'")

    monkeypatch.setattr(claims_cli, "build_parser", lambda: Exiting())
    assert claims_cli.main(["verify"]) == 2
    assert "the parser gave up: bad --domain 'x'" in capsys.readouterr().err


def test_quantities_and_programs_share_one_loader(monkeypatch, user_module):
    import theory_kit.claims.cli as claims_cli
    from theory_kit import cli
    from theory_kit.paper import loading

    calls = []
    real = loading.load_object

    def spy(spec, **kwargs):
        calls.append(spec)
        return real(spec, **kwargs)

    monkeypatch.setattr(loading, "load_object", spy)
    assert claims_cli.load_quantity(f"{user_module}:square")(x=3) == 9
    with pytest.raises(TheoryKitError, match="calling square\\(\\) failed"):
        cli.load_program(f"{user_module}:square")
    assert calls == [f"{user_module}:square", f"{user_module}:square"]
