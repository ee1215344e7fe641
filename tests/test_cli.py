"""theory_kit.cli: the `theory-kit` command (main(argv) -> exit code)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

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


@pytest.mark.parametrize("command", ["claims", "verify"])
def test_a_claims_module_with_a_broken_import_is_not_hidden(monkeypatch, command):
    # Issue 22 item 2: the claims module is imported only for its own commands (lazy start-up),
    # so a broken import surfaces there, and is never mistaken for an absent module.
    def broken(name, *args, **kwargs):
        raise ModuleNotFoundError("No module named 'cvxpy_missing'", name="cvxpy_missing")

    monkeypatch.setattr(cli, "import_module", broken)
    with pytest.raises(ModuleNotFoundError, match="cvxpy_missing"):
        cli.main([command])


# -- issue 22 item 1: your own programs; numbers are validated, never defaulted ----------------

_USER_MODULE = '''
from theory_kit import rasp


def plus_one():
    return rasp.numerical(rasp.Map(lambda x: x + 1, rasp.tokens)).named("plus_one")


def flip():
    return rasp.Map(lambda x: 1 - x, rasp.tokens).named("flip")


def not_a_program():
    return [1, 2, 3]


def fails():
    raise RuntimeError("my builder broke")


CONSTANT = 3
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module of the user's in the current directory (not on sys.path otherwise)."""
    name = f"my_programs_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(_USER_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    yield name
    sys.modules.pop(name, None)


def test_eval_a_program_of_your_own_from_the_current_directory(capsys, user_module):
    assert run(capsys, "eval", f"{user_module}:flip", "0", "1", "1") == (0, "[1, 0, 0]\n", "")


def test_eval_your_own_program_with_a_vocab_checks_the_tokens(capsys, user_module):
    code, out, err = run(capsys, "eval", f"{user_module}:flip", "0", "2", "--vocab", "0", "1")
    assert (code, out) == (2, "")
    assert err == f"error: token 2 at position 1 is not in the vocabulary of '{user_module}:flip': [0, 1]\n"


@pytest.mark.parametrize("function,message", [
    ("not_a_program", "not_a_program() returned [1, 2, 3] (of type list), not a RASP SOp"),
    ("CONSTANT", "'CONSTANT' is of type int, not a function returning a RASP SOp"),
    ("fails", "calling fails() failed: RuntimeError: my builder broke"),
    ("missing", "has no attribute 'missing'"),
])
def test_your_own_non_programs_are_refused_with_the_reason(capsys, user_module, function, message):
    for command in (["eval", f"{user_module}:{function}", "1"],
                    ["compile", f"{user_module}:{function}", "--vocab", "1", "--max-seq-len", "2"]):
        code, out, err = run(capsys, *command)
        assert (code, out) == (2, ""), command
        assert err.startswith(f"error: {user_module}:{function}: ") and message in err, err
        assert err.count("\n") == 1


def test_a_module_that_does_not_import_is_a_usage_error(capsys, user_module):
    code, out, err = run(capsys, "eval", "no_such_module_xyz:f", "1")
    assert (code, out) == (2, "")
    assert err.startswith("error: no_such_module_xyz:f: cannot import module 'no_such_module_xyz'")


@pytest.mark.parametrize("spec", [":f", "mod:", "a:b:c"])
def test_malformed_module_function_specs_are_refused(capsys, spec):
    code, out, err = run(capsys, "eval", spec, "1")
    assert (code, out) == (2, "")
    assert "MODULE:FUNCTION" in err


def test_compile_your_own_program_needs_vocab_and_max_seq_len(capsys, user_module):
    code, out, err = run(capsys, "compile", f"{user_module}:flip")
    assert (code, out) == (2, "")
    assert err == (f"error: {user_module}:flip: a program of your own needs --vocab and "
                   "--max-seq-len\n")
    code, out, err = run(capsys, "compile", f"{user_module}:flip", "--vocab", "0", "1")
    assert err == f"error: {user_module}:flip: a program of your own needs --max-seq-len\n"


