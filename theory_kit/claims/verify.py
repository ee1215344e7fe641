"""The adversarial verifier: search a claim's domain for the point where the bound is worst.

Glossary: d = number of parameters; u in [0, 1]^d is a point of the unit box, mapped to parameter
values per kind (linear for "real"/"int", logarithmic for "log"/"logint"; integers by flooring
into N equal cells, or rounding on the log scale).

Search, in order, all within `budget` evaluations of the quantity (repeated points are cached and
cost nothing):
  1. exhaustive — if the domain is finite (integer parameters only) and fits in the budget,
     every point is evaluated and the verdict is a proof over the domain;
  2. corners — every corner of the box (a seeded random subset if there are too many) and the
     centre;
  3. sobol — 2^m scrambled Sobol points (seeded), 2^m <= budget/2;
  4. local — from the worst points so far, Nelder–Mead in the unit box (integers rounded), then
     a mixed pattern search (relative steps for reals, integer steps down to ±1 for integers)
     and a full ±1 integer-neighbourhood check, always minimising the normalised margin;
  5. explore — further Sobol points when the local searches have converged, feeding new starts.

Normalised margin (the objective): with d = quantity - bound for "<=", "<", d = bound - quantity
for ">=", ">" and d = |quantity - bound| for "==" (d > 0 points the violating way), the claim's
slack tol = atol + rtol * max(|quantity|, |bound|) (0 for strict relations), and
scale = max(|quantity|, |bound|),
    margin = (tol - d) / (scale + tol)        (0 when scale + tol = 0),
a scale-free number in [-2, 2]; a point violates the claim when d > tol (d >= 0 for strict
relations), which for non-strict relations is exactly margin < 0. With zero tolerance,
margin = (bound - quantity) / max(|quantity|, |bound|) for "<=".

Worst ratio: ratio = 1 - margin if margin >= 0, 1/(1 + margin) if -1 < margin < 0, +inf if
margin <= -1. With zero tolerance and both sides positive this is exactly quantity/bound for
"<=", "<" and bound/quantity for ">=", ">" (max of the two for "=="); with a tolerance it is
quantity/(bound + tol) where the claim holds. It is <= 1 where the claim holds and > 1 where it
fails, and stays defined when the bound is <= 0 or the signs differ (+inf marks a total
violation, e.g. a positive quantity against a bound <= 0). Both sides zero counts as tight
(ratio 1), since the relation then holds with equality.

Rounding-aware verdicts (the default; `strict=True` turns this off and compares the float values
exactly): a point whose float comparison fails is a *candidate* and is re-checked before it may
count as a counterexample.
  - The bound is re-evaluated in mpmath at MP_DPS = 50 digits; so is the quantity when the claim
    gives it as a sympy expression. With both sides at 50 digits the comparison is exact up to
    a relative 1e-45 (an identity q == b is "equal", so a strict relation still fails on it);
    mpmath does not underflow, so the next rule is not needed there.
  - For a black-box float quantity, both sides below the smallest normal float (2.2e-308) in
    magnitude compare as equal: the point is a near miss (reason "underflow"), never a
    counterexample.
  - A quantity given as a black-box float function cannot be re-evaluated: a violation of at
    most NEAR_MISS_ULPS units in the last place of the larger side (beyond the claim's own
    tolerance) is reported in `Verdict.near_misses` with its size in ulps, not as a
    counterexample; a larger one is a counterexample.
A near miss counts as tight (margin 0, ratio 1).

Bounds are evaluated with numpy (lambdify, floating-point errors raised); on overflow, underflow,
division by zero, a non-finite result or any other failure they are re-evaluated with mpmath at 50
digits and the comparison is done in mpmath; so is a quantity whose value is finite but beyond
the float range (an int such as 10**400). A bound that mpmath cannot evaluate at a point (or a
Piecewise without a branch there) is an InvalidClaim naming the claim and the point.

Parallel search (`verify(..., executor=...)`): the search itself stays one sequential,
deterministic loop in this process; the executor only evaluates the *quantity* ahead of it, on
batches of points the loop is about to ask for — every point of the exhaustive, corner, Sobol and
explore phases, the initial Nelder–Mead simplex, the pattern-search moves from the current best
point, and the ±1 integer neighbourhood. Each batch is split into chunks, sent with `map`
(concurrent.futures) or `Client.map` + `gather` (Dask), and its values are kept by point; the loop
then consumes them in its own order, exactly as if it had called the quantity there. So the
verdict — holds, counterexample, worst point, log, n_evaluated — is the serial one for any
executor, worker count or completion order, provided the quantity is a function of its
parameters (no hidden state). A value computed ahead and never asked for (the later pattern
moves from a point an earlier move improved on: at most 2 per free parameter and improvement;
the rest of a batch after a violation with stop_on_violation) is dropped: it is neither logged
nor counted against the budget, so n_evaluated is the serial count while the workers may have
done somewhat more. Ahead-of-time batches never exceed the remaining budget. Bound evaluations
and the rounding-aware re-checks stay in this process (cheap next to a measured quantity).
"""

from __future__ import annotations

import itertools
import math
import numbers
import os
import pickle
import sys
import traceback
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping

import mpmath
import numpy as np
import sympy as sp
from scipy import optimize
from scipy.stats import qmc

from theory_kit.claims.claim import Claim, ParamSpec
from theory_kit.errors import BoundViolated, InvalidClaim, InvalidInput
from theory_kit.progress import progress as progress_bar

__all__ = ["Evaluation", "Verdict", "NearMiss", "ExpressionQuantity", "verify", "assert_holds", "ratio_from_margin",
           "DEFAULT_BUDGET", "NEAR_MISS_ULPS", "MP_DPS", "EXECUTORS"]

DEFAULT_BUDGET = 2000
#: Working precision (decimal digits) of the mpmath fallback for bounds.
MP_DPS = 50
#: Largest violation, in ulps of the larger side, of a black-box float quantity that rounding
#: could explain: reported as a near miss, not a counterexample (rounding-aware verdicts).
NEAR_MISS_ULPS = 8
#: Relative slack of a comparison done at MP_DPS digits (both sides re-evaluated exactly).
_MP_REL_SLACK = 10.0 ** (-(MP_DPS - 5))
_SMALLEST_NORMAL = sys.float_info.min
#: Near misses kept in a Verdict (the count is kept in full).
_MAX_NEAR_MISSES = 50
_EXPLORE_CHUNK = 64
_MAX_STARTS_PER_ROUND = 8
_START_SEPARATION = 0.02  # in the unit box, max-norm: closer starts are the same basin
_REAL_STEP0, _REAL_STEP_MIN = 0.05, 1e-9
#: The executors `verify` accepts by name (besides Executor and distributed.Client objects).
EXECUTORS = ("serial", "local")
#: Chunks per worker a batch of points is split into (evens out unequal evaluation times).
_CHUNKS_PER_WORKER = 4


