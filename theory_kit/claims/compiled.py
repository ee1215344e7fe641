"""Claims about compiled RASP programs: the minimal exact softmax temperature and model sizes.

Importing this module registers two claims:

  * compiled_min_beta — for make_hist over the vocabulary {0, 1}, the smallest β at which the
    compiled model is still exact on every input (found by bisection; `compile(..., beta=b,
    verify="exhaustive")` raising CompilationMismatch means "not exact"; the search for it never
    looks at the compiler's β, so the claim can fail) is at most the β the compiler uses, 2·ln((N+1)/ε) with ε = min(tol(float64), 1/(8(N+1)^2·max|value|)), which is
    tol(float64) = 1e-10 on the whole domain N = 2..6 (bounds.compiled.attention_beta and
    attention_epsilon: the expressions the compiler itself evaluates).
  * size_formulas — the residual widths of the compiled make_length, make_hist, make_count,
    make_frac_prevs, make_pair_balance and make_sort_unique (vocabulary 0..V-1, max_seq_len N),
    summed, equal the sum of the closed forms in theory_kit.bounds.sizes (relation "==").

Both domains are finite and small (5 and 35 points), so the verifier searches them exhaustively
within any budget >= 35; every quantity evaluation is cached and takes well under 2 s.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from theory_kit.bounds import compiled as bounds_compiled
from theory_kit.bounds import sizes
from theory_kit.claims.claim import Claim
from theory_kit.claims.registry import register
from theory_kit.compiler.config import TOLERANCE

__all__ = ["min_exact_beta", "compiler_beta", "residual_width_total", "MIN_BETA_VOCAB",
           "MIN_BETA_BOUND", "MIN_BETA_N_RANGE", "SIZE_PROGRAM_NAMES", "RESIDUAL_WIDTH_BOUND", "BETA_RTOL"]

#: Vocabulary of the make_hist model whose minimal exact β is measured.
MIN_BETA_VOCAB = (0, 1)
#: Relative width of the final bisection bracket (the returned β is its exact end).
BETA_RTOL = 1e-3
#: max_seq_len range of the compiled_min_beta claim.
MIN_BETA_N_RANGE = (2, 6)
_BETA_FLOOR = 1e-3  # the compiler needs beta > 0; make_hist is not exact this cold

_N = bounds_compiled.N
#: TOLERANCE[float64] as an exact rational (the compiler's tol for float64).
_TOL_FLOAT64 = sp.nsimplify(TOLERANCE[np.dtype(np.float64)], rational=True)
#: Compiler's β for make_hist: the same sympy expressions the compiler lambdifies,
#: attention_beta(N, attention_epsilon(tol, N, vmax=N, gap=oo)) (hist values <= N; make_hist
#: discretises no numerical SOp, so no Map gap tightens ε).
MIN_BETA_BOUND = bounds_compiled.attention_beta(
    _N, bounds_compiled.attention_epsilon(_TOL_FLOAT64, _N, _N, sp.oo))


def _hist_exact(N: int, beta: float | None, verify: str | None = "exhaustive"):
    from theory_kit.compiler import compile as tk_compile
    from theory_kit.library import make_hist

    return tk_compile(make_hist(), vocab=MIN_BETA_VOCAB, max_seq_len=int(N), verify=verify, beta=beta)


@functools.lru_cache(maxsize=None)
def compiler_beta(N: int) -> float:
    """The β the compiler chooses for make_hist over MIN_BETA_VOCAB at max_seq_len N."""
    return float(_hist_exact(N, None, verify=None).constants["beta"])


def _is_exact(N: int, beta: float) -> bool:
    from theory_kit.errors import CompilationMismatch

    try:
        _hist_exact(N, beta)
    except CompilationMismatch:
        return False
    return True


#: Largest beta the independent search for an exact beta tries before giving up (+inf).
_BETA_CEILING = 1e6


@functools.lru_cache(maxsize=None)
def min_exact_beta(N: int) -> float:
    """Smallest β (to relative precision BETA_RTOL) at which compiled make_hist is exact.

    Independent of the compiler's β (so the claim can fail): starting from β = 1, double until
    the model is exact (or halve while it stays exact, down to 1e-3), then bisect the bracket
    (failing, exact) to relative width BETA_RTOL; returns its exact end, or +inf if no β up to
    1e6 is exact. Assumes exactness is monotone in β on the bracket (it is a bisection). Were
    the compiler's formula too small, this β would exceed it and the claim would fail.
    """
    N = int(N)
    lo, hi = None, 1.0
    if _is_exact(N, hi):
        while hi / 2 >= _BETA_FLOOR and _is_exact(N, hi / 2):
            hi /= 2
        lo = hi / 2
        if lo < _BETA_FLOOR:
            return hi
    else:
        lo = hi
        while not _is_exact(N, hi * 2):
            hi *= 2
            lo = hi
            if hi > _BETA_CEILING:
                return float("inf")
        hi *= 2
    while hi - lo > BETA_RTOL * hi:
        mid = 0.5 * (lo + hi)
        if _is_exact(N, mid):
            hi = mid
        else:
            lo = mid
    return hi


def _min_beta_quantity(N: int) -> float:
    return min_exact_beta(int(N))


#: Programs whose residual widths the size claim sums (all have a closed-form width).
SIZE_PROGRAM_NAMES = ("make_length", "make_hist", "make_count", "make_frac_prevs",
                      "make_pair_balance", "make_sort_unique")


@functools.lru_cache(maxsize=None)
def _residual_width(name: str, V: int, N: int) -> int:
    from theory_kit.compiler import compile as tk_compile

    from theory_kit.library import SIZE_PROGRAMS

    program, vocab = SIZE_PROGRAMS[name](V, N)
    return int(tk_compile(program, vocab=vocab, max_seq_len=N, verify=None).summary()["residual_width"])


def residual_width_total(V: int, N: int) -> int:
    """Sum over SIZE_PROGRAM_NAMES of the compiled residual width at (V, N)."""
    return sum(_residual_width(name, int(V), int(N)) for name in SIZE_PROGRAM_NAMES)


#: Sum of the residual-width closed forms (in sizes.V, sizes.N).
RESIDUAL_WIDTH_BOUND = sp.expand(sum(sizes.size_formulas(n)["residual_width"] for n in SIZE_PROGRAM_NAMES))

register(Claim(
    name="compiled_min_beta",
    quantity=_min_beta_quantity,
    bound=MIN_BETA_BOUND,
    domain={"N": (*MIN_BETA_N_RANGE, "int")},
    relation="<=",
    source="theory_kit/bounds/compiled.py attention_beta, attention_epsilon (lambdified in "
           "theory_kit/compiler/graph_to_blocks.py)",
    description="smallest beta at which compiled make_hist (vocab {0,1}) is exact on every input "
                "(bisection, exhaustive verification) vs the compiler's beta = 2 ln((N+1)/eps)",
))

register(Claim(
    name="size_formulas",
    quantity=residual_width_total,
    bound=RESIDUAL_WIDTH_BOUND,
    domain={"V": (2, 6, "int"), "N": (2, 8, "int")},
    relation="==",
    source="theory_kit/bounds/sizes.py (constructions of theory_kit/craft/mlp.py, "
           "theory_kit/craft/attention.py)",
    description="summed residual width of compiled length, hist, count, frac_prevs, pair_balance, "
                "sort_unique (vocab 0..V-1, max_seq_len N) equals the closed forms",
))
