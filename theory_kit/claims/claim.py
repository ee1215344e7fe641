"""The Claim object: a measured quantity, a sympy bound, a relation between them and a search box.

A claim reads "for every parameter point in `domain`, quantity(**point) <relation> bound(point)".
`quantity` measures something (a softmax, an MLP, a float computation); `bound` is the formula a
paper states, usually from `theory_kit.bounds`. Validation runs in __post_init__ and reports every
problem of the specification at once in one InvalidClaim.
"""

from __future__ import annotations

import inspect
import keyword
import math
import numbers
import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping

import sympy as sp
from sympy.core.function import AppliedUndef

from theory_kit.claims.parsing import parse_expression
from theory_kit.errors import InvalidClaim

__all__ = ["Claim", "ParamSpec", "RELATIONS", "KINDS", "parse_domain"]

#: Relations a claim may assert between quantity (left) and bound (right).
RELATIONS = ("<=", "<", ">=", ">", "==")
#: Parameter kinds: integers, reals, positive reals searched on a log scale, and integers
#: searched on a log scale ("logint", for ranges such as positions 2..10^6).
KINDS = ("int", "real", "log", "logint")

_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class ParamSpec:
    """One searched parameter: its name, closed range [lo, hi] and kind (see KINDS)."""

    name: str
    lo: float
    hi: float
    kind: str

    @property
    def is_int(self) -> bool:
        """True for "int" and "logint" parameters (values are Python ints)."""
        return self.kind in ("int", "logint")

    @property
    def n_values(self) -> float:
        """Number of distinct values (math.inf for a non-degenerate real range)."""
        if self.is_int:
            return int(self.hi) - int(self.lo) + 1
        return 1 if self.lo == self.hi else math.inf

    def describe(self) -> str:
        """The range in the CLI's domain syntax, e.g. "n=2..1024:int"."""
        return f"{self.name}={_fmt(self.lo)}..{_fmt(self.hi)}:{self.kind}"


def _fmt(x) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def _is_real_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _check_domain(domain) -> tuple[list[ParamSpec], list[str]]:
    problems: list[str] = []
    specs: list[ParamSpec] = []
    if not isinstance(domain, Mapping):
        return [], [f"domain must be a mapping name -> (lo, hi, kind), got {type(domain).__name__} {domain!r}"]
    if len(domain) == 0:
        return [], ["domain is empty: a claim needs at least one parameter to search over"]
    for name, entry in domain.items():
        where = f"domain[{name!r}]"
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            problems.append(f"{where}: parameter name must be a Python identifier (it is passed as a keyword argument), got {name!r}")
            continue
        if not isinstance(entry, (tuple, list)) or len(entry) != 3:
            problems.append(f"{where} must be a (lo, hi, kind) triple, got {entry!r}")
            continue
        lo, hi, kind = entry
        bad = False
        if kind not in KINDS:
            problems.append(f"{where}: kind must be one of {', '.join(map(repr, KINDS))}, got {kind!r}")
            bad = True
        for label, v in (("lo", lo), ("hi", hi)):
            if not _is_real_number(v) or not math.isfinite(float(v)):
                problems.append(f"{where}: {label} must be a finite real number, got {v!r}")
                bad = True
        if bad:
            continue
        lo_f, hi_f = float(lo), float(hi)
        if lo_f > hi_f:
            problems.append(f"{where}: inverted range, lo={lo!r} > hi={hi!r}")
            continue
        if kind in ("int", "logint"):
            nonint = [f"{label}={v!r}" for label, v in (("lo", lo), ("hi", hi)) if not float(v).is_integer()]
            if nonint:
                problems.append(f"{where}: an {kind} parameter needs integer ends, got {', '.join(nonint)}")
                continue
            if abs(lo_f) > 2**53 or abs(hi_f) > 2**53:
                problems.append(f"{where}: integer ends beyond 2^53 are not supported, got lo={lo!r}, hi={hi!r}")
                continue
            lo_v, hi_v = int(lo_f), int(hi_f)
        else:
            lo_v, hi_v = lo_f, hi_f
        if kind in ("log", "logint") and lo_f <= 0:
            problems.append(f"{where}: a {kind} parameter is searched on a log scale and needs lo > 0, got lo={lo!r}")
            continue
        specs.append(ParamSpec(name, lo_v, hi_v, kind))
    return specs, problems


