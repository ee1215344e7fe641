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
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Optional

import numpy as np
import scipy.sparse

from theory_kit.model.weights import OUTPUT, ResidualLayout, Weights
from theory_kit.values import ONE

__all__ = ["Trace", "forward"]

#: A compact block runs as a sparse matrix when its density is below 1/_SPARSE_RATIO (measured:
#: scipy's CSR-times-dense costs about 7-10x a dense BLAS multiply-add per stored entry).
_SPARSE_RATIO = 8
#: ... and when it has at least this many entries (tiny blocks: BLAS call overhead wins).
_SPARSE_MIN_SIZE = 64


@dataclass(frozen=True, eq=False)
class Trace:
    """What a forward pass computed.

    residuals[0] is the embedding; residuals[2l+1] follows layer l's attention and
    residuals[2l+2] its MLP, each [B, T, D]. attention[l] is [B, H, T, T] (query, key).
    `key_mask` [B, T] marks real (non-padding) positions; `layout` names the D dimensions.
    """

    residuals: tuple
    attention: tuple
    key_mask: np.ndarray
    layout: ResidualLayout

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


def _forward_dense(weights: Weights, ids: np.ndarray, key_mask: np.ndarray) -> Trace:
    b, t = ids.shape
    x = weights.token_embed[ids] + weights.pos_embed[:t][None]
    mask = key_mask[:, None, None, :]
    if weights.causal:
        mask = mask & np.tril(np.ones((t, t), dtype=bool))[None, None]
    residuals, patterns = [x], []
    for lw in weights.layers:
        if lw.n_heads:
            out, attn = _attention(x, lw, mask)
            x = x + out
            patterns.append(attn)
        else:
            patterns.append(np.zeros((b, 0, t, t), dtype=x.dtype))
        residuals.append(x)
        if lw.mlp_hidden:
            x2 = x.reshape(b * t, -1)
            hidden = np.maximum(x2 @ lw.W_in + lw.b_in, 0)
            x = x + (hidden @ lw.W_out + lw.b_out).reshape(b, t, -1)
        residuals.append(x)
    return Trace(tuple(residuals), tuple(patterns), key_mask, weights.layout)


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


def run_planned(weights: Weights, ids: np.ndarray, mask: Optional[np.ndarray]) -> np.ndarray:
    """The final residual, feature-major [D, B*T], for token ids [B, T] and an
    `additive_mask` (None: attend everywhere)."""
    plan = execution_plan(weights)
    b, t = ids.shape
    d, n = plan.width, b * t
    # Only the rows some embedding writes: the rest of the residual starts at zero.
    x = np.zeros((d, n), dtype=plan.token_embed_t.dtype)
    x[plan.token_rows.key] = np.take(plan.token_embed_t, ids.reshape(n), axis=1)
    x.reshape(d, b, t)[plan.pos_rows.key] += plan.pos_embed_t[:, None, :t]
    for att, mlp in plan.layers:
        if att is not None:
            h, e, f = att.heads, att.e, att.f
            y = att.qkv(att.reads.take(x))
            he = h * e
            # Key-major logits [B, H, key, query]: reductions over keys are elementwise ops
            # on contiguous [B, H, query] slices (numpy reduces short last axes slowly).
            k = y[he:2 * he].reshape(h, e, b, t).transpose(2, 0, 3, 1)       # [B, H, T, E]
            q = y[:he].reshape(h, e, b, t).transpose(2, 0, 1, 3)             # [B, H, E, T]
            v = y[2 * he:].reshape(h, f, b, t).transpose(2, 0, 1, 3)         # [B, H, F, T]
            logits = np.matmul(k, q)
            if mask is not None:
                logits += mask
            logits -= _reduce_keys(np.maximum, logits)
            np.exp(logits, out=logits)
            # Normalise after mixing: [B, H, F, query] values instead of the [B, H, key, query]
            # weights (F is a head's value width, usually 1-3; the same quotient).
            mixed = np.matmul(v, logits)
            mixed /= _reduce_keys(np.add, logits)
            mixed = mixed.transpose(1, 2, 0, 3).reshape(h * f, n)
            att.writes.add(x, att.out(mixed))
        if mlp is not None:
            hidden = mlp.w_in(mlp.reads.take(x))
            if mlp.b_in is not None:
                hidden += mlp.b_in
            np.maximum(hidden, 0, out=hidden)
            y = mlp.w_out(hidden)
            if mlp.b_out is not None:
                y += mlp.b_out
            mlp.writes.add(x, y)
    return x


def forward(weights: Weights, token_ids: np.ndarray, key_mask: Optional[np.ndarray] = None,
            *, record: bool = True) -> Trace:
    """Run the model on token ids [B, T] (column 0 must be BOS, id 0).

    Args:
        weights: the compiled weights.
        token_ids: int array [B, T].
        key_mask: bool [B, T], False at padding positions (never attended to).
        record: keep every intermediate residual and attention pattern (else only the last,
            computed by the faster planned pass; see the module docstring).
    """
    ids = np.asarray(token_ids)
    b, t = ids.shape
    if key_mask is None:
        key_mask = np.ones((b, t), dtype=bool)
    if record:
        return _forward_dense(weights, ids, key_mask)
    x = run_planned(weights, ids, additive_mask(key_mask, weights.causal, t, weights.dtype))
    final = x.reshape(weights.residual_width, b, t).transpose(1, 2, 0)
    return Trace((final,), (), key_mask, weights.layout)
