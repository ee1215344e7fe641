"""Shared machinery of proofs_numeric/check_<claim>.py: verify a registered claim, write its
LaTeX table and macros to <generated>/<claim>.tex, exit non-zero on violation. <generated> is
theory_kit.paths.appendix_generated_dir() (paper_appendix/generated unless redirected by
THEORY_KIT_APPENDIX_GENERATED) or --out-dir.

Output is byte-for-byte reproducible for a fixed budget and seed: numbers are printed with 6
significant digits, nothing depends on time or the machine's paths, and files are written to a
temporary file then renamed (os.replace), so an interrupted run leaves no half-written file.
When the claim fails, no table is written and any stale one is removed, so the appendix can never
show numbers from a run that failed.

A claim whose quantity and bound are both formulas is proved (verify(method="prove"): sympy, then
interval branch and bound, the certificate re-checked by theory_kit.claims.prove.check_proof);
its table says "proved (certificate: ...)". Other claims are searched and say "searched (N points,
worst ratio r)". The macro \tk<Claim>Status holds that phrase for the appendix's summary table.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path
from typing import Callable

_ROOT = Path(__file__).resolve().parents[1]
if str(_ROOT) not in sys.path:  # runnable as a plain script without installing the package
    sys.path.insert(0, str(_ROOT))

import sympy as sp  # noqa: E402

from theory_kit import paths  # noqa: E402
from theory_kit.claims import DEFAULT_BUDGET, Claim, Verdict, get, verify  # noqa: E402
from theory_kit.errors import TheoryKitError  # noqa: E402

_DIGITS = {"0": "Zero", "1": "One", "2": "Two", "3": "Three", "4": "Four", "5": "Five", "6": "Six",
           "7": "Seven", "8": "Eight", "9": "Nine"}
_RELATION_TEX = {"<=": r"\leq", "<": "<", ">=": r"\geq", ">": ">", "==": "="}


def camel(name: str) -> str:
    """Letters-only CamelCase of an identifier: digits spelled out ("float16" -> "FloatOneSix")."""
    parts = re.split(r"[^A-Za-z0-9]+", name)
    out = []
    for part in parts:
        for chunk in re.findall(r"[A-Za-z]+|[0-9]", part):
            out.append(_DIGITS[chunk] if chunk.isdigit() else chunk[0].upper() + chunk[1:])
    return "".join(out)


def tex_number(x) -> str:
    """Deterministic LaTeX for a number: ints as is, floats to 6 significant digits."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return r"\ensuremath{\infty}" if x > 0 else r"\ensuremath{-\infty}"
    s = format(x, ".6g")
    if "e" in s:
        mant, exp = s.split("e")
        return rf"\ensuremath{{{mant}\times 10^{{{int(exp)}}}}}"
    return s


write_atomic = paths.write_atomic


def _param_tex(name: str) -> str:
    tex = sp.latex(sp.Symbol(name))
    # sympy leaves multi-letter names like "spread" as is: set them upright, not as a product
    return rf"\mathrm{{{tex}}}" if tex == name and len(name) > 1 else tex


def status_text(verdict: Verdict) -> str:
    """"proved (certificate: k boxes)" / "proved (certificate: sympy identity)" / "searched (N points, worst ratio r)"."""
    if verdict.status == "proved" and verdict.proof is not None:
        if verdict.proof.kind == "sympy":
            return "proved (certificate: sympy, 1 box)"
        k = verdict.proof.n_boxes
        return f"proved (certificate: {k} box{'es' if k != 1 else ''})"
    if verdict.method == "prove":
        return f"{verdict.status} (searched {verdict.n_evaluated} points)"
    return f"searched ({verdict.n_evaluated} points, worst ratio {tex_number(verdict.worst_ratio)})"


