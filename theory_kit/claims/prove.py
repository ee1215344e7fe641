"""The interval prover: `verify(claim, method="prove")` for claims whose two sides are formulas.

Glossary: h = the claim's slack as one sympy expression, h >= 0 (h > 0 for a strict relation)
exactly where the claim holds: h = bound - quantity (+ tolerance) for "<=" / "<", quantity - bound
(+ tolerance) for ">=" / ">", tolerance = atol + rtol * Max(|quantity|, |bound|) for non-strict
relations. A box is a tuple of closed ranges (lo, hi), one per parameter in domain order: floats
for real and log parameters, ints for integer ones (an integer range means the integers in it).

Stages, cheapest first:
  1. sympy — h (and a few rewritings of it: together, cancel, factor, simplify) is asked whether
     it is non-negative under the domain's sign and integrality assumptions, with each parameter
     also written as lo + (a non-negative symbol); a yes is a proof (certificate kind "sympy").
  2. intervals — branch and bound over the box in mpmath's interval context (mpmath.iv: outward
     rounding of +, -, *, /, powers, exp, log, sqrt, sin, cos; no new dependency, and its
     endpoints are exact binary numbers that a certificate can store as fractions). A box closes
     when the enclosure of h is >= 0 (> 0 strict). Before splitting, the partial derivatives of h
     are enclosed on the box; where one has a sign, h is smallest at one end of that parameter,
     which is fixed there (monotonicity) — this closes boxes that touch the point where a bound
     is tight, which no enclosure of h alone can. When every parameter is fixed the point is
     re-evaluated at rising precision (100, 200, 400 bits). Integer parameters are split at
     integers, so small ranges end up enumerated and large ones treated as intervals.
  3. The result: "proved" with a Proof (the split tree; each leaf stores its enclosures) that
     `check_proof` re-validates from scratch; "refuted" with an exact counterexample (a point of
     the domain where the enclosure of h is < 0, <= 0 for strict relations, i.e. rigorously
     violated); or "undecided" with the boxes left open and the fraction of the domain they cover.

Budgets: max_boxes (boxes examined) and max_seconds; `progress(done, max_boxes, "prove")` is
called about every 2% of max_boxes.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Mapping

import mpmath
import sympy as sp
from mpmath import iv
from mpmath.libmp import to_rational

from theory_kit.claims.claim import Claim, ParamSpec
from theory_kit.errors import InvalidInput, TheoryKitError
from theory_kit.progress import progress as progress_bar

__all__ = ["Proof", "ProofNode", "InvalidProof", "prove", "prove_verdict", "check_proof", "slack_expression",
           "DEFAULT_MAX_BOXES", "DEFAULT_MAX_SECONDS", "PRECISIONS"]

DEFAULT_MAX_BOXES = 20000
DEFAULT_MAX_SECONDS = 60.0
#: Interval working precisions in bits: boxes use the first, points climb the ladder.
PRECISIONS = (100, 200, 400)
#: Levels of derivatives the monotonicity argument may use (h' to h''').
MONOTONE_DEPTH = 3
#: A real range narrower than this (relative to its magnitude) is not split further.
_MIN_REL_WIDTH = 2.0**-50


class InvalidProof(TheoryKitError):
    """check_proof rejected a certificate; the message says which box or enclosure failed."""


class _Unsupported(Exception):
    """Internal: the expression uses something without a rigorous interval extension here."""


# ----------------------------------------------------------------------------------------------
# The slack expression and the interval evaluator


def slack_expression(claim: Claim) -> sp.Expr:
    """h with h >= 0 (> 0 for "<", ">") exactly where the claim holds (module docstring).

    Raises:
        InvalidInput: if the claim's quantity is not a sympy expression, or the relation is "==".
    """
    if claim.quantity_expr is None:
        raise InvalidInput(f"claim {claim.name!r}: method='prove' needs the quantity as a sympy expression "
                           f"(Claim(quantity=<sympy expression or text>, ...)); its quantity is a Python callable")
    q, b = claim.quantity_expr, claim.bound
    if claim.relation in ("<=", "<"):
        h = b - q
    elif claim.relation in (">=", ">"):
        h = q - b
    else:
        raise InvalidInput(f"claim {claim.name!r}: method='prove' supports <=, <, >=, > (prove == as two claims)")
    if claim.relation in ("<=", ">=") and (claim.atol or claim.rtol):
        h = h + sp.nsimplify(claim.atol) + sp.nsimplify(claim.rtol) * sp.Max(sp.Abs(q), sp.Abs(b))
    return h


def _ival(x) -> "iv.mpf":
    return iv.mpf(x)


def _rational_iv(r: sp.Rational):
    return iv.mpf(int(r.p)) / iv.mpf(int(r.q))


_FULL = None  # set lazily: the whole real line as an interval


def _full():
    return iv.mpf(["-inf", "inf"])


def _iv_eval(expr: sp.Expr, env: Mapping[str, object]):
    """Enclosure of expr with its symbols ranging over env (name -> iv.mpf), at iv.prec bits."""
    if expr.is_Symbol:
        return env[expr.name]
    if expr.is_Integer or expr.is_Rational:
        return _rational_iv(sp.Rational(expr))
    if expr.is_Float:
        return _rational_iv(sp.Rational(expr))
    if expr is sp.pi:
        return iv.pi
    if expr is sp.E:
        return iv.e
    if expr.is_Add:
        out = _iv_eval(expr.args[0], env)
        for a in expr.args[1:]:
            out = out + _iv_eval(a, env)
        return out
    if expr.is_Mul:
        out = _iv_eval(expr.args[0], env)
        for a in expr.args[1:]:
            out = out * _iv_eval(a, env)
        return out
    if expr.is_Pow:
        base, ex = expr.args
        B = _iv_eval(base, env)
        if ex.is_Integer:
            k = int(ex)
            if k >= 0:
                return B**k
            if B.a <= 0 <= B.b:
                return _full()
            return 1 / B**(-k)
        if B.a < 0:
            raise _Unsupported(f"non-integer power of a possibly negative base in {expr}")
        if ex == sp.Rational(1, 2):
            return iv.sqrt(B)
        E = _iv_eval(ex, env)
        if B.a == 0:
            if E.a <= 0:
                return _full()
            return iv.mpf([0, (iv.exp(E * iv.log(iv.mpf(B.b)))).b]) if B.b > 0 else iv.mpf(0)
        return iv.exp(E * iv.log(B))
    if isinstance(expr, sp.exp):
        return iv.exp(_iv_eval(expr.args[0], env))
    if isinstance(expr, sp.log):
        if len(expr.args) != 1:
            raise _Unsupported("log with a base")
        A = _iv_eval(expr.args[0], env)
        if A.a <= 0:
            return _full()
        return iv.log(A)
    if isinstance(expr, (sp.sin, sp.cos)):
        A = _iv_eval(expr.args[0], env)
        return (iv.sin if isinstance(expr, sp.sin) else iv.cos)(A)
    if isinstance(expr, sp.Abs):
        return abs(_iv_eval(expr.args[0], env))
    if isinstance(expr, (sp.Max, sp.Min)):
        parts = [_iv_eval(a, env) for a in expr.args]
        pick = max if isinstance(expr, sp.Max) else min
        return iv.mpf([pick(p.a for p in parts), pick(p.b for p in parts)])
    if isinstance(expr, (sp.floor, sp.ceiling)):
        A = _iv_eval(expr.args[0], env)
        if not (mpmath.isfinite(A.a) and mpmath.isfinite(A.b)):
            return _full()
        f = mpmath.floor if isinstance(expr, sp.floor) else mpmath.ceil
        return iv.mpf([f(A.a.a), f(A.b.b)])
    if isinstance(expr, (sp.sinh, sp.cosh, sp.tanh)):
        A = _iv_eval(expr.args[0], env)
        if isinstance(expr, sp.tanh):  # increasing: evaluate at the ends
            lo = iv.mpf(A.a)
            hi = iv.mpf(A.b)
            t = lambda X: 1 - 2 / (iv.exp(2 * X) + 1)  # noqa: E731
            return iv.mpf([t(lo).a, t(hi).b])
        ep, em = iv.exp(A), iv.exp(-A)
        return (ep - em) / 2 if isinstance(expr, sp.sinh) else (ep + em) / 2
    if not expr.free_symbols:
        raise _Unsupported(f"constant {expr} has no rigorous enclosure here")
    raise _Unsupported(f"{type(expr).__name__} ({expr}) has no interval extension here")


def _endpoint(x) -> Fraction:
    """An iv endpoint (a degenerate ivmpf or a raw mpf) as an exact Fraction (+-inf kept as float)."""
    raw = x._mpi_[0] if hasattr(x, "_mpi_") else x._mpf_
    v = mpmath.mpf(raw)
    if not mpmath.isfinite(v):
        return float(v)
    p, q = to_rational(raw)
    return Fraction(p, q)


def _pair(X) -> tuple:
    return (_endpoint(X.a), _endpoint(X.b))


def _env(specs, box) -> dict:
    return {s.name: iv.mpf([lo, hi]) for s, (lo, hi) in zip(specs, box)}


def _closed(H, strict: bool) -> bool:
    return H.a > 0 if strict else H.a >= 0


def _violated(H, strict: bool) -> bool:
    return H.b <= 0 if strict else H.b < 0


# ----------------------------------------------------------------------------------------------
# Certificate


@dataclass(frozen=True)
class ProofNode:
    """One box of the proof tree.

    Attributes:
        box: tuple of (lo, hi) per parameter (floats for reals, ints for integer kinds).
        split: None for a leaf; else (dim, cut): children are box with dim in [lo, cut] and
            [cut, hi] (reals) or [lo, cut] and [cut + 1, hi] (integers).
        children: the two child nodes of a split.
        prec: interval precision (bits) the leaf's enclosures were computed at.
        cert: for a leaf, a sign certificate that h >= 0 (> 0 strict) on the box, one of
            ("enc", (lo, hi)) — the enclosure of the expression on the box, exact fractions;
            ("exact", text) — the box is a point and sympy evaluates the expression there
            exactly to `text`, which it finds non-negative (positive);
            ("mono", fixes, final) — fixes is a tuple of (dim, end, sub) in order: sub certifies
            that the partial derivative along dim ("lo": the derivative, "hi": minus it) is >= 0
            on the box with the earlier fixes applied, so the expression is smallest at that end
            of dim, which is fixed there; final certifies the expression on the fixed box.
            Sub-certificates have the same three forms (derivatives of derivatives, up to
            MONOTONE_DEPTH levels).
    """

    box: tuple
    split: tuple | None = None
    children: tuple = ()
    prec: int = 0
    cert: tuple | None = None


@dataclass(frozen=True)
class Proof:
    """A certificate that a claim holds on its whole domain; re-check it with `check_proof`.

    Attributes:
        claim: the claim's name.
        kind: "sympy" (form is a rewriting of h that sympy finds non-negative under the
            assumptions) or "intervals" (root is the split tree).
        slack: str of h, for reading (the checker rebuilds h from the claim, never from here).
        form: for kind "sympy", the non-negative form (a sympy expression) and the
            substitution used ("assumptions" or "shifted").
        root: for kind "intervals", the ProofNode tree.
        n_boxes: number of leaves (1 for a sympy proof).
        seconds: time the prover took.
    """

    claim: str
    kind: str
    slack: str
    form: tuple | None = None
    root: ProofNode | None = None
    n_boxes: int = 1
    seconds: float = 0.0

    def leaves(self) -> list[ProofNode]:
        """The leaves of the tree, left to right."""
        out, stack = [], [self.root] if self.root is not None else []
        while stack:
            node = stack.pop()
            if node.split is None:
                out.append(node)
            else:
                stack.extend(reversed(node.children))
        return out


def _root_box(claim: Claim) -> tuple:
    return tuple((int(s.lo), int(s.hi)) if s.is_int else (float(s.lo), float(s.hi)) for s in claim.params)


def _sympy_symbols(claim: Claim, shifted: bool) -> dict:
    """Substitution name -> assumption-carrying expression for the sympy stage."""
    subs = {}
    for s in claim.params:
        if shifted:
            y = sp.Symbol(f"_{s.name}_above_lo", nonnegative=True, integer=s.is_int)
            subs[s.name] = sp.nsimplify(s.lo) + y
        else:
            kw = {"integer": True} if s.is_int else {"real": True}
            if s.lo > 0:
                kw["positive"] = True
            elif s.lo >= 0:
                kw["nonnegative"] = True
            elif s.hi < 0:
                kw["negative"] = True
            elif s.hi <= 0:
                kw["nonpositive"] = True
            subs[s.name] = sp.Symbol(s.name, **kw)
    return subs


def _substitute(h: sp.Expr, subs: Mapping[str, sp.Expr]) -> sp.Expr:
    return h.xreplace({sym: subs[sym.name] for sym in h.free_symbols if sym.name in subs})


def _sympy_sign_ok(form: sp.Expr, strict: bool) -> bool:
    return bool(form.is_positive) if strict else bool(form.is_nonnegative)


def _try_sympy(claim: Claim, h: sp.Expr, strict: bool):
    for mode in ("assumptions", "shifted"):
        hs = _substitute(h, _sympy_symbols(claim, mode == "shifted"))
        candidates = [hs]
        for f in (sp.together, sp.cancel, sp.factor):
            try:
                candidates.append(f(hs))
            except Exception:  # sympy rewriters may give up on odd expressions; that is no proof
                pass
        if sp.count_ops(hs) <= 60:
            try:
                candidates.append(sp.simplify(hs))
            except Exception:  # as above
                pass
        for form in candidates:
            try:
                if _sympy_sign_ok(form, strict):
                    return form, mode
            except Exception:  # an assumption query that raises decides nothing
                continue
    return None


# ----------------------------------------------------------------------------------------------
# Branch and bound


class _Diffs:
    """Cache of partial derivatives of the expressions the certificates use."""

    def __init__(self, names):
        self.syms = [sp.Symbol(n) for n in names]
        self.cache: dict = {}

    def __call__(self, g: sp.Expr, k: int):
        key = (g, k)
        if key not in self.cache:
            name = self.syms[k].name
            syms = [x for x in g.free_symbols if x.name == name]
            d = sp.diff(g, syms[0]) if syms else sp.Integer(0)
            self.cache[key] = None if d.has(sp.Derivative, sp.DiracDelta, sp.Heaviside, sp.Subs) else d
        return self.cache[key]


def _exact_at_point(g: sp.Expr, specs, box, strict: bool):
    """sympy's exact value of g at a point box, if it is non-negative (positive), else None."""
    at = {s.name: (sp.Integer(lo) if s.is_int else sp.Rational(lo)) for s, (lo, _) in zip(specs, box)}
    try:
        val = sp.simplify(g.xreplace({x: at[x.name] for x in g.free_symbols}))
        ok = val.is_positive if strict else val.is_nonnegative
    except Exception:  # sympy could not decide: no certificate
        return None
    return str(val) if ok else None


