"""The vectorised oracle equals the scalar interpreter: same values, same types, same errors.

`evaluate_vectorised` must be a drop-in replacement for `rasp.evaluate_batch`: every library
program on every input up to a small length (causal too where the program is causal-safe),
1,000+ generated programs on every input, None and empty-selection cases, functions that raise,
and the fallback to the scalar interpreter (with its reason reported).
"""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from theory_kit import rasp
from theory_kit.errors import EvaluationError, InvalidInput, InvalidProgram
from theory_kit.library import PROGRAMS
from theory_kit.rasp.vectorised import COUNTS, evaluate_vectorised
from theory_kit.values import identical
from theory_kit.testing import format_program
from theory_kit.testing.strategies import adversarial_vocabularies, programs, vocabularies
from theory_kit.values import value_sort_key

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
#: Generated programs per property (non-causal, causal, adversarial) under each profile.
GENERATED = {"ci": 1000, "thorough": 5000}.get(PROFILE, 1000)
GENERATED_CAUSAL = {"ci": 250, "thorough": 2000}.get(PROFILE, 250)
ADVERSARIAL = {"ci": 150, "thorough": 1000}.get(PROFILE, 150)

# -- helpers -----------------------------------------------------------------------------------


def outcome(fn):
    try:
        return ("ok", fn())
    except Exception as exc:  # the same class and message on both sides
        return ("raised", type(exc), str(exc))


def check(program, inputs, *, causal=False, path=None, **kwargs) -> dict:
    """Both evaluators agree on `inputs`; returns the vectorised call's info."""
    inputs = list(inputs)
    expected = outcome(lambda: rasp.evaluate_batch(program, inputs, causal=causal))
    info: dict = {}
    got = outcome(lambda: evaluate_vectorised(program, inputs, causal=causal, info=info,
                                              **kwargs))
    assert identical(expected, got), f"interpreter {expected!r:.400}\nvectorised {got!r:.400}"
    if path is not None:
        assert info["path"] == path, info
    return info


def every_input(vocab, max_len: int, min_len: int = 0) -> list[list]:
    tokens = sorted(vocab, key=value_sort_key)
    return [list(xs) for n in range(min_len, max_len + 1)
            for xs in itertools.product(tokens, repeat=n)]


def largest_length(vocab_size: int, max_seq_len: int, limit: int = 1500) -> int:
    n = 1
    while n < max_seq_len and sum(vocab_size ** k for k in range(n + 2)) <= limit:
        n += 1
    return n


# -- library programs --------------------------------------------------------------------------

LIBRARY = sorted(PROGRAMS)


@pytest.mark.parametrize("name", LIBRARY)
def test_library_program_every_input(name):
    spec = PROGRAMS[name]
    program = spec()
    n = largest_length(len(spec.vocab), spec.max_seq_len)
    inputs = every_input(spec.vocab, n)  # the empty input and inputs outside the domain too
    modes = [False, True] if spec.causal_safe else [False]
    for causal in modes:
        check(program, inputs, causal=causal)
        domain = [xs for xs in inputs if spec.accepts(xs)]
        check(program, domain, causal=causal, path="vectorised")


@pytest.mark.parametrize("name", ["sort", "hist", "reverse", "sort_unique", "frac_prevs"])
def test_library_program_longer_inputs(name):
    spec = PROGRAMS[name]
    program = spec.at(max_seq_len=7)
    rng = np.random.default_rng(7)
    if spec.precondition is None:
        inputs = [[spec.vocab[i] for i in rng.integers(0, len(spec.vocab), size=n)]
                  for n in rng.integers(1, 8, size=300)]
    else:  # sort_unique: distinct tokens
        inputs = [list(rng.permutation(spec.vocab)[:n].tolist())
                  for n in rng.integers(1, len(spec.vocab) + 1, size=300)]
    check(program, inputs, path="vectorised")
    if spec.causal_safe:
        check(program, inputs, causal=True, path="vectorised")


