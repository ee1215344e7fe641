"""Closed-form sizes of compiled Tracr library programs, as sympy expressions in V and N.

V = |vocab| (tokens 0..V-1), N = max_seq_len. Every formula is read off the constructions in
theory_kit/craft/lowering.py and the layout rules of theory_kit/compiler/{blocks,layers,weights}.py
(tests/bounds/test_sizes.py checks each against `compile(...).summary()`); nothing is fitted.

Shared facts of the constructions used below:
  * SelectorWidth with n possible widths: 1 head (one value column, the BOS-weight scratch) and an
    MLP of 1 (constant) + 2(n-1) (two units per step) + 1 (cleaning the scratch) = 2n units.
  * Every categorical lookup (a categorical Map, a SequenceMap's pair table, a lookup on a
    shared argument) spends a snapped ReLU pair, 2 units, per (pattern, output) group
    (craft.mlp.snapped_units: exact 0/1 outputs); below, "g groups" costs 2g units.
  * Steps on x ± y (a SequenceMap through a sum, compiler `_through_sum`) gate their constant
    term, when the lowest value writes a direction, on both operands being present with a
    snapped pair too: 2 + 2·(changes) units. The compiler takes the steps when they are fewer
    than the pair table's 2 units per kept group (make_sort, make_sort_freq: from N = 2 on).
    Discretising steps on a numerical value keep one constant unit relu(1 - 2·bos) (1 + 2 per
    change); linear MLPs use 2 units, cleaning a reused dimension 1 (2 if signed numerical).
  * A head's query/key code has one column per distinct row (or column) of the predicate
    matrix plus 2 BOS columns; an all-true or query-independent predicate uses 1 + 2 = 3.
  * Parameters (dense, as `summary()["params"]` counts): with residual width d, output width o,
    and per layer h heads of code width e and value width f, m hidden units:
        d(V+1) + d(N+1) + d·o  +  Σ_layers [2hde + 2hdf + m(2d+1) + d]
    (token/position embeddings incl. BOS rows, unembedding; W_Q, W_K, W_V, W_O, W_in, b_in,
    W_out, b_out). `_params` builds this sum.

  * Residual reuse (compiler/layers.py) is deterministic: a direction written at sublayer s takes
    the lowest-numbered dimension whose previous occupant was cleaned strictly before s, and a
    reused dimension costs one cleaning unit (two if signed numerical; none for a self-cleaned
    SelectorWidth scratch). When how many dimensions are free depends on which of two counts is
    larger, the formula uses sympy Min/Max (piecewise polynomials), derived in the docstring.
  * Programs on a fixed vocabulary (FIXED_VOCAB: shuffle_dyck, shuffle_dyck2, prefix_sum, add)
    have formulas in N only; their token embedding has len(FIXED_VOCAB[name]) + 1 rows.

Quantities: "layers", "heads" (total), "mlp_hidden" (total), "residual_width", "params".
Since every layer has the same width d, params depend on the per-layer MLP sizes only through
their sum; per-layer (h, e, f) use the largest code/value width among the layer's heads.
A program's dict omits a quantity that has no clean closed form (said in its docstring).
"""

from __future__ import annotations

from typing import Callable

import sympy as sp

__all__ = ["V", "N", "SIZE_NAMES", "SIZE_MIN", "FIXED_VOCAB", "PROGRAM_NAMES",
           "size_vocab", "size_formulas", "QUANTITIES"]

V = sp.Symbol("V", positive=True, integer=True)
N = sp.Symbol("N", positive=True, integer=True)

QUANTITIES = ("layers", "heads", "mlp_hidden", "residual_width", "params")


