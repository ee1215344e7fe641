"""The `claims` and `verify` subcommands of the theory-kit command line.

`theory_kit.cli` calls `register_commands(subparsers)`; `main(argv)` runs them standalone (tests,
`python -m theory_kit.claims.cli`). `verify --latex` prints the verdict as one LaTeX table row
(theory_kit.paper.latex.claim_row). Exit codes of verify: 0 the claim held (or was proved with
--prove), 1 a counterexample was found (printed in full), 2 bad usage (unknown claim, malformed
domain or bound, a quantity that cannot be imported or fails) — with the reason on stderr —, 3 the
prover could not decide (--prove).

Verdicts are rounding-aware unless --strict: a float violation is re-checked with the bound (and an
expression quantity) at 50 digits; a black-box quantity missing by at most a few ulps, or both
sides below the smallest normal float, is a "near miss", listed, never a counterexample.

`verify --executor local [--workers N]` or `--executor tcp://HOST:PORT` (a Dask scheduler)
evaluates the search's quantity in parallel (`verify(..., executor=...)`); the verdict is the
serial one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys

import sympy as sp

from theory_kit.claims.claim import RELATIONS, Claim, parse_domain
from theory_kit.claims.parsing import parse_expression
from theory_kit.claims.registry import get, names
from theory_kit.claims.verify import DEFAULT_BUDGET, NEAR_MISS_ULPS, Verdict, verify
from theory_kit.errors import TheoryKitError

__all__ = ["register_commands", "main", "load_quantity", "parse_bound", "format_verdict"]

EXIT_HELD, EXIT_VIOLATED, EXIT_USAGE, EXIT_UNDECIDED = 0, 1, 2, 3

#: The rounding rule, as `theory-kit verify` prints it.
ROUNDING_RULE = ("rounding-aware: a float violation is re-checked at 50 digits (bound, and quantity if a formula); "
                 f"a black-box quantity off by <= {NEAR_MISS_ULPS} ulps, or both sides below the smallest normal "
                 "float, is a near miss, not a counterexample (--strict compares floats exactly)")


class UsageError(TheoryKitError):
    """Internal: a command-line problem to report on stderr with exit code 2."""


def register_commands(subparsers) -> None:
    """Add the `claims` and `verify` subcommands to an argparse subparsers object.

    Args:
        subparsers: the object returned by ArgumentParser.add_subparsers().
    """
    p = subparsers.add_parser("claims", help="list the registered claims (name, relation, source)",
                              description="List the registered claims, one per line: name, relation, source.")
    p.add_argument("--json", action="store_true", help="print a JSON list instead")
    p.set_defaults(func=cmd_claims)

    v = subparsers.add_parser(
        "verify", help="try hard to break a claim",
        description="Search a claim's domain adversarially for a violation. Give a registered claim NAME, or "
                    "your own claim with --quantity, --bound and --domain. Exit 0 if it held, 1 if a "
                    "counterexample was found, 2 on bad usage.")
    v.add_argument("name", nargs="?", help="a registered claim (see `theory-kit claims`)")
    v.add_argument("--budget", type=int, default=DEFAULT_BUDGET, help=f"maximum quantity evaluations (default {DEFAULT_BUDGET})")
    v.add_argument("--seed", type=int, default=0, help="seed of the search (default 0)")
    out = v.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the verdict as JSON")
    out.add_argument("--latex", action="store_true",
                     help="print the verdict as one LaTeX table row (claim & statement & domain & verdict \\\\), "
                          "for a tabularx table with booktabs rules (theory_kit.paper.latex.claims_table)")
    v.add_argument("--progress", action="store_true", help="report progress on stderr")
    v.add_argument("--strict", action="store_true",
                   help="compare floats exactly (default: rounding-aware, float noise reported as near misses)")
    v.add_argument("--prove", action="store_true",
                   help="prove the claim (sympy, then interval branch and bound) when quantity and bound are formulas; "
                        "exit 3 if undecided")
    v.add_argument("--max-boxes", type=int, default=None, help="box budget of --prove")
    v.add_argument("--max-seconds", type=float, default=None, help="time budget of --prove, seconds")
    v.add_argument("--executor", default="serial", metavar="serial|local|tcp://HOST:PORT",
                   help="where the quantity is evaluated: serial (default, this process), local (worker "
                        "processes, see --workers) or a Dask scheduler address (needs theory_kit[sweep]); "
                        "the verdict is the same for all of them")
    v.add_argument("--workers", type=int, default=None,
                   help="worker processes of --executor local (default: the CPU count)")
    g = v.add_argument_group("your own claim")
    g.add_argument("--quantity", metavar="MODULE:FUNCTION|EXPR",
                   help="callable taking the parameters as keyword arguments, or a formula in the domain's names "
                        "(anything without a ':'), kept exact for --prove")
    g.add_argument("--bound", metavar="EXPR", help='expression in the domain\'s names, e.g. "1/(1+(n-1)*exp(-beta))" '
                                                   '(+ - * / ** // %%, exp, log, sqrt, floor, Min, Max, ...; never run as Python)')
    g.add_argument("--domain", metavar="SPEC",
                   help='NAME=LO..HI:KIND,... e.g. "n=2..1024:int,beta=0.1..50:log"; KIND is int, real, log or logint; '
                        'an entry without :KIND is real (default), and a note says so on stderr')
    g.add_argument("--relation", default="<=", help=f"one of {', '.join(RELATIONS)} (default <=)")
    g.add_argument("--rtol", type=float, default=0.0, help="relative slack for non-strict relations (default 0)")
    g.add_argument("--atol", type=float, default=0.0, help="absolute slack for non-strict relations (default 0)")
    g.add_argument("--claim-name", default="user_claim", help="name shown in the verdict (default user_claim)")
    v.set_defaults(func=cmd_verify)


def cmd_claims(args) -> int:
    """List claims; returns 0."""
    claims = [get(n) for n in names()]
    if args.json:
        print(json.dumps([{"name": c.name, "relation": c.relation, "bound": str(c.bound), "source": c.source,
                           "description": c.description, "domain": {s.name: [s.lo, s.hi, s.kind] for s in c.params}}
                          for c in claims], indent=2))
        return EXIT_HELD
    width = max((len(c.name) for c in claims), default=4)
    for c in claims:
        print(f"{c.name:<{width}}  {c.relation:<2}  {c.source}")
    return EXIT_HELD


def load_quantity(spec: str):
    """Import MODULE:FUNCTION (the current directory is importable) and return the callable.

    The same loader as `theory-kit compile/eval MODULE:FUNCTION`
    (theory_kit.paper.loading.load_object).

    Raises:
        UsageError: for a malformed spec, a module that does not import, a missing attribute,
            or an attribute that is not callable.
    """
    from theory_kit.paper.loading import load_object

    try:
        obj = load_object(spec, what="--quantity", where=f"--quantity {spec!r}")
    except TheoryKitError as exc:
        raise UsageError(str(exc)) from exc
    if not callable(obj):
        attr = spec.partition(":")[2]
        raise UsageError(f"--quantity {spec!r}: {attr!r} is a {type(obj).__name__}, not a callable")
    return obj


def parse_bound(text: str, names_: list[str]) -> sp.Expr:
    """Parse a bound expression with every domain name read as a plain symbol.

    Names such as beta, gamma, E, I, N, S would otherwise mean sympy functions or constants. The
    text is never evaluated as Python (theory_kit.claims.parsing: a whitelist of operators,
    functions and constants, walked in the parsed syntax tree).

    Raises:
        UsageError: if the text does not parse, uses anything outside the whitelist, or is a
            comparison rather than an expression.
    """
    try:
        return parse_expression(text, names_, source="--bound")
    except TheoryKitError as exc:
        raise UsageError(str(exc)) from exc


def _user_claim(args) -> Claim:
    missing = [flag for flag, val in (("--quantity", args.quantity), ("--bound", args.bound), ("--domain", args.domain)) if val is None]
    if missing:
        raise UsageError(f"a claim of your own needs --quantity, --bound and --domain; missing {', '.join(missing)}")
    domain = parse_domain(args.domain)
    defaulted = [item.split("=", 1)[0].strip() for item in args.domain.split(",") if ":" not in item]
    if defaulted:
        print(f"theory-kit verify: note: {', '.join(defaulted)} given without a kind: searched as real "
              "(write NAME=LO..HI:KIND with KIND int, real, log or logint)", file=sys.stderr)
    looks_like_module = re.fullmatch(r"[A-Za-z_][\w.]*", args.quantity) and args.quantity not in domain
    if ":" in args.quantity or looks_like_module:  # a bare module name is a MODULE:FUNCTION typo
        quantity = load_quantity(args.quantity)
    else:
        try:
            quantity = parse_expression(args.quantity, list(domain), source="--quantity")
        except TheoryKitError as exc:
            raise UsageError(str(exc)) from exc
    bound = parse_bound(args.bound, list(domain))
    return Claim(args.claim_name, quantity, bound, domain, relation=args.relation,
                 source=f"user: {args.quantity} vs {args.bound}", rtol=args.rtol, atol=args.atol)


def _fmt(x) -> str:
    return format(x, ".6g") if isinstance(x, float) else str(x)


def format_verdict(claim: Claim, verdict: Verdict) -> str:
    """The human-readable verdict table (full-precision counterexample when the claim failed)."""
    rows = [
        ("claim", claim.name),
        ("asserts", f"quantity {claim.relation} {claim.bound}"),
        ("verdict", {"holds": "HOLDS", "violated": "COUNTEREXAMPLE FOUND", "proved": "PROVED",
                     "refuted": "REFUTED (exact counterexample)", "undecided": "UNDECIDED"}.get(verdict.status, verdict.status)),
        ("worst ratio", _fmt(verdict.worst_ratio)),
        ("where", ", ".join(f"{k}={_fmt(v)}" for k, v in verdict.worst_params.items())),
        ("quantity", _fmt(verdict.worst_quantity)),
        ("bound", _fmt(verdict.worst_bound)),
        ("evaluated", f"{verdict.n_evaluated} of budget {verdict.budget} (seed {verdict.seed})"
                      + (", exhaustive" if verdict.exhaustive else "")),
    ]
    if verdict.n_violations:
        rows.append(("violations", f"{verdict.n_violations}, first at evaluation {verdict.first_violation_at}"))
    rows.append(("rounding", "strict: floats compared exactly" if verdict.strict else ROUNDING_RULE))
    if verdict.n_near_misses:
        worst = verdict.near_misses[0]
        rows.append(("near misses", f"{verdict.n_near_misses} (largest {worst.ulps:.3g} ulps, {worst.reason}, at "
                                    + ", ".join(f"{k}={_fmt(v)}" for k, v in worst.params.items()) + ")"))
    if verdict.method == "prove":
        info = verdict.prove_info or {}
        if verdict.status == "proved":
            p = verdict.proof
            what = "sympy (non-negative form)" if p.kind == "sympy" else f"certificate: {p.n_boxes} boxes"
            rows.append(("proof", f"{what}, re-checked; {info.get('seconds')} s"))
        elif verdict.status == "undecided":
            rows.append(("open", f"{len(verdict.remaining_boxes)} boxes, {verdict.remaining_fraction:.3g} of the domain; "
                                 f"{info.get('reason', '')}"))
        elif verdict.status == "refuted":
            rows.append(("proof", f"h enclosure at the counterexample {info.get('counterexample_enclosure')}"))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    if verdict.counterexample is not None:
        lines.append("counterexample (full precision):")
        lines += [f"  {k} = {v!r}" for k, v in verdict.counterexample.items()]
        lines.append(f"  quantity = {verdict.worst_quantity!r}")
        lines.append(f"  bound    = {verdict.worst_bound!r}")
    return "\n".join(lines)


def cmd_verify(args) -> int:
    """Run the verifier on a registered or user-defined claim; returns the exit code."""
    try:
        own = any(v is not None for v in (args.quantity, args.bound, args.domain))
        if own and args.name is not None:
            raise UsageError(f"give either a claim name ({args.name!r}) or --quantity/--bound/--domain, not both")
        if not own and args.name is None:
            raise UsageError("name a claim (see `theory-kit claims`) or give --quantity, --bound and --domain")
        claim = _user_claim(args) if own else get(args.name)
        progress = _progress_printer() if args.progress else None
        with _executor(args.executor, args.workers) as executor:
            verdict = verify(claim, budget=args.budget, seed=args.seed, progress=progress, strict=args.strict,
                             method="prove" if args.prove else "search", max_boxes=args.max_boxes,
                             max_seconds=args.max_seconds, executor=executor)
    except TheoryKitError as exc:
        print(f"theory-kit verify: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        out = verdict.summary()
        out["bound_expr"] = str(claim.bound)
        print(json.dumps(out, indent=2, sort_keys=True))
    elif args.latex:
        from theory_kit.paper.latex import claim_row

        print(claim_row(claim, verdict))
    else:
        print(format_verdict(claim, verdict))
    if verdict.status == "undecided":
        return EXIT_UNDECIDED
    return EXIT_HELD if verdict.holds else EXIT_VIOLATED


@contextlib.contextmanager
def _executor(name: str, workers: int | None):
    """--executor/--workers as what `verify` takes, stopped afterwards.

    Raises:
        UsageError: an unknown executor, --workers without local or below 1, or a Dask
            address without distributed installed."""
    if workers is not None and (name != "local" or workers < 1):
        raise UsageError(f"--workers {workers} needs --executor local and a count >= 1 (got --executor {name!r})")
    if name == "serial":
        yield None
    elif name == "local":
        if workers is None:
            yield "local"
            return
        from theory_kit.sweep.engines import process_pool, terminate

        pool = process_pool(workers)
        try:
            yield pool
        finally:
            terminate(pool)
    elif "://" in name:
        try:
            from distributed import Client
        except ImportError:
            raise UsageError(f"--executor {name}: a Dask scheduler needs dask and distributed: "
                             "pip install 'theory_kit[sweep]'") from None
        try:
            client = Client(name, timeout=30)
        except OSError as exc:
            raise UsageError(f"--executor {name}: cannot reach the Dask scheduler: {exc}") from exc
        try:
            yield client
        finally:
            client.close()
    else:
        raise UsageError(f"--executor must be serial, local or a Dask scheduler address tcp://HOST:PORT, got {name!r}")


def _progress_printer():
    def progress(done: int, budget: int, phase: str) -> None:
        print(f"[verify] {done}/{budget} {phase}", file=sys.stderr)

    return progress


def build_parser() -> argparse.ArgumentParser:
    """A standalone parser with the claims subcommands (what theory_kit.cli adds to its own)."""
    parser = argparse.ArgumentParser(prog="theory-kit", description="Check claims about transformer constructions.")
    sub = parser.add_subparsers(dest="command", required=True)
    register_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `claims` or `verify` from argv; returns the exit code (argparse errors give 2).

    Args:
        argv: arguments without the program name (default sys.argv[1:]).

    Returns:
        The exit code.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse reports usage errors itself and exits 2 (0 for --help)
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(f"theory-kit: error: {exc.code}", file=sys.stderr)  # sys.exit("message")
        return EXIT_USAGE
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
