"""theory_kit.rasp.validate: every static reason a program cannot compile, reported at once."""

from __future__ import annotations

import pytest

from theory_kit import rasp
from theory_kit.rasp.validate import Problem, check_max_seq_len, check_vocab

ALL = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE).named("all")


def reasons(problems):
    return [(p.label, p.reason) for p in problems]


def test_a_supported_program_has_no_problems():
    bools = rasp.numerical(rasp.Map(lambda x: x == "a", rasp.tokens)).named("bools")
    frac = rasp.numerical(rasp.Aggregate(ALL, bools, default=0)).named("frac")
    assert rasp.validate(frac, {"a", "b"}, 4) == []


def test_numerical_select_keys_and_queries():
    num = rasp.numerical(rasp.Map(lambda x: x, rasp.tokens)).named("num")
    sel = rasp.Select(num, num, rasp.Comparison.EQ).named("sel")
    problems = rasp.validate(rasp.SelectorWidth(sel).named("w"))
    assert reasons(problems) == [
        ("sel", "Select keys 'num' is numerical; attention compares categorical values"),
        ("sel", "Select queries 'num' is numerical; attention compares categorical values")]
    assert problems[0].fix == "use rasp.categorical(rasp.Map(lambda x: x, num))"


def test_aggregate_encodings_and_defaults():
    num = rasp.numerical(rasp.Map(lambda x: x, rasp.tokens)).named("num")
    cat_of_num = rasp.Aggregate(ALL, num).named("cat_of_num")
    assert reasons(rasp.validate(cat_of_num)) == [
        ("cat_of_num", "categorical Aggregate of the numerical SOp 'num'")]
    for default in (None, "x"):
        agg = rasp.numerical(rasp.Aggregate(ALL, num, default=default)).named("agg")
        problem, = rasp.validate(agg)
        assert problem.reason == (f"numerical Aggregate with default {default!r}; a numerical "
                                  "aggregate outputs a number where nothing is selected")
        assert problem.fix == "pass default=0 (or another number)"


def test_sequence_maps_with_numerical_inputs():
    num = rasp.numerical(rasp.Map(lambda x: x, rasp.tokens)).named("num")
    smap = rasp.SequenceMap(lambda x, y: x + y, num, rasp.indices).named("smap")
    problem, = rasp.validate(smap)
    assert (problem.label, problem.reason) == (
        "smap", "SequenceMap with numerical input(s) ['num']: only categorical inputs have a "
                "finite lookup-table MLP")
    mixed = rasp.LinearSequenceMap(num, rasp.indices, 1, 1).named("mixed")
    assert reasons(rasp.validate(mixed)) == [
        ("mixed", "LinearSequenceMap mixes numerical and categorical SOps among its inputs and "
                  "output")]
    linear = rasp.numerical(rasp.LinearSequenceMap(num, num, 1, -1)).named("linear")
    assert rasp.validate(linear) == []


def test_test_only_nodes_and_selector_programs():
    const = rasp.ConstantSOp([1, 2]).named("const")
    problem, = rasp.validate(rasp.Map(lambda x: x, const).named("m"))
    assert problem.label == "const" and "only exists for interpreter tests" in problem.reason
    problem, = rasp.validate(ALL)
    assert problem.reason == "the program's output is a Selector; a transformer outputs a sequence"
    assert rasp.validate(3) == [Problem("program", "is not a RASP expression: int 3")]


def test_every_problem_is_reported_at_once_with_vocab_and_length():
    num = rasp.numerical(rasp.Map(lambda x: x, rasp.tokens)).named("num")
    sel = rasp.Select(num, rasp.tokens, rasp.Comparison.EQ).named("sel")
    agg = rasp.numerical(rasp.Aggregate(sel, num)).named("agg")
    problems = rasp.validate(agg, vocab={"BOS", 1}, max_seq_len=0)
    assert [p.label for p in problems] == ["vocab", "max_seq_len", "sel", "agg"]
    assert str(problems[0]) == ("vocab: contains the BOS token 'BOS' (fix: pick another bos=... "
                                "or remove it from the vocabulary)")


def test_a_cycle_is_a_problem_not_a_crash():
    a = rasp.Map(lambda x: x, rasp.tokens).named("a")
    b = rasp.Map(lambda x: x, a, simplify=False).named("b")
    object.__setattr__(a, "inner", b)
    assert reasons(rasp.validate(b)) == [("b", "the program has a cycle through 'b'")]


@pytest.mark.parametrize("vocab,reason", [
    ("abc", "must be a set of tokens, got str 'abc'"),
    (set(), "is empty"),
    ({None, 1}, "contains None, which RASP reserves for 'no value'"),
    ({float("nan")}, "contains the non-finite token nan"),
    ([[1]], "token [1] is unhashable"),
])
def test_vocab_problems(vocab, reason):
    assert [p.reason for p in check_vocab(vocab)] == [reason]


def test_bos_collision_ignores_equal_values_of_another_type_and_max_seq_len_checks():
    assert check_vocab({1, 2}, bos=1.0) == []
    assert [p.reason for p in check_vocab({1, 2}, bos=1)] == ["contains the BOS token 1"]
    for bad in (0, -1, 2.0, True, "5"):
        assert [p.label for p in check_max_seq_len(bad)] == ["max_seq_len"]
    assert check_max_seq_len(5) == []
