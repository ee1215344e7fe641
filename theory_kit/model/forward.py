"""The batched forward pass over `Weights` (no Python loop over inputs or positions).

Shape letters: B batch, T positions (BOS at 0), D residual width, H heads, E/F head widths,
M MLP hidden units, N = B*T, R rows read, C columns written.

Two implementations compute the same function:

* `_forward_dense` (used for ``record=True``) runs every weight matrix densely on a
  [B, T, D] residual and keeps every intermediate residual and attention pattern.
* `_forward_planned` (``record=False``, and `CompiledModel.run_batch` through
  `run_planned`) runs a per-`Weights` execution plan, computed once and cached
  (`execution_plan`). Compiled weights are mostly structural zeros: a sublayer reads a few
  residual dimensions and writes a few. The plan keeps, per sublayer, only the residual rows it
  reads, the compact weight block (MLP hidden units that write nothing dropped) and the
  residual rows it writes. The residual is kept feature-major and position-major, x [D, T*B]
  (column t*B + b holds position t of input b), so reading rows is a contiguous view or copy,
  writing is an in-place add into rows, every position's columns are one contiguous block,
  and a very sparse block runs as a scipy CSR matrix times the dense [R, N] activations (one
  axpy per nonzero) instead of a dense BLAS call. A sublayer that writes nothing is skipped
  (it cannot change the residual).

Attention in the planned pass runs batch-last, [H, key, query, B], on views of x: each head's
logits x_key^T W_K W_Q^T x_query are summed over r = min(E, rows the keys read, rows the queries
read) terms, W_K W_Q^T folded onto the smaller read set (`_logit_factors`), by one einsum per
head; the softmax reductions over keys are elementwise passes over contiguous [query, B] rows;
the values are mixed by one einsum. Layer 0 reads the embedding alone, so its softmax weights
are looked up in a table over the (key, query) pairs of embeddings when that table is small
and safe (`_first_attention_weights`). When the caller reads no BOS column (`run_batch`), a
sublayer whose output at BOS nothing later reads skips that position (`_bos_needed`). Beyond
_BATCH_LAST_MAX_T positions attention runs batch-major, one matmul per input and head. Masks
are additive (0 / -inf, exactly equivalent to masking with `np.where`) and are left out when
no key is masked (an unpadded batch of a non-causal model). The planned pass computes the
dense pass's function up to rounding: only exact zeros are skipped, the folded products and
the table are computed in float64 from the same weights, and the order of some sums differs.

Looped weights (`Weights.loop`, a `LoopSchedule`): both implementations run the prelude
layers[:start] once, the block layers[start:stop] pass after pass, and the epilogue
layers[stop:] once. After each pass the halt readout is decoded from the residual (`_halted`):
a sequence has halted once it is True at every real position (1..length; an empty sequence
has halted); the batch stops when every sequence has halted, or after max_iterations passes.
The weights keep a halted sequence's state fixed, so the passes the rest of the batch still
needs change nothing for it; a plain planned run therefore drops halted sequences from its
working batch once enough of them halted (`_passes_compacting`) and writes them back before
the epilogue. Loop-free weights take exactly the code path they took before loops existed.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import scipy.sparse

from theory_kit.errors import InvalidInput
from theory_kit.model.weights import OUTPUT, ResidualLayout, Weights, _is_int
from theory_kit.values import ONE

__all__ = ["Trace", "forward", "run_planned", "halted"]

#: A compact block runs as a sparse matrix when its density is below 1/_SPARSE_RATIO (measured:
#: scipy's CSR-times-dense costs about 7-10x a dense BLAS multiply-add per stored entry).
_SPARSE_RATIO = 8
#: ... and when it has at least this many entries (tiny blocks: BLAS call overhead wins).
_SPARSE_MIN_SIZE = 64


@dataclass(frozen=True, eq=False)
class Trace:
    """What a forward pass computed.

    residuals[0] is the embedding; then two per executed layer: residuals[2j+1] follows the
    attention of layer schedule[j] and residuals[2j+2] its MLP, each [B, T, D]; attention[j]
    is that layer's pattern [B, H, T, T] (query, key). `schedule` is the layer index of each
    executed layer in order: 0..L-1 for loop-free weights (so residuals[2l+1] follows layer
    l); for looped weights the prelude, the block once per pass run, then the epilogue. A
    Trace of the planned pass (record=False) holds only the final residual and no attention;
    its schedule still says which layers ran. `key_mask` [B, T] marks real (non-padding)
    positions; `layout` names the D dimensions.
    """

    residuals: tuple
    attention: tuple
    key_mask: np.ndarray
    layout: ResidualLayout
    schedule: Optional[tuple] = None

    def __post_init__(self):
        schedule = range(len(self.attention)) if self.schedule is None else self.schedule
        object.__setattr__(self, "schedule", tuple(int(i) for i in schedule))

    @property
    def output(self) -> np.ndarray:
        return self.residuals[-1]

    @property
    def residual_labels(self) -> tuple[str, ...]:
        """The printable name of every residual dimension (`layout.labels`)."""
        return self.layout.labels


# -- the dense reference implementation (record=True) ------------------------------------------
def _attention(x, lw, mask):
    b, t, d = x.shape
    h, _, e = lw.W_Q.shape
    f = lw.W_V.shape[2]
    # One 2-D matmul for all heads (BLAS), then split heads: [B*T, D] @ [D, H*E].
    x2 = x.reshape(b * t, d)
    q = (x2 @ lw.W_Q.transpose(1, 0, 2).reshape(d, h * e)).reshape(b, t, h, e)
    k = (x2 @ lw.W_K.transpose(1, 0, 2).reshape(d, h * e)).reshape(b, t, h, e)
    v = (x2 @ lw.W_V.transpose(1, 0, 2).reshape(d, h * f)).reshape(b, t, h, f)
    logits = np.matmul(q.transpose(0, 2, 1, 3), k.transpose(0, 2, 3, 1))
    logits = np.where(mask, logits, -np.inf)
    logits -= logits.max(axis=-1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=-1, keepdims=True)
    mixed = np.matmul(logits, v.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3).reshape(b * t, h * f)
    return (mixed @ lw.W_O.reshape(h * f, d)).reshape(b, t, d), logits


def _dense_layer(lw, x, mask):
    """One layer on x [B, T, D]: (residual after attention, pattern, residual after MLP)."""
    b, t = x.shape[:2]
    if lw.n_heads:
        out, attn = _attention(x, lw, mask)
        x = x + out
    else:
        attn = np.zeros((b, 0, t, t), dtype=x.dtype)
    after_attention = x
    if lw.mlp_hidden:
        x2 = x.reshape(b * t, -1)
        hidden = np.maximum(x2 @ lw.W_in + lw.b_in, 0)
        x = x + (hidden @ lw.W_out + lw.b_out).reshape(b, t, -1)
    return after_attention, attn, x


def _forward_dense(weights: Weights, ids: np.ndarray, key_mask: np.ndarray,
                   iterations: Optional[int] = None) -> Trace:
    b, t = ids.shape
    x = weights.token_embed[ids] + weights.pos_embed[:t][None]
    mask = key_mask[:, None, None, :]
    if weights.causal:
        mask = mask & np.tril(np.ones((t, t), dtype=bool))[None, None]
    residuals, patterns, schedule = [x], [], []

    def run(indices) -> np.ndarray:
        x = residuals[-1]
        for i in indices:
            after_attention, attn, x = _dense_layer(weights.layers[i], x, mask)
            residuals.extend((after_attention, x))
            patterns.append(attn)
            schedule.append(i)
        return x

    loop = weights.loop
    if loop is None:
        run(range(len(weights.layers)))
    else:
        run(range(loop.start))
        readout = weights.readouts[loop.halt]
        done = np.zeros(b, dtype=bool)
        for _ in range(loop.max_iterations if iterations is None else iterations):
            x = run(loop.block)
            if iterations is None:
                done |= _halted(_is_true(x @ readout.unembed, readout, axis=-1), key_mask)
                if done.all():
                    break
        run(range(loop.stop, len(weights.layers)))
    return Trace(tuple(residuals), tuple(patterns), key_mask, weights.layout, tuple(schedule))


# -- halting -----------------------------------------------------------------------------------
def _is_true(scores: np.ndarray, readout, axis: int) -> np.ndarray:
    """Where the categorical `readout` decodes `scores` (K columns along `axis`) to True:
    `Readout.decode`'s rule (argmax, at least 1/2) without building object arrays."""
    j = next(i for i, v in enumerate(readout.values) if v is True)
    return (scores.argmax(axis=axis) == j) & (np.take(scores, j, axis=axis) >= 0.5)