def _params(d, out, layers, vocab_size=V) -> sp.Expr:
    """Dense parameter count for residual width d, output width out, layers [(h, e, f, m)]
    (vocab_size: the number of tokens, V unless the program's vocabulary is fixed)."""
    total = d * (vocab_size + 1) + d * (N + 1) + d * out
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
    """make_reverse(tokens): length (SelectorWidth), opp_idx = length - indices (MLP), Aggregate.

    L0: length head (code 3), MLP 2N (widths 1..N). L1: opp_idx = length - indices depends on
    the difference only, so it is a discretising MLP on the linear form Σ l·x_l - Σ i·x_i, one
    ReLU pair per change: 2N units (the pair table, N(N+1)/2 groups = N(N+1) units, is never
    smaller).
    L2: reverse head, Select(indices, opp_idx-1, EQ): N key column groups -> code N + 2, value V.
    Residual by liveness: one, bos, V tokens, N indices, scratch, N length; opp_idx 1..N reuses the
    scratch (self-cleaned) plus N - 1 new; reverse (written after length's last read) reuses
    min(V, N) length dimensions (one cleaning unit each) and adds max(0, V - N):
    d = 2 + 2N + V + max(V, N); mlp_hidden = 2N + 2N + min(V, N).
    """
    d = 2 + 2 * N + V + sp.Max(V, N)
    m1 = 2 * N + sp.Min(V, N)
    return {"layers": sp.Integer(3), "heads": sp.Integer(2), "mlp_hidden": 2 * N + m1,
            "residual_width": d,
            "params": _params(d, V, [(1, 3, 1, 2 * N), (0, 0, 0, m1), (1, N + 2, V, 0)])}


def make_count_less_freq() -> dict:
    """make_count_less_freq(2): hist, then SelectorWidth of Select(hist, hist, k <= 2); N >= 3.

    L0: hist head (code V + 2); the second selector ignores the query and reads only hist:1, hist:2,
    so hist's MLP keeps 1 + 2·2 + 1 = 6 units. L1: head code 3, widths 0..N -> MLP 2(N+1).
    Residual: one, bos, V tokens, hist scratch, hist:1, hist:2; tokens die after L0's head, so the
    new scratch and the N + 1 widths reuse the V token dimensions and hist's self-cleaned scratch:
    d = 5 + max(V, N + 1). The reused token dimensions are cleaned: min(V, N + 2) units in L0.
    (For N = 2 the selector is constant-true and both heads share one layer: excluded.)
    """
    d = 5 + sp.Max(V, N + 1)
    m0 = 6 + sp.Min(V, N + 2)
    return {"layers": sp.Integer(2), "heads": sp.Integer(2), "mlp_hidden": m0 + 2 * N + 2,
            "residual_width": d,
            "params": _params(d, N + 1, [(1, V + 2, 1, m0), (1, 3, 1, 2 * N + 2)])}


def shift_by() -> dict:
    """shift_by(1, tokens): one categorical Aggregate with Select(indices, indices, q == k + 1).

    The predicate matrix has N row groups (N - 1 one-hot rows plus the empty row of q = 0) and N
    column groups, so code N + 2; value V one-hot (+ BOS row). 1 layer, no MLP; residual
    one, bos, V tokens, N indices, V outputs = 2V + N + 2.
    """
    d = 2 * V + N + 2
    return {"layers": sp.Integer(1), "heads": sp.Integer(1), "mlp_hidden": sp.Integer(0),
            "residual_width": d, "params": _params(d, V, [(1, N + 2, V, 0)])}


def detect_pattern() -> dict:
    """detect_pattern(tokens, [0, 1, 2]) (V >= 3, N >= 3): two shift heads, two AND SequenceMaps.

    L0: shift_by(1) (code N + 2) and shift_by(2) (code N + 1) of the fused tokens == e, values
    {False, True}; MLP: AND of the shifts, 3 groups = 6 units (x=False: 1 group, x=True: 2).
    L1: AND with the fused tokens == 2 read from the 2-valued side, 3 groups = 6 units.
    Residual: one, bos, V tokens, N indices, 4 shift outputs, 2 AND outputs; the 2 outputs
    reuse indices:0, indices:1 (dead after L0's heads), cleaned by 2 units: d = V + N + 8,
    mlp_hidden = 6 + 2 + 6 = 14.
    """
    d = V + N + 8
    return {"layers": sp.Integer(2), "heads": sp.Integer(2), "mlp_hidden": sp.Integer(14),
            "residual_width": d,
            "params": _params(d, 2, [(2, N + 2, 2, 8), (0, 0, 0, 6)])}


