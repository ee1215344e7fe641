"""The `theory-kit` command line: list, evaluate and compile library programs or your own.

Every subcommand is added by a *registrar*: a function taking argparse's subparsers object that
adds one or more parsers and sets `func=<function(args) -> int>` on each with `set_defaults`.
`REGISTRARS` lists them in order; to add a command, write a registrar and append it there.
`theory_kit.claims.cli.register_commands`, when that module exists, is called the same way.

Start-up is lazy: registrars only declare arguments; a command imports what it needs (numpy,
sympy, the compiler, the library) when it runs. The optional claims module is imported only
when one of its commands (`claims`, `verify`) or an unknown command name is given; `--help`
lists its commands from `OPTIONAL_COMMANDS` without importing it.

Programs are named either from the library (`theory-kit programs` lists them; they are built
at the requested `--vocab`/`--max-seq-len` with `PROGRAMS[name].at(...)`) or as
`MODULE:FUNCTION`: the module is imported (the current directory is importable) and
`FUNCTION()` must return a RASP SOp.

Output: stdout carries only the requested output (`--json` prints exactly one JSON document);
diagnostics ("saved to ...", errors) go to stderr. When stdout is a closed pipe
(`theory-kit ... | head`) the rest of the output is discarded and the command's own exit code
is kept.

`theory-kit sweep run SPEC | status DIR | table DIR` runs and inspects resumable parameter sweeps
(theory_kit.sweep).

`theory-kit init PATH` creates a paper project (theory_kit.paper.project): your figures, claims
and appendix with `make figures` / `make appendix`.

Exit codes: 0 success, 2 bad usage or a TheoryKitError (printed as `error: <message>`); the
claims commands add their own (see `theory_kit.claims.cli`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from importlib import import_module
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from theory_kit import __version__
from theory_kit.errors import InvalidInput, TheoryKitError

__all__ = ["main", "build_parser", "REGISTRARS", "OPTIONAL_COMMANDS", "parse_token",
           "positive_int", "load_program", "EXIT_OK", "EXIT_USAGE", "EXIT_BROKEN_PIPE"]

EXIT_OK = 0
EXIT_USAGE = 2
#: Exit code when the output pipe closed while a command was writing and the command itself
#: failed with the pipe error (128 + SIGPIPE, what a shell reports for a process killed by it).
EXIT_BROKEN_PIPE = 141

Registrar = Callable[[argparse._SubParsersAction], None]

_INT = re.compile(r"[+-]?\d+\Z")
_OPTIONAL_REGISTRAR_MODULE = "theory_kit.claims.cli"

#: Commands the optional claims module adds, with their one-line help: `--help` lists them
#: without importing the module (which imports sympy).
OPTIONAL_COMMANDS: Dict[str, str] = {
    "claims": "list the registered claims (name, relation, source)",
    "verify": "try hard to break a claim",
}


def parse_token(text: str):
    """A command-line token: an int when it looks like one ("3", "-1"), otherwise the string."""
    return int(text) if _INT.match(text) else text


def positive_int(text: str) -> int:
    """argparse type: a decimal int >= 1 (anything else is a usage error, never a default)."""
    if not _INT.match(text.strip()):
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def _lookup_program(name: str):
    import difflib

    from theory_kit.library import PROGRAMS

    try:
        return PROGRAMS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(PROGRAMS), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise InvalidInput(f"unknown program {name!r}{hint} (`theory-kit programs` lists "
                           "them all)") from None


def load_program(spec: str):
    """The SOp named by MODULE:FUNCTION: import MODULE (the current directory is importable)
    and call FUNCTION() (an attribute that already is an SOp is taken as it is).

    Raises:
        InvalidInput: a malformed spec, a module that does not import, a missing attribute,
            a function that fails, or a result that is not a RASP SOp.
    """
    from theory_kit.paper.loading import load_object
    from theory_kit.rasp import nodes as rn

    obj = load_object(spec, what="a program of your own")
    attr = spec.partition(":")[2]
    if not isinstance(obj, rn.SOp):
        if not callable(obj):
            raise InvalidInput(f"{spec}: {attr!r} is of type {type(obj).__name__}, not a "
                               "function returning a RASP SOp")
        try:
            obj = obj()
        except TheoryKitError:
            raise
        except Exception as exc:  # the user's builder failed: say where, keep the cause
            raise InvalidInput(f"{spec}: calling {attr}() failed: "
                               f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(obj, rn.SOp):
            raise InvalidInput(f"{spec}: {attr}() returned {obj!r:.60} (of type "
                               f"{type(obj).__name__}), not a RASP SOp (e.g. rasp.tokens or a Map, "
                               "Aggregate, ... built from it)")
    return obj


def _program_and_domain(args: argparse.Namespace, *, need_domain: bool):
    """(display name, program, vocab tuple or None, max_seq_len or None, library spec or None)."""
    if ":" in args.program:
        program = load_program(args.program)
        vocab = tuple(args.vocab) if args.vocab is not None else None
        if need_domain:
            missing = [flag for flag, value in (("--vocab", vocab),
                                                ("--max-seq-len", args.max_seq_len))
                       if value is None]
            if missing:
                raise InvalidInput(f"{args.program}: a program of your own needs "
                                   f"{' and '.join(missing)}")
        return args.program, program, vocab, args.max_seq_len, None
    spec = _lookup_program(args.program)
    vocab = spec.vocab if args.vocab is None else tuple(args.vocab)
    max_seq_len = spec.max_seq_len if args.max_seq_len is None else args.max_seq_len
    program = spec.at(vocab=vocab, max_seq_len=max_seq_len)
    return spec.name, program, vocab, max_seq_len, spec


def _add_program_arguments(parser: argparse.ArgumentParser, *, library_defaults: str) -> None:
    parser.add_argument("program", metavar="PROGRAM",
                        help="a name from `theory-kit programs`, or MODULE:FUNCTION for your own "
                             "(FUNCTION() returns a RASP SOp; the current directory is "
                             "importable)")
    parser.add_argument("--vocab", nargs="+", type=parse_token, metavar="TOKEN", default=None,
                        help=f"the input tokens ({library_defaults})")
    parser.add_argument("--max-seq-len", type=positive_int, default=None, metavar="N",
                        help=f"the longest input, an int >= 1 ({library_defaults})")
    parser.add_argument("--causal", action="store_true",
                        help="causal attention mask (position q sees only tokens <= q)")


# -- programs ----------------------------------------------------------------------------


def _cmd_programs(args: argparse.Namespace) -> int:
    from theory_kit.library import PROGRAMS

    width = max(len(name) for name in PROGRAMS)
    for name, spec in PROGRAMS.items():
        line = f"{name:<{width}}  {spec.doc}"
        if args.long:
            vocab = " ".join(map(str, spec.vocab))
            line += (f"\n{'':<{width}}    vocab: {vocab}; max_seq_len: {spec.max_seq_len}; "
                     f"causal-safe: {'yes' if spec.causal_safe else 'no'}; from {spec.source}")
        print(line)
    return EXIT_OK


def _register_programs(subparsers) -> None:
    parser = subparsers.add_parser("programs", help="list the library programs",
                                   description="List the library programs with one-line docs.")
    parser.add_argument("--long", action="store_true",
                        help="also show default vocabulary, max_seq_len and causal safety")
    parser.set_defaults(func=_cmd_programs)


# -- eval --------------------------------------------------------------------------------


def _cmd_eval(args: argparse.Namespace) -> int:
    from theory_kit.rasp import evaluate

    name, program, vocab, max_seq_len, spec = _program_and_domain(args, need_domain=False)
    tokens = [parse_token(t) for t in args.tokens]
    if vocab is not None:
        for pos, tok in enumerate(tokens):
            if tok not in vocab:
                raise InvalidInput(f"token {tok!r} at position {pos} is not in the vocabulary "
                                   f"of {name!r}: {list(vocab)}")
    if max_seq_len is not None and len(tokens) > max_seq_len:
        which = ("its default max_seq_len" if spec is not None and args.max_seq_len is None
                 else "--max-seq-len")
        raise InvalidInput(f"{name!r} takes at most {max_seq_len} tokens ({which}), "
                           f"got {len(tokens)}")
    if spec is not None and spec.precondition is not None and not spec.precondition(tokens):
        raise InvalidInput(f"input {tokens} is outside the domain of {name!r}: "
                           f"{spec.precondition_doc}")
    print(evaluate(program, tokens, causal=args.causal))
    return EXIT_OK


def _register_eval(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval", help="run the reference interpreter on a program",
        description="Evaluate a library program or your own (MODULE:FUNCTION) on the given "
                    "tokens and print the output list. Tokens that look like ints are ints.")
    _add_program_arguments(parser, library_defaults="default: the library program's; "
                                                     "unchecked for your own")
    parser.add_argument("tokens", nargs="+", metavar="TOKEN", help="the input tokens")
    parser.set_defaults(func=_cmd_eval)


# -- compile -------------------------------------------------------------------------------


def _cmd_compile(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from theory_kit.compiler.compile import compile as compile_program

    name, program, vocab, max_seq_len, _ = _program_and_domain(args, need_domain=True)
    compiled = compile_program(program, vocab=set(vocab), max_seq_len=max_seq_len,
                               causal=args.causal,
                               dtype=np.float32 if args.float32 else np.float64,
                               verify=None if args.no_verify else "auto")
    constants = compiled.constants
    report: Dict[str, Any] = {
        "program": name, "vocab": list(vocab), "max_seq_len": max_seq_len,
        "causal": args.causal, **compiled.summary(),
        "beta": constants["beta"], "beta_formula": constants["beta_formula"],
        "verified_inputs": constants.get("verified_inputs", 0)}
    if args.out:
        _save_model(compiled, args.out)
    if args.json:
        print(json.dumps(report, indent=1, default=str))
    else:
        for key, value in report.items():
            print(f"{key:>16}: {value}")
    if args.out:
        print(f"saved to {args.out}", file=sys.stderr)
    return EXIT_OK


def _register_compile(subparsers) -> None:
    parser = subparsers.add_parser(
        "compile", help="compile a program and verify it against the interpreter",
        description="Compile a library program or your own (MODULE:FUNCTION, which needs "
                    "--vocab and --max-seq-len), verify it (exhaustively up to 100,000 inputs, "
                    "else 2,000 seeded samples) and print its sizes and constants.")
    _add_program_arguments(parser, library_defaults="default: the library program's; "
                                                    "required for your own")
    parser.add_argument("--float32", action="store_true", help="float32 weights")
    parser.add_argument("--no-verify", action="store_true", help="skip verification")
    parser.add_argument("--json", action="store_true",
                        help="print the report as one JSON document (and nothing else) on stdout")
    parser.add_argument("--out", "--save", dest="out", metavar="FILE",
                        help="save the model: .npz (theory_kit's model file) or .safetensors "
                             "(needs theory_kit[export]); 'saved to FILE' goes to stderr")
    parser.set_defaults(func=_cmd_compile)


def _save_model(model: Any, out: str) -> None:
    if str(out).endswith(".safetensors"):
        from theory_kit.export import save_safetensors
        save_safetensors(model, out)
    else:
        model.save(out)


# -- export --------------------------------------------------------------------------------


def _cmd_export(args: argparse.Namespace) -> int:
    from theory_kit import export
    from theory_kit.model.compiled import load

    model = (export.load_safetensors(args.model) if args.model.endswith(".safetensors")
             else load(args.model))
    out = args.out or (args.model.rsplit(".", 1)[0]
                       + ("_tl.safetensors" if args.to == "transformer-lens" else ".safetensors"))
    if out == args.model:
        raise InvalidInput(f"export: --out {out!r} is the model file itself")
    export.save_safetensors(model, out, transformer_lens=args.to == "transformer-lens")
    print(f"saved to {out}", file=sys.stderr)
    return EXIT_OK


def _register_export(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="export a model file to safetensors (theory_kit or TransformerLens layout)",
        description="Convert a model file (.npz or .safetensors) to safetensors: --to "
                    "safetensors keeps theory_kit's arrays and metadata (load with "
                    "theory_kit.export.load_safetensors); --to transformer-lens writes a "
                    "HookedTransformer's state dict and config (load_safetensors returns the "
                    "HookedTransformer). Needs theory_kit[export].")
    parser.add_argument("model", metavar="MODEL", help="a .npz or .safetensors model file")
    parser.add_argument("--to", choices=("safetensors", "transformer-lens"),
                        default="safetensors", help="the layout written (default: safetensors)")
    parser.add_argument("--out", metavar="FILE",
                        help="the file written (default: next to MODEL, ending .safetensors or "
                             "_tl.safetensors)")
    parser.set_defaults(func=_cmd_export)


# -- init --------------------------------------------------------------------------------


def _cmd_init(args: argparse.Namespace) -> int:
    from theory_kit.paper.project import init

    written = init(args.path)
    root = Path(args.path)
    for path in written:
        print(path)
    print(f"paper project created in {root}: `make figures` and `make appendix` there "
          f"(README.md says which python they use)", file=sys.stderr)
    return EXIT_OK


def _register_init(subparsers) -> None:
    parser = subparsers.add_parser(
        "init", help="create a paper project (figures, claims, appendix, Makefile)",
        description="Create a paper project at PATH: figures/fig_example.py, claims/claims.py "
                    "(one example claim), appendix/appendix.tex, a Makefile with `make figures` "
                    "and `make appendix` (the build system of theory_kit's own paper) and a "
                    "README. PATH must be new or hold none of these files; nothing is "
                    "overwritten. Prints the files written.")
    parser.add_argument("path", metavar="PATH", help="the project folder (created if missing)")
    parser.set_defaults(func=_cmd_init)


# -- sweep ---------------------------------------------------------------------------------


def _sweep_command(name: str):
    def command(args: argparse.Namespace) -> int:
        from theory_kit.sweep import cli as sweep_cli

        return getattr(sweep_cli, name)(args)

    return command


def _register_sweep(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep", help="run a resumable parameter sweep (local processes or Dask)",
        description="Parameter sweeps whose every finished cell is stored as it completes "
                    "(theory_kit.sweep): `run SPEC` runs or resumes one, `status DIR` and "
                    "`table DIR` show a store.")
    actions = parser.add_subparsers(dest="sweep_command", metavar="ACTION")
    actions.required = True
    run = actions.add_parser(
        "run", help="run or resume the sweep a spec names",
        description="Run the sweep SPEC names (a JSON or Python file with fn, grid, seeds, "
                    "store; optional engine, workers, address, cluster). Finished cells in the "
                    "store are skipped; Ctrl-C keeps every finished cell (exit 130). Exit 1 "
                    "when a cell failed (its traceback is in the store).")
    run.add_argument("spec", metavar="SPEC", help="a .json or .py sweep spec")
    run.add_argument("--engine", choices=("local", "dask", "serial"), default=None,
                     help="override the spec's engine (default local)")
    run.add_argument("--workers", type=positive_int, default=None, metavar="N",
                     help="worker processes (local, dask LocalCluster)")
    run.add_argument("--address", default=None, metavar="ADDR",
                     help="a running Dask scheduler, e.g. tcp://host:8786 (engine dask)")
    run.add_argument("--cluster", default=None, metavar="FILE",
                     help="a dask-jobqueue config file (YAML/JSON; engine dask)")
    run.add_argument("--store", default=None, metavar="DIR", help="override the spec's store")
    run.add_argument("--retry-failed", action="store_true",
                     help="also rerun the cells recorded as failed")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.set_defaults(func=_sweep_command("cmd_run"))
    status = actions.add_parser("status", help="how far a sweep got",
                                description="Cells done, failed and remaining in store DIR.")
    status.add_argument("dir", metavar="DIR", help="the store folder")
    status.add_argument("--json", action="store_true", help="one JSON document on stdout")
    status.set_defaults(func=_sweep_command("cmd_status"))
    table = actions.add_parser("table", help="print a sweep's results",
                               description="Every cell of store DIR, one row each (parameters, "
                                           "seed, status, result fields, error, duration, host, "
                                           "version).")
    table.add_argument("dir", metavar="DIR", help="the store folder")
    table.add_argument("--format", choices=("csv", "tsv", "json"), default="csv",
                       help="output format (default csv)")
    table.add_argument("--failed", action="store_true", help="only the failed cells")
    table.set_defaults(func=_sweep_command("cmd_table"))


#: Subcommand registrars, called in order when the parser is built. Append to add commands.
REGISTRARS: List[Registrar] = [_register_programs, _register_eval, _register_compile,
                               _register_export, _register_init, _register_sweep]


def _optional_registrars() -> List[Registrar]:
    """Registrars of packages that may not exist yet (only their absence is tolerated)."""
    try:
        module = import_module(_OPTIONAL_REGISTRAR_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name in (_OPTIONAL_REGISTRAR_MODULE, _OPTIONAL_REGISTRAR_MODULE.rpartition(".")[0]):
            return []
        raise
    return [module.register_commands]


def _optional_module_present() -> bool:
    """Whether the claims module's file exists (checked without importing it)."""
    return (Path(__file__).resolve().parent / "claims" / "cli.py").is_file()


