"""Hypothesis strategies for RASP programs, vocabularies, inputs and compiled models.

Generated programs are *compilable by construction*: `rasp.validate(program, vocab,
max_seq_len) == []`, every Map/SequenceMap/Select function is total on the value set of its
inputs, value sets stay small (the compiler builds one one-hot direction per value), and the
reference interpreter never raises on any input up to `max_seq_len` (categorical aggregates use
selectors that pick at most one position, or whose selected values are provably equal).

Programs are drawn bottom-up: a pool starts as [tokens, indices, length] and each step adds one
SOp whose operands come from the pool, so shared sub-expressions (DAGs) appear naturally. They
shrink toward fewer steps, the simplest node kinds, and `tokens` as the operand.

Example:
    >>> from hypothesis import given
    >>> from theory_kit import rasp
    >>> from theory_kit.testing import strategies as tks
    >>> @given(tks.programs(vocab={1, 2, 3}, max_seq_len=4))
    ... def test_runs(program):
    ...     assert len(rasp.evaluate(program, [1, 2])) == 2
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

import numpy
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from theory_kit.errors import EvaluationError, InvalidInput
from theory_kit.rasp import nodes as n
from theory_kit.rasp.interpreter import evaluate
from theory_kit.rasp.validate import check_vocab
from theory_kit.testing import functions as fx

__all__ = ["vocabularies", "programs", "inputs", "compiled_models", "MAX_CATEGORICAL_VALUES",
           "MAX_NUMERICAL_VALUES", "NODE_KINDS"]

#: Largest value set a generated categorical SOp may have (one residual direction per value).
MAX_CATEGORICAL_VALUES = 8
#: Largest value set a numerical SOp may have and still feed a discretising MLP.
MAX_NUMERICAL_VALUES = 40
#: Largest value set a numerical Aggregate may average (its output set grows combinatorially).
MAX_AGGREGATED_VALUES = 4

_INT_TOKENS = tuple(range(10))
_STR_TOKENS = tuple("abcdefghij")
_VOCAB_KINDS = ("int", "str")

#: The kinds of step the program generator takes, simplest first (hypothesis shrinks toward
#: the front). "num" marks the numerically encoded variants.
NODE_KINDS = (
    "map", "sequence_map", "aggregate", "selector_width", "full", "map_cat_to_num",
    "aggregate_num", "map_num_to_num", "map_num_to_cat", "linear_sequence_map",
)
_NUMERICAL_KINDS = frozenset(
    ["map_cat_to_num", "aggregate_num", "map_num_to_num", "map_num_to_cat",
     "linear_sequence_map"])


# ------------------------------------------------------------------------------------------
# Argument validation (principle 12: strategies are library code)
# ------------------------------------------------------------------------------------------


def _int_arg(where: str, name: str, value: Any, *, low: int, high: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)):
        raise InvalidInput(f"{where}: {name} must be an int, got {type(value).__name__} {value!r:.60}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise InvalidInput(f"{where}: {name} must be {bounds}, got {value}")
    return value


def _bool_arg(where: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, numpy.bool_)):
        raise InvalidInput(f"{where}: {name} must be True or False, got {value!r:.60}")
    return bool(value)


def _vocab_arg(where: str, vocab: Any) -> frozenset:
    if vocab is None:
        raise InvalidInput(f"{where}: vocab is required, e.g. vocab={{1, 2, 3}}")
    problems = check_vocab(vocab)
    if problems:
        raise InvalidInput(f"{where}: vocab " + "; ".join(p.reason for p in problems))
    items = list(vocab)
    if any(isinstance(t, bool) for t in items):
        raise InvalidInput(f"{where}: vocab must not contain bools (True == 1 would merge "
                           f"one-hot directions), got {items!r:.60}")
    return frozenset(items)


def _max_seq_len_arg(where: str, value: Any) -> int:
    return _int_arg(where, "max_seq_len", value, low=1, high=64)


# ------------------------------------------------------------------------------------------
# vocabularies
# ------------------------------------------------------------------------------------------


def vocabularies(*, min_size: int = 1, max_size: int = 4,
                 kinds: Iterable[str] = _VOCAB_KINDS) -> SearchStrategy[frozenset]:
    """Vocabularies: frozensets of small ints (0..9) or single lowercase letters ('a'..'j').

    Args:
        min_size: fewest tokens (>= 1).
        max_size: most tokens (<= 10).
        kinds: which token kinds to draw from, a non-empty subset of ("int", "str"). One kind
            is used per vocabulary.

    Returns:
        A strategy of frozensets; shrinks toward {0} (or {'a'}).

    Raises:
        InvalidInput: a bad argument (the message names it).

    Example:
        >>> vocabularies(max_size=3).example()  # doctest: +SKIP
        frozenset({0, 2, 5})
    """
    where = "vocabularies"
    min_size = _int_arg(where, "min_size", min_size, low=1, high=10)
    max_size = _int_arg(where, "max_size", max_size, low=1, high=10)
    if max_size < min_size:
        raise InvalidInput(f"{where}: max_size ({max_size}) must be >= min_size ({min_size})")
    if isinstance(kinds, str) or not isinstance(kinds, Iterable):
        raise InvalidInput(f"{where}: kinds must be a tuple of kind names like ('int', 'str'), "
                           f"got {kinds!r:.60}")
    kinds = tuple(kinds)
    bad = [k for k in kinds if k not in _VOCAB_KINDS]
    if not kinds or bad:
        raise InvalidInput(f"{where}: kinds must be a non-empty subset of {_VOCAB_KINDS}, "
                           f"got {kinds!r:.60}")

    def of_kind(kind: str) -> SearchStrategy[frozenset]:
        pool = _INT_TOKENS if kind == "int" else _STR_TOKENS
        return st.lists(st.sampled_from(pool), min_size=min_size, max_size=max_size,
                        unique=True).map(frozenset)

    return st.sampled_from(kinds).flatmap(of_kind)


# ------------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------------


def inputs(program: Optional[n.RASPExpr] = None, *, vocab: Any, max_seq_len: int,
           min_len: int = 1) -> SearchStrategy[list]:
    """Input sequences (lists of tokens from `vocab`, no BOS) of length min_len..max_seq_len.

    Args:
        program: when given, only inputs on which `rasp.evaluate(program, xs)` succeeds are
            drawn (useful for hand-written programs that are partial).
        vocab: the tokens to draw from.
        max_seq_len: the longest input.
        min_len: the shortest input (0 allows the empty input, which is valid everywhere).

    Returns:
        A strategy of lists; shrinks toward short lists of the smallest token.

    Raises:
        InvalidInput: a bad argument (the message names it).

    Example:
        >>> inputs(vocab={1, 2}, max_seq_len=3).example()  # doctest: +SKIP
        [2, 1]
    """
    where = "inputs"
    tokens = fx.sorted_values(_vocab_arg(where, vocab))
    max_seq_len = _max_seq_len_arg(where, max_seq_len)
    min_len = _int_arg(where, "min_len", min_len, low=0, high=max_seq_len)
    if program is not None and not isinstance(program, n.RASPExpr):
        raise InvalidInput(f"{where}: program must be a RASP expression or None, got "
                           f"{type(program).__name__} {program!r:.60}")
    strategy = st.lists(st.sampled_from(tokens), min_size=min_len, max_size=max_seq_len)
    if program is None:
        return strategy

    def evaluates(xs: list) -> bool:
        try:
            evaluate(program, xs)
        except EvaluationError:
            return False
        return True

    return strategy.filter(evaluates)


# ------------------------------------------------------------------------------------------
# programs
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SOpInfo:
    """What the generator knows about one pool SOp (all facts are over-approximations)."""

    node: n.SOp
    values: frozenset           # every value it can take (None excluded)
    numerical: bool
    may_be_none: bool           # a categorical aggregate may select nothing
    uniform: bool               # equal at every position of any input
    roots: frozenset            # unique_ids of SOps this is a position-wise function of
    depth: int


@dataclass(frozen=True)
class _SelectorInfo:
    node: n.Selector
    at_most_one: bool           # every query selects <= 1 key
    at_least_one: bool          # every query selects >= 1 key (even causally)
    equal_roots: frozenset      # unique_ids of SOps whose selected values are all equal
    depth: int


def _mixed(values: Iterable[Any]) -> bool:
    kinds = {isinstance(v, str) for v in values}
    return len(kinds) > 1


def _apply_unary(fn, values: frozenset, *, numerical_out: bool, cap: int) -> Optional[frozenset]:
    """The image of `values` under `fn`, or None if fn is not total/small/well-typed on it."""
    out = set()
    for v in values:
        try:
            y = fn(v)
            hash(y)
        except Exception:  # noqa: BLE001 - a function partial on this value set is skipped
            return None
        if not _good_value(y, numerical_out):
            return None
        out.add(y)
    if len(out) > cap or _mixed(out):
        return None
    return frozenset(out)


def _apply_binary(fn, xs: frozenset, ys: frozenset, *, cap: int) -> Optional[frozenset]:
    out = set()
    for x, y in itertools.product(xs, ys):
        try:
            z = fn(x, y)
            hash(z)
        except Exception:  # noqa: BLE001
            return None
        if not _good_value(z, False):
            return None
        out.add(z)
        if len(out) > cap:
            return None
    if _mixed(out):
        return None
    return frozenset(out)


def _good_value(y: Any, numerical: bool) -> bool:
    if y is None:
        return False
    if numerical:
        return isinstance(y, (bool, int, float)) and math.isfinite(y)
    if isinstance(y, float):
        return math.isfinite(y)
    return isinstance(y, (bool, int, str))


def _predicate_ok(pred, keys: frozenset, queries: frozenset) -> bool:
    for k, q in itertools.product(keys, queries):
        try:
            r = pred(k, q)
        except Exception:  # noqa: BLE001
            return False
        if not isinstance(r, (bool, numpy.bool_)):
            return False
    return True


def _mean_values(values: frozenset, max_seq_len: int, default: float) -> frozenset:
    out = {default}
    ordered = fx.sorted_values(values)
    for m in range(1, max_seq_len + 1):
        for combo in itertools.combinations_with_replacement(ordered, m):
            out.add(sum(combo) / m)
    return frozenset(out)


class _Builder:
    """Draws one program bottom-up; every `draw` goes through hypothesis so it shrinks."""

    def __init__(self, draw, *, vocab: frozenset, max_seq_len: int, max_depth: int,
                 numerical: bool, causal: bool):
        self.draw = draw
        self.vocab = vocab
        self.max_seq_len = max_seq_len
        self.max_depth = max_depth
        self.numerical = numerical
        self.causal = causal
        self.counter = itertools.count(1)
        self.selectors: list[_SelectorInfo] = []
        n_range = frozenset(range(max_seq_len))
        self.pool: list[_SOpInfo] = [
            _SOpInfo(n.tokens, frozenset(vocab), False, False, False,
                     frozenset([n.tokens.unique_id]), 0),
            _SOpInfo(n.indices, n_range, False, False, False,
                     frozenset([n.indices.unique_id]), 0),
            _SOpInfo(n.length, frozenset(range(1, max_seq_len + 1)), False, False, not causal,
                     frozenset([n.length.unique_id]), 0),
        ]

    # -- pool queries -----------------------------------------------------------------------
    def _candidates(self, *, numerical: bool, allow_none: bool = True,
                    max_values: Optional[int] = None) -> list[_SOpInfo]:
        return [e for e in self.pool
                if e.numerical == numerical and e.depth < self.max_depth
                and (allow_none or not e.may_be_none)
                and (max_values is None or len(e.values) <= max_values)]

    def _pick(self, candidates: list, *, latest_bias: int = 1):
        """An operand: the most recently built candidate with probability
        latest_bias/(latest_bias+1) (keeps the DAG connected, so few drawn nodes are dead),
        else a uniform choice; shrinks to the first candidate (tokens)."""
        newest = candidates[-1]
        built = not any(newest.node is p for p in (n.tokens, n.indices, n.length))
        if built and len(candidates) > 1 and self.draw(st.integers(0, latest_bias)) > 0:
            return newest
        return self.draw(st.sampled_from(candidates))

    def _name(self, text: str) -> str:
        return f"{text}#{next(self.counter)}"

    def _choose_function(self, table, values: frozenset, *, numerical_out: bool, cap: int):
        """A (NamedFunction, image) pair drawn from the entries of `table` total on `values`."""
        usable = []
        ordered = fx.sorted_values(values)
        for entry in table:
            probe = entry.bind(ordered[0]) if isinstance(entry, fx.FunctionFamily) else entry
            if _apply_unary(probe, values, numerical_out=numerical_out, cap=cap) is not None:
                usable.append(entry)
        entry = self.draw(st.sampled_from(usable))
        if isinstance(entry, fx.FunctionFamily):
            fn = entry.bind(self.draw(st.sampled_from(ordered)))
            image = _apply_unary(fn, values, numerical_out=numerical_out, cap=cap)
            if image is None:  # e.g. x<v with a v of another type: fall back to the probe
                fn = entry.bind(ordered[0])
                image = _apply_unary(fn, values, numerical_out=numerical_out, cap=cap)
        else:
            fn = entry
            image = _apply_unary(fn, values, numerical_out=numerical_out, cap=cap)
        assert image is not None
        return fn, image

    def _add(self, info: _SOpInfo) -> _SOpInfo:
        self.pool.append(info)
        return info

    # -- selectors --------------------------------------------------------------------------
    def _select(self, keys: _SOpInfo, queries: _SOpInfo, pred) -> _SelectorInfo:
        node = n.Select(keys.node, queries.node, pred).named(
            self._name(f"select[{fx.describe_function(pred)}]"))
        at_most_one = keys.node is n.indices and pred in fx.FUNCTIONAL_PREDICATES
        at_least_one = keys.node is queries.node and pred in fx.REFLEXIVE_PREDICATES
        equal_roots = frozenset([keys.node.unique_id]) if pred is n.Comparison.EQ else frozenset()
        info = _SelectorInfo(node, at_most_one, at_least_one, equal_roots,
                             max(keys.depth, queries.depth))
        self.selectors.append(info)
        return info

    def _leaf_select(self) -> _SelectorInfo:
        cands = self._candidates(numerical=False, allow_none=False)
        keys = self._pick(cands)
        queries = self._pick(cands)
        preds = [p for p in fx.PREDICATES if _predicate_ok(p, keys.values, queries.values)]
        return self._select(keys, queries, self.draw(st.sampled_from(preds)))

    def _selector(self, budget: int = 1) -> _SelectorInfo:
        options = ["select"]
        if budget > 0:
            options += ["and", "or", "not"]
        elif budget == 0:
            options.append("not")  # Not(Select) keeps SelectorNot well covered
        reusable = [s for s in self.selectors if s.depth < self.max_depth]
        if reusable:
            options.append("reuse")
        choice = self.draw(st.sampled_from(options))
        if choice == "select":
            return self._leaf_select()
        if choice == "reuse":
            return self.draw(st.sampled_from(reusable))
        if choice == "not":
            inner = self._selector(budget - 1)
            node = n.SelectorNot(inner.node).named(self._name("not"))
            info = _SelectorInfo(node, False, False, frozenset(), inner.depth)
        else:
            a = self._selector(budget - 1)
            b = self._selector(budget - 1)
            if choice == "and":
                node = n.SelectorAnd(a.node, b.node).named(self._name("and"))
                info = _SelectorInfo(node, a.at_most_one or b.at_most_one, False,
                                     a.equal_roots | b.equal_roots, max(a.depth, b.depth))
            else:
                node = n.SelectorOr(a.node, b.node).named(self._name("or"))
                info = _SelectorInfo(node, False, a.at_least_one or b.at_least_one, frozenset(),
                                     max(a.depth, b.depth))
        self.selectors.append(info)
        return info

    def _maybe_and(self, base: _SelectorInfo) -> _SelectorInfo:
        """Optionally intersect with another selector (keeps at-most-one and equal values)."""
        if not self.draw(st.booleans()):
            return base
        # Any selector may be intersected in: a subset of an at-most-one (or equal-valued)
        # selection keeps that property, so Or/Not appear here too.
        other = self._selector(1)
        if self.draw(st.booleans()):
            fst, snd = base, other
        else:
            fst, snd = other, base
        node = n.SelectorAnd(fst.node, snd.node).named(self._name("and"))
        info = _SelectorInfo(node, base.at_most_one or other.at_most_one, False,
                             base.equal_roots | other.equal_roots, max(fst.depth, snd.depth))
        self.selectors.append(info)
        return info

    # -- steps ------------------------------------------------------------------------------
    def available_kinds(self) -> list[str]:
        kinds = ["map", "sequence_map", "aggregate", "selector_width", "full"]
        if self.numerical and self.max_depth < 2:
            kinds.append("map_cat_to_num")
        if self.numerical and self.max_depth >= 2:
            # Always available: a missing numerical operand is made on the fly (a categorical
            # -> numerical Map), which keeps numerical nodes frequent in generated programs.
            kinds += ["map_cat_to_num", "aggregate_num", "map_num_to_num", "map_num_to_cat",
                      "linear_sequence_map"]
        return kinds

    def _numerical_operands(self, max_values: int) -> list[_SOpInfo]:
        cands = self._candidates(numerical=True, allow_none=False, max_values=max_values)
        if not cands:
            self._step_map_cat_to_num(cap=max_values)
            cands = self._candidates(numerical=True, allow_none=False, max_values=max_values)
        return cands

    def step(self, kind: str) -> _SOpInfo:
        return getattr(self, "_step_" + kind)()

    def _step_map(self) -> _SOpInfo:
        x = self._pick(self._candidates(numerical=False), latest_bias=3)
        fn, image = self._choose_function(fx.CATEGORICAL_MAPS, x.values, numerical_out=False,
                                          cap=MAX_CATEGORICAL_VALUES)
        node = n.Map(fn, x.node, simplify=False).named(self._name(fn.name))
        return self._add(_SOpInfo(node, image, False, x.may_be_none, x.uniform,
                                  x.roots | {node.unique_id}, x.depth + 1))

    def _step_sequence_map(self) -> _SOpInfo:
        cands = self._candidates(numerical=False)
        x, y = self._pick(cands, latest_bias=3), self._pick(cands)
        usable = [f for f in fx.SEQUENCE_MAPS
                  if _apply_binary(f, x.values, y.values, cap=MAX_CATEGORICAL_VALUES) is not None]
        fn = self.draw(st.sampled_from(usable))
        image = _apply_binary(fn, x.values, y.values, cap=MAX_CATEGORICAL_VALUES)
        node = n.SequenceMap(fn, x.node, y.node).named(self._name(fn.name))
        return self._add(_SOpInfo(node, image, False, x.may_be_none or y.may_be_none,
                                  x.uniform and y.uniform, frozenset([node.unique_id]),
                                  max(x.depth, y.depth) + 1))

    def _step_aggregate(self) -> _SOpInfo:
        """A categorical Aggregate the interpreter can always evaluate (see module doc)."""
        uniform = [e for e in self._candidates(numerical=False) if e.uniform]
        modes = ["one_position", "equal_keys"] + (["uniform_values"] if uniform else [])
        mode = self.draw(st.sampled_from(modes))
        cats = self._candidates(numerical=False)
        if mode == "one_position":
            int_queries = [e for e in self._candidates(numerical=False, allow_none=False)
                           if all(isinstance(v, int) and not isinstance(v, bool) for v in e.values)]
            queries = self._pick(int_queries)
            preds = [p for p in fx.FUNCTIONAL_PREDICATES
                     if _predicate_ok(p, self.pool[1].values, queries.values)]
            selector = self._maybe_and(self._select(self.pool[1], queries,
                                                    self.draw(st.sampled_from(preds))))
            sop = self._pick(cats, latest_bias=3)
        elif mode == "equal_keys":
            plain = self._candidates(numerical=False, allow_none=False)
            keys, queries = self._pick(plain), self._pick(plain)
            selector = self._maybe_and(self._select(keys, queries, n.Comparison.EQ))
            sop = self._pick([e for e in cats if keys.node.unique_id in e.roots])
        else:
            selector = self._selector()
            sop = self._pick(uniform)
        node = n.Aggregate(selector.node, sop.node).named(self._name("aggregate"))
        return self._add(_SOpInfo(
            node, sop.values, False, sop.may_be_none or not selector.at_least_one,
            sop.uniform and selector.at_least_one, frozenset([node.unique_id]),
            max(selector.depth, sop.depth) + 1))

    def _step_selector_width(self) -> _SOpInfo:
        selector = self._selector()
        node = n.SelectorWidth(selector.node).named(self._name("width"))
        return self._add(_SOpInfo(node, frozenset(range(self.max_seq_len + 1)), False, False,
                                  False, frozenset([node.unique_id]), selector.depth + 1))

    def _step_full(self) -> _SOpInfo:
        fills = [0, 1] + [t for t in fx.sorted_values(self.vocab) if t not in (0, 1)]
        fill = self.draw(st.sampled_from(fills))
        numeric = (self.numerical and isinstance(fill, int) and self.draw(st.booleans()))
        node = n.Full(fill).named(self._name(f"full({fill!r})"))
        if numeric:
            node = n.numerical(node)
        return self._add(_SOpInfo(node, frozenset([fill]), numeric, False, True,
                                  frozenset([node.unique_id]), 0))

    def _step_map_cat_to_num(self, cap: int = MAX_NUMERICAL_VALUES) -> _SOpInfo:
        # Operands of depth < max_depth - 1 so that a numerical node can still consume it.
        cands = [e for e in self._candidates(numerical=False, allow_none=False)
                 if e.depth < self.max_depth - 1] or [self.pool[0]]
        x = self._pick(cands, latest_bias=3)
        fn, image = self._choose_function(fx.CATEGORICAL_TO_NUMERICAL_MAPS, x.values,
                                          numerical_out=True, cap=cap)
        node = n.numerical(n.Map(fn, x.node, simplify=False).named(self._name(fn.name)))
        return self._add(_SOpInfo(node, image, True, False, x.uniform,
                                  x.roots | {node.unique_id}, x.depth + 1))

    def _step_aggregate_num(self) -> _SOpInfo:
        selector = self._selector()
        sop = self._pick(self._numerical_operands(MAX_AGGREGATED_VALUES), latest_bias=3)
        node = n.numerical(n.Aggregate(selector.node, sop.node, default=0).named(
            self._name("mean")))
        values = _mean_values(sop.values, self.max_seq_len, 0)
        return self._add(_SOpInfo(node, values, True, False, False, frozenset([node.unique_id]),
                                  max(selector.depth, sop.depth) + 1))

    def _step_map_num_to_num(self) -> _SOpInfo:
        x = self._pick(self._numerical_operands(MAX_NUMERICAL_VALUES), latest_bias=3)
        fn, image = self._choose_function(fx.NUMERICAL_MAPS, x.values, numerical_out=True,
                                          cap=MAX_NUMERICAL_VALUES)
        node = n.numerical(n.Map(fn, x.node, simplify=False).named(self._name(fn.name)))
        return self._add(_SOpInfo(node, image, True, False, x.uniform,
                                  x.roots | {node.unique_id}, x.depth + 1))

    def _step_map_num_to_cat(self) -> _SOpInfo:
        x = self._pick(self._numerical_operands(MAX_NUMERICAL_VALUES), latest_bias=3)
        fn, image = self._choose_function(fx.NUMERICAL_TO_CATEGORICAL_MAPS, x.values,
                                          numerical_out=False, cap=MAX_CATEGORICAL_VALUES)
        node = n.Map(fn, x.node, simplify=False).named(self._name(fn.name))
        return self._add(_SOpInfo(node, image, False, False, x.uniform,
                                  x.roots | {node.unique_id}, x.depth + 1))

    def _step_linear_sequence_map(self) -> _SOpInfo:
        cands = self._numerical_operands(MAX_NUMERICAL_VALUES)
        x, y = self._pick(cands, latest_bias=3), self._pick(cands)
        a = self.draw(st.sampled_from(fx.LINEAR_FACTORS))
        b = self.draw(st.sampled_from(fx.LINEAR_FACTORS))
        node = n.numerical(n.LinearSequenceMap(x.node, y.node, a, b).named(
            self._name(f"{a}*x+{b}*y")))
        image = frozenset(a * u + b * v for u in x.values for v in y.values)
        return self._add(_SOpInfo(node, image, True, False, x.uniform and y.uniform,
                                  frozenset([node.unique_id]), max(x.depth, y.depth) + 1))


def programs(*, vocab: Any, max_seq_len: int, max_depth: int = 4, max_nodes: int = 5,
             numerical: bool = True, causal: bool = False) -> SearchStrategy[n.SOp]:
    """Valid, compilable RASP programs over `vocab` with readable node names.

    Node kinds: Map (categorical->categorical, categorical->numerical, numerical->numerical,
    numerical->categorical), SequenceMap (categorical inputs), LinearSequenceMap (numerical),
    Full, Select (every Comparison and custom predicates such as `k==q-1`), Aggregate
    (categorical, and numerical with default 0), SelectorWidth, SelectorAnd/Or/Not, over
    tokens, indices and length. Functions come from the named tables in
    `theory_kit.testing.functions`, so a program prints as `Map(x%3, tokens)`.

    Args:
        vocab: the input vocabulary the program will be compiled with (value sets depend on it).
        max_seq_len: the longest input it will be compiled for.
        max_depth: the longest chain of SOps from a primitive to the output (>= 1).
        max_nodes: the most SOps the generator adds on top of the primitives (>= 0).
        numerical: whether numerically encoded SOps may appear.
        causal: generate programs the *causal* interpreter never fails on (`length` is then
            the prefix length, so it is not treated as constant across positions).

    Returns:
        A strategy of SOps with `rasp.validate(program, vocab, max_seq_len) == []` whose
        interpreter never raises on inputs over `vocab` up to `max_seq_len`. Shrinks toward
        `tokens`, then short programs of simple Maps of tokens.

    Raises:
        InvalidInput: a bad argument (the message names it).

    Example:
        >>> from theory_kit.testing import format_program
        >>> print(format_program(programs(vocab={0, 1}, max_seq_len=3).example()))  # doctest: +SKIP
        x+1#1 = Map(x+1, tokens)
        aggregate#3 = Aggregate(Select(indices, x+1#1, EQ), tokens)
    """
    where = "programs"
    vocab = _vocab_arg(where, vocab)
    max_seq_len = _max_seq_len_arg(where, max_seq_len)
    max_depth = _int_arg(where, "max_depth", max_depth, low=1, high=32)
    max_nodes = _int_arg(where, "max_nodes", max_nodes, low=0, high=64)
    numerical = _bool_arg(where, "numerical", numerical)
    causal = _bool_arg(where, "causal", causal)

    @st.composite
    def _programs(draw) -> n.SOp:
        builder = _Builder(draw, vocab=vocab, max_seq_len=max_seq_len, max_depth=max_depth,
                           numerical=numerical, causal=causal)
        # A bare primitive is a valid program but a dull one: draw it rarely, and first when
        # shrinking (the zero of this draw).
        if max_nodes == 0 or draw(st.integers(0, 15)) == 0:
            return draw(st.sampled_from([n.tokens, n.indices, n.length]))
        for _ in range(draw(st.integers(1, max_nodes))):
            builder.step(draw(st.sampled_from(builder.available_kinds())))
        # The output is the newest node, skipping constants when something else was built.
        built = builder.pool[3:]
        return next((e.node for e in reversed(built) if not isinstance(e.node, n.Full)),
                    built[-1].node)

    return _programs()


# ------------------------------------------------------------------------------------------
# compiled models
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledCase:
    """A generated program with the model compiled from it and the settings used."""

    program: n.SOp
    model: Any
    vocab: frozenset
    max_seq_len: int
    causal: bool
    dtype: Any = field(default=numpy.float64)


def compiled_models(*, vocab: Any = None, max_seq_len: int = 3, causal: bool = False,
                    numerical: bool = True, max_depth: int = 3, max_nodes: int = 4,
                    dtype: Any = numpy.float64) -> SearchStrategy[CompiledCase]:
    """Generated programs compiled with `theory_kit.compile` (verify=None).

    Args:
        vocab: a vocabulary, a strategy of vocabularies, or None for
            `vocabularies(min_size=1, max_size=3)`.
        max_seq_len: the longest input (small: the compiled width grows with it).
        causal: compile (and generate) for causal attention.
        numerical, max_depth, max_nodes: passed to `programs`.
        dtype: numpy.float64 or numpy.float32.

    Returns:
        A strategy of `CompiledCase(program, model, vocab, max_seq_len, causal, dtype)`.

    Raises:
        InvalidInput: a bad argument (the message names it).

    Example:
        >>> @given(compiled_models(vocab={0, 1}, max_seq_len=3))  # doctest: +SKIP
        ... def test_run(case):
        ...     assert case.model.run([0, 1]) == rasp.evaluate(case.program, [0, 1])
    """
    where = "compiled_models"
    if vocab is None:
        vocab_strategy = vocabularies(min_size=1, max_size=3)
    elif isinstance(vocab, SearchStrategy):
        vocab_strategy = vocab
    else:
        vocab_strategy = st.just(_vocab_arg(where, vocab))
    max_seq_len = _max_seq_len_arg(where, max_seq_len)
    causal = _bool_arg(where, "causal", causal)
    numerical = _bool_arg(where, "numerical", numerical)
    max_depth = _int_arg(where, "max_depth", max_depth, low=1, high=32)
    max_nodes = _int_arg(where, "max_nodes", max_nodes, low=0, high=64)
    if dtype not in (numpy.float64, numpy.float32):
        raise InvalidInput(f"{where}: dtype must be numpy.float64 or numpy.float32, got {dtype!r}")

    @st.composite
    def _compiled(draw) -> CompiledCase:
        import theory_kit

        v = _vocab_arg(where, draw(vocab_strategy))
        program = draw(programs(vocab=v, max_seq_len=max_seq_len, max_depth=max_depth,
                                max_nodes=max_nodes, numerical=numerical, causal=causal))
        model = theory_kit.compile(program, vocab=v, max_seq_len=max_seq_len, causal=causal,
                                   dtype=dtype, verify=None)
        return CompiledCase(program, model, v, max_seq_len, causal, dtype)

    return _compiled()