def make_shuffle_dyck() -> dict:
    """make_shuffle_dyck(["()"]) on the fixed vocab ("(", ")", "a"): formulas in N only.

    L0: opens, closes (code N + 2), length (code 3); MLP balance 2 + length 2N + cleaning 3 tokens
    + opens, closes (signed, 2 each) = 2N + 9. L1: balance < 0 (3), balance == 0 (5), clean
    balance (2) = 10. L2: has_neg (code 3) and last_zero (code N + 2, value 2); MLP not_has_neg 3
    + clean any_negative (2) + map:False (1) = 6. L3: final AND, 3 groups = 6 units. Residual
    2 + 3 + N + 4 + N + 1: every later SOp reuses a dead dimension except not_has_neg:True
    = 2N + 10; mlp_hidden = (2N + 9) + 10 + 6 + 6.
    """
    d = 2 * N + 10
    m0 = 2 * N + 9
    return {"layers": sp.Integer(4), "heads": sp.Integer(5), "mlp_hidden": m0 + 22,
            "residual_width": d,
            "params": _params(d, 2, [(3, N + 2, 1, m0), (0, 0, 0, 10), (2, N + 2, 2, 6),
                                     (0, 0, 0, 6)], vocab_size=3)}


def make_shuffle_dyck2() -> dict:
    """make_shuffle_dyck2() on the fixed vocab ("(", ")", "{", "}"): formulas in N only.

    L0: 4 frac_prevs heads (code N + 2) + length (code 3); MLP 2·2 + 2N + cleaning 4 tokens + 4
    signed fractions (2 each) = 2N + 16. L1: two < 0 maps (3 each), two == 0 maps (5 each), clean
    2 balances (4) = 20. L2: OR and AND lookups (3 groups = 6 units each) + 5 cleaning = 17.
    L3: has_neg, last_zero (code N + 2, value 2); MLP 3 + clean has_neg (2) + indices:0 (1)
    = 6. L4: the final AND, 3 groups = 6 units. Residual 2 + 4 + N + 4 + 1 + 2 + N, plus one
    new dimension for the AND output = 2N + 14; mlp_hidden = (2N + 16) + 20 + 17 + 6 + 6.
    """
    d = 2 * N + 14
    m0 = 2 * N + 16
    return {"layers": sp.Integer(5), "heads": sp.Integer(7), "mlp_hidden": m0 + 49,
            "residual_width": d,
            "params": _params(d, 2, [(5, N + 2, 1, m0), (0, 0, 0, 20), (0, 0, 0, 17),
                                     (2, N + 2, 2, 6), (0, 0, 0, 6)], vocab_size=4)}


def make_sort() -> dict:
    """make_sort(tokens, tokens, max_seq_len=N, min_key=1): keys x + i/N, counted lexicographically.

    The key x + i/N is strictly increasing in (x, i), so the compiler splits the LT count into
    SelectorWidth(tokens <) + SelectorWidth(tokens == ∧ indices <) (compiler.order) instead of a
    one-hot over the VN keys. L0: the two heads (code V + N + 2: V token columns, N index
    columns, BOS), their MLPs (widths 0..N-1 and 0..N: 4N + 2). L1: target_pos = min(w1 + w2,
    N), steps on the linear form w1 + w2 (one ReLU pair per value 1..N and the constant, a
    snapped pair gated on both widths being present: 2N + 2 units, fewer than the pair table's
    2 units per group for every N >= 2), plus one cleaning unit per sort value
    reusing a dead width dimension. L2: target_pos EQ indices (code N + 2, value V). Residual: one, bos, V
    tokens, N indices, 2 scratch, N + (N + 1) widths, target_pos reusing the 2 scratch (+ N - 2
    new); the V sort values reuse the 2N + 1 width dimensions first:
    d = 2 + V + 2N + max(2N + 1, V); mlp_hidden = 4N + 2 + 2N + 2 + min(V, 2N + 1).
    """
    d = 2 + V + 2 * N + sp.Max(2 * N + 1, V)
    m1 = 2 * N + 2 + sp.Min(V, 2 * N + 1)
    return {"layers": sp.Integer(3), "heads": sp.Integer(3), "mlp_hidden": 4 * N + 2 + m1,
            "residual_width": d,
            "params": _params(d, V, [(2, V + N + 2, 1, 4 * N + 2), (0, 0, 0, m1),
                                     (1, N + 2, V, 0)])}


