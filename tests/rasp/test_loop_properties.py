"""Generated loops (issue 14, item 6): a generated program P becomes a loop body by reading the
state where P read `tokens`; its output, mapped back into the vocabulary, is the next state.
On every input: the interpreter's loop = the unrolled program = the compiled unrolled model =
the compiled weight-shared looped model (its state after every iteration too), in float64 and
float32, and the trace has the interpreter's iteration count."""

from __future__ import annotations

import os
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, note, reject, settings
from hypothesis import strategies as st

import theory_kit as tk
from theory_kit import rasp
from theory_kit.errors import EvaluationError, UnsupportedProgram
from theory_kit.rasp.loops import loop
from theory_kit.rasp.tree import topological_order, with_children
from theory_kit.testing import format_program
from theory_kit.testing.assertions import all_inputs
from theory_kit.testing.strategies import programs, vocabularies

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
#: Generated loops per run: the default run, and the slow suite (`make test-slow`, thorough).
LOOPS = {"ci": 300, "thorough": 5000}.get(PROFILE, 300)


def _with_state(program, state):
    """`program` with every read of `tokens` replaced by `state`."""
    memo = {}
    for node in topological_order(program):
        if node is rasp.tokens:
            memo[id(node)] = state
        else:
            memo[id(node)] = with_children(node, [memo[id(c)] for c in node.children])
    return memo[id(program)]


def _into(vocab):
    """A deterministic map of any value onto a token of `vocab` (stable across processes)."""
    tokens = sorted(vocab, key=repr)
    return lambda v: tokens[zlib.crc32(repr(v).encode()) % len(tokens)]


@st.composite
def looped_cases(draw):
    vocab = draw(vocabularies(min_size=1, max_size=3))
    max_seq_len = draw(st.sampled_from([2, 3]))
    body = draw(programs(vocab=vocab, max_seq_len=max_seq_len, numerical=False, max_nodes=3))
    halting = draw(st.sampled_from(["first_token", "never", "unchanged"]))
    iterations = draw(st.integers(1, 3))
    into, first = _into(vocab), min(vocab, key=repr)

    def step(s):
        return rasp.Map(into, _with_state(body, s), simplify=False)

    until = {"first_token": lambda s: rasp.Map(lambda v: v == first, s),
             "never": lambda s: rasp.Full(False),
             "unchanged": lambda s: rasp.SequenceMap(lambda a, b: a == b, step(s), s)}[halting]
    program = loop(step, rasp.tokens, until=until, max_iterations=iterations, name="gen")
    note(f"vocab={sorted(vocab, key=repr)} max_seq_len={max_seq_len} halting={halting} "
         f"max_iterations={iterations}")
    note("body (tokens = the state):\n" + format_program(body))
    return vocab, max_seq_len, program


@settings(max_examples=LOOPS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(looped_cases(), st.sampled_from([np.float64, np.float32]))
def test_loop_equals_unrolled_equals_compiled(case, dtype):
    _check(case, dtype)


@pytest.mark.slow
@settings(max_examples=LOOPS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(looped_cases(), st.sampled_from([np.float64, np.float32]))
def test_slow_sweep_of_generated_loops(case, dtype):
    _check(case, dtype)


def _check(case, dtype):
    vocab, max_seq_len, program = case
    flat = rasp.unroll(program)
    xss = [list(xs) for xs in all_inputs(vocab, max_seq_len)]
    try:
        want = rasp.evaluate_batch(program, xss)
    except EvaluationError:  # e.g. a None state read by a Select: not a loop to compile
        reject()
    assert rasp.evaluate_batch(flat, xss) == want
    try:
        model = tk.compile(flat, vocab=vocab, max_seq_len=max_seq_len, dtype=dtype, verify=None)
    except UnsupportedProgram as exc:  # refused, never miscompiled (e.g. a state may be None)
        event(f"refused: {str(exc).split(':')[0]}")
        return
    event("compiled")
    assert model.run_batch(xss) == want
    for xs in xss[:4]:  # the trace ends in the output
        trace = rasp.loop_trace(program, xs)
        assert trace.iterations <= program.spec.max_iterations
        assert list(trace.states[-1][0]) == want[xss.index(xs)]
    # The weight-shared looped compile: the same states after every iteration.
    try:
        looped = tk.compile(program, vocab=vocab, max_seq_len=max_seq_len, dtype=dtype,
                            verify=None)
    except UnsupportedProgram as exc:
        event(f"looped refused: {str(exc).split(':')[0]}")
        return
    event("looped compiled")
    assert looped.run_batch(xss) == want
    assert looped.loop_traces(xss) == rasp.loop_traces(program, xss)
