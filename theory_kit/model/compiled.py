"""The runtime Model: run, inspect, save and load a transformer given as weights."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import itertools
import json
import math
import os
import re
import secrets
import zipfile
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Sequence

import numpy as np

from theory_kit.errors import InvalidInput, InvalidModelFile
from theory_kit.model.forward import (Trace, _check_iterations, additive_mask, execution_plan,
                                      forward, halted, run_planned)
from theory_kit.model.weights import (OUTPUT, LayerWeights, LoopSchedule, Readout,
                                      ResidualLayout, Weights, _halt_problem, _NAME)
from theory_kit.values import BasisDirection, check_input, check_vocab, typed_key

if TYPE_CHECKING:  # imported where used: running weights needs no part of the language
    from theory_kit.model.incremental import (FullDecoder, IncrementalDecoder,
                                              IncrementalState)
    from theory_kit.rasp.interpreter import LoopTrace

__all__ = ["Model", "CompiledModel", "load", "FORMAT_VERSION"]

#: The newest model-file format `save` writes. Version 2 adds the residual layout's
#: directions and the readouts beyond "output"; version 3 adds the "loop" field (the
#: `LoopSchedule` of a looped model) and is written for looped models only: a loop-free model
#: is written as version 2, byte for byte as before version 3 existed (`_LOOP_FREE_VERSION`).
#: `load` reads versions 1, 2 and 3.
FORMAT_VERSION = 3
_LOOP_FREE_VERSION = 2
_READABLE_VERSIONS = (1, 2, 3)
#: Inputs per run_batch chunk: at most this many (measured on make_sort, hist, sort_freq,
#: shuffle_dyck2 and count_less_freq at length 8: chunks of 1,024 took 0.74-0.99x the CPU time
#: of 4,096, their activations staying in cache; then on make_sort and sort_freq, minimum CPU
#: time of 9 interleaved runs, the other core busy: 768 took 0.92x the time of 1,024, 512
#: 0.93-0.94x). With the position-major residual (`run_planned`) the batch is the inner axis
#: of the attention's loops, and longer runs pay: minimum CPU time of 9 runs, quiet machine,
#: 1,280 took 0.97x the time of 768 on make_sort, 0.96x on sort_freq, 0.95x on hist; 1,024
#: took 1.06x on make_sort (its position blocks are 4 KiB; cache aliasing is the likely cause).
_CHUNK = 1280
#: Bytes of activations one run_batch chunk may allocate (widest layer x positions x batch).
_CHUNK_BYTES = 256 * 2 ** 20
_PLAIN_SEQUENCES = frozenset({list, tuple, str})
#: An int vocabulary spanning fewer values than this maps tokens to ids by a table (numpy
#: reads the ints in one pass; the token ids of make_sort's 65,536 inputs of length 8 took
#: 0.86x the time of looking each token up in a dict, the type check included).
_INT_TABLE_MAX = 1 << 16


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


@contextlib.contextmanager
def _no_cyclic_gc():
    """Python's cyclic garbage collector paused while the block runs (then restored as it
    was). Decoding a batch builds one list per input; none can form a reference cycle, yet
    every 700 new containers trigger a collection of the young objects, and the older
    generations' collections walk everything alive, the caller's inputs and earlier outputs
    included. Measured on make_sort's 65,536 full-length inputs with three such input lists
    alive: 0.33 s against 0.36-0.42 s of CPU per run_batch."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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
    """The value `_encode_value` wrote; the JSON type must be the one it writes for the kind
    (no casts: {"int": 1.5} or {"bool": "false"} are refused, as are non-finite floats)."""
    if isinstance(obj, dict) and len(obj) == 1:
        (kind, v), = obj.items()
        if kind == "bool" and isinstance(v, bool):
            return v
        if kind == "int" and isinstance(v, int) and not isinstance(v, bool):
            return v
        if kind == "float" and isinstance(v, float) and math.isfinite(v):
            return v
        if kind == "str" and isinstance(v, str):
            return v
        if kind == "tuple" and isinstance(v, list):
            return tuple(_decode_value(x) for x in v)
        if kind == "none" and v is None:
            return None
    raise InvalidModelFile(f"malformed value {obj!r:.60} in model metadata")