def make_sort_freq() -> dict:
    """make_sort_freq(N): hist, keys -hist + i/N counted lexicographically, make_sort_unique.

    As make_sort with -hist (N values) in place of tokens (compiler.order). L0: hist (code V + 2,
    MLP 2N). L1: the two counting heads (code 2N + 2), their MLPs (4N + 2) and N units
    cleaning hist's dimensions for reuse. L2: target_pos = min(w1 + w2, N), steps on w1 + w2
    (2N + 2 units: the constant is a snapped pair, as in make_sort; N >= 2), plus
    min(V, 2N + 3) - 2 cleaning units. L3: sort head (code N + 2, value V). Residual:
    one, bos, V tokens, N indices and 2N + 3 dimensions shared, by liveness, by hist, the
    widths and target_pos; the V outputs reuse them first:
    d = 2 + V + 2N + max(2N + 3, V); mlp_hidden = 2N + 5N + 2 + 2N + 2 + min(V, 2N + 3) - 2.
    """
    d = 2 + V + 2 * N + sp.Max(2 * N + 3, V)
    m2 = 2 * N + 2 + sp.Min(V, 2 * N + 3) - 2
    return {"layers": sp.Integer(4), "heads": sp.Integer(4),
            "mlp_hidden": 2 * N + 5 * N + 2 + m2, "residual_width": d,
            "params": _params(d, V, [(1, V + 2, 1, 2 * N), (2, 2 * N + 2, 1, 5 * N + 2),
                                     (0, 0, 0, m2), (1, N + 2, V, 0)])}


def make_nary_sequencemap() -> dict:
    """The registry default make_nary_sequencemap(t + i < n, tokens, indices, length), vocab 0..V-1.

    L0: length (code 3, MLP 2N); (t, i) SequenceMap VN groups = 2VN units. L1: ((t, i), n): VN·N
    groups = 2VN^2 units. L2: the boolean Map, 2 groups = 4 units. Liveness: ((t, i), n) reuses
    the V token, N index (cleaned in L0: V + N units) and scratch dimensions; the output reuses
    2 length dimensions (2 units in L1).
    d = 2 + N + VN + VN^2; mlp_hidden = 2N + 2VN + (V + N) + 2VN^2 + 2 + 4.
    """
    d = 2 + N + V * N + V * N ** 2
    m0 = 2 * N + 2 * V * N + V + N
    m1 = 2 * V * N ** 2 + 2
    return {"layers": sp.Integer(3), "heads": sp.Integer(1), "mlp_hidden": m0 + m1 + 4,
            "residual_width": d,
            "params": _params(d, 2, [(1, 3, 1, m0), (0, 0, 0, m1), (0, 0, 0, 4)])}


def make_mean() -> dict:
    """make_mean(tokens): the identity numerical Map is fused into the value of one all-true head.

    1 layer, 1 head (code 3, value V + BOS rows -> width 1), no MLP; the all-true selector reads no
    indices, so residual one, bos, V tokens, mean = V + 3 (N enters only the position rows).
    """
    d = V + 3
    return {"layers": sp.Integer(1), "heads": sp.Integer(1), "mlp_hidden": sp.Integer(0),
            "residual_width": d, "params": _params(d, 1, [(1, 3, 1, 0)])}


