"""Incremental autoregressive decoding of causal models: cached keys and values.

A causal model (`Weights.causal`) computes position i from positions <= i only, so appending
tokens to a sequence changes nothing at its earlier positions: only the new positions need
computing. `IncrementalState` keeps, for every attention layer of the execution plan, the keys
and values of every position computed so far; a new position's residual runs through each
layer with its attention over the cached keys plus its own (and those of the positions appended
with it), and through the MLPs, which are per position. The embeddings, the compact weight
blocks (`execution_plan`: W_Q/W_K/W_V stacked, MLP hidden units that write nothing dropped,
CSR blocks) and the formulas (additive mask, max subtracted, normalised after mixing) are
those of `run_planned`, so a new position's final residual is the one `run_planned` computes
for it on the whole sequence, up to rounding (`run_planned` folds W_K W_Q^T onto the rows one
side reads and looks layer 0's weights up in a table, `_logit_factors` and
`_first_attention_weights`; not bitwise: measured differences up to ~1e-16 in float64 and
~1e-5 in float32; the tests require 1e-9 and 1e-4), and the decoded next tokens are the same.

Shapes: B sequences (rows) of the state, H heads, E/F head widths, C the cache capacity in
positions (BOS at 0; it grows by doubling, at most max_seq_len + 1).

Cache per attention layer: keys [B, H, C, E] (key-major, as `run_planned` multiplies them)
and values [B, H, F, C]. The keys are stored sparse while they have few nonzero entries
(`_KeyCache`: a compiled head's key is a one-hot code, E can be hundreds wide, and reading
the dense cache at every step dominated the cost of a step). Entries past a row's length are zero and masked out (0 / -inf
additive mask): a row attends nothing beyond its own length, whatever the other rows hold.
The cache's first axis holds *slots*, not rows: a step reads the keys and values of the rows
it extends as one basic slice (a view) of consecutive slots. When those rows' slots are not
consecutive (some sequences of a batch finished), each active slot outside the target run
swaps its filled part with an inactive one inside it (`_gather_slots`) — two rows' copies per
hole, once — instead of copying every selected row's cache by fancy indexing at every step.

The next token of a sequence is the "output" readout (or another named readout) decoded at
its last position by `Readout.decode` — argmax with the 1/2 threshold, numerical snapping
(the rules of `Model.decode`) — or None for an empty sequence (no position to read).

`IncrementalDecoder` and `FullDecoder` implement the `Decoder` protocol of
`theory_kit.generation` (`start(prompts)`, `extend(rows, appended)`, both returning the next
token of the sequences concerned), by the cache and by full recomputation (`run_batch` of the
whole sequences at every step, as `Model.next_tokens_full`) respectively.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Optional, Sequence

import numpy as np

from theory_kit.errors import InvalidInput
from theory_kit.model.forward import apply_mlp, attend, execution_plan, softmax_mix
from theory_kit.model.weights import OUTPUT, _is_int
from theory_kit.values import check_input

if TYPE_CHECKING:
    from theory_kit.model.compiled import Model

__all__ = ["IncrementalState", "IncrementalDecoder", "FullDecoder", "check_incremental"]

_PLAIN = frozenset({list, tuple, str})
#: Smallest cache capacity allocated (positions, BOS included) when the cache grows.
_MIN_CAPACITY = 8
#: A layer's keys stay sparse while every key has at most E / _SPARSE_FRACTION nonzeros.
_SPARSE_FRACTION = 8


def check_incremental(model: "Model", where: str) -> None:
    """Raise InvalidInput unless `model` can decode incrementally (causal, no loop)."""
    w = model.weights
    if w.loop is not None:
        raise InvalidInput(
            f"{where}: this model is looped (weights.loop runs layers[{w.loop.start}:"
            f"{w.loop.stop}] until every position halts): how many passes a sequence runs "
            f"depends on all its positions, so appending a token can change the residual of "
            f"every earlier position and incremental decoding is not supported for looped "
            f"models; use model.decoder(incremental=False) or model.next_tokens_full(seqs) "
            f"(full recomputation at every step)")
    if not w.causal:
        raise InvalidInput(
            f"{where}: this model is not causal (weights.causal is False): every position "
            f"attends to later ones, so appending a token changes the residual of every "
            f"earlier position and each step needs a full recomputation; use "
            f"model.decoder(incremental=False) or model.next_tokens_full(seqs), or compile "
            f"with causal=True")


def _check_rows(rows: Any, batch: int, where: str) -> list[int]:
    """`rows` as a list of distinct Python ints in 0..batch-1."""
    if type(rows) not in (list, tuple, range) and (
            isinstance(rows, (str, bytes)) or not isinstance(rows, (Sequence, np.ndarray))):
        raise InvalidInput(f"{where}: rows must be a sequence of row indices (ints), got "
                           f"{type(rows).__name__} {rows!r:.60}")
    out = []
    for r in rows:
        if not _is_int(r):
            raise InvalidInput(f"{where}: row index {r!r:.40} ({type(r).__name__}) is not an "
                               f"int")
        r = int(r)
        if not 0 <= r < batch:
            raise InvalidInput(f"{where}: row {r} is out of range; the state has {batch} "
                               f"row(s), 0..{batch - 1}")
        out.append(r)
    if len(set(out)) != len(out):
        seen: set = set()
        repeated = sorted({r for r in out if r in seen or seen.add(r)})
        raise InvalidInput(f"{where}: rows {repeated} appear more than once (append all of a "
                           f"row's tokens in one list)")
    return out


def _check_tokens(model: "Model", current: Sequence[int], appended: Any, labels: Sequence[str],
                  where: str) -> tuple[list[list], list[np.ndarray]]:
    """The checked tokens of each appended list and their ids, after the length check: the
    sequence labelled labels[i] has current[i] tokens and gets appended[i].

    Raises:
        InvalidInput: `appended` is not a list of sequences of the right length, a token is
            outside the vocabulary, or a sequence would exceed max_seq_len.
    """
    if type(appended) not in (list, tuple) and (isinstance(appended, (str, bytes)) or
                                                 not isinstance(appended, (Sequence,
                                                                           np.ndarray))):
        raise InvalidInput(f"{where}: expected a list of token sequences, got "
                           f"{type(appended).__name__} {appended!r:.60}")
    appended = list(appended)
    if len(appended) != len(labels):
        raise InvalidInput(f"{where}: {len(labels)} row(s) but {len(appended)} token list(s); "
                           f"give one list of tokens per row")

    def check_lengths(counts: Sequence[int]) -> None:
        for label, cur, k in zip(labels, current, counts):
            if cur + k > model.max_seq_len:
                grown = f"{cur} + {k} appended tokens" if cur else f"{k} tokens"
                raise InvalidInput(f"{where}: {label} would have length {cur + k} ({grown}), "
                                   f"longer than max_seq_len {model.max_seq_len}")

    flat = counts = None
    # the fast path of run_batch's encoding (C-level loops), for plain lists of tokens of the
    # vocabulary's types (anything else, e.g. numpy scalars, takes the checked path below)
    if set(map(type, appended)) <= _PLAIN and set(
            map(type, itertools.chain.from_iterable(appended))) <= model._token_types:
        try:
            flat, counts = model._token_ids(appended)
        except InvalidInput:
            pass
    if flat is not None:
        counts = counts.tolist()
        check_lengths(counts)
        tokens = [list(s) for s in appended]
        ends = list(itertools.accumulate(counts))
        return tokens, [flat[e - k:e] for e, k in zip(ends, counts)]
    # precise errors: types first, then lengths, then the vocabulary
    tokens = [check_input(s, where=f"{where}: {label}") for s, label in zip(appended, labels)]
    check_lengths([len(xs) for xs in tokens])
    tokens = [model._check(xs, f"{where}: {label}") for xs, label in zip(tokens, labels)]
    ids = [np.array([model._typed_id(x) for x in xs], dtype=np.int64) for xs in tokens]
    return tokens, ids


class _KeyCache:
    """The cached keys of one attention layer: [B, H, C, E] in effect, stored sparse while
    every key has few nonzero entries (compiled heads' keys are one-hot codes of a value or
    a position: E can be hundreds, a key has 1 or 2 nonzeros), else dense.

    Sparse: `idx`, `val` [B, H, C, S] hold each key's nonzero entries (their indices, in
    increasing order, then padding: index 0, value 0); a logit is the sum of val * q[idx],
    the dense dot product without its zero terms (equal up to the order of the sum). A key
    with more than S nonzeros widens S; one with more than E / _SPARSE_FRACTION makes the
    layer dense for good (`dense` [B, H, C, E], the layout `attend` takes).
    """

    def __init__(self, batch: int, heads: int, e: int, dtype: np.dtype):
        self.e, self.dtype = e, dtype
        self.idx = np.zeros((batch, heads, 0, 1), dtype=np.intp)
        self.val = np.zeros((batch, heads, 0, 1), dtype=dtype)
        self.dense: Optional[np.ndarray] = None

    def arrays(self) -> list:
        return [self.dense] if self.dense is not None else [self.idx, self.val]

    def _set_arrays(self, arrays: list) -> None:
        if self.dense is not None:
            (self.dense,) = arrays
        else:
            self.idx, self.val = arrays

    def repeated(self, batch: int) -> "_KeyCache":
        """A copy whose `batch` slots each hold this one-slot cache's keys."""
        out = _KeyCache(0, 0, self.e, self.dtype)
        out.idx, out.val = self.idx, self.val      # unused (never written) once dense
        if self.dense is None:
            out.idx, out.val = np.repeat(self.idx, batch, 0), np.repeat(self.val, batch, 0)
        else:
            out.dense = np.repeat(self.dense, batch, 0)
        return out

    def resize(self, capacity: int, old: int) -> None:
        """Hold `capacity` positions per slot, keeping the first `old`."""
        grown = []
        for a in self.arrays():
            new = np.zeros(a.shape[:2] + (capacity,) + a.shape[3:], dtype=a.dtype)
            new[:, :, :old] = a[:, :, :old]
            grown.append(new)
        self._set_arrays(grown)

    def swap(self, a: np.ndarray, b: np.ndarray, filled: int) -> None:
        """Exchange the first `filled` positions of slots a[i] and b[i]."""
        for arr in self.arrays():
            arr[a, :, :filled], arr[b, :, :filled] = arr[b, :, :filled], arr[a, :, :filled]

    def write(self, slots: np.ndarray, positions: np.ndarray, keys: np.ndarray) -> None:
        """Cache keys[i] [H, E] at (slots[i], positions[i])."""
        if self.dense is None:
            nonzero = keys != 0
            need = int(nonzero.sum(axis=-1).max()) if len(keys) else 0
            if need * _SPARSE_FRACTION > self.e:
                self._densify()
            else:
                if need > self.idx.shape[3]:
                    self._widen(max(need, 2 * self.idx.shape[3]))
                # the nonzero entries in index order, then padding (index 0, value 0): entry
                # (i, h, e) is the rank-th nonzero of its key, rank = its index among them
                n, h = nonzero.shape[:2]
                ki, hi, ei = np.nonzero(nonzero)
                counts = nonzero.sum(axis=-1).reshape(-1)
                rank = np.arange(len(ei)) - np.repeat(np.cumsum(counts) - counts, counts)
                idx = np.zeros((n, h, self.idx.shape[3]), dtype=np.intp)
                val = np.zeros((n, h, self.idx.shape[3]), dtype=self.dtype)
                idx[ki, hi, rank] = ei
                val[ki, hi, rank] = keys[ki, hi, ei]
                self.idx[slots, :, positions] = idx
                self.val[slots, :, positions] = val
                return
        self.dense[slots, :, positions] = keys

    def _widen(self, width: int) -> None:
        b, h, c, w = self.idx.shape
        idx = np.zeros((b, h, c, width), dtype=np.intp)
        val = np.zeros((b, h, c, width), dtype=self.dtype)
        idx[..., :w], val[..., :w] = self.idx, self.val   # the padding: index 0, value 0
        self.idx, self.val = idx, val

    def _densify(self) -> None:
        b, h, c, w = self.idx.shape
        dense = np.zeros((b, h, c, self.e), dtype=self.dtype)
        # padding entries add 0 (at possibly repeated indices), so accumulate, not assign
        flat = np.arange(b * h * c).reshape(b, h, c, 1) * self.e + self.idx
        np.add.at(dense.reshape(-1), flat.reshape(-1), self.val.reshape(-1))
        self.dense = dense

    def attend(self, key: slice, t: int, q: np.ndarray, values: np.ndarray,
               mask: Optional[np.ndarray]) -> np.ndarray:
        """`forward.attend` over these keys (slots `key`, positions 0..t-1): the mixed
        values [b, H, F, m]."""
        if self.dense is not None:
            return attend(self.dense[key, :, :t], q, values, mask)
        return softmax_mix(self.logits(key, t, q), values, mask)

    def logits(self, key: slice, t: int, q: np.ndarray) -> np.ndarray:
        """Key-major logits [b, H, t, m] of the keys of slots `key`, positions 0..t-1,
        against queries q [b, H, E, m]."""
        if self.dense is not None:
            return np.matmul(self.dense[key, :, :t], q)
        idx, val = self.idx[key, :, :t], self.val[key, :, :t]             # [b, H, t, S]
        b, h, e, m = q.shape
        rows = (np.arange(b * h) * e).reshape(b, h, 1, 1)
        gathered = q.reshape(b * h * e, m)[rows + idx]                       # [b, H, t, S, m]
        return np.einsum("bhts,bhtsm->bhtm", val, gathered)