# -- generated programs ------------------------------------------------------------------------


@st.composite
def cases(draw, *, causal=False, adversarial=False):
    vocabs = adversarial_vocabularies if adversarial else vocabularies
    vocab = draw(vocabs(min_size=1, max_size=3))
    max_seq_len = draw(st.sampled_from([3, 4]))
    program = draw(programs(vocab=vocab, max_seq_len=max_seq_len, causal=causal,
                            numerical=True, adversarial=adversarial))
    # Small chunks too: tables then grow across chunks.
    chunk_bytes = draw(st.sampled_from([64 * 2 ** 20, 4096, 1]))
    note(f"vocab={sorted(vocab, key=value_sort_key)} max_seq_len={max_seq_len} "
         f"causal={causal} chunk_bytes={chunk_bytes}")
    note("program:\n" + format_program(program))
    return vocab, max_seq_len, program, chunk_bytes


def _check_case(case, causal):
    vocab, max_seq_len, program, chunk_bytes = case
    info = check(program, every_input(vocab, max_seq_len), causal=causal,
                 chunk_bytes=chunk_bytes)
    note(f"path: {info}")


@settings(max_examples=GENERATED)
@given(cases())
def test_generated_programs(case):
    _check_case(case, causal=False)


@settings(max_examples=GENERATED_CAUSAL)
@given(cases(causal=True))
def test_generated_programs_causal(case):
    _check_case(case, causal=True)


@settings(max_examples=ADVERSARIAL)
@given(st.booleans().flatmap(lambda c: cases(causal=c, adversarial=True).map(lambda x: (x, c))))
def test_generated_adversarial_programs(case_causal):
    case, causal = case_causal
    _check_case(case, causal=causal)


@pytest.mark.slow
@settings(max_examples=4 * GENERATED)
@given(st.booleans().flatmap(lambda c: cases(causal=c).map(lambda x: (x, c))))
def test_slow_sweep_generated_programs(case_causal):
    case, causal = case_causal
    _check_case(case, causal=causal)


@pytest.mark.slow
@settings(max_examples=5 * ADVERSARIAL)
@given(st.booleans().flatmap(lambda c: cases(causal=c, adversarial=True).map(lambda x: (x, c))))
def test_slow_sweep_adversarial_programs(case_causal):
    case, causal = case_causal
    _check_case(case, causal=causal)


# -- None and empty selections -----------------------------------------------------------------

T, I, LEN = rasp.tokens, rasp.indices, rasp.length
INPUTS = every_input([0, 1, 2, 3], 4)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("default", [None, 0, -1, 2.5, "d", True])
def test_empty_selection_gives_the_default(causal, default):
    nothing = rasp.Select(T, T, rasp.Comparison.FALSE)
    previous = rasp.Select(I, I, lambda k, q: k == q - 1)  # position 0 selects nothing
    smaller = rasp.Select(T, T, rasp.Comparison.LT)  # the smallest token selects nothing
    for sel in (nothing, previous):
        check(rasp.Aggregate(sel, T, default=default), INPUTS, causal=causal,
              path="vectorised")
    for sel in (nothing, previous, smaller):
        check(rasp.numerical(rasp.Aggregate(sel, rasp.numerical(I), default=default)), INPUTS,
              causal=causal, path="vectorised")