def render_tex(claim: Claim, verdict: Verdict, extra_macros: dict[str, str] | None = None,
               extra_rows: list[tuple[str, str]] | None = None) -> str:
    """The .tex text for a verified claim: macros first, then a small tabular."""
    prefix = "tk" + camel(claim.name)
    macros: dict[str, str] = {
        "Holds": "yes" if verdict.holds else "no",
        "Status": status_text(verdict),
        "NearMisses": str(verdict.n_near_misses),
        "WorstRatio": tex_number(verdict.worst_ratio),
        "WorstQuantity": tex_number(verdict.worst_quantity),
        "WorstBound": tex_number(verdict.worst_bound),
        "Evaluated": str(verdict.n_evaluated),
        "Budget": str(verdict.budget),
        "Seed": str(verdict.seed),
    }
    for k, v in verdict.worst_params.items():
        macros["Worst" + camel(k)] = tex_number(v)
    for k, v in (extra_macros or {}).items():
        macros[k] = v
    seen: dict[str, str] = {}
    for key in macros:
        full = prefix + key
        if not full.isalpha():
            raise TheoryKitError(f"macro name {full!r} must be letters only")
        if full.lower() in seen:
            raise TheoryKitError(f"macro names {seen[full.lower()]!r} and {full!r} collide")
        seen[full.lower()] = full
    lines = [
        f"% Generated by proofs_numeric/check_{claim.name}.py -- do not edit.",
        f"% Claim {claim.name}: {claim.description}",
        f"% Source: {claim.source}",
        f"% Domain: {', '.join(s.describe() for s in claim.params)}",
        f"% Verifier: budget {verdict.budget}, seed {verdict.seed}.",
    ]
    lines += [rf"\newcommand{{\{prefix}{k}}}{{{v}}}" for k, v in macros.items()]
    where = ", ".join(f"${_param_tex(k)} = {tex_number(v)}$" for k, v in verdict.worst_params.items())
    domain = ", ".join(
        f"${_param_tex(s.name)} \\in [{tex_number(s.lo)}, {tex_number(s.hi)}]$ ({s.kind})" for s in claim.params)
    rows = [
        ("claim", r"\texttt{" + claim.name.replace("_", r"\_") + "}"),
        ("asserts", f"${sp.latex(claim.quantity_expr) if claim.quantity_expr is not None else chr(92) + 'mbox{quantity}'} "
                    f"{_RELATION_TEX[claim.relation]} {sp.latex(claim.bound)}$"),
        ("domain", domain),
        ("verdict", status_text(verdict) if verdict.holds else "violated"),
        ("worst ratio", tex_number(verdict.worst_ratio)),
        ("tightest at", where),
        ("points evaluated", f"{verdict.n_evaluated} (budget {verdict.budget}, seed {verdict.seed})"
         + (", exhaustive" if verdict.exhaustive else "")),
        ("rounding", "strict float comparison" if verdict.strict else
         f"rounding-aware; {verdict.n_near_misses} near misses (float noise, not counterexamples)"),
    ]
    if verdict.status == "proved" and verdict.proof is not None:
        rows.append(("proof", "sympy: the slack is non-negative under the domain's assumptions"
                     if verdict.proof.kind == "sympy" else
                     f"interval branch and bound, {verdict.proof.n_boxes} box{'es' if verdict.proof.n_boxes != 1 else ''}, re-checked by check\\_proof"))
    rows += extra_rows or []
    lines.append(r"\begin{tabular}{@{}ll@{}}")
    lines += [f"{k} & {v} \\\\" for k, v in rows]
    lines.append(r"\end{tabular}")
    return "\n".join(lines) + "\n"


def run_check(name: str, argv: list[str] | None = None,
              extra: Callable[[], tuple[dict[str, str], list[tuple[str, str]]]] | None = None) -> int:
    """Verify the registered claim `name` and write its .tex; returns the process exit code.

    Args:
        name: a registered claim.
        argv: command-line arguments (default sys.argv[1:]): --out-dir, --budget, --seed.
        extra: optional callable returning (macros without prefix, table rows) to add, for
            measurements beyond the verifier's (e.g. per-dtype breakpoints).

    Returns:
        0 if the claim held (file written), 1 if violated (file removed), 2 on errors.
    """
    parser = argparse.ArgumentParser(description=f"Verify claim {name} and write {name}.tex")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="output folder (default: theory_kit.paths.appendix_generated_dir())")
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = (args.out_dir or paths.appendix_generated_dir()).resolve() / f"{name}.tex"
    try:
        claim = get(name)
        method = "prove" if claim.quantity_expr is not None else "search"
        verdict = verify(claim, budget=args.budget, seed=args.seed, method=method)
        macros, rows = extra() if extra is not None else ({}, [])
        if verdict.status == "undecided":
            if out.exists():
                out.unlink()
            print(f"{name}: UNDECIDED by the prover ({verdict.prove_info}); no table written")
            return 3
        if not verdict.holds:
            if out.exists():
                out.unlink()
            cex = ", ".join(f"{k}={v!r}" for k, v in verdict.counterexample.items())
            print(f"{name}: VIOLATED at {cex}: quantity {verdict.worst_quantity!r} {claim.relation} bound "
                  f"{verdict.worst_bound!r} fails (worst ratio {verdict.worst_ratio:.6g}); no table written")
            return 1
        write_atomic(out, render_tex(claim, verdict, macros, rows))
    except TheoryKitError as exc:
        print(f"{name}: ERROR: {exc}", file=sys.stderr)
        return 2
    print(f"{name}: {status_text(verdict)} -> {out.name}")
    return 0