class Model:
    """A transformer as weights plus its token codec: the program-agnostic runtime.

    It runs weights without knowing where they came from (the compiler, a hand-built
    construction, or a file) and imports nothing from the compiler or the language.
    `theory_kit.compile` returns a `compiler.Compilation`, which holds one of these next to
    the program and the compiler's intermediate representations; `theory_kit.load` returns a
    Model.

    Readouts: the weights name their outputs (`weights.readouts`); "output" is the program's
    output and the default everywhere. `run(seq, readout="halt")` and
    `run_batch(seqs, readout="halt")` decode another one; `read(seqs)` decodes every readout
    (or those named) from one forward pass; `decode(final, lengths, readout=...)` decodes a
    Trace's final residual. Decoding rules (categorical argmax, numerical snapping to the
    reachable values and its tolerance) are those of `theory_kit.model.Readout`.

    Loops: weights with a `LoopSchedule` (`weights.loop`) run, read and decode exactly like
    others (the block loops until every input halted; outputs are read after the epilogue);
    `loop_traces(seqs)` gives the loop's state after every iteration as the interpreter's
    `LoopTrace`s, and a looped model is saved as model-file format 3.

    Attributes:
        weights: plain numpy arrays, the residual layout and the readouts (see
            `theory_kit.model.Weights`).
        residual_labels: the name of every residual dimension (`weights.layout.labels`).
        constants: the chosen β, ε, MLP slopes, and the formulas behind them; for a compiled
            model also `lexicographic_counts`, the SelectorWidths split by compiler.order.
        output_value_set: the values the numerical "output" readout can hold (its
            `reachable`), None for a categorical output or when unknown.
    """

    def __init__(self, weights: Weights, *, vocab: frozenset, max_seq_len: int, bos: Any,
                 constants: Mapping, output_value_set: Optional[tuple] = None):
        """`output_value_set` declares the values of a numerical "output" readout that does
        not declare its own `reachable` values (for a categorical output, or one that does,
        it is not used)."""
        out = weights.readouts[OUTPUT]
        if output_value_set is not None and out.encoding == "numerical" \
                and out.reachable is None:
            weights = weights.with_readouts(Readout(OUTPUT, out.unembed, out.encoding,
                                                    reachable=tuple(output_value_set)))
        self.weights = weights
        self.vocab = frozenset(vocab)
        self.max_seq_len = int(max_seq_len)
        self.bos = bos
        self.causal = weights.causal
        self.constants = dict(constants)
        self._token_id = {t: i for i, t in enumerate(weights.tokens)}
        # Token -> id for real tokens only (BOS is id 0 and never a valid input token).
        self._vocab_id = {t: i for i, t in enumerate(weights.tokens) if i > 0}
        # Tokens match by value *and* type (1, True and 1.0 are different tokens): inputs whose
        # token types are all vocabulary types take the C-level lookup; with several vocabulary
        # types, where 1 could find 1.0's id, the lookup is keyed on (type, value).
        self._token_types = frozenset(type(t) for t in weights.tokens[1:])
        self._typed_vocab_id = ({typed_key(t): i for t, i in self._vocab_id.items()}
                                if len(self._token_types) > 1 else None)
        # An int vocabulary within a span of _INT_TABLE_MAX: id = table[token - lo] (-1: none).
        self._int_ids = None
        if self._token_types == {int}:
            lo, hi = min(self._vocab_id), max(self._vocab_id)
            if hi - lo < _INT_TABLE_MAX:
                table = np.full(hi - lo + 1, -1, dtype=np.int64)
                for t, i in self._vocab_id.items():
                    table[t - lo] = i
                self._int_ids = (lo, table)

    # -- properties -------------------------------------------------------------------------
    @property
    def residual_labels(self) -> tuple[str, ...]:
        return self.weights.residual_labels

    @property
    def layout(self) -> ResidualLayout:
        """The residual dimensions as named directions (`weights.layout`)."""
        return self.weights.layout

    @property
    def readouts(self) -> Mapping[str, Readout]:
        """The named readouts (`weights.readouts`); "output" is the program's output."""
        return self.weights.readouts

    @property
    def output_value_set(self) -> Optional[tuple]:
        return self.weights.readouts[OUTPUT].reachable

    def _readout(self, name: Any, where: str) -> Readout:
        try:
            return self.weights.readouts[name]
        except (KeyError, TypeError):
            raise InvalidInput(f"{where}: no readout named {name!r:.60}; this model has "
                               f"{sorted(self.weights.readouts)}") from None

    @property
    def dtype(self) -> np.dtype:
        return self.weights.dtype

    def __repr__(self) -> str:
        s = self.summary()
        loop = self.weights.loop
        looped = "" if loop is None else (f", loop=layers[{loop.start}:{loop.stop}] x "
                                          f"<={loop.max_iterations}")
        return (f"CompiledModel(layers={s['layers']}, heads={s['heads']}, "
                f"residual_width={s['residual_width']}, params={s['params']}{looped})")

    def summary(self) -> dict:
        """Sizes: layers, heads and mlp_hidden per layer, residual_width, params (dense and
        non-zero), max_abs_weight; for a looped model also "loop": the looped layers, their
        max_iterations, the halt and state readouts, and max_layers_run (prelude + block x
        max_iterations + epilogue: the depth of the unrolled transformer)."""
        arrays = list(self.weights.arrays().values())
        loop = self.weights.loop
        looped = {} if loop is None else {"loop": {
            "looped_layers": list(loop.block), "max_iterations": loop.max_iterations,
            "halt": loop.halt, "state": list(loop.state),
            "max_layers_run": len(self.weights.layers) + (loop.max_iterations - 1) * len(
                loop.block)}}
        return {
            "layers": len(self.weights.layers),
            "heads": [lw.n_heads for lw in self.weights.layers],
            "mlp_hidden": [lw.mlp_hidden for lw in self.weights.layers],
            "residual_width": self.weights.residual_width,
            "params": int(sum(a.size for a in arrays)),
            "params_nonzero": int(sum(np.count_nonzero(a) for a in arrays)),
            "max_abs_weight": float(max((np.abs(a).max() for a in arrays if a.size), default=0.0)),
            **looped,
        }

    # -- encoding and decoding ----------------------------------------------------------------
    def _check(self, seq: Any, where: str) -> list:
        xs = check_input(seq, where=where)
        if len(xs) > self.max_seq_len:
            raise InvalidInput(f"{where}: input of length {len(xs)} is longer than max_seq_len "
                               f"{self.max_seq_len}")
        for pos, x in enumerate(xs):
            if isinstance(x, np.generic):  # numpy scalars stand for the Python value
                xs[pos] = x = x.item()
            if typed_key(x) not in self._typed_vocab:
                like = [t for t in self.vocab if t == x]
                hint = (f" (the vocabulary has {like[0]!r} of type {type(like[0]).__name__}, "
                        f"a different token from {x!r} of type {type(x).__name__})"
                        if like else "")
                raise InvalidInput(
                    f"{where}: token {x!r} at position {pos} is not in the vocabulary "
                    f"{sorted(map(repr, self.vocab))}{hint}")
        return xs

    @property
    def _typed_vocab(self) -> frozenset:
        cached = self.__dict__.get("_typed_vocab_cache")
        if cached is None:
            cached = self.__dict__["_typed_vocab_cache"] = frozenset(map(typed_key, self.vocab))
        return cached

    def _token_ids(self, seqs: list) -> tuple[np.ndarray, np.ndarray]:
        """Every input's token ids, concatenated [sum of lengths], and the lengths [B].

        Fast path (C-level loops): a list of lists/tuples/strs of known tokens, none too long.
        On anything else the inputs are checked one by one, so errors are the precise ones of
        `_check`.
        """
        vocab_id, typed = self._vocab_id, self._typed_vocab_id
        try:
            if not set(map(type, seqs)) <= _PLAIN_SEQUENCES:
                raise TypeError
            lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
            if lengths.size and lengths.max() > self.max_seq_len:
                raise KeyError
            tokens = itertools.chain.from_iterable(seqs)
            total = int(lengths.sum())
            if typed is None:
                if not set(map(type, itertools.chain.from_iterable(seqs))) <= self._token_types:
                    raise TypeError  # e.g. True or 1.0 against an int vocabulary
                if self._int_ids is not None:  # plain ints: numpy reads them, a table maps
                    lo, table = self._int_ids
                    values = np.fromiter(tokens, dtype=np.int64, count=total)
                    values -= lo
                    if values.size and not 0 <= values.min() <= values.max() < len(table):
                        raise KeyError
                    ids = table[values]
                    if values.size and ids.min() < 0:
                        raise KeyError
                    return ids, lengths
                ids = map(vocab_id.__getitem__, tokens)
            else:
                ids = map(typed.__getitem__, map(typed_key, tokens))
            return np.fromiter(ids, dtype=np.int64, count=total), lengths
        except (KeyError, TypeError, OverflowError):
            rows = []
            for i, s in enumerate(seqs):
                # precise errors for bad inputs; numpy scalars become Python values
                xs = self._check(s, f"input {i}")
                rows.append([self._typed_id(x) for x in xs])
            lengths = list(map(len, rows))
            flat = list(itertools.chain.from_iterable(rows))
        return np.array(flat, dtype=np.int64), np.array(lengths, dtype=np.int64)

    def _typed_id(self, x: Any) -> int:
        """The id of a checked token (by value and type)."""
        if self._typed_vocab_id is not None:
            return self._typed_vocab_id[typed_key(x)]
        return self._vocab_id[x]

    def encode(self, seqs: Sequence[Sequence]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids [B, T] (BOS prepended, padded with BOS) and key mask [B, T]."""
        flat, lengths = self._token_ids(seqs if isinstance(seqs, list) else list(seqs))
        t = 1 + int(lengths.max(initial=0))
        return _padded(flat, lengths, t), np.arange(t)[None, :] <= lengths[:, None]

    def decode(self, final: np.ndarray, lengths: Sequence[int], *, readout: str = OUTPUT
               ) -> list[list]:
        """Decode final residuals [B, T, D] into output lists (positions 1..len).

        Categorical: the argmax value, or None where no value scores ≥ 1/2. Numerical: the
        number, snapped to the nearest reachable value when within the readout's tolerance (a
        quarter of the smallest gap between reachable values; `theory_kit.model.Readout`).

        Raises:
            InvalidInput: no readout of that name.
        """
        r = self._readout(readout, "decode")
        decoded = r.decode(final @ r.unembed, axis=-1)
        return [decoded[i, 1:n + 1].tolist() for i, n in enumerate(lengths)]

    def _decode_planned(self, x: np.ndarray, b: int, t: int, lengths: Optional[np.ndarray],
                        readout: str = OUTPUT) -> list[list]:
        """`decode` of a final residual x [D, T*B] (from `run_planned`; BOS, the first B
        columns, is not read): only the residual rows the readout reads; `lengths` None means
        every input has length t - 1."""
        rows, unembed_t = execution_plan(self.weights).readouts[readout]
        scores = (unembed_t @ rows.take(x, slice(b, None))).reshape(len(unembed_t), t - 1, b)
        decoded = self.weights.readouts[readout].decode(scores, axis=0).T      # [B, T-1]
        if lengths is None:
            return decoded.tolist()
        flat = decoded[np.arange(t - 1)[None, :] < lengths[:, None]].tolist()  # real positions
        ends = np.cumsum(lengths).tolist()
        return [flat[a:e] for a, e in zip([0] + ends, ends)]

    # -- running ------------------------------------------------------------------------------
    def forward(self, token_ids: Any, key_mask: Optional[np.ndarray] = None, *,
                iterations: Optional[int] = None) -> Trace:
        """Residual stream after every sublayer and attention patterns, for token ids [B, T]
        or [T] (column 0 is BOS, id 0; ids index `weights.tokens`).

        A looped model records every executed layer in order (`Trace.schedule`): the prelude,
        the block once per pass until every sequence halts (or max_iterations), the epilogue;
        `iterations` runs exactly that many passes instead.

        An empty batch (B = 0, T >= 1) is valid, as for numpy: the Trace has the usual
        shapes with a leading 0 ([0, T, D] residuals, [0, H, T, T] patterns; a looped model
        has halted after one pass, as every one of its no sequences has).

        Raises:
            InvalidInput: not an int array of 1 or 2 axes; no positions (T = 0: every row
                needs its BOS column); an id outside `weights.tokens`; more than
                max_seq_len + 1 positions; a key_mask of another shape or dtype;
                iterations for a model without a loop, or not an int >= 0.
        """
        _check_iterations(self.weights, iterations, "forward")
        ids = np.asarray(token_ids)
        shape = ids.shape
        if ids.ndim == 1:
            ids = ids[None]
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise InvalidInput(f"forward: token_ids must be an int array [B, T], got dtype "
                               f"{ids.dtype} shape {ids.shape}")
        if ids.shape[1] == 0:
            raise InvalidInput(f"forward: token_ids of shape {shape} has no positions; each row "
                               f"needs at least the BOS column (id 0)")
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
        if ids.shape[0] == 0:  # the shapes of a one-row pass, with no rows
            if self.weights.loop is not None and iterations is None:
                iterations = 1
            one = forward(self.weights, np.zeros((1, ids.shape[1]), dtype=np.int64),
                          iterations=iterations)
            return dataclasses.replace(
                one, residuals=tuple(r[:0] for r in one.residuals),
                attention=tuple(a[:0] for a in one.attention),
                key_mask=one.key_mask[:0] if key_mask is None else key_mask)
        return forward(self.weights, ids, key_mask, iterations=iterations)

    def run(self, seq: Sequence, *, readout: str = OUTPUT) -> list:
        """Decoded output for one input (no BOS in input or output), like `rasp.evaluate`;
        `readout` names another readout than the program's output.

        Raises:
            InvalidInput: a token outside the vocabulary, an input longer than max_seq_len, or
                no readout of that name.
        """
        return self.run_batch([seq], readout=readout)[0]

    def run_batch(self, seqs: Iterable[Sequence], *, readout: str = OUTPUT) -> list[list]:
        """`run` for many inputs of mixed lengths (a looped model: read after the epilogue,
        each chunk looping until all its inputs halted; `theory_kit.model.forward`).

        Inputs are sorted by length and split into buckets (`_buckets`), each run at its own
        width (BOS + its longest input; a bucket of equal lengths needs no key mask), in chunks
        of at most _CHUNK_BYTES of activations, by the planned forward pass (`run_planned`);
        outputs come back in input order.

        Raises:
            InvalidInput: `seqs` is not an iterable of sequences, any input is invalid, or no
                readout has the name `readout`.
        """
        self._readout(readout, "run_batch")
        return self._run(seqs, (readout,), "run_batch")[readout]

    def read(self, seqs: Iterable[Sequence], readouts: Optional[Iterable[str]] = None
             ) -> dict[str, list[list]]:
        """Several readouts of many inputs from one forward pass: {name: outputs per input}
        for every readout (or those named), e.g. a loop's "output" and "halt" together.

        Raises:
            InvalidInput: as `run_batch`, or a name that is no readout of this model.
        """
        if isinstance(readouts, str):
            readouts = (readouts,)
        names = tuple(self.weights.readouts) if readouts is None else tuple(readouts)
        for name in names:
            self._readout(name, "read")
        return self._run(seqs, names, "read")

    def _run(self, seqs: Iterable[Sequence], names: tuple, where: str) -> dict[str, list]:
        """The decoded readouts `names` of every input (the body of run_batch and read)."""
        seqs = self._inputs(seqs, where)
        outs = {name: [None] * len(seqs) for name in names}
        with _no_cyclic_gc():
            for positions, ids, mask, lengths in self._batches(seqs):
                b, t = ids.shape
                x = run_planned(self.weights, ids, mask, bos=False)
                for name in names:
                    out, rows = outs[name], self._decode_planned(x, b, t, lengths, name)
                    if isinstance(positions, range):
                        out[positions.start:positions.stop] = rows
                    else:
                        for i, row in zip(positions, rows):
                            out[i] = row
        return outs

    @staticmethod
    def _inputs(seqs: Any, where: str) -> list:
        if isinstance(seqs, (str, bytes)) or not isinstance(seqs, Iterable):
            raise InvalidInput(f"{where}: expected a list of input sequences, got "
                               f"{type(seqs).__name__} {seqs!r:.60}")
        return list(seqs)

    def _batches(self, seqs: list):
        """The inputs as planned-pass chunks: (their indices in `seqs`, a list or, when
        consecutive, a range; token ids [b, t]; `additive_mask`; lengths [b] or None when
        none is padded).

        Inputs are sorted by length and split into buckets (`_buckets`), each run at its own
        width (BOS + its longest input; a bucket of equal lengths needs no key mask), in chunks
        of at most _CHUNK_BYTES of activations.

        Raises:
            InvalidInput: an input is invalid (`_token_ids`).
        """
        if not seqs:
            return
        flat, lengths = self._token_ids(seqs)
        w = self.weights
        if lengths.min() == lengths.max():   # already sorted: the chunks are consecutive
            order = None
            ids_all = _padded(flat, lengths, 1 + int(lengths[0]))
        else:
            order = np.argsort(lengths, kind="stable")
            ids_all = _padded(flat, lengths, 1 + int(lengths.max()))[order]
            lengths = lengths[order]
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
                yield (range(start, stop) if order is None else order[start:stop].tolist(), ids,
                       additive_mask(key_mask, w.causal, t, w.dtype), chunk_lengths)

    # -- autoregressive decoding ----------------------------------------------------------------
    def start_decoding(self, prompts: Sequence[Sequence], *, readout: str = OUTPUT
                       ) -> tuple["IncrementalState", list]:
        """Incremental decoding of a causal model: (state, next token of each prompt).

        BOS and each prompt run through the model once and every attention layer's keys and
        values are cached (`theory_kit.model.incremental.IncrementalState`); then
        `state.extend(rows, appended)` appends tokens (a list per row, possibly several) and
        computes only the new positions, returning each row's next token. The next token is
        `readout` decoded at the sequence's last position by the rules of `decode`
        (categorical argmax or None, numerical snapping), None for an empty prompt; it equals
        `next_tokens_full` of the whole sequences.

        Raises:
            InvalidInput: the model is not causal or is looped (appending a token would change
                earlier positions: use `next_tokens_full` / `decoder(incremental=False)`); a
                prompt is invalid (not a sequence, a token outside the vocabulary, longer than
                max_seq_len); no readout of that name.
        """
        from theory_kit.model.incremental import IncrementalState
        return IncrementalState.start(self, prompts, readout=readout)

    def decoder(self, *, incremental: bool = True, readout: str = OUTPUT
                ) -> "IncrementalDecoder | FullDecoder":
        """An object with the `theory_kit.generation.Decoder` methods `start(prompts)` and
        `extend(rows, appended)`, each returning the next token of the rows concerned: by
        cached keys and values (`start_decoding`) or, with incremental=False, by full
        recomputation at every step (`next_tokens_full`; any model, looped or not causal).

        Raises:
            InvalidInput: incremental=True for a model that is not causal or is looped; no
                readout of that name.
        """
        from theory_kit.model.incremental import FullDecoder, IncrementalDecoder
        return (IncrementalDecoder if incremental else FullDecoder)(self, readout=readout)

    def generate(self, prompts: Iterable[Sequence], *, max_new_tokens: int, stop: Any = None,
                 tools: Optional[Mapping] = None, max_len: Optional[int] = None,
                 incremental: bool = True) -> list:
        """Autoregressive generation from a batch of prompts: each step appends the output at
        the last position (cached keys and values: each step computes only the new
        positions), with `theory_kit.generation.generate_with`'s stop tokens and tool-call
        protocol — the same driver `rasp.generate_batch` runs the interpreter through, so the
        two give the same tokens. Every token (prompt, generated, tool result) must be in the
        model's vocabulary; a sequence cannot grow past max_seq_len (`max_len` defaults to it).

        Returns:
            One `theory_kit.generation.Generation` per prompt.

        Raises:
            InvalidInput: bad arguments, a model that is not causal (pass incremental=False
                to recompute every step), a token outside the vocabulary.
            GenerationError, ToolCallError: the protocol errors of `generate_with`.
        """
        from theory_kit.generation import generate_with

        limit = self.max_seq_len if max_len is None else max_len
        return generate_with(self.decoder(incremental=incremental), prompts,
                             max_new_tokens=max_new_tokens, stop=stop, tools=tools,
                             vocab=self.vocab, max_len=limit)

    def next_tokens_full(self, seqs: Iterable[Sequence], *, readout: str = OUTPUT) -> list:
        """The next token of each sequence by full recomputation: `run_batch(seqs)`'s output
        at the last position (None for an empty sequence), decoding only that position.

        Raises:
            InvalidInput: as `run_batch`.
        """
        self._readout(readout, "next_tokens_full")
        seqs = self._inputs(seqs, "next_tokens_full")
        out: list = [None] * len(seqs)
        rows, unembed_t = execution_plan(self.weights).readouts[readout]
        r = self.weights.readouts[readout]
        for positions, ids, mask, lengths in self._batches(seqs):
            b, t = ids.shape
            x = run_planned(self.weights, ids, mask)
            last = np.full(b, t - 1) if lengths is None else lengths
            decoded = r.decode(unembed_t @ rows.take(x)[:, last * b + np.arange(b)],
                               axis=0).tolist()
            for i, n, tok in zip(positions, last.tolist(), decoded):
                out[i] = tok if n else None
        return out

    # -- loops --------------------------------------------------------------------------------
    def loop_trace(self, seq: Sequence, *, iterations: Optional[int] = None) -> "LoopTrace":
        """`loop_traces` of one input.

        Raises:
            InvalidInput: as `loop_traces`.
        """
        return self.loop_traces([seq], iterations=iterations)[0]

    def loop_traces(self, seqs: Iterable[Sequence], *, iterations: Optional[int] = None
                    ) -> list["LoopTrace"]:
        """A looped model's state after every iteration on each input, as the interpreter's
        `theory_kit.rasp.interpreter.LoopTrace` (the comparison is then ==).

        states[0] is the initial state (decoded from the loop's `state` readouts after the
        prelude); states[i] the state after i iterations, each a tuple (one per state
        readout) of tuples (one decoded value per position). A pass whose halting flag is set
        (its starting state halted) changed nothing and adds no state. `halted` is whether the
        halting condition holds at the last state: when max_iterations passes ran without it,
        one more probe pass on a copy of the residual reads the flag (and is discarded).

        Args:
            seqs: the inputs (as for `run_batch`).
            iterations: run exactly this many passes, ignoring halting, and record every
                state (states[0..iterations]; for checking that passes after halting change
                nothing); `halted` is then read by a probe pass after the last.

        Raises:
            InvalidInput: the model has no loop; iterations is not an int >= 0; `seqs` or an
                input is invalid (as for `run_batch`).
        """
        from theory_kit.rasp.interpreter import LoopTrace  # the interpreter's, to compare ==

        loop = self.weights.loop
        if loop is None:
            raise InvalidInput("loop_traces: this model has no loop (weights.loop is None); "
                               "run it with run or run_batch")
        _check_iterations(self.weights, iterations, "loop_traces")
        seqs = self._inputs(seqs, "loop_traces")
        traces: list = [None] * len(seqs)
        last = loop.max_iterations if iterations is None else iterations
        for positions, ids, mask, lengths in self._batches(seqs):
            b, t = ids.shape
            states: list[list] = [[] for _ in range(b)]
            done = np.zeros(b, dtype=bool)     # the flag was set: no more states
            final = np.zeros(b, dtype=bool)    # halted

            def record(x: np.ndarray, which) -> None:
                decoded = [self._decode_planned(x, b, t, lengths, name) for name in loop.state]
                for i in which:
                    states[i].append(tuple(tuple(rows[i]) for rows in decoded))

            def observe(k: int, x: np.ndarray) -> None:
                if k == 0 or (iterations is not None and k <= last):
                    record(x, range(b))
                    return
                flags = halted(self.weights, x, b, t, mask)
                if k > last:   # the probe pass: the flag of the last state
                    final[~done] = flags[~done]
                    return
                new = flags & ~done
                final[new] = True
                done[new] = True
                record(x, np.flatnonzero(~done).tolist())

            run_planned(self.weights, ids, mask, iterations=iterations, observe=observe,
                        probe=True)
            for i, pos in enumerate(positions):
                traces[pos] = LoopTrace(tuple(states[i]), bool(final[i]))
        return traces

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

    # -- persistence ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the model to one .npz file (arrays + a `meta.json` member; no pickle).

        The file is written to a temporary name in the same folder and renamed, so it is never
        half-written. It is byte-for-byte deterministic: the same model always gives the same
        bytes (meta.json first, then the arrays in name order, fixed zip timestamps and member
        permissions, nothing time-dependent in meta.json). Like `open`, it is created with
        permissions 0o666 minus the process umask. A looped model is written as format 3 (with
        the "loop" field), a loop-free one as format 2.

        Raises:
            InvalidInput: `path` is not a path, names an existing folder or ends in a path
                separator, its folder does not exist (folders are never created), or the file
                cannot be written; a token or output value cannot be stored in a model file.
        """
        target = _save_target(path)
        meta_bytes = json.dumps(self.meta(), indent=1, sort_keys=True).encode("utf-8")
        folder = os.path.dirname(os.path.abspath(target))
        tmp = None
        try:
            # O_EXCL with mode 0o666: the kernel applies the umask (and default ACLs) exactly
            # as for open(); tempfile.mkstemp would leave an owner-only 0o600 file.
            fd, tmp = _create_exclusive(folder, os.path.basename(target))
            with os.fdopen(fd, "wb") as fh:
                _write_model_zip(fh, meta_bytes, self.weights.arrays())
            os.replace(tmp, target)
        except OSError as exc:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
            raise InvalidInput(f"save: cannot write the model file {target!r} "
                               f"({type(exc).__name__}: {exc})") from exc
        except BaseException:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def meta(self) -> dict:
        """The model file's meta.json as a dict: vocabulary, BOS, tokens, residual layout,
        readouts, loop, constants (JSON-ready; `theory_kit.export.save_safetensors` stores it
        too).

        Raises:
            InvalidInput: a token or output value cannot be stored in a model file.
        """
        w = self.weights
        vset = self.output_value_set
        meta = {
            "format": "theory_kit.CompiledModel",
            "format_version": _LOOP_FREE_VERSION if w.loop is None else FORMAT_VERSION,
            "vocab": [_encode_value(v) for v in sorted(self.vocab, key=repr)],
            "bos": _encode_value(self.bos), "max_seq_len": self.max_seq_len,
            "causal": self.causal, "dtype": str(w.dtype),
            "tokens": [_encode_value(t) for t in w.tokens],
            "residual_labels": list(w.residual_labels),
            "residual_layout": [_encode_dimension(dim) for dim in w.layout.dims],
            "output_values": [_encode_value(v) for v in w.output_values],
            "output_encoding": w.output_encoding,
            "output_value_set": _encode_value_set(vset),
            # the readouts beyond "output" (whose array is 'unembed'); each array is
            # 'readout.<name>'
            "readouts": {name: {"encoding": r.encoding,
                                "values": [_encode_value(v) for v in r.values],
                                "value_set": _encode_value_set(r.reachable)}
                         for name, r in w.readouts.items() if name != OUTPUT},
            "n_layers": len(w.layers),
            "constants": json.loads(json.dumps(self.constants, default=_json_fallback)),
        }
        if w.loop is not None:   # format 3
            meta["loop"] = {"start": w.loop.start, "stop": w.loop.stop,
                            "max_iterations": w.loop.max_iterations, "halt": w.loop.halt,
                            "state": list(w.loop.state)}
        return meta