def _halted(flags: np.ndarray, real: Optional[np.ndarray]) -> np.ndarray:
    """Per sequence [B]: `flags` [B, T] holds at every real position 1..T-1 (BOS and
    padding excluded; `real` [B, T] None means no padding). True for an empty sequence."""
    if real is not None:
        flags = flags | ~real
    return flags[:, 1:].all(axis=1)


def _real_positions(mask: Optional[np.ndarray], b: int, t: int) -> Optional[np.ndarray]:
    """[B, T], True at real positions, read off an `additive_mask` (None: no padding): a
    padding key is one the last query may not attend (it attends every real key, causal or
    not)."""
    if mask is None:
        return None
    real = np.broadcast_to(mask[:, 0, :, -1] == 0, (b, t))
    return None if real.all() else real


def halted(weights: Weights, x: np.ndarray, b: int, t: int,
           mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Which sequences of a planned residual x [D, T*B] have halted, bool [B]: the loop's
    halt readout decodes to True at every real position (padding is read off the
    `additive_mask` `mask`, as `run_planned` does).

    Raises:
        InvalidInput: the weights have no loop.
    """
    if weights.loop is None:
        raise InvalidInput("halted: these weights have no loop (Weights.loop is None)")
    rows, unembed_t = execution_plan(weights).readouts[weights.loop.halt]
    flags = _is_true(unembed_t @ rows.take(x), weights.readouts[weights.loop.halt], axis=0)
    return _halted(flags.reshape(t, b).T, _real_positions(mask, b, t))


# -- the execution plan ---------------------------------------------------------------------
class _Rows:
    """A set of residual rows: a basic slice when contiguous (views, no copies), else indices."""

    def __init__(self, idx: np.ndarray):
        idx = np.asarray(idx, dtype=np.intp)
        self.idx = idx
        self.size = len(idx)
        if self.size and idx[-1] - idx[0] + 1 == self.size:
            self.key = slice(int(idx[0]), int(idx[-1]) + 1)
        else:
            self.key = idx

    def take(self, x: np.ndarray, cols: slice = slice(None)) -> np.ndarray:
        """x[rows, cols] (a view when the rows are contiguous)."""
        return x[self.key, cols]

    def add(self, x: np.ndarray, y: np.ndarray, cols: slice = slice(None)) -> None:
        """x[rows, cols] += y, in place (the rows are distinct, so fancy indexing is exact)."""
        x[self.key, cols] += y


class _Linear:
    """y [C, N] = A [C, R] @ x [R, N], dense (BLAS) or CSR (for very sparse A)."""

    def __init__(self, a: np.ndarray):
        c, r = a.shape
        nnz = int(np.count_nonzero(a))
        self.sparse = c * r >= _SPARSE_MIN_SIZE and nnz * _SPARSE_RATIO < c * r
        self.matrix = scipy.sparse.csr_matrix(a) if self.sparse else np.ascontiguousarray(a)
        self.shape = (c, r)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.sparse:
            return np.asarray(self.matrix @ x)
        return self.matrix @ x


def _nonzero_rows(a: np.ndarray) -> np.ndarray:
    """Indices of the rows of the 2-D `a` with a nonzero entry."""
    return np.flatnonzero((a != 0).any(axis=1))


@dataclass(frozen=True, eq=False)
class _AttentionPlan:
    heads: int
    e: int
    f: int
    reads: _Rows
    qkv: _Linear        # [H*(2E+F), R]: W_Q, W_K, W_V stacked (query, key, value order)
    writes: _Rows
    out: _Linear        # [C, H*F]: W_O restricted to the written rows
    # The full pass (`_attend_planned`) computes each head's logits x_key^T W_K W_Q^T x_query
    # over an inner dimension r = min(E, rows the keys read, rows the queries read)
    # (`_logit_factors`). Each side of a head is either residual rows read as they are
    # (_Rows) or rows of factors @ x[factor_reads] (a slice); the values are its last H*F
    # rows.
    key_sides: tuple    # per head
    query_sides: tuple  # per head
    factor_reads: _Rows  # the rows the factors read (not those only read as they are)
    factors: _Linear    # [computed sides + H*F, R']
    value_reads: _Rows  # the rows W_V reads
    values: _Linear     # [H*F, R'']: W_V alone (`_attend_first`)
    q_rows: np.ndarray  # residual rows the queries read
    kv_rows: np.ndarray  # residual rows the keys and values read


@dataclass(frozen=True, eq=False)
class _MLPPlan:
    reads: _Rows
    w_in: _Linear       # [U, R] for the U hidden units that write something
    b_in: Optional[np.ndarray]    # [U, 1]; None when zero or folded into w_in
    writes: _Rows
    w_out: _Linear      # [C, U]
    b_out: Optional[np.ndarray]   # [C, 1]; None when zero


@dataclass(frozen=True, eq=False)
class Plan:
    """Feature-major embeddings and, per layer, the compact attention and MLP (None: skipped)."""

    width: int                  # D
    token_rows: _Rows           # residual rows some token embeds into
    token_embed_t: np.ndarray   # [R, V] those rows of the token embedding
    pos_rows: _Rows             # residual rows some position embeds into
    pos_embed_t: np.ndarray     # [R', P]
    layers: tuple               # (attention plan or None, MLP plan or None) per layer
    unembed_reads: _Rows        # residual rows the "output" unembedding reads
    unembed_t: np.ndarray       # [K, R]
    readouts: dict              # every readout's name -> (rows it reads, [K, R] transposed)
    bos_needed: tuple           # per layer (attention, MLP): `_bos_needed`
    first_weights: Optional[tuple]  # `_first_attention_weights`


def _attention_plan(lw) -> Optional[_AttentionPlan]:
    h, d, e = lw.W_Q.shape
    if not h:
        return None
    f = lw.W_V.shape[2]
    w_o = lw.W_O.reshape(h * f, d)
    writes = _nonzero_rows(w_o.T)
    if not len(writes):
        return None
    w_q = lw.W_Q.transpose(0, 2, 1).reshape(h * e, d)
    w_kv = np.concatenate([lw.W_K.transpose(0, 2, 1).reshape(h * e, d),
                           lw.W_V.transpose(0, 2, 1).reshape(h * f, d)])
    stacked = np.concatenate([w_q, w_kv])
    reads = _nonzero_rows(stacked.T)
    key_sides, query_sides, computed = _logit_factors(lw, reads)
    w_v = stacked[2 * h * e:]
    factors = np.zeros((sum(map(len, computed)) + h * f, d), dtype=w_v.dtype)
    factors[:, reads] = np.concatenate(computed + [w_v[:, reads]])
    factor_reads, value_reads = _span(_nonzero_rows(factors.T)), _span(_nonzero_rows(w_v.T))
    return _AttentionPlan(h, e, f, _Rows(reads), _Linear(stacked[:, reads]), _Rows(writes),
                          _Linear(w_o[:, writes].T), key_sides, query_sides,
                          _Rows(factor_reads), _Linear(factors[:, factor_reads]),
                          _Rows(value_reads), _Linear(w_v[:, value_reads]),
                          _nonzero_rows(w_q.T), _nonzero_rows(w_kv.T))


def _span(rows: np.ndarray) -> np.ndarray:
    """The residual rows `rows` (sorted), or every row from the first to the last when that
    span is at most twice as many: then they are read as a view, not copied (the weights of
    the rows in between are zero)."""
    if len(rows) and rows[-1] - rows[0] + 1 <= 2 * len(rows):
        return np.arange(rows[0], rows[-1] + 1)
    return rows


def _logit_factors(lw, reads: np.ndarray) -> tuple[tuple, tuple, list]:
    """Per head, a key side P and a query side Q with P^T Q = W_K W_Q^T over the attention's
    read rows (the head's bilinear form), of r = min(E, rows W_K reads, rows W_Q reads) rows:
    W_K^T and W_Q^T themselves when E is smallest; else the rows one side reads, taken from
    the residual as they are, against the product folded onto them (computed in float64,
    then rounded to the weights' dtype). Fewer inner terms per logit and no projection for
    the side read as it is; the same logits up to rounding (make_sort's first layer: 12 and
    4 terms instead of 14 and 14).

    Returns (key sides, query sides, computed): a side is a _Rows of residual rows or a
    slice of the rows of np.concatenate(computed)."""
    computed, key_sides, query_sides = [], [], []
    at = 0

    def side(rows_or_matrix):
        nonlocal at
        if isinstance(rows_or_matrix, _Rows):
            return rows_or_matrix
        computed.append(rows_or_matrix)
        at += len(rows_or_matrix)
        return slice(at - len(rows_or_matrix), at)

    for j in range(lw.W_Q.shape[0]):
        w_q, w_k = lw.W_Q[j][reads], lw.W_K[j][reads]           # [R, E]
        k_rows, q_rows = _nonzero_rows(w_k), _nonzero_rows(w_q)
        if min(len(k_rows), len(q_rows)) >= w_q.shape[1]:
            p, q = w_k.T, w_q.T
        elif len(k_rows) <= len(q_rows):
            p = _Rows(reads[k_rows])
            q = (w_k[k_rows].astype(np.float64) @ w_q.T.astype(np.float64)).astype(w_q.dtype)
        else:
            p = (w_q[q_rows].astype(np.float64) @ w_k.T.astype(np.float64)).astype(w_q.dtype)
            q = _Rows(reads[q_rows])
        key_sides.append(side(p))
        query_sides.append(side(q))
    return tuple(key_sides), tuple(query_sides), computed


def _mlp_plan(lw, one: Optional[int]) -> Optional[_MLPPlan]:
    """The compact MLP; with `one` (a residual row that is 1 everywhere) the hidden biases
    become that row's column of W_in (one elementwise pass fewer)."""
    if not lw.mlp_hidden:
        return None
    units = _nonzero_rows(lw.W_out)
    writes = np.union1d(_nonzero_rows(lw.W_out[units].T), np.flatnonzero(lw.b_out))
    if not len(writes):
        return None
    w_in = lw.W_in[:, units]
    b_in = lw.b_in[units]
    reads = _nonzero_rows(w_in)
    if one is not None and b_in.any():
        reads = np.union1d(reads, [one])
        w_in = w_in.copy()
        w_in[one] += b_in
        b_in = None
    b_out = lw.b_out[writes]
    return _MLPPlan(_Rows(reads), _Linear(w_in[reads].T),
                    None if b_in is None or not b_in.any() else b_in[:, None].copy(),
                    _Rows(writes), _Linear(lw.W_out[units][:, writes].T),
                    b_out[:, None].copy() if b_out.any() else None)


def _constant_one_row(weights: Weights) -> Optional[int]:
    """The residual row of the direction ONE if it provably holds 1 at every position: 1 in
    every token embedding, 0 in every position embedding, and written by no layer. (A layout
    of names only, from a format-1 model file, names that row "one".)"""
    layout = weights.layout
    if ONE in layout:
        i = layout.index(ONE)
    elif "one" in layout.labels and not layout.dims[layout.labels.index("one")]:
        i = layout.labels.index("one")
    else:
        return None
    if not (np.all(weights.token_embed[:, i] == 1) and not weights.pos_embed[:, i].any()):
        return None
    for lw in weights.layers:
        if lw.W_O[:, :, i].any() or lw.W_out[:, i].any() or lw.b_out[i]:
            return None
    return i


_PLANS: "weakref.WeakKeyDictionary[Weights, Plan]" = weakref.WeakKeyDictionary()


def execution_plan(weights: Weights) -> Plan:
    """The cached plan of `weights` (built on first use; weights are immutable)."""
    plan = _PLANS.get(weights)
    if plan is None:
        readouts = {}
        for name, r in weights.readouts.items():
            reads = _nonzero_rows(r.unembed)
            readouts[name] = (_Rows(reads), np.ascontiguousarray(r.unembed[reads].T))
        one = _constant_one_row(weights)
        tok, pos = _nonzero_rows(weights.token_embed.T), _nonzero_rows(weights.pos_embed.T)
        layers = tuple((_attention_plan(lw), _mlp_plan(lw, one)) for lw in weights.layers)
        plan = Plan(weights.residual_width,
                    _Rows(tok), np.ascontiguousarray(weights.token_embed.T[tok]),
                    _Rows(pos), np.ascontiguousarray(weights.pos_embed.T[pos]),
                    layers, *readouts[OUTPUT], readouts,
                    _bos_needed(layers, weights.residual_width),
                    _first_attention_weights(weights, layers))
        _PLANS[weights] = plan
    return plan


#: `_first_attention_weights` tabulates layer 0's attention when tokens x positions is at
#: most this (the table holds that many squared entries per head).
_FIRST_TABLE_MAX_CODES = 256
#: ... and when each query's weight of the BOS key, after the shift, is at least
#: e^-_FIRST_TABLE_MIN_LOGIT (a normal float: the largest weight of a query cannot vanish).
_FIRST_TABLE_MIN_LOGIT = 60.0


def _first_attention_weights(weights: Weights, layers: tuple) -> Optional[tuple]:
    """Layer 0's softmax weights before normalisation, as (V, a table [H, C, C]) over the C =
    V*P codes (token id + V * position) of the embeddings of the key and of the query, or
    None. Layer 0's attention reads the embedding alone, so its logits are a function of the
    two codes: table[h, k, q] = exp(L[h, k, q] - max over k' of L[h, k', q]) with L the
    head's bilinear form x_key^T W_K W_Q^T x_query of the embeddings (as `_embed` computes
    them, in the weights' dtype), computed in float64. The shift depends on the query alone,
    so it cancels in the softmax; the weights are at most 1. Built only when the table is
    small (`_FIRST_TABLE_MAX_CODES`), every logit is finite and every query weighs the BOS
    key (code 0: id 0 at position 0, never masked) at least e^-60, so its largest weight is
    a normal float (`_apply` uses the table only on batches whose column 0 is BOS)."""
    att = layers[0][0] if layers else None
    v, p = weights.token_embed.shape[0], weights.pos_embed.shape[0]
    c = v * p
    if att is None or c > _FIRST_TABLE_MAX_CODES:
        return None
    emb = (weights.token_embed[None] + weights.pos_embed[:, None]).reshape(c, -1)  # code order
    emb = emb.astype(np.float64)
    lw = weights.layers[0]
    with np.errstate(all="ignore"):
        logits = np.stack([(emb @ lw.W_K[j].astype(np.float64))
                           @ (emb @ lw.W_Q[j].astype(np.float64)).T
                           for j in range(lw.W_Q.shape[0])])               # [H, key, query]
        if not np.isfinite(logits).all():
            return None
        logits -= logits.max(axis=1, keepdims=True)
        if logits[:, 0].min() < -_FIRST_TABLE_MIN_LOGIT:
            return None
        return v, np.exp(logits).astype(weights.dtype)


def _bos_needed(layers: tuple, width: int) -> tuple:
    """Per planned layer, (attention, MLP): whether its output at BOS (position 0) is read by
    a later sublayer, when nothing reads the final residual at BOS (`run_planned` with
    bos=False). Keys and values are read at every position, BOS included; a query or an MLP
    reads its own position, so its rows are needed at BOS only when its output there is."""
    live = np.zeros(width, dtype=bool)     # rows whose value at BOS a later sublayer reads
    needed = []
    for att, mlp in reversed(layers):
        mlp_needed = mlp is not None and bool(live[mlp.writes.idx].any())
        if mlp_needed:
            live[mlp.reads.idx] = True
        att_needed = att is not None and bool(live[att.writes.idx].any())
        if att is not None:
            live[att.kv_rows] = True
            if att_needed:
                live[att.q_rows] = True
        needed.append((att_needed, mlp_needed))
    return tuple(needed[::-1])


# -- the planned implementation (record=False) --------------------------------------------------
def additive_mask(key_mask: Optional[np.ndarray], causal: bool, t: int,
                  dtype) -> Optional[np.ndarray]:
    """0 where a query may attend a key, -inf elsewhere, broadcastable to key-major logits
    [B, H, key, query] (as `run_planned` computes them); None when nothing is masked."""
    mask = None
    if key_mask is not None and not key_mask.all():
        mask = np.where(key_mask, 0.0, -np.inf).astype(dtype)[:, None, :, None]
    if causal:  # key j visible from query i iff j <= i
        tri = np.where(np.tri(t, dtype=bool).T, 0.0, -np.inf).astype(dtype)[None, None]
        mask = tri if mask is None else mask + tri
    return mask


def _reduce_keys(op, logits: np.ndarray) -> np.ndarray:
    """op-reduction of key-major logits [B, H, key, query] over keys, as [B, H, 1, query]:
    numpy's reduction over many keys, a loop of elementwise ops over few (measured faster
    below ~16 keys, where numpy's reduction loop overhead dominates)."""
    if logits.shape[2] > 16:
        return op.reduce(logits, axis=2, keepdims=True)
    out = logits[:, :, :1].copy()
    for j in range(1, logits.shape[2]):
        op(out, logits[:, :, j:j + 1], out=out)
    return out


def _embed(plan: Plan, ids: np.ndarray) -> np.ndarray:
    """The embedded residual, feature-major and position-major [D, T*B] (column t*B + b)."""
    b, t = ids.shape
    d, n = plan.width, b * t
    # Only the rows some embedding writes: the rest of the residual starts at zero.
    x = np.zeros((d, n), dtype=plan.token_embed_t.dtype)
    x[plan.token_rows.key] = np.take(plan.token_embed_t, ids.T.reshape(n), axis=1)
    x.reshape(d, t, b)[plan.pos_rows.key] += plan.pos_embed_t[:, :t, None]
    return x


def _apply(layers: tuple, x: np.ndarray, mask: Optional[np.ndarray], b: int, t: int,
           bos: Optional[tuple] = None, embedded: Optional[tuple] = None) -> None:
    """Run the planned `layers` on x [D, T*B], in place. `bos` (per layer, as
    `Plan.bos_needed`): a sublayer whose output at BOS is not needed skips position 0 (the
    first B columns), leaving them as they were; None: every sublayer runs everywhere.
    `embedded`: (token ids [B, T], `Plan.first_weights`) when layers[0] is the model's layer 0
    and x its embedding of those ids: the first attention then weighs keys by the table."""
    for i, (att, mlp) in enumerate(layers):
        att_bos, mlp_bos = (True, True) if bos is None else bos[i]
        if att is not None:
            first = 0 if att_bos else 1
            if (i == 0 and embedded is not None and embedded[1] is not None
                    and not embedded[0][:, 0].any()):
                _attend_first(att, embedded[1], embedded[0], x, mask, first)
            else:
                _attend_planned(att, x, mask, b, t, first)
        if mlp is not None:
            apply_mlp(mlp, x, slice(None) if mlp_bos else slice(b, None))


def _attend_first(att: _AttentionPlan, first_weights: tuple, ids: np.ndarray, x: np.ndarray,
                  mask: Optional[np.ndarray], first: int) -> None:
    """`_attend_planned` for layer 0 on its embedding x [D, T*B] of token ids [B, T]: the
    softmax weights of each (key, query) looked up in the table of `first_weights` (V, table)
    (`_first_attention_weights`) by the codes of their embeddings, masked keys weighing 0;
    the values mixed and divided by the sum of the weights as `_attend_planned` does."""
    n_tokens, table = first_weights
    b, t = ids.shape
    h, f = att.heads, att.f
    c = table.shape[1]
    codes = (ids.T + n_tokens * np.arange(t)[:, None]).astype(np.int32)  # [T, B]
    pairs = np.add((codes * c)[:, None, :], codes[None, first:, :])      # [key, query, B]
    w = np.take(table.reshape(h, c * c), pairs, axis=1)                 # [H, key, query, B]
    mask = _query_columns(mask, first)
    if mask is not None:
        w *= mask.transpose(1, 2, 3, 0) == 0
    values = att.values(att.value_reads.take(x)).reshape(h, f, t, b)
    att.writes.add(x, att.out(_mix(w, values).reshape(h * f, -1)), slice(first * b, None))


def _query_columns(mask: Optional[np.ndarray], first: int) -> Optional[np.ndarray]:
    """An `additive_mask` restricted to the queries first..T-1 (its query axis may be
    broadcast, of size 1)."""
    if mask is not None and mask.shape[3] > 1:
        return mask[..., first:]
    return mask


def _mix(w: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Values [H, F, key, B] mixed by unnormalised weights [H, key, query, B], divided by the
    sum of the weights (in the order of the keys): [H, F, query, B]."""
    mixed = np.einsum("hkqb,hfkb->hfqb", w, values)
    mixed /= np.add.reduce(w, axis=1)[:, None]
    return mixed


#: The planned pass computes attention batch-last (`_attend_planned`) over at most this many
#: positions, and batch-major (one matmul per input and head, `softmax_mix`) over more: there
#: the chunks hold few inputs (their activations are capped), so the batch axis is short while
#: each input's logits are many.
_BATCH_LAST_MAX_T = 16


def _attend_planned(att: _AttentionPlan, x: np.ndarray, mask: Optional[np.ndarray], b: int,
                    t: int, first: int) -> None:
    """One planned attention sublayer on x [D, T*B], in place, for the queries at positions
    first..T-1 (the keys are every position).

    Up to _BATCH_LAST_MAX_T positions everything runs batch-last, [H, key, query, B]
    (position-major columns make every view free): the logits by one einsum per head over
    its r inner terms (`_logit_factors`), the softmax as elementwise ops and reductions over keys on
    contiguous [H, query, B] slices, the values mixed by one einsum, then divided by the sum
    of the weights (the quotient of `softmax_mix`; only the order of the sums differs).
    Measured at T = 9 on 768 inputs (einsum loops over the contiguous batch axis), against a
    matmul per input and head plus the copy that makes the logits batch-last: logits over
    r = 4, 9, 12 terms 0.44x, 0.78x, 0.92x the time; mixing F = 1 and 4 values 0.44x and
    0.36x the time of multiply-adds over keys."""
    h, f = att.heads, att.f
    y = att.factors(att.factor_reads.take(x))

    def side(src, cols: slice) -> np.ndarray:                # [r, T, B] or [r, query, B]
        rows = src.take(x) if isinstance(src, _Rows) else y[src]
        return rows.reshape(len(rows), t, b)[:, cols]

    keys = [side(src, slice(None)) for src in att.key_sides]
    queries = [side(src, slice(first, None)) for src in att.query_sides]
    values = y[len(y) - h * f:].reshape(h, f, t, b)
    mask = _query_columns(mask, first)
    if t > _BATCH_LAST_MAX_T:
        logits = np.empty((b, h, t, t - first), dtype=y.dtype)
        for j in range(h):
            np.matmul(np.ascontiguousarray(keys[j].transpose(2, 1, 0)),
                      np.ascontiguousarray(queries[j].transpose(2, 0, 1)), out=logits[:, j])
        mixed = softmax_mix(logits, np.ascontiguousarray(values.transpose(3, 0, 1, 2)), mask)
        mixed = np.ascontiguousarray(mixed.transpose(1, 2, 3, 0))       # [H, F, query, B]
    else:
        mixed = _softmax_mix_batch_last(keys, queries, values, mask)
    att.writes.add(x, att.out(mixed.reshape(h * f, -1)), slice(first * b, None))


def _softmax_mix_batch_last(keys: list, queries: list, values: np.ndarray,
                            mask: Optional[np.ndarray]) -> np.ndarray:
    """The mixed values [H, F, query, B] of the heads' keys [r, key, B] and queries
    [r, query, B] (one of each per head), values [H, F, key, B] and an additive mask
    broadcastable to [B, H, key, query] (or None)."""
    h, _, t, b = values.shape
    w = np.empty((h, t, queries[0].shape[1], b), dtype=values.dtype)
    for j in range(h):
        np.einsum("rkb,rqb->kqb", keys[j], queries[j], out=w[j])
    if mask is not None:
        w += mask.transpose(1, 2, 3, 0)
    # Reductions over keys, a middle axis: numpy runs them as elementwise passes over
    # contiguous [query, B] rows, key after key (the sum in the order of the keys).
    w -= np.maximum.reduce(w, axis=1, keepdims=True)
    np.exp(w, out=w)
    return _mix(w, values)


def attend(k: np.ndarray, q: np.ndarray, v: np.ndarray, mask: Optional[np.ndarray]
           ) -> np.ndarray:
    """Softmax attention with key-major logits: keys k [B, H, key, E], queries q [B, H, E,
    query], values v [B, H, F, key], an additive mask broadcastable to [B, H, key, query] (or
    None) -> the mixed values [B, H, F, query]."""
    return softmax_mix(np.matmul(k, q), v, mask)


def softmax_mix(logits: np.ndarray, v: np.ndarray, mask: Optional[np.ndarray]) -> np.ndarray:
    """`attend` from its key-major logits [B, H, key, query] (overwritten): the masked softmax
    over keys, mixing the values v [B, H, F, key] -> [B, H, F, query]."""
    if mask is not None:
        logits += mask
    logits -= _reduce_keys(np.maximum, logits)
    np.exp(logits, out=logits)
    # Normalise after mixing: [B, H, F, query] values instead of the [B, H, key, query]
    # weights (F is a head's value width, usually 1-3; the same quotient).
    mixed = np.matmul(v, logits)
    mixed /= _reduce_keys(np.add, logits)
    return mixed


_ZERO_ROWS: dict = {}


def relu_inplace(a: np.ndarray) -> None:
    """a = max(a, 0) in place. numpy (2.x, AVX2) runs `maximum` with a
    scalar (a stride-0 operand) about 4.5x slower than with an array; a row of zeros
    broadcast over the rows keeps its SIMD loop (measured on a [34, 6912] float32 hidden
    layer: 25 us against 110 us). The same values, NaN propagated alike."""
    n = a.shape[-1]
    zeros = _ZERO_ROWS.get(a.dtype)
    if zeros is None or zeros.shape[1] < n:
        zeros = np.zeros((1, max(n, 1024)), dtype=a.dtype)
        zeros.flags.writeable = False
        _ZERO_ROWS[a.dtype] = zeros
    np.maximum(a, zeros[0, :n] if a.ndim == 1 else zeros[:, :n], out=a)


def apply_mlp(mlp: "_MLPPlan", x: np.ndarray, cols: slice = slice(None)) -> None:
    """A planned MLP on the columns `cols` of x [D, N], in place (x += its output)."""
    hidden = mlp.w_in(mlp.reads.take(x, cols))
    if mlp.b_in is not None:
        hidden += mlp.b_in
    relu_inplace(hidden)
    y = mlp.w_out(hidden)
    if mlp.b_out is not None:
        y += mlp.b_out
    mlp.writes.add(x, y, cols)


def _check_iterations(weights: Weights, iterations: Optional[int], where: str) -> None:
    if iterations is None:
        return
    if weights.loop is None:
        raise InvalidInput(f"{where}: iterations={iterations!r:.40} given, but these weights "
                           f"have no loop (Weights.loop is None)")
    if not (_is_int(iterations) and iterations >= 0):
        raise InvalidInput(f"{where}: iterations must be an int >= 0 (or None: until every "
                           f"sequence halts), got {type(iterations).__name__} "
                           f"{iterations!r:.40}")


def _read_only(x: np.ndarray) -> np.ndarray:
    view = x.view()
    view.flags.writeable = False
    return view


def run_planned(weights: Weights, ids: np.ndarray, mask: Optional[np.ndarray], *,
                iterations: Optional[int] = None,
                observe: Optional[Callable[[int, np.ndarray], None]] = None,
                probe: bool = False, bos: bool = True) -> np.ndarray:
    """The final residual, feature-major and position-major [D, T*B] (column t*B + b holds
    position t of input b), for token ids [B, T] and an `additive_mask` (None: attend
    everywhere; padding, for halting, is read off it).

    Looped weights (`weights.loop`): the prelude, then the block pass after pass until every
    sequence has halted or max_iterations passes ran, then the epilogue (module docstring).
    Without `observe` and `iterations`, halted sequences leave the working batch (their
    residual is the one of the pass that found them halted); with either, every pass runs on
    the whole batch.

    Args:
        weights: the weights.
        ids: token ids [B, T] (column 0 BOS).
        mask: the `additive_mask` of the batch.
        iterations: looped weights only: run exactly this many passes (>= 0), ignoring
            halting (a check that passes after halting change nothing).
        observe: looped weights only: called as observe(pass_index, x) with a read-only view
            of the residual [D, T*B] after the prelude (pass_index 0) and after each pass
            (1, 2, ...), e.g. to decode the loop's state; it must not keep x beyond the call.
        probe: looped weights only, with `observe`: when the run stops with a sequence not
            halted (max_iterations passes; with `iterations`: always), run one more pass on a
            copy of the residual and give it to observe as pass (passes run + 1); the copy is
            then discarded and the epilogue runs on the residual as it was (this is how
            `Model.loop_traces` learns whether the halting condition holds at the last
            state).
        bos: False when the caller reads no BOS column (position 0) of the result (e.g. to
            decode outputs): a sublayer whose output at BOS no later sublayer reads then skips
            that position (`Plan.bos_needed`; loop-free weights only), so the final BOS
            column is not the residual there.

    Raises:
        InvalidInput: iterations, observe or probe for weights without a loop; iterations
            not an int >= 0; probe without observe.
    """
    plan = execution_plan(weights)
    loop = weights.loop
    if loop is None:
        if iterations is not None or observe is not None or probe:
            raise InvalidInput("run_planned: iterations, observe and probe are for looped "
                               "weights; these weights have no loop (Weights.loop is None)")
        x = _embed(plan, ids)
        _apply(plan.layers, x, mask, *ids.shape, None if bos else plan.bos_needed,
               (ids, plan.first_weights))
        return x
    _check_iterations(weights, iterations, "run_planned")
    if probe and observe is None:
        raise InvalidInput("run_planned: probe=True needs observe (the probe pass is only "
                           "given to observe)")
    b, t = ids.shape
    x = _embed(plan, ids)
    block = plan.layers[loop.start:loop.stop]
    _apply(plan.layers[:loop.start], x, mask, b, t, None, (ids, plan.first_weights))
    if observe is None and iterations is None:
        _passes_compacting(weights, block, x, mask, b, t)
    else:
        _passes_observed(weights, block, x, mask, b, t, iterations, observe, probe)
    _apply(plan.layers[loop.stop:], x, mask, b, t)
    return x


#: A pass drops the sequences that halted from the working batch when they are at least
#: 1/_COMPACT of it (fewer: the copy costs more than the work it saves). Measured on a
#: looped counter whose sequences need 1..13 passes, 4096 inputs: 0.68-0.86x the time of
#: running every sequence until the last halts; compacting on every halt was 1.1x slower on
#: batches whose passes vary little.
_COMPACT = 4


def _passes_compacting(weights: Weights, block: tuple, x: np.ndarray,
                       mask: Optional[np.ndarray], b: int, t: int) -> None:
    """The passes of a plain run, in place on x [D, T*B]. Halted sequences may leave the
    working batch (they are a fixed point of the block, so further passes would change
    nothing) and are written back into x as they were when they left."""
    d = x.shape[0]
    full = x.reshape(d, t, b)
    live = np.arange(b)               # the sequences of the working batch xw, in order
    xw, mw = x, mask
    done = np.zeros(b, dtype=bool)    # of the working batch: halted (once set, it stays)
    for _ in range(weights.loop.max_iterations):
        n = len(live)
        _apply(block, xw, mw, n, t)
        done |= halted(weights, xw, n, t, mw)
        if done.all():
            break
        if done.sum() * _COMPACT >= n:
            w3 = xw.reshape(d, t, n)
            full[:, :, live[done]] = w3[:, :, done]
            live, xw = live[~done], np.ascontiguousarray(w3[:, :, ~done]).reshape(d, -1)
            if mw is not None and mw.shape[0] > 1:   # per sequence, not only causal
                mw = mw[~done]
            done = done[~done]
    if xw is not x:
        full[:, :, live] = xw.reshape(d, t, len(live))


def _passes_observed(weights: Weights, block: tuple, x: np.ndarray,
                     mask: Optional[np.ndarray], b: int, t: int, iterations: Optional[int],
                     observe: Optional[Callable], probe: bool) -> None:
    """The passes with `observe` and `probe`, or exactly `iterations` passes, on the whole
    batch, in place on x [D, T*B] (see `run_planned`)."""
    if observe is not None:
        observe(0, _read_only(x))
    done = np.zeros(b, dtype=bool)
    passes = 0
    for passes in range(1, (weights.loop.max_iterations if iterations is None
                            else iterations) + 1):
        _apply(block, x, mask, b, t)
        if observe is not None:
            observe(passes, _read_only(x))
        if iterations is None:
            done |= halted(weights, x, b, t, mask)
            if done.all():
                break
    if probe and (iterations is not None or not done.all()):
        copy = x.copy()
        _apply(block, copy, mask, b, t)
        observe(passes + 1, _read_only(copy))


def forward(weights: Weights, token_ids: np.ndarray, key_mask: Optional[np.ndarray] = None,
            *, record: bool = True, iterations: Optional[int] = None) -> Trace:
    """Run the model on token ids [B, T] (column 0 must be BOS, id 0).

    Args:
        weights: the compiled weights.
        token_ids: int array [B, T].
        key_mask: bool [B, T], False at padding positions (never attended to).
        record: keep every intermediate residual and attention pattern (else only the last,
            computed by the faster planned pass; see the module docstring).
        iterations: looped weights only: exactly this many passes of the block, ignoring
            halting (None: until every sequence halts or max_iterations).

    Raises:
        InvalidInput: iterations for weights without a loop, or not an int >= 0.
    """
    ids = np.asarray(token_ids)
    b, t = ids.shape
    _check_iterations(weights, iterations, "forward")
    if key_mask is None:
        key_mask = np.ones((b, t), dtype=bool)
    if record:
        return _forward_dense(weights, ids, key_mask, iterations)
    mask = additive_mask(key_mask, weights.causal, t, weights.dtype)
    loop = weights.loop
    if loop is None:
        x = run_planned(weights, ids, mask)
        schedule = range(len(weights.layers))
    else:
        passes = [0]
        x = run_planned(weights, ids, mask, iterations=iterations,
                        observe=lambda k, _: passes.append(k))
        schedule = (list(range(loop.start)) + list(loop.block) * passes[-1]
                    + list(range(loop.stop, len(weights.layers))))
    final = x.reshape(weights.residual_width, t, b).transpose(2, 1, 0)
    return Trace((final,), (), key_mask, weights.layout, tuple(schedule))
