"""A vectorised oracle: `evaluate_batch` in numpy over all inputs of a length at once.

`evaluate_vectorised(program, inputs, causal=...)` returns exactly what
`rasp.evaluate_batch(program, inputs, causal=...)` returns (the same values, of the same types,
in input order) or raises exactly what it raises, but evaluates every node on a whole batch of
equal-length inputs at once:

  * an SOp over a batch [B, L] is an integer code array into a per-node table of the distinct
    Python values it takes (interned by type and value, so 1, True and 1.0 stay three values);
  * Map calls its function once per distinct value, SequenceMap once per distinct pair present,
    Select its predicate once per (key value, query value) pair: the results are gathered;
  * selectors are boolean [B, L, L] matrices (causal mask applied where they are consumed);
    SelectorWidth is a row sum, a categorical Aggregate the first selected value (after checking
    the interpreter's rule: all selected values the same, None if one is None, the default if
    none is selected), a numerical Aggregate a masked mean summed position by position in the
    order, and with the float arithmetic, of Python's `sum` (so results are ==, not just close);
  * batches are chunked so a chunk's [B, L, L] arrays stay bounded (`chunk_bytes`).

The vectorised path never guesses. Whenever it cannot reproduce the interpreter exactly it
falls back to the scalar interpreter for the whole call, transparently: a function raises or
returns a non-finite float (the interpreter raises; running it gives the same exception and
message), a value is not None/bool/int/float/str/bytes or a tuple of them (unhashable values,
numpy scalars, user classes), an input is invalid, a Select meets None, a categorical Aggregate
selects different values, a numerical Aggregate meets a non-number or integers too large to
sum exactly in float64 (or floats, on a Python whose sum() compensates: CPython >= 3.12), a
ConstantSOp/ConstantSelector has the wrong length, two values the interpreter's cache treats
as one (0.0 and -0.0) give different results, or a node class has no vectorised rule (e.g.
rasp.loops' Loop). `COUNTS` counts the calls per path; pass `info={}` to learn which path one
call took and why.
"""

from __future__ import annotations

import gc
import math
import random
from collections import Counter
from collections.abc import Iterable
from collections.abc import Sequence as _SequenceABC
from itertools import chain
from typing import Any, Callable, Optional

import numpy as np

from theory_kit.rasp import nodes as n
from theory_kit.rasp.interpreter import _Evaluator, evaluate_batch
from theory_kit.rasp.tree import topological_order
from theory_kit.values import typed_key

__all__ = ["evaluate_vectorised", "COUNTS", "DEFAULT_CHUNK_BYTES"]

#: Calls of `evaluate_vectorised` per path: "vectorised" or "scalar" (the fallback).
COUNTS: Counter = Counter()
#: Bound on the bytes of one chunk's [B, L, L] working arrays (index and float temporaries
#: are 8 bytes per element, selection matrices 1; budgeted at _BYTES_PER_PAIR).
DEFAULT_CHUNK_BYTES = 64 * 2 ** 20
_BYTES_PER_PAIR = 24
#: Below this many (key, query) value pairs a Select's predicate is tabulated on all of them;
#: above, only on the pairs present in the chunk.
_FULL_PREDICATE_TABLE = 1 << 16
_DENSE_PAIR_TABLE = 1 << 22
_EXACT_FLOAT_INT = 2 ** 53


class _Fallback(Exception):
    """The vectorised path cannot reproduce the interpreter here: use the scalar one."""


# ------------------------------------------------------------------------------------------
# Python's sum(), exactly
# ------------------------------------------------------------------------------------------