# -- saving ------------------------------------------------------------------------------------
#: Date of every zip member (the earliest a zip header can hold): no clock in the file.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
#: Unix mode of every zip member (a regular file, rw-r--r--) and the system that "made" it,
#: fixed so the bytes do not depend on the platform.
_ZIP_MODE = 0o100644
_ZIP_UNIX = 3


def _number_order(v: Any) -> tuple:
    try:
        return (float(v), repr(v))
    except (TypeError, ValueError):
        raise InvalidInput(f"save: output_value_set holds {v!r:.60} ({type(v).__name__}), not "
                           f"a number") from None


def _encode_value_set(values: Optional[tuple]) -> Optional[list]:
    # sorted: a set's iteration order would make the bytes differ between processes
    return None if values is None else [_encode_value(v) for v in sorted(values, key=_number_order)]


def _encode_dimension(directions: tuple) -> list:
    """A residual dimension's directions as JSON; [] (the dimension known by its name in
    'residual_labels' only) when a direction's value cannot be stored in a model file."""
    try:
        return [{"label": x.label, "value": _encode_value(x.value), "internal": x.internal}
                for x in directions]
    except InvalidInput:
        return []


def _json_fallback(obj: Any) -> Any:
    """json.dumps default for constants: sets sorted (their order varies between processes),
    anything else as its str."""
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    return str(obj)


