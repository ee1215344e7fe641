"""theory_kit.rasp.nodes: Tracr's operators and simplifications, frozen nodes, annotations."""

from __future__ import annotations

import pickle

import pytest

from theory_kit import rasp
from theory_kit.errors import InvalidProgram, TheoryKitError

XS = [3, 1, 2]


# -- operators build the same node kinds as Tracr ------------------------------------------------


@pytest.mark.parametrize("build,expected", [
    (lambda s: s == 1, [x == 1 for x in XS]),
    (lambda s: s != 1, [x != 1 for x in XS]),
    (lambda s: s < 2, [x < 2 for x in XS]),
    (lambda s: s <= 2, [x <= 2 for x in XS]),
    (lambda s: s > 2, [x > 2 for x in XS]),
    (lambda s: s >= 2, [x >= 2 for x in XS]),
    (lambda s: s + 1, [x + 1 for x in XS]),
    (lambda s: 1 + s, [1 + x for x in XS]),
    (lambda s: s - 1, [x - 1 for x in XS]),
    (lambda s: 10 - s, [10 - x for x in XS]),
    (lambda s: s * 3, [x * 3 for x in XS]),
    (lambda s: 3 * s, [3 * x for x in XS]),
    (lambda s: s / 2, [x / 2 for x in XS]),
    (lambda s: 6 / s, [6 / x for x in XS]),
    (lambda s: ~(s == 1), [not x == 1 for x in XS]),
    (lambda s: (s == 1) & True, [x == 1 for x in XS]),
    (lambda s: (s == 1) | False, [x == 1 for x in XS]),
    (lambda s: True & (s == 1), [x == 1 for x in XS]),
    (lambda s: False | (s == 1), [x == 1 for x in XS]),
])
def test_operators_with_a_constant_build_a_map_of_tokens(build, expected):
    sop = build(rasp.tokens)
    assert type(sop) is rasp.Map
    assert sop.inner is rasp.tokens  # nested Maps were fused (simplify=True, as Tracr)
    assert sop(XS) == expected


@pytest.mark.parametrize("build,expected", [
    (lambda a, b: a + b, [3 + 0, 1 + 1, 2 + 2]),
    (lambda a, b: a - b, [3 - 0, 1 - 1, 2 - 2]),
    (lambda a, b: a * b, [0, 1, 4]),
    (lambda a, b: b / a, [0 / 3, 1 / 1, 2 / 2]),
    (lambda a, b: (a > 1) & (b > 0), [False, False, True]),
    (lambda a, b: (a > 2) | (b > 1), [True, False, True]),
])
def test_operators_between_sops_build_a_sequence_map_in_operand_order(build, expected):
    sop = build(rasp.tokens, rasp.indices)
    assert type(sop) is rasp.SequenceMap
    assert sop(XS) == expected


def test_sequence_map_children_are_fst_then_snd():
    sop = rasp.tokens - rasp.indices
    assert sop.children == (rasp.tokens, rasp.indices)
    assert (rasp.indices - rasp.tokens).children == (rasp.indices, rasp.tokens)


def test_map_of_map_is_fused_unless_simplify_false():
    inner = rasp.Map(lambda x: x + 1, rasp.tokens)
    fused = rasp.Map(lambda x: x * 10, inner)
    assert fused.inner is rasp.tokens and fused([1, 2]) == [20, 30]
    nested = rasp.Map(lambda x: x * 10, inner, simplify=False)
    assert nested.inner is inner and nested([1, 2]) == [20, 30]


def test_a_chain_of_fused_maps_applies_every_function_once_in_order():
    calls = []
    sop = rasp.tokens
    for k in range(4):
        sop = rasp.Map(lambda x, k=k: calls.append(k) or x * 2 + k, sop)
    assert sop.inner is rasp.tokens
    assert sop([1]) == [((((1 * 2 + 0) * 2 + 1) * 2 + 2) * 2 + 3)]
    assert calls == [0, 1, 2, 3]


def test_linear_sequence_map_keeps_factors_and_computes_the_combination():
    sop = rasp.LinearSequenceMap(rasp.tokens, rasp.indices, 2, -1)
    assert (sop.fst_fac, sop.snd_fac) == (2, -1)
    assert isinstance(sop, rasp.SequenceMap)
    assert sop(XS) == [6, 1, 2]


# -- selector combinators simplify like Tracr's -------------------------------------------------


def _sel(keys, queries, pred):
    return rasp.Select(keys, queries, pred)


def test_and_or_of_selects_with_shared_keys_and_queries_fuse_into_one_select():
    lt = _sel(rasp.tokens, rasp.tokens, rasp.Comparison.LT)
    neq = _sel(rasp.tokens, rasp.tokens, rasp.Comparison.NEQ)
    both = lt & neq
    either = lt | _sel(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)
    assert type(both) is rasp.Select and both.keys is rasp.tokens
    assert type(either) is rasp.Select
    assert rasp.evaluate(both, XS) == rasp.evaluate(rasp.SelectorAnd(lt, neq), XS)
    assert rasp.evaluate(either, XS) == [[k <= q for k in XS] for q in XS]


