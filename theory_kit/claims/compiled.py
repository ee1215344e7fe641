"""Claims about compiled RASP programs: the minimal exact softmax temperature and model sizes.

Importing this module registers two claims:

  * compiled_min_beta — for make_hist over the vocabulary {0, 1}, the smallest β at which the
    compiled model is still exact on every input (found by bisection; `compile(..., beta=b,
    verify="exhaustive")` raising CompilationMismatch means "not exact") is at most the β the
    compiler uses, 2·ln((N+1)/ε) with ε = min(tol(float64), 1/(8(N+1)^2·max|value|)), which is
    tol(float64) = 1e-10 on the whole domain N = 2..6.
  * size_formulas — the residual widths of the compiled make_length, make_hist, make_count,
    make_frac_prevs, make_pair_balance and make_sort_unique (vocabulary 0..V-1, max_seq_len N),
    summed, equal the sum of the closed forms in theory_kit.bounds.sizes (relation "==").

Both domains are finite and small (5 and 35 points), so the verifier searches them exhaustively
within any budget >= 35; every quantity evaluation is cached and takes well under 2 s.
"""

from __future__ import annotations

import functools

import sympy as sp

from theory_kit.bounds import sizes
from theory_kit.claims.claim import Claim
from theory_kit.claims.registry import register

__all__ = ["min_exact_beta", "compiler_beta", "residual_width_total", "MIN_BETA_VOCAB",
           "MIN_BETA_BOUND", "MIN_BETA_N_RANGE", "SIZE_PROGRAM_NAMES", "RESIDUAL_WIDTH_BOUND", "BETA_RTOL"]

#: Vocabulary of the make_hist model whose minimal exact β is measured.
MIN_BETA_VOCAB = (0, 1)
#: Relative width of the final bisection bracket (the returned β is its exact end).
BETA_RTOL = 1e-3
#: max_seq_len range of the compiled_min_beta claim.
MIN_BETA_N_RANGE = (2, 6)
_BETA_FLOOR = 1e-3  # the compiler needs beta > 0; make_hist is not exact this cold

_N = sp.Symbol("N", positive=True, integer=True)
_TOL_FLOAT64 = sp.Rational(1, 10**10)  # theory_kit.compiler.config.TOLERANCE[float64]
#: Compiler's β for make_hist: 2 ln((N+1)/eps), eps = min(tol, 1/(8 (N+1)^2 N)) (hist values <= N).
MIN_BETA_BOUND = 2 * sp.log((_N + 1) / sp.Min(_TOL_FLOAT64, 1 / (8 * (_N + 1) ** 2 * _N)))


def _hist_exact(N: int, beta: float | None, verify: str | None = "exhaustive"):
    from theory_kit import compile as tk_compile
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


@functools.lru_cache(maxsize=None)
def min_exact_beta(N: int) -> float:
    """Smallest β (to relative precision BETA_RTOL) at which compiled make_hist is exact.

    Bisection between a failing β (1e-3) and the compiler's β; returns the smallest β seen to be
    exact (exhaustively verified). Returns +inf if the compiler's own β is not exact, which
    violates the claim. Assumes exactness is monotone in β on the bracket (it is a bisection).
    """
    N = int(N)
    hi = compiler_beta(N)
    if not _is_exact(N, hi):
        return float("inf")
    lo = _BETA_FLOOR
    if _is_exact(N, lo):
        return lo
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
    from theory_kit import compile as tk_compile

    program, vocab = sizes.SIZE_PROGRAMS[name](V, N)
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
    source="theory_kit/craft/lowering.py derive_beta; theory_kit/compiler/blocks.py choose_epsilon",
    description="smallest beta at which compiled make_hist (vocab {0,1}) is exact on every input "
                "(bisection, exhaustive verification) vs the compiler's beta = 2 ln((N+1)/eps)",
))

register(Claim(
    name="size_formulas",
    quantity=residual_width_total,
    bound=RESIDUAL_WIDTH_BOUND,
    domain={"V": (2, 6, "int"), "N": (2, 8, "int")},
    relation="==",
    source="theory_kit/bounds/sizes.py (constructions of theory_kit/craft/lowering.py)",
    description="summed residual width of compiled length, hist, count, frac_prevs, pair_balance, "
                "sort_unique (vocab 0..V-1, max_seq_len N) equals the closed forms",
))