def make_sum() -> dict:
    """make_sum(tokens): length, x·n (SequenceMap), all-true numerical mean of it.

    L0 length (2N); L1 x·n grouped by x: x = 0 is one group, x >= 1 gives N distinct products
    each: 1 + (V-1)N groups (< VN grouped by n) = 2 + 2(V-1)N units, plus 1 unit cleaning
    tokens:0 reused by the output.
    residual_width and params are omitted: x·n is materialised one-hot over the set of distinct
    products {x·n : x < V, 1 <= n <= N} (the multiplication-table count), which has no closed form.
    """
    return {"layers": sp.Integer(3), "heads": sp.Integer(2),
            "mlp_hidden": 2 * N + 2 + 2 * (V - 1) * N + 1}


def _extreme() -> dict:
    d = 2 * V + 3
    return {"layers": sp.Integer(2), "heads": sp.Integer(2), "mlp_hidden": sp.Integer(4),
            "residual_width": d, "params": _params(d, V, [(1, V + 2, 1, 4), (1, 3, V, 0)])}


def make_max() -> dict:
    """make_max(tokens): n_beating = SelectorWidth(GT), is_max fused, query-independent Aggregate.

    L0: GT head on V tokens (V distinct rows, code V + 2); only n_beating:0 is read, so the MLP
    keeps 1 + 2 + 1 = 4 units. L1: head code 3, value V. Residual one, bos, V tokens, scratch,
    n_beating:0, V outputs of which max:0 reuses the self-cleaned scratch = 2V + 3.
    """
    return _extreme()


def make_min() -> dict:
    """make_min(tokens): as make_max with LT (same counts): 2 layers, 2 heads, MLP 4, d = 2V + 3."""
    return _extreme()


def make_majority() -> dict:
    """make_majority(tokens): hist, score (hist, x), beats-SelectorWidth, winner Aggregate.

    L0 hist (code V + 2, 2N). L1 score N·V groups = 2NV units. L2 beats head on NV scores (code NV + 2), only
    n_beating:0 read (4 units). L3 head code 3, value V. Liveness: score reuses hist's scratch;
    n_beating's scratch and :0 reuse hist:1, hist:2; the V outputs reuse score's first slot, the
    self-cleaned scratch, hist:3..N, then score slots: cleaning 2 + min(V-2, N-2) units in L1 and
    1 + max(0, V - N) in L2 (V + 1 in all). d = 2 + V + 1 + N + NV - 1; mlp = 2NV + 2N + V + 5.
    """
    d = N * V + N + V + 2
    m1 = 2 * N * V + 2 + sp.Min(V - 2, N - 2)
    m2 = 5 + sp.Max(0, V - N)
    return {"layers": sp.Integer(4), "heads": sp.Integer(3),
            "mlp_hidden": 2 * N * V + 2 * N + V + 5, "residual_width": d,
            "params": _params(d, V, [(1, V + 2, 1, 2 * N), (0, 0, 0, m1), (1, N * V + 2, 1, m2),
                                     (1, 3, V, 0)])}


def make_palindrome() -> dict:
    """make_palindrome(tokens): make_reverse, mismatch x != y, SelectorWidth, == 0.

    L0-L2 as make_reverse; mismatch is read only at True: V groups = 2V units. L3: head code 3,
    widths 0..N (2N + 2). L4: == 0 lookup, 2 groups = 4 units. Liveness: reverse and
    mismatch:True reuse min(V + 1, N)
    length dimensions (cleaned in L1); the n_mismatch scratch, its N + 1 widths and palindrome:True
    reuse token/index dimensions (N + 3 cleaning units in L2); palindrome:False takes the
    self-cleaned scratch. d = 2 + V + 3N + max(0, V + 1 - N);
    mlp = 2N + 2N + min(V+1, N) + 2V + (N + 3) + 2N + 2 + 4.
    """
    d = 2 + V + 3 * N + sp.Max(0, V + 1 - N)
    m1 = 2 * N + sp.Min(V + 1, N)
    m2 = 2 * V + N + 3
    return {"layers": sp.Integer(5), "heads": sp.Integer(3),
            "mlp_hidden": 2 * N + m1 + m2 + 2 * N + 2 + 4, "residual_width": d,
            "params": _params(d, 2, [(1, 3, 1, 2 * N), (0, 0, 0, m1), (1, N + 2, V, m2),
                                     (1, 3, 1, 2 * N + 2), (0, 0, 0, 4)])}