def test_selects_over_different_keys_stay_composite():
    by_token = _sel(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)
    by_index = _sel(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    assert type(by_token & by_index) is rasp.SelectorAnd
    assert type(by_token | by_index) is rasp.SelectorOr
    assert type(rasp.selector_and(by_token, by_token, simplify=False)) is rasp.SelectorAnd
    both = rasp.evaluate(by_token & by_index, [1, 1, 2])
    assert both == [[True, False, False], [True, True, False], [False, False, True]]


def test_full_keys_match_anything_and_bake_the_fill_into_the_predicate():
    by_full = _sel(rasp.Full(2), rasp.tokens, lambda k, q: k == q)  # query == 2
    by_index = _sel(rasp.indices, rasp.tokens, lambda k, q: k < q)
    fused = by_full & by_index
    assert type(fused) is rasp.Select and fused.keys is rasp.indices
    assert rasp.evaluate(fused, [2, 1]) == [[True, True], [False, False]]


def test_not_of_a_select_negates_its_predicate_and_not_of_a_composite_wraps_it():
    eq = _sel(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)
    neg = ~eq
    assert type(neg) is rasp.Select
    assert rasp.evaluate(neg, XS) == [[k != q for k in XS] for q in XS]
    composite = eq & _sel(rasp.indices, rasp.indices, rasp.Comparison.TRUE)
    assert type(~composite) is rasp.SelectorNot
    assert type(rasp.selector_not(eq, simplify=False)) is rasp.SelectorNot
    assert rasp.evaluate(~composite, XS) == rasp.evaluate(neg, XS)


# -- frozen nodes and annotations ----------------------------------------------------------------


def test_nodes_are_frozen():
    sop = rasp.Map(lambda x: x, rasp.tokens).named("m")
    with pytest.raises(InvalidProgram, match=r"^RASP expressions are frozen: cannot set 'f' on "
                                             r"'m'; use annotate\(expr, \.\.\.\) or build a new "
                                             r"node$"):
        sop.f = lambda x: 0
    with pytest.raises(InvalidProgram, match=r"cannot delete 'inner' on 'm'"):
        del sop.inner
    with pytest.raises(InvalidProgram, match=r"cannot set 'anything' on 'tokens'"):
        rasp.tokens.anything = 1


def test_annotate_returns_a_copy_and_leaves_the_original_alone():
    original = rasp.Map(lambda x: x + 1, rasp.tokens)
    auto_name = original.name
    named = original.named("plus_one")
    assert named is not original and named.unique_id != original.unique_id
    assert (named.name, original.name) == ("plus_one", auto_name)
    assert named.inner is original.inner and named.f is original.f
    assert named([1]) == original([1]) == [2]
    tagged = rasp.annotate(named, note="x")
    assert tagged.annotations["note"] == "x" and "note" not in named.annotations
    assert tagged.name == "plus_one"  # later annotations keep earlier ones
    copy = original.annotated(note="y")
    assert copy.name == auto_name  # a copy keeps the auto-name: recognisably the same node
    with pytest.raises(TypeError):
        named.annotations["name"] = "other"  # read-only mapping


def test_auto_names_use_tracr_class_names_and_are_unique():
    sops = [rasp.Map(lambda x: x, rasp.tokens), rasp.SequenceMap(lambda x, y: x, rasp.tokens,
            rasp.indices), rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)]
    prefixes = [s.name.rsplit("_", 1)[0] for s in sops]
    assert prefixes == ["map", "sequence_map", "select"]
    assert len({s.name for s in sops}) == 3
    assert (rasp.tokens.label, rasp.indices.label, rasp.length.label) == (
        "tokens", "indices", "length")


def test_encodings_default_categorical_and_numerical_is_a_copy():
    sop = rasp.Map(lambda x: x, rasp.tokens)
    assert rasp.get_encoding(sop) is rasp.Encoding.CATEGORICAL and rasp.is_categorical(sop)
    num = rasp.numerical(sop)
    assert rasp.is_numerical(num) and rasp.is_categorical(sop)
    assert rasp.is_categorical(rasp.categorical(num)) and rasp.is_numerical(num)
    assert rasp.is_numerical(rasp.numerical(rasp.tokens))  # a copy; `tokens` itself unchanged
    assert rasp.is_categorical(rasp.tokens)


def test_default_annotators_hook_supplies_lazy_defaults():
    rasp.DEFAULT_ANNOTATORS["theory_kit_test_key"] = lambda expr: f"default for {expr.label}"
    try:
        sop = rasp.Map(lambda x: x, rasp.tokens).named("m")
        assert sop.annotations["theory_kit_test_key"] == "default for m"
        assert rasp.annotate(sop, theory_kit_test_key=1).annotations["theory_kit_test_key"] == 1
    finally:
        del rasp.DEFAULT_ANNOTATORS["theory_kit_test_key"]


def test_truth_value_and_pickling_are_refused():
    with pytest.raises(InvalidProgram, match=r"the truth value of SOp 'eq' is undefined"):
        bool((rasp.tokens == 1).named("eq"))
    with pytest.raises(InvalidProgram, match=r"not pickled; got 'tokens'"):
        pickle.dumps(rasp.tokens)


def test_every_construction_error_is_an_invalid_program_and_a_type_error():
    # InvalidProgram subclasses TypeError, so code written against Tracr's asserts/TypeErrors
    # still catches it.
    with pytest.raises(TypeError):
        rasp.SelectorWidth(rasp.tokens)
    assert issubclass(InvalidProgram, TheoryKitError)