def _plain_float_sum_probe() -> bool:
    """True iff builtin sum() adds floats one by one in float64 (CPython <= 3.11; 3.12 adds
    Neumaier compensation, which this module does not emulate: floats then fall back)."""
    if sum([1e100, 1.0, -1e100]) != 0.0:
        return False
    rng = random.Random(1234)
    for _ in range(300):
        items: list = []
        for _ in range(rng.randint(1, 12)):
            r = rng.random()
            if r < 0.3:
                items.append(rng.randint(-9, 9))
            elif r < 0.4:
                items.append(r < 0.35)
            else:
                items.append(rng.uniform(-1e3, 1e3) * 10.0 ** rng.randint(-8, 8))
        acc = 0.0
        for x in items:
            acc += float(x)
        if acc != sum(items) or acc / len(items) != sum(items) / len(items):
            return False
    return True


_PLAIN_FLOAT_SUM: list = []  # the probe's answer, computed on first use


def _plain_float_sum() -> bool:
    if not _PLAIN_FLOAT_SUM:
        _PLAIN_FLOAT_SUM.append(_plain_float_sum_probe())
    return _PLAIN_FLOAT_SUM[0]


# ------------------------------------------------------------------------------------------
# Value tables
# ------------------------------------------------------------------------------------------


def _strict_key(v: Any):
    """A key equal for two values iff they are indistinguishable: same type and value at every
    depth, and 0.0 apart from -0.0. Refuses values the tables do not handle."""
    t = type(v)
    if v is None or t is str or t is int or t is bool or t is bytes:
        return (t, v)
    if t is float:
        if not math.isfinite(v):
            raise _Fallback(f"non-finite float {v!r}")
        if v == 0.0 and math.copysign(1.0, v) < 0.0:
            return (float, v, "-0")
        return (float, v)
    if t is tuple:
        return (tuple, tuple(map(_strict_key, v)))
    raise _Fallback(f"a value of type {t.__name__} ({v!r:.60}); only None, bool, int, float, "
                    "str, bytes and tuples of them are tabulated")


class _Table:
    """The distinct values one SOp takes over the batch; a value's index is its code.

    `loose[c]` numbers the class of value c under the interpreter's cache key (`typed_key`:
    0.0 and -0.0 are one class); `has_dups` says some class holds two values."""

    __slots__ = ("values", "index", "loose", "loose_index", "has_dups", "none_code", "_obj",
                 "_loose_arr", "_num")

    def __init__(self) -> None:
        self.values: list = []
        self.index: dict = {}
        self.loose: list[int] = []
        self.loose_index: dict = {}
        self.has_dups = False
        self.none_code = -1
        self._obj = None
        self._loose_arr = None
        self._num = None

    def __len__(self) -> int:
        return len(self.values)

    def intern(self, v: Any) -> int:
        key = _strict_key(v)
        code = self.index.get(key)
        if code is None:
            code = len(self.values)
            self.index[key] = code
            self.values.append(v)
            lk = typed_key(v)
            li = self.loose_index.get(lk)
            if li is None:
                li = self.loose_index[lk] = len(self.loose_index)
            else:
                self.has_dups = True
            self.loose.append(li)
            if v is None:
                self.none_code = code
        return code

    def objects(self) -> np.ndarray:
        if self._obj is None or len(self._obj) != len(self.values):
            arr = np.empty(len(self.values), dtype=object)
            for i, v in enumerate(self.values):
                arr[i] = v
            self._obj = arr
        return self._obj

    def typed(self) -> np.ndarray:
        """The values as an array whose `tolist()` gives them back: int64/float64/bool when
        all values have that one type (faster to convert), else objects."""
        types = set(map(type, self.values))
        if len(types) == 1:
            t = next(iter(types))
            if t is float:
                return np.array(self.values, dtype=np.float64)
            if t is bool:
                return np.array(self.values, dtype=np.bool_)
            if t is int and all(-2 ** 62 < v < 2 ** 62 for v in self.values):
                return np.array(self.values, dtype=np.int64)
        return self.objects()

    def loose_array(self) -> np.ndarray:
        if self._loose_arr is None or len(self._loose_arr) != len(self.values):
            self._loose_arr = np.asarray(self.loose, dtype=np.int64)
        return self._loose_arr

    def numbers(self) -> tuple[np.ndarray, np.ndarray]:
        """(value as float64, kind) per code; kind 0 None, 1 int or bool, 2 float, 3 other."""
        if self._num is None or len(self._num[0]) != len(self.values):
            vals = np.zeros(len(self.values), dtype=np.float64)
            kind = np.zeros(len(self.values), dtype=np.int8)
            for i, v in enumerate(self.values):
                t = type(v)
                if v is None:
                    continue
                if t is int or t is bool:
                    kind[i] = 1
                    vals[i] = float(v) if abs(v) <= _EXACT_FLOAT_INT else math.inf
                elif t is float:
                    kind[i], vals[i] = 2, v
                else:
                    kind[i] = 3
            self._num = (vals, kind)
        return self._num


