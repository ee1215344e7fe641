"""The shared case table: programs checked at every level (interpreter, blocks, weights).

Includes what Tracr refuses or gets wrong: composite selectors, sum/mean aggregation of
non-binary values, categorical aggregates with an empty selection (decoded as None).
Each entry: (name, factory, vocab, max_seq_len, causal).
"""

from theory_kit import library as lib
from theory_kit import rasp


def _composite_and():
    lt = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LT)
    same = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)
    return rasp.SelectorWidth(rasp.SelectorAnd(lt, same)).named("earlier_same")


def _conjunction_of_three():
    # Three leaves over different keys/queries, one negated: one head sums their logits.
    before = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LT)
    same = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)
    not_zero = rasp.SelectorNot(rasp.Select(rasp.tokens, rasp.indices, lambda k, q: k == 0))
    sel = rasp.SelectorAnd(rasp.SelectorAnd(before, same), not_zero)
    return rasp.SelectorWidth(sel).named("earlier_same_nonzero_count")


def _composite_or_not():
    first = rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == 0)
    big = rasp.Select(rasp.tokens, rasp.tokens, lambda k, q: k > q)
    sel = rasp.SelectorOr(first, rasp.SelectorNot(big))
    return rasp.numerical(rasp.Aggregate(sel, rasp.numerical(rasp.Map(lambda x: x, rasp.tokens)),
                                         default=0)).named("or_not_mean")


def _empty_selection():
    # Query "the token at the position my token names": empty when that position is not
    # (yet) there, where the interpreter says None.
    sel = rasp.Select(rasp.indices, rasp.tokens, rasp.Comparison.EQ)
    return rasp.Aggregate(sel, rasp.tokens).named("pointer_or_none")


def _numeric_mean():
    sel = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    vals = rasp.numerical(rasp.Map(lambda x: 3 * x - 1, rasp.tokens))
    return rasp.numerical(rasp.Aggregate(sel, vals, default=0)).named("prefix_mean")


def _full_and_linear():
    a = rasp.numerical(rasp.Map(lambda x: x / 2, rasp.tokens))
    b = rasp.numerical(rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE),
                                      a, default=0))
    return rasp.numerical(rasp.LinearSequenceMap(a, b, 2.0, -1.0)).named("centered")


def _threshold_of_mean():
    frac = lib.make_frac_prevs(rasp.tokens == 1)
    return rasp.Map(lambda x: "hi" if x > 0.5 else "lo", frac).named("mostly_ones")


CASES = [
    ("reverse", lambda: lib.make_reverse(rasp.tokens), {"a", "b", "c"}, 4, False),
    ("sort_unique", lambda: lib.make_sort_unique(rasp.tokens, rasp.tokens), {1, 2, 3, 4}, 4, False),
    ("hist", lib.make_hist, {"a", "b"}, 5, False),
    ("frac_prevs_causal", lambda: lib.make_frac_prevs(rasp.tokens == "x"), {"x", "y"}, 5, True),
    ("composite_and", _composite_and, {0, 1, 2}, 4, False),
    ("composite_or_not", _composite_or_not, {0, 1, 2}, 4, False),
    ("conjunction_of_three", _conjunction_of_three, {0, 1}, 5, True),
    ("empty_selection", _empty_selection, {0, 1, 2}, 4, True),
    ("numeric_mean", _numeric_mean, {0, 1, 2}, 4, False),
    ("full_and_linear", _full_and_linear, {0, 1, 2}, 4, False),
    ("threshold_of_mean", _threshold_of_mean, {0, 1}, 5, False),
    ("length_causal", lambda: rasp.Map(lambda n: n % 3, rasp.length), {0, 1}, 4, True),
    ("shift", lambda: lib.shift_by(2, rasp.tokens), {"a", "b"}, 4, False),
]