@dataclass(frozen=True)
class Evaluation:
    """One evaluated point: its parameters, both sides of the relation, and the margin.

    Attributes:
        index: 1-based order of evaluation.
        phase: search phase that proposed it ("exhaustive", "corners", "sobol", "local", "explore").
        params: read-only mapping parameter name -> value (int for integer kinds, else float).
        quantity: the measured value as a float (+-inf for a finite value beyond the float
            range, such as the int 10**400: the comparison is then done in mpmath).
        bound: the bound's value as a float (may be 0.0 or inf if only mpmath could represent it).
        margin: the normalised margin (module docstring); negative means the relation fails
            beyond the claim's tolerance (non-strict relations).
        violated: True if the relation fails beyond the claim's tolerance (after the rounding-
            aware re-check unless the search was strict).
        near_miss: the NearMiss when the float comparison failed but the re-check attributed
            the failure to rounding, else None.
    """

    index: int
    phase: str
    params: Mapping[str, float]
    quantity: float
    bound: float
    margin: float
    violated: bool
    near_miss: "NearMiss | None" = None


@dataclass(frozen=True)
class NearMiss:
    """A point where the float comparison failed by no more than rounding can explain.

    Attributes:
        params: the point.
        quantity, bound: both sides as floats.
        ulps: the float violation beyond the claim's tolerance, in units in the last place of the
            larger side (0.0 when the 50-digit re-check found no violation at all).
        reason: "ulps" (a black-box float quantity within NEAR_MISS_ULPS), "exact" (both sides
            re-evaluated at 50 digits: the relation holds) or "underflow" (both sides below the
            smallest normal float, compared as equal).
    """

    params: Mapping[str, float]
    quantity: float
    bound: float
    ulps: float
    reason: str


def ratio_from_margin(margin: float) -> float:
    """The worst-ratio scale from a normalised margin (module docstring).

    Args:
        margin: a normalised margin in [-2, 2].

    Returns:
        1 - margin for margin >= 0, 1/(1 + margin) for -1 < margin < 0, +inf for margin <= -1.
    """
    if margin >= 0:
        return 1.0 - margin
    if margin > -1:
        return 1.0 / (1.0 + margin)
    return math.inf


@dataclass(frozen=True)
class Verdict:
    """The outcome of `verify`.

    Attributes:
        claim: the claim's name.
        relation: the claim's relation.
        holds: True if no evaluated point violates the relation (beyond the claim's tolerance).
        counterexample: parameters of the most violated point, or None if the claim held.
        worst_params: parameters where the claim is tightest (the counterexample if it failed).
        worst_quantity, worst_bound: both sides at worst_params.
        worst_margin: normalised margin at worst_params (module docstring).
        worst_ratio: ratio_from_margin(worst_margin): quantity/bound at the tightest point for
            "<=" with positive sides (bound/quantity for ">="); <= 1 held, > 1 violated.
        n_evaluated: number of quantity evaluations made (<= budget).
        budget, seed: the search settings.
        exhaustive: True if every point of a finite domain was evaluated.
        first_violation_at: index of the first violating evaluation, or None.
        n_violations: number of violating evaluations.
        log: every evaluation, in order.
        status: "holds" / "violated" for a search; "proved" / "refuted" / "undecided" for
            method="prove".
        near_misses: points where the float comparison failed only by rounding (NearMiss, the
            largest first, at most 50 kept); never counterexamples. Rule (module docstring): the
            bound, and the quantity when it is an expression, are re-evaluated at 50 digits;
            a black-box float quantity may miss by at most NEAR_MISS_ULPS ulps; both sides below
            the smallest normal float compare as equal. strict=True disables all of this.
        n_near_misses: how many evaluations were near misses.
        strict: True if floats were compared exactly (no rounding-aware re-check).
        method: "search" or "prove".
        proof: for status "proved", the Proof certificate (check it with `check_proof`).
        remaining_boxes: for "undecided", the boxes the prover could not close.
        remaining_fraction: for "undecided", the fraction of the domain they cover
            (by volume for reals, by count for integers).
        prove_info: for method="prove": boxes processed, seconds, stage that settled it.
    """

    claim: str
    relation: str
    holds: bool
    counterexample: Mapping[str, float] | None
    worst_params: Mapping[str, float]
    worst_quantity: float
    worst_bound: float
    worst_margin: float
    worst_ratio: float
    n_evaluated: int
    budget: int
    seed: int
    exhaustive: bool
    first_violation_at: int | None
    n_violations: int
    log: tuple
    status: str = ""
    near_misses: tuple = ()
    n_near_misses: int = 0
    strict: bool = False
    method: str = "search"
    proof: object = None
    remaining_boxes: tuple = ()
    remaining_fraction: float | None = None
    prove_info: Mapping | None = None

    def __post_init__(self):
        if not self.status:
            object.__setattr__(self, "status", "holds" if self.holds else "violated")

    def summary(self) -> dict:
        """A JSON-ready dict of everything but the log (non-finite floats as strings)."""

        def clean(x):
            if isinstance(x, float) and not math.isfinite(x):
                return repr(x)
            return x

        return {
            "claim": self.claim,
            "relation": self.relation,
            "holds": self.holds,
            "counterexample": None if self.counterexample is None else {k: clean(v) for k, v in self.counterexample.items()},
            "worst_params": {k: clean(v) for k, v in self.worst_params.items()},
            "worst_quantity": clean(self.worst_quantity),
            "worst_bound": clean(self.worst_bound),
            "worst_margin": clean(self.worst_margin),
            "worst_ratio": clean(self.worst_ratio),
            "n_evaluated": self.n_evaluated,
            "budget": self.budget,
            "seed": self.seed,
            "exhaustive": self.exhaustive,
            "first_violation_at": self.first_violation_at,
            "n_violations": self.n_violations,
            "status": self.status,
            "strict": self.strict,
            "method": self.method,
            "n_near_misses": self.n_near_misses,
            "near_misses": [{"params": dict(nm.params), "quantity": clean(nm.quantity), "bound": clean(nm.bound),
                             "ulps": clean(nm.ulps), "reason": nm.reason} for nm in self.near_misses],
            "proof_boxes": None if self.proof is None else self.proof.n_boxes,
            "remaining_boxes": len(self.remaining_boxes),
            "remaining_fraction": self.remaining_fraction,
            "prove_info": None if self.prove_info is None else dict(self.prove_info),
        }