def _command_of(argv: Sequence[str]) -> Optional[str]:
    """The subcommand named in argv: the first argument not starting with '-' (the top-level
    parser only has flags without values), or None."""
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg
    return None


def build_parser(argv: Optional[Sequence[str]] = None) -> argparse.ArgumentParser:
    """The `theory-kit` argument parser.

    Args:
        argv: the arguments it will parse. Given, the optional claims module is imported only
            if argv names one of its commands or an unknown one (its commands are otherwise
            listed from OPTIONAL_COMMANDS). None: every registrar is imported and called.
    """
    parser = argparse.ArgumentParser(
        prog="theory-kit",
        description="Check claims about transformer constructions instead of trusting them.")
    parser.add_argument("--version", action="version", version=f"theory-kit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for register in REGISTRARS:
        register(subparsers)
    command = None if argv is None else _command_of(argv)
    if argv is not None and (command is None or command in subparsers.choices):
        if _optional_module_present():
            for name, help_text in OPTIONAL_COMMANDS.items():
                if name not in subparsers.choices:  # listed for --help; never run from here
                    subparsers.add_parser(name, help=help_text)
    else:
        for register in _optional_registrars():
            register(subparsers)
    return parser


class _GuardedStdout:
    """sys.stdout while a command runs: once the reader has gone (EPIPE), further output is
    discarded instead of raising, so the command finishes and its exit code is kept."""

    def __init__(self, stream):
        self._stream = stream
        self.broken = False

    def _closed_pipe(self) -> None:
        self.broken = True
        try:  # later writes and the interpreter's final flush go nowhere, silently
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._closed_pipe()
        return len(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._closed_pipe()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run `theory-kit` with `argv` (default: sys.argv[1:]) and return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None
                                                           else EXIT_USAGE)
    stdout = sys.stdout
    guard = _GuardedStdout(stdout)
    sys.stdout = guard
    try:
        code = int(args.func(args))
        guard.flush()
        return code
    except TheoryKitError as exc:
        guard.flush()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # a write that bypassed the guard (e.g. sys.stdout.buffer)
        guard._closed_pipe()
        return EXIT_BROKEN_PIPE
    finally:
        if sys.stdout is guard:
            sys.stdout = stdout


if __name__ == "__main__":
    sys.exit(main())