def test_compile_your_own_program_verifies_and_saves_it(capsys, user_module, tmp_path):
    path = tmp_path / "plus_one.npz"
    code, out, err = run(capsys, "compile", f"{user_module}:plus_one", "--vocab", "1", "2", "3",
                         "--max-seq-len", "3", "--causal", "--json", "--out", str(path))
    assert code == 0, err
    report = json.loads(out)  # stdout is exactly one JSON document
    assert (report["program"], report["vocab"], report["max_seq_len"], report["causal"]) == (
        f"{user_module}:plus_one", [1, 2, 3], 3, True)
    assert report["verified_inputs"] == 3 + 9 + 27
    assert err == f"saved to {path}\n"
    assert theory_kit.load(path).run([3, 1]) == [4, 2]


@pytest.mark.parametrize("value", ["0", "-1", "-0", "1.5", "five", "", "1e3", "0x10"])
@pytest.mark.parametrize("command", [["compile", "hist"], ["eval", "hist", "a"]])
def test_invalid_max_seq_len_is_an_error_never_a_default(capsys, command, value):
    code, out, err = run(capsys, *command, "--max-seq-len", value)
    assert (code, out) == (2, "")
    assert err.startswith("usage: theory-kit")
    assert f"argument --max-seq-len: must be a whole number >= 1, got {value!r}" in err


def test_eval_builds_library_programs_at_the_requested_length(capsys):
    tokens = ["3", "1", "2", "3", "1", "2", "2", "1"]
    code, out, err = run(capsys, "eval", "sort", "--max-seq-len", "8", *tokens)
    assert (code, out, err) == (0, "[1, 1, 1, 2, 2, 2, 3, 3]\n", "")
    code, out, err = run(capsys, "eval", "sort", "--max-seq-len", "3", "1", "2", "3", "1")
    assert (code, out) == (2, "")
    assert err == "error: 'sort' takes at most 3 tokens (--max-seq-len), got 4\n"


def test_eval_library_program_with_another_vocab(capsys):
    assert run(capsys, "eval", "count", "x", "y", "x", "--vocab", "x", "y") == (0, "[2, 2, 2]\n", "")


def test_eval_program_option_after_tokens(capsys):
    assert run(capsys, "eval", "hist", "a", "b", "a", "--max-seq-len", "3") == (0, "[2, 1, 2]\n", "")


# -- issue 22 item 2: lazy start-up, stdout for output only, exit codes through closed pipes --

#: Subprocesses import theory_kit from this tree (not from wherever the venv installed it).
_REPO = str(Path(__file__).resolve().parent.parent)
_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(
    p for p in (_REPO, os.environ.get("PYTHONPATH")) if p)}

_IMPORTS_PROBE = """
import sys
import theory_kit
before = set(sys.modules)
from theory_kit import cli
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    code = cli.main({argv!r})
new = sorted(m for m in set(sys.modules) - before
             if m.split(".")[0] in ("sympy", "mpmath", "scipy", "numpy", "cvxpy", "matplotlib",
                                    "hypothesis")
             or m.startswith(("theory_kit.claims", "theory_kit.library", "theory_kit.bounds",
                              "theory_kit.landscape")))
print(code, ",".join(new))
"""


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["eval", "--help"],
                                  ["compile", "--help"]])
def test_version_and_help_import_nothing_heavy(argv):
    """--version and --help import nothing beyond what `import theory_kit` itself loads (no
    sympy, no claims module, no library). Timing lives in benchmarks/cli_startup.py."""
    done = subprocess.run([sys.executable, "-c", _IMPORTS_PROBE.format(argv=argv)],
                          capture_output=True, text=True, timeout=120, env=_ENV)
    assert done.returncode == 0, done.stderr
    code, _, new = done.stdout.strip().rpartition("\n")[2].partition(" ")
    assert (code, new) == ("0", "")


