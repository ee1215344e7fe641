"""Generated generators (issue 15): a generated causal program P, its output mapped into the
vocabulary by a deterministic function, is a next-token program. compile_generator compiles it
and verifies whole generations on every prompt up to max_seq_len 3; the compiled model's cached
generation (Model.generate) equals the interpreter's (rasp.generate_batch), token for token and
in how it ends, with and without a stop token, with cached keys and values and by full
recomputation, in float64 and float32. The oracle's two decoders (rasp.VectorisedDecoder, the
default, and rasp.InterpreterDecoder) give the same generations or the same error on every
generated program."""

from __future__ import annotations

import os
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

import theory_kit as tk
from theory_kit import rasp
from theory_kit.errors import EvaluationError, UnsupportedProgram
from theory_kit.testing import format_program
from theory_kit.testing.assertions import all_inputs
from theory_kit.testing.strategies import programs, vocabularies

from tests.rasp.test_generate import both_decoders

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
#: Generated generators per run: the default run, and the slow suite (`make test-slow`,
#: thorough).
GENERATORS = {"ci": 300, "thorough": 5000}.get(PROFILE, 300)
MAX_SEQ_LEN = 3


def _canonical(v):
    """v with -0.0 written 0.0: RASP values are compared by == and type, so 0.0 and -0.0 are
    one value (the interpreter's cache keeps whichever it met first, and compile's value
    inference may meet the other: LinearSequenceMap(x, x, -1, 0.5) at x = 0 is 0.0 in the
    interpreter, -0.0 in the inferred value set)."""
    if isinstance(v, float):
        return v + 0.0
    if isinstance(v, tuple):
        return tuple(_canonical(x) for x in v)
    return v


def _into(vocab):
    """A deterministic map of any value onto a token of `vocab` (stable across processes), a
    function of the RASP value (1, 1.0 and True differ; 0.0 and -0.0 do not)."""
    tokens = sorted(vocab, key=repr)
    return lambda v: tokens[zlib.crc32(repr(_canonical(v)).encode()) % len(tokens)]


@st.composite
def generator_cases(draw):
    vocab = draw(vocabularies(min_size=1, max_size=3))
    body = draw(programs(vocab=vocab, max_seq_len=MAX_SEQ_LEN, causal=True))
    program = rasp.categorical(rasp.Map(_into(vocab), body, simplify=False)).named("next")
    stop = draw(st.one_of(st.none(), st.sampled_from(sorted(vocab, key=repr))))
    note(f"vocab={sorted(vocab, key=repr)} stop={stop!r}")
    note("program (its output at the last position, mapped into vocab, is the next token):\n"
         + format_program(body))
    return vocab, program, stop


@settings(max_examples=GENERATORS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generator_cases(), st.sampled_from([np.float64, np.float32]))
def test_compiled_generation_equals_the_interpreters(case, dtype):
    _check(case, dtype)


@pytest.mark.slow
@settings(max_examples=GENERATORS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generator_cases(), st.sampled_from([np.float64, np.float32]))
def test_slow_sweep_of_generated_generators(case, dtype):
    _check(case, dtype)


def _oracle(program, prompts, **kw):
    """rasp.generate_batch's generations, or its EvaluationError as (type, message), by the
    vectorised decoder (the default) and by the interpreter: they must be the same."""
    fast, slow = both_decoders(program, prompts, **kw)
    assert fast == slow
    assert not isinstance(fast, tuple) or fast[0] is EvaluationError, fast
    return fast


def _check(case, dtype):
    vocab, program, stop = case
    prompts = [list(xs) for xs in all_inputs(vocab, MAX_SEQ_LEN - 1)]
    want = _oracle(program, prompts, max_new_tokens=MAX_SEQ_LEN, stop=stop, vocab=vocab,
                   max_len=MAX_SEQ_LEN)
    if isinstance(want, tuple):  # no next token (None at the last position) on some prompt
        event("no next token on some prompt")
        return
    try:
        model = tk.compile_generator(program, vocab=vocab, max_seq_len=MAX_SEQ_LEN, stop=stop,
                                     dtype=dtype)  # verified: every prompt, whole generations
    except UnsupportedProgram as exc:  # refused, never miscompiled
        event(f"refused: {str(exc).split(':')[0]}")
        return
    event("compiled")
    assert model.verified_inputs == len(prompts)
    assert model.generate(prompts, max_new_tokens=MAX_SEQ_LEN, stop=stop) == want
    assert model.generate(prompts, max_new_tokens=MAX_SEQ_LEN, stop=stop,
                          incremental=False) == want  # full recomputation at every step
    # a shorter budget and no stop token end the same generations at the same places
    assert model.generate(prompts, max_new_tokens=1) == _oracle(
        program, prompts, max_new_tokens=1, max_len=MAX_SEQ_LEN)
    event(f"stopped: {sum(g.stopped for g in want)} of {len(want)}" if stop is not None
          else "no stop token")
