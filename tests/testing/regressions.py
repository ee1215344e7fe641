"""Shared case table of compiler mismatches found by the program generator (minimal forms).

Each entry is (name, program factory, vocab, max_seq_len, causal). Factories build a fresh
program each call (nodes carry process-wide ids). The programs are written exactly as the
generator shrank them (names included), so a regression reproduces the original failure.
`tests/testing/test_regressions.py` runs `assert_compiles_correctly` on every entry; other
suites may import CASES too.
"""

from __future__ import annotations

from theory_kit import rasp
from theory_kit.testing.functions import NamedFunction

EQ, LT, LEQ, GEQ, TRUE = (rasp.Comparison.EQ, rasp.Comparison.LT, rasp.Comparison.LEQ,
                          rasp.Comparison.GEQ, rasp.Comparison.TRUE)
identity = NamedFunction("x", lambda x: x)
plus = NamedFunction("x+y", lambda x, y: x + y)
equal = NamedFunction("x==y", lambda x, y: x == y)


def _map(fn, inner, name, *, numerical=False):
    node = rasp.Map(fn, inner, simplify=False).named(name)
    return rasp.numerical(node) if numerical else node


def aggregate_of_empty_selection_and():
    """Aggregate over a SelectorAnd that selects nothing for input [0]: expected None, got 3."""
    sel = rasp.SelectorAnd(rasp.Select(rasp.length, rasp.length, EQ),
                           rasp.Select(rasp.tokens, rasp.length, EQ))
    return rasp.Aggregate(sel, rasp.length).named("aggregate#4")


def aggregate_of_width_keys():
    """Aggregate(Select(x, x, EQ), x) with x = Map(identity, SelectorWidth(...)): on [0]
    expected [0], got [2]."""
    width = rasp.SelectorWidth(rasp.Select(rasp.tokens, rasp.length, EQ)).named("width#2")
    x = _map(identity, width, "x#3")
    return rasp.Aggregate(rasp.Select(x, x, EQ), x).named("aggregate#5")


def numerical_map_of_width():
    """numerical Map(x, SelectorWidth(Select(tokens + length, tokens, EQ))): on [1] expected
    [0], got [2.0]."""
    s = rasp.SequenceMap(plus, rasp.tokens, rasp.length).named("x+y#1")
    width = rasp.SelectorWidth(rasp.Select(s, rasp.tokens, EQ)).named("width#3")
    return _map(identity, width, "x#5", numerical=True)


def width_of_and_with_length():
    """SelectorWidth(SelectorAnd(Select(tokens, tokens, EQ), Select(indices, length, EQ))):
    on [0, 0, 1] expected [0, 0, 0], got [1, 0, 0]."""
    sel = rasp.SelectorAnd(rasp.Select(rasp.tokens, rasp.tokens, EQ),
                           rasp.Select(rasp.indices, rasp.length, EQ))
    return rasp.SelectorWidth(sel).named("width#4")


def sequence_map_of_width():
    """SequenceMap(x==y, indices, SelectorWidth(Select(length, indices, EQ))): on [0, 0, 0]
    expected [True, False, False], got [False, False, False]."""
    width = rasp.SelectorWidth(rasp.Select(rasp.length, rasp.indices, EQ)).named("width#2")
    return rasp.SequenceMap(equal, rasp.indices, width).named("x==y#3")


def linear_sequence_map_of_width():
    """LinearSequenceMap(w, w + 1) with w = numerical SelectorWidth(Select(length, Full(0),
    EQ)): on [0] expected [1], got [2.0]."""
    full = rasp.Full(0).named("full(0)#1")
    width = rasp.SelectorWidth(rasp.Select(rasp.length, full, EQ)).named("width#3")
    x = _map(identity, width, "x#4", numerical=True)
    x1 = _map(NamedFunction("x+1", lambda v: v + 1), x, "x+1#5", numerical=True)
    return rasp.numerical(rasp.LinearSequenceMap(x, x1, 1, 1).named("1*x+1*y#7"))


def causal_numerical_aggregate_no_match():
    """Causal numerical Aggregate(Select(tokens + tokens, tokens, EQ), tokens, default=0): on
    [1] nothing is selected, expected [0], got [1.0]."""
    x = _map(identity, rasp.tokens, "x#3", numerical=True)
    s = rasp.SequenceMap(plus, rasp.tokens, rasp.tokens).named("x+y#1")
    return rasp.numerical(rasp.Aggregate(rasp.Select(s, rasp.tokens, EQ), x, default=0)
                          .named("mean#4"))


def causal_width_of_width():
    """Causal SelectorWidth(Select(tokens, w, EQ)) over w = SelectorWidth(And(...)): on [0]
    expected [1], got [3]."""
    inner = rasp.SelectorWidth(rasp.SelectorAnd(
        rasp.Select(rasp.length, rasp.tokens, LT),
        rasp.Select(rasp.length, rasp.length, EQ))).named("width#4")
    return rasp.SelectorWidth(rasp.Select(rasp.tokens, inner, EQ)).named("width#6")


def causal_sequence_map_of_empty_aggregate():
    """Causal SequenceMap(x==y, tokens, a) where the aggregate a selects nothing: on [0]
    expected [None], got [False]."""
    x = _map(identity, rasp.length, "x#1")
    sel = rasp.SelectorAnd(rasp.Select(rasp.tokens, rasp.tokens, EQ),
                           rasp.Select(rasp.indices, x, EQ))
    agg = rasp.Aggregate(sel, rasp.indices).named("aggregate#5")
    return rasp.SequenceMap(equal, rasp.tokens, agg).named("x==y#6")


#: (name, program factory, vocab, max_seq_len, causal)
CASES = [
    ("aggregate_of_empty_selection_and", aggregate_of_empty_selection_and, {0, 1}, 3, False),
    ("aggregate_of_width_keys", aggregate_of_width_keys, {0}, 3, False),
    ("numerical_map_of_width", numerical_map_of_width, {0, 1}, 3, False),
    ("width_of_and_with_length", width_of_and_with_length, {0, 1}, 3, False),
    ("sequence_map_of_width", sequence_map_of_width, {0}, 3, False),
    ("linear_sequence_map_of_width", linear_sequence_map_of_width, {0}, 3, False),
    ("causal_numerical_aggregate_no_match", causal_numerical_aggregate_no_match, {0, 1}, 3,
     True),
    ("causal_width_of_width", causal_width_of_width, {0, 4}, 3, True),
    ("causal_sequence_map_of_empty_aggregate", causal_sequence_map_of_empty_aggregate, {0}, 3,
     True),
]