def make_prev_token() -> dict:
    """make_prev_token(tokens) = shift_by(1, tokens): 1 head of code N + 2, value V; d = 2V + N + 2."""
    return shift_by()


def make_induction() -> dict:
    """make_induction(tokens): value_at (x, i), seen, occurrence (x, seen), prev-token head, key.

    L0 value_at VN groups = 2VN units. L1 same_before head (VN distinct rows: code VN + 2),
    widths 1..N (2N), cleaning the VN value_at dims reused by occurrence. L2 occurrence VN
    groups = 2VN units + N cleaning (seen dims reused by prev_occurrence). L3 prev head (N - 1
    row groups: code N + 1, value VN); key keeps the V(N-1) directions the query can match
    (V(N-1) groups = 2V(N-1) units) + V cleaning (outputs reuse indices then prev_occurrence
    dims). L4 EQ head: V(N-1) + 1 row groups, code V(N-1) + 3, value V.
    d = 2 + V + N + VN + 1 + N + (VN - N - 1) + V(N-1) = 3VN + N + 2;
    mlp = 2VN + (2N + VN) + (2VN + N) + (2VN - V) = 7VN + 3N - V.
    """
    d = 3 * V * N + N + 2
    return {"layers": sp.Integer(5), "heads": sp.Integer(3),
            "mlp_hidden": 7 * V * N + 3 * N - V, "residual_width": d,
            "params": _params(d, V, [(0, 0, 0, 2 * V * N), (1, V * N + 2, 1, 2 * N + V * N),
                                     (0, 0, 0, 2 * V * N + N), (1, N + 1, V * N, 2 * V * N - V),
                                     (1, V * (N - 1) + 3, V, 0)])}


def make_prefix_sum() -> dict:
    """make_prefix_sum(tokens, values=(0, 1, 2, 3)) on the fixed vocab 0..3: formulas in N only.

    L0 value_at kept for x in {1, 2, 3}: 3N groups = 6N units + 4 token cleanings. L1: 3 heads
    (N row groups, code N + 2), widths 0..N (2N + 2 each) + 4N cleanings (indices, value_at).
    L2: c1 + 2c2, (N+1)^2 groups = 2(N+1)^2 units, + 2(N+1) cleanings (counts 1, 2). L3: acc +
    3c3, (3N+1)(N+1) groups = 2(3N+1)(N+1) units, 6N + 1 outputs.
    d = 2 + 4 + N + 3N + 3(N+1) - 1 + (3N - 3) = 10N + 5 (scratches reuse tokens; acc reuses the
    scratches, indices and value_at; the output reuses value_at, counts 1, 2 and adds 3N - 3).
    """
    d = 10 * N + 5
    layers = [(0, 0, 0, 6 * N + 4), (3, N + 2, 1, 10 * N + 6),
              (0, 0, 0, 2 * (N + 1) ** 2 + 2 * N + 2), (0, 0, 0, 2 * (3 * N + 1) * (N + 1))]
    return {"layers": sp.Integer(4), "heads": sp.Integer(3),
            "mlp_hidden": sp.expand(sum(m for *_, m in layers)), "residual_width": d,
            "params": _params(d, 6 * N + 1, layers, vocab_size=4)}


