"""theory_kit.rasp.interpreter: Tracr's semantics, None propagation, defaults, causal mode."""

from __future__ import annotations

import pytest

from theory_kit import library, rasp
from theory_kit.errors import EvaluationError
from theory_kit.library import PROGRAMS

SHIFT = rasp.Select(rasp.indices, rasp.indices, lambda k, q: q == k + 1)
ALL = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE)
NONE = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.FALSE)


def test_primitives():
    assert rasp.tokens("abc") == ["a", "b", "c"]
    assert rasp.indices("abc") == [0, 1, 2]
    assert rasp.length("abc") == [3, 3, 3]
    assert rasp.evaluate(rasp.length, "abc", causal=True) == [1, 2, 3]
    assert rasp.Full(7)("ab") == [7, 7]
    assert rasp.ConstantSOp([4, 5])("ab") == [4, 5]
    assert rasp.ConstantSOp([4, 5], check_length=False)("abc") == [4, 5]


def test_comparisons_are_called_with_key_then_query():
    lt = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LT)
    assert rasp.evaluate(lt, [1, 2]) == [[False, False], [True, False]]  # row q: keys k < q
    assert rasp.Comparison.GT(3, 2) is True and rasp.Comparison.GEQ(2, 2) is True
    with pytest.raises(ValueError, match="key is None!"):
        rasp.Comparison.EQ(None, 1)


def test_none_propagates_through_map_and_sequence_map():
    shifted = rasp.Aggregate(SHIFT, rasp.tokens)
    calls = []
    mapped = rasp.Map(lambda x: calls.append(x) or x * 10, shifted)
    combined = rasp.SequenceMap(lambda x, y: x + y, mapped, rasp.indices)
    assert shifted([1, 2, 3]) == [None, 1, 2]
    assert combined([1, 2, 3]) == [None, 11, 22]
    assert None not in calls  # functions never see None


def test_aggregate_default_applies_where_nothing_is_selected():
    assert rasp.Aggregate(NONE, rasp.tokens)([1, 2]) == [None, None]
    assert rasp.Aggregate(NONE, rasp.tokens, default="z")([1, 2]) == ["z", "z"]
    numeric = rasp.numerical(rasp.Aggregate(NONE, rasp.numerical(rasp.tokens), default=0))
    assert numeric([1, 2]) == [0, 0]
    assert rasp.Aggregate(SHIFT, rasp.tokens, default=-1)([5, 6]) == [-1, 5]


def test_numerical_aggregate_is_the_mean_of_selected_values():
    values = rasp.numerical(rasp.Map(lambda x: x, rasp.tokens))
    mean = rasp.numerical(rasp.Aggregate(ALL, values, default=0))
    assert mean([1, 2, 4, 1]) == [2.0] * 4
    prefix = rasp.numerical(rasp.Aggregate(
        rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ), values, default=0))
    assert prefix([1, 3, 2]) == [1.0, 2.0, 2.0]
    assert rasp.evaluate(mean, [1, 3, 2], causal=True) == [1.0, 2.0, 2.0]


def test_categorical_aggregate_of_equal_values_returns_the_value():
    assert rasp.Aggregate(ALL, rasp.Full("x"))("abc") == ["x", "x", "x"]
    # 1 and True are different values (issue 23: values equal across types must not collapse;
    # the first one's type would otherwise depend on the position order)
    with pytest.raises(EvaluationError, match="several different values"):
        rasp.Aggregate(ALL, rasp.tokens)([True, 1])
    assert rasp.Aggregate(ALL, rasp.tokens)([1, 1]) == [1, 1]


def test_selected_none_makes_the_aggregate_none():
    shifted = rasp.Aggregate(SHIFT, rasp.tokens)
    assert rasp.Aggregate(ALL, shifted)([1, 1]) == [None, None]


def test_selector_values_and_combinators():
    eq = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)
    assert rasp.evaluate(eq, [1, 2, 1]) == [[True, False, True], [False, True, False],
                                            [True, False, True]]
    assert rasp.SelectorWidth(eq)([1, 2, 1]) == [2, 1, 2]
    assert rasp.SelectorWidth(rasp.SelectorNot(eq))([1, 2, 1]) == [1, 2, 1]
    assert rasp.SelectorWidth(rasp.SelectorOr(eq, SHIFT))([1, 2, 1]) == [2, 2, 3]
    assert rasp.evaluate(rasp.ConstantSelector([[1, 0], [1, 1]]), "ab") == [[True, False],
                                                                            [True, True]]


