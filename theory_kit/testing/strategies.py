"""Hypothesis strategies for RASP programs, vocabularies, inputs and compiled models.

Generated programs are *compilable by construction*: `rasp.validate(program, vocab,
max_seq_len) == []`, every Map/SequenceMap/Select function is total on the value set of its
inputs, value sets stay small (the compiler builds one one-hot direction per value), and the
reference interpreter never raises on any input up to `max_seq_len` (categorical aggregates use
selectors that pick at most one position, or whose selected values are provably equal).

Programs are drawn bottom-up: a pool starts as [tokens, indices, length] and each step adds one
SOp whose operands come from the pool, so shared sub-expressions (DAGs) appear naturally. They
shrink toward fewer steps, the simplest node kinds, and `tokens` as the operand.

`programs(..., adversarial=True)` draws programs built to catch a compiler that returns a
wrong model instead of refusing: value sets that contain `None` (categorical and numerical),
mix types whose values are equal (`1`, `True`, `1.0` -- one set element, three different
outputs), hold large nearby integers (10_000_001 vs 10_000_000) or numerically close numbers
(a value moved by 1e-11, averaged, then thresholded between the close values), categorical
aggregates of `None`-or-constant values under any selector, and node names that collide with
the compiler's internal ones ("one", "bos", "tokens", "<label>.bos_weight", a duplicate
label...). The interpreter still never raises on them; the compiler may refuse them.
`adversarial_vocabularies()` adds vocabularies mixing ints and strings, floats, and large
nearby integers.

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

__all__ = ["vocabularies", "adversarial_vocabularies", "programs", "inputs", "compiled_models",
           "MAX_CATEGORICAL_VALUES", "MAX_NUMERICAL_VALUES", "NODE_KINDS", "ADVERSARIAL_NODE_KINDS",
           "INTERNAL_NAMES", "INTERNAL_SUFFIXES"]

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
#: Extra step kinds of `programs(adversarial=True)`: a Map that returns None on one value
#: under a categorical Aggregate with any selector; and a value moved by 1e-11 or 1e-7
#: (numerical Map), optionally averaged (numerical Aggregate), then thresholded between the
#: closest values (categorical Map); and SelectorWidth(Select(f(a, b), f(a, b), <)) with f a
#: lexicographic map (`x+y/10`, `x+1e-11*y`), which the compiler rewrites into new nodes
#: named '<select>.major', '.tie', '.minor', '.tie_minor' (the width may take such a name);
#: and a Map whose values are one value under two types (`True if x==v else 1`) read by a
#: type probe (`str(x)`), by attention (a Select on it: EQ selects 1 and True together) or
#: by a later step.
ADVERSARIAL_NODE_KINDS = ("none_aggregate", "close_values", "lexicographic_width", "type_mix")

#: Names the compiler gives its own directions and rewritten nodes; adversarial programs name
#: user nodes with them (and with INTERNAL_SUFFIXES appended to existing labels).
INTERNAL_NAMES = ("one", "bos", "BOS", "tokens", "indices", "length", "length.select",
                  "tokens:0", "map", "aggregate")
INTERNAL_SUFFIXES = ("", "#2", ".bos_weight", ".keys", ".queries", ".major", ".tie",
                     ".minor", ".tie_minor", ".select", ":0")

#: Token pools of `adversarial_vocabularies` (one kind per vocabulary).
_ADVERSARIAL_TOKENS = {
    "int": _INT_TOKENS,
    "str": _STR_TOKENS,
    "mixed": (0, 1, 2, "a", "b", 0.5),
    "float": (0.1, 0.2, 0.3, 0.5, 1e-09, -1.5),
    "big": (10_000_000, 10_000_001, -10_000_000, 2 ** 53, 2 ** 53 + 1),
}


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


def adversarial_vocabularies(*, min_size: int = 1, max_size: int = 3,
                             kinds: Iterable[str] = tuple(_ADVERSARIAL_TOKENS)
                             ) -> SearchStrategy[frozenset]:
    """Vocabularies that stress value handling, one kind per vocabulary.

    Kinds: "int" (0..9), "str" ('a'..'j'), "mixed" (ints, strings and 0.5 together), "float"
    (0.1, 0.2, 0.3 -- 0.1 + 0.2 != 0.3 --, 0.5, 1e-09, -1.5), "big" (10_000_000, 10_000_001,
    -10_000_000, 2**53 and 2**53 + 1, which are equal as float64).

    Args:
        min_size: fewest tokens (>= 1).
        max_size: most tokens (<= 5, the size of the smallest pool).
        kinds: a non-empty subset of ("int", "str", "mixed", "float", "big").

    Returns:
        A strategy of frozensets; shrinks toward {0}.

    Raises:
        InvalidInput: a bad argument (the message names it).

    Example:
        >>> adversarial_vocabularies().example()  # doctest: +SKIP
        frozenset({0.5, 'a', 2})
    """
    where = "adversarial_vocabularies"
    min_size = _int_arg(where, "min_size", min_size, low=1, high=5)
    max_size = _int_arg(where, "max_size", max_size, low=1, high=5)
    if max_size < min_size:
        raise InvalidInput(f"{where}: max_size ({max_size}) must be >= min_size ({min_size})")
    if isinstance(kinds, str) or not isinstance(kinds, Iterable):
        raise InvalidInput(f"{where}: kinds must be a tuple of kind names like ('int', 'big'), "
                           f"got {kinds!r:.60}")
    kinds = tuple(kinds)
    allowed = tuple(_ADVERSARIAL_TOKENS)
    bad = [k for k in kinds if k not in allowed]
    if not kinds or bad:
        raise InvalidInput(f"{where}: kinds must be a non-empty subset of {allowed}, "
                           f"got {kinds!r:.60}")

    def of_kind(kind: str) -> SearchStrategy[frozenset]:
        return st.lists(st.sampled_from(_ADVERSARIAL_TOKENS[kind]), min_size=min_size,
                        max_size=max_size, unique=True).map(frozenset)

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
    # (type signature, value) pairs: 1, True and 1.0 are one element of `values` but three
    # here. Computed exactly in adversarial mode, derived from `values` otherwise.
    typed: Optional[frozenset] = None

    def __post_init__(self):
        if self.typed is None:
            object.__setattr__(self, "typed", frozenset(_tkey(v) for v in self.values))


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


# -- typed value sets (adversarial mode) ------------------------------------------------------


def _signature(v: Any):
    """The type of v, recursively inside tuples (as the interpreter's cache key)."""
    if isinstance(v, tuple):
        return tuple(_signature(x) for x in v)
    return type(v)


def _tkey(v: Any) -> tuple:
    return (_signature(v), v)


def _variants(typed: frozenset) -> list:
    """Every value of a typed set (1 and True both), in a deterministic order."""
    return fx.sorted_values([v for _, v in typed])


def _raw(typed: frozenset) -> frozenset:
    return frozenset(v for _, v in typed)


def _ambiguous(typed: frozenset) -> bool:
    """Whether two values of different types are equal (1 == True == 1.0)."""
    return len(_raw(typed)) < len(typed)


def _adversarial_value(y: Any, numerical: bool) -> bool:
    if numerical:
        try:
            return isinstance(y, (bool, int, float)) and math.isfinite(y)
        except OverflowError:
            return False
    if isinstance(y, tuple):
        return all(y_ is not None and _adversarial_value(y_, False) for y_ in y)
    if isinstance(y, float):
        return math.isfinite(y)
    return isinstance(y, (bool, int, str))


def _typed_unary(fn, typed: frozenset, *, numerical_out: bool, cap: int
                 ) -> Optional[tuple[frozenset, bool]]:
    """(typed image, whether fn returns None) of `typed` under fn, or None when fn raises,
    returns a bad value, only None, or more than `cap` values. Types may mix."""
    out, none = set(), False
    for v in _variants(typed):  # sorted: which of 0.0 and -0.0 is kept must not vary
        try:
            y = fn(v)
            hash(y)
        except Exception:  # noqa: BLE001 - a function partial on this value set is skipped
            return None
        if y is None:
            none = True
            continue
        if not _adversarial_value(y, numerical_out):
            return None
        out.add(_tkey(y))
        if len(out) > cap:
            return None
    return (frozenset(out), none) if out else None


def _typed_binary(fn, xs: frozenset, ys: frozenset, *, cap: int
                  ) -> Optional[tuple[frozenset, bool]]:
    out, none = set(), False
    for x, y in itertools.product(_variants(xs), _variants(ys)):
        try:
            z = fn(x, y)
            hash(z)
        except Exception:  # noqa: BLE001
            return None
        if z is None:
            none = True
            continue
        if not _adversarial_value(z, False):
            return None
        out.add(_tkey(z))
        if len(out) > cap:
            return None
    return (frozenset(out), none) if out else None


def _typed_means(typed: frozenset, max_seq_len: int, default: Any) -> frozenset:
    """Every value a numerical mean Aggregate can output (the default keeps its type)."""
    return frozenset(_tkey(v) for v in _mean_values(_raw(typed), max_seq_len, default)) | {
        _tkey(default)}


def _bindings(entry, variants: list) -> list:
    """The parameters a table entry can be bound to ([None] for a plain function)."""
    if isinstance(entry, fx.ThresholdFamily):
        return fx.thresholds(variants)
    if isinstance(entry, fx.FunctionFamily):
        return variants
    return [None]


def _bound(entry, parameter):
    return entry if parameter is None and not isinstance(
        entry, (fx.FunctionFamily, fx.ThresholdFamily)) else entry.bind(parameter)


def _holds(pred, k: Any, q: Any) -> bool:
    try:
        r = pred(k, q)
    except Exception:  # noqa: BLE001
        return False
    return isinstance(r, (bool, numpy.bool_)) and bool(r)


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
                 numerical: bool, causal: bool, adversarial: bool = False):
        self.draw = draw
        self.adversarial = adversarial
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
        # Adversarial: one name in four collides with an internal or an existing name (the
        # zero of the draw is the readable name, so failures shrink toward it).
        if self.adversarial and self.draw(st.integers(0, 3)) == 3:
            return self._colliding_name()
        return f"{text}#{next(self.counter)}"

    def _colliding_name(self) -> str:
        labels = [e.node.label for e in self.pool[3:]] + [s.node.label for s in self.selectors]
        choice = self.draw(st.sampled_from(INTERNAL_NAMES + (("<existing>",) if labels else ())))
        if choice != "<existing>":
            return choice
        return self.draw(st.sampled_from(labels)) + self.draw(st.sampled_from(INTERNAL_SUFFIXES))

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
        if self.adversarial and at_least_one:
            # (k+q)%2==0 is not reflexive on 0.5: check every value (1, True and 1.0 apart).
            at_least_one = all(_holds(pred, v, v) for v in _variants(keys.typed))
        equal_roots = frozenset([keys.node.unique_id]) if pred is n.Comparison.EQ else frozenset()
        info = _SelectorInfo(node, at_most_one, at_least_one, equal_roots,
                             max(keys.depth, queries.depth))
        self.selectors.append(info)
        return info

    def _leaf_select(self) -> _SelectorInfo:
        cands = self._candidates(numerical=False, allow_none=False)
        keys = self._pick(cands)
        queries = self._pick(cands)
        if self.adversarial:
            preds = [p for p in fx.PREDICATES
                     if _predicate_ok(p, _variants(keys.typed), _variants(queries.typed))]
        else:
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
        if self.adversarial:
            kinds += ["none_aggregate", "lexicographic_width", "type_mix"]
            if self.numerical and self.max_depth >= 2:
                kinds.append("close_values")
        return kinds

    def _numerical_operands(self, max_values: int) -> list[_SOpInfo]:
        cands = self._candidates(numerical=True, allow_none=False, max_values=max_values)
        if not cands:
            self._step_map_cat_to_num(cap=max_values)
            cands = self._candidates(numerical=True, allow_none=False, max_values=max_values)
        return cands

    def step(self, kind: str) -> _SOpInfo:
        if self.adversarial and hasattr(self, "_adv_step_" + kind):
            return getattr(self, "_adv_step_" + kind)()
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

    # -- adversarial steps (programs(adversarial=True)); typed value sets throughout --------
    def _adv_choose(self, table, typed: frozenset, *, numerical_out: bool, cap: int):
        """(NamedFunction, typed image, returns None somewhere) from the entries of `table`
        total on every typed value; families bind a value (or a threshold between values)."""
        variants = _variants(typed)
        usable = []
        for entry in table:
            options = _bindings(entry, variants)
            if options and _typed_unary(_bound(entry, options[0]), typed,
                                        numerical_out=numerical_out, cap=cap) is not None:
                usable.append((entry, options))
        entry, options = self.draw(st.sampled_from(usable))
        fn = _bound(entry, self.draw(st.sampled_from(options)))
        result = _typed_unary(fn, typed, numerical_out=numerical_out, cap=cap)
        if result is None:  # this binding is partial or too wide: the probe binding is not
            fn = _bound(entry, options[0])
            result = _typed_unary(fn, typed, numerical_out=numerical_out, cap=cap)
        image, none = result
        return fn, image, none

    def _adv_map(self, fn, x: _SOpInfo, image: frozenset, none: bool, *,
                 numerical: bool) -> _SOpInfo:
        node = n.Map(fn, x.node, simplify=False).named(self._name(fn.name))
        if numerical:
            node = n.numerical(node)
        return self._add(_SOpInfo(node, _raw(image), numerical, x.may_be_none or none,
                                  x.uniform, x.roots | {node.unique_id}, x.depth + 1, image))

    def _adv_step_map(self) -> _SOpInfo:
        x = self._pick(self._candidates(numerical=False), latest_bias=3)
        fn, image, none = self._adv_choose(
            fx.CATEGORICAL_MAPS + fx.ADVERSARIAL_CATEGORICAL_MAPS, x.typed,
            numerical_out=False, cap=MAX_CATEGORICAL_VALUES)
        return self._adv_map(fn, x, image, none, numerical=False)

    def _adv_step_sequence_map(self) -> _SOpInfo:
        cands = self._candidates(numerical=False)
        x, y = self._pick(cands, latest_bias=3), self._pick(cands)
        usable = [f for f in fx.SEQUENCE_MAPS + fx.ADVERSARIAL_SEQUENCE_MAPS
                  if _typed_binary(f, x.typed, y.typed, cap=MAX_CATEGORICAL_VALUES) is not None]
        fn = self.draw(st.sampled_from(usable))
        image, none = _typed_binary(fn, x.typed, y.typed, cap=MAX_CATEGORICAL_VALUES)
        node = n.SequenceMap(fn, x.node, y.node).named(self._name(fn.name))
        return self._add(_SOpInfo(node, _raw(image), False, x.may_be_none or y.may_be_none or none,
                                  x.uniform and y.uniform, frozenset([node.unique_id]),
                                  max(x.depth, y.depth) + 1, image))

    def _adv_default(self, options: tuple):
        """The first option (shrink target) three times in four, else any option."""
        if self.draw(st.integers(0, 3)) < 3:
            return options[0]
        return self.draw(st.sampled_from(options))

    def _adv_aggregate(self, selector: _SelectorInfo, sop: _SOpInfo) -> _SOpInfo:
        default = self._adv_default((None, 0, False, "a"))
        node = n.Aggregate(selector.node, sop.node, default=default).named(
            self._name("aggregate"))
        typed = sop.typed | (frozenset([_tkey(default)]) if default is not None else frozenset())
        empty_gives_none = default is None and not selector.at_least_one
        return self._add(_SOpInfo(
            node, _raw(typed), False, sop.may_be_none or empty_gives_none,
            sop.uniform and selector.at_least_one, frozenset([node.unique_id]),
            max(selector.depth, sop.depth) + 1, typed))

    def _adv_step_aggregate(self) -> _SOpInfo:
        """A categorical Aggregate the interpreter can always evaluate: one position, equal
        keys (never keys where 1 and True both occur: EQ selects both), uniform values, or
        values that are one value or None (one *typed* value: the interpreter tells 1, True
        and 1.0 apart)."""
        cats = self._candidates(numerical=False)
        uniform = [e for e in cats if e.uniform]
        constant = [e for e in cats if len(e.typed) <= 1]
        modes = (["one_position", "equal_keys"] + (["uniform_values"] if uniform else [])
                 + (["constant_or_none"] if constant else []))
        mode = self.draw(st.sampled_from(modes))
        if mode == "one_position":
            int_queries = [e for e in self._candidates(numerical=False, allow_none=False)
                           if all(type(v) is int for v in _variants(e.typed))]
            queries = self._pick(int_queries)
            preds = [p for p in fx.FUNCTIONAL_PREDICATES
                     if _predicate_ok(p, self.pool[1].values, _variants(queries.typed))]
            selector = self._maybe_and(self._select(self.pool[1], queries,
                                                    self.draw(st.sampled_from(preds))))
            sop = self._pick(cats, latest_bias=3)
        elif mode == "equal_keys":
            plain = [e for e in self._candidates(numerical=False, allow_none=False)
                     if not _ambiguous(e.typed)]  # indices always qualify
            keys, queries = self._pick(plain), self._pick(plain)
            selector = self._maybe_and(self._select(keys, queries, n.Comparison.EQ))
            sop = self._pick([e for e in cats if keys.node.unique_id in e.roots])
        elif mode == "uniform_values":
            selector = self._selector()
            sop = self._pick(uniform)
        else:
            selector = self._selector()
            sop = self._pick(constant, latest_bias=3)
        return self._adv_aggregate(selector, sop)

    def _adv_step_full(self) -> _SOpInfo:
        fills = ([0, 1] + [t for t in fx.sorted_values(self.vocab) if t not in (0, 1)]
                 + [True, False, 1.0, 0.5, 10_000_001, "a"])
        fill = self.draw(st.sampled_from(fills))
        numeric = (self.numerical and isinstance(fill, (int, float)) and self.draw(st.booleans()))
        node = n.Full(fill).named(self._name(f"full({fill!r})"))
        if numeric:
            node = n.numerical(node)
        return self._add(_SOpInfo(node, frozenset([fill]), numeric, False, True,
                                  frozenset([node.unique_id]), 0, frozenset([_tkey(fill)])))

    def _adv_step_map_cat_to_num(self, cap: int = MAX_NUMERICAL_VALUES) -> _SOpInfo:
        cands = [e for e in self._candidates(numerical=False)
                 if e.depth < self.max_depth - 1] or [self.pool[0]]
        x = self._pick(cands, latest_bias=3)
        fn, image, none = self._adv_choose(
            fx.CATEGORICAL_TO_NUMERICAL_MAPS + fx.ADVERSARIAL_CATEGORICAL_TO_NUMERICAL_MAPS,
            x.typed, numerical_out=True, cap=cap)
        return self._adv_map(fn, x, image, none, numerical=True)

    def _adv_numerical_operands(self, max_values: int) -> list[_SOpInfo]:
        cands = self._candidates(numerical=True, max_values=max_values)
        if not cands:
            self._adv_step_map_cat_to_num(cap=max_values)
            cands = self._candidates(numerical=True, max_values=max_values)
        return cands

    def _adv_mean(self, selector: _SelectorInfo, sop: _SOpInfo) -> _SOpInfo:
        default = self._adv_default((0, 1, 0.5, 1e-11))
        node = n.numerical(n.Aggregate(selector.node, sop.node, default=default).named(
            self._name("mean")))
        typed = _typed_means(sop.typed, self.max_seq_len, default)
        return self._add(_SOpInfo(node, _raw(typed), True, sop.may_be_none, False,
                                  frozenset([node.unique_id]),
                                  max(selector.depth, sop.depth) + 1, typed))

    def _adv_step_aggregate_num(self) -> _SOpInfo:
        selector = self._selector()
        sop = self._pick(self._adv_numerical_operands(MAX_AGGREGATED_VALUES), latest_bias=3)
        return self._adv_mean(selector, sop)

    def _adv_step_map_num_to_num(self) -> _SOpInfo:
        x = self._pick(self._adv_numerical_operands(MAX_NUMERICAL_VALUES), latest_bias=3)
        fn, image, none = self._adv_choose(fx.NUMERICAL_MAPS + fx.ADVERSARIAL_NUMERICAL_MAPS,
                                           x.typed, numerical_out=True,
                                           cap=MAX_NUMERICAL_VALUES)
        return self._adv_map(fn, x, image, none, numerical=True)

    def _adv_step_map_num_to_cat(self) -> _SOpInfo:
        x = self._pick(self._adv_numerical_operands(MAX_NUMERICAL_VALUES), latest_bias=3)
        fn, image, none = self._adv_choose(
            fx.NUMERICAL_TO_CATEGORICAL_MAPS + fx.ADVERSARIAL_NUMERICAL_TO_CATEGORICAL_MAPS,
            x.typed, numerical_out=False, cap=MAX_CATEGORICAL_VALUES)
        return self._adv_map(fn, x, image, none, numerical=False)

    def _adv_step_linear_sequence_map(self) -> _SOpInfo:
        cands = self._adv_numerical_operands(MAX_NUMERICAL_VALUES)
        x, y = self._pick(cands, latest_bias=3), self._pick(cands)
        a = self.draw(st.sampled_from(fx.LINEAR_FACTORS))
        b = self.draw(st.sampled_from(fx.LINEAR_FACTORS))
        node = n.numerical(n.LinearSequenceMap(x.node, y.node, a, b).named(
            self._name(f"{a}*x+{b}*y")))
        image = frozenset(_tkey(a * u + b * v) for u in _variants(x.typed)
                          for v in _variants(y.typed))
        return self._add(_SOpInfo(node, _raw(image), True, x.may_be_none or y.may_be_none,
                                  x.uniform and y.uniform, frozenset([node.unique_id]),
                                  max(x.depth, y.depth) + 1, image))

    def _adv_step_none_aggregate(self) -> _SOpInfo:
        """Aggregate(any selector, Map(None if x==v else 0, x)): the selected values are one
        value or None, so the interpreter gives None as soon as a None is selected. One
        time in three (when numerical SOps are allowed) the numerical version: a mean of a
        numerical Map that returns None on one value. x has two values or more (indices when
        nothing else has), so the Map gives both None and a value."""
        cands = [e for e in self._candidates(numerical=False)
                 if e.depth < self.max_depth - 1 and len(e.typed) >= 2] or [self.pool[1]]
        x = self._pick(cands, latest_bias=3)
        variants = _variants(x.typed)
        families = [f for f in fx.ADVERSARIAL_CATEGORICAL_TO_NUMERICAL_MAPS
                    if isinstance(f, fx.FunctionFamily) and f.template.startswith("None")
                    and _typed_unary(f.bind(variants[0]), x.typed, numerical_out=True,
                                     cap=MAX_AGGREGATED_VALUES) is not None]
        if (families and self.numerical and self.max_depth >= 2
                and self.draw(st.integers(0, 2)) == 2):
            fn, image, none = self._adv_choose(families, x.typed, numerical_out=True,
                                               cap=MAX_AGGREGATED_VALUES)
            return self._adv_mean(self._selector(),
                                  self._adv_map(fn, x, image, none, numerical=True))
        fn, image, none = self._adv_choose(fx.NONE_MAPS, x.typed, numerical_out=False,
                                           cap=MAX_CATEGORICAL_VALUES)
        if len(image) > 1:  # `None if x!=v else x` kept 1 and True: the interpreter raises
            # on two of them, so take the first map with one typed value (one always has it:
            # `None if repr(x)==repr(v) else 0` when x has two values, else `None if x!=v
            # else x`).
            for entry in fx.NONE_MAPS:
                fn = entry.bind(variants[0])
                result = _typed_unary(fn, x.typed, numerical_out=False, cap=1)
                if result is not None:
                    image, none = result
                    break
            else:  # pragma: no cover - unreachable, see above
                raise AssertionError(f"no None map with one typed value on {variants!r}")
        values = self._adv_map(fn, x, image, none, numerical=False)
        return self._adv_aggregate(self._selector(), values)

    def _adv_step_type_mix(self) -> _SOpInfo:
        """Map(True if x==v else 1, x) (or 1.0/1, 0/False, 1.0/True), then a type probe, a
        SelectorWidth of a Select on it, or nothing (a later step may read it)."""
        cands = [e for e in self._candidates(numerical=False)
                 if e.depth < self.max_depth - 1 and len(e.typed) >= 2] or [self.pool[1]]
        x = self._pick(cands, latest_bias=3)
        fn, image, none = self._adv_choose(fx.TYPE_MIXING_MAPS, x.typed, numerical_out=False,
                                           cap=MAX_CATEGORICAL_VALUES)
        mixed = self._adv_map(fn, x, image, none, numerical=False)
        then = self.draw(st.sampled_from(["probe", "select", "nothing"]))
        if then == "probe" and mixed.depth < self.max_depth:
            fn, image, none = self._adv_choose(fx.TYPE_PROBES, mixed.typed, numerical_out=False,
                                               cap=MAX_CATEGORICAL_VALUES)
            return self._adv_map(fn, mixed, image, none, numerical=False)
        if then == "select" and not mixed.may_be_none:
            queries = self._pick(self._candidates(numerical=False, allow_none=False))
            preds = [p for p in fx.PREDICATES
                     if _predicate_ok(p, _variants(mixed.typed), _variants(queries.typed))]
            selector = self._select(mixed, queries, self.draw(st.sampled_from(preds)))
            node = n.SelectorWidth(selector.node).named(self._name("width"))
            return self._add(_SOpInfo(node, frozenset(range(self.max_seq_len + 1)), False,
                                      False, False, frozenset([node.unique_id]),
                                      selector.depth + 1))
        return mixed

    def _adv_step_lexicographic_width(self) -> _SOpInfo:
        """SelectorWidth(Select(f(a, b), f(a, b), cmp)), f in fx.LEXICOGRAPHIC_MAPS."""
        plain = [e for e in self._candidates(numerical=False, allow_none=False, max_values=4)
                 if all(type(v) in (int, float) for v in _variants(e.typed))] or [self.pool[1]]
        a, b = self._pick(plain, latest_bias=3), self._pick(plain)
        usable = [f for f in fx.LEXICOGRAPHIC_MAPS
                  if _typed_binary(f, a.typed, b.typed, cap=16) is not None]
        fn = self.draw(st.sampled_from(usable))
        image, none = _typed_binary(fn, a.typed, b.typed, cap=16)
        node = n.SequenceMap(fn, a.node, b.node).named(self._name(fn.name))
        key = self._add(_SOpInfo(node, _raw(image), False, a.may_be_none or b.may_be_none or none,
                                 a.uniform and b.uniform, frozenset([node.unique_id]),
                                 max(a.depth, b.depth) + 1, image))
        cmp = self.draw(st.sampled_from([n.Comparison.LT, n.Comparison.LEQ, n.Comparison.GT,
                                         n.Comparison.GEQ]))
        selector = self._select(key, key, cmp)
        suffix = self.draw(st.sampled_from(("", ".major", ".tie_minor")))
        width = n.SelectorWidth(selector.node).named(
            selector.node.label + suffix if suffix else self._name("width"))
        return self._add(_SOpInfo(width, frozenset(range(self.max_seq_len + 1)), False, False,
                                  False, frozenset([width.unique_id]), selector.depth + 1))

    def _adv_step_close_values(self) -> _SOpInfo:
        """numerical Map(x+(eps if x==v else 0)), optionally a numerical mean Aggregate, then
        a categorical Map thresholding between the closest values (eps = 1e-11 or 1e-7)."""
        levels = 3 if self.max_depth >= 3 else 2
        cands = [e for e in self._candidates(numerical=False, allow_none=False,
                                             max_values=MAX_AGGREGATED_VALUES)
                 if e.depth <= self.max_depth - levels
                 and all(isinstance(v, (int, float)) for v in e.values)] or [self.pool[1]]
        x = self._pick(cands, latest_bias=3)
        eps = self.draw(st.sampled_from(fx.PERTURBATIONS))
        fn = fx.perturbation(eps, self.draw(st.sampled_from(_variants(x.typed))))
        image, none = _typed_unary(fn, x.typed, numerical_out=True, cap=MAX_NUMERICAL_VALUES)
        moved = self._adv_map(fn, x, image, none, numerical=True)
        if levels == 3 and self.draw(st.booleans()):
            moved = self._adv_mean(self._selector(), moved)
        families = [e for e in fx.ADVERSARIAL_NUMERICAL_TO_CATEGORICAL_MAPS
                    if isinstance(e, fx.ThresholdFamily)]
        family = self.draw(st.sampled_from(families))
        options = fx.thresholds(_variants(moved.typed))
        t = options[min(self.draw(st.integers(0, 3)), len(options) - 1)]  # a close pair
        out = family.bind(t)
        image, none = _typed_unary(out, moved.typed, numerical_out=False,
                                   cap=MAX_CATEGORICAL_VALUES)
        return self._adv_map(out, moved, image, none, numerical=False)