class IncrementalState:
    """Cached keys and values of a batch of sequences of a causal model, and each
    sequence's final residual at its last position (module docstring).

    Made by `Model.start_decoding(prompts)` (or `IncrementalState.start`); `extend(rows,
    appended)` appends tokens to some rows and returns their next tokens.

    Attributes:
        model: the Model (causal, without a loop).
        readout: the name of the readout decoded as the next token ("output").
        last_residual: [B, D], the final residual at each row's last position (its BOS for an
            empty sequence), in the weights' dtype.
    """

    def __init__(self, model: "Model", batch: int, *, readout: str = OUTPUT,
                 bos: Optional["IncrementalState"] = None):
        """A state of `batch` empty sequences (their BOS run and cached); `extend` appends
        their tokens. `start` (`Model.start_decoding`) makes one from prompts.

        BOS is the same in every row: it runs once, in a state of one row (`bos`, if given:
        a state of this model and readout holding only BOS, e.g. kept by a decoder that
        starts many times), whose cache every row copies.

        Raises:
            InvalidInput: the model is not causal or is looped; batch is not an int >= 0; no
                readout of that name; `bos` is not a one-row BOS-only state of this model.
        """
        check_incremental(model, "IncrementalState")
        model._readout(readout, "IncrementalState")
        if not (_is_int(batch) and batch >= 0):
            raise InvalidInput(f"IncrementalState: batch must be an int >= 0, got "
                               f"{batch!r:.40}")
        self.model = model
        self.readout = readout
        w = model.weights
        self._plan = execution_plan(w)
        self._dtype = w.dtype
        self._batch = int(batch)
        self._filled = np.zeros(self._batch, dtype=np.int64)   # cached positions, BOS included
        self._slot = np.arange(self._batch)     # row -> its slot in the cache's first axis
        self._seqs: list[list] = [[] for _ in range(self._batch)]
        self._capacity = 0
        self._keys: list[Optional[_KeyCache]] = []
        self._values: list[Optional[np.ndarray]] = []
        for att, _ in self._plan.layers:
            self._keys.append(None if att is None else _KeyCache(
                self._batch, att.heads, att.e, self._dtype))
            self._values.append(None if att is None else np.zeros(
                (self._batch, att.heads, att.f, 0), dtype=self._dtype))
        self.last_residual = np.zeros((self._batch, self._plan.width), dtype=self._dtype)
        if self._batch == 1 and bos is None:
            self._step([0], [np.zeros(1, dtype=np.int64)])   # BOS is token id 0
            return
        if bos is None:
            bos = IncrementalState(model, 1, readout=readout)
        elif not (isinstance(bos, IncrementalState) and bos.model is model
                  and bos.readout == readout and bos._filled.tolist() == [1]):
            raise InvalidInput(f"IncrementalState: bos must be a state of this model and "
                               f"readout with one row holding only BOS, got {bos!r:.60}")
        self._capacity = bos._capacity
        self._keys = [None if k is None else k.repeated(self._batch) for k in bos._keys]
        self._values = [None if v is None else np.repeat(v, self._batch, 0)
                        for v in bos._values]
        self.last_residual = np.repeat(bos.last_residual, self._batch, 0)
        self._filled[:] = 1

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def start(cls, model: "Model", prompts: Any, *, readout: str = OUTPUT,
              bos: Optional["IncrementalState"] = None) -> tuple["IncrementalState", list]:
        """(state, next token of each prompt): BOS, then every prompt, run through the model,
        their keys and values cached (`Model.start_decoding`; `bos` as in the constructor).

        Raises:
            InvalidInput: as `Model.start_decoding`.
        """
        where = "start_decoding"
        check_incremental(model, where)
        model._readout(readout, where)
        if isinstance(prompts, (str, bytes)) or not isinstance(prompts,
                                                                (Sequence, np.ndarray)):
            raise InvalidInput(f"{where}: expected a list of prompts (token sequences), got "
                               f"{type(prompts).__name__} {prompts!r:.60}")
        prompts = list(prompts)
        labels = [f"prompt {i}" for i in range(len(prompts))]
        tokens, ids = _check_tokens(model, [0] * len(prompts), prompts, labels, where)
        state = cls(model, len(prompts), readout=readout, bos=bos)
        rows = list(range(len(prompts)))
        state._step(rows, ids)
        state._seqs = tokens
        return state, state._next(rows)

    # -- properties -------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return self._batch

    @property
    def lengths(self) -> list[int]:
        """Tokens of each row (BOS not counted)."""
        return (self._filled - 1).tolist()

    @property
    def sequences(self) -> list[list]:
        """Each row's tokens so far (prompt and appended tokens; copies)."""
        return [list(s) for s in self._seqs]

    @property
    def capacity(self) -> int:
        """Positions (BOS included) the cache holds per row before it grows."""
        return self._capacity

    def next_tokens(self, rows: Optional[Sequence[int]] = None) -> list:
        """The next token of `rows` (None: every row) from the cached last residuals."""
        rows = (list(range(self._batch)) if rows is None
                else _check_rows(rows, self._batch, "next_tokens"))
        return self._next(rows)

    # -- appending --------------------------------------------------------------------------
    def extend(self, rows: Sequence[int], appended: Sequence[Sequence]) -> list:
        """Append appended[i] (a list of tokens, possibly several, possibly none) to row
        rows[i]; return the next token of each of `rows`, in that order.

        Nothing changes when it raises (everything is checked before any work).

        Raises:
            InvalidInput: rows not distinct ints in 0..batch_size-1; not one token list per
                row; a token outside the vocabulary; a row that would exceed max_seq_len (the
                message names the row and the length).
        """
        rows = self._append(rows, appended, "extend")
        return self._next(rows)

    def extend_residuals(self, rows: Sequence[int], appended: Sequence[Sequence]
                         ) -> list[np.ndarray]:
        """As `extend`, but return the final residual of every appended position: for each
        of `rows`, [k, D] for its k new positions (what `forward(..., record=False)` gives at
        those positions of the whole sequence)."""
        out: list = []
        self._append(rows, appended, "extend_residuals", out)
        return out

    def _append(self, rows: Any, appended: Any, where: str, out: Optional[list] = None
                ) -> list[int]:
        rows = _check_rows(rows, self._batch, where)
        current = (self._filled[rows] - 1).tolist() if rows else []
        tokens, ids = _check_tokens(self.model, current, appended,
                                    [f"row {r}" for r in rows], where)
        self._step(rows, ids, out)
        for r, xs in zip(rows, tokens):
            self._seqs[r].extend(xs)
        return rows

    # -- the computation --------------------------------------------------------------------
    def _grow(self, needed: int) -> None:
        """Make the cache hold `needed` positions per row (doubling; at most
        max_seq_len + 1)."""
        if needed <= self._capacity:
            return
        limit = self.model.max_seq_len + 1
        cap = min(limit, max(needed, 2 * self._capacity, _MIN_CAPACITY))
        old = self._capacity
        for i, (k, v) in enumerate(zip(self._keys, self._values)):
            if k is None:
                continue
            k.resize(cap, old)
            nv = np.zeros(v.shape[:3] + (cap,), dtype=self._dtype)
            nv[:, :, :, :old] = v
            self._values[i] = nv
        self._capacity = cap

    def _step(self, rows: list[int], ids: list[np.ndarray], out: Optional[list] = None
              ) -> None:
        """Run the positions ids[i] (token ids) appended to row rows[i] through the model,
        caching their keys and values; update `last_residual` and `_filled`. With `out`,
        append each row's new final residuals [k, D] to it."""
        counts = np.array([len(i) for i in ids], dtype=np.int64)
        busy = np.flatnonzero(counts)
        new = [np.zeros((0, self._plan.width), dtype=self._dtype) for _ in rows]
        if len(busy):
            sel = np.asarray(rows, dtype=np.intp)[busy]       # the rows computed, [b]
            x3 = self._compute(sel, counts[busy], [ids[i] for i in busy])
            for i, j in enumerate(busy.tolist()):
                new[j] = x3[:, i, :counts[j]].T.copy()
        if out is not None:
            out.extend(new)

    def _compute(self, sel: np.ndarray, counts: np.ndarray, ids: list[np.ndarray]
                 ) -> np.ndarray:
        """The body of `_step` for rows `sel` [b], each getting counts[i] >= 1 positions:
        the final residual of the new positions, [D, b, m] (m = the most new positions; a
        row's slots past its count are padding)."""
        b, m = len(sel), int(counts.max())
        first = self._gather_slots(sel)
        # the rows in the order of their slots (the cache's run first .. first + b - 1)
        order = np.argsort(self._slot[sel], kind="stable")
        reordered = not (order == np.arange(b)).all()
        if reordered:
            sel, counts, ids = sel[order], counts[order], [ids[i] for i in order]
        start = self._filled[sel]                          # first new position of each row
        new_filled = start + counts
        t = int(new_filled.max())
        self._grow(t)

        slot = np.arange(m)
        valid = slot[None, :] < counts[:, None]            # [b, m] real new positions
        # a padding slot repeats the row's last new position (attends only real keys; its
        # key and value are not cached and its residual is discarded)
        pos = np.minimum(start[:, None] + slot[None, :], (new_filled - 1)[:, None])
        ids_pad = np.zeros((b, m), dtype=np.int64)
        ids_pad[valid] = np.concatenate(ids)
        x = self._embed(ids_pad.reshape(-1), pos.reshape(-1))
        # 0 / -inf where key j is visible from the query at position p: j <= p (keys past a
        # row's length, zeros in the cache, are invisible to every one of its queries)
        if m == 1 and (pos[:, 0] == t - 1).all():
            mask = None                                    # every query sees every key
        else:
            mask = np.where(np.arange(t)[None, :, None] <= pos[:, None, :], 0.0,
                            -np.inf).astype(self._dtype)[:, None]   # [b, 1, T, m]
        vb, vs = np.nonzero(valid)
        self._layers(x, b, m, t, mask, slice(first, first + b), first + vb, pos[vb, vs], vb,
                     vs)
        x3 = x.reshape(-1, b, m)
        self.last_residual[sel] = x3[:, np.arange(b), counts - 1].T
        self._filled[sel] = new_filled
        return x3[:, np.argsort(order)] if reordered else x3

    def _gather_slots(self, sel: np.ndarray) -> int:
        """Make the cache slots of rows `sel` a consecutive run and return its first slot:
        when they are not, swap the filled part of each active slot outside the target run
        with an inactive one inside it (module docstring)."""
        slots = self._slot[sel]
        lo, b = int(slots.min()), len(sel)
        if int(slots.max()) - lo == b - 1:
            return lo
        lo = min(lo, self._batch - b)
        used = np.zeros(self._batch, dtype=bool)
        used[slots] = True
        incoming = slots[(slots < lo) | (slots >= lo + b)]   # active, outside the run
        holes = lo + np.flatnonzero(~used[lo:lo + b])         # inactive, inside the run
        filled = int(self._filled.max())
        for kc, vc in zip(self._keys, self._values):
            if kc is not None:
                kc.swap(incoming, holes, filled)
                vc[incoming, :, :, :filled], vc[holes, :, :, :filled] = \
                    vc[holes, :, :, :filled], vc[incoming, :, :, :filled]
        row_of = np.empty(self._batch, dtype=np.intp)
        row_of[self._slot] = np.arange(self._batch)
        moving_in, moving_out = row_of[incoming], row_of[holes]
        self._slot[moving_in], self._slot[moving_out] = holes, incoming
        return lo

    def _embed(self, ids: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """The embedded residual [D, n] of tokens `ids` at `positions` (as `_embed`)."""
        plan = self._plan
        x = np.zeros((plan.width, len(ids)), dtype=plan.token_embed_t.dtype)
        x[plan.token_rows.key] = np.take(plan.token_embed_t, ids, axis=1)
        x[plan.pos_rows.key] += plan.pos_embed_t[:, positions]
        return x

    def _layers(self, x: np.ndarray, b: int, m: int, t: int, mask: Optional[np.ndarray],
                key: slice, cache_rows: np.ndarray, cache_pos: np.ndarray, vb: np.ndarray,
                vs: np.ndarray) -> None:
        """Every planned layer on the new positions x [D, b*m], in place (`_apply`, with the
        keys and values of earlier positions read from the cache)."""
        n = b * m
        for (att, mlp), kc, vc in zip(self._plan.layers, self._keys, self._values):
            if att is not None:
                h, e, f = att.heads, att.e, att.f
                he = h * e
                y = att.qkv(att.reads.take(x))
                q = y[:he].reshape(h, e, b, m).transpose(2, 0, 1, 3)         # [b, H, E, m]
                k = y[he:2 * he].reshape(h, e, b, m).transpose(2, 0, 3, 1)   # [b, H, m, E]
                v = y[2 * he:].reshape(h, f, b, m).transpose(2, 0, 1, 3)     # [b, H, F, m]
                kc.write(cache_rows, cache_pos, k[vb, :, vs, :])
                vc[cache_rows, :, :, cache_pos] = v[vb, :, :, vs]
                values = vc[key, :, :, :t]                                  # [b, H, F, T]
                mixed = kc.attend(key, t, q, values, mask)                  # [b, H, F, m]
                att.writes.add(x, att.out(mixed.transpose(1, 2, 0, 3).reshape(h * f, n)))
            if mlp is not None:
                apply_mlp(mlp, x)

    def _next(self, rows: list[int]) -> list:
        """The decoded readout at the last position of `rows` (None for an empty row)."""
        if not rows:
            return []
        reads, unembed_t = self._plan.readouts[self.readout]
        last = self.last_residual[rows].T                                   # [D, b]
        decoded = self.model.weights.readouts[self.readout].decode(
            unembed_t @ reads.take(last), axis=0).tolist()
        return [None if self._filled[r] <= 1 else tok for r, tok in zip(rows, decoded)]


class IncrementalDecoder:
    """The `theory_kit.generation.Decoder` protocol by cached keys and values
    (`IncrementalState`): `start(prompts)`, then `extend(rows, appended)` as often as needed;
    both return the next token of the sequences concerned. `start` again begins afresh.

    Attributes:
        model: the Model (causal, without a loop).
        readout: the readout decoded as the next token.
        state: the `IncrementalState` (None before `start`).
    """

    def __init__(self, model: "Model", *, readout: str = OUTPUT):
        check_incremental(model, "decoder")
        model._readout(readout, "decoder")
        self.model, self.readout = model, readout
        self.state: Optional[IncrementalState] = None
        self._bos: Optional[IncrementalState] = None   # BOS, run once (the run_machine loop
        #                                                starts afresh at every step)

    def start(self, prompts: Sequence[Sequence]) -> list:
        """The next token of each prompt (row i is prompts[i] from now on)."""
        if self._bos is None:
            self._bos = IncrementalState(self.model, 1, readout=self.readout)
        self.state, tokens = IncrementalState.start(self.model, prompts, readout=self.readout,
                                                    bos=self._bos)
        return tokens

    def extend(self, rows: Sequence[int], appended: Sequence[Sequence]) -> list:
        """Append appended[i] to row rows[i]; the next token of each of `rows`."""
        if self.state is None:
            raise InvalidInput("extend: call start(prompts) first")
        return self.state.extend(rows, appended)

    @property
    def sequences(self) -> list[list]:
        return [] if self.state is None else self.state.sequences


class FullDecoder:
    """The `Decoder` protocol by full recomputation: every step runs the whole sequences of
    the rows concerned (`Model.next_tokens_full`). Works for every model (non-causal and
    looped too); the reference the incremental decoder is compared with."""

    def __init__(self, model: "Model", *, readout: str = OUTPUT):
        model._readout(readout, "decoder")
        self.model, self.readout = model, readout
        self._seqs: Optional[list[list]] = None

    def start(self, prompts: Sequence[Sequence]) -> list:
        where = "start_decoding"
        if isinstance(prompts, (str, bytes)) or not isinstance(prompts,
                                                                (Sequence, np.ndarray)):
            raise InvalidInput(f"{where}: expected a list of prompts (token sequences), got "
                               f"{type(prompts).__name__} {prompts!r:.60}")
        prompts = list(prompts)
        tokens, _ = _check_tokens(self.model, [0] * len(prompts), prompts,
                                  [f"prompt {i}" for i in range(len(prompts))], where)
        self._seqs = tokens
        return self.model.next_tokens_full(self._seqs, readout=self.readout)

    def extend(self, rows: Sequence[int], appended: Sequence[Sequence]) -> list:
        if self._seqs is None:
            raise InvalidInput("extend: call start(prompts) first")
        rows = _check_rows(rows, len(self._seqs), "extend")
        tokens, _ = _check_tokens(self.model, [len(self._seqs[r]) for r in rows], appended,
                                  [f"row {r}" for r in rows], "extend")
        for r, xs in zip(rows, tokens):
            self._seqs[r].extend(xs)
        return self.model.next_tokens_full([self._seqs[r] for r in rows],
                                           readout=self.readout)

    @property
    def sequences(self) -> list[list]:
        return [] if self._seqs is None else [list(s) for s in self._seqs]