#: Unevaluated sympy objects the verifier cannot evaluate (lambdify has no numeric form for them).
_UNEVALUATED = (sp.Integral, sp.Derivative, sp.Limit, sp.Subs)


def _check_bound(bound, names: set[str]) -> list[str]:
    if not isinstance(bound, sp.Expr):
        hint = " (build it with sympy or theory_kit.bounds, or give its text, e.g. \"(n-1)*exp(-beta)\")"
        return [f"bound must be a sympy expression, got {type(bound).__name__} {bound!r}{hint}"]
    if bound.has(sp.zoo):
        return [f"bound {bound} contains zoo (complex infinity, e.g. from a division by zero); a bound must be a real formula"]
    if bound.has(sp.nan):
        return [f"bound {bound} contains nan (an undefined value); a bound must be a real formula"]
    unevaluated = sorted({type(a).__name__ for a in bound.atoms(*_UNEVALUATED)})
    if unevaluated:
        return [f"bound {bound} contains an unevaluated {', '.join(unevaluated)}, which the verifier cannot evaluate "
                f"numerically; evaluate it (.doit()) or give a closed form"]
    problems = []
    free = sorted(bound.free_symbols, key=str)
    by_name: dict[str, list] = {}
    for s in free:
        by_name.setdefault(str(s), []).append(s)
    for name, syms in by_name.items():
        if len(syms) > 1:
            problems.append(f"bound has {len(syms)} different symbols named {name!r} (different sympy assumptions); use one symbol per name")
    unknown = sorted(set(by_name) - names)
    if unknown:
        problems.append(f"bound uses symbol(s) {', '.join(map(repr, unknown))} not in the domain (domain has {', '.join(map(repr, sorted(names))) or 'nothing'})")
    undef = sorted({str(f.func) for f in bound.atoms(AppliedUndef)})
    if undef:
        problems.append(f"bound calls undefined function(s) {', '.join(map(repr, undef))}; only sympy's known functions can be evaluated")
    return problems


def _check_quantity(quantity, names: list[str]) -> list[str]:
    if not callable(quantity):
        return [f"quantity must be a callable taking the parameters as keyword arguments, got {type(quantity).__name__} {quantity!r}"]
    try:
        sig = inspect.signature(quantity)
    except (TypeError, ValueError):
        return []  # builtins without a signature: checked when first called
    params = sig.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return []
    accepted = {p.name for p in params if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
    missing = [n for n in names if n not in accepted]
    problems = []
    if missing:
        problems.append(f"quantity {getattr(quantity, '__name__', quantity)!r} does not accept parameter(s) {', '.join(map(repr, missing))} as keyword arguments")
    required = [p.name for p in params if p.default is inspect.Parameter.empty and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY) and p.name not in names]
    if required:
        problems.append(f"quantity {getattr(quantity, '__name__', quantity)!r} requires argument(s) {', '.join(map(repr, required))} that are not in the domain")
    return problems