class _Exhausted(Exception):
    """Internal: the evaluation budget is used up (or a violation ends the search early)."""


def _fmt_params(params: Mapping) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


class _BoundEvaluator:
    """Evaluates claim.bound at a parameter point: numpy first, mpmath when floats fail."""

    def __init__(self, claim: Claim):
        by_name = {str(s): s for s in claim.bound.free_symbols}
        args = [by_name.get(spec.name, sp.Symbol(spec.name)) for spec in claim.params]
        self._claim = claim
        try:  # numpy is only the fast path: anything it cannot print is left to mpmath
            self._np = sp.lambdify(args, claim.bound, modules="numpy")
        except Exception:
            self._np = None
        try:
            self._mp = sp.lambdify(args, claim.bound, modules="mpmath")
        except Exception as exc:  # e.g. a sympy object without a numeric form
            raise InvalidClaim(f"claim {claim.name!r}: bound {claim.bound} cannot be evaluated numerically: "
                               f"{type(exc).__name__}: {exc}") from exc

    def __call__(self, values: tuple, params: Mapping):
        if self._np is not None:
            try:
                with np.errstate(all="raise"):
                    v = self._np(*values)
                if isinstance(v, (complex, np.complexfloating)):
                    raise ValueError("complex")
                v = float(v)
                if math.isfinite(v):
                    return v, None
            except Exception:  # any failure of the float fast path is settled by mpmath below
                pass
        v = self.mp(values, params)
        return float(v), v

    def mp(self, values: tuple, params: Mapping) -> "mpmath.mpf":
        """The bound at MP_DPS digits (raises InvalidClaim where it is undefined or not real)."""
        return _mp_eval(self._mp, values, params, f"claim {self._claim.name!r}: bound {self._claim.bound}")


def _mp_eval(fn, values: tuple, params: Mapping, where: str) -> "mpmath.mpf":
    """fn(*values) at MP_DPS digits as a finite real mpf, or InvalidClaim quoting `where`."""
    with mpmath.workdps(MP_DPS):
        try:
            v = fn(*[mpmath.mpf(x) for x in values])
        except Exception as exc:  # an expression is arbitrary sympy: report any failure with its point
            raise InvalidClaim(f"{where} cannot be evaluated at {_fmt_params(params)}: {type(exc).__name__}: {exc}") from exc
        if v is None:  # a Piecewise none of whose conditions holds here
            raise InvalidClaim(f"{where} is undefined at {_fmt_params(params)}: none of its Piecewise conditions "
                               f"holds there (add an otherwise branch (value, True) or narrow the domain)")
        if isinstance(v, mpmath.mpc):
            if abs(v.imag) > mpmath.mpf(10) ** (-MP_DPS + 10) * max(1, abs(v.real)):
                raise InvalidClaim(f"{where} is not real at {_fmt_params(params)} (value {v})")
            v = v.real
        try:
            v = mpmath.mpf(v)
        except Exception as exc:
            raise InvalidClaim(f"{where} is not a real number at {_fmt_params(params)}: got {type(v).__name__} {v!r}") from exc
        if not mpmath.isfinite(v):
            raise InvalidClaim(f"{where} is {v} at {_fmt_params(params)}")
        return v


class ExpressionQuantity:
    """A quantity given as a sympy expression: callable with the parameters as keywords.

    Evaluated in numpy floats (overflow, division by zero and invalid operations raise; underflow
    is allowed), falling back to mpmath at MP_DPS digits when floats fail or give a non-finite
    value; `mp(values)` always evaluates at MP_DPS digits (the verifier's re-check).
    """

    def __init__(self, expr: sp.Expr, names: list[str]):
        by_name = {str(s): s for s in expr.free_symbols}
        self.expr = expr
        self.names = tuple(names)
        args = [by_name.get(n, sp.Symbol(n)) for n in names]
        try:
            self._np = sp.lambdify(args, expr, modules="numpy")
        except Exception:  # numpy is only the fast path
            self._np = None
        try:
            self._mp = sp.lambdify(args, expr, modules="mpmath")
        except Exception as exc:
            raise InvalidClaim(f"quantity {expr} cannot be evaluated numerically: {type(exc).__name__}: {exc}") from exc
        self.__name__ = f"<expression {expr}>"

    def __call__(self, **params):
        values = tuple(params[n] for n in self.names)
        if self._np is not None:
            try:
                with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
                    v = self._np(*values)
                if not isinstance(v, (complex, np.complexfloating)):
                    v = float(v)
                    if math.isfinite(v):
                        return v
            except Exception:  # any failure of the float fast path is settled by mpmath below
                pass
        return self.mp(values, params)

    def mp(self, values: tuple, params: Mapping | None = None) -> "mpmath.mpf":
        """The quantity at MP_DPS digits."""
        params = params if params is not None else dict(zip(self.names, values))
        return _mp_eval(self._mp, values, params, f"quantity {self.expr}")

    def __repr__(self) -> str:
        return f"ExpressionQuantity({self.expr})"

    def __reduce__(self):  # lambdified functions do not pickle: rebuild them from the expression
        return (ExpressionQuantity, (self.expr, list(self.names)))


def _exact_real(q):
    """q as an mpmath number at MP_DPS digits (for values beyond the float range), or None."""
    with mpmath.workdps(MP_DPS):
        try:
            if isinstance(q, numbers.Integral):
                return mpmath.mpf(int(q))
            if isinstance(q, numbers.Rational):
                return mpmath.mpf(int(q.numerator)) / mpmath.mpf(int(q.denominator))
            return mpmath.mpf(q)
        except Exception:
            return None