def _save_target(path: Any) -> str:
    """The file path `save` writes; InvalidInput for a folder, a missing folder or a non-path."""
    try:
        target = os.fsdecode(os.fspath(path))
    except TypeError:
        raise InvalidInput(f"save: expected a file path, got {type(path).__name__} "
                           f"{path!r:.60}") from None
    if not target:
        raise InvalidInput("save: the path is empty; pass a file path such as 'model.npz'")
    if os.path.isdir(target):
        raise InvalidInput(f"save: {target!r} is an existing folder; pass a file path such as "
                           f"{os.path.join(target, 'model.npz')!r}")
    if target.endswith(os.sep) or (os.altsep and target.endswith(os.altsep)):
        raise InvalidInput(f"save: {target!r} ends in a path separator; pass a file path")
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise InvalidInput(f"save: cannot write {target!r}: its folder {folder!r} {what} "
                           f"(save does not create folders)")
    return target


def _create_exclusive(folder: str, base: str) -> tuple[int, str]:
    """A new file next to the target, opened for writing: (file descriptor, path)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name next to {base!r} in {folder!r}")


def _zip_info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = _ZIP_UNIX
    info.external_attr = _ZIP_MODE << 16
    return info


def _write_model_zip(fh, meta_bytes: bytes, arrays: dict[str, np.ndarray]) -> None:
    """meta.json, then each array as `<name>.npy` in name order, all stored (uncompressed)."""
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(_zip_info("meta.json"), meta_bytes)
        for name in sorted(arrays):
            a = arrays[name]
            info = _zip_info(f"{name}.npy")
            # An upper bound, used only to decide on a zip64 header; the real size replaces it.
            info.file_size = a.nbytes + _MAX_NPY_HEADER
            with zf.open(info, "w") as out:
                np.lib.format.write_array(out, a, allow_pickle=False)


# -- loading -----------------------------------------------------------------------------------
#: Every field of meta.json (a file with more or fewer is refused).
_META_FIELDS_V1 = ("bos", "causal", "constants", "dtype", "format", "format_version",
                   "max_seq_len", "n_layers", "output_encoding", "output_value_set",
                   "output_values", "residual_labels", "tokens", "vocab")
#: Format 2 adds the directions of every residual dimension and the other readouts.
_META_FIELDS = tuple(sorted(_META_FIELDS_V1 + ("readouts", "residual_layout")))
#: Format 3 adds the loop schedule of a looped model.
_META_FIELDS_V3 = tuple(sorted(_META_FIELDS + ("loop",)))
_FIELDS_OF_VERSION = {1: _META_FIELDS_V1, 2: _META_FIELDS, 3: _META_FIELDS_V3}
_READOUT_FIELDS = ("encoding", "value_set", "values")
_LOOP_FIELDS = ("halt", "max_iterations", "start", "state", "stop")
_ABSENT = object()
_DIRECTION_FIELDS = ("internal", "label", "value")
_DTYPES = ("float32", "float64")
_ENCODINGS = ("categorical", "numerical")
#: Largest meta.json accepted (real ones are kilobytes: labels, tokens and constants).
_MAX_META_BYTES = 64 * 2 ** 20
#: Largest .npy header accepted (numpy's own limit for untrusted files).
_MAX_NPY_HEADER = 10_000
#: Deflate expands at most 1032-fold (a 258-byte match per 2 bits); a larger declared size in
#: a deflated member is a forged header.
_MAX_DEFLATE_RATIO = 1032
#: Number of axes of each saved array (layer arrays by their LayerWeights name).
_NDIM = {"token_embed": 2, "pos_embed": 2, "unembed": 2, "W_Q": 3, "W_K": 3, "W_V": 3,
         "W_O": 3, "W_in": 2, "b_in": 1, "W_out": 2, "b_out": 1}
#: Which axes of a layer array are the residual width D (the others are checked against each
#: other by LayerWeights).
_D_AXES = {"W_Q": 1, "W_K": 1, "W_V": 1, "W_O": 2, "W_in": 0, "W_out": 1, "b_out": 0}


def _canonical(v: Any) -> str:
    """A decoded value as text that tells 1, 1.0 and True apart (for exact comparisons)."""
    return json.dumps(_encode_value(v), sort_keys=True)


def _listing(items: list, limit: int = 6) -> str:
    shown = ", ".join(map(str, items[:limit]))
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _no_repeated_keys(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set = set()
        repeated = sorted({k for k, _ in pairs if k in seen or seen.add(k)})
        raise InvalidModelFile(f"meta.json repeats the key(s) {repeated}")
    return out


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _meta_fields(meta: dict) -> tuple[dict, list[str]]:
    """The decoded fields of meta.json and every problem with them (types, ranges and how the
    fields agree with each other; agreement with the arrays is `_read_arrays`'s job)."""
    problems: list[str] = []
    fields = _FIELDS_OF_VERSION[meta["format_version"]]
    missing = [k for k in fields if k not in meta]
    unknown = sorted(set(meta) - set(fields))
    problems += [f"field {k!r} is missing" for k in missing]
    if unknown:
        problems.append(f"unknown field(s) {unknown}")
    out: dict = {}

    def values(field: str, allow_empty: bool = True, raw: Any = _ABSENT) -> Optional[list]:
        raw = meta.get(field) if raw is _ABSENT else raw
        if not isinstance(raw, list):
            problems.append(f"field {field!r} must be a list of values, got {raw!r:.60}")
            return None
        if not raw and not allow_empty:
            problems.append(f"field {field!r} is empty")
            return None
        try:
            return [_decode_value(x) for x in raw]
        except InvalidModelFile as exc:
            problems.append(f"field {field!r}: {exc}")
            return None

    def repeats(field: str, decoded: list) -> None:
        seen: set = set()
        dup = sorted({c for c in map(_canonical, decoded) if c in seen or seen.add(c)})
        if dup:
            problems.append(f"field {field!r} repeats {_listing(dup)}")

    for field in ("max_seq_len", "n_layers"):
        v = meta.get(field)
        low = 1 if field == "max_seq_len" else 0
        if field in meta and not (_is_int(v) and v >= low):
            problems.append(f"field {field!r} must be an int >= {low}, got {v!r:.60}")
    if "causal" in meta and not isinstance(meta["causal"], bool):
        problems.append(f"field 'causal' must be true or false, got {meta['causal']!r:.60}")
    if "dtype" in meta and meta["dtype"] not in _DTYPES:
        problems.append(f"field 'dtype' must be one of {list(_DTYPES)}, got "
                        f"{meta['dtype']!r:.60}")
    encoding = meta.get("output_encoding")
    if "output_encoding" in meta and encoding not in _ENCODINGS:
        problems.append(f"field 'output_encoding' must be one of {list(_ENCODINGS)}, got "
                        f"{encoding!r:.60}")
    labels = meta.get("residual_labels")
    if "residual_labels" in meta and not (isinstance(labels, list)
                                          and all(isinstance(x, str) for x in labels)):
        problems.append(f"field 'residual_labels' must be a list of strings, got "
                        f"{labels!r:.60}")
    if "constants" in meta and not isinstance(meta["constants"], dict):
        problems.append(f"field 'constants' must be a JSON object, got "
                        f"{meta['constants']!r:.60}")

    bos = vocab = tokens = None
    if "bos" in meta:
        try:
            bos = out["bos"] = _decode_value(meta["bos"])
        except InvalidModelFile as exc:
            problems.append(f"field 'bos': {exc}")
    if "vocab" in meta:
        vocab = values("vocab", allow_empty=False)
    if vocab is not None:
        problems += [f"field 'vocab' {p.reason}" for p in check_vocab(vocab, bos=bos)]
        repeats("vocab", vocab)
        out["vocab"] = vocab
    if "tokens" in meta:
        tokens = values("tokens", allow_empty=False)
    if tokens is not None:
        repeats("tokens", tokens[1:])
        if "bos" in out and _canonical(tokens[0]) != _canonical(bos):
            problems.append(f"field 'tokens' starts with {tokens[0]!r:.60}, not the BOS token "
                            f"{bos!r:.60} of field 'bos'")
        if vocab is not None:
            in_tokens = {_canonical(v) for v in tokens[1:]}
            in_vocab = {_canonical(v) for v in vocab}
            if in_tokens != in_vocab:
                problems.append(
                    f"fields 'tokens' and 'vocab' disagree: tokens after BOS not in vocab: "
                    f"[{_listing(sorted(in_tokens - in_vocab))}]; vocab not in tokens: "
                    f"[{_listing(sorted(in_vocab - in_tokens))}]")
        out["tokens"] = tokens

    if "output_values" in meta:
        outputs = values("output_values")
        if outputs is not None:
            repeats("output_values", outputs)
            if encoding == "numerical" and outputs:
                problems.append(f"field 'output_values' must be empty for a numerical model "
                                f"(field 'output_encoding'), got {len(outputs)} values")
            out["output_values"] = outputs
    out["output_value_set"] = _value_set(meta.get("output_value_set"), "output_value_set",
                                         "field 'output_encoding'", encoding, values, problems)
    if "residual_layout" in meta and isinstance(labels, list) \
            and all(isinstance(x, str) for x in labels):
        out["residual_layout"] = _layout_field(meta["residual_layout"], labels, problems)
    if "readouts" in meta:
        out["readouts"] = _readouts_field(meta["readouts"], values, repeats, problems)
    if "loop" in meta:
        out["loop"] = _loop_field(meta["loop"], meta, out, problems)
    return out, problems


def _value_set(raw: Any, field: str, encoding_field: str, encoding: Any, values,
               problems: list) -> Optional[tuple]:
    """A numerical readout's reachable values (None: not recorded), with its problems."""
    if raw is None:
        return None
    where = f"field {field!r}"
    decoded = values(field, raw=raw)
    if decoded is None:
        return None
    if encoding == "categorical":
        problems.append(f"{where} must be null for a categorical readout ({encoding_field})")
    bad = [v for v in decoded if not isinstance(v, (bool, int, float))]
    if bad:
        problems.append(f"{where} must hold numbers, got {_listing([repr(v) for v in bad])}")
    elif len({_canonical(v) for v in decoded}) != len(decoded):
        problems.append(f"{where} repeats a value: {decoded!r:.80}")
    return tuple(decoded)


def _layout_field(raw: Any, labels: list, problems: list) -> Optional[ResidualLayout]:
    """Field 'residual_layout' (format 2): per dimension, its directions, each
    {"label", "value", "internal"}; checked against 'residual_labels'."""
    where = "field 'residual_layout'"
    if not isinstance(raw, list) or not all(isinstance(d, list) for d in raw):
        problems.append(f"{where} must be a list of lists of directions, got {raw!r:.60}")
        return None
    if len(raw) != len(labels):
        problems.append(f"{where} has {len(raw)} dimensions but field 'residual_labels' has "
                        f"{len(labels)} residual labels")
        return None
    dims, bad = [], []
    for i, dim in enumerate(raw):
        directions = []
        for x in dim:
            ok = (isinstance(x, dict) and sorted(x) == list(_DIRECTION_FIELDS)
                  and isinstance(x["label"], str) and isinstance(x["internal"], bool))
            try:
                value = _decode_value(x["value"]) if ok else None
            except InvalidModelFile:
                ok = False
            if not ok:
                bad.append(f"{x!r:.60} (dimension {i})")
                continue
            directions.append(BasisDirection(x["label"], value, x["internal"]))
        dims.append(tuple(directions))
    if bad:
        problems.append(f"{where}: malformed direction(s) {_listing(bad)}; a direction is "
                        f"{{\"label\": str, \"value\": value, \"internal\": bool}}")
        return None
    try:
        return ResidualLayout(tuple(dims), tuple(labels))
    except InvalidInput as exc:
        problems.append(f"{where} (checked against field 'residual_labels'): {exc}")
        return None


def _readouts_field(raw: Any, values, repeats, problems: list) -> Optional[dict]:
    """Field 'readouts' (format 2): the readouts beyond "output",
    {name: {"encoding", "values", "value_set"}}."""
    if not isinstance(raw, dict):
        problems.append(f"field 'readouts' must be a JSON object, got {raw!r:.60}")
        return None
    out = {}
    for name, spec in raw.items():
        where = f"field 'readouts.{name}'"
        if not _NAME.fullmatch(name) or name == OUTPUT:
            problems.append(f"field 'readouts' has the name {name!r:.60}; readout names are "
                            f"identifiers other than {OUTPUT!r} (the output is in the "
                            f"'output_*' fields)")
            continue
        if not isinstance(spec, dict) or sorted(spec) != list(_READOUT_FIELDS):
            problems.append(f"{where} must be an object with exactly the keys "
                            f"{list(_READOUT_FIELDS)}, got {spec!r:.60}")
            continue
        encoding = spec["encoding"]
        if encoding not in _ENCODINGS:
            problems.append(f"field 'readouts.{name}.encoding' must be one of "
                            f"{list(_ENCODINGS)}, got {encoding!r:.60}")
            continue
        n_problems = len(problems)
        vals = values(f"readouts.{name}.values", raw=spec["values"])
        if vals is None:
            continue
        repeats(f"readouts.{name}.values", vals)
        if encoding == "numerical" and vals:
            problems.append(f"field 'readouts.{name}.values' must be empty for a numerical "
                            f"readout, got {len(vals)} values")
        vset = _value_set(spec["value_set"], f"readouts.{name}.value_set",
                          f"field 'readouts.{name}.encoding'", encoding, values, problems)
        if len(problems) == n_problems:
            out[name] = {"encoding": encoding, "values": tuple(vals), "value_set": vset}
    return out


def _loop_field(raw: Any, meta: dict, fields: dict, problems: list) -> Optional[LoopSchedule]:
    """Field 'loop' (format 3): {"start", "stop", "max_iterations", "halt", "state"}, checked
    against 'n_layers' and the readouts (the halt readout categorical with the value True)."""
    if not isinstance(raw, dict) or sorted(raw) != list(_LOOP_FIELDS):
        problems.append(f"field 'loop' must be an object with exactly the keys "
                        f"{list(_LOOP_FIELDS)}, got {raw!r:.80}")
        return None
    n_problems = len(problems)
    for key in ("start", "stop", "max_iterations"):
        if not _is_int(raw[key]):
            problems.append(f"field 'loop.{key}' must be an int, got {raw[key]!r:.60}")
    if len(problems) == n_problems:
        start, stop, n_layers = raw["start"], raw["stop"], meta.get("n_layers")
        if not 0 <= start < stop:
            problems.append(f"fields 'loop.start' {start} and 'loop.stop' {stop} must have "
                            f"0 <= start < stop")
        elif _is_int(n_layers) and stop > n_layers:
            problems.append(f"field 'loop.stop' is {stop} but field 'n_layers' is {n_layers}")
        if raw["max_iterations"] < 1:
            problems.append(f"field 'loop.max_iterations' must be >= 1, got "
                            f"{raw['max_iterations']}")
    state = raw["state"]
    if not isinstance(raw["halt"], str):
        problems.append(f"field 'loop.halt' must be a readout name, got {raw['halt']!r:.60}")
    if not (isinstance(state, list) and all(isinstance(x, str) for x in state)):
        problems.append(f"field 'loop.state' must be a list of readout names, got "
                        f"{state!r:.60}")
    if len(problems) > n_problems:
        return None
    # the readouts of the file: "output" from the 'output_*' fields, the rest from 'readouts'
    readouts = dict(fields.get("readouts") or {})
    if "output_values" in fields and meta.get("output_encoding") in _ENCODINGS:
        readouts[OUTPUT] = {"encoding": meta["output_encoding"],
                            "values": tuple(fields["output_values"]), "value_set": None}
    if "readouts" in fields and fields["readouts"] is not None:
        missing = [name for name in [raw["halt"], *state] if name not in readouts]
        if missing:
            problems.append(f"field 'loop' names readouts {_listing(list(map(repr, missing)))} "
                            f"that the file does not have (readouts: {sorted(readouts)})")
        halt = readouts.get(raw["halt"])
        problem = None if halt is None else _halt_problem(halt["encoding"], halt["values"])
        if problem:
            problems.append(f"field 'loop.halt': the readout {raw['halt']!r} {problem}")
    try:
        return LoopSchedule(raw["start"], raw["stop"], raw["max_iterations"], raw["halt"],
                            tuple(state))
    except InvalidInput as exc:
        problems.append(f"field 'loop': {exc}")
        return None


def _member_size_problem(info: zipfile.ZipInfo, archive_size: int) -> Optional[str]:
    """Why a member's declared sizes cannot be trusted, checked before reading it: the sizes
    are bounded by the bytes really in the file, so no forged header can make `load`
    allocate more than the file could hold."""
    name = info.filename
    if info.flag_bits & 0x1:
        return f"member {name!r} is encrypted"
    if info.compress_size > archive_size:
        return (f"member {name!r} declares {info.compress_size} stored bytes, more than the "
                f"whole file ({archive_size} bytes)")
    if info.compress_type == zipfile.ZIP_STORED:
        if info.file_size != info.compress_size:
            return (f"member {name!r} declares {info.file_size} bytes uncompressed but stores "
                    f"{info.compress_size} (a forged or corrupt zip header)")
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        if info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + 1024:
            return (f"member {name!r} declares {info.file_size} bytes uncompressed, more than "
                    f"deflate can expand {info.compress_size} bytes to (a forged zip header)")
    else:
        return (f"member {name!r} uses zip compression method {info.compress_type}; model "
                f"files hold stored (or deflated) members")
    if name == "meta.json" and info.file_size > _MAX_META_BYTES:
        return f"member 'meta.json' declares {info.file_size} bytes (at most {_MAX_META_BYTES})"
    return None


def _array_names(n_layers: int, readouts: Iterable[str] = ()) -> list[str]:
    return ["token_embed", "pos_embed", "unembed"] + [
        f"layer{i}.{n}" for i in range(n_layers) for n in LayerWeights.ARRAYS] + [
        f"readout.{name}" for name in readouts]


def _read_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dtype: np.dtype, ndim: int,
                limit: Optional[tuple[int, str]]
                ) -> tuple[Optional[np.ndarray], Optional[str], Any]:
    """(array, None, None), or (None, problem, None), or (None, None, the dtype found when it
    is not `dtype`) for one .npy member: the header is read and checked
    (version, dtype, axes, and that it accounts for exactly the member's declared size) before
    any data is allocated. `limit`: the most data bytes the metadata allows for it, and the
    fields that say so."""
    name = info.filename
    if limit is not None and info.file_size > limit[0] + _MAX_NPY_HEADER:
        return None, (f"member {name!r} declares {info.file_size} bytes, more than fields "
                      f"{limit[1]} allow for it"), None
    fmt = np.lib.format
    with zf.open(info) as fh:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, fortran, found = fmt.read_array_header_1_0(fh, max_header_size=_MAX_NPY_HEADER)
        elif version == (2, 0):
            shape, fortran, found = fmt.read_array_header_2_0(fh, max_header_size=_MAX_NPY_HEADER)
        else:
            return None, f"member {name!r} has .npy format version {version}", None
        if found != dtype:
            return None, None, found
        if len(shape) != ndim:
            return None, f"array {name[:-4]!r} has {len(shape)} axes {shape}, expected {ndim}", None
        nbytes = math.prod(shape) * dtype.itemsize
        if fh.tell() + nbytes != info.file_size:
            return None, (f"member {name!r} declares {info.file_size} bytes but its .npy "
                          f"header describes a {shape} array of {fh.tell() + nbytes} bytes "
                          f"(a forged or corrupt header)"), None
        data = fh.read(nbytes)   # reading to the end also checks the member's CRC
        if len(data) != nbytes or fh.read(1):
            return None, f"member {name!r} is truncated", None
    array = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return array, None, None


