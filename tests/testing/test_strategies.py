"""The hypothesis strategies: valid programs, interpreter-safe, validated arguments."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from theory_kit import rasp
from theory_kit.errors import InvalidInput
from theory_kit.testing import format_program
from theory_kit.testing import strategies as tks
from theory_kit.testing.functions import NamedFunction


@st.composite
def programs_with_settings(draw, causal=False):
    vocab = draw(tks.vocabularies(min_size=1, max_size=3))
    max_seq_len = draw(st.sampled_from([1, 2, 3, 4]))
    program = draw(tks.programs(vocab=vocab, max_seq_len=max_seq_len, causal=causal))
    note(format_program(program))
    return vocab, max_seq_len, program


def _every_input(vocab, max_seq_len):
    tokens = sorted(vocab, key=repr)
    return [list(c) for n in range(0, max_seq_len + 1) for c in itertools.product(tokens, repeat=n)]


@settings(max_examples=300)
@given(programs_with_settings())
def test_generated_programs_validate_and_never_raise_in_the_interpreter(case):
    vocab, max_seq_len, program = case
    assert rasp.validate(program, vocab, max_seq_len) == []
    outputs = rasp.evaluate_batch(program, _every_input(vocab, max_seq_len))
    assert all(len(out) == len(xs) for out, xs in zip(outputs, _every_input(vocab, max_seq_len)))


@settings(max_examples=200)
@given(programs_with_settings(causal=True))
def test_causal_programs_never_raise_in_the_causal_interpreter(case):
    vocab, max_seq_len, program = case
    assert rasp.validate(program, vocab, max_seq_len) == []
    rasp.evaluate_batch(program, _every_input(vocab, max_seq_len), causal=True)


@settings(max_examples=200)
@given(programs_with_settings())
def test_nodes_have_unique_readable_names_and_named_functions(case):
    _, _, program = case
    nodes = rasp.topological_order(program)
    labels = [node.label for node in nodes]
    assert len(labels) == len(set(labels))
    for node in nodes:
        fn = getattr(node, "f", None) if not isinstance(node, rasp.LinearSequenceMap) else None
        if fn is not None:
            assert isinstance(fn, NamedFunction)
            assert fn.name in node.label
    assert "<function" not in format_program(program)


@settings(max_examples=100)
@given(st.data())
def test_numerical_false_generates_only_categorical_programs(data):
    program = data.draw(tks.programs(vocab={0, 1}, max_seq_len=3, numerical=False))
    assert all(rasp.is_categorical(x) for x in rasp.topological_order(program)
               if isinstance(x, rasp.SOp))


@settings(max_examples=100)
@given(st.data())
def test_max_depth_bounds_the_depth(data):
    from theory_kit.testing.coverage import program_depth

    depth = data.draw(st.integers(1, 4))
    program = data.draw(tks.programs(vocab={0, 1, 2}, max_seq_len=3, max_depth=depth))
    assert program_depth(program) <= depth


def test_programs_shrink_to_tokens():
    from hypothesis import find

    assert find(tks.programs(vocab={0, 1}, max_seq_len=3), lambda p: True) is rasp.tokens


def test_failing_programs_shrink_to_small_readable_ones():
    from hypothesis import find

    program = find(tks.programs(vocab={0, 1}, max_seq_len=3),
                   lambda p: isinstance(p, rasp.Aggregate))
    text = format_program(program)
    assert len(rasp.topological_order(program)) <= 6, text
    assert "= Aggregate(Select(" in text.splitlines()[-1], text


@settings(max_examples=100)
@given(st.data())
def test_vocabularies_and_inputs(data):
    vocab = data.draw(tks.vocabularies(min_size=2, max_size=3))
    assert 2 <= len(vocab) <= 3 and isinstance(vocab, frozenset)
    assert len({type(t) for t in vocab}) == 1
    xs = data.draw(tks.inputs(vocab=vocab, max_seq_len=4, min_len=0))
    assert len(xs) <= 4 and all(x in vocab for x in xs)


@settings(max_examples=50)
@given(st.data())
def test_inputs_for_a_partial_program_avoid_failing_inputs(data):
    partial = rasp.Map(lambda x: 1 // (x - 1), rasp.tokens)
    xs = data.draw(tks.inputs(partial, vocab={0, 1, 2}, max_seq_len=3))
    assert 1 not in xs


BAD_ARGUMENTS = [
    (lambda: tks.vocabularies(min_size=0), "min_size"),
    (lambda: tks.vocabularies(max_size=11), "max_size"),
    (lambda: tks.vocabularies(min_size=3, max_size=2), "max_size (2) must be >= min_size"),
    (lambda: tks.vocabularies(kinds=("float",)), "kinds"),
    (lambda: tks.vocabularies(kinds="int"), "kinds"),
    (lambda: tks.vocabularies(min_size="1"), "min_size must be an int"),
    (lambda: tks.programs(vocab=None, max_seq_len=3), "vocab is required"),
    (lambda: tks.programs(vocab=set(), max_seq_len=3), "vocab is empty"),
    (lambda: tks.programs(vocab={"BOS"}, max_seq_len=3), "BOS"),
    (lambda: tks.programs(vocab={True, 2}, max_seq_len=3), "bools"),
    (lambda: tks.programs(vocab={1}, max_seq_len=0), "max_seq_len"),
    (lambda: tks.programs(vocab={1}, max_seq_len=3, max_depth=0), "max_depth"),
    (lambda: tks.programs(vocab={1}, max_seq_len=3, max_nodes=-1), "max_nodes"),
    (lambda: tks.programs(vocab={1}, max_seq_len=3, numerical="yes"), "numerical"),
    (lambda: tks.programs(vocab={1}, max_seq_len=3, causal=1), "causal"),
    (lambda: tks.inputs(vocab={1}, max_seq_len=2, min_len=3), "min_len"),
    (lambda: tks.inputs("tokens", vocab={1}, max_seq_len=2), "program"),
    (lambda: tks.compiled_models(vocab={1}, dtype="float16"), "dtype"),
    (lambda: tks.compiled_models(vocab={1}, max_seq_len=True), "max_seq_len"),
]


@pytest.mark.parametrize("make, message", BAD_ARGUMENTS,
                         ids=[m for _, m in BAD_ARGUMENTS])
def test_bad_arguments_raise_invalid_input_naming_the_argument(make, message):
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        tks.programs({1}, 3)  # type: ignore[misc]
    with pytest.raises(TypeError):
        tks.vocabularies(1, 3)  # type: ignore[misc]


@settings(max_examples=20)
@given(tks.compiled_models(vocab={0, 1}, max_seq_len=3))
def test_compiled_models_run_like_the_interpreter(case):
    assert rasp.validate(case.program, case.vocab, case.max_seq_len) == []
    for xs in ([0], [1, 0], [0, 1, 1]):
        expected, got = rasp.evaluate(case.program, xs), case.model.run(xs)
        if rasp.is_numerical(case.program):
            assert got == pytest.approx(expected, abs=1e-6)
        else:
            assert got == expected
