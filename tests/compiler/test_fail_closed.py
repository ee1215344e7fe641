"""Issue 23: no silently wrong model gets past compile; bad settings are TheoryKitErrors.

Each test reproduces a defect of commit 0eb631a (a wrong model that passed verification, a raw
exception, or a value that collapsed with another of a different type).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import theory_kit as tk
from theory_kit import rasp
from theory_kit.compiler.verify import outputs_match
from theory_kit.errors import InvalidInput, TheoryKitError, UnsupportedProgram

T, I, C = rasp.tokens, rasp.indices, rasp.Comparison


def _agrees_everywhere(model, program, vocab, max_seq_len, numerical=False):
    from theory_kit.compiler.verify import enumerate_inputs

    for xs in enumerate_inputs(vocab, max_seq_len):
        assert outputs_match(rasp.evaluate(program, xs), model.run(xs), numerical=numerical), xs


# -- 1. numerically close values; categorical outputs compare exactly ---------------------------
def test_threshold_between_values_closer_than_the_noise_is_refused_for_precision():
    v = rasp.numerical(rasp.Map(lambda t: t + (1e-11 if t == 9 else 0), T))
    mean = rasp.numerical(rasp.Aggregate(rasp.Select(I, I, C.TRUE), v, default=0))
    out = rasp.Map(lambda x: 10_000_001 if x > 4.5 else 10_000_000, mean)
    with pytest.raises(UnsupportedProgram, match="precision"):
        tk.compile(out, vocab={0, 4, 5, 9}, max_seq_len=2)


def test_categorical_outputs_compare_exactly():
    from theory_kit.compiler.verify import values_match

    assert not values_match(10_000_001, 10_000_000, numerical=False)
    assert not values_match(True, 1, numerical=False)
    assert not values_match(1.0, 1, numerical=False)
    assert values_match(10_000_001, 10_000_001, numerical=False)
    assert values_match(1.0, 1.0000000001, numerical=True)
    assert not outputs_match([10_000_001], [10_000_000])  # auto mode: ints are categorical


def test_close_values_get_an_epsilon_that_resolves_them():
    # gap 1e-7 between 4.5 and 4.5 + 1e-7: ε is derived from it (1/(8(N+1)^2·vmax) alone
    # would leave noise ~1e-9 · 9, fine in float64 but not in float32)
    v = rasp.numerical(rasp.Map(lambda t: t + (2e-7 if t == 9 else 0), T))
    mean = rasp.numerical(rasp.Aggregate(rasp.Select(I, I, C.TRUE), v, default=0))
    out = rasp.Map(lambda x: "hi" if x > 4.5 + 0.5e-7 else "lo", mean)
    m = tk.compile(out, vocab={0, 4, 5, 9}, max_seq_len=2, verify="exhaustive")
    assert m.constants["epsilon"] <= 2e-7 / 2 / (8 * 9.0) * 1.0001
    _agrees_everywhere(m, out, {0, 4, 5, 9}, 2)
    with pytest.raises(UnsupportedProgram, match="precision"):
        tk.compile(out, vocab={0, 4, 5, 9}, max_seq_len=2, dtype=np.float32)


# -- 2./3. None ---------------------------------------------------------------------------------
def test_none_selected_with_copies_of_a_value_is_refused():
    p = rasp.Aggregate(rasp.Select(T, T, lambda k, q: k >= 48),
                       rasp.Map(lambda t: None if t == 49 else 0, T))
    assert rasp.evaluate(p, [48, 48, 49]) == [None, None, None]
    with pytest.raises(UnsupportedProgram, match="can be None"):
        tk.compile(p, vocab=set(range(50)), max_seq_len=5)


def test_none_in_an_aggregate_that_selects_one_position_still_compiles():
    shifted = rasp.Aggregate(rasp.Select(I, I, lambda k, q: k == q - 1), T)  # None at 0
    p = rasp.Aggregate(rasp.Select(I, I, lambda k, q: k == q), shifted)
    m = tk.compile(p, vocab={1, 2}, max_seq_len=3)
    _agrees_everywhere(m, p, {1, 2}, 3)


@pytest.mark.parametrize("make", [
    lambda: rasp.numerical(rasp.Map(lambda t: None if t == 2 else t, T)),
    lambda: rasp.numerical(rasp.Aggregate(rasp.Select(I, I, C.TRUE),
                                          rasp.Map(lambda t: None if t == 2 else t, T), default=0)),
    lambda: rasp.numerical(rasp.SequenceMap(lambda x, y: None if x == y else x + y, T, I)),
    lambda: rasp.numerical(rasp.Map(lambda x: 2 * x, rasp.Aggregate(
        rasp.Select(I, I, lambda k, q: k == q - 1), T))),
], ids=["map", "aggregate", "sequence_map", "map_of_empty_aggregate"])
def test_numerical_sop_that_can_be_none_is_refused(make):
    with pytest.raises(UnsupportedProgram, match="numerical but can be None"):
        tk.compile(make(), vocab={1, 2, 3}, max_seq_len=3)


# -- 4. internal names ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["one", "bos", "x.bos_weight"])
@pytest.mark.parametrize("verify", [None, "auto"])
def test_user_names_do_not_collide_with_internal_directions(name, verify):
    width = rasp.SelectorWidth(rasp.Select(T, T, C.EQ)).named("x")
    a = rasp.numerical(rasp.Map(lambda t: t + 1, T)).named(name)
    p = rasp.numerical(rasp.LinearSequenceMap(rasp.numerical(rasp.Map(lambda v: v, width)),
                                              a, 1, 1))
    m = tk.compile(p, vocab={1, 2, 3}, max_seq_len=3, verify=verify)
    _agrees_everywhere(m, p, {1, 2, 3}, 3, numerical=True)


# -- 5. values equal across types -----------------------------------------------------------------
@pytest.mark.parametrize("f", [lambda t: True if t == 1 else 1, lambda t: 1.0 if t == 1 else 1,
                               lambda t: 0 if t == 1 else False], ids=["True/1", "1.0/1", "0/False"])
def test_values_equal_across_types_keep_their_types(f):
    p = rasp.Map(f, T)
    m = tk.compile(p, vocab={1, 2}, max_seq_len=2)
    for xs in ([1, 2], [2, 1], [1], [2]):
        got, want = m.run(xs), rasp.evaluate(p, xs)
        assert [(type(g), g) for g in got] == [(type(w), w) for w in want]


def test_aggregate_default_of_another_type_than_the_values():
    p = rasp.Aggregate(rasp.Select(I, I, lambda k, q: k == q - 1), rasp.Map(lambda t: t == 1, T),
                       default=1)
    m = tk.compile(p, vocab={1, 2}, max_seq_len=3)
    for xs in ([1, 2], [2, 1, 1]):
        got, want = m.run(xs), rasp.evaluate(p, xs)
        assert [(type(g), g) for g in got] == [(type(w), w) for w in want]


@pytest.mark.parametrize("bos,vocab", [(True, {1, 2}), (False, {0, 2}), (1.0, {1, 2})])
def test_bos_equal_to_a_token_of_another_type(bos, vocab):
    p = rasp.Map(lambda t: t, T)
    m = tk.compile(p, vocab=vocab, bos=bos, max_seq_len=2)
    _agrees_everywhere(m, p, vocab, 2)
    with pytest.raises(InvalidInput, match="not in the vocabulary"):
        m.run([bos])


def test_tokens_match_by_type_at_run_time():
    m = tk.compile(rasp.Map(lambda t: t, T), vocab={1, 2.5}, max_seq_len=2)
    assert m.run([1, 2.5]) == [1, 2.5]
    assert m.run([np.int64(1)]) == [1]
    for bad in ([1.0], [True]):
        with pytest.raises(InvalidInput, match="different token"):
            m.run(bad)
    m = tk.compile(rasp.Map(lambda t: t, T), vocab={1, 2}, max_seq_len=2)
    with pytest.raises(InvalidInput, match="different token"):
        m.run_batch([[1], [True]])


def test_vocab_listing_one_token_under_two_types_is_refused():
    with pytest.raises(InvalidInput, match="treats as one token"):
        tk.compile(rasp.Map(lambda t: t, T), vocab=[1, True, 2], max_seq_len=2)


def test_categorical_aggregate_of_equal_values_of_different_types_is_not_one_value():
    p = rasp.Aggregate(rasp.Select(I, I, C.TRUE), rasp.Map(lambda t: True if t == 1 else 1, T))
    with pytest.raises(tk.errors.EvaluationError, match="several different values"):
        rasp.evaluate(p, [1, 2])


# -- 6. one-shot vocabularies ---------------------------------------------------------------------
def test_generator_vocab_is_read_once():
    m = tk.compile(rasp.Map(lambda t: t, T), vocab=(x for x in [1, 2]), max_seq_len=2)
    assert m.vocab == frozenset({1, 2})
    assert m.constants["verified_inputs"] == 6


# -- 9. raw exceptions ----------------------------------------------------------------------------
@pytest.mark.parametrize("call,match", [
    (lambda: rasp.evaluate_batch(T, None), "iterable of input sequences"),
    (lambda: rasp.evaluate(I, [1, 2], causal="no"), "causal must be True or False"),
    (lambda: tk.compile(rasp.numerical(rasp.Aggregate(rasp.Select(I, I, C.TRUE), T, default=0)),
                        vocab={"a", "b"}, max_seq_len=2), "non-numbers"),
])
def test_raw_exceptions_are_theory_kit_errors(call, match):
    with pytest.raises(TheoryKitError, match=match):
        call()


@pytest.mark.parametrize("simplify", [True, False])
def test_deep_programs_do_not_recurse(simplify):
    p = T
    for _ in range(1500):
        p = rasp.Map(lambda x: x, p, simplify=simplify)
    assert rasp.evaluate(p, [1]) == [1]
    assert tk.compile(p, vocab={1}, max_seq_len=1).run([1]) == [1]


def test_fused_map_of_none_is_none_as_unfused():
    g = lambda t: None if t == 1 else t  # noqa: E731
    f = lambda x: "none" if x is None else x  # noqa: E731
    fused = rasp.Map(f, rasp.Map(g, T))
    unfused = rasp.Map(f, rasp.Map(g, T), simplify=False)
    assert rasp.evaluate(fused, [1, 2]) == rasp.evaluate(unfused, [1, 2]) == [None, 2]


# -- 11. size guards ------------------------------------------------------------------------------
@pytest.mark.parametrize("name,match", [("length", "embedding memory"),
                                        ("reverse", "value pairs of 'opp_idx'")])
def test_huge_max_seq_len_is_refused_with_the_numbers(name, match):
    from theory_kit.library import PROGRAMS

    with pytest.raises(InvalidInput, match=match) as info:
        tk.compile(PROGRAMS[name](), vocab={1, 2, 3}, max_seq_len=100_000)
    assert "limit" in str(info.value) and "max_seq_len" in str(info.value)


def test_exhaustive_verification_over_a_huge_space_is_refused():
    with pytest.raises(InvalidInput, match="exhaustive verification"):
        tk.compile(rasp.Map(lambda t: t, T), vocab=set(range(10)), max_seq_len=9,
                   verify="exhaustive")


def test_sampled_verification_too_long_to_run_is_refused():
    p = rasp.SelectorWidth(rasp.Select(T, T, C.EQ))
    with pytest.raises(InvalidInput, match="verify=None"):
        tk.compile(p, vocab={1, 2}, max_seq_len=5_000)


def test_threshold_at_a_rounded_rational_value_is_refused_for_precision():
    # the value set holds round(1/3, 12) < 1/3; the interpreter computes 1/3 itself
    one = rasp.numerical(rasp.Map(lambda t: 1 if t == 1 else 0, T))
    mean = rasp.numerical(rasp.Aggregate(rasp.Select(I, I, C.TRUE), one, default=0))
    out = rasp.Map(lambda x: x >= 1 / 3, mean)
    with pytest.raises(UnsupportedProgram, match="precision"):
        tk.compile(out, vocab={0, 1}, max_seq_len=3)
    exact = rasp.Map(lambda x: x >= 0.5, mean)  # 0.5 is represented exactly: compiles
    m = tk.compile(exact, vocab={0, 1}, max_seq_len=3)
    _agrees_everywhere(m, exact, {0, 1}, 3)


def test_categorical_map_of_a_numerical_sop_sees_the_interpreters_python_value():
    # the residual holds the number 0.0; the interpreter holds the int 0 (found by the sweep)
    x = rasp.numerical(rasp.Map(lambda v: v % 2, I, simplify=False))
    for f in (str, lambda v: v):
        p = rasp.Map(f, x, simplify=False)
        m = tk.compile(p, vocab={0}, max_seq_len=3, verify=None)
        for n in (1, 2, 3):
            got, want = m.run([0] * n), rasp.evaluate(p, [0] * n)
            assert [(type(g), g) for g in got] == [(type(w), w) for w in want]


def test_numbers_held_under_two_types_at_once_are_refused_for_type_sensitive_maps():
    zero = rasp.numerical(rasp.Map(lambda t: 0, T))
    mean = rasp.numerical(rasp.Aggregate(rasp.Select(I, I, lambda k, q: k < q), zero, default=0))
    with pytest.raises(UnsupportedProgram, match="one number"):
        tk.compile(rasp.Map(str, mean, simplify=False), vocab={0}, max_seq_len=3)
    m = tk.compile(rasp.Map(lambda v: v > 0.5, mean, simplify=False), vocab={0}, max_seq_len=3)
    assert m.run([0, 0]) == [False, False]


def test_never_empty_analysis_of_a_fused_selector_with_a_user_node_named_length():
    # found by the adversarial sweep: a raw KeyError from the None analysis
    sel = rasp.Select(rasp.length, I, C.GT)
    width = rasp.SelectorWidth(rasp.SelectorOr(sel, sel))
    key = rasp.SequenceMap(lambda x, y: x + 1e-11 * y, width, T)
    w2 = rasp.SelectorWidth(rasp.Select(key, key, C.GEQ))
    either = rasp.SelectorOr(rasp.Select(w2, T, C.GEQ), rasp.Select(w2, I, C.GEQ))
    p = rasp.Aggregate(either, rasp.length, default=None).named("length")
    try:
        m = tk.compile(p, vocab={10_000_000}, max_seq_len=2, dtype=np.float32)
    except TheoryKitError:
        return  # refusing is fine; a raw exception is not
    _agrees_everywhere(m, p, {10_000_000}, 2)


def test_default_of_a_never_empty_selector_is_not_a_reachable_value():
    # found by the thorough differential sweep: the default 0 of the inner mean made 0.5 look
    # reachable for the outer one, and `x >= 0.5` was refused for precision although every
    # mean is exactly 1.0 (the selector always selects the query itself)
    sel = rasp.Select(T, T, C.EQ)
    inner = rasp.numerical(rasp.Aggregate(sel, rasp.numerical(rasp.Full(1)), default=0))
    outer = rasp.numerical(rasp.Aggregate(sel, inner, default=0))
    p = rasp.Map(lambda x: x >= 0.5, outer)
    m = tk.compile(p, vocab={0}, max_seq_len=3)
    assert 0 not in m.assignment.nodes[inner.unique_id].values
    _agrees_everywhere(m, p, {0}, 3)


def test_categorical_aggregate_whose_default_is_unreachable_compiles():
    # found by the adversarial programs: with the default left out of the value set, the
    # lowering looked its one-hot up and raised a raw KeyError
    v = rasp.numerical(rasp.Map(lambda x: x + (1e-11 if x == 0 else 0), T))
    sel = rasp.Select(T, T, C.EQ)
    mean = rasp.numerical(rasp.Aggregate(rasp.SelectorAnd(sel, sel), v, default=0))
    high = rasp.Map(lambda x: x > 5e-12, mean)
    p = rasp.Aggregate(rasp.Select(high, high, C.EQ), rasp.length, default=0)
    m = tk.compile(p, vocab={0, 1}, max_seq_len=2)
    _agrees_everywhere(m, p, {0, 1}, 2)


def test_and_of_selectors_that_select_the_query_itself_is_never_empty():
    # the thorough sweep again: the same with a SelectorAnd of two diagonal selectors
    sel = rasp.Select(T, T, C.EQ)
    inner = rasp.numerical(rasp.Aggregate(rasp.SelectorAnd(sel, rasp.Select(T, T, C.EQ)),
                                          rasp.numerical(rasp.Full(1)), default=0))
    p = rasp.Map(lambda x: x >= 0.5, rasp.numerical(rasp.Aggregate(sel, inner, default=0)))
    m = tk.compile(p, vocab={0}, max_seq_len=3)
    assert 0 not in m.assignment.nodes[inner.unique_id].values
    _agrees_everywhere(m, p, {0}, 3)


def test_aggregate_of_a_selector_that_never_selects_is_its_default():
    # the thorough sweep: LT on a one-token vocabulary never selects, so the inner mean is its
    # default 0 and 0.5 is not a reachable value of the outer one
    sel = rasp.Select(T, T, C.LT)
    inner = rasp.numerical(rasp.Aggregate(sel, rasp.numerical(rasp.Full(1)), default=0))
    p = rasp.Map(lambda x: x >= 0.5, rasp.numerical(rasp.Aggregate(sel, inner, default=0)))
    m = tk.compile(p, vocab={0}, max_seq_len=3)
    assert m.assignment.nodes[inner.unique_id].values == (0,)
    _agrees_everywhere(m, p, {0}, 3)
    never = rasp.Aggregate(rasp.Select(T, T, C.LT), T)  # categorical, default None: always None
    m = tk.compile(rasp.Map(lambda x: x, never), vocab={0}, max_seq_len=2)
    assert m.run([0, 0]) == [None, None]


def test_mean_of_means_that_are_small_dyadics_is_exact():
    # the thorough sweep: Select(tokens, indices, EQ) on vocab {0} gives means 1 and 0, and the
    # outer mean reaches 0.5 exactly ((1 + 0) / 2 in floats): a threshold there is decidable
    sel = rasp.Select(T, I, C.EQ)
    inner = rasp.numerical(rasp.Aggregate(sel, rasp.numerical(rasp.Full(1)), default=0))
    p = rasp.Map(lambda x: x >= 0.5, rasp.numerical(rasp.Aggregate(sel, inner, default=0)))
    m = tk.compile(p, vocab={0}, max_seq_len=3)
    assert m.run([0, 0]) == [True, False]
    _agrees_everywhere(m, p, {0}, 3)
    # a mean of thirds stays refused at its exact value: the interpreter's float decides
    thirds = rasp.numerical(rasp.Aggregate(rasp.Select(I, I, C.TRUE),
                                           rasp.numerical(rasp.Map(lambda t: t / 3, T)), default=0))
    with pytest.raises(UnsupportedProgram, match="precision"):
        tk.compile(rasp.Map(lambda x: x >= 2 / 9, thirds, simplify=False), vocab={0, 1},
                   max_seq_len=3)


def test_a_function_that_tells_zero_from_minus_zero_on_one_residual_number_is_refused():
    # -0.0 and 0.0 are one value to value sets (typed_key) and to the interpreter's cache (so
    # its result at every position is the one on whichever came first), but str/copysign tell
    # them apart: at t=0 the sum is -1.0*0.0 + -1*0.0 = -0.0, at t=1 it is -1.0 + 1.0 = 0.0.
    # Before, the model always said "-0.0" (verification even passed: its batch cache agreed)
    x = rasp.numerical(rasp.Map(lambda t: float(t), T))
    z = rasp.numerical(rasp.Map(lambda t: 0.0 if t == 0 else -1.0, T))
    both = rasp.numerical(rasp.LinearSequenceMap(x, z, -1, -1))
    assert [str(v) for v in rasp.evaluate(both, [0, 1])] == ["-0.0", "0.0"]
    for f in (str, lambda v: math.copysign(1.0, v)):
        with pytest.raises(UnsupportedProgram, match="one number in the residual stream"):
            tk.compile(rasp.Map(f, both), vocab={0, 1}, max_seq_len=2, verify=None)
    # the same through a numerical Map that holds both zeros
    zeros = rasp.numerical(rasp.Map(lambda t: -0.0 if t == 0 else 0.0, T))
    with pytest.raises(UnsupportedProgram, match="one number in the residual stream"):
        tk.compile(rasp.Map(str, zeros, simplify=False), vocab={0, 1}, max_seq_len=2, verify=None)
    # a function of the number only still compiles
    p = rasp.Map(lambda v: v > 0.5, both)
    _agrees_everywhere(tk.compile(p, vocab={0, 1}, max_seq_len=2, verify=None), p, {0, 1}, 2)


def test_the_sign_of_a_linear_sequence_maps_zero_is_the_interpreters():
    # -1*0 + -1*0.0 is 0 + -0.0 = 0.0 (an int zero plus -0.0), though the float sums of the
    # value set give -0.0: the model said copysign -1.0 where the interpreter says 1.0
    x = rasp.numerical(rasp.Map(lambda t: t, T))
    z = rasp.numerical(rasp.Map(lambda t: 0.0 if t == 0 else -1.0, T))
    lsm = rasp.numerical(rasp.LinearSequenceMap(x, z, -1, -1))
    p = rasp.Map(lambda v: math.copysign(1.0, v), lsm)
    assert rasp.evaluate(p, [0, 1]) == [1.0, 1.0]
    m = tk.compile(p, vocab={0, 1}, max_seq_len=2, verify=None)
    for xs in ([0], [1], [0, 1], [1, 0]):
        assert m.run(xs) == rasp.evaluate(p, xs), xs
    assert [str(v) for v in tk.compile(rasp.Map(str, lsm), vocab={0, 1}, max_seq_len=2).run(
        [0, 1])] == ["0.0", "0.0"]