@pytest.mark.parametrize("causal", [False, True])
def test_none_values_propagate(causal):
    maybe = rasp.Map(lambda x: None if x == 2 else x * 10, T)  # None at token 2
    check(maybe, INPUTS, causal=causal, path="vectorised")
    check(rasp.Map(lambda x: x + 1, maybe), INPUTS, causal=causal, path="vectorised")
    check(rasp.SequenceMap(lambda x, y: (x, y), maybe, I), INPUTS, causal=causal,
          path="vectorised")
    # A categorical Aggregate selecting a None is None (before the same-value rule).
    prev = rasp.Select(I, I, lambda k, q: k == q - 1)
    check(rasp.Aggregate(prev, maybe), INPUTS, causal=causal, path="vectorised")
    everything = rasp.Select(T, T, rasp.Comparison.TRUE)
    constant_or_none = rasp.Map(lambda x: None if x == 2 else 5, T)
    check(rasp.Aggregate(everything, constant_or_none), INPUTS, causal=causal,
          path="vectorised")
    check(rasp.numerical(rasp.Aggregate(everything, rasp.numerical(maybe), default=0)),
          INPUTS, causal=causal, path="vectorised")
    # A Select meeting None raises: the interpreter runs and raises its own error.
    info = check(rasp.SelectorWidth(rasp.Select(maybe, I, rasp.Comparison.EQ)), INPUTS,
                 causal=causal, path="scalar")
    assert "None" in info["reason"]
    with pytest.raises(EvaluationError, match="is None"):
        evaluate_vectorised(rasp.SelectorWidth(rasp.Select(maybe, I, rasp.Comparison.EQ)),
                            INPUTS, causal=causal)


def test_none_output_and_none_default_outputs():
    none_first = rasp.Aggregate(rasp.Select(I, I, lambda k, q: k == q - 1), T)
    out = evaluate_vectorised(none_first, [[1, 2, 3], "ab", (4,)])
    assert out == [[None, 1, 2], [None, "a"], [None]]


# -- errors ------------------------------------------------------------------------------------


