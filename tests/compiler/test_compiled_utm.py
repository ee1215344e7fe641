"""A known small universal Turing machine over external memory with a COMPILED transition
(issue 15, item 5): Minsky's 7-state 4-symbol UTM (theory_kit.library.machines, table cited
there), the compiled transformer mapping [(state, symbol)] -> (write, move, next state) and the
runtime keeping the tape, equal to the direct simulator at every step.

What is checked: step-by-step equality (full traces) with `simulate_machine`, on Minsky's
worked example (which halts after 1,870 steps) and on random tapes; the example's encoding was
not decoded independently, so its output is checked only against the simulator.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

import theory_kit as tk
from theory_kit.generation import run_machine, run_machines, simulate_machine
from theory_kit.library.machines import (BB4, COUNTER, HALT, MINSKY_EXAMPLE_STEPS,
                                         MINSKY_EXAMPLE_TAPE, MINSKY_UTM, table_alphabet,
                                         transition_program)

from tests.test_generation_protocol import counter_steps, counter_value


def _decoder(table, dtype=np.float64):
    model = tk.compile(transition_program(table), vocab=set(table), max_seq_len=1, causal=True,
                       dtype=dtype)
    return model.decoder()


def test_minsky_table_shape():
    states = {s for s, _ in MINSKY_UTM}
    assert states == {f"q{i}" for i in range(1, 8)} and table_alphabet(MINSKY_UTM) == set("01yA")
    assert len(MINSKY_UTM) == 28 and MINSKY_UTM[("q3", "0")] == ("0", "N", HALT)
    assert sum(1 for _, _, nxt in MINSKY_UTM.values() if nxt == HALT) == 1


def _example(steps=10_000, **kw):
    return dict(state="q2", steps=steps, blank="0", halt=HALT,
                head=MINSKY_EXAMPLE_TAPE.index("y"), **kw)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_minsky_utm_example_through_the_compiled_transition(dtype):
    ref = simulate_machine(MINSKY_UTM, list(MINSKY_EXAMPLE_TAPE), trace=True, **_example())
    assert ref.halted and ref.steps == MINSKY_EXAMPLE_STEPS
    run = run_machine(_decoder(MINSKY_UTM, dtype), list(MINSKY_EXAMPLE_TAPE),
                      alphabet=set("01yA"), trace=True, **_example())
    assert run == ref  # every step: state, head, read, write, move, next state; final tape


def _random_tapes(count, length, seed):
    rng = random.Random(seed)
    return [[rng.choice("01yA") for _ in range(length)] for _ in range(count)]


def _random_utm_runs(decoder, count, steps, seed):
    tapes = _random_tapes(count, 24, seed)
    kw = dict(state="q1", steps=steps, blank="0", halt=HALT, head=12, trace=True)
    runs = run_machines(decoder, tapes, alphabet=set("01yA"), **kw)
    for tape, run in zip(tapes, runs):
        assert run == simulate_machine(MINSKY_UTM, tape, **kw)
    return sum(r.steps for r in runs)


def test_minsky_utm_on_random_tapes():
    assert _random_utm_runs(_decoder(MINSKY_UTM), 40, 300, seed=1) > 5_000


@pytest.mark.slow
def test_over_a_hundred_thousand_compiled_steps_with_the_utm():
    """The UTM on its example and on 400 random tapes (up to 400 steps each), the busy beaver
    and the binary counter: >= 100,000 compiled steps in total, each equal to the simulator."""
    utm = _decoder(MINSKY_UTM)
    total = run_machine(utm, list(MINSKY_EXAMPLE_TAPE), alphabet=set("01yA"),
                        **_example()).steps
    total += _random_utm_runs(utm, 400, 400, seed=2)
    utm_steps = total
    k = 8_000
    counter = run_machine(_decoder(COUNTER), [0, "#"], state="inc", steps=counter_steps(k),
                          alphabet={0, 1, "#"}, trace=True)
    assert counter == simulate_machine(COUNTER, [0, "#"], state="inc", steps=counter_steps(k),
                                       trace=True)
    assert counter_value(counter) == k
    beavers = run_machines(_decoder(BB4), [[]] * 100, state="A", steps=200, halt=HALT,
                           alphabet={0, 1})
    assert all(b.steps == 107 and b.tape.count(1) == 13 for b in beavers)
    total += counter.steps + sum(b.steps for b in beavers)
    assert utm_steps >= 100_000 and total >= 130_000, (utm_steps, total)