def _read_arrays(zf: zipfile.ZipFile, members: dict, fields: dict, meta: dict
                 ) -> tuple[dict, list[str]]:
    """Every array, checked against the metadata: members present, dtypes, axes, the widths the
    fields imply (tokens, max_seq_len, residual_labels, output columns), finite entries."""
    def read(name, dtype, ndim, limit):
        return _read_array(zf, members[f"{name}.npy"], dtype, ndim, limit)

    return _checked_arrays(set(members) - {"meta.json"}, ".npy", read, fields, meta)


def _given_array(arrays: dict):
    """`_checked_arrays`'s reader over arrays already in memory (a safetensors file)."""
    def read(name, dtype, ndim, limit):
        a = arrays[name]
        if a.dtype != dtype:
            return None, None, a.dtype
        if a.ndim != ndim:
            return None, f"array {name!r} has {a.ndim} axes {a.shape}, expected {ndim}", None
        return a, None, None
    return read


def _checked_arrays(present: set, suffix: str, read, fields: dict, meta: dict
                    ) -> tuple[dict, list[str]]:
    """Every array, by name, from `read(name, dtype, ndim, limit)` (see `_read_array`),
    checked against the metadata; `present` are the stored names, each `name + suffix`."""
    n_layers = meta["n_layers"]
    layer_name = re.compile(r"layer(\d+)\.(\w+)" + re.escape(suffix))
    layers_in_file = sorted({int(m.group(1)) for m in map(layer_name.fullmatch, present) if m})
    if n_layers != len(layers_in_file):  # checked first: n_layers may be absurdly large
        return {}, [f"field 'n_layers' is {n_layers} but the file holds arrays of "
                    f"{len(layers_in_file)} layer(s) {_listing(layers_in_file)}"]
    readouts = fields.get("readouts") or {}
    expected = _array_names(n_layers, readouts)
    wanted = {f"{n}{suffix}" for n in expected}
    problems: list[str] = []
    if present - wanted:
        problems.append(f"unexpected member(s) {_listing(sorted(map(repr, present - wanted)))}")
    if wanted - present:
        problems.append(f"missing member(s) {_listing(sorted(map(repr, wanted - present)))}")
    if problems:
        return {}, problems

    dtype = np.dtype(meta["dtype"])
    it = dtype.itemsize
    n_tokens, labels = len(fields["tokens"]), meta["residual_labels"]
    categorical = meta["output_encoding"] == "categorical"
    k = len(fields["output_values"]) if categorical else 1
    positions = meta["max_seq_len"] + 1
    # Sane sizes from the metadata (the residual width from the labels, with slack: an exact
    # mismatch is reported below with the field to blame).
    limits = {"token_embed": (2 * n_tokens * len(labels) * it, "'tokens', 'residual_labels'"),
              "pos_embed": (2 * positions * len(labels) * it, "'max_seq_len', 'residual_labels'"),
              "unembed": (2 * len(labels) * k * it, "'residual_labels', 'output_values'")}
    widths = {name: len(r["values"]) if r["encoding"] == "categorical" else 1
              for name, r in readouts.items()}
    for name, kr in widths.items():
        limits[f"readout.{name}"] = (2 * len(labels) * kr * it,
                                     f"'residual_labels', 'readouts.{name}'")
    arrays: dict = {}
    wrong_dtype: dict = {}
    for name in expected:
        short = name.split(".")[-1]
        ndim = 2 if name.startswith("readout.") else _NDIM[short]
        a, problem, found = read(name, dtype, ndim, limits.get(name))
        if found is not None:
            wrong_dtype.setdefault(str(found), []).append(name)
        elif problem:
            problems.append(problem)
        else:
            arrays[name] = a
    for found, names in wrong_dtype.items():
        problems.append(f"field 'dtype': arrays {_listing(names)} are {found}, metadata says "
                        f"{dtype}")
    if "token_embed" not in arrays:
        return arrays, problems
    v, d = arrays["token_embed"].shape
    if v != n_tokens:
        problems.append(f"field 'tokens' lists {n_tokens} tokens but token_embed has {v} rows")
    if len(labels) != d:
        problems.append(f"field 'residual_labels' has {len(labels)} residual labels for "
                        f"residual width {d}")
    if "pos_embed" in arrays and arrays["pos_embed"].shape[0] != positions:
        p = arrays["pos_embed"].shape[0]
        problems.append(f"field 'max_seq_len' is {meta['max_seq_len']} but pos_embed has {p} "
                        f"rows (max_seq_len {p - 1})")
    if "unembed" in arrays and arrays["unembed"].shape[1] != k:
        cols = arrays["unembed"].shape[1]
        problems.append(
            f"field 'output_values' lists {k} values but unembed has {cols} columns (field "
            f"'output_encoding' is 'categorical')" if categorical
            else f"field 'output_encoding' is 'numerical' but unembed has {cols} columns "
                 f"(a numerical model reads 1)")
    for name, kr in widths.items():
        a = arrays.get(f"readout.{name}")
        if a is not None and a.shape[1] != kr:
            problems.append(
                f"field 'readouts.{name}.values' lists {kr} values but array 'readout.{name}' "
                f"has {a.shape[1]} columns" if readouts[name]["encoding"] == "categorical"
                else f"field 'readouts.{name}.encoding' is 'numerical' but array "
                     f"'readout.{name}' has {a.shape[1]} columns (a numerical readout reads 1)")
    widths = {"pos_embed": 1, "unembed": 0, **{f"layer{i}.{n}": ax for i in range(n_layers)
                                               for n, ax in _D_AXES.items()},
              **{f"readout.{name}": 0 for name in readouts}}
    for name, axis in widths.items():
        if name in arrays and arrays[name].shape[axis] != d:
            problems.append(f"array {name!r} has shape {arrays[name].shape}: axis {axis} should "
                            f"be the residual width {d}")
    bad = [name for name, a in arrays.items() if not np.all(np.isfinite(a))]
    if bad:
        problems.append(f"array(s) {_listing(bad)} have non-finite entries")
    return arrays, problems


