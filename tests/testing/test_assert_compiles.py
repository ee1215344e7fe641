"""assert_compiles_correctly: passes on correct compiles, explains a mismatch readably."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import theory_kit
from theory_kit import rasp
from theory_kit.errors import EvaluationError, InvalidInput
from theory_kit.model.compiled import CompiledModel
from theory_kit.model.weights import LayerWeights
from theory_kit.testing import assert_compiles_correctly, check_model
from theory_kit.testing.assertions import _sampled_inputs, all_inputs, input_space_size
from theory_kit.testing.functions import NamedFunction


def reverse_program():
    opp = rasp.Map(NamedFunction("x-1", lambda x: x - 1), rasp.length).named("opp_idx")
    opp = rasp.SequenceMap(NamedFunction("x-y", lambda x, y: x - y), opp, rasp.indices) \
        .named("opp_idx-i")
    return rasp.Aggregate(rasp.Select(rasp.indices, opp, rasp.Comparison.EQ),
                          rasp.tokens).named("reverse")


@pytest.mark.parametrize("causal", [False, True])
def test_passes_on_a_correct_compile(causal):
    assert_compiles_correctly(reverse_program(), vocab={"a", "b", "c"}, max_seq_len=4,
                              causal=causal)


def test_float32_and_a_sampled_input_space():
    frac = rasp.numerical(rasp.Aggregate(
        rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LEQ),
        rasp.numerical(rasp.Map(lambda x: int(x == 1), rasp.tokens).named("is1")),
        default=0).named("frac"))
    assert_compiles_correctly(frac, vocab={0, 1, 2}, max_seq_len=5, dtype=np.float32,
                              max_inputs=50, seed=3)


def test_sampled_inputs_are_deterministic_smallest_first_and_bounded():
    a = _sampled_inputs({0, 1, 2}, 6, 100, seed=1)
    assert a == _sampled_inputs({0, 1, 2}, 6, 100, seed=1)
    assert len(a) <= 100 and [len(x) for x in a] == sorted(len(x) for x in a)
    assert [[0], [1], [2]] == a[:3]
    assert input_space_size(3, 6) == len(list(all_inputs({0, 1, 2}, 6)))


def _broken(model: CompiledModel) -> CompiledModel:
    """The same model with its last MLP's output weights zeroed (a wrong weight matrix)."""
    w = model.weights
    last = w.layers[-1]
    arrays = {name: np.array(getattr(last, name)) for name in LayerWeights.ARRAYS}
    arrays["W_out"] = np.zeros_like(arrays["W_out"])
    layers = w.layers[:-1] + (LayerWeights(**arrays),)
    weights = dataclasses.replace(w, layers=layers)
    runtime = CompiledModel(weights, vocab=model.vocab, max_seq_len=model.max_seq_len,
                            bos=model.bos, constants=model.constants,
                            output_value_set=model.output_value_set)
    return dataclasses.replace(model, model=runtime)


def test_a_mismatch_names_the_input_the_program_and_the_diverging_layer():
    program = rasp.Map(NamedFunction("x%3", lambda x: x % 3),
                       rasp.Map(NamedFunction("x+1", lambda x: x + 1), rasp.tokens,
                                simplify=False).named("x+1#1"), simplify=False).named("x%3#2")
    model = theory_kit.compile(program, vocab={0, 1, 2}, max_seq_len=3, verify=None)
    with pytest.raises(AssertionError) as info:
        check_model(_broken(model), program, vocab={0, 1, 2}, max_seq_len=3)
    text = str(info.value)
    assert "smallest failing input: [0]" in text
    assert "expected (rasp.evaluate): [1]" in text
    assert "first diverging layer: layer" in text and "weight forward" in text
    assert "x%3#2 = Map(x%3, x+1#1)" in text
    assert "compiler diagnosis:" in text


def test_a_wrong_decoding_is_caught_even_when_residuals_agree():
    program = reverse_program()
    model = theory_kit.compile(program, vocab={"a", "b"}, max_seq_len=3, verify=None)

    class Liar:
        def __getattr__(self, name):
            return getattr(model, name)

        def run_batch(self, seqs):
            return [list(reversed(out)) if len(out) == 2 else out
                    for out in model.run_batch(seqs)]

    with pytest.raises(AssertionError, match=r"smallest failing input: \['a', 'b'\]"):
        check_model(Liar(), program, vocab={"a", "b"}, max_seq_len=3)


def test_a_partial_program_is_an_evaluation_error_not_a_mismatch():
    partial = rasp.Map(lambda x: 1 // x, rasp.tokens).named("inv")
    model = theory_kit.compile(rasp.tokens, vocab={0, 1}, max_seq_len=2, verify=None)
    with pytest.raises(EvaluationError, match="nothing to compare with"):
        check_model(model, partial, vocab={0, 1}, max_seq_len=2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(program="tokens"), "program must be a RASP SOp"),
    (dict(max_seq_len=0), "max_seq_len"),
    (dict(max_inputs=0), "max_inputs"),
    (dict(seed=-1), "seed"),
    (dict(causal="no"), "causal"),
    (dict(dtype=np.int32), "dtype"),
    (dict(vocab="ab"), "vocab"),
])
def test_bad_arguments(kwargs, match):
    settings = dict(program=rasp.tokens, vocab={1, 2}, max_seq_len=2)
    settings.update(kwargs)
    program = settings.pop("program")
    with pytest.raises(InvalidInput, match=match):
        assert_compiles_correctly(program, **settings)
