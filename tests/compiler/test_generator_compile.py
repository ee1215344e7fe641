"""Compiled generation (issue 15, item 2): a causal program compiled as a generator produces,
with cached keys and values, exactly the interpreter's generations, verified over every prompt
(or the prompts of its format); outputs that are not input tokens are refused with a fix."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import theory_kit as tk
from theory_kit import rasp
from theory_kit.errors import CompilationMismatch, UnsupportedProgram
from theory_kit.compiler.generation import verify_generation

from tests.rasp.test_generate import SUCC, running_parity

T = rasp.tokens


def _parity_scratchpad():
    """tests/rasp/test_generate.py's running-parity scratchpad (bits, "=", then the running
    parity and "."), with a step that is total on every reachable value (compile infers value
    sets as supersets, so the interpreter-only version raises on (int ^ str))."""
    eq_pos = rasp.categorical(rasp.Aggregate(
        rasp.Select(T, T, lambda k, q: k == "="), rasp.indices, default=-1))
    offset = rasp.categorical(rasp.SequenceMap(lambda i, n: i - n, rasp.indices, eq_pos))
    bit = rasp.categorical(rasp.Aggregate(rasp.Select(rasp.indices, offset, lambda k, q: k == q), T))
    where = rasp.categorical(rasp.SequenceMap(lambda o, n: (o, n), offset, eq_pos))
    seen = rasp.categorical(rasp.SequenceMap(lambda t, b: (t, b), T, bit))

    def step(where, seen):
        (o, n), (t, b) = where, seen
        if o >= n or b not in (0, 1) or (o != 0 and t not in (0, 1)):
            return "."
        return (0 if o == 0 else t) ^ b
    return rasp.categorical(rasp.SequenceMap(step, where, seen))


PARITY = _parity_scratchpad()
COUNT = rasp.categorical(rasp.Map(lambda w: w % 3, rasp.SelectorWidth(
    rasp.Select(T, T, rasp.Comparison.EQ))))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_generators_are_verified_on_every_prompt(dtype):
    succ = tk.compile_generator(SUCC, vocab=set(range(5)), max_seq_len=6, stop=0, dtype=dtype)
    assert succ.verified_inputs == sum(5 ** n for n in range(1, 6))
    out = succ.generate([[3], [1, 2]], max_new_tokens=5, stop=0)
    assert [g.tokens for g in out] == [(4, 0), (3, 4, 0)]
    count = tk.compile_generator(COUNT, vocab={0, 1, 2}, max_seq_len=7, dtype=dtype)
    assert count.verified_inputs == sum(3 ** n for n in range(1, 7))
    prompts = [[0, 1], [2, 2, 2]]
    assert count.generate(prompts, max_new_tokens=4) == rasp.generate_batch(
        COUNT, prompts, max_new_tokens=4, vocab={0, 1, 2}, max_len=7)


def test_a_scratchpad_generator_on_the_prompts_of_its_format():
    prompts = [list(bits) + ["="] for n in range(0, 5)
               for bits in itertools.product((0, 1), repeat=n)]
    model = tk.compile_generator(PARITY, vocab={0, 1, "=", "."}, max_seq_len=11, stop=".",
                                 prompts=prompts)
    assert model.verified_inputs == len(prompts)
    for g, p in zip(model.generate(prompts, max_new_tokens=10, stop="."), prompts):
        assert list(g.tokens) == running_parity(p[:-1])


def test_outputs_that_are_not_tokens_are_refused_with_a_fix():
    bad = rasp.categorical(rasp.Map(lambda x: x + 10, T)).named("shifted")
    with pytest.raises(UnsupportedProgram, match=r"shifted.*\[10, 11\].*not input tokens.*fix"):
        tk.compile_generator(bad, vocab={0, 1}, max_seq_len=3)


def test_a_wrong_generator_fails_verification():
    model = tk.compile_generator(SUCC, vocab=set(range(5)), max_seq_len=4, verify=None)
    other = rasp.categorical(rasp.Map(lambda x: (x + 2) % 5, T))
    with pytest.raises(CompilationMismatch, match=r"prompt \[0\]: token 0 after the prompt is 1, "
                                                  r"expected 2"):
        verify_generation(model, other)