@dataclass(frozen=True, eq=False)
class Claim:
    """A claimed bound on a measured quantity over a box of parameters.

    Attributes:
        name: identifier of the claim (letters, digits, underscores; starts with a letter).
        quantity: callable taking every domain parameter as a keyword argument and returning a
            real number (ints for "int"/"logint" parameters, floats otherwise); or a sympy
            expression over the domain's symbols, or its text (parsed like `bound`). An
            expression is kept exact in `quantity_expr` (for 50-digit re-checks and for
            `verify(..., method="prove")`) and `quantity` becomes its float evaluator
            (numpy, falling back to mpmath where floats overflow or fail).
        bound: sympy expression over symbols named like domain parameters (a subset of them),
            or its text, e.g. "(n-1)*exp(-beta)": parsed safely (never evaluated as Python) by
            `theory_kit.claims.parse_expression` with every domain name read as a plain Symbol,
            so a parameter named beta or gamma is a symbol, not sympy's function. Stored as the
            parsed expression. It must not contain zoo, nan or an unevaluated Integral,
            Derivative, Limit or Subs.
        domain: mapping name -> (lo, hi, kind), kind in KINDS; ranges are closed. Or the
            command line's text, "n=2..1024:int,beta=0.1..50:log" (`parse_domain`). Stored as
            a read-only mapping; `params` gives the parsed ParamSpec tuple in domain order.
        relation: how quantity compares with bound: "<=", "<", ">=", ">" or "==".
        source: where the bound comes from (paper, lemma), shown by `theory-kit claims`.
        description: one line saying what is measured.
        rtol, atol: floating-point slack for non-strict relations and "==": a point violates
            "<=" only if quantity > bound + atol + rtol * max(|quantity|, |bound|) (likewise for
            ">=" and "=="). Strict relations take no slack.

    Raises:
        InvalidClaim: listing every problem of the specification at once (unknown symbols,
            empty, inverted or non-integer ranges, lo <= 0 on a log scale, a bound that is not
            a sympy expression or text the safe parser accepts, a bound containing zoo, nan or
            an unevaluated integral, an unknown relation, a quantity that cannot take the
            parameters).
    """

    name: str
    quantity: Callable[..., Any]
    bound: Any
    domain: Mapping[str, tuple]
    relation: str = "<="
    source: str = ""
    description: str = ""
    rtol: float = 0.0
    atol: float = 0.0
    params: tuple = field(init=False, repr=False)
    #: The quantity as a sympy expression when it was given as one (or as text), else None.
    quantity_expr: Any = field(init=False, repr=False, default=None)

    def __post_init__(self):
        problems: list[str] = []
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            problems.append(f"name must be letters, digits and underscores starting with a letter, got {self.name!r}")
        if isinstance(self.domain, str):  # the CLI's syntax, "n=2..1024:int,beta=0.1..50:log"
            try:
                object.__setattr__(self, "domain", parse_domain(self.domain))
            except InvalidClaim as exc:
                problems += list(getattr(exc, "problems", ()) or [str(exc)])
                object.__setattr__(self, "domain", {})
                specs, domain_problems = [], []
            else:
                specs, domain_problems = _check_domain(self.domain)
        else:
            specs, domain_problems = _check_domain(self.domain)
        problems += domain_problems
        names = list(self.domain) if isinstance(self.domain, Mapping) else []
        str_names = [n for n in names if isinstance(n, str)]
        if isinstance(self.bound, str):
            try:  # never sympify: it would eval the text and read beta, gamma, E... as sympy's
                object.__setattr__(self, "bound", parse_expression(self.bound, str_names, source="bound"))
            except InvalidClaim as exc:
                reason = getattr(exc, "reason", str(exc))
                problems.append(f"bound must be a sympy expression or a formula in the domain's names, got str {self.bound!r}: {reason}"
                                if len(self.bound) <= 200 else f"bound must be a sympy expression or a formula in the domain's names: {exc}")
        if not isinstance(self.bound, str):
            problems += _check_bound(self.bound, set(str_names))
        if isinstance(self.quantity, (str, sp.Expr)):
            qexpr = self.quantity
            if isinstance(qexpr, str):
                try:
                    qexpr = parse_expression(qexpr, str_names, source="quantity")
                except InvalidClaim as exc:
                    problems.append(str(exc))
                    qexpr = None
            if qexpr is not None:
                q_problems = [p.replace("bound", "quantity", 1) for p in _check_bound(qexpr, set(str_names))]
                problems += q_problems
                if not q_problems and not problems:
                    from theory_kit.claims.verify import ExpressionQuantity  # verify imports claim

                    object.__setattr__(self, "quantity_expr", qexpr)
                    object.__setattr__(self, "quantity", ExpressionQuantity(qexpr, str_names))
        elif isinstance(self.quantity, sp.Basic):
            problems.append(f"quantity must be a callable or a sympy expression, got {type(self.quantity).__name__} {self.quantity!r}")
        else:
            problems += _check_quantity(self.quantity, [n for n in names if isinstance(n, str)])
        if self.relation not in RELATIONS:
            problems.append(f"relation must be one of {', '.join(map(repr, RELATIONS))}, got {self.relation!r}")
        for label in ("rtol", "atol"):
            v = getattr(self, label)
            if not _is_real_number(v) or not math.isfinite(float(v)) or float(v) < 0:
                problems.append(f"{label} must be a finite real >= 0, got {v!r}")
        if self.relation in ("<", ">") and _is_real_number(self.rtol) and _is_real_number(self.atol) and (self.rtol or self.atol):
            problems.append(f"a strict relation {self.relation!r} cannot be checked up to a tolerance (rtol={self.rtol!r}, atol={self.atol!r}); use {self.relation + '='!r} or zero tolerances")
        check_text_fields(self, problems)
        raise_problems(f"invalid claim {self.name!r}", problems)
        object.__setattr__(self, "domain", MappingProxyType({s.name: (s.lo, s.hi, s.kind) for s in specs}))
        object.__setattr__(self, "params", tuple(specs))
        object.__setattr__(self, "rtol", float(self.rtol))
        object.__setattr__(self, "atol", float(self.atol))

    def describe(self) -> str:
        """One line: "name: quantity <relation> bound over domain"."""
        dom = ", ".join(s.describe() for s in self.params)
        return f"{self.name}: quantity {self.relation} {self.bound} over {dom}"


