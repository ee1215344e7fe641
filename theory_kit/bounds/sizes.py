"""Closed-form sizes of compiled Tracr library programs, as sympy expressions in V and N.

V = |vocab| (tokens 0..V-1), N = max_seq_len. Every formula is read off the constructions in
theory_kit/craft/lowering.py and the layout rules of theory_kit/compiler/{blocks,layers,weights}.py
(tests/bounds/test_sizes.py checks each against `compile(...).summary()`); nothing is fitted.

Shared facts of the constructions used below:
  * SelectorWidth with n possible widths: 1 head (one value column, the BOS-weight scratch) and an
    MLP of 1 (constant) + 2(n-1) (two units per step) + 1 (cleaning the scratch) = 2n units.
  * A head's query/key code has one column per distinct row (or column) of the predicate
    matrix plus 2 BOS columns; an all-true or query-independent predicate uses 1 + 2 = 3.
  * Parameters (dense, as `summary()["params"]` counts): with residual width d, output width o,
    and per layer h heads of code width e and value width f, m hidden units:
        d(V+1) + d(N+1) + d·o  +  Σ_layers [2hde + 2hdf + m(2d+1) + d]
    (token/position embeddings incl. BOS rows, unembedding; W_Q, W_K, W_V, W_O, W_in, b_in,
    W_out, b_out). `_params` builds this sum.

Quantities: "layers", "heads" (total), "mlp_hidden" (total), "residual_width", "params".
A program's dict omits a quantity that has no clean closed form (said in its docstring).
"""

from __future__ import annotations

from typing import Callable

import sympy as sp

__all__ = ["V", "N", "SIZE_PROGRAMS", "SIZE_MIN", "size_formulas", "QUANTITIES"]

V = sp.Symbol("V", positive=True, integer=True)
N = sp.Symbol("N", positive=True, integer=True)

QUANTITIES = ("layers", "heads", "mlp_hidden", "residual_width", "params")


def _params(d, out, layers) -> sp.Expr:
    """Dense parameter count for residual width d, output width out, layers [(h, e, f, m)]."""
    total = d * (V + 1) + d * (N + 1) + d * out
    for h, e, f, m in layers:
        total += 2 * h * d * e + 2 * h * d * f + m * (2 * d + 1) + d
    return sp.expand(total)


def make_length() -> dict:
    """make_length: one SelectorWidth of an all-true selector; widths 1..N.

    1 layer, 1 head (code 1 + 2 BOS columns = 3), MLP 2N; residual one, bos, scratch and the N
    one-hot widths = N + 3 (tokens are never read, so V enters only the token embedding rows).
    """
    d = N + 3
    return {"layers": sp.Integer(1), "heads": sp.Integer(1), "mlp_hidden": 2 * N,
            "residual_width": d, "params": _params(d, N, [(1, 3, 1, 2 * N)])}


def make_hist() -> dict:
    """make_hist: SelectorWidth of Select(tokens, tokens, EQ); widths 1..N.

    1 layer, 1 head with code V + 2 (the identity predicate has V distinct rows), MLP 2N;
    residual 2 (one, bos) + V (tokens) + 1 (scratch) + N (hist values 1..N) = V + N + 3.
    """
    d = V + N + 3
    return {"layers": sp.Integer(1), "heads": sp.Integer(1), "mlp_hidden": 2 * N,
            "residual_width": d, "params": _params(d, N, [(1, V + 2, 1, 2 * N)])}


def make_count() -> dict:
    """make_count(tokens, 0): SelectorWidth of the query-independent selector key == 0; widths 0..N.

    1 layer, 1 head (code 1 + 2 = 3), MLP 2(N+1); residual one, bos, the single read token
    direction tokens:0, scratch, N+1 widths = N + 5 (independent of V).
    """
    d = N + 5
    return {"layers": sp.Integer(1), "heads": sp.Integer(1), "mlp_hidden": 2 * N + 2,
            "residual_width": d, "params": _params(d, N + 1, [(1, 3, 1, 2 * N + 2)])}


def make_frac_prevs() -> dict:
    """make_frac_prevs(tokens == 0): numerical mean over Select(indices, indices, LEQ).

    The Map tokens == 0 is fused into the value matrix (no MLP): 1 layer, 1 head of code N + 2
    (N distinct prefix rows), value width 1; residual one, bos, V tokens, N indices, output = V+N+3.
    """
    d = V + N + 3
    return {"layers": sp.Integer(1), "heads": sp.Integer(1), "mlp_hidden": sp.Integer(0),
            "residual_width": d, "params": _params(d, 1, [(1, N + 2, 1, 0)])}


