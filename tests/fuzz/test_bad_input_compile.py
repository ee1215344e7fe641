"""Bad programs, vocabularies and sizes at compile time give a TheoryKitError (issue 23, items
1-6, 9 and 11): rows in the style of test_bad_input.py, with its Case and Context."""

from __future__ import annotations

import pytest

from tests.fuzz.test_bad_input import Case, Context, _compile, check_case
from theory_kit import errors, rasp
from theory_kit.errors import TheoryKitError

T, I, C = rasp.tokens, rasp.indices, rasp.Comparison
U, IN = errors.UnsupportedProgram, errors.InvalidInput


def _close_values():
    v = rasp.numerical(rasp.Map(lambda t: t + (1e-11 if t == 9 else 0), T))
    mean = rasp.numerical(rasp.Aggregate(rasp.Select(I, I, C.TRUE), v, default=0))
    return rasp.Map(lambda x: 10_000_001 if x > 4.5 else 10_000_000, mean)


def _deep(n=1500):
    p = T
    for _ in range(n):
        p = rasp.Map(lambda x: x, p, simplify=False)
    return p


CASES = [
    Case("close_values_threshold", lambda c: _compile(_close_values(), vocab={0, 4, 5, 9},
                                                      max_seq_len=2), U, "precision"),
    Case("none_with_copies_in_categorical_aggregate", lambda c: _compile(rasp.Aggregate(
        rasp.Select(T, T, lambda k, q: k >= 48), rasp.Map(lambda t: None if t == 49 else 0, T)),
        vocab=set(range(50)), max_seq_len=5), U, "can be None"),
    Case("numerical_map_returning_none", lambda c: _compile(
        rasp.numerical(rasp.Map(lambda t: None if t == 2 else t, T))), U, "numerical but can be None"),
    Case("numerical_sequence_map_returning_none", lambda c: _compile(rasp.numerical(
        rasp.SequenceMap(lambda x, y: None if x == y else x + y, T, I))), U,
        "numerical but can be None"),
    Case("numerical_mean_of_maybe_none", lambda c: _compile(rasp.numerical(rasp.Aggregate(
        rasp.Select(I, I, C.TRUE), rasp.Map(lambda t: None if t == 2 else t, T), default=0))), U,
        "numerical but can be None"),
    Case("numerical_mean_of_strings", lambda c: _compile(rasp.numerical(rasp.Aggregate(
        rasp.Select(I, I, C.TRUE), T, default=0)), vocab={"a", "b"}), U, "non-numbers"),
    Case("vocab_one_token_two_types", lambda c: _compile(vocab=[1, True]), IN, "one token"),
    Case("evaluate_batch_none", lambda c: rasp.evaluate_batch(T, None), IN, "iterable"),
    Case("evaluate_causal_string", lambda c: rasp.evaluate(T, [1], causal="no"), IN, "causal"),
    Case("evaluate_all_causal_int", lambda c: rasp.evaluate_all(T, [1], causal=2), IN, "causal"),
    Case("run_token_of_another_type", lambda c: c.model.run([True]), IN, "different token"),
    Case("run_float_for_int_token", lambda c: c.model.run([1.0]), IN, "different token"),
    Case("max_seq_len_100000", lambda c: _compile(rasp.Map(lambda t: t, I), max_seq_len=100_000),
         IN, "max_seq_len 100000"),
    Case("exhaustive_space_too_large", lambda c: _compile(vocab=set(range(10)), max_seq_len=9,
                                                          verify="exhaustive"), IN, "exhaustive"),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_bad_compile_input_raises_a_useful_theory_kit_error(case, tmp_path):
    check_case(case, Context(str(tmp_path)))


def test_deep_and_bos_alike_programs_compile():
    assert _compile(_deep(), vocab={1}, max_seq_len=1).run([1]) == [1]
    assert _compile(rasp.Map(lambda t: t, T), vocab={1, 2}, bos=True).run([1, 2]) == [1, 2]
