"""theory_kit.cli: the `theory-kit` command (main(argv) -> exit code)."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

import theory_kit
from theory_kit import cli
from theory_kit.errors import InvalidInput
from theory_kit.library import PROGRAMS


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert (code, out) == (0, f"theory-kit {theory_kit.__version__}\n")


def test_python_dash_m_version():
    done = subprocess.run([sys.executable, "-m", "theory_kit", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, f"theory-kit {theory_kit.__version__}\n")


def test_programs_lists_every_program_with_its_doc(capsys):
    code, out, _ = run(capsys, "programs")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == list(PROGRAMS)
    for line, spec in zip(lines, PROGRAMS.values()):
        assert line.endswith(spec.doc)


def test_programs_long_shows_defaults(capsys):
    code, out, _ = run(capsys, "programs", "--long")
    assert code == 0
    assert "vocab: 0+0 0+1 1+0 1+1; max_seq_len: 5; causal-safe: yes; from theory_kit" in out
    assert "vocab: 1 2 3; max_seq_len: 5; causal-safe: yes; from tracr" in out


@pytest.mark.parametrize("argv,expected", [
    (["eval", "reverse", "1", "2", "3"], "[3, 2, 1]"),
    (["eval", "hist", "a", "b", "a"], "[2, 1, 2]"),
    (["eval", "hist", "a", "b", "a", "--causal"], "[1, 1, 2]"),
    (["eval", "--causal", "length", "1", "1", "1"], "[1, 2, 3]"),
    (["eval", "sort", "3", "1", "3"], "[1, 3, 3]"),
    (["eval", "frac_prevs", "a", "b"], "[1.0, 0.5]"),
    (["eval", "add", "1+1", "0+1", "0+0"], "[0, 0, 1]"),
    (["eval", "shift_by", "a", "b"], "[None, 'a']"),
])
def test_eval_prints_the_interpreter_output(capsys, argv, expected):
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (0, expected + "\n", "")


def test_parse_token():
    assert [cli.parse_token(t) for t in ["3", "-1", "+2", "a", "1+0", "1.5", ""]] == [
        3, -1, 2, "a", "1+0", "1.5", ""]


@pytest.mark.parametrize("argv,message", [
    (["eval", "revrse", "1"],
     "error: unknown program 'revrse'; did you mean reverse or prev_token or frac_prevs? "
     "(`theory-kit programs` lists them all)"),
    (["eval", "zzzz", "1"],
     "error: unknown program 'zzzz' (`theory-kit programs` lists them all)"),
    (["eval", "hist", "a", "d"],
     "error: token 'd' at position 1 is not in the vocabulary of 'hist': ['a', 'b', 'c']"),
    (["eval", "reverse", "1", "a"],
     "error: token 'a' at position 1 is not in the vocabulary of 'reverse': [1, 2, 3]"),
    (["eval", "hist", "a", "a", "a", "a", "a", "a"],
     "error: 'hist' takes at most 5 tokens (its default max_seq_len), got 6"),
    (["eval", "sort_unique", "1", "1"],
     "error: input [1, 1] is outside the domain of 'sort_unique': tokens must be distinct"),
    (["eval", "max", "0", "1", "--causal"],
     "error: categorical Aggregate 'max' at position 1 selected several different values "
     "[0, 1]; a categorical aggregate must select one value (make the selector pick one "
     "position, or annotate with rasp.numerical(...) to average)"),
])
def test_bad_input_exits_2_with_a_one_line_error(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (2, "", message + "\n")


@pytest.mark.parametrize("argv", [[], ["eval"], ["eval", "hist"], ["nope"], ["--bogus"]])
def test_usage_errors_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.startswith("usage: theory-kit")


def test_help_exits_0(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "programs" in out and "eval" in out


def test_registrars_add_commands_and_theory_kit_errors_become_exit_2(capsys, monkeypatch):
    def register(subparsers):
        parser = subparsers.add_parser("hello")
        parser.add_argument("--fail", action="store_true")

        def handler(args):
            if args.fail:
                raise InvalidInput("bad hello")
            print("hi")
            return 0
        parser.set_defaults(func=handler)

    monkeypatch.setattr(cli, "REGISTRARS", [*cli.REGISTRARS, register])
    assert run(capsys, "hello") == (0, "hi\n", "")
    assert run(capsys, "hello", "--fail") == (2, "", "error: bad hello\n")


def test_a_non_theory_kit_exception_is_not_swallowed(capsys, monkeypatch):
    def register(subparsers):
        subparsers.add_parser("boom").set_defaults(func=lambda args: 1 / 0)

    monkeypatch.setattr(cli, "REGISTRARS", [*cli.REGISTRARS, register])
    with pytest.raises(ZeroDivisionError):
        cli.main(["boom"])


def test_claims_commands_are_registered_when_the_module_exists(capsys, monkeypatch):
    fake = types.ModuleType("theory_kit.claims.cli")
    calls = []

    def register_commands(subparsers):
        calls.append(subparsers)
        subparsers.add_parser("fake-claims").set_defaults(func=lambda args: print("claims") or 0)

    fake.register_commands = register_commands
    monkeypatch.setitem(sys.modules, "theory_kit.claims.cli", fake)
    assert run(capsys, "fake-claims") == (0, "claims\n", "")
    assert len(calls) == 1


def test_a_missing_claims_module_is_tolerated(capsys, monkeypatch):
    def missing(name, *args, **kwargs):
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(cli, "import_module", missing)
    assert run(capsys, "eval", "length", "1")[:2] == (0, "[1]\n")


def test_a_claims_module_with_a_broken_import_is_not_hidden(monkeypatch):
    def broken(name, *args, **kwargs):
        raise ModuleNotFoundError("No module named 'cvxpy_missing'", name="cvxpy_missing")

    monkeypatch.setattr(cli, "import_module", broken)
    with pytest.raises(ModuleNotFoundError, match="cvxpy_missing"):
        cli.main(["programs"])