def make_pair_balance() -> dict:
    """make_pair_balance(tokens, 0, 1): two frac_prevs heads in parallel + a linear MLP (2 units).

    1 layer, 2 heads of code N + 2, MLP relu(z) - relu(-z) = 2 units; residual one, bos,
    V tokens, N indices, opens, closes, pair_balance = V + N + 5.
    """
    d = V + N + 5
    return {"layers": sp.Integer(1), "heads": sp.Integer(2), "mlp_hidden": sp.Integer(2),
            "residual_width": d, "params": _params(d, 1, [(2, N + 2, 1, 2)])}


def make_sort_unique() -> dict:
    """make_sort_unique(tokens, tokens): target_pos = SelectorWidth(keys LT), then Aggregate.

    Layer 0: 1 head (LT on V tokens: V distinct rows, code V + 2), MLP 2N (widths 0..N-1).
    Layer 1: 1 head (target_pos EQ indices: code N + 2, values V one-hot), no MLP.
    Residual one, bos, V tokens, N indices, N target_pos values, V sort values, the scratch
    sharing its dimension with one sort value (cleaned in layer 0) = 2V + 2N + 2.
    """
    d = 2 * V + 2 * N + 2
    return {"layers": sp.Integer(2), "heads": sp.Integer(2), "mlp_hidden": 2 * N,
            "residual_width": d,
            "params": _params(d, V, [(1, V + 2, 1, 2 * N), (1, N + 2, V, 0)])}


def make_reverse() -> dict:
    """make_reverse(tokens): length (SelectorWidth), opp_idx = length - indices - 1 (MLP), Aggregate.

    3 layers (attention, MLP-only, attention) and 2 heads. The MLP hidden size and residual
    width depend on which dead directions the liveness allocator reuses and cleans (min/max of
    V and N pieces), so they and params are omitted: no single clean closed form.
    """
    return {"layers": sp.Integer(3), "heads": sp.Integer(2)}


def make_count_less_freq() -> dict:
    """make_count_less_freq(2): hist, then SelectorWidth of Select(hist, hist, k <= 2); N >= 3.

    2 layers, 2 heads (for N = 2 the selector is constant-true and both heads share 1 layer).
    MLP sizes depend on which hist values the second selector distinguishes and on residual
    reuse, so mlp_hidden, residual_width and params are omitted (no clean closed form).
    """
    return {"layers": sp.Integer(2), "heads": sp.Integer(2)}


_FORMULAS: dict[str, Callable[[], dict]] = {
    "make_length": make_length,
    "make_hist": make_hist,
    "make_count": make_count,
    "make_frac_prevs": make_frac_prevs,
    "make_pair_balance": make_pair_balance,
    "make_sort_unique": make_sort_unique,
    "make_reverse": make_reverse,
    "make_count_less_freq": make_count_less_freq,
}

#: Smallest (V, N) at which each program's formulas hold.
SIZE_MIN: dict[str, tuple[int, int]] = {name: (2, 2) for name in _FORMULAS}
SIZE_MIN["make_count_less_freq"] = (2, 3)


def _build(name: str, v: int, n: int) -> tuple:
    """(program, vocab) of `name` at vocabulary size v (tokens 0..v-1); n is unused."""
    from theory_kit import library as L  # lazy: bounds/ must not import the compiler stack
    from theory_kit import rasp

    programs = {
        "make_length": L.make_length,
        "make_hist": L.make_hist,
        "make_count": lambda: L.make_count(rasp.tokens, 0),
        "make_frac_prevs": lambda: L.make_frac_prevs(rasp.tokens == 0),
        "make_pair_balance": lambda: L.make_pair_balance(rasp.tokens, 0, 1),
        "make_sort_unique": lambda: L.make_sort_unique(rasp.tokens, rasp.tokens),
        "make_reverse": lambda: L.make_reverse(rasp.tokens),
        "make_count_less_freq": lambda: L.make_count_less_freq(2),
    }
    return programs[name](), tuple(range(v))


def _factory(name: str) -> Callable[[int, int], tuple]:
    def factory(v: int, n: int) -> tuple:
        return _build(name, v, n)

    factory.__name__ = factory.__qualname__ = f"{name}_factory"
    return factory


#: name -> factory(V, N) -> (program, vocab) for every program with formulas (vocab 0..V-1).
SIZE_PROGRAMS: dict[str, Callable[[int, int], tuple]] = {name: _factory(name) for name in _FORMULAS}


def size_formulas(name: str) -> dict[str, sp.Expr]:
    """The size formulas of library program `name` (a key of SIZE_PROGRAMS), in V and N.

    Raises:
        KeyError: for a program without formulas, listing the known ones.
    """
    try:
        build = _FORMULAS[name]
    except KeyError:
        raise KeyError(f"no size formulas for {name!r}; known: {', '.join(sorted(_FORMULAS))}") from None
    return {k: sp.sympify(v) for k, v in build().items()}
