"""CompiledModel: run, inspect, save and load a compiled transformer."""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import zipfile
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from theory_kit.errors import InvalidInput, InvalidModelFile
from theory_kit.model.forward import Trace, additive_mask, execution_plan, forward, run_planned
from theory_kit.model.weights import LayerWeights, Weights

__all__ = ["CompiledModel", "load", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_CHUNK = 4096
#: Bytes of activations one run_batch chunk may allocate (widest layer x positions x batch).
_CHUNK_BYTES = 256 * 2 ** 20
_PLAIN_SEQUENCES = frozenset({list, tuple, str})


def _padded(flat: np.ndarray, lengths: np.ndarray, t: int) -> np.ndarray:
    """Token ids [B, t]: BOS (id 0), then each input's ids (`flat`, concatenated), then BOS
    padding."""
    ids = np.zeros((len(lengths), t), dtype=np.int64)
    if len(lengths) and lengths.min() == t - 1:
        ids[:, 1:] = flat.reshape(len(lengths), t - 1)
    else:  # boolean-mask assignment fills row by row, i.e. in `flat` order
        ids[:, 1:][np.arange(t - 1)[None, :] < lengths[:, None]] = flat
    return ids


def _buckets(lengths: np.ndarray, per_call: float, per_position: float,
             per_entry: float) -> list[tuple[int, int]]:
    """Split inputs sorted by length into runs [lo, hi) run at their own width (BOS + the
    longest): attention is quadratic in the width and padding wastes work, but every run costs
    a call. Minimises the modelled cost (per call + per position + per attention entry) by
    dynamic programming over the distinct lengths (plain Python: there are at most
    max_seq_len of them, and numpy's per-call overhead dominates at that size)."""
    values, starts = np.unique(lengths, return_index=True)
    bounds = starts.tolist() + [len(lengths)]   # inputs of values[j]: bounds[j]..bounds[j+1]
    k = len(values)
    best, cut = [0.0] * (k + 1), [0] * (k + 1)
    for j, v in enumerate(values.tolist(), start=1):  # best[j]: lengths 0..j-1, last run i..j-1
        t = v + 1.0
        per_input = per_position * t + per_entry * t * t
        end = bounds[j]
        best[j], cut[j] = min((best[i] + per_call + (end - bounds[i]) * per_input, i)
                              for i in range(j))
    runs, j = [], k
    while j:
        runs.append((bounds[cut[j]], bounds[j]))
        j = cut[j]
    return runs[::-1]


def _encode_value(v: Any) -> Any:
    if isinstance(v, bool):
        return {"bool": v}
    if isinstance(v, int):
        return {"int": v}
    if isinstance(v, float):
        return {"float": v}
    if isinstance(v, str):
        return {"str": v}
    if isinstance(v, tuple):
        return {"tuple": [_encode_value(x) for x in v]}
    if v is None:
        return {"none": None}
    raise InvalidInput(f"cannot save the value {v!r:.60} ({type(v).__name__}) in a model file")


def _decode_value(obj: Any) -> Any:
    if not isinstance(obj, dict) or len(obj) != 1:
        raise InvalidModelFile(f"malformed value {obj!r:.60} in model metadata")
    (kind, v), = obj.items()
    casts = {"bool": bool, "int": int, "float": float, "str": str}
    if kind in casts and isinstance(v, (bool, int, float, str)):
        return casts[kind](v)
    if kind == "tuple" and isinstance(v, list):
        return tuple(_decode_value(x) for x in v)
    if kind == "none":
        return None
    raise InvalidModelFile(f"malformed value {obj!r:.60} in model metadata")


class CompiledModel:
    """A compiled RASP program: `run` decodes exactly like `rasp.evaluate`.

    Attributes:
        weights: plain numpy arrays (see `theory_kit.model.Weights`).
        residual_labels: the name of every residual dimension.
        constants: the chosen β, ε, MLP slopes, and the formulas behind them; for a compiled
            model also `lexicographic_counts`, the SelectorWidths split by compiler.order.
        program: the source RASP program (None for a loaded model).
    """

    def __init__(self, weights: Weights, *, vocab: frozenset, max_seq_len: int, bos: Any,
                 constants: dict, output_value_set: Optional[tuple], program=None,
                 layered=None, config=None):
        self.weights = weights
        self.vocab = frozenset(vocab)
        self.max_seq_len = int(max_seq_len)
        self.bos = bos
        self.causal = weights.causal
        self.constants = dict(constants)
        self.output_value_set = output_value_set
        self.program = program
        self._layered = layered
        self._config = config
        self._token_id = {t: i for i, t in enumerate(weights.tokens)}
        # Token -> id for real tokens only (BOS is id 0 and never a valid input token).
        self._vocab_id = {t: i for i, t in enumerate(weights.tokens) if i > 0}
        if output_value_set:
            vals = np.array(sorted(float(v) for v in output_value_set))
            gaps = np.diff(vals)
            self._snap_values = vals
            self._snap_tol = float(gaps.min()) / 4 if len(gaps) else 0.5
        else:
            self._snap_values = None
            self._snap_tol = 0.0

    # -- properties -------------------------------------------------------------------------
    @property
    def residual_labels(self) -> tuple[str, ...]:
        return self.weights.residual_labels

    @property
    def dtype(self) -> np.dtype:
        return self.weights.dtype

    def __repr__(self) -> str:
        s = self.summary()
        return (f"CompiledModel(layers={s['layers']}, heads={s['heads']}, "
                f"residual_width={s['residual_width']}, params={s['params']})")

    def summary(self) -> dict:
        """Sizes: layers, heads and mlp_hidden per layer, residual_width, params (dense and
        non-zero), max_abs_weight."""
        arrays = list(self.weights.arrays().values())
        return {
            "layers": len(self.weights.layers),
            "heads": [lw.n_heads for lw in self.weights.layers],
            "mlp_hidden": [lw.mlp_hidden for lw in self.weights.layers],
            "residual_width": self.weights.residual_width,
            "params": int(sum(a.size for a in arrays)),
            "params_nonzero": int(sum(np.count_nonzero(a) for a in arrays)),
            "max_abs_weight": float(max((np.abs(a).max() for a in arrays if a.size), default=0.0)),
        }

    # -- encoding and decoding ----------------------------------------------------------------
    def _check(self, seq: Any, where: str) -> list:
        from theory_kit.rasp.interpreter import check_input

        xs = check_input(seq, where=where)
        if len(xs) > self.max_seq_len:
            raise InvalidInput(f"{where}: input of length {len(xs)} is longer than max_seq_len "
                               f"{self.max_seq_len}")
        for pos, x in enumerate(xs):
            if x not in self.vocab or (x == self.bos and type(x) is type(self.bos)):
                raise InvalidInput(
                    f"{where}: token {x!r} at position {pos} is not in the vocabulary "
                    f"{sorted(map(repr, self.vocab))}")
        return xs

    def _token_ids(self, seqs: list) -> tuple[np.ndarray, np.ndarray]:
        """Every input's token ids, concatenated [sum of lengths], and the lengths [B].

        Fast path (C-level loops): a list of lists/tuples/strs of known tokens, none too long.
        On anything else the inputs are checked one by one, so errors are the precise ones of
        `_check`.
        """
        vocab_id = self._vocab_id
        try:
            if not set(map(type, seqs)) <= _PLAIN_SEQUENCES:
                raise TypeError
            lengths = list(map(len, seqs))
            if lengths and max(lengths) > self.max_seq_len:
                raise KeyError
            flat = list(map(vocab_id.__getitem__, itertools.chain.from_iterable(seqs)))
        except (KeyError, TypeError):
            rows = []
            for i, s in enumerate(seqs):
                try:  # a list/tuple/str of known tokens, not too long
                    if not isinstance(s, (list, tuple, str)) or len(s) > self.max_seq_len:
                        raise KeyError
                    rows.append([vocab_id[x] for x in s])
                except (KeyError, TypeError):
                    self._check(s, f"input {i}")  # raises the precise error
                    rows.append([vocab_id[x] for x in s])
            lengths = list(map(len, rows))
            flat = list(itertools.chain.from_iterable(rows))
        return np.array(flat, dtype=np.int64), np.array(lengths, dtype=np.int64)

    def encode(self, seqs: Sequence[Sequence]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids [B, T] (BOS prepended, padded with BOS) and key mask [B, T]."""
        flat, lengths = self._token_ids(seqs if isinstance(seqs, list) else list(seqs))
        t = 1 + int(lengths.max(initial=0))
        return _padded(flat, lengths, t), np.arange(t)[None, :] <= lengths[:, None]

    def _decode_table(self) -> np.ndarray:
        """Categorical: the value of each unembedding column, then None (no value)."""
        values = self.weights.output_values
        table = np.empty(len(values) + 1, dtype=object)
        for i, v in enumerate(values):  # element-wise: values may be tuples
            table[i] = v
        table[-1] = None
        return table

    def _decode_scores(self, scores: np.ndarray, axis: int) -> np.ndarray:
        """Decoded values (object array for categorical, float64 for numerical) from unembedding
        scores, the score of each output column along `axis`."""
        if self.weights.output_encoding == "categorical":
            k = scores.shape[axis]
            if k:
                idx = np.expand_dims(scores.argmax(axis=axis), axis)
                top = np.take_along_axis(scores, idx, axis)
                idx = np.where(top >= 0.5, idx, k).squeeze(axis)
            else:
                idx = np.zeros(np.delete(scores.shape, axis), dtype=np.int64)
            return self._decode_table()[idx]
        x = np.take(scores, 0, axis=axis).astype(np.float64)
        if self._snap_values is not None:
            vals = self._snap_values
            j = np.clip(np.searchsorted(vals, x), 1, len(vals) - 1) if len(vals) > 1 \
                else np.zeros(x.shape, dtype=np.int64)
            lo, hi = vals[j - 1] if len(vals) > 1 else vals[j], vals[j]
            near = np.where(np.abs(x - lo) <= np.abs(x - hi), lo, hi)
            x = np.where(np.abs(near - x) <= self._snap_tol, near, x)
        return x

    def decode(self, final: np.ndarray, lengths: Sequence[int]) -> list[list]:
        """Decode final residuals [B, T, D] into output lists (positions 1..len).

        Categorical: the argmax value, or None where no value scores ≥ 1/2. Numerical: the
        number, snapped to the nearest possible value when within a quarter of the smallest
        gap between possible values.
        """
        decoded = self._decode_scores(final @ self.weights.unembed, axis=-1)
        return [decoded[i, 1:n + 1].tolist() for i, n in enumerate(lengths)]

    def _decode_planned(self, x: np.ndarray, b: int, t: int, lengths: Optional[np.ndarray]
                        ) -> list[list]:
        """`decode` of a feature-major final residual x [D, B*T] (from `run_planned`): only
        the residual rows the unembedding reads; `lengths` None means every input has
        length t - 1."""
        plan = execution_plan(self.weights)
        scores = (plan.unembed_t @ plan.unembed_reads.take(x)).reshape(-1, b, t)[:, :, 1:]
        decoded = self._decode_scores(scores, axis=0)
        if lengths is None:
            return decoded.tolist()
        flat = decoded[np.arange(t - 1)[None, :] < lengths[:, None]].tolist()  # real positions
        ends = np.cumsum(lengths).tolist()
        return [flat[a:e] for a, e in zip([0] + ends, ends)]

    # -- running ------------------------------------------------------------------------------
    def forward(self, token_ids: Any, key_mask: Optional[np.ndarray] = None) -> Trace:
        """Residual stream after every sublayer and attention patterns, for token ids [B, T]
        or [T] (column 0 is BOS, id 0; ids index `weights.tokens`)."""
        ids = np.asarray(token_ids)
        if ids.ndim == 1:
            ids = ids[None]
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise InvalidInput(f"forward: token_ids must be an int array [B, T], got dtype "
                               f"{ids.dtype} shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.weights.tokens)):
            raise InvalidInput(f"forward: token id out of range 0..{len(self.weights.tokens) - 1}")
        if key_mask is not None:
            key_mask = np.asarray(key_mask)
            if key_mask.shape != ids.shape or key_mask.dtype != bool:
                raise InvalidInput(f"forward: key_mask must be a bool array of shape {ids.shape}, "
                                   f"got dtype {key_mask.dtype} shape {key_mask.shape}")
        if ids.shape[1] > self.max_seq_len + 1:
            raise InvalidInput(f"forward: {ids.shape[1]} positions exceed max_seq_len + 1 = "
                               f"{self.max_seq_len + 1}")
        return forward(self.weights, ids, key_mask)

    def run(self, seq: Sequence) -> list:
        """Decoded output for one input (no BOS in input or output), like `rasp.evaluate`.

        Raises:
            InvalidInput: a token outside the vocabulary, or an input longer than max_seq_len.
        """
        return self.run_batch([seq])[0]

    def run_batch(self, seqs: Iterable[Sequence]) -> list[list]:
        """`run` for many inputs of mixed lengths.

        Inputs are sorted by length and split into buckets (`_buckets`), each run at its own
        width (BOS + its longest input; a bucket of equal lengths needs no key mask), in chunks
        of at most _CHUNK_BYTES of activations, by the planned forward pass (`run_planned`);
        outputs come back in input order.

        Raises:
            InvalidInput: `seqs` is not an iterable of sequences, or any input is invalid.
        """
        if isinstance(seqs, (str, bytes)) or not isinstance(seqs, Iterable):
            raise InvalidInput(f"run_batch: expected a list of input sequences, got "
                               f"{type(seqs).__name__} {seqs!r:.60}")
        seqs = list(seqs)
        if not seqs:
            return []
        flat, lengths = self._token_ids(seqs)
        w = self.weights
        order = np.argsort(lengths, kind="stable")
        ids_all = _padded(flat, lengths, 1 + int(lengths.max()))[order]
        lengths = lengths[order]
        out: list = [None] * len(seqs)
        for lo, hi in _buckets(lengths, *self._bucket_costs()):
            t = 1 + int(lengths[hi - 1])
            widest = max([w.residual_width] + [max(lw.mlp_hidden, lw.n_heads * t)
                                                for lw in w.layers])
            chunk_size = max(1, min(_CHUNK, _CHUNK_BYTES // (8 * t * widest)))
            for start in range(lo, hi, chunk_size):
                stop = min(start + chunk_size, hi)
                t = 1 + int(lengths[stop - 1])  # the chunk's own width (<= the bucket's)
                ids = ids_all[start:stop, :t]
                if lengths[start] == t - 1:  # no padding: no key mask
                    key_mask, chunk_lengths = None, None
                else:
                    chunk_lengths = lengths[start:stop]
                    key_mask = np.arange(t)[None, :] <= chunk_lengths[:, None]
                x = run_planned(w, ids, additive_mask(key_mask, w.causal, t, w.dtype))
                rows = self._decode_planned(x, stop - start, t, chunk_lengths)
                for i, row in zip(order[start:stop].tolist(), rows):
                    out[i] = row
        return out

    def _bucket_costs(self) -> tuple[float, float, float]:
        """Estimated seconds of one forward pass: per call, per position, per attention entry
        (query, key) - the cost model of the length buckets of `run_batch`."""
        cached = getattr(self, "_bucket_cost_cache", None)
        if cached is not None:
            return cached
        plan = execution_plan(self.weights)
        per_position = 2e-9 * self.weights.residual_width
        per_entry = 0.0
        for att, mlp in plan.layers:
            for block in (att, mlp):
                if block is None:
                    continue
                for lin in ((block.qkv, block.out) if block is att else (block.w_in, block.w_out)):
                    c, r = lin.shape
                    per_position += 1e-9 * (c + r) + (
                        2e-10 * lin.matrix.nnz if lin.sparse else 5e-11 * c * r)
            if att is not None:
                per_entry += 5e-9 * att.heads + 5e-10 * att.heads * (att.e + att.f)
        per_call = 4e-5 + 1.5e-5 * len(plan.layers)
        self._bucket_cost_cache = (per_call, per_position, per_entry)
        return self._bucket_cost_cache

    def block_reference(self, seq: Sequence):
        """The block-level oracle on one input: named residual after each sublayer.

        Returns a list of dicts {direction: array over positions}, index s+1 for sublayer s.
        Only for models compiled in this session (a loaded model has no blocks).
        """
        if self._layered is None:
            raise InvalidInput("block_reference needs the compiled blocks; a loaded model has "
                               "only weights")
        from theory_kit.compiler.reference import block_apply

        return block_apply(self._layered, self._config, self._check(seq, "block_reference"))

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the model to one .npz file (arrays + a `meta.json` member; no pickle).

        The file is written to a temporary name and renamed, so it is never half-written.
        """
        w = self.weights
        meta = {
            "format": "theory_kit.CompiledModel", "format_version": FORMAT_VERSION,
            "vocab": [_encode_value(v) for v in sorted(self.vocab, key=repr)],
            "bos": _encode_value(self.bos), "max_seq_len": self.max_seq_len,
            "causal": self.causal, "dtype": str(w.dtype),
            "tokens": [_encode_value(t) for t in w.tokens],
            "residual_labels": list(w.residual_labels),
            "output_values": [_encode_value(v) for v in w.output_values],
            "output_encoding": w.output_encoding,
            "output_value_set": None if self.output_value_set is None
            else [_encode_value(v) for v in self.output_value_set],
            "n_layers": len(w.layers),
            "constants": json.loads(json.dumps(self.constants, default=str)),
        }
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **w.arrays())
            with zipfile.ZipFile(tmp, "a") as zf:
                zf.writestr("meta.json", json.dumps(meta, indent=1, sort_keys=True))
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def load(path: str | os.PathLike) -> CompiledModel:
    """Load a model written by `CompiledModel.save`.

    Raises:
        InvalidModelFile: the file is missing, not a model file, truncated or inconsistent.
    """
    try:
        path = os.fspath(path)
    except TypeError:
        raise InvalidModelFile(f"load: expected a file path, got {type(path).__name__} "
                               f"{path!r:.60}") from None
    if not os.path.isfile(path):
        raise InvalidModelFile(f"no model file at {path!r}")
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read("meta.json").decode("utf-8"))
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError, UnicodeDecodeError) as exc:
        raise InvalidModelFile(f"{path!r} is not a readable theory_kit model file "
                               f"({type(exc).__name__}: {exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != "theory_kit.CompiledModel":
        raise InvalidModelFile(f"{path!r} is not a theory_kit model file (format "
                               f"{meta.get('format') if isinstance(meta, dict) else meta!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise InvalidModelFile(f"{path!r} has format version {meta.get('format_version')!r}; "
                               f"this theory_kit reads version {FORMAT_VERSION}")
    try:
        n_layers = int(meta["n_layers"])
        layers = tuple(LayerWeights(*(arrays[f"layer{i}.{n}"] for n in LayerWeights.ARRAYS))
                       for i in range(n_layers))
        weights = Weights(
            token_embed=arrays["token_embed"], pos_embed=arrays["pos_embed"], layers=layers,
            unembed=arrays["unembed"], tokens=tuple(_decode_value(t) for t in meta["tokens"]),
            residual_labels=tuple(meta["residual_labels"]),
            output_values=tuple(_decode_value(v) for v in meta["output_values"]),
            output_encoding=meta["output_encoding"], causal=bool(meta["causal"]))
        if str(weights.dtype) != meta["dtype"]:
            raise ValueError(f"arrays are {weights.dtype}, metadata says {meta['dtype']}")
        if weights.max_seq_len != meta["max_seq_len"]:
            raise ValueError("max_seq_len disagrees with the position embedding")
        for name, a in weights.arrays().items():
            if not np.all(np.isfinite(a)):
                raise ValueError(f"array {name} has non-finite entries")
        vset = meta["output_value_set"]
        return CompiledModel(
            weights, vocab=frozenset(_decode_value(v) for v in meta["vocab"]),
            max_seq_len=int(meta["max_seq_len"]), bos=_decode_value(meta["bos"]),
            constants=meta.get("constants", {}),
            output_value_set=None if vset is None else tuple(_decode_value(v) for v in vset))
    except InvalidModelFile:
        raise
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise InvalidModelFile(f"{path!r} is an inconsistent model file ({type(exc).__name__}: "
                               f"{exc})") from exc