def _slack_and_violation(claim: Claim, q: float, b: float, b_mp, q_mp=None) -> tuple[float, bool]:
    """The normalised margin (tolerance folded in) and whether the point violates the claim.

    b_mp / q_mp: the mpmath value of a side that floats could not represent (else None); the
    comparison is then done in mpmath at MP_DPS digits.
    """
    rel = claim.relation
    if b_mp is None and q_mp is None:
        scale = max(abs(q), abs(b))
        tol = 0.0 if rel in ("<", ">") else claim.atol + claim.rtol * scale
        if rel in ("<=", "<"):
            diff = q - b  # > 0 points the violating way
        elif rel in (">=", ">"):
            diff = b - q
        else:
            diff = abs(q - b)
        violated = diff >= 0 if rel in ("<", ">") else diff > tol
        denom = scale + tol
        if denom == 0:
            return 0.0, bool(violated)
        if math.isfinite(diff):
            m = (tol - diff) / denom
        else:  # q - b overflowed: redo the subtraction on scaled values
            qs, bs = q / denom, b / denom
            d = qs - bs if rel in ("<=", "<") else (bs - qs if rel in (">=", ">") else abs(qs - bs))
            m = tol / denom - d
        return float(max(-2.0, min(2.0, m))), bool(violated)
    with mpmath.workdps(MP_DPS):
        qm = q_mp if q_mp is not None else mpmath.mpf(q)
        b_mp = b_mp if b_mp is not None else mpmath.mpf(b)
        scale = max(abs(qm), abs(b_mp))
        tol = mpmath.mpf(0) if rel in ("<", ">") else claim.atol + claim.rtol * scale
        if rel in ("<=", "<"):
            diff = qm - b_mp
        elif rel in (">=", ">"):
            diff = b_mp - qm
        else:
            diff = abs(qm - b_mp)
        violated = diff >= 0 if rel in ("<", ">") else diff > tol
        denom = scale + tol
        m = (tol - diff) / denom if denom else mpmath.mpf(0)
        return float(m), bool(violated)


def _decode(spec: ParamSpec, u: float):
    u = min(1.0, max(0.0, float(u)))
    lo, hi = spec.lo, spec.hi
    if spec.kind == "real":
        return float(min(hi, max(lo, lo + u * (hi - lo))))
    if spec.kind == "log":
        if u == 0.0 or lo == hi:
            return float(lo)
        if u == 1.0:
            return float(hi)
        return float(min(hi, max(lo, math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))))))
    if spec.kind == "int":
        n = hi - lo + 1
        return int(lo + min(n - 1, int(math.floor(u * n))))
    # logint
    if lo == hi:
        return int(lo)
    v = round(math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))))
    return int(min(hi, max(lo, v)))


def _encode(spec: ParamSpec, v) -> float:
    lo, hi = spec.lo, spec.hi
    if lo == hi:
        return 0.5
    if spec.kind == "real":
        return (v - lo) / (hi - lo)
    if spec.kind == "log":
        return (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
    if spec.kind == "int":
        return (v - lo + 0.5) / (hi - lo + 1)
    return min(1.0, max(0.0, (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))))


def _recheck(claim: Claim, bound: _BoundEvaluator, values: tuple, params: Mapping, q: float, q_mp, b: float
             ) -> tuple[float, bool, NearMiss | None]:
    """Rounding-aware re-check of a point whose float comparison failed (module docstring).

    Returns:
        (margin, violated, near_miss): the margin recomputed from the re-evaluated sides, whether
        the point is still a counterexample, and the NearMiss when it is not.
    """
    rel = claim.relation
    strict_rel = rel in ("<", ">")
    b_hi = bound.mp(values, params)
    exact_q = True
    if isinstance(claim.quantity, ExpressionQuantity):
        q_hi = claim.quantity.mp(values, params)
    elif q_mp is not None:
        q_hi = q_mp
    else:
        q_hi, exact_q = mpmath.mpf(q), False
    with mpmath.workdps(MP_DPS):
        scale = max(abs(q_hi), abs(b_hi))
        tol = mpmath.mpf(0) if strict_rel else claim.atol + claim.rtol * scale
        if rel in ("<=", "<"):
            diff = q_hi - b_hi
        elif rel in (">=", ">"):
            diff = b_hi - q_hi
        else:
            diff = abs(q_hi - b_hi)
        denom = scale + tol
        m = float((tol - diff) / denom) if denom else 0.0
        if exact_q:  # both sides at 50 digits (mpmath's exponent range does not underflow)
            slack = scale * _MP_REL_SLACK
            violated = diff >= -slack if strict_rel else diff > tol + slack
            if violated:
                return max(-2.0, min(2.0, m)), True, None
            return max(0.0, m), False, NearMiss(params, q, b, 0.0, "exact")
        if scale < _SMALLEST_NORMAL:
            return 0.0, False, NearMiss(params, q, b, 0.0, "underflow")
        excess = diff if strict_rel else diff - tol
        if strict_rel and diff == 0:  # the float quantity equals the 50-digit bound: a tie fails "<"/">"
            return max(-2.0, min(2.0, m)), True, None
        ulp = math.ulp(float(scale))
        ulps = float(excess / ulp) if excess > 0 else 0.0
        if excess <= 0:  # only the float bound was off: the 50-digit bound is met
            return max(0.0, m), False, NearMiss(params, q, b, 0.0, "exact")
        if ulps <= NEAR_MISS_ULPS:
            return 0.0, False, NearMiss(params, q, b, ulps, "ulps")
        return max(-2.0, min(2.0, m)), True, None


def _quantities(points: list, quantity) -> list:
    """What a worker runs: the quantity at each point (a dict of keyword arguments), as
    ("ok", value), ("raised", (type name, message, traceback)) or ("unpicklable", (type name,
    repr)) for a value that could not travel back. Never raises for the quantity's failures: the
    search raises them when, and only when, it reaches that point."""
    out = []
    for params in points:
        try:
            q = quantity(**params)
        except Exception as exc:  # user code: reported by the search with the point, in order
            out.append(("raised", (type(exc).__name__, str(exc), traceback.format_exc())))
            continue
        try:
            pickle.dumps(q)
        except Exception:  # the search says which type could not be sent back
            out.append(("unpicklable", (type(q).__name__, repr(q)[:200])))
            continue
        out.append(("ok", q))
    return out


