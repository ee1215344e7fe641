"""Stage 2: ProgramGraph -> BasisAssignment (value sets, encodings, fused Maps).

Value sets over-approximate what each SOp can hold on inputs up to max_seq_len, as Tracr's
basis inference does; they fix the one-hot directions of categorical SOps and the thresholds
of discretising MLPs. A categorical-input Map all of whose readers can apply it inside their
own linear maps (Select keys/queries, Aggregate values, SequenceMap lookups) is *fused*: it
gets no directions and no MLP, which saves a layer and residual width.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional

import numpy as np

from theory_kit.compiler.budget import check_value_pairs
from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import BasisAssignment, NodeBasis, ProgramGraph
from theory_kit.values import identical, same_value, typed_key, typed_unique, value_sort_key
from theory_kit.errors import UnsupportedProgram
from theory_kit.rasp import nodes as rn
from theory_kit.rasp.loops import Loop, LoopVar
from theory_kit.rasp.validate import Problem

__all__ = ["infer_bases", "MAX_NUMERICAL_VALUES", "VALUE_RULES"]

#: Above this many possible values a numerical SOp's value set is treated as unknown.
MAX_NUMERICAL_VALUES = 20_000
#: A numerical LinearSequenceMap enumerates at most this many (x, y) pairs (numpy, ~0.1 s),
#: over independent value sets or, summed over positions, over per-position ones.
MAX_LINEAR_PAIRS = 4_000_000
#: Per-position value sets (`_Inference.positional`) hold at most this many entries in all.
MAX_POSITIONAL_ENTRIES = 2_000_000
#: ... and a LinearSequenceMap combines at most this many per-position pairs (numpy, ~0.5 s).
MAX_POSITIONAL_PAIRS = 16_000_000


def _sorted(values) -> tuple:
    """Distinct values (1, True and 1.0 are three values: `typed_key`) in the layout order."""
    return tuple(sorted(typed_unique(values), key=value_sort_key))


def _is_float_zero(v: Any) -> bool:
    return type(v) is float and v == 0.0


def _strict_unique(values) -> list:
    """Distinct values as `typed_unique`, with 0.0 and -0.0 two values (`identical`)."""
    out: list = []
    for v in values:
        if not any(identical(v, w) for w in out):
            out.append(v)
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not (isinstance(v, float) and not math.isfinite(v))


def _means(values: tuple, max_len: int) -> Optional[tuple]:
    """All averages of 1..max_len values drawn (with repetition) from `values`, or None."""
    nums = sorted({float(v) for v in values})
    if not nums:
        return ()
    sums = {0.0}
    out = set()
    for m in range(1, max_len + 1):
        sums = {round(s + v, 12) for s in sums for v in nums}
        if len(sums) > MAX_NUMERICAL_VALUES:
            return None
        out.update(round(s / m, 12) for s in sums)
        if len(out) > MAX_NUMERICAL_VALUES:
            return None
    return _sorted(out)


def _means_by_count(values: tuple, counts) -> Optional[dict]:
    """count m -> the sorted float array of averages of m values drawn from `values`, for every
    m in `counts` (the numbers `_means` gives for that m: the same rounding), or None when the
    sums outgrow MAX_NUMERICAL_VALUES."""
    nums = sorted({float(v) for v in values})
    wanted = set(counts)
    out: dict = {}
    if not nums:
        return {m: np.zeros(0) for m in wanted}
    sums = {0.0}
    for m in range(1, max(wanted, default=0) + 1):
        sums = {round(s + v, 12) for s in sums for v in nums}
        if len(sums) > MAX_NUMERICAL_VALUES:
            return None
        if m in wanted:
            out[m] = np.unique([round(s / m, 12) for s in sums])
    return out


class _Inference:
    def __init__(self, graph: ProgramGraph, config: CompileConfig,
                 loop_state: Optional[Mapping[int, tuple[tuple, bool]]] = None):
        self.graph = graph
        self.config = config
        self.loop_state = dict(loop_state or {})
        self.problems: list[Problem] = []
        self.bases: dict[int, NodeBasis] = {}
        #: node id -> per-position value sets (a sorted float array per position 0..n-1) of a
        #: numerical SOp, or None when it has none; computed on demand (`positional`)
        self._positional: dict[int, Optional[list]] = {}

    def fail(self, label: str, reason: str, fix: Optional[str] = None) -> None:
        self.problems.append(Problem(label, reason, fix))

    def apply(self, label: str, f, args_list) -> dict:
        """f on every argument tuple; problems for raising or non-finite results. Records in
        `self.returned_none` whether f returned None on some argument."""
        out = {}
        for args in args_list:
            try:
                value = f(*args)
            except Exception as exc:
                shown = args[0] if len(args) == 1 else args
                self.fail(label, f"its function raises {type(exc).__name__}({exc}) on the "
                          f"reachable value {shown!r:.60}",
                          "make the function total on the value set, or restrict the inputs")
                return {}
            if isinstance(value, float) and not math.isfinite(value):
                self.fail(label, f"its function returns {value!r} on {args!r:.60}")
                return {}
            try:
                hash(value)
            except TypeError:
                self.fail(label, f"its function returns the unhashable {value!r:.60}")
                return {}
            out[typed_key(args)] = value
            if value is None:
                self.returned_none = True
        return out

    # -- per-node value sets ----------------------------------------------------------------
    def values_of(self, node_id: int) -> Optional[tuple]:
        return self.bases[node_id].values

    def run(self) -> None:
        for node_id in self.graph.order:
            gnode = self.graph.node(node_id)
            expr = gnode.expr
            if isinstance(expr, rn.Selector):
                self.bases[node_id] = NodeBasis(node_id, gnode.label, None, None)
                continue
            self.returned_none = False
            values = self.infer(gnode)
            may_be_none = self.returned_none or self.none_from_children(expr)
            encoding = "numerical" if rn.is_numerical(expr) else "categorical"
            bounds = typed = None
            if encoding == "numerical":
                if values is not None:
                    bad = [v for v in values if not _is_number(v)]
                    if bad:
                        self.fail(gnode.label, f"is numerical but can hold the non-numbers "
                                  f"{bad[:5]!r:.60}", "annotate it rasp.categorical(...)")
                        values = ()
                    typed = self.signed_zeros(expr, self.typed_map(expr, values))
                    values = _sorted(float(v) for v in values)
                    bounds = (min(values), max(values)) if values else (0.0, 0.0)
                else:
                    bounds = self.numeric_bounds(gnode)
            self.bases[node_id] = NodeBasis(node_id, gnode.label, encoding, values, bounds,
                                            may_be_none=may_be_none,
                                            typed=typed if encoding == "numerical" else None)
            self.none_problems(gnode, encoding, may_be_none)
        self.fuse_maps()

    def typed_map(self, expr, values) -> dict:
        """float value -> the typed values the interpreter may hold there. `values` are the
        inferred (typed) values, except for a numerical LinearSequenceMap, whose sums are
        computed in floats here: the interpreter's a·x + b·y is an int when x, y, a and b all
        are, and a float when any is."""
        if isinstance(expr, rn.LinearSequenceMap):
            kinds = {type(v) for c in (expr.fst, expr.snd)
                     for v in self.typed_values_of(c.unique_id)}
            kinds |= {type(expr.fst_fac), type(expr.snd_fac)}
            ints, floats = kinds <= {int, bool}, bool(kinds - {int, bool})
            out: dict = {}
            for v in values:
                x = float(v)
                variants = ([int(x)] if ints and x.is_integer() else []) + \
                    ([x] if floats or not x.is_integer() else [])
                out[x] = tuple(variants)
            return out
        groups: dict = {}
        for v in values:
            groups.setdefault(float(v), []).append(v)
        return {x: tuple(typed_unique(vs)) for x, vs in groups.items()}

    def signed_zeros(self, expr, typed: dict) -> dict:
        """`typed` with the float zeros at 0.0 replaced by those the interpreter may hold:
        value sets keep one of 0.0 and -0.0 (`typed_key`), but a function can tell them apart
        (`str`, `math.copysign`) and the interpreter's cache gives, at every position, its
        result on whichever came first. Both as variants of the one residual number 0.0 make
        a reader whose outputs differ on them refused (`graph_to_blocks._discretised`)."""
        zeros = self.float_zeros(expr)
        key = next((x for x in typed if x == 0.0), None)
        if not zeros or key is None:
            return typed
        out = dict(typed)
        out[key] = tuple(_strict_unique([v for v in typed[key] if not _is_float_zero(v)]
                                        + list(zeros)))
        return out

    def float_zeros(self, expr) -> Optional[list]:
        """The float zeros (0.0, -0.0) a numerical SOp may hold, by sign; None when unknown
        (then the value set's own zero stands)."""
        if isinstance(expr, rn.Full):
            return [expr.fill] if _is_float_zero(expr.fill) else []
        if isinstance(expr, rn.LinearSequenceMap):
            # a·x + b·y is -0.0 only when both terms are zeros; when they are not, it is
            # 0.0 exactly when a·x == -(b·y) (a float sum is zero only then, and then +0.0)
            if expr.fst is expr.snd:  # one value x at a position: a·x + b·x
                vals = self.typed_values_of(expr.fst.unique_id)
                if vals is None:
                    return None
                sums = [expr.fst_fac * v + expr.snd_fac * v for v in vals]
            else:
                terms = []
                for fac, child in ((expr.fst_fac, expr.fst), (expr.snd_fac, expr.snd)):
                    vals = self.typed_values_of(child.unique_id)
                    if vals is None:
                        return None
                    terms.append([fac * v for v in vals])
                zero = [[t for t in ts if t == 0] for ts in terms]
                sums = [a + b for a in _strict_unique(zero[0]) for b in _strict_unique(zero[1])]
                if {t for t in terms[0] if t != 0} & {-t for t in terms[1] if t != 0}:
                    sums.append(0.0)  # (the type may be int: then one of the sums is 0.0 too)
            return _strict_unique(z for z in sums if _is_float_zero(z))
        if isinstance(expr, rn.Map):
            vals = self.typed_values_of(expr.inner.unique_id)
            if vals is None:
                return None
            outs = []
            for v in vals:
                try:
                    outs.append(expr.f(v))
                except Exception:  # noqa: BLE001 — reported by the value-set rule
                    continue
            return _strict_unique(z for z in outs if _is_float_zero(z))
        if isinstance(expr, rn.Aggregate):
            # a mean is sum(selected) / n, and sum starts at the int 0: never -0.0
            zeros = []
            if not self.never_selects(expr.selector):
                inner = self.values_of(expr.sop.unique_id)
                nums = [float(v) for v in inner or () if _is_number(v)]
                if inner is None or (nums and min(nums) <= 0.0 <= max(nums)):
                    zeros.append(0.0)
            empty = self.never_selects(expr.selector) or not self.never_empty(expr.selector)
            if empty and _is_float_zero(expr.default):
                zeros.append(expr.default)
            return _strict_unique(zeros)
        return None

    def typed_values_of(self, node_id: int) -> Optional[tuple]:
        """Every Python value the SOp can hold (numerical: all typed variants per number)."""
        b = self.bases[node_id]
        if b.typed:
            return tuple(v for vs in b.typed.values() for v in vs)
        return b.values

    # -- relational value sets: per position ---------------------------------------------------
    # The value of a prefix mean at position i is k/(i+1): two such SOps share the denominator
    # at every position. Their global value sets (all fractions with denominators <= n) are
    # independent; combining them pair by pair gives ~n^4 pairs and far more values than they
    # can take together. Per-position value sets keep that relation: a LinearSequenceMap
    # combines only the values the two SOps can hold at the same position.
    def positional(self, node_id: int) -> Optional[list]:
        """The per-position value sets (sorted float arrays, positions 0..max_seq_len-1) of a
        numerical SOp whose values depend on its position in a known way: a numerical
        Aggregate whose selector selects a position-determined number of keys (a Select of
        indices against indices), or a LinearSequenceMap with such an operand (the other
        operand's global value set at every position). None otherwise (then the SOp's global
        value set stands at every position). Used only where combining independent value
        sets is too large (`_sequence_map_values`), so every program that compiled before
        gets the same value sets."""
        if node_id not in self._positional:
            self._positional[node_id] = None  # (no recursion through a cycle)
            self._positional[node_id] = self._compute_positional(node_id)
        return self._positional[node_id]

    def _compute_positional(self, node_id: int) -> Optional[list]:
        expr = self.graph.node(node_id).expr
        if not rn.is_numerical(expr):
            return None
        if isinstance(expr, rn.Aggregate):
            return self._positional_aggregate(expr)
        if isinstance(expr, rn.LinearSequenceMap):
            return self._positional_linear(expr)
        return None

    def _widths_by_position(self, sel) -> Optional[list]:
        """For a Select of `indices` against `indices` (so the selection depends only on the
        positions and the length): per query position q, the set of numbers of keys it selects
        over every length up to max_seq_len (causal: keys k <= q only). None for any other
        selector, or a predicate that raises."""
        if (getattr(sel, "fused_from", None) is not None or not isinstance(sel, rn.Select)
                or not isinstance(sel.keys, rn.IndicesType)
                or not isinstance(sel.queries, rn.IndicesType)):
            return None
        n = self.config.max_seq_len
        out = []
        try:
            for q in range(n):
                hits = [bool(sel.predicate(k, q)) for k in range(n)]
                if self.config.causal:
                    out.append({sum(hits[:q + 1])})
                else:
                    counts = np.cumsum(hits)  # counts[L-1]: keys selected at length L
                    out.append(set(counts[q:].tolist()))
        except Exception:  # noqa: BLE001 — a user predicate; reported where it is lowered
            return None
        return out

    def _positional_aggregate(self, expr) -> Optional[list]:
        widths = self._widths_by_position(expr.selector)
        inner = self.values_of(expr.sop.unique_id)
        if widths is None or inner is None or not all(_is_number(v) for v in inner):
            return None
        if sum(len(w) for w in widths) * max(len(inner), 1) > MAX_POSITIONAL_ENTRIES:
            return None
        means = _means_by_count(inner, {c for w in widths for c in w if c > 0})
        if means is None:
            return None
        out = []
        for w in widths:
            parts = [means[c] for c in w if c > 0]
            if 0 in w and expr.default is not None:
                parts.append(np.array([float(expr.default)]))
            out.append(np.unique(np.concatenate(parts)) if parts else np.zeros(0))
        if sum(len(p) for p in out) > MAX_POSITIONAL_ENTRIES:
            return None
        return out

    def _positional_linear(self, expr) -> Optional[list]:
        """a·x + b·y combined per position, when one side (at least) has per-position sets."""
        if expr.fst is expr.snd:
            return None
        known = [self.positional(c.unique_id) for c in (expr.fst, expr.snd)]
        if known == [None, None]:
            return None
        sides = []
        for child, per_position in zip((expr.fst, expr.snd), known):
            values = self.values_of(child.unique_id)
            if values is None:
                return None
            sides.append(per_position or
                         [np.array([float(v) for v in values])] * self.config.max_seq_len)
        if sum(len(x) * len(y) for x, y in zip(*sides)) > MAX_POSITIONAL_PAIRS:
            return None
        return [np.unique(np.round(np.add.outer(expr.fst_fac * x, expr.snd_fac * y), 12))
                for x, y in zip(*sides)]

    # -- None (no value) ------------------------------------------------------------------------
    def none_from_children(self, expr) -> bool:
        """None flows in: a Map/SequenceMap of a None is None; an Aggregate that selects a
        None is None, and one with default None is None where it selects nothing."""
        if isinstance(expr, rn.Full):
            return expr.fill is None
        if isinstance(expr, rn.Map):
            return self.bases[expr.inner.unique_id].may_be_none
        if isinstance(expr, rn.SequenceMap):
            return any(self.bases[c.unique_id].may_be_none for c in (expr.fst, expr.snd))
        if isinstance(expr, rn.Aggregate):
            empty = expr.default is None and not self.never_empty(expr.selector)
            return empty or self.bases[expr.sop.unique_id].may_be_none
        if isinstance(expr, LoopVar):
            return self.loop_state.get(expr.unique_id, ((), False))[1]
        return False

    def same_at_every_position(self, a, b) -> bool:
        """Two SOps provably equal at every position: the same node, or two Maps/SequenceMaps
        of the same inputs whose functions agree on every reachable argument (the compiler's
        own rewrites build such twins, e.g. the tuple keys and queries of a SelectorOr)."""
        if a is b:
            return True
        if type(a) is not type(b) or not isinstance(a, (rn.Map, rn.SequenceMap)):
            return False
        if any(x is not y for x, y in zip(a.children, b.children)):
            return False
        if any(c.unique_id not in self.bases for c in a.children):
            return False
        domains = [self.values_of(c.unique_id) for c in a.children]
        if any(d is None for d in domains):
            return False
        args = [(x,) for x in domains[0]] if len(domains) == 1 else \
            [(x, y) for x in domains[0] for y in domains[1]]
        if len(args) > 100_000:
            return False
        fa = self.apply(a.label, a.f, args)
        fb = self.apply(b.label, b.f, args)
        return fa.keys() == fb.keys() and all(same_value(fa[k], fb[k]) for k in fa)

    def never_empty(self, sel) -> bool:
        """A selector that selects at least one key for every query (causal masks included:
        they keep the diagonal): one true on every value pair, or one that selects the query's
        own position; an Or with such a side; an And of selectors that all select the query's
        own position, or of an everywhere-true one with a never-empty one."""
        if getattr(sel, "fused_from", None) is not None:
            return self.never_empty(sel.fused_from)  # a SelectorOr/Not fused by graph.rewrite
        if isinstance(sel, rn.SelectorOr):
            return self.never_empty(sel.fst) or self.never_empty(sel.snd)
        if isinstance(sel, rn.SelectorAnd):
            return (self.selects_itself(sel) or (self._always(sel.fst) and self.never_empty(sel.snd))
                    or (self.never_empty(sel.fst) and self._always(sel.snd)))
        return self._always(sel) or self.selects_itself(sel)

    def never_selects(self, sel) -> bool:
        """A selector that selects no key for any query: a Select false on every reachable value
        pair; an And with such a side; an Or of two such (its Aggregates always give their
        default, its SelectorWidths 0)."""
        if getattr(sel, "fused_from", None) is not None:
            return self.never_selects(sel.fused_from)
        if isinstance(sel, rn.SelectorAnd):
            return self.never_selects(sel.fst) or self.never_selects(sel.snd)
        if isinstance(sel, rn.SelectorOr):
            return self.never_selects(sel.fst) and self.never_selects(sel.snd)
        return self._truths(sel) == {False}

    def selects_itself(self, sel) -> bool:
        """Every query selects its own position: a Select whose keys equal its queries at every
        position and whose predicate holds on the diagonal; an And of such; an Or with one."""
        if getattr(sel, "fused_from", None) is not None:
            return self.selects_itself(sel.fused_from)
        if isinstance(sel, rn.SelectorAnd):
            return self.selects_itself(sel.fst) and self.selects_itself(sel.snd)
        if isinstance(sel, rn.SelectorOr):
            return self.selects_itself(sel.fst) or self.selects_itself(sel.snd)
        if not isinstance(sel, rn.Select) or not self.same_at_every_position(sel.keys, sel.queries):
            return False
        return self._truths(sel, diagonal=True) == {True}

    def _always(self, sel) -> bool:
        """A Select (or And/Or of Selects) whose predicate holds on every reachable value pair."""
        if getattr(sel, "fused_from", None) is not None:
            return self._always(sel.fused_from)
        if isinstance(sel, rn.SelectorAnd):
            return self._always(sel.fst) and self._always(sel.snd)
        if isinstance(sel, rn.SelectorOr):
            return self._always(sel.fst) or self._always(sel.snd)
        return self._truths(sel) == {True}

    def _truths(self, sel, diagonal: bool = False) -> Optional[set]:
        """The values a Select's predicate takes on every reachable (key, query) value pair (on
        (k, k) only with `diagonal`), or None when unknown: not a Select, a value set unknown
        or too large, or the predicate raises (reported where the selector is lowered)."""
        if not isinstance(sel, rn.Select):
            return None
        if sel.keys.unique_id not in self.bases or sel.queries.unique_id not in self.bases:
            return None  # a leaf of a fused composite whose inputs the rewrite replaced
        keys = self.values_of(sel.keys.unique_id)
        queries = keys if diagonal else self.values_of(sel.queries.unique_id)
        if keys is None or queries is None:
            return None
        pairs = [(k, k) for k in keys] if diagonal else [(k, q) for q in queries for k in keys]
        if not pairs or len(pairs) > 100_000:
            return None
        try:
            return {bool(sel.predicate(k, q)) for k, q in pairs}
        except Exception:  # noqa: BLE001 — a user predicate; only a proof counts
            return None

    def none_problems(self, gnode, encoding: str, may_be_none: bool) -> None:
        """Refuse what the residual cannot represent: a numerical None (its direction would
        read 0.0), and a categorical Aggregate that may average a None (an all-zero one-hot)
        together with copies of a value, which reads as that value, not as None."""
        expr = gnode.expr
        if encoding == "numerical" and may_be_none:
            why = ("its function returns None on a reachable value" if self.returned_none
                   else "an input it reads can be None")
            self.fail(gnode.label, f"is numerical but can be None ({why}); a numerical residual "
                      "direction has no 'no value' state, so the model would output 0.0 where "
                      "the interpreter gives None",
                      "return a number instead of None (e.g. 0), or make the SOp categorical")
        if (isinstance(expr, rn.Aggregate) and encoding == "categorical"
                and self.bases[expr.sop.unique_id].may_be_none
                and not self.selects_at_most_one(expr.selector)):
            self.fail(gnode.label, f"categorical Aggregate of {expr.sop.label!r}, which can be "
                      "None, with a selector that can select several positions: a None selected "
                      "together with copies of a value v averages to most of v's one-hot, so the "
                      "model would output v where the interpreter gives None",
                      f"map None to a value of its own before aggregating, e.g. "
                      f"rasp.Map(lambda x: -1 if x is None else x, {expr.sop.label})")

    def selects_at_most_one(self, sel) -> bool:
        """A selector that provably selects at most one key per query: a Select keyed by
        `indices` (distinct at every position) whose predicate holds for at most one key value
        per query value, or a conjunction with such a Select."""
        if isinstance(sel, rn.SelectorAnd):
            return self.selects_at_most_one(sel.fst) or self.selects_at_most_one(sel.snd)
        if not isinstance(sel, rn.Select) or not isinstance(sel.keys, rn.IndicesType):
            return False
        keys = self.values_of(sel.keys.unique_id) or ()
        queries = self.values_of(sel.queries.unique_id)
        if queries is None:
            return False
        for q in queries:
            hits = self.apply(sel.label, lambda k, q=q: bool(sel.predicate(k, q)),
                              [(k,) for k in keys])
            if sum(map(bool, hits.values())) > 1:
                return False
        return True

    def numeric_bounds(self, gnode) -> tuple[float, float]:
        expr = gnode.expr
        if isinstance(expr, rn.Aggregate):
            inner = self.bases[expr.sop.unique_id]
            lo, hi = inner.bounds if inner.bounds else (min(map(float, inner.values)),
                                                        max(map(float, inner.values)))
            if expr.default is not None:
                lo, hi = min(lo, float(expr.default)), max(hi, float(expr.default))
            return (lo, hi)
        if isinstance(expr, rn.LinearSequenceMap):
            a = self.bases[expr.fst.unique_id].bounds
            b = self.bases[expr.snd.unique_id].bounds
            ends = [expr.fst_fac * x + expr.snd_fac * y for x in a for y in b]
            return (min(ends), max(ends))
        return (0.0, 0.0)

    def infer(self, gnode) -> Optional[tuple]:
        """The value set of one SOp: its class's VALUE_RULES entry (a subclass of a node class
        gets its nearest base's rule)."""
        for cls in type(gnode.expr).__mro__:
            rule = VALUE_RULES.get(cls)
            if rule is not None:
                return rule(self, gnode)
        return ()

    # -- fusion -----------------------------------------------------------------------------
    def fuse_maps(self) -> None:
        graph = self.graph
        for node_id in graph.order:
            gnode = graph.node(node_id)
            expr = gnode.expr
            if not isinstance(expr, rn.Map) or node_id == graph.output \
                    or node_id in graph.extra_roots:  # read by blocks outside the graph
                continue
            inner_basis = self.bases[expr.inner.unique_id]
            if inner_basis.encoding != "categorical" or not gnode.consumers:
                continue
            me = self.bases[node_id]
            if all(self._can_absorb(graph.node(c).expr, expr, me) for c in gnode.consumers):
                base_id = inner_basis.base if inner_basis.virtual else inner_basis.id
                # flat, None-propagating composition: thousands of fused Maps do not recurse
                fn = rn.compose(inner_basis.fn, expr.f) if inner_basis.virtual else expr.f
                self.bases[node_id] = NodeBasis(me.id, me.label, me.encoding, me.values,
                                                me.bounds, base=base_id, fn=fn)

    @staticmethod
    def _can_absorb(consumer, expr, me: NodeBasis) -> bool:
        if isinstance(consumer, rn.Select):
            return me.encoding == "categorical"
        if isinstance(consumer, rn.Aggregate):
            return consumer.sop is expr and not (
                rn.is_categorical(consumer) and me.encoding == "numerical")
        if isinstance(consumer, rn.SequenceMap):
            if isinstance(consumer, rn.LinearSequenceMap) and rn.is_numerical(consumer):
                return False
            return me.encoding == "categorical"
        if isinstance(consumer, rn.Map):
            return me.encoding == "categorical"
        return False


# -- value-set rules, one per node class: rule(inference, gnode) -> sorted values, None when
# -- unknown (numerical only), () after reporting a problem ----------------------------------
def _tokens_values(inf: _Inference, gnode) -> Optional[tuple]:
    return _sorted(inf.config.vocab)


def _indices_values(inf: _Inference, gnode) -> Optional[tuple]:
    return tuple(range(inf.config.max_seq_len))


def _length_values(inf: _Inference, gnode) -> Optional[tuple]:
    return tuple(range(1, inf.config.max_seq_len + 1))


def _full_values(inf: _Inference, gnode) -> Optional[tuple]:
    return (gnode.expr.fill,)


def _map_values(inf: _Inference, gnode) -> Optional[tuple]:
    expr = gnode.expr
    inner = inf.typed_values_of(expr.inner.unique_id)
    if inner is None:
        inf.fail(gnode.label, f"Map of {expr.inner.label!r}, whose set of values is "
                 f"too large to enumerate (> {MAX_NUMERICAL_VALUES})",
                 "reduce max_seq_len or the value range")
        return ()
    out = inf.apply(gnode.label, expr.f, [(v,) for v in inner])
    return _sorted(v for v in out.values() if v is not None)


def _sequence_map_values(inf: _Inference, gnode) -> Optional[tuple]:
    expr = gnode.expr
    xs = inf.values_of(expr.fst.unique_id)
    ys = inf.values_of(expr.snd.unique_id)
    if isinstance(expr, rn.LinearSequenceMap) and rn.is_numerical(expr):
        if xs is None or ys is None:
            return None
        if len(xs) * len(ys) > MAX_LINEAR_PAIRS and expr.fst is not expr.snd:
            # too many independent pairs: combine only values that can meet at one position
            per_position = inf.positional(gnode.id)
            if per_position is None:
                return None
            return tuple(np.unique(np.concatenate(per_position)).tolist())
        # Vectorised: a·x + b·y over all pairs (fractions from frac_prevs give ~10^6).
        x = np.array([float(v) for v in xs])
        y = np.array([float(v) for v in ys]) if expr.fst is not expr.snd else None
        z = (expr.fst_fac + expr.snd_fac) * x if y is None else \
            np.add.outer(expr.fst_fac * x, expr.snd_fac * y).ravel()
        return tuple(np.unique(np.round(z, 12)).tolist())
    if xs is None or ys is None:
        return ()  # validate() already rejects numerical inputs to SequenceMap
    if expr.fst is expr.snd:
        pairs = [(x, x) for x in xs]
    else:
        check_value_pairs(gnode.label, len(xs) * len(ys), inf.config)
        pairs = [(x, y) for x in xs for y in ys]
    out = inf.apply(gnode.label, expr.f, pairs)
    return _sorted(v for v in out.values() if v is not None)


def _selector_width_values(inf: _Inference, gnode) -> Optional[tuple]:
    n = inf.config.max_seq_len
    lo, hi = 0, n
    sel = gnode.expr.selector
    if isinstance(sel, rn.Select) and sel.keys is sel.queries:
        own = inf.values_of(sel.keys.unique_id) or ()
        diag = inf.apply(gnode.label, sel.predicate, [(v, v) for v in own])
        if diag and all(diag.values()):
            lo = 1  # every query selects itself
        if diag and not any(diag.values()):
            hi = n - 1  # no query selects itself
    return tuple(range(lo, hi + 1))


def _aggregate_values(inf: _Inference, gnode) -> Optional[tuple]:
    expr = gnode.expr
    if inf.never_selects(expr.selector):  # always the default (None: no value at all)
        return () if expr.default is None else (expr.default,)
    inner = inf.values_of(expr.sop.unique_id)
    if rn.is_numerical(expr):
        if inner is None:
            return None
        bad = [v for v in inner if not _is_number(v)]
        if bad:
            inf.fail(gnode.label, f"numerical Aggregate of {expr.sop.label!r}, which can "
                     f"hold the non-numbers {bad[:5]!r:.60}; a mean needs numbers",
                     f"make the Aggregate categorical, or Map {expr.sop.label!r} to "
                     "numbers first")
            return ()
        means = _means(inner, inf.config.max_seq_len)
        if means is None:
            return None
        if expr.default is not None and not inf.never_empty(expr.selector):
            means = _sorted(means + (expr.default,))  # typed: 0 where empty, 0.0 a mean
        return means
    extra = () if expr.default is None or inf.never_empty(expr.selector) else (expr.default,)
    return _sorted((inner or ()) + extra)


def _no_values(inf: _Inference, gnode) -> Optional[tuple]:
    """ConstantSOp and Loop nodes (refused by validate, or replaced by their state in a looped
    compile, before inference) and selectors (which hold no value set: `_Inference.run` gives
    them an empty basis without asking for values)."""
    return ()


def _loop_var_values(inf: _Inference, gnode) -> Optional[tuple]:
    """A loop's state: the value set the looped compile gives it (`compiler.looped`: declared,
    or the fixed point of the body from the initial values)."""
    return _sorted(inf.loop_state.get(gnode.id, ((), False))[0])


#: The value-set rule of each node class (see the rules above).
VALUE_RULES: Mapping[type, Callable[[_Inference, Any], Optional[tuple]]] = MappingProxyType({
    rn.TokensType: _tokens_values, rn.IndicesType: _indices_values,
    rn.LengthType: _length_values, rn.Full: _full_values, rn.Map: _map_values,
    rn.SequenceMap: _sequence_map_values, rn.LinearSequenceMap: _sequence_map_values,
    rn.SelectorWidth: _selector_width_values, rn.Aggregate: _aggregate_values,
    rn.ConstantSOp: _no_values, rn.Select: _no_values, rn.ConstantSelector: _no_values,
    rn.SelectorAnd: _no_values, rn.SelectorOr: _no_values, rn.SelectorNot: _no_values,
    Loop: _no_values, LoopVar: _loop_var_values,
})


def infer_bases(graph: ProgramGraph, config: CompileConfig,
                loop_state: Optional[Mapping[int, tuple[tuple, bool]]] = None
                ) -> BasisAssignment:
    """Value sets and encodings of every SOp; fused Maps marked virtual.

    `loop_state` gives each LoopVar (by node id) its (values, may_be_none) in a looped compile.

    Raises:
        UnsupportedProgram: listing every node whose values cannot be inferred or encoded.
    """
    inference = _Inference(graph, config, loop_state)
    inference.run()
    if inference.problems:
        raise UnsupportedProgram(
            "cannot compile: " + "; ".join(str(p) for p in inference.problems),
            inference.problems)
    return BasisAssignment(graph=graph, nodes=inference.bases)