def _sign_cert(g, specs, box, strict, depth, diffs, exact_points=True):
    """A certificate that g >= 0 (> 0 if strict) on box at the current iv.prec, or None."""
    try:
        G = _iv_eval(g, _env(specs, box))
    except (_Unsupported, ZeroDivisionError):
        return None
    if _closed(G, strict):
        return ("enc", _pair(G))
    if _violated(G, strict):
        return None
    is_point = all(lo == hi for lo, hi in box)
    if is_point:
        tiny = G.b - G.a <= mpmath.mpf(2) ** (-iv.prec // 2) * max(1, abs(G.a), abs(G.b))
        if exact_points and tiny:  # an enclosure this narrow around 0: probably an exact tie, ask sympy
            val = _exact_at_point(g, specs, box, strict)
            if val is not None:
                return ("exact", val)
        return None
    if depth <= 0:
        return None
    cur = list(box)
    fixes = []
    for k, s in enumerate(specs):
        lo, hi = cur[k]
        if lo == hi:
            continue
        d = diffs(g, k)
        if d is None:
            continue
        sub = _sign_cert(d, specs, tuple(cur), False, depth - 1, diffs, exact_points)
        if sub is not None:
            cur[k] = (lo, lo)
            fixes.append((k, "lo", sub))
            continue
        sub = _sign_cert(-d, specs, tuple(cur), False, depth - 1, diffs, exact_points)
        if sub is not None:
            cur[k] = (hi, hi)
            fixes.append((k, "hi", sub))
    if not fixes:
        return None
    final = _sign_cert(g, specs, tuple(cur), strict, 0, diffs, exact_points)
    if final is None:
        return None
    return ("mono", tuple(fixes), final)


def _unit_width(s: ParamSpec, lo, hi) -> float:
    if s.lo == s.hi:
        return 0.0
    if s.is_int:
        return (hi - lo) / (s.hi - s.lo + 1)
    if hi - lo <= _MIN_REL_WIDTH * max(abs(lo), abs(hi), s.hi - s.lo):
        return 0.0
    if s.kind == "log":
        return math.log(hi / lo) / math.log(s.hi / s.lo)
    return (hi - lo) / (s.hi - s.lo)


def _cut(s: ParamSpec, lo, hi, hints=()):
    for hint in hints:  # cut at a point where the bound is tight: it becomes an end, where monotonicity applies
        if s.is_int and lo <= hint < hi:
            return int(hint)
        if not s.is_int and lo < hint < hi and min(hint - lo, hi - hint) > 1e-3 * (hi - lo):
            return float(hint)
    if s.is_int:
        return (lo + hi) // 2
    m = math.sqrt(lo * hi) if s.kind == "log" and lo > 0 else lo + (hi - lo) / 2
    if not (lo < m < hi):
        m = lo + (hi - lo) / 2
    return m if lo < m < hi else None


def _children(box, j, c, is_int):
    lo, hi = box[j]
    left = box[:j] + ((lo, c),) + box[j + 1:]
    right = box[:j] + ((c + 1 if is_int else c, hi),) + box[j + 1:]
    return left, right


def _box_fraction(specs, box) -> float:
    f = 1.0
    for s, (lo, hi) in zip(specs, box):
        if s.lo == s.hi:
            continue
        if s.is_int:
            f *= (hi - lo + 1) / (s.hi - s.lo + 1)
        elif s.kind == "log":
            f *= math.log(hi / lo) / math.log(s.hi / s.lo) if hi > lo else 0.0
        else:
            f *= (hi - lo) / (s.hi - s.lo)
    return f


def _point_of(specs, box) -> dict:
    out = {}
    for s, (lo, hi) in zip(specs, box):
        if s.is_int:
            out[s.name] = int((lo + hi) // 2)
        elif s.kind == "log" and lo > 0:
            out[s.name] = float(min(hi, max(lo, math.sqrt(lo * hi))))
        else:
            out[s.name] = float(lo + (hi - lo) / 2)
    return out


def _refutes(h, specs, point: Mapping, strict: bool):
    """The enclosure of h at an exact point, if it rigorously violates the claim there, else None."""
    box = tuple((point[s.name], point[s.name]) for s in specs)
    for prec in PRECISIONS:
        iv.prec = prec
        try:
            H = _iv_eval(h, _env(specs, box))
        except (_Unsupported, ZeroDivisionError):
            return None
        if _violated(H, strict):
            return H
        if _closed(H, strict):
            return None
    return None


@dataclass(frozen=True)
class ProveResult:
    """What `prove` found: status, proof or counterexample, and the open boxes."""

    status: str
    proof: Proof | None
    counterexample: Mapping | None
    counterexample_enclosure: tuple | None
    remaining_boxes: tuple
    remaining_fraction: float
    boxes: int
    seconds: float
    stage: str
    reason: str = ""


def prove(claim: Claim, *, max_boxes: int | None = None, max_seconds: float | None = None,
          progress: Callable[[int, int, str], None] | None = None, candidates: tuple = (),
          hints: tuple = ()) -> ProveResult:
    """Prove a formula claim on its whole domain, refute it exactly, or say what is left open.

    Args:
        claim: a Claim whose quantity was given as a sympy expression (or its text).
        max_boxes: boxes the branch and bound may examine (default DEFAULT_MAX_BOXES).
        max_seconds: wall-clock budget (default DEFAULT_MAX_SECONDS).
        progress: optional callback progress(boxes_done, max_boxes, "prove").
        candidates: parameter points to try first as counterexamples (e.g. from the search).
        hints: points where the claim is tight (e.g. the search's tightest point): a box that
            contains one is cut there first, so it becomes a box end where monotonicity applies.

    Returns:
        A ProveResult (status "proved", "refuted" or "undecided").

    Raises:
        InvalidInput: for a claim whose quantity is a callable, or relation "==".
    """
    t0 = time.perf_counter()
    max_boxes = DEFAULT_MAX_BOXES if max_boxes is None else int(max_boxes)
    max_seconds = DEFAULT_MAX_SECONDS if max_seconds is None else float(max_seconds)
    if max_boxes < 1 or not max_seconds > 0:
        raise InvalidInput(f"max_boxes must be >= 1 and max_seconds > 0, got {max_boxes!r}, {max_seconds!r}")
    h = slack_expression(claim)
    strict = claim.relation in ("<", ">")
    specs = claim.params
    root = _root_box(claim)
    old_prec = iv.prec
    try:
        for point in candidates:
            H = _refutes(h, specs, point, strict)
            if H is not None:
                return ProveResult("refuted", None, dict(point), _pair(H), (), 0.0, 0, time.perf_counter() - t0, "search")
        found = _try_sympy(claim, h, strict)
        if found is not None:
            form, mode = found
            dt = time.perf_counter() - t0
            proof = Proof(claim.name, "sympy", str(h), form=(form, mode), n_boxes=1, seconds=dt)
            return ProveResult("proved", proof, None, None, (), 0.0, 0, dt, "sympy")
        # a bar on stderr (theory_kit.progress) with max_boxes as total, one tick per box
        bar = progress_bar(itertools.repeat(None), total=max_boxes, desc=f"prove {claim.name}",
                           unit="box")
        try:
            return _branch_and_bound(claim, h, specs, root, strict, max_boxes, max_seconds, progress, t0, hints,
                                     tick=lambda: next(bar, None))
        except _Unsupported as exc:
            return ProveResult("undecided", None, None, None, (root,), 1.0, 0, time.perf_counter() - t0, "intervals",
                               reason=f"no rigorous interval evaluation: {exc}")
        finally:
            bar.close()
    finally:
        iv.prec = old_prec


def _branch_and_bound(claim, h, specs, root, strict, max_boxes, max_seconds, progress, t0, hints=(),
                      tick: Callable[[], object] = lambda: None) -> ProveResult:
    diffs = _Diffs([s.name for s in specs])
    tree: dict[tuple, object] = {}  # box -> _Leaf | (dim, cut)
    heap = [(0.0, 0, root)]  # (lower bound of h, tie-break, box): most negative first
    stuck: list[tuple] = []
    counter = 1
    done = 0
    every = max(1, max_boxes // 50)
    while heap:
        if done >= max_boxes or time.perf_counter() - t0 > max_seconds:
            open_boxes = tuple(b for _, _, b in heap) + tuple(stuck)
            frac = sum(_box_fraction(specs, b) for b in open_boxes)
            return ProveResult("undecided", None, None, None, open_boxes, frac, done, time.perf_counter() - t0,
                               "intervals", reason=f"budget exhausted ({done} boxes, {time.perf_counter() - t0:.1f} s)")
        _, _, box = heapq.heappop(heap)
        done += 1
        tick()
        if progress is not None and done % every == 0:
            progress(done, max_boxes, "prove")
        iv.prec = PRECISIONS[0]
        H = _iv_eval(h, _env(specs, box))
        if _closed(H, strict):
            tree[box] = (PRECISIONS[0], ("enc", _pair(H)))
            continue
        is_point = all(lo == hi for lo, hi in box)
        leaf = None
        if not _violated(H, strict):
            for prec in (PRECISIONS if is_point else PRECISIONS[:1]):
                iv.prec = prec
                for depth in range(1, MONOTONE_DEPTH + 1):  # cheapest argument first
                    cert = _sign_cert(h, specs, box, strict, depth, diffs,
                                      exact_points=prec == PRECISIONS[-1] or not is_point)
                    if cert is not None or is_point:
                        break
                if cert is not None:
                    leaf = (prec, cert)
                    break
        if leaf is not None:
            tree[box] = leaf
            continue
        if is_point:
            point = {s.name: v[0] for s, v in zip(specs, box)}
            Hp = _refutes(h, specs, point, strict)
            if Hp is not None:
                return ProveResult("refuted", None, point, _pair(Hp), (), 0.0, done, time.perf_counter() - t0, "intervals")
        if _violated(H, strict):
            point = _point_of(specs, box)
            Hp = _refutes(h, specs, point, strict)
            if Hp is not None:
                return ProveResult("refuted", None, point, _pair(Hp), (), 0.0, done, time.perf_counter() - t0, "intervals")
        if not is_point:  # a cheap look for a counterexample at the box's centre
            point = _point_of(specs, box)
            Hp = _refutes(h, specs, point, strict)
            if Hp is not None:
                return ProveResult("refuted", None, point, _pair(Hp), (), 0.0, done, time.perf_counter() - t0, "intervals")
        widths = [_unit_width(s, lo, hi) for s, (lo, hi) in zip(specs, box)]
        order = sorted(range(len(specs)), key=lambda j: -widths[j])
        cut = None
        for j in order:
            if widths[j] <= 0:
                break
            c = _cut(specs[j], *box[j], hints=[p[specs[j].name] for p in hints])
            if c is not None:
                cut = (j, c)
                break
        if cut is None:
            point = _point_of(specs, box)
            Hp = _refutes(h, specs, point, strict)
            if Hp is not None:
                return ProveResult("refuted", None, point, _pair(Hp), (), 0.0, done, time.perf_counter() - t0, "intervals")
            stuck.append(box)
            continue
        j, c = cut
        tree[box] = cut
        for child in _children(box, j, c, specs[j].is_int):
            iv.prec = PRECISIONS[0]
            Hc = _iv_eval(h, _env(specs, child))
            heapq.heappush(heap, (float(mpmath.mpf(Hc.a.a)) if mpmath.isfinite(Hc.a.a) else -math.inf, counter, child))
            counter += 1
    if stuck:
        frac = sum(_box_fraction(specs, b) for b in stuck)
        return ProveResult("undecided", None, None, None, tuple(stuck), frac, done, time.perf_counter() - t0,
                           "intervals", reason=f"{len(stuck)} box(es) too small to split and not decided")
    dt = time.perf_counter() - t0
    root_node = _build_node(tree, root, specs)
    proof = Proof(claim.name, "intervals", str(h), root=root_node, n_boxes=len(Proof("", "", "", root=root_node).leaves()),
                  seconds=dt)
    return ProveResult("proved", proof, None, None, (), 0.0, done, dt, "intervals")


def _build_node(tree, box, specs) -> ProofNode:
    # iterative post-order so deep trees do not hit the recursion limit
    built: dict[tuple, ProofNode] = {}
    stack = [(box, False)]
    while stack:
        b, expanded = stack.pop()
        entry = tree[b]
        if isinstance(entry[1], tuple):
            built[b] = ProofNode(b, prec=entry[0], cert=entry[1])
            continue
        j, c = entry
        kids = _children(b, j, c, specs[j].is_int)
        if not expanded:
            stack.append((b, True))
            stack.extend((k, False) for k in kids)
        else:
            built[b] = ProofNode(b, split=(j, c), children=tuple(built[k] for k in kids))
    return built[box]


# ----------------------------------------------------------------------------------------------
# Independent checker


def check_proof(claim: Claim, proof: Proof) -> bool:
    """Re-validate a Proof from scratch against the claim; True or InvalidProof.

    Rebuilds h from the claim (never from the certificate). For kind "sympy": the stored form
    must equal h under the stored substitution (their difference simplifies to 0) and sympy must
    find it non-negative (positive for strict relations). For kind "intervals": the root box must
    be the claim's domain; every split must cut its box in two along one parameter exactly
    (reals [lo, c] and [c, hi] with lo < c < hi; integers [lo, c], [c + 1, hi]), so the leaves
    cover the domain with no gap; at every leaf the sign certificate (ProofNode.cert) is re-derived:
    each stored enclosure must equal the one recomputed at the stored precision and have the
    required sign, each monotonicity fix must be justified by a re-checked certificate for the
    derivative on the box with the earlier fixes applied, and each exact point value must be
    what sympy computes there.

    Raises:
        InvalidProof: naming the first box or enclosure that fails.
    """
    if not isinstance(proof, Proof):
        raise InvalidProof(f"expected a Proof, got {type(proof).__name__}")
    if proof.claim != claim.name:
        raise InvalidProof(f"proof is for claim {proof.claim!r}, not {claim.name!r}")
    h = slack_expression(claim)
    strict = claim.relation in ("<", ">")
    specs = claim.params
    if proof.kind == "sympy":
        if proof.form is None:
            raise InvalidProof("sympy proof without a form")
        form, mode = proof.form
        if mode not in ("assumptions", "shifted"):
            raise InvalidProof(f"unknown substitution {mode!r}")
        hs = _substitute(h, _sympy_symbols(claim, mode == "shifted"))
        if sp.simplify(form - hs) != 0:
            raise InvalidProof("the stored form is not equal to the claim's slack")
        if not _sympy_sign_ok(form, strict):
            raise InvalidProof("sympy does not find the stored form non-negative")
        return True
    if proof.kind != "intervals" or proof.root is None:
        raise InvalidProof(f"unknown proof kind {proof.kind!r}")
    diffs = _Diffs([s.name for s in specs])
    if proof.root.box != _root_box(claim):
        raise InvalidProof(f"root box {proof.root.box} is not the claim's domain {_root_box(claim)}")
    old = iv.prec
    try:
        stack = [proof.root]
        n = 0
        while stack:
            node = stack.pop()
            if len(node.box) != len(specs):
                raise InvalidProof(f"box {node.box} has the wrong number of parameters")
            if node.split is not None:
                _check_split(node, specs)
                stack.extend(node.children)
                continue
            n += 1
            _check_leaf(node, h, diffs, specs, strict)
        if n != proof.n_boxes:
            raise InvalidProof(f"proof says {proof.n_boxes} boxes but its tree has {n} leaves")
    finally:
        iv.prec = old
    return True


def _check_split(node: ProofNode, specs) -> None:
    j, c = node.split
    if not (isinstance(j, int) and 0 <= j < len(specs)) or len(node.children) != 2:
        raise InvalidProof(f"malformed split {node.split} of box {node.box}")
    lo, hi = node.box[j]
    left, right = node.children
    is_int = specs[j].is_int
    ok = (lo <= c < hi) if is_int else (lo < c < hi)
    want_l = node.box[:j] + ((lo, c),) + node.box[j + 1:]
    want_r = node.box[:j] + ((c + 1 if is_int else c, hi),) + node.box[j + 1:]
    if not ok or left.box != want_l or right.box != want_r:
        raise InvalidProof(f"split of box {node.box} at parameter {specs[j].name} = {c} does not cut it exactly in two "
                           f"(children {left.box}, {right.box})")


def _check_leaf(node: ProofNode, h, diffs, specs, strict) -> None:
    if node.prec not in PRECISIONS or not isinstance(node.cert, tuple):
        raise InvalidProof(f"leaf {node.box}: bad precision {node.prec} or no certificate")
    iv.prec = node.prec
    _check_sign(h, "h", node.box, node.cert, strict, MONOTONE_DEPTH, specs, diffs, node.box)


def _check_sign(g, label, box, cert, strict, depth, specs, diffs, leaf_box) -> None:
    """Re-validate a sign certificate that g >= 0 (> 0 strict) on box (ProofNode.cert)."""
    where = f"leaf {leaf_box}: {label}"
    kind = cert[0] if cert else None
    if kind == "enc":
        G = _iv_eval(g, _env(specs, box))
        if _pair(G) != tuple(cert[1]):
            raise InvalidProof(f"{where}: stored enclosure {cert[1]} differs from the recomputed {_pair(G)}")
        if not _closed(G, strict):
            raise InvalidProof(f"{where}: enclosure {_pair(G)} is not {'> 0' if strict else '>= 0'}")
        return
    if kind == "exact":
        if not all(lo == hi for lo, hi in box):
            raise InvalidProof(f"{where}: an exact-value certificate on a box that is not a point {box}")
        val = _exact_at_point(g, specs, box, strict)
        if val is None or val != cert[1]:
            raise InvalidProof(f"{where}: exact value at {box} is not the stored non-negative {cert[1]!r}")
        return
    if kind == "mono":
        if depth <= 0:
            raise InvalidProof(f"{where}: monotonicity nested deeper than {MONOTONE_DEPTH} levels")
        cur = list(box)
        for k, end, sub in cert[1]:
            if not (isinstance(k, int) and 0 <= k < len(specs)) or end not in ("lo", "hi"):
                raise InvalidProof(f"{where}: malformed fix {(k, end)}")
            lo, hi = cur[k]
            d = diffs(g, k)
            if d is None:
                raise InvalidProof(f"{where}: d/d{specs[k].name} has no interval form")
            _check_sign(d if end == "lo" else -d, f"{'' if end == 'lo' else '-'}d({label})/d{specs[k].name}",
                        tuple(cur), sub, False, depth - 1, specs, diffs, leaf_box)
            cur[k] = (lo, lo) if end == "lo" else (hi, hi)
        final = cert[2]
        if not final or final[0] == "mono":
            raise InvalidProof(f"{where}: the fixed box needs an enclosure or exact certificate")
        _check_sign(g, label, tuple(cur), final, strict, 0, specs, diffs, leaf_box)
        return
    raise InvalidProof(f"{where}: unknown certificate {kind!r}")


# ----------------------------------------------------------------------------------------------
# Verdict glue


def _snap(claim: Claim, point: dict) -> dict:
    """The tightest point rounded to the fewest significant digits that keep h as small.

    The search stops within float resolution of where a bound is tight (x = 1.0000027 for a
    maximum at 1); a cut exactly at the tight point lets monotonicity close both sides of it.
    """
    h = slack_expression(claim)
    names = [s.name for s in claim.params]
    f = sp.lambdify([sp.Symbol(n) for n in names], h.xreplace({x: sp.Symbol(x.name) for x in h.free_symbols}),
                    modules="mpmath")
    with mpmath.workdps(30):
        try:
            ref = f(*[mpmath.mpf(point[n]) for n in names])
        except Exception:  # h undefined at the hint: keep it as it is
            return point
        for k in range(1, 9):
            cand = {s.name: (point[s.name] if s.is_int else min(s.hi, max(s.lo, float(f"{point[s.name]:.{k}g}"))))
                    for s in claim.params}
            try:
                if f(*[mpmath.mpf(cand[n]) for n in names]) <= ref:
                    return cand
            except Exception:  # as above
                continue
    return point


def prove_verdict(claim: Claim, searched, *, max_boxes=None, max_seconds=None, progress=None):
    """The Verdict of verify(..., method="prove"), from the search verdict and `prove`."""
    candidates = ()
    if searched.counterexample is not None:
        candidates = (dict(searched.counterexample),)
    hints = (_snap(claim, dict(searched.worst_params)),) if searched.counterexample is None else ()
    res = prove(claim, max_boxes=max_boxes, max_seconds=max_seconds, progress=progress, candidates=candidates,
                hints=hints)
    info = {"boxes": res.boxes, "seconds": round(res.seconds, 3), "stage": res.stage, "reason": res.reason}
    if res.proof is not None:
        check_proof(claim, res.proof)  # never hand out a certificate the checker rejects
        info["checked"] = True
    fields = dict(method="prove", status=res.status, proof=res.proof, remaining_boxes=res.remaining_boxes,
                  remaining_fraction=res.remaining_fraction if res.status == "undecided" else None, prove_info=info)
    if res.status == "proved":
        return dataclasses.replace(searched, holds=True, **fields)
    if res.status == "refuted":
        cex = dict(res.counterexample)
        info["counterexample_enclosure"] = tuple(str(x) for x in res.counterexample_enclosure)
        subs = {sp.Symbol(k): sp.nsimplify(v) if isinstance(v, int) else sp.Rational(v) for k, v in cex.items()}
        at = {str(s): v for s, v in subs.items()}
        q = float(claim.quantity_expr.xreplace({x: at[x.name] for x in claim.quantity_expr.free_symbols}).evalf(30))
        b = float(claim.bound.xreplace({x: at[x.name] for x in claim.bound.free_symbols}).evalf(30))
        return dataclasses.replace(searched, holds=False, counterexample=cex, worst_params=cex, worst_quantity=q,
                                   worst_bound=b, **fields)
    return dataclasses.replace(searched, holds=searched.holds and False, **fields)