def make_add() -> dict:
    """make_add(tokens, base=2) on the fixed vocab {"0+0", "0+1", "1+0", "1+1"}: formulas in N only.

    L0 digit_at (sum != 1, i, sum): 3N values, 3N groups = 6N units (grouped by index). L1
    decisive head (N row groups, code N + 2), widths 0..N (2N + 2) + N index cleanings. L2 query
    3N(N+1) and key 2N(N+1) groups (key grouped by width: 2N distinct per width) = 10N(N+1)
    units + 4 cleanings. L3 carry head (2N row groups: code 2N + 2, value 2) and the final map,
    4 groups = 8 units (grouped by carry).
    d = 2 + 4 + N + 3N + 1 + (N + 1) + (3N(N+1) - N - 1) + 2N(N+1) = 5N^2 + 9N + 7.
    """
    d = 5 * N ** 2 + 9 * N + 7
    layers = [(0, 0, 0, 6 * N), (1, N + 2, 1, 3 * N + 2), (0, 0, 0, 10 * N * (N + 1) + 4),
              (1, 2 * N + 2, 2, 8)]
    return {"layers": sp.Integer(4), "heads": sp.Integer(2),
            "mlp_hidden": sp.expand(sum(m for *_, m in layers)), "residual_width": d,
            "params": _params(d, 2, layers, vocab_size=4)}


_FORMULAS: dict[str, Callable[[], dict]] = {
    "make_length": make_length,
    "make_hist": make_hist,
    "make_count": make_count,
    "make_frac_prevs": make_frac_prevs,
    "make_pair_balance": make_pair_balance,
    "make_sort_unique": make_sort_unique,
    "make_reverse": make_reverse,
    "make_count_less_freq": make_count_less_freq,
    "shift_by": shift_by,
    "detect_pattern": detect_pattern,
    "make_shuffle_dyck": make_shuffle_dyck,
    "make_shuffle_dyck2": make_shuffle_dyck2,
    "make_sort": make_sort,
    "make_sort_freq": make_sort_freq,
    "make_nary_sequencemap": make_nary_sequencemap,
    "make_mean": make_mean,
    "make_sum": make_sum,
    "make_max": make_max,
    "make_min": make_min,
    "make_majority": make_majority,
    "make_palindrome": make_palindrome,
    "make_prev_token": make_prev_token,
    "make_induction": make_induction,
    "make_prefix_sum": make_prefix_sum,
    "make_add": make_add,
}

#: Programs compiled on a fixed vocabulary, their registry default (formulas are in N only).
FIXED_VOCAB: dict[str, tuple] = {
    "make_shuffle_dyck": ("(", ")", "a"),
    "make_shuffle_dyck2": ("(", ")", "{", "}"),
    "make_prefix_sum": (0, 1, 2, 3),
    "make_add": ("0+0", "0+1", "1+0", "1+1"),
}

#: Smallest (V, N) at which each program's formulas hold.
SIZE_MIN: dict[str, tuple[int, int]] = {name: (2, 2) for name in _FORMULAS}
SIZE_MIN["make_count_less_freq"] = (2, 3)
SIZE_MIN["detect_pattern"] = (3, 3)


#: formula key -> the registry name (theory_kit.library.PROGRAMS) of the program it counts.
PROGRAM_NAMES: dict[str, str] = {name: name.removeprefix("make_") for name in _FORMULAS}


def size_vocab(name: str, v: int) -> tuple:
    """The vocabulary the formulas of `name` count at vocabulary size v: tokens 0..v-1, or
    FIXED_VOCAB[name] for a fixed-vocabulary program (then v is ignored)."""
    return FIXED_VOCAB.get(name, tuple(range(v)))


#: Every program with size formulas (formula key, e.g. "make_sort"); the library builds them
#: for a (V, N) domain (`theory_kit.library.SIZE_PROGRAMS`), bounds/ never imports it.
SIZE_NAMES: tuple[str, ...] = tuple(_FORMULAS)


def size_formulas(name: str) -> dict[str, sp.Expr]:
    """The size formulas of library program `name` (a name of SIZE_NAMES), in V and N.

    Raises:
        KeyError: for a program without formulas, listing the known ones.
    """
    try:
        build = _FORMULAS[name]
    except KeyError:
        raise KeyError(f"no size formulas for {name!r}; known: {', '.join(sorted(_FORMULAS))}") from None
    return {k: sp.sympify(v) for k, v in build().items()}