def test_causal_masks_selectors_where_consumed():
    eq = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)
    width = rasp.SelectorWidth(eq)
    assert width([1, 1, 1]) == [3, 3, 3]
    assert rasp.evaluate(width, [1, 1, 1], causal=True) == [1, 2, 3]
    # A negated selector is masked after negation: no future key leaks in.
    assert rasp.evaluate(rasp.SelectorWidth(rasp.SelectorNot(eq)), [1, 2, 3],
                         causal=True) == [0, 1, 2]
    # The Selector itself is returned unmasked; masking happens in Aggregate/SelectorWidth.
    assert rasp.evaluate(eq, [1, 1], causal=True) == [[True, True], [True, True]]


def test_function_values_are_cached_per_type():
    kinds = rasp.Map(lambda x: type(x).__name__, rasp.tokens)
    assert rasp.evaluate_batch(kinds, [[1], [True], [1.0]]) == [["int"], ["bool"], ["float"]]
    nested = rasp.SequenceMap(lambda p, i: repr((p, i)),
                              rasp.SequenceMap(lambda x, i: (x, i), rasp.tokens, rasp.indices),
                              rasp.indices)
    # (True, 0) == (1, 0) and they hash alike: the cache must still tell them apart.
    assert rasp.evaluate_batch(nested, [[True], [1]]) == [["((True, 0), 0)"], ["((1, 0), 0)"]]


def test_evaluate_batch_and_evaluate_all_agree_with_evaluate():
    program = library.make_sort_freq(5)
    inputs = ["abca", "b", "ccab"]
    assert rasp.evaluate_batch(program, inputs) == [rasp.evaluate(program, x) for x in inputs]
    values = rasp.evaluate_all(program, "abca")
    assert values[program.unique_id] == rasp.evaluate(program, "abca")
    assert len(values) == len(rasp.topological_order(program))


def test_topological_order_lists_children_first_once():
    order = rasp.topological_order(library.make_reverse(rasp.tokens))
    seen = set()
    for node in order:
        assert all(id(c) in seen for c in node.children)
        seen.add(id(node))
    assert len(seen) == len(order)
    assert order[-1].name == "reverse"


def test_a_function_that_raises_is_called_only_for_values_that_occur():
    inverse = rasp.Map(lambda x: 1 / x, rasp.tokens)
    assert inverse([1, 2]) == [1.0, 0.5]


# -- causal evaluation versus evaluating each prefix, on the library ------------------------


def _prefix_outputs(table: dict, xs: tuple) -> list:
    return [table[xs[:q + 1]][q] for q in range(len(xs))]


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_causal_evaluation_equals_prefix_evaluation_exactly_for_causal_safe_programs(name):
    """The registry's causal_safe flag, checked on every input of the default domain.

    Causal-safe: evaluate(p, xs, causal=True)[q] == evaluate(p, xs[:q + 1])[q] for all q.
    Not causal-safe: some input breaks that (or makes causal evaluation raise).
    """
    spec = PROGRAMS[name]
    program = spec()
    inputs = list(spec.inputs())
    table = dict(zip(inputs, rasp.evaluate_batch(program, inputs)))
    # Prefixes of valid inputs are valid for every registered precondition.
    assert all(xs[:q + 1] in table for xs in inputs for q in range(len(xs)))
    if spec.causal_safe:
        causal = rasp.evaluate_batch(program, inputs, causal=True)
        wrong = [(xs, c) for xs, c in zip(inputs, causal) if c != _prefix_outputs(table, xs)]
        assert wrong == []
    else:
        def breaks(xs):
            try:
                return rasp.evaluate(program, xs, causal=True) != _prefix_outputs(table, xs)
            except EvaluationError:
                return True
        assert any(breaks(xs) for xs in inputs)


def test_causal_and_prefix_evaluation_on_examples():
    frac = library.make_frac_prevs(rasp.tokens == "a")
    assert rasp.evaluate(frac, "aba", causal=True) == frac("aba")  # a prefix function
    length = library.make_length()
    assert rasp.evaluate(length, "abc", causal=True) == [1, 2, 3]  # prefix lengths
    hist = library.make_hist()
    assert rasp.evaluate(hist, "aba", causal=True) == [1, 1, 2] != hist("aba")