def _check_consistent(groups: Iterable[tuple[Any, int]], what: str) -> None:
    """Values the interpreter's cache merges (0.0 and -0.0) must give the same result there."""
    seen: dict = {}
    for group, result in groups:
        if seen.setdefault(group, result) != result:
            raise _Fallback(f"{what}: 0.0 and -0.0 (one value to the interpreter's cache) give "
                            "different results")


def _call(node: n.RASPExpr, f: Callable, args: tuple) -> Any:
    try:
        out = f(*args)
    except Exception as exc:  # the interpreter raises EvaluationError here: let it
        raise _Fallback(f"{type(node).__name__} {node.label!r}: its function raised "
                        f"{type(exc).__name__}") from None
    if isinstance(out, float) and not math.isfinite(out):
        raise _Fallback(f"{type(node).__name__} {node.label!r}: non-finite result")
    return out


def _predicate(node: n.Select, k: Any, q: Any) -> bool:
    if k is None or q is None:
        raise _Fallback(f"Select {node.label!r}: a key or query is None")
    pred = node.predicate
    try:
        return bool(pred(k, q))
    except Exception as exc:
        raise _Fallback(f"Select {node.label!r}: its predicate raised "
                        f"{type(exc).__name__}") from None


# ------------------------------------------------------------------------------------------
# The evaluator
# ------------------------------------------------------------------------------------------


_TOKEN_FAST_TYPES = frozenset([str, bytes, int, bool])


_HAS_BITWISE_COUNT = hasattr(np, "bitwise_count")


def _row_counts(sel: np.ndarray) -> np.ndarray:
    """How many keys each query selects: [B, L, L] bool -> [B, L] int."""
    L = sel.shape[-1]
    if _HAS_BITWISE_COUNT and L % 8 == 0 and sel.flags.c_contiguous:
        # A bool is one byte, 0 or 1: the set bits of 8 packed bools count the True ones.
        return np.bitwise_count(sel.view(np.uint64)).sum(-1, dtype=np.int64)
    if L < 256 and sel.flags.c_contiguous:
        return (sel.view(np.uint8) @ np.ones(L, dtype=np.uint8)).astype(np.int64)
    return np.count_nonzero(sel, axis=-1)


