"""The `theory-kit` command line: list and run library programs; other packages add subcommands.

Every subcommand is added by a *registrar*: a function taking argparse's subparsers object that
adds one or more parsers and sets `func=<function(args) -> int>` on each with `set_defaults`.
`REGISTRARS` lists them in order; to add `compile` or `verify-program`, write a registrar and
append it there. `theory_kit.claims.cli.register_commands`, when that module exists, is called
the same way.

Exit codes: 0 success, 2 bad usage or a TheoryKitError (printed as `error: <message>`).
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from importlib import import_module
from typing import Callable, List, Optional, Sequence

from theory_kit import __version__
from theory_kit.errors import InvalidInput, TheoryKitError

__all__ = ["main", "build_parser", "REGISTRARS", "parse_token", "EXIT_OK", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_USAGE = 2

Registrar = Callable[[argparse._SubParsersAction], None]

_INT = re.compile(r"[+-]?\d+\Z")
_OPTIONAL_REGISTRAR_MODULE = "theory_kit.claims.cli"


def parse_token(text: str):
    """A command-line token: an int when it looks like one ("3", "-1"), otherwise the string."""
    return int(text) if _INT.match(text) else text


def _lookup_program(name: str):
    from theory_kit.library import PROGRAMS

    try:
        return PROGRAMS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(PROGRAMS), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise InvalidInput(f"unknown program {name!r}{hint} (`theory-kit programs` lists "
                           "them all)") from None


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

    spec = _lookup_program(args.program)
    tokens = [parse_token(t) for t in args.tokens]
    for pos, tok in enumerate(tokens):
        if tok not in spec.vocab:
            raise InvalidInput(
                f"token {tok!r} at position {pos} is not in the vocabulary of {spec.name!r}: "
                f"{list(spec.vocab)}")
    if len(tokens) > spec.max_seq_len:
        raise InvalidInput(f"{spec.name!r} takes at most {spec.max_seq_len} tokens (its default "
                           f"max_seq_len), got {len(tokens)}")
    if spec.precondition is not None and not spec.precondition(tokens):
        raise InvalidInput(f"input {tokens} is outside the domain of {spec.name!r}: "
                           f"{spec.precondition_doc}")
    print(evaluate(spec(), tokens, causal=args.causal))
    return EXIT_OK


def _register_eval(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval", help="run the reference interpreter on a library program",
        description="Evaluate a library program (default arguments) on the given tokens and "
                    "print the output list. Tokens that look like ints are ints.")
    parser.add_argument("program", help="a name from `theory-kit programs`")
    parser.add_argument("tokens", nargs="+", metavar="TOKEN", help="the input tokens")
    parser.add_argument("--causal", action="store_true",
                        help="evaluate with a causal mask (position q sees only tokens <= q)")
    parser.set_defaults(func=_cmd_eval)


# -- compile -------------------------------------------------------------------------------


def _cmd_compile(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from theory_kit.compiler.compile import compile as compile_program

    spec = _lookup_program(args.program)
    max_seq_len = args.max_seq_len or spec.max_seq_len
    model = compile_program(spec(), vocab=set(spec.vocab), max_seq_len=max_seq_len,
                            causal=args.causal,
                            dtype=np.float32 if args.float32 else np.float64,
                            verify=None if args.no_verify else "auto")
    report = {"program": spec.name, "vocab": list(spec.vocab), "max_seq_len": max_seq_len,
              "causal": args.causal, **model.summary(),
              "beta": model.constants["beta"], "beta_formula": model.constants["beta_formula"],
              "verified_inputs": model.constants.get("verified_inputs", 0)}
    if args.json:
        print(json.dumps(report, indent=1, default=str))
    else:
        for key, value in report.items():
            print(f"{key:>16}: {value}")
    if args.save:
        model.save(args.save)
        print(f"saved to {args.save}")
    return EXIT_OK


def _register_compile(subparsers) -> None:
    parser = subparsers.add_parser(
        "compile", help="compile a library program and verify it against the interpreter",
        description="Compile a library program (default arguments and vocabulary), verify it "
                    "(exhaustively up to 100,000 inputs) and print its sizes and constants.")
    parser.add_argument("program", help="a name from `theory-kit programs`")
    parser.add_argument("--max-seq-len", type=int, default=None,
                        help="longest input (default: the program's)")
    parser.add_argument("--causal", action="store_true", help="compile a decoder")
    parser.add_argument("--float32", action="store_true", help="float32 weights")
    parser.add_argument("--no-verify", action="store_true", help="skip verification")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--save", metavar="PATH", help="save the model (.npz)")
    parser.set_defaults(func=_cmd_compile)


#: Subcommand registrars, called in order when the parser is built. Append to add commands.
REGISTRARS: List[Registrar] = [_register_programs, _register_eval, _register_compile]


def _optional_registrars() -> List[Registrar]:
    """Registrars of packages that may not exist yet (only their absence is tolerated)."""
    try:
        module = import_module(_OPTIONAL_REGISTRAR_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name in (_OPTIONAL_REGISTRAR_MODULE, _OPTIONAL_REGISTRAR_MODULE.rpartition(".")[0]):
            return []
        raise
    return [module.register_commands]


def build_parser() -> argparse.ArgumentParser:
    """The `theory-kit` argument parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="theory-kit",
        description="Check claims about transformer constructions instead of trusting them.")
    parser.add_argument("--version", action="version", version=f"theory-kit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for register in [*REGISTRARS, *_optional_registrars()]:
        register(subparsers)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run `theory-kit` with `argv` (default: sys.argv[1:]) and return the exit code."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None
                                                           else EXIT_USAGE)
    try:
        return int(args.func(args))
    except TheoryKitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `theory-kit programs | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
