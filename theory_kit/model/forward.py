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
  reads, the compact weight block (W_Q/W_K/W_V stacked into one matrix, so one matmul; MLP
  hidden units that write nothing dropped) and the residual rows it writes. The residual is
  kept feature-major, x [D, N], so reading rows is a contiguous view or copy, writing is an
  in-place add into rows, and a very sparse block runs as a scipy CSR matrix times the dense
  [R, N] activations (one axpy per nonzero) instead of a dense BLAS call. Only exact zeros are
  skipped: the same weights are run, only the summation order of the nonzero terms may differ.
  A sublayer that writes nothing is skipped (it cannot change the residual).

Attention logits are computed key-major, [B, H, key, query], so the softmax reductions over
keys are a few elementwise ops on contiguous slices. Masks are additive (0 / -inf, exactly
equivalent to masking with `np.where`) and are left out when no key is masked (an unpadded
batch of a non-causal model).

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
    """Which sequences of a planned residual x [D, B*T] have halted, bool [B]: the loop's
    halt readout decodes to True at every real position (padding is read off the
    `additive_mask` `mask`, as `run_planned` does).

    Raises:
        InvalidInput: the weights have no loop.
    """
    if weights.loop is None:
        raise InvalidInput("halted: these weights have no loop (Weights.loop is None)")
    rows, unembed_t = execution_plan(weights).readouts[weights.loop.halt]
    flags = _is_true(unembed_t @ rows.take(x), weights.readouts[weights.loop.halt], axis=0)
    return _halted(flags.reshape(b, t), _real_positions(mask, b, t))


# -- the execution plan ---------------------------------------------------------------------
class _Rows:
    """A set of residual rows: a basic slice when contiguous (views, no copies), else indices."""

    def __init__(self, idx: np.ndarray):
        idx = np.asarray(idx, dtype=np.intp)
        self.size = len(idx)
        if self.size and idx[-1] - idx[0] + 1 == self.size:
            self.key = slice(int(idx[0]), int(idx[-1]) + 1)
        else:
            self.key = idx

    def take(self, x: np.ndarray) -> np.ndarray:
        return x[self.key]

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        """x[rows] += y, in place (the rows are distinct, so fancy indexing is exact)."""
        x[self.key] += y


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


def _attention_plan(lw) -> Optional[_AttentionPlan]:
    h, d, e = lw.W_Q.shape
    if not h:
        return None
    f = lw.W_V.shape[2]
    w_o = lw.W_O.reshape(h * f, d)
    writes = _nonzero_rows(w_o.T)
    if not len(writes):
        return None
    stacked = np.concatenate([lw.W_Q.transpose(0, 2, 1).reshape(h * e, d),
                              lw.W_K.transpose(0, 2, 1).reshape(h * e, d),
                              lw.W_V.transpose(0, 2, 1).reshape(h * f, d)])
    reads = _nonzero_rows(stacked.T)
    return _AttentionPlan(h, e, f, _Rows(reads), _Linear(stacked[:, reads]), _Rows(writes),
                          _Linear(w_o[:, writes].T))


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
        plan = Plan(weights.residual_width,
                    _Rows(tok), np.ascontiguousarray(weights.token_embed.T[tok]),
                    _Rows(pos), np.ascontiguousarray(weights.pos_embed.T[pos]),
                    tuple((_attention_plan(lw), _mlp_plan(lw, one)) for lw in weights.layers),
                    *readouts[OUTPUT], readouts)
        _PLANS[weights] = plan
    return plan


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
    """The embedded residual, feature-major [D, B*T]."""
    b, t = ids.shape
    d, n = plan.width, b * t
    # Only the rows some embedding writes: the rest of the residual starts at zero.
    x = np.zeros((d, n), dtype=plan.token_embed_t.dtype)
    x[plan.token_rows.key] = np.take(plan.token_embed_t, ids.reshape(n), axis=1)
    x.reshape(d, b, t)[plan.pos_rows.key] += plan.pos_embed_t[:, None, :t]
    return x


def _apply(layers: tuple, x: np.ndarray, mask: Optional[np.ndarray], b: int, t: int) -> None:
    """Run the planned `layers` on x [D, B*T], in place."""
    n = b * t
    for att, mlp in layers:
        if att is not None:
            h, e, f = att.heads, att.e, att.f
            y = att.qkv(att.reads.take(x))
            he = h * e
            # Key-major logits [B, H, key, query]: reductions over keys are elementwise ops
            # on contiguous [B, H, query] slices (numpy reduces short last axes slowly).
            k = y[he:2 * he].reshape(h, e, b, t).transpose(2, 0, 3, 1)       # [B, H, T, E]
            q = y[:he].reshape(h, e, b, t).transpose(2, 0, 1, 3)             # [B, H, E, T]
            v = y[2 * he:].reshape(h, f, b, t).transpose(2, 0, 1, 3)         # [B, H, F, T]
            if t <= _BATCH_LAST_MAX_T:
                mixed = _attend_batch_last(k, q, v, mask)                   # [H, F, B, T]
            else:
                mixed = attend(k, q, v, mask).transpose(1, 2, 0, 3)
            att.writes.add(x, att.out(mixed.reshape(h * f, n)))
        if mlp is not None:
            apply_mlp(mlp, x)


def attend(k: np.ndarray, q: np.ndarray, v: np.ndarray, mask: Optional[np.ndarray]
           ) -> np.ndarray:
    """Softmax attention with key-major logits: keys k [B, H, key, E], queries q [B, H, E,
    query], values v [B, H, F, key], an additive mask broadcastable to [B, H, key, query] (or
    None) -> the mixed values [B, H, F, query]."""
    return softmax_mix(np.matmul(k, q), v, mask)