class _Vectorised:
    def __init__(self, program: n.RASPExpr, causal: bool, chunk_bytes: int):
        self.program = program
        self.causal = causal
        self.chunk_pairs = max(1, int(chunk_bytes) // _BYTES_PER_PAIR)
        self.order = topological_order(program)
        self.tokens_table = _Table()
        self.tables: dict[int, _Table] = {}
        for node in self.order:
            if isinstance(node, n.TokensType):
                self.tables[id(node)] = self.tokens_table
            elif isinstance(node, n.SOp):
                self.tables[id(node)] = _Table()
        self.state: dict[int, dict] = {id(node): {} for node in self.order}
        # Free a node's chunk array after its last consumer has run.
        last_use: dict[int, int] = {}
        for i, node in enumerate(self.order):
            for child in node.children:
                last_use[id(child)] = i
        self.free_after: list[list[int]] = [[] for _ in self.order]
        for key, i in last_use.items():
            if key != id(program):
                self.free_after[i].append(key)
        self.rules: dict[type, Callable] = {
            n.TokensType: self._tokens, n.IndicesType: self._indices,
            n.LengthType: self._length, n.Map: self._map, n.SequenceMap: self._sequence_map,
            n.LinearSequenceMap: self._sequence_map, n.Full: self._full,
            n.ConstantSOp: self._constant_sop, n.SelectorWidth: self._selector_width,
            n.Aggregate: self._aggregate, n.Select: self._select,
            n.ConstantSelector: self._constant_selector, n.SelectorAnd: self._selector_and,
            n.SelectorOr: self._selector_or, n.SelectorNot: self._selector_not,
        }
        for node in self.order:
            if type(node) not in self.rules:  # _Evaluator refused it already; be safe
                raise _Fallback(f"no vectorised rule for {type(node).__name__}")
        self._tril: dict[int, np.ndarray] = {}

    # -- driver -----------------------------------------------------------------------------
    def run(self, items: list) -> list:
        lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
        if len(items) == 0:
            return []
        if (lengths == lengths[0]).all():
            return self._run_group(items, int(lengths[0]))
        order = np.argsort(lengths, kind="stable")
        sorted_lengths = lengths[order]
        starts = np.flatnonzero(np.diff(sorted_lengths)) + 1
        outs: list = []
        for idx in np.split(order, starts):
            group = list(map(items.__getitem__, idx.tolist()))
            outs.extend(self._run_group(group, int(lengths[idx[0]])))
        # outs follows `order`: put every output back at its input's place.
        inverse = np.empty(len(items), dtype=np.int64)
        inverse[order] = np.arange(len(items))
        return list(map(outs.__getitem__, inverse.tolist()))

    def _empty(self, group: list) -> list:
        try:  # nothing to vectorise; the interpreter is exact and instant here
            return evaluate_batch(self.program, group, causal=self.causal)
        except Exception:
            raise _Fallback("an empty input raised") from None

    def _run_group(self, group: list, L: int) -> list:
        if L == 0:
            return self._empty(group)
        codes = self._token_codes(group, L)
        chunk = max(1, self.chunk_pairs // (L * L))
        outs: list = []
        for start in range(0, len(group), chunk):
            outs.extend(self._run_chunk(codes[start:start + chunk], L))
        return outs

    def _run_chunk(self, tok: np.ndarray, L: int) -> list:
        B = tok.shape[0]
        values: dict[int, Any] = {}
        for i, node in enumerate(self.order):
            values[id(node)] = self.rules[type(node)](node, values, B, L, tok)
            for key in self.free_after[i]:
                del values[key]
        out = values[id(self.program)]
        if isinstance(self.program, n.Selector):
            return np.broadcast_to(out, (B, L, L)).tolist()
        return self.tables[id(self.program)].typed()[out].tolist()

    def _token_codes(self, group: list, L: int) -> np.ndarray:
        """The token codes [B, L] of a group of inputs of length L."""
        B = len(group)
        table = self.tokens_table
        types = set(map(type, chain.from_iterable(group)))
        if types == {str}:
            distinct = set(chain.from_iterable(group))
            if all(len(tok) == 1 for tok in distinct):  # characters: read them as code points
                text = "".join(chain.from_iterable(group))
                data = text.encode("utf-32-le", "surrogatepass")
                raw = np.frombuffer(data, dtype=np.uint32).astype(np.int64)
                return self._codes_by_number(raw, {ord(tok): tok for tok in distinct}, B, L)
        elif types == {int}:
            try:
                raw = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=B * L)
            except OverflowError:
                raw = None
            if raw is not None:
                distinct = set(chain.from_iterable(group))
                return self._codes_by_number(raw, {tok: tok for tok in distinct}, B, L)
        if types <= _TOKEN_FAST_TYPES and not (int in types and bool in types):
            # No two of these tokens are equal unless identical: plain dict lookups are exact.
            lookup = {tok: table.intern(tok) for tok in set(chain.from_iterable(group))}
            codes = np.fromiter(map(lookup.__getitem__, chain.from_iterable(group)),
                                dtype=np.int64, count=B * L)
        else:
            if type(None) in types:
                raise _Fallback("a None token")  # check_input raises
            codes = np.fromiter(map(table.intern, chain.from_iterable(group)), dtype=np.int64,
                                count=B * L)
        return codes.reshape(B, L)

    def _codes_by_number(self, raw: np.ndarray, tokens: dict, B: int, L: int) -> np.ndarray:
        """Codes from an int64 array of numbers standing for tokens (`tokens`: number ->
        token, every number of `raw` among its keys)."""
        keys = sorted(tokens)
        codes = np.array([self.tokens_table.intern(tokens[k]) for k in keys], dtype=np.int64)
        return codes[np.searchsorted(np.array(keys, dtype=np.int64), raw)].reshape(B, L)

    def _mask(self, sel: np.ndarray, L: int) -> np.ndarray:
        if not self.causal:
            return sel
        tril = self._tril.get(L)
        if tril is None:
            tril = self._tril[L] = np.tril(np.ones((L, L), dtype=bool))
        return sel & tril

    # -- SOps -------------------------------------------------------------------------------
    def _tokens(self, node, values, B, L, tok):
        return tok

    def _indices(self, node, values, B, L, tok):
        table = self.tables[id(node)]
        row = np.array([table.intern(i) for i in range(L)], dtype=np.int64)
        return np.broadcast_to(row, (B, L))

    def _length(self, node, values, B, L, tok):
        table = self.tables[id(node)]
        if self.causal:
            row = np.array([table.intern(q + 1) for q in range(L)], dtype=np.int64)
            return np.broadcast_to(row, (B, L))
        return np.full((B, L), table.intern(L), dtype=np.int64)

    def _full(self, node, values, B, L, tok):
        return np.full((B, L), self.tables[id(node)].intern(node.fill), dtype=np.int64)

    def _constant_sop(self, node, values, B, L, tok):
        if len(node.value) != L:
            raise _Fallback(f"ConstantSOp {node.label!r} has length {len(node.value)}, the "
                            f"input {L}")
        table = self.tables[id(node)]
        row = np.array([table.intern(v) for v in node.value], dtype=np.int64)
        return np.broadcast_to(row, (B, L))

    def _map(self, node, values, B, L, tok):
        inner = self.tables[id(node.inner)]
        table = self.tables[id(node)]
        st = self.state[id(node)]
        mapped = st.get("mapped")
        done = 0 if mapped is None else len(mapped)
        if done < len(inner):
            f = node.f
            new = [table.intern(None if v is None else _call(node, f, (v,)))
                   for v in inner.values[done:]]
            mapped = np.concatenate([mapped, new]) if done else np.asarray(new, dtype=np.int64)
            st["mapped"] = mapped = mapped.astype(np.int64, copy=False)
            if inner.has_dups:
                _check_consistent(zip(inner.loose, mapped.tolist()), f"Map {node.label!r}")
        return mapped[values[id(node.inner)]]

    def _sequence_map(self, node, values, B, L, tok):
        ta, tb = self.tables[id(node.fst)], self.tables[id(node.snd)]
        table = self.tables[id(node)]
        st = self.state[id(node)]
        a, b = values[id(node.fst)], values[id(node.snd)]
        na, nb = len(ta), len(tb)
        f = node.f

        def compute(i: int, j: int) -> int:
            x, y = ta.values[i], tb.values[j]
            return table.intern(None if x is None or y is None else _call(node, f, (x, y)))

        if na * nb <= _DENSE_PAIR_TABLE:
            lut = st.get("lut")
            if lut is None or lut.shape != (na, nb):
                grown = np.full((na, nb), -1, dtype=np.int64)
                if lut is not None:
                    grown[:lut.shape[0], :lut.shape[1]] = lut
                st["lut"] = lut = grown
            pair = a * nb + b
            flat = lut.reshape(-1)
            present = np.zeros(na * nb, dtype=bool)
            present[pair.reshape(-1)] = True
            missing = np.flatnonzero(present & (flat < 0))
            for p in missing.tolist():
                flat[p] = compute(p // nb, p % nb)
            if len(missing) and (ta.has_dups or tb.has_dups):
                la, lb = ta.loose, tb.loose
                known = np.flatnonzero(flat >= 0).tolist()
                _check_consistent((((la[p // nb], lb[p % nb]), int(flat[p])) for p in known),
                                  f"SequenceMap {node.label!r}")
            return flat[pair]
        cache = st.setdefault("pairs", {})
        pair = a.astype(np.int64) * nb + b
        uniq, inverse = np.unique(pair, return_inverse=True)
        out = np.empty(len(uniq), dtype=np.int64)
        for u, p in enumerate(uniq.tolist()):
            key = (p // nb, p % nb)
            code = cache.get(key)
            if code is None:
                code = cache[key] = compute(*key)
            out[u] = code
        if ta.has_dups or tb.has_dups:
            _check_consistent((((ta.loose[i], tb.loose[j]), c) for (i, j), c in cache.items()),
                              f"SequenceMap {node.label!r}")
        return out[inverse.reshape(pair.shape)]

    # -- selectors --------------------------------------------------------------------------
    def _select(self, node, values, B, L, tok):
        tk, tq = self.tables[id(node.keys)], self.tables[id(node.queries)]
        kc, qc = values[id(node.keys)], values[id(node.queries)]
        nk, nq = len(tk), len(tq)
        st = self.state[id(node)]
        table = st.get("table")
        if table is None or table.shape != (nk, nq):
            grown = np.full((nk, nq), -1, dtype=np.int8)
            if table is not None:
                grown[:table.shape[0], :table.shape[1]] = table
            st["table"] = table = grown
        index = (kc * nq)[:, None, :] + qc[:, :, None]  # [B, query, key] -> table entry
        flat = table.reshape(-1)
        if nk * nq <= _FULL_PREDICATE_TABLE:
            missing = np.flatnonzero(flat < 0)
        else:
            present = np.zeros(nk * nq, dtype=bool)
            present[index.reshape(-1)] = True
            missing = np.flatnonzero(present & (flat < 0))
        if len(missing):
            kv, qv = tk.values, tq.values
            for p in missing.tolist():
                flat[p] = _predicate(node, kv[p // nq], qv[p % nq])
            if tk.has_dups or tq.has_dups:
                lk, lq = tk.loose, tq.loose
                known = np.flatnonzero(flat >= 0).tolist()
                _check_consistent((((lk[p // nq], lq[p % nq]), int(flat[p])) for p in known),
                                  f"Select {node.label!r}")
        # Every entry `index` reaches is known (0 or 1): read the int8 table as booleans.
        return flat.view(np.bool_)[index]

    def _constant_selector(self, node, values, B, L, tok):
        rows = node.value
        if len(rows) != L or any(len(r) != L for r in rows):
            raise _Fallback(f"ConstantSelector {node.label!r} is not {L} x {L}")
        return np.broadcast_to(np.array(rows, dtype=bool).reshape(L, L), (B, L, L))

    def _selector_and(self, node, values, B, L, tok):
        return values[id(node.fst)] & values[id(node.snd)]

    def _selector_or(self, node, values, B, L, tok):
        return values[id(node.fst)] | values[id(node.snd)]

    def _selector_not(self, node, values, B, L, tok):
        return ~values[id(node.inner)]

    # -- SelectorWidth and Aggregate --------------------------------------------------------
    def _intern_ints(self, node, arr: np.ndarray, L: int) -> np.ndarray:
        table = self.tables[id(node)]
        present = np.flatnonzero(np.bincount(arr.reshape(-1), minlength=L + 1))
        lut = np.zeros(L + 1, dtype=np.int64)
        for w in present.tolist():
            lut[w] = table.intern(w)
        return lut[arr]

    def _selector_width(self, node, values, B, L, tok):
        sel = self._mask(values[id(node.selector)], L)
        width = _row_counts(np.broadcast_to(sel, (B, L, L)))
        return self._intern_ints(node, width, L)

    def _aggregate(self, node, values, B, L, tok):
        sel = np.broadcast_to(self._mask(values[id(node.selector)], L), (B, L, L))
        codes = values[id(node.sop)]
        src = self.tables[id(node.sop)]
        table = self.tables[id(node)]
        count = _row_counts(sel)  # [B, query]
        empty = count == 0
        if src.none_code >= 0:
            is_none = codes == src.none_code
            any_none = (sel & is_none[:, None, :]).any(-1) if is_none.any() else \
                np.zeros((B, L), dtype=bool)
        else:
            any_none = np.zeros((B, L), dtype=bool)
        out = np.empty((B, L), dtype=np.int64)
        if n.is_numerical(node):
            valid = self._numerical_mean(node, sel, codes, src, count, any_none, out, L)
        else:
            valid = self._categorical_first(node, sel, codes, src, empty, count, any_none,
                                             out)
        if empty.any():
            out[empty] = table.intern(node.default)
        none_rows = any_none & ~empty
        if none_rows.any():
            out[none_rows] = table.intern(None)
        del valid
        return out

    def _categorical_first(self, node, sel, codes, src, empty, count, any_none, out):
        first = sel.argmax(-1)  # first selected key (0 where none is)
        first_code = np.take_along_axis(codes, first, axis=1)
        valid = ~empty & ~any_none
        several = valid & (count > 1)
        if len(src.loose_index) > 1 and several.any():
            # The interpreter raises unless every selected value is the first one (by type
            # and value): check the queries selecting several keys.
            bs, qs = np.nonzero(several)
            loose = src.loose_array()
            lk = loose[codes[bs]]  # [M, key]
            differs = sel[bs, qs] & (lk != loose[first_code[bs, qs]][:, None])
            if differs.any():
                raise _Fallback(f"categorical Aggregate {node.label!r} selects different "
                                "values")
        table = self.tables[id(node)]
        st = self.state[id(node)]
        lut = st.get("lut")
        if lut is None or len(lut) < len(src):
            grown = np.full(len(src), -1, dtype=np.int64)
            if lut is not None:
                grown[:len(lut)] = lut
            st["lut"] = lut = grown
        chosen = first_code[valid]
        for c in np.flatnonzero(np.bincount(chosen, minlength=len(src))).tolist():
            if lut[c] < 0:
                lut[c] = table.intern(src.values[c])
        out[valid] = lut[chosen]
        return valid

    def _numerical_mean(self, node, sel, codes, src, count, any_none, out, L):
        vals, kind = src.numbers()
        valid = (count > 0) & ~any_none
        if not valid.any():
            return valid
        if (kind == 3).any():
            raise _Fallback(f"numerical Aggregate {node.label!r} over non-numbers")
        if (kind == 2).any() and not _plain_float_sum():
            raise _Fallback("this Python's sum() of floats is not plain float64 addition")
        if np.abs(vals[kind == 1]).max(initial=0.0) * max(L, 1) > _EXACT_FLOAT_INT:
            raise _Fallback(f"numerical Aggregate {node.label!r}: integers too large to sum "
                            "exactly in float64")
        x = vals[codes]  # [B, key]
        # Python's sum(): 0 + x0 + x1 + ... left to right, int partial sums exact (they are,
        # in float64, below 2**53), each float added in float64. np.add.accumulate adds left
        # to right (add.reduce would sum pairwise); unselected keys add +0.0, a no-op. It
        # starts from x0, not 0 + x0: they differ only if x0 is -0.0, and only in the sign of
        # a zero while every partial sum is zero, which the final + 0.0 clears (Python's sum,
        # starting from +0, is never -0.0). An overflow gives inf as in Python; interning it
        # then falls back (the interpreter returns it).
        with np.errstate(all="ignore"):
            contrib = np.where(sel, x[:, None, :], 0.0)  # [B, query, key]
            acc = np.add.accumulate(contrib, axis=2)[:, :, -1] + 0.0
            mean = acc[valid] / count[valid]
        bits = mean.view(np.int64)
        uniq, inverse = np.unique(bits, return_inverse=True)
        table = self.tables[id(node)]
        lut = np.array([table.intern(v) for v in uniq.view(np.float64).tolist()],
                       dtype=np.int64)
        out[valid] = lut[inverse.reshape(-1)]
        return valid


# ------------------------------------------------------------------------------------------
# The entry point
# ------------------------------------------------------------------------------------------


def _materialise(program, inputs, causal) -> list:
    """The inputs as a list. If iterating raises, the interpreter would first have evaluated
    the inputs before: do that (it raises their error, if any), then re-raise."""
    if type(inputs) is list or type(inputs) is tuple:
        return list(inputs)
    items: list = []
    iterator = iter(inputs)
    while True:
        try:
            seq = next(iterator)
        except StopIteration:
            return items
        except BaseException:
            evaluate_batch(program, items, causal=causal)
            raise
        items.append(seq)


_PLAIN_SEQUENCES = frozenset([list, tuple, str])


def _as_sequences(items: list) -> list:
    """Every input as a list, tuple or str (check_input's rule: a sequence, not bytes)."""
    if set(map(type, items)) <= _PLAIN_SEQUENCES:
        return items
    out = list(items)
    for i, seq in enumerate(items):
        if type(seq) in _PLAIN_SEQUENCES:
            continue
        if isinstance(seq, (bytes, bytearray)) or not isinstance(seq, (_SequenceABC, range)):
            raise _Fallback(f"input {i} is not a sequence")  # check_input raises
        out[i] = list(seq)
    return out


def evaluate_vectorised(program: n.RASPExpr, inputs: Iterable, *, causal: bool = False,
                        info: Optional[dict] = None,
                        chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> list[list]:
    """`rasp.evaluate_batch`, vectorised in numpy over the inputs of each length.

    Args:
        program: an SOp (or Selector) built from `theory_kit.rasp`.
        inputs: an iterable of input sequences (any lengths; grouped by length internally).
        causal: evaluate as a decoder would (see `rasp.evaluate`).
        info: optional dict, filled with "path" ("vectorised" or "scalar") and "reason" (why
            the scalar interpreter ran, else None).
        chunk_bytes: bound on one chunk's [B, L, L] working arrays.

    Returns:
        One output per input, in input order, equal (==, same types) to `evaluate_batch`'s.

    Raises:
        The same errors as `evaluate_batch` (with the same messages): where the interpreter
        would raise, the interpreter runs.
    """
    _Evaluator(program, causal)  # the interpreter's program/causal checks and errors
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Iterable):
        return evaluate_batch(program, inputs, causal=causal)  # raises InvalidInput
    causal = bool(causal)
    items = _materialise(program, inputs, causal)
    reason = None
    # The outputs are many small lists and no cycles: the cyclic collector, triggered by
    # their allocation, would cost more than the evaluation (restored on exit).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        seqs = _as_sequences(items)
        out = _Vectorised(program, causal, chunk_bytes).run(seqs)
    except _Fallback as exc:
        reason = str(exc)
    except MemoryError:
        reason = "out of memory"
    except Exception as exc:  # a bug here must not change what the oracle says
        reason = f"internal error {type(exc).__name__}: {exc}"
    finally:
        if gc_was_enabled:
            gc.enable()
    if info is not None:
        info["path"] = "scalar" if reason is not None else "vectorised"
        info["reason"] = reason
    if reason is not None:
        COUNTS["scalar"] += 1
        return evaluate_batch(program, items, causal=causal)
    COUNTS["vectorised"] += 1
    return out
