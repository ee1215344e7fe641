"""Differential properties on generated programs (principle 7: the interpreter is the oracle).

interpreter = block apply = weight forward = run = saved-then-loaded model; causal compile =
causal interpreter; float32 decodes like float64; compiling twice gives identical weights.
The main property compiles and checks 1,000 generated programs under the `ci` profile
(20,000 in the slow suite under `thorough`), every input of every program.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import theory_kit
from theory_kit import rasp
from theory_kit.testing import check_model, format_program
from theory_kit.testing.assertions import all_inputs, outputs_agree
from theory_kit.testing.strategies import programs, vocabularies

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
#: Generated programs compiled and checked by the main property, per profile.
PROGRAMS = {"ci": 1000, "thorough": 20_000}.get(PROFILE, 1000)
#: Examples for the heavier per-program properties (several compiles or per-input loops).
SECONDARY = {"ci": 150, "thorough": 2000}.get(PROFILE, 150)


@st.composite
def cases(draw, *, causal: bool = False, numerical: bool = True):
    """(vocab, max_seq_len, program): small on purpose (2-3 tokens, length 3-4), so a compile
    plus an exhaustive check takes milliseconds."""
    vocab = draw(vocabularies(min_size=1, max_size=3))
    max_seq_len = draw(st.sampled_from([3, 4]))
    program = draw(programs(vocab=vocab, max_seq_len=max_seq_len, causal=causal,
                            numerical=numerical))
    note(f"vocab={sorted(vocab, key=repr)} max_seq_len={max_seq_len} causal={causal}")
    note("program:\n" + format_program(program))
    return vocab, max_seq_len, program


def _compile(program, vocab, max_seq_len, *, causal=False, dtype=np.float64):
    return theory_kit.compile(program, vocab=vocab, max_seq_len=max_seq_len, causal=causal,
                              dtype=dtype, verify=None)


def _check(case, *, causal=False):
    vocab, max_seq_len, program = case
    model = _compile(program, vocab, max_seq_len, causal=causal)
    check_model(model, program, vocab=vocab, max_seq_len=max_seq_len, causal=causal)


@settings(max_examples=PROGRAMS)
@given(cases())
def test_compiled_model_matches_interpreter_on_every_input(case):
    _check(case)


@settings(max_examples=SECONDARY * 2)
@given(cases(causal=True))
def test_causal_compile_matches_causal_interpreter(case):
    _check(case, causal=True)


@pytest.mark.slow
@settings(max_examples=PROGRAMS)
@given(st.booleans().flatmap(lambda causal: cases(causal=causal).map(lambda c: (c, causal))))
def test_slow_sweep_compiled_models_match_interpreter(case_causal):
    case, causal = case_causal
    _check(case, causal=causal)


def _decode_named(layered, residual_by_dir, dirs, numerical, length):
    """Decode the output SOp from named directions {direction: [T]} (rows 1..length)."""
    if numerical:
        return [float(v) for v in residual_by_dir[dirs[0]][1:length + 1]]
    if not dirs:  # an SOp with no value at all (e.g. an Aggregate that never selects)
        return [None] * length
    mat = np.stack([residual_by_dir[d] for d in dirs], axis=1)[1:length + 1]
    out = []
    for row in mat:
        j = int(row.argmax())
        out.append(dirs[j].value if row[j] >= 0.5 else None)
    return out


def _sample_inputs(vocab, max_seq_len, k=24):
    inputs = list(all_inputs(vocab, max_seq_len))
    step = max(1, len(inputs) // k)
    return inputs[::step]


@settings(max_examples=SECONDARY)
@given(cases())
def test_interpreter_equals_block_apply_equals_weight_forward(case):
    """Three levels on the same inputs: the interpreter, the block-level reference (named
    directions, each block's own apply) and the weight forward pass decoded through the
    residual layout (not through the unembedding, which `run` uses)."""
    vocab, max_seq_len, program = case
    model = _compile(program, vocab, max_seq_len)
    layered = model.layered
    dirs = list(layered.blocks.output_directions)
    numerical = rasp.is_numerical(program)
    atol = 1e-6
    for xs in _sample_inputs(vocab, max_seq_len):
        expected = rasp.evaluate(program, xs)
        reference = model.block_reference(xs)
        by_block = _decode_named(layered, reference[-1], dirs, numerical, len(xs))
        assert outputs_agree(expected, by_block, numerical=numerical, atol=atol), (
            f"block apply differs on {xs}: expected {expected}, got {by_block}")
        ids, mask = model.encode([xs])
        final = model.forward(ids, mask).residuals[-1][0]
        by_dims = {d: final[:, layered.layout[d]] for d in dirs}
        by_weights = _decode_named(layered, by_dims, dirs, numerical, len(xs))
        assert outputs_agree(expected, by_weights, numerical=numerical, atol=atol), (
            f"weight forward differs on {xs}: expected {expected}, got {by_weights}")
        assert outputs_agree(expected, model.run(xs), numerical=numerical, atol=atol)


@settings(max_examples=SECONDARY)
@given(cases())
def test_saved_then_loaded_model_is_the_same_model(case):
    vocab, max_seq_len, program = case
    model = _compile(program, vocab, max_seq_len)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.npz")
        model.save(path)
        loaded = theory_kit.load(path)
    assert loaded.residual_labels == model.residual_labels
    original, again = model.weights.arrays(), loaded.weights.arrays()
    assert original.keys() == again.keys()
    for name in original:
        np.testing.assert_array_equal(original[name], again[name], err_msg=name)
    inputs = list(all_inputs(vocab, max_seq_len, min_len=0))
    assert loaded.run_batch(inputs) == model.run_batch(inputs)


@settings(max_examples=SECONDARY)
@given(cases())
def test_float32_decodes_like_float64(case):
    vocab, max_seq_len, program = case
    m64 = _compile(program, vocab, max_seq_len)
    m32 = _compile(program, vocab, max_seq_len, dtype=np.float32)
    assert m32.weights.dtype == np.float32
    inputs = list(all_inputs(vocab, max_seq_len))
    numerical = rasp.is_numerical(program)
    for xs, a, b in zip(inputs, m64.run_batch(inputs), m32.run_batch(inputs)):
        assert outputs_agree(a, b, numerical=numerical, atol=1e-3), (
            f"float32 differs from float64 on {xs}: {b} vs {a}")


@settings(max_examples=SECONDARY)
@given(cases())
def test_compiling_twice_gives_identical_weights(case):
    vocab, max_seq_len, program = case
    a = _compile(program, vocab, max_seq_len).weights
    b = _compile(program, vocab, max_seq_len).weights
    assert a.residual_labels == b.residual_labels
    assert a.tokens == b.tokens and a.output_values == b.output_values
    arrays_a, arrays_b = a.arrays(), b.arrays()
    assert arrays_a.keys() == arrays_b.keys()
    for name in arrays_a:
        np.testing.assert_array_equal(arrays_a[name], arrays_b[name], err_msg=name)