#: The planned full pass runs the softmax batch-last (`_attend_batch_last`) over at most this
#: many positions: there every elementwise op and key reduction runs along the batch, a long
#: contiguous axis, where key-major [B, H, key, query] slices are runs of T floats. Measured
#: on make_sort's layers at T = 9 (chunks of 1,024 inputs): softmax and mixing 0.63x and
#: 0.75x the CPU time of `softmax_mix`.
_BATCH_LAST_MAX_T = 16
#: ... mixing values by multiply-adds over keys for heads at most this wide (else one batched
#: matmul on the weights transposed back): one product [H, F, key, query, B], then a sum over
#: keys (measured on make_sort's F = 4 head, chunks of 768: 0.88x the time of a
#: multiply-add per value column and key).
_BATCH_LAST_MAX_F = 4


def _attend_batch_last(k: np.ndarray, q: np.ndarray, v: np.ndarray,
                       mask: Optional[np.ndarray]) -> np.ndarray:
    """`attend` for the planned full pass, with the softmax computed batch-last: the same
    inputs (k [B, H, key, E], q [B, H, E, query], v [B, H, F, key], additive mask
    broadcastable to [B, H, key, query]), the mixed values as [H, F, B, query] (a view).
    The same quotient as `softmax_mix`: exp(logit - max over keys), mixed, then divided by
    the sum of the weights; only the order of the sums differs."""
    b, h, keys, _ = k.shape
    f = v.shape[2]
    w = np.matmul(k, q).transpose(1, 2, 3, 0)          # [H, key, query, B] (view)
    if mask is not None:
        w = w + mask.transpose(1, 2, 3, 0)              # a contiguous copy
    else:
        w = np.ascontiguousarray(w)
    top = w[:, 0].copy()                                # [H, query, B]
    for j in range(1, keys):
        np.maximum(top, w[:, j], out=top)
    w -= top[:, None]
    np.exp(w, out=w)
    total = top                                         # reuse: the sum of the weights
    np.copyto(total, w[:, 0])
    for j in range(1, keys):
        total += w[:, j]
    if f > _BATCH_LAST_MAX_F:
        mixed = np.matmul(v, w.transpose(3, 0, 1, 2))   # [B, H, F, query]
        mixed /= total.transpose(2, 0, 1)[:, :, None]
        return mixed.transpose(1, 2, 0, 3)
    vb = np.ascontiguousarray(v.transpose(1, 2, 3, 0))  # [H, F, key, B]
    terms = w[:, None] * vb[:, :, :, None]              # [H, F, key, query, B]
    out = terms[:, :, 0]                                # [H, F, query, B]
    for j in range(1, keys):
        out += terms[:, :, j]
    out /= total[:, None]
    return out.transpose(0, 1, 3, 2)


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


def apply_mlp(mlp: "_MLPPlan", x: np.ndarray) -> None:
    """A planned MLP on x [D, N], in place (x += its output)."""
    hidden = mlp.w_in(mlp.reads.take(x))
    if mlp.b_in is not None:
        hidden += mlp.b_in
    relu_inplace(hidden)
    y = mlp.w_out(hidden)
    if mlp.b_out is not None:
        y += mlp.b_out
    mlp.writes.add(x, y)


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
                probe: bool = False) -> np.ndarray:
    """The final residual, feature-major [D, B*T], for token ids [B, T] and an
    `additive_mask` (None: attend everywhere; padding, for halting, is read off it).

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
            of the residual [D, B*T] after the prelude (pass_index 0) and after each pass
            (1, 2, ...), e.g. to decode the loop's state; it must not keep x beyond the call.
        probe: looped weights only, with `observe`: when the run stops with a sequence not
            halted (max_iterations passes; with `iterations`: always), run one more pass on a
            copy of the residual and give it to observe as pass (passes run + 1); the copy is
            then discarded and the epilogue runs on the residual as it was (this is how
            `Model.loop_traces` learns whether the halting condition holds at the last
            state).

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
        _apply(plan.layers, x, mask, *ids.shape)
        return x
    _check_iterations(weights, iterations, "run_planned")
    if probe and observe is None:
        raise InvalidInput("run_planned: probe=True needs observe (the probe pass is only "
                           "given to observe)")
    b, t = ids.shape
    x = _embed(plan, ids)
    block = plan.layers[loop.start:loop.stop]
    _apply(plan.layers[:loop.start], x, mask, b, t)
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
    """The passes of a plain run, in place on x [D, B*T]. Halted sequences may leave the
    working batch (they are a fixed point of the block, so further passes would change
    nothing) and are written back into x as they were when they left."""
    d = x.shape[0]
    full = x.reshape(d, b, t)
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
            w3 = xw.reshape(d, n, t)
            full[:, live[done]] = w3[:, done]
            live, xw = live[~done], np.ascontiguousarray(w3[:, ~done]).reshape(d, -1)
            if mw is not None and mw.shape[0] > 1:   # per sequence, not only causal
                mw = mw[~done]
            done = done[~done]
    if xw is not x:
        full[:, live] = xw.reshape(d, len(live), t)


def _passes_observed(weights: Weights, block: tuple, x: np.ndarray,
                     mask: Optional[np.ndarray], b: int, t: int, iterations: Optional[int],
                     observe: Optional[Callable], probe: bool) -> None:
    """The passes with `observe` and `probe`, or exactly `iterations` passes, on the whole
    batch, in place on x [D, B*T] (see `run_planned`)."""
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
    final = x.reshape(weights.residual_width, b, t).transpose(1, 2, 0)
    return Trace((final,), (), key_mask, weights.layout, tuple(schedule))