#: The name of `Model` before the runtime/compiler split (kept for user code).
CompiledModel = Model


def load(path: str | os.PathLike) -> Model:
    """Load a model written by `CompiledModel.save` (fail closed: every field of meta.json is
    checked against the arrays and the other fields before anything is trusted).

    Raises:
        InvalidModelFile: the file is missing, not a model file, truncated, forged (declared
            sizes larger than the file can hold) or inconsistent; the message names the field
            or member and the offending value.
    """
    try:
        path = os.fspath(path)
    except TypeError:
        raise InvalidModelFile(f"load: expected a file path, got {type(path).__name__} "
                               f"{path!r:.60}") from None
    if not os.path.isfile(path):
        raise InvalidModelFile(f"no model file at {path!r}")

    def inconsistent(problems: list[str]) -> InvalidModelFile:
        return InvalidModelFile(f"{path!r} is an inconsistent model file: " + "; ".join(problems))

    try:
        archive_size = os.path.getsize(path)
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            seen: set = set()
            repeated = sorted({n for n in names if n in seen or seen.add(n)})
            if repeated:
                raise inconsistent([f"member(s) {_listing(list(map(repr, repeated)))} appear "
                                    f"more than once"])
            size_problems = [p for p in (_member_size_problem(i, archive_size) for i in infos)
                             if p]
            if size_problems:
                raise inconsistent(size_problems)
            members = dict(zip(names, infos))
            if "meta.json" not in members:
                raise InvalidModelFile(f"{path!r} is not a theory_kit model file (no meta.json "
                                       f"member)")
            meta = json.loads(zf.read(members["meta.json"]).decode("utf-8"),
                              object_pairs_hook=_no_repeated_keys)
            if not isinstance(meta, dict) or meta.get("format") != "theory_kit.CompiledModel":
                raise InvalidModelFile(
                    f"{path!r} is not a theory_kit model file (format "
                    f"{meta.get('format') if isinstance(meta, dict) else meta!r:.60})")
            version = meta.get("format_version")
            if not (_is_int(version) and version in _READABLE_VERSIONS):
                raise InvalidModelFile(f"{path!r} has format version {version!r:.60}; this "
                                       f"theory_kit reads versions "
                                       f"{', '.join(map(str, _READABLE_VERSIONS))}")
            fields, problems = _meta_fields(meta)
            if problems:
                raise inconsistent(problems)
            arrays, problems = _read_arrays(zf, members, fields, meta)
            if problems:
                raise inconsistent(problems)
    except InvalidModelFile:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ValueError, OSError, EOFError,
            UnicodeDecodeError, NotImplementedError, RuntimeError) as exc:
        # RecursionError (deeply nested JSON) is a RuntimeError
        raise InvalidModelFile(f"{path!r} is not a readable theory_kit model file "
                               f"({type(exc).__name__}: {exc})") from exc
    return _assembled(meta, fields, arrays, inconsistent)