class WorkerTraceback(Exception):
    """The traceback of a quantity that raised in a worker (the `__cause__` of its InvalidClaim)."""


def _is_dask_client(obj) -> bool:
    distributed = sys.modules.get("distributed")  # not imported: obj cannot be one of its Clients
    return distributed is not None and isinstance(obj, distributed.Client)


class _Batches:
    """Evaluates a claim's quantity on lists of points on an executor; results in point order.

    executor: "local" (a pool of spawned processes, one per CPU, started here and stopped by
    `close`), a `concurrent.futures.Executor` (the caller's, left running) or a
    `distributed.Client` (likewise). The quantity must pickle for anything but threads (Dask
    uses cloudpickle, which also takes lambdas and closures)."""

    def __init__(self, claim: Claim, executor):
        self.claim = claim
        self.owned = None
        self.client = None
        if _is_dask_client(executor):
            from distributed.protocol.pickle import dumps

            self._check_picklable(dumps, "the Dask workers")
            self.client = executor
            self.label = f"the Dask cluster at {getattr(getattr(executor, 'scheduler', None), 'address', '?')}"
        elif executor == "local":
            self._check_picklable(pickle.dumps, "worker processes")
            from theory_kit.sweep.engines import process_pool

            executor = self.owned = process_pool()
            self.label = "local worker processes"
        else:
            if not isinstance(executor, ThreadPoolExecutor):
                self._check_picklable(pickle.dumps, f"the processes of {type(executor).__name__}")
            self.label = type(executor).__name__
        self.executor = executor

    def _check_picklable(self, dumps, where: str) -> None:
        try:
            dumps(self.claim.quantity)
        except Exception as exc:
            raise InvalidClaim(
                f"claim {self.claim.name!r}: its quantity {getattr(self.claim.quantity, '__qualname__', self.claim.quantity)!r} "
                f"cannot be sent to {where} ({type(exc).__name__}: {exc}); define it at the top level of an "
                "importable module (not a lambda, closure or local function), or use executor='serial' "
                "or a ThreadPoolExecutor") from exc

    @property
    def workers(self) -> int:
        if self.client is not None:
            info = self.client.scheduler_info().get("workers", {})
            return max(1, sum(w.get("nthreads", 1) for w in info.values()))
        return max(1, getattr(self.executor, "_max_workers", None) or os.cpu_count() or 1)

    def __call__(self, points: list) -> list:
        n, workers = len(points), self.workers
        # one chunk per worker for a small batch (each task has a fixed cost), more for a large
        # one so that unequal evaluation times even out
        k = min(n, workers * (_CHUNKS_PER_WORKER if n >= 8 * workers else 1))
        chunks = [points[i * n // k:(i + 1) * n // k] for i in range(k)]
        quantity = self.claim.quantity
        try:
            if self.client is not None:
                futures = self.client.map(_quantities, chunks, quantity=quantity, pure=False)
                parts = self.client.gather(futures)
            else:
                parts = list(self.executor.map(_quantities, chunks, itertools.repeat(quantity, k)))
        except Exception as exc:  # a worker died, the quantity did not unpickle there, a shut-down executor
            raise InvalidClaim(
                f"claim {self.claim.name!r}: evaluating {n} points on {self.label} failed: {type(exc).__name__}: "
                f"{exc} (first point {_fmt_params(points[0])}); a worker may have crashed, or the quantity "
                "cannot be imported there") from exc
        return [outcome for part in parts for outcome in part]

    def close(self) -> None:
        if self.owned is not None:
            from theory_kit.sweep.engines import terminate

            terminate(self.owned)
            self.owned = None


def _batches(claim: Claim, executor) -> "_Batches | None":
    """The batch evaluator for `executor`, or None for a serial search.

    Raises:
        InvalidInput: an executor that is none of the accepted kinds (the value quoted).
        InvalidClaim: the claim's quantity cannot be sent to the executor's workers."""
    if executor is None or (isinstance(executor, str) and executor == "serial"):
        return None
    if not ((isinstance(executor, str) and executor in EXECUTORS) or isinstance(executor, Executor)
            or _is_dask_client(executor)):
        raise InvalidInput(f"executor must be one of {', '.join(map(repr, EXECUTORS))}, a concurrent.futures.Executor "
                           f"or a distributed.Client, got {type(executor).__name__} {executor!r:.80}")
    return _Batches(claim, executor)


class _Search:
    def __init__(self, claim: Claim, budget: int, seed: int, progress, stop_on_violation: bool,
                 strict: bool = False, batches: _Batches | None = None):
        self.claim = claim
        self.batches = batches
        self.ahead: dict[tuple, tuple] = {}  # point -> outcome evaluated ahead by `batches`
        self.strict = strict
        self.near_misses: list[NearMiss] = []
        self.specs = claim.params
        self.dim = len(self.specs)
        self.budget = budget
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.bound = _BoundEvaluator(claim)
        self.cache: dict[tuple, Evaluation] = {}
        self.log: list[Evaluation] = []
        self.units: list[np.ndarray] = []  # unit-box coordinates of each logged point
        self.phase = ""
        self.progress = progress
        self.stop_on_violation = stop_on_violation
        self.best: Evaluation | None = None
        self.worst_violation: Evaluation | None = None
        self.exhaustive = False
        self._progress_every = max(1, budget // 50)
        self._bar = None  # the progress bar's iterator while `run` runs: one tick per evaluation
        # dims the local search moves along (degenerate ranges are fixed)
        self.free = [j for j, s in enumerate(self.specs) if s.lo != s.hi]

    # -- evaluation -------------------------------------------------------------------------
    def set_phase(self, phase: str):
        self.phase = phase
        if self.progress is not None:
            self.progress(len(self.log), self.budget, phase)

    def evaluate(self, values: tuple) -> Evaluation:
        hit = self.cache.get(values)
        if hit is not None:
            return hit
        if len(self.log) >= self.budget:
            raise _Exhausted
        params = MappingProxyType({s.name: v for s, v in zip(self.specs, values)})
        q, q_mp = self._quantity(params, self.ahead.pop(values, None))
        b, b_mp = self.bound(values, params)
        m, violated = _slack_and_violation(self.claim, q, b, b_mp, q_mp)
        near = None
        if violated and not self.strict:
            m, violated, near = _recheck(self.claim, self.bound, values, params, q, q_mp, b)
            if near is not None:
                self.near_misses.append(near)
        ev = Evaluation(len(self.log) + 1, self.phase, params, q, b, m, violated, near)
        self.log.append(ev)
        self.units.append(self.unit_of(values))
        self.cache[values] = ev
        if self.best is None or m < self.best.margin:
            self.best = ev
        if violated and (self.worst_violation is None or m < self.worst_violation.margin):
            self.worst_violation = ev
        if self._bar is not None:
            next(self._bar, None)
        if self.progress is not None and len(self.log) % self._progress_every == 0:
            self.progress(len(self.log), self.budget, self.phase)
        if violated and self.stop_on_violation:
            raise _Exhausted
        return ev

    def evaluate_ahead(self, points, limit: int | None = None) -> None:
        """With an executor: evaluate the quantity at those of `points` that the search may still
        log (not cached, within the remaining budget and `limit` new points), in parallel, for
        `evaluate` to consume."""
        if self.batches is None:
            return
        room = self.remaining if limit is None else min(limit, self.remaining)
        wanted: dict[tuple, None] = {}
        for values in points:
            if len(wanted) >= room:
                break
            if values not in self.cache:
                wanted[values] = None
        todo = [values for values in wanted if values not in self.ahead]
        if len(todo) < 2:  # one point costs less here than a round trip
            return
        names = [s.name for s in self.specs]
        outcomes = self.batches([dict(zip(names, values)) for values in todo])
        self.ahead.update(zip(todo, outcomes))

    def _quantity(self, params: Mapping, ahead: tuple | None = None) -> tuple[float, "mpmath.mpf | None"]:
        """The quantity as a float, plus its mpmath value when it is finite but beyond the float range.

        ahead: the outcome `_quantities` computed for this point on a worker, if any."""
        name = self.claim.name
        if ahead is None:
            try:
                q = self.claim.quantity(**params)
            except Exception as exc:  # the quantity is user code: any failure is reported with context
                raise InvalidClaim(f"claim {name!r}: quantity raised {type(exc).__name__}: {exc} at {_fmt_params(params)}") from exc
        elif ahead[0] == "raised":
            kind, message, trace = ahead[1]
            raise InvalidClaim(f"claim {name!r}: quantity raised {kind}: {message} at {_fmt_params(params)}"
                               ) from WorkerTraceback(trace)
        elif ahead[0] == "unpicklable":
            kind, text = ahead[1]
            raise InvalidClaim(f"claim {name!r}: quantity returned {kind} {text} at {_fmt_params(params)}, which "
                               "cannot be sent back from a worker; expected a real number")
        else:
            q = ahead[1]
        if isinstance(q, np.ndarray) and q.shape == ():
            q = q[()]
        if isinstance(q, (bool, np.bool_)) or not isinstance(q, (numbers.Real, mpmath.mpf)):
            raise InvalidClaim(f"claim {name!r}: quantity returned {type(q).__name__} {q!r} at {_fmt_params(params)}; expected a real number")
        try:
            qf = float(q)
        except OverflowError:  # e.g. an int such as 10**400: finite, compared exactly in mpmath
            qf = math.inf
        if math.isfinite(qf):
            return qf, None
        q_mp = _exact_real(q) if not isinstance(q, (float, np.floating)) else None
        if q_mp is None or not mpmath.isfinite(q_mp):
            raise InvalidClaim(f"claim {name!r}: quantity returned {qf!r} at {_fmt_params(params)}; it must be finite everywhere on the domain")
        return math.copysign(math.inf, q_mp), q_mp

    def values_of(self, u) -> tuple:
        return tuple(_decode(s, x) for s, x in zip(self.specs, u))

    def unit_of(self, values) -> np.ndarray:
        return np.array([_encode(s, v) for s, v in zip(self.specs, values)], dtype=float)

    def margin_at_u(self, u) -> float:
        return self.evaluate(self.values_of(u)).margin

    @property
    def remaining(self) -> int:
        return self.budget - len(self.log)

    # -- phases -------------------------------------------------------------------------------
    def run(self):
        # a bar on stderr (theory_kit.progress: a TTY or THEORY_KIT_PROGRESS=1) with the
        # budget as total, ticked by `evaluate`; closed however the search ends
        self._bar = progress_bar(itertools.repeat(None), total=self.budget,
                                 desc=f"verify {self.claim.name}", unit="eval")
        try:
            if self._try_exhaustive():
                return
            self._corners()
            sobol = self._sobol()
            self._local_and_explore(sobol)
        except _Exhausted:
            pass
        finally:
            self._bar.close()
            self._bar = None

    def _try_exhaustive(self) -> bool:
        sizes = [s.n_values for s in self.specs]
        if any(math.isinf(x) for x in sizes) or math.prod(sizes) > self.budget:
            return False
        self.set_phase("exhaustive")
        ranges = [range(int(s.lo), int(s.hi) + 1) if s.is_int else [s.lo] for s in self.specs]
        points = [tuple(values) for values in itertools.product(*ranges)]
        self.evaluate_ahead(points)
        for values in points:
            self.evaluate(values)
        self.exhaustive = True
        return True

    def _corners(self):
        self.set_phase("corners")
        k = len(self.free)
        cap = max(16, self.budget // 8)
        if 2**k <= cap:
            patterns = itertools.product((0.0, 1.0), repeat=k)
        else:
            patterns = (tuple(row) for row in self.rng.integers(0, 2, size=(cap, k)).astype(float))
        points = []
        for pat in patterns:
            u = np.full(self.dim, 0.5)
            u[self.free] = pat
            points.append(self.values_of(u))
        points.append(self.values_of(np.full(self.dim, 0.5)))
        self._evaluate_all(points)

    def _sobol(self):
        self.set_phase("sobol")
        sobol = qmc.Sobol(self.dim, scramble=True, rng=np.random.default_rng([self.seed, 1]))
        m = max(0, int(math.floor(math.log2(max(1, self.budget // 2)))))
        self._evaluate_all([self.values_of(u) for u in sobol.random_base2(m)])
        return sobol

    def _local_and_explore(self, sobol):
        used: list[np.ndarray] = []
        idle_rounds = 0
        while self.remaining > 0:
            starts = self._pick_starts(used)
            if starts:
                idle_rounds = 0
                for ev in starts:
                    if self.remaining <= 0:
                        return
                    u0 = self.unit_of(tuple(ev.params.values()))
                    used.append(u0)
                    self.set_phase("local")
                    share = max(40, self.remaining // max(1, len(starts)))
                    end = self._local(u0, share)
                    used.append(end)
                continue
            self.set_phase("explore")
            before = len(self.log)
            self._evaluate_all([self.values_of(u) for u in sobol.random(_EXPLORE_CHUNK)])
            idle_rounds = idle_rounds + 1 if len(self.log) == before else 0
            if idle_rounds >= 3:  # the sampler only revisits cached points: the domain is saturated
                return

    def _evaluate_all(self, points: list) -> None:
        self.evaluate_ahead(points)
        for values in points:
            self.evaluate(values)

    def _pick_starts(self, used: list[np.ndarray]) -> list[Evaluation]:
        order = sorted(range(len(self.log)), key=lambda k: (self.log[k].margin, k))
        units = np.array([self.units[k] for k in order])
        if used:
            dist = np.abs(units[:, None, :] - np.array(used)[None, :, :]).max(axis=2).min(axis=1)
            fresh = dist > _START_SEPARATION
        else:
            fresh = np.ones(len(order), dtype=bool)
        chosen: list[Evaluation] = []
        taken: list[np.ndarray] = []
        for pos in np.flatnonzero(fresh):
            u = units[pos]
            if any(np.abs(u - t).max() <= _START_SEPARATION for t in taken):
                continue
            chosen.append(self.log[order[pos]])
            taken.append(u)
            if len(chosen) >= _MAX_STARTS_PER_ROUND:
                break
        return chosen

    def _local(self, u0: np.ndarray, share: int) -> np.ndarray:
        stop_at = min(self.budget, len(self.log) + share)
        best_vals = self.values_of(u0)
        if self.free:
            best_vals = self._nelder_mead(u0, stop_at)
        best_vals = self._pattern(best_vals, stop_at)
        return self.unit_of(best_vals)

    def _nelder_mead(self, u0: np.ndarray, stop_at: int) -> tuple:
        free = self.free
        nm_stop = len(self.log) + max(10, (stop_at - len(self.log)) // 2)
        base = u0.copy()
        best = [self.evaluate(self.values_of(u0))]

        def f(x):
            if len(self.log) >= nm_stop:
                raise _NMStop
            u = base.copy()
            u[free] = np.clip(x, 0.0, 1.0)
            ev = self.evaluate(self.values_of(u))
            if ev.margin < best[0].margin:
                best[0] = ev
            return ev.margin

        x0 = base[free]
        simplex = [x0]
        for j in range(len(free)):
            x = x0.copy()
            x[j] = x[j] + 0.1 if x[j] + 0.1 <= 1.0 else x[j] - 0.1
            simplex.append(x)
        if self.batches is not None:  # scipy evaluates every vertex of the initial simplex first
            vertices = []
            for x in simplex:
                u = base.copy()
                u[free] = np.clip(x, 0.0, 1.0)
                vertices.append(self.values_of(u))
            self.evaluate_ahead(vertices)
        try:
            optimize.minimize(
                f, x0, method="Nelder-Mead", bounds=[(0.0, 1.0)] * len(free),
                options={"initial_simplex": np.array(simplex), "xatol": 1e-10, "fatol": 1e-15,
                         "maxfev": 20 * (stop_at - len(self.log)) + 100, "adaptive": len(free) > 3},
            )
        except _NMStop:
            pass
        return tuple(best[0].params.values())

    def _moves(self, values: tuple, j: int, step) -> list:
        s = self.specs[j]
        v = values[j]
        out = []
        for sign in (1, -1):
            if s.kind == "real":
                w = min(s.hi, max(s.lo, v + sign * step * (s.hi - s.lo)))
            elif s.kind == "log":
                w = min(s.hi, max(s.lo, v * math.exp(sign * step * math.log(s.hi / s.lo))))
            elif s.kind == "int":
                w = min(s.hi, max(s.lo, v + sign * step))
            else:
                w = int(min(s.hi, max(s.lo, round(v * math.exp(sign * step * math.log(s.hi / s.lo))))))
                if w == v:
                    w = min(s.hi, max(s.lo, v + sign))
            if w != v:
                out.append(values[:j] + (w,) + values[j + 1:])
        return out

    def _pattern(self, start: tuple, stop_at: int) -> tuple:
        steps = {}
        for j in self.free:
            s = self.specs[j]
            steps[j] = max(1, int(round(0.05 * (s.hi - s.lo)))) if s.kind == "int" else _REAL_STEP0
        best = self.evaluate(start)
        neighbourhood_checked = None
        while len(self.log) < stop_at:
            improved = False
            for pos, j in enumerate(self.free):
                if self.batches is not None:  # this move and the later ones, from the current best
                    here = tuple(best.params.values())
                    self.evaluate_ahead([c for i in self.free[pos:] for c in self._moves(here, i, steps[i])],
                                        limit=stop_at - len(self.log))
                for cand in self._moves(tuple(best.params.values()), j, steps[j]):
                    if len(self.log) >= stop_at:
                        return tuple(best.params.values())
                    ev = self.evaluate(cand)
                    if ev.margin < best.margin:
                        best, improved = ev, True
                        break
            if improved:
                continue
            at_min = all((steps[j] == 1) if self.specs[j].kind == "int" else (steps[j] <= _REAL_STEP_MIN) for j in self.free)
            if not at_min:
                for j in self.free:
                    steps[j] = max(1, steps[j] // 2) if self.specs[j].kind == "int" else steps[j] / 2
                continue
            key = tuple(best.params.values())
            if neighbourhood_checked == key:
                break
            neighbourhood_checked = key
            nb = self._int_neighbourhood(key, stop_at)
            if nb is not None and nb.margin < best.margin:
                best = nb
                for j in self.free:
                    steps[j] = steps[j] if self.specs[j].kind == "int" else _REAL_STEP0 / 8
                continue
            break
        return tuple(best.params.values())

    def _int_neighbourhood(self, values: tuple, stop_at: int):
        ints = [j for j in self.free if self.specs[j].is_int]
        if not ints or len(ints) > 4:
            return None
        points = []
        for offs in itertools.product((-1, 0, 1), repeat=len(ints)):
            if not any(offs):
                continue
            v = list(values)
            ok = True
            for j, o in zip(ints, offs):
                w = v[j] + o
                if not (self.specs[j].lo <= w <= self.specs[j].hi):
                    ok = False
                    break
                v[j] = w
            if ok:
                points.append(tuple(v))
        self.evaluate_ahead(points, limit=stop_at - len(self.log))
        best = None
        for v in points:
            if len(self.log) >= stop_at and v not in self.cache:
                break
            ev = self.evaluate(v)
            if best is None or ev.margin < best.margin:
                best = ev
        return best


class _NMStop(Exception):
    """Internal: the Nelder–Mead stage used its share of the budget."""


def verify(claim: Claim, *, budget: int = DEFAULT_BUDGET, seed: int = 0,
           progress: Callable[[int, int, str], None] | None = None,
           stop_on_violation: bool = False, strict: bool = False, method: str = "search",
           max_boxes: int | None = None, max_seconds: float | None = None, executor=None) -> Verdict:
    """Try hard to break a claim (adversarial search), or prove it (method="prove").

    Verdicts are rounding-aware unless strict=True (module docstring): a float comparison that
    fails is re-checked at 50 digits, a black-box quantity missing by at most NEAR_MISS_ULPS ulps
    is a near miss (Verdict.near_misses), and both sides below the smallest normal float compare
    equal.

    method="prove" (claims whose quantity and bound are both sympy expressions): the search runs
    first (a counterexample it finds is re-checked in interval arithmetic and returned as
    status "refuted"); then `theory_kit.claims.prove.prove` tries sympy and interval
    branch-and-bound within max_boxes / max_seconds, giving status "proved" with a Proof,
    "refuted" with an exact counterexample, or "undecided" with the remaining boxes.

    Args:
        claim: the Claim to check.
        budget: maximum number of quantity evaluations (repeated points are free).
        seed: seeds the Sobol scrambling and any random corner subset; the verdict, including
            its log, is a deterministic function of (claim, budget, seed).
        progress: optional callback progress(n_evaluated, budget, phase), called at each phase
            change and about every 2% of the budget.
        stop_on_violation: stop at the first violation instead of searching for the worst one.
        strict: compare the float values exactly (no re-check, no near misses).
        method: "search" (default) or "prove".
        max_boxes, max_seconds: budgets of the prover (defaults in theory_kit.claims.prove).
        executor: where the quantity is evaluated (module docstring, "Parallel search"): None or
            "serial" (here, one point at a time); "local" (one spawned worker process per CPU,
            started and stopped by this call); a `concurrent.futures.Executor` (e.g.
            ProcessPoolExecutor(max_workers=8) or ThreadPoolExecutor for a quantity that releases
            the GIL; left running); or a `distributed.Client` (a LocalCluster, a scheduler address
            or a dask-jobqueue cluster; left running). The verdict is identical to the serial one
            for every executor. Process-based executors need a quantity that pickles (a function
            at the top level of an importable module; Dask also takes lambdas and closures).

    Returns:
        A Verdict: holds, the counterexample (most violated point) or the tightest point, the
        worst ratio and margin, how many points were evaluated, and the full evaluation log.

    Raises:
        InvalidInput: if claim is not a Claim, budget/seed are not non-negative ints, or executor
            is none of the kinds above (value quoted).
        InvalidClaim: if the quantity raises or returns something that is not a finite real, or
            the bound cannot be evaluated to a finite real, naming the claim and the parameters;
            or the quantity cannot be sent to the executor's workers, or a worker failed.
    """
    if not isinstance(claim, Claim):
        raise InvalidInput(f"verify expects a Claim, got {type(claim).__name__} {claim!r}")
    if isinstance(budget, bool) or not isinstance(budget, numbers.Integral) or budget < 1:
        raise InvalidInput(f"budget must be an int >= 1, got {budget!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise InvalidInput(f"seed must be an int >= 0, got {seed!r}")
    if method not in ("search", "prove"):
        raise InvalidInput(f"method must be 'search' or 'prove', got {method!r}")
    if method == "prove":
        from theory_kit.claims.prove import prove_verdict  # prove imports this module

        searched = verify(claim, budget=budget, seed=seed, progress=progress, stop_on_violation=stop_on_violation,
                          strict=strict, executor=executor)
        return prove_verdict(claim, searched, max_boxes=max_boxes, max_seconds=max_seconds, progress=progress)
    batches = _batches(claim, executor)
    try:
        search = _Search(claim, int(budget), int(seed), progress, stop_on_violation, bool(strict), batches)
        search.run()
    finally:
        if batches is not None:
            batches.close()
    if progress is not None:
        progress(len(search.log), search.budget, "done")
    violations = [e for e in search.log if e.violated]
    worst = search.worst_violation if violations else search.best
    return Verdict(
        claim=claim.name,
        relation=claim.relation,
        holds=not violations,
        counterexample=worst.params if violations else None,
        worst_params=worst.params,
        worst_quantity=worst.quantity,
        worst_bound=worst.bound,
        worst_margin=worst.margin,
        worst_ratio=ratio_from_margin(worst.margin),
        n_evaluated=len(search.log),
        budget=int(budget),
        seed=int(seed),
        exhaustive=search.exhaustive,
        first_violation_at=violations[0].index if violations else None,
        n_violations=len(violations),
        log=tuple(search.log),
        near_misses=tuple(sorted(search.near_misses, key=lambda nm: -nm.ulps)[:_MAX_NEAR_MISSES]),
        n_near_misses=len(search.near_misses),
        strict=bool(strict),
    )


def assert_holds(claim: Claim, **kwargs) -> Verdict:
    """Verify a claim and raise if a counterexample is found.

    Args:
        claim: the Claim to check.
        **kwargs: passed to `verify` (budget, seed, progress).

    Returns:
        The Verdict when the claim held.

    Raises:
        BoundViolated: with the verdict attached, quoting the counterexample and both sides.
    """
    verdict = verify(claim, **kwargs)
    if not verdict.holds:
        raise BoundViolated(
            f"claim {claim.name!r} fails at {_fmt_params(verdict.counterexample)}: quantity {verdict.worst_quantity!r} "
            f"{claim.relation} bound {verdict.worst_bound!r} is false (worst ratio {verdict.worst_ratio:.6g}, "
            f"found after {verdict.first_violation_at} of {verdict.n_evaluated} evaluations)",
            verdict=verdict,
        )
    return verdict