def test_map_whose_function_raises():
    def f(x):
        if x == 3:
            raise ValueError("three")
        return x

    program = rasp.Map(f, T)
    inputs = [[0, 1], [2, 1, 0], [1, 3, 2], [3]]
    info = check(program, inputs, path="scalar")
    assert "raised ValueError" in info["reason"]
    with pytest.raises(EvaluationError, match=r"raised ValueError\(three\) on value 3"):
        evaluate_vectorised(program, inputs)
    check(program, inputs[:2], path="vectorised")  # never reaches 3
    check(rasp.SequenceMap(lambda x, y: x // y, T, I), INPUTS, path="scalar")  # ZeroDivision
    check(rasp.Select(T, I, lambda k, q: [k][q]), INPUTS, path="scalar")  # IndexError
    check(rasp.Map(lambda x: float("inf") if x == 1 else x, T), INPUTS, path="scalar")


def test_categorical_aggregate_of_different_values_raises_as_the_interpreter():
    program = rasp.Aggregate(rasp.Select(T, T, rasp.Comparison.TRUE), T)
    check(program, [[1, 1], [2], [1, 2]], path="scalar")
    check(program, [[1, 1], [2], [3, 3, 3]], path="vectorised")
    # 1, True and 1.0 are different values: selecting two of them raises.
    mixed = rasp.Aggregate(rasp.Select(T, T, rasp.Comparison.TRUE),
                           rasp.Map(lambda x: {0: 1, 1: True, 2: 1.0}[x], T))
    for inputs in ([[0, 0], [1], [2, 2]], [[0, 1]], [[1, 2]], [[0, 2]]):
        check(mixed, inputs)


def test_invalid_inputs_raise_as_the_interpreter():
    program = rasp.Map(lambda x: x, T)
    for inputs in ([[1, None]], [[1], [[2]]], [[1], [float("nan")]], [b"ab"], [[1], 5],
                   [[1], {1, 2}], "abc", 5, None, [[1.0, float("inf")]]):
        expected = outcome(lambda: rasp.evaluate_batch(program, inputs))
        got = outcome(lambda: evaluate_vectorised(program, inputs))
        assert expected[0] == "raised" and identical(expected, got), (inputs, expected, got)
    # An evaluation error at input 0 comes before an invalid input 1, as in the interpreter.
    failing = rasp.Map(lambda x: 1 // x, T)
    check(failing, [[0], [None]], path="scalar")
    check(failing, [[1], [None]], path="scalar")


def test_invalid_program_and_causal_raise_as_the_interpreter():
    for program, causal in ((5, False), (T, "yes"), (T, 1)):
        expected = outcome(lambda: rasp.evaluate_batch(program, [[1]], causal=causal))
        got = outcome(lambda: evaluate_vectorised(program, [[1]], causal=causal))
        assert expected[0] == "raised" and identical(expected, got)
    with pytest.raises(InvalidProgram):
        evaluate_vectorised(5, [[1]])
    with pytest.raises(InvalidInput):
        evaluate_vectorised(T, 5)


def test_constant_nodes_and_length_mismatch():
    const = rasp.ConstantSOp([1, 2, 3])
    check(rasp.SequenceMap(lambda x, y: x + y, const, T), [[1, 2, 3], [0, 0, 0]],
          path="vectorised")
    check(rasp.SequenceMap(lambda x, y: x + y, const, T), [[1, 2, 3], [0, 0]], path="scalar")
    loose = rasp.ConstantSOp([1, 2, 3], check_length=False)
    check(rasp.Map(lambda x: x, loose), [[1, 2], [0, 0, 0, 0]], path="scalar")
    matrix = [[True, False, True], [False, False, False], [False, True, False]]
    sel = rasp.ConstantSelector(matrix)
    check(rasp.Aggregate(sel, T), [[4, 5, 4], [6, 7, 6]], path="vectorised")
    check(rasp.Aggregate(sel, T), [[4, 5, 6]], path="scalar")  # row 0 selects 4 and 6
    check(rasp.SelectorWidth(sel), [[4, 5, 4]], causal=True, path="vectorised")
    check(rasp.SelectorWidth(sel), [[4, 5]], path="scalar")


# -- values, types and arithmetic --------------------------------------------------------------


def test_one_true_and_one_point_zero_stay_apart():
    kinds = rasp.Map(lambda x: {0: 1, 1: True, 2: 1.0, 3: "1"}[x], T)
    check(kinds, INPUTS, path="vectorised")
    check(rasp.Map(lambda v: type(v).__name__, kinds), INPUTS, path="vectorised")
    check(rasp.SequenceMap(lambda a, b: (a, b), kinds, T), INPUTS, path="vectorised")
    check(rasp.SelectorWidth(rasp.Select(kinds, kinds, lambda k, q: type(k) is type(q))), INPUTS,
          path="vectorised")
    tokens = [1, True, 1.0, "1", (1,), (True,), (1, 1.0)]
    check(rasp.Map(repr, T), [tokens, tokens[::-1], [True, 1]], path="vectorised")
    check(rasp.Map(lambda x: x, T), [[1, True], [True, 1], [0, False, 0.0]])
    check(rasp.Map(ord, T), ["ab\ud800", "\U0001f600a", "\x00"], path="vectorised")
    check(rasp.Map(len, T), [["ab", "", "c"], ["", "abc"]], path="vectorised")
    check(rasp.Map(lambda x: -x, T), [[2 ** 70, 1], [-(2 ** 64)]], path="vectorised")


def test_signed_zeros_follow_the_interpreters_cache():
    # 0.0 and -0.0 are one value to the interpreter's cache: f sees the first one met.
    inputs = [[0.0, -0.0, 1.5], [-0.0, 0.0], [0.0]]
    check(rasp.Map(lambda x: x + 1, T), inputs, path="vectorised")  # indistinguishable
    check(rasp.Map(lambda x: math.copysign(1.0, x), T), inputs, path="scalar")
    check(rasp.Map(repr, T), inputs[1:], path="scalar")
    check(rasp.Map(lambda x: x, T), inputs)
    check(rasp.numerical(rasp.Aggregate(rasp.Select(T, T, rasp.Comparison.TRUE),
                                        rasp.numerical(rasp.Map(lambda x: -x, T)),
                                        default=0)), inputs)
    # A mean of -0.0s is 0.0: Python's sum starts from +0.
    values = {0: -0.0, 1: -0.0, 2: 1.5, 3: -1.5}
    signed = rasp.numerical(rasp.Map(lambda i: values[i], T))
    for pred in (rasp.Comparison.TRUE, rasp.Comparison.LEQ, rasp.Comparison.EQ):
        mean = rasp.numerical(rasp.Aggregate(rasp.Select(T, T, pred), signed, default=0))
        check(mean, INPUTS, path="vectorised")
        check(mean, INPUTS, causal=True, path="vectorised")


@given(st.lists(st.lists(st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.floats(min_value=-1e3, max_value=1e3), st.integers(-10 ** 6, 10 ** 6), st.booleans()),
    min_size=1, max_size=6), min_size=1, max_size=20))
@settings(max_examples=100)
def test_numerical_mean_is_pythons_sum_exactly(rows):
    """Sums of floats depend on the order of addition: the mean equals sum(...)/len(...)."""
    values = [v for row in rows for v in row]
    lookup = {i: v for i, v in enumerate(values)}
    inputs, start = [], 0
    for row in rows:
        inputs.append(list(range(start, start + len(row))))
        start += len(row)
    as_values = rasp.numerical(rasp.Map(lambda i: lookup[i], T))
    for pred in (rasp.Comparison.TRUE, rasp.Comparison.LEQ, rasp.Comparison.GT):
        mean = rasp.numerical(rasp.Aggregate(rasp.Select(T, T, pred), as_values, default=0))
        for causal in (False, True):
            check(mean, inputs, causal=causal)


def test_large_integers_fall_back():
    big = rasp.numerical(rasp.Map(lambda x: 2 ** 53 + x, T))
    mean = rasp.numerical(rasp.Aggregate(rasp.Select(T, T, rasp.Comparison.TRUE), big,
                                         default=0))
    info = check(mean, [[0, 1, 1], [1, 2]], path="scalar")
    assert "too large" in info["reason"]
    check(rasp.Map(lambda x: 10 ** 30 + x, T), [[0, 1, 1], [1, 2]], path="vectorised")


def test_mean_over_non_numbers_falls_back():
    strings = rasp.numerical(rasp.Map(str, T))
    mean = rasp.numerical(rasp.Aggregate(rasp.Select(T, T, rasp.Comparison.TRUE), strings))
    check(mean, [[0, 1]], path="scalar")


# -- the fallback path -------------------------------------------------------------------------


def test_untabulated_values_fall_back_transparently():
    before = dict(COUNTS)
    as_list = rasp.Map(lambda x: [x], T)  # unhashable values
    info = check(as_list, INPUTS, path="scalar")
    assert "list" in info["reason"]
    check(rasp.Map(lambda v: v[0] + 1, as_list), INPUTS, path="vectorised")  # fused
    check(rasp.Map(lambda v: v[0] + 1, as_list, simplify=False), INPUTS, path="scalar")
    check(rasp.Map(lambda x: np.int64(x), T), INPUTS, path="scalar")  # numpy scalars
    check(rasp.Map(lambda x: frozenset([x]), T), INPUTS, path="scalar")
    check(rasp.Map(lambda x: x, T), [[frozenset([1])], [frozenset()]], path="scalar")
    assert COUNTS["scalar"] >= before.get("scalar", 0) + 5


def test_counts_and_info():
    before = COUNTS["vectorised"]
    info: dict = {}
    assert evaluate_vectorised(rasp.Map(lambda x: x + 1, T), [[1, 2]], info=info) == [[2, 3]]
    assert info == {"path": "vectorised", "reason": None}
    assert COUNTS["vectorised"] == before + 1


# -- inputs, outputs and chunks ----------------------------------------------------------------


def test_input_forms_order_and_lengths():
    program = rasp.SequenceMap(lambda x, i: f"{x}{i}", T, I)
    inputs = ["ab", ("c",), [], ["a", "b", "c"], range(3), "", ["z"]]
    check(program, inputs, path="vectorised")
    assert evaluate_vectorised(program, iter(inputs)) == rasp.evaluate_batch(program, inputs)
    check(program, [], path="vectorised")
    assert evaluate_vectorised(program, []) == []
    assert evaluate_vectorised(program, [""]) == [[]]


def test_generator_that_raises_after_some_inputs():
    def gen(first):
        yield first
        raise RuntimeError("broken generator")

    program = rasp.Map(lambda x: 1 // x, T)
    for first in ([1], [0]):  # the interpreter's error on input 0 comes first
        expected = outcome(lambda: rasp.evaluate_batch(program, gen(first)))
        got = outcome(lambda: evaluate_vectorised(program, gen(first)))
        assert identical(expected, got)


@pytest.mark.parametrize("causal", [False, True])
def test_selector_outputs(causal):
    sel = rasp.Select(T, T, rasp.Comparison.LEQ)
    check(sel, INPUTS, causal=causal, path="vectorised")
    check(rasp.SelectorNot(rasp.SelectorAnd(sel, rasp.Select(I, I, rasp.Comparison.NEQ))),
          INPUTS, causal=causal, path="vectorised")
    check(rasp.SelectorOr(sel, rasp.Select(I, I, rasp.Comparison.EQ)), INPUTS, causal=causal,
          path="vectorised")


@pytest.mark.parametrize("chunk_bytes", [1, 1000, 64 * 2 ** 20])
def test_chunking_does_not_change_results(chunk_bytes):
    program = PROGRAMS["sort"]()
    inputs = every_input(PROGRAMS["sort"].vocab, 4)
    check(program, inputs, path="vectorised", chunk_bytes=chunk_bytes)
    frac = PROGRAMS["frac_prevs"]()
    check(frac, every_input(PROGRAMS["frac_prevs"].vocab, 5), causal=True, path="vectorised",
          chunk_bytes=chunk_bytes)


def test_many_distinct_values_use_present_pairs_only():
    # 300 x 300 key/query values: the predicate runs on the pairs present, not all 90,000.
    calls = []

    def pred(k, q):
        calls.append((k, q))
        return k < q

    inputs = [[3 * i + j for j in range(3)] for i in range(100)]
    program = rasp.SelectorWidth(rasp.Select(rasp.Map(lambda x: x * 2, T), T, pred))
    check(program, inputs, path="vectorised")
    assert len(calls) <= 2 * 9 * 100 + 10  # scalar run plus vectorised run
    pairs = rasp.SequenceMap(lambda x, y: x * 1000 + y, T, rasp.Map(lambda x: x + 1, T))
    check(pairs, inputs, path="vectorised")


def test_sum_probe_matches_this_python(monkeypatch):
    """CPython <= 3.11 adds floats one by one (what the vectorised mean reproduces); 3.12+
    compensates, and then numerical means of floats fall back to the interpreter."""
    import sys

    from theory_kit.rasp import vectorised

    assert vectorised._plain_float_sum_probe() == (sys.version_info < (3, 12))
    mean = rasp.numerical(rasp.Aggregate(rasp.Select(T, T, rasp.Comparison.TRUE),
                                         rasp.numerical(rasp.Map(lambda x: x / 10, T)),
                                         default=0))
    monkeypatch.setattr(vectorised, "_PLAIN_FLOAT_SUM", [False])
    check(mean, INPUTS, path="scalar")
    check(rasp.numerical(rasp.Aggregate(rasp.Select(T, T, rasp.Comparison.TRUE),
                                        rasp.numerical(T), default=0)), INPUTS,
          path="vectorised")  # integers only: exact in any Python


@pytest.mark.skipif(not hasattr(rasp, "loop"), reason="rasp.loop not available")
def test_loops_fall_back_to_the_interpreter():
    flip = rasp.loop(lambda s: rasp.Map(lambda x: 1 - x, s), rasp.Full(0),
                     until=lambda s: s == 1, max_iterations=3)
    info = check(flip, [[5, 5], [1], []], path="scalar")
    assert "no vectorised rule" in info["reason"]