_FRESH_PROBE = """
import runpy, sys
sys.argv = ["theory-kit", *{argv!r}]
try:
    runpy.run_module("theory_kit", run_name="__main__")
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("numpy", "scipy", "sympy", "mpmath",
                                                              "cvxpy", "matplotlib", "hypothesis"))
print("heavy:", ",".join(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_version_and_help_from_a_fresh_interpreter_import_no_numerics(argv):
    """`python -m theory_kit --version`/`--help` import no numpy, scipy, sympy, ... at all."""
    done = subprocess.run([sys.executable, "-c", _FRESH_PROBE.format(argv=argv)],
                          capture_output=True, text=True, timeout=120, env=_ENV)
    assert done.stderr.strip().splitlines()[-1] == "heavy:", done.stderr


def test_help_still_lists_the_claims_commands_without_importing_them(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in ("programs", "eval", "compile", "claims", "verify"):
        assert f"\n    {name} " in out


def test_programs_does_not_import_the_claims_module():
    done = subprocess.run([sys.executable, "-c", _IMPORTS_PROBE.format(argv=["programs"])],
                          capture_output=True, text=True, timeout=120, env=_ENV)
    code, _, new = done.stdout.strip().rpartition("\n")[2].partition(" ")
    assert code == "0" and "theory_kit.claims" not in new, new


def test_python_dash_m_theory_kit_cli_runs_the_command():
    done = subprocess.run([sys.executable, "-m", "theory_kit.cli", "--version"],
                          capture_output=True, text=True, timeout=60, env=_ENV)
    assert (done.returncode, done.stdout) == (0, f"theory-kit {theory_kit.__version__}\n")


class _ClosedPipe:
    """A stdout whose reader has gone: every write and flush raises BrokenPipeError."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("exit_code", [0, 1, 3])
def test_a_closed_stdout_keeps_the_commands_exit_code(monkeypatch, exit_code):
    finished = []

    def register(subparsers):
        def handler(args):
            for i in range(1000):
                print(f"line {i}")
            finished.append(True)
            return exit_code
        subparsers.add_parser("chatty").set_defaults(func=handler)

    monkeypatch.setattr(cli, "REGISTRARS", [*cli.REGISTRARS, register])
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert cli.main(["chatty"]) == exit_code
    assert finished == [True]  # the command ran to the end: its own verdict is the exit code


def test_a_violated_claim_piped_into_a_closed_reader_exits_1(tmp_path):
    """`theory-kit verify ... | head` keeps exit code 1 (counterexample) when head has gone."""
    (tmp_path / "qty_mod.py").write_text("def q(n):\n    return float(n)\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "theory_kit", "verify", "--quantity", "qty_mod:q", "--bound", "1",
         "--domain", "n=2..10:int"],
        cwd=tmp_path, env=_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader leaves before any output is written
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_programs_into_a_closed_pipe_exits_0_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "theory_kit", "programs", "--long"],
                            env=_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert (proc.wait(timeout=120), err) == (0, "")


# -- theory-kit init (issue 22 item 6) ----------------------------------------------------------


def test_init_creates_a_paper_project_and_never_overwrites(capsys, tmp_path):
    project = tmp_path / "my paper"
    assert cli.main(["init", str(project)]) == 0
    out, err = capsys.readouterr()
    written = {Path(line).relative_to(project).as_posix() for line in out.splitlines()}
    assert written == {"Makefile", "README.md", ".gitignore", "figures/fig_example.py",
                       "claims/claims.py", "appendix/appendix.tex"}
    assert "make figures" in err and "make appendix" in err
    makefile = (project / "Makefile").read_text()
    assert "PYTHON ?= python3" in makefile and "\nfigures:" in makefile and "\nappendix:" in makefile
    assert "PYTHON=.venv/bin/python" in (project / "README.md").read_text()
    (project / "claims" / "claims.py").write_text("CLAIMS = []  # mine\n")
    assert cli.main(["init", str(project)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {str(project)!r} already has Makefile, README.md")
    assert (project / "claims" / "claims.py").read_text() == "CLAIMS = []  # mine\n"
    (tmp_path / "a_file").write_text("x")
    assert cli.main(["init", str(tmp_path / "a_file")]) == 2
    assert "it is a file" in capsys.readouterr().err


def test_help_lists_init(capsys):
    assert cli.main(["--help"]) == 0
    assert "create a paper project" in capsys.readouterr().out
