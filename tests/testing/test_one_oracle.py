"""One oracle (issue 12 item 5): a Divergence names a level and a Sublayer; the testing helpers
enumerate, sample, compare and diagnose through theory_kit.compiler.verify only."""

from __future__ import annotations

import dataclasses
import pathlib
import re

import numpy as np
import pytest

import theory_kit
from theory_kit import rasp
from theory_kit.compiler.ir import EMBEDDING, Sublayer
from theory_kit.compiler.verify import (LEVELS, Divergence, enumerate_inputs, node_divergence,
                                        sample_inputs)
from theory_kit.errors import InvalidInput
from theory_kit.model.compiled import CompiledModel
from theory_kit.model.weights import LayerWeights
from theory_kit.testing import assertions, check_model, divergence
from theory_kit.testing.functions import NamedFunction


def _two_maps():
    inner = rasp.Map(NamedFunction("x+1", lambda x: x + 1), rasp.tokens,
                     simplify=False).named("x+1#1")
    return rasp.Map(NamedFunction("x%3", lambda x: x % 3), inner, simplify=False).named("x%3#2")


def _broken(model):
    """The same compilation with its last MLP's output weights zeroed."""
    w = model.weights
    arrays = {name: np.array(getattr(w.layers[-1], name)) for name in LayerWeights.ARRAYS}
    arrays["W_out"] = np.zeros_like(arrays["W_out"])
    weights = dataclasses.replace(w, layers=w.layers[:-1] + (LayerWeights(**arrays),))
    runtime = CompiledModel(weights, vocab=model.vocab, max_seq_len=model.max_seq_len,
                            bos=model.bos, constants=model.constants,
                            output_value_set=model.output_value_set)
    return dataclasses.replace(model, model=runtime)


def _reverse():
    opp = rasp.Map(NamedFunction("x-1", lambda x: x - 1), rasp.length).named("opp_idx")
    opp = rasp.SequenceMap(NamedFunction("x-y", lambda x, y: x - y), opp, rasp.indices) \
        .named("opp_idx-i")
    return rasp.Aggregate(rasp.Select(rasp.indices, opp, rasp.Comparison.EQ),
                          rasp.tokens).named("reverse")


class _Liar:
    """A compiled model whose decoded output of length 2 is reversed (residuals are right)."""

    def __init__(self, model):
        self._model = model

    def __getattr__(self, name):
        return getattr(self._model, name)

    def run_batch(self, seqs):
        return [list(reversed(o)) if len(o) == 2 else o for o in self._model.run_batch(seqs)]


def test_a_divergence_carries_a_sublayer_and_a_level():
    d = Divergence(Sublayer(0, 1, "mlp"), "weights", "x", 2, 1, 0)
    assert d.sublayer == 3 and d.at.index == 3  # the flat index, read-only
    assert str(d) == "layer 1 MLP (weight forward): node 'x' at position 1: expected 1, got 0"
    assert LEVELS == ("blocks", "weights", "run")
    with pytest.raises(InvalidInput, match="level must be one of"):
        Divergence(EMBEDDING, "weight forward", "x", 1, 1, 0)
    with pytest.raises(InvalidInput, match="must be a Sublayer, got 3"):
        Divergence(3, "weights", "x", 1, 1, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.level = "run"


def test_wrong_weights_diverge_at_the_weights_level_in_the_last_mlp():
    program = _two_maps()
    model = theory_kit.compile(program, vocab={0, 1, 2}, max_seq_len=3, verify=None)
    assert all(node_divergence(model, program, xs) is None
               for xs in enumerate_inputs({0, 1, 2}, 2))
    broken = _broken(model)
    found = node_divergence(broken, program, [0])
    last = len(model.weights.layers) - 1
    assert found.level == "weights" and found.at == Sublayer(0, last, "mlp")
    assert found.label == "x%3#2" and (found.position, found.expected) == (1, 1)
    assert divergence.first_divergence(broken, program, [0]) == found


def test_a_wrong_decoding_diverges_at_the_run_level():
    program = _reverse()
    model = theory_kit.compile(program, vocab={"a", "b"}, max_seq_len=3, verify=None)
    found = node_divergence(_Liar(model), program, ["a", "b"])
    assert found.level == "run" and found.label == "reverse"
    assert found.at == Sublayer.from_index(2 * len(model.weights.layers) - 1)
    assert (found.position, found.expected, found.got) == (1, "b", "a")
    assert node_divergence(_Liar(model), program, ["a", "b", "a"]) is None


def test_check_model_counts_every_failure_and_names_the_run_level():
    program = _reverse()
    model = theory_kit.compile(program, vocab={"a", "b"}, max_seq_len=3, verify=None)
    with pytest.raises(AssertionError) as info:
        check_model(_Liar(model), program, vocab={"a", "b"}, max_seq_len=3)
    text = str(info.value)
    assert "on 2 of 15 inputs" in text  # ['a', 'b'] and ['b', 'a'], of 14 + the empty input
    assert "other failing inputs: ['b', 'a']" in text
    assert "(model run): node 'reverse' at position 0: expected 'b', got 'a'" in text


def test_the_testing_helpers_are_the_compiler_oracle():
    assert assertions.all_inputs is enumerate_inputs
    assert assertions._sampled_inputs({0, 1, 2}, 6, 100, 1) == sample_inputs({0, 1, 2}, 6, 100, 1)
    assert divergence.first_divergence is node_divergence
    assert assertions.numerical_atol(np.float32) == 1e-3
    # no second enumeration, sampler or comparison rule in the testing helpers
    for module in (assertions, divergence):
        source = pathlib.Path(module.__file__).read_text()
        for pattern in (r"itertools\.product", r"default_rng", r"isclose", r"def \w*match",
                        r"def \w*enumerate", r"evaluate_batch\("):
            assert not re.search(pattern, source), (module.__name__, pattern)