def check_text_fields(obj, problems: list[str]) -> None:
    """Append a problem for each of obj.source / obj.description that is not a string."""
    for label in ("source", "description"):
        if not isinstance(getattr(obj, label), str):
            problems.append(f"{label} must be a string, got {getattr(obj, label)!r}")


def raise_problems(head: str, problems: list[str]) -> None:
    """Raise one InvalidClaim listing every problem (its `.problems`), if there are any."""
    if problems:
        exc = InvalidClaim(f"{head}:\n  - " + "\n  - ".join(problems))
        exc.problems = tuple(problems)
        raise exc


def parse_domain(text: str) -> dict[str, tuple]:
    """Parse the CLI domain syntax "n=2..1024:int,beta=0.1..50:log" into a domain mapping.

    Each comma-separated item is NAME=LO..HI[:KIND]; KIND defaults to "real". Numbers are
    Python literals (2, 0.5, 1e-3, -1). Integer-looking ends of int/logint parameters become ints.

    Args:
        text: the domain string.

    Returns:
        dict name -> (lo, hi, kind), in the order given (not yet validated: build a Claim).

    Raises:
        InvalidClaim: naming every malformed item at once (missing "=", "..", bad numbers,
            duplicate names).
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidClaim(f"domain string is empty: expected e.g. 'n=2..1024:int,beta=0.1..50:log', got {text!r}")
    problems, out = [], {}
    for item in text.split(","):
        item = item.strip()
        m = re.fullmatch(r"([^=\s]+)\s*=\s*(.+?)\s*\.\.\s*(.+?)(?:\s*:\s*(\w+))?", item)
        if not m:
            problems.append(f"{item!r} is not NAME=LO..HI[:KIND]")
            continue
        name, lo_s, hi_s, kind = m.group(1), m.group(2), m.group(3), m.group(4) or "real"
        vals = []
        for s in (lo_s, hi_s):
            try:
                v = float(s)
            except ValueError:
                problems.append(f"{item!r}: {s!r} is not a number")
                break
            vals.append(int(v) if kind in ("int", "logint") and re.fullmatch(r"[+-]?\d+", s) else v)
        if len(vals) != 2:
            continue
        if name in out:
            problems.append(f"parameter {name!r} is given twice")
            continue
        out[name] = (vals[0], vals[1], kind)
    raise_problems(f"invalid domain string {text!r}", problems)
    return out