def model_from_parts(meta: Any, arrays: dict, path: str) -> Model:
    """A `Model` from a model file's meta.json (as a dict) and its arrays by name, checked as
    `load` checks an .npz file (for `theory_kit.export.load_safetensors`).

    Raises:
        InvalidModelFile: the metadata or the arrays are inconsistent.
    """
    def inconsistent(problems: list[str]) -> InvalidModelFile:
        return InvalidModelFile(f"{path!r} is an inconsistent model file: " + "; ".join(problems))

    if not isinstance(meta, dict) or meta.get("format") != "theory_kit.CompiledModel":
        raise InvalidModelFile(f"{path!r} does not hold a theory_kit model (format "
                               f"{meta.get('format') if isinstance(meta, dict) else meta!r:.60})")
    version = meta.get("format_version")
    if not (_is_int(version) and version in _READABLE_VERSIONS):
        raise InvalidModelFile(f"{path!r} has format version {version!r:.60}; this theory_kit "
                               f"reads versions {', '.join(map(str, _READABLE_VERSIONS))}")
    fields, problems = _meta_fields(meta)
    if problems:
        raise inconsistent(problems)
    checked, problems = _checked_arrays(set(arrays), "", _given_array(arrays), fields, meta)
    if problems:
        raise inconsistent(problems)
    return _assembled(meta, fields, checked, inconsistent)