def programs(*, vocab: Any, max_seq_len: int, max_depth: int = 4, max_nodes: int = 5,
             numerical: bool = True, causal: bool = False,
             adversarial: bool = False) -> SearchStrategy[n.SOp]:
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
        adversarial: also draw the compiler-breaking shapes of the module doc: functions from
            the `ADVERSARIAL_*` tables of `theory_kit.testing.functions` (None, 1/True/1.0,
            10_000_001 vs 10_000_000, thresholds between close values, tuples, str/type
            probes), the ADVERSARIAL_NODE_KINDS steps, categorical aggregates of equal-or-None
            values, non-None aggregate defaults, and colliding node names. Value sets keep 1,
            True and 1.0 apart, so the interpreter still never raises. Such programs need not
            compile (the compiler may refuse them) and names need not be unique. False
            (the default) draws exactly what earlier versions drew.

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
    adversarial = _bool_arg(where, "adversarial", adversarial)

    @st.composite
    def _programs(draw) -> n.SOp:
        builder = _Builder(draw, vocab=vocab, max_seq_len=max_seq_len, max_depth=max_depth,
                           numerical=numerical, causal=causal, adversarial=adversarial)
        # A bare primitive is a valid program but a dull one: draw it rarely, and first when
        # shrinking (the zero of this draw); never in adversarial mode.
        if max_nodes == 0 or (not adversarial and draw(st.integers(0, 15)) == 0):
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