def _assembled(meta: dict, fields: dict, arrays: dict, inconsistent) -> Model:
    try:
        layers = tuple(LayerWeights(*(arrays[f"layer{i}.{n}"] for n in LayerWeights.ARRAYS))
                       for i in range(meta["n_layers"]))
        layout = fields.get("residual_layout")
        if layout is None:  # format 1: names only
            layout = ResidualLayout.from_labels(meta["residual_labels"])
        readouts = [Readout(OUTPUT, arrays["unembed"], meta["output_encoding"],
                            tuple(fields["output_values"]), fields["output_value_set"])]
        readouts += [Readout(name, arrays[f"readout.{name}"], r["encoding"], r["values"],
                             r["value_set"]) for name, r in fields.get("readouts", {}).items()]
        weights = Weights(
            token_embed=arrays["token_embed"], pos_embed=arrays["pos_embed"], layers=layers,
            tokens=tuple(fields["tokens"]), layout=layout,
            readouts={r.name: r for r in readouts}, causal=meta["causal"],
            loop=fields.get("loop"))
    except ValueError as exc:
        raise inconsistent([str(exc)]) from exc
    return Model(weights, vocab=frozenset(fields["vocab"]), max_seq_len=meta["max_seq_len"],
                 bos=fields["bos"], constants=meta["constants"])
