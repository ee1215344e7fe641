"""A known small universal Turing machine over external memory with a COMPILED transition
(issue 15, item 5): Minsky's 7-state 4-symbol UTM (theory_kit.library.machines, table cited
there), the compiled transformer mapping [(state, symbol)] -> (write, move, next state) and the
runtime keeping the tape, equal to the direct simulator at every step.

What is checked: step-by-step equality (full traces) with `simulate_machine`, on Minsky's
worked example (which halts after 1,870 steps) and on random tapes; and the OUTPUT: the
compiled run's tape decodes (`minsky_tag_words` at every cycle, `minsky_result` at the halt)
to the words of `run_tag_system`, an independent tag-system simulator, on the example and on
random tag systems encoded by `encode_tag_system`.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

import theory_kit as tk
from theory_kit.generation import run_machine, run_machines, simulate_machine
from theory_kit.library.machines import (BB4, COUNTER, HALT, MINSKY_EXAMPLE_STEPS,
                                         MINSKY_EXAMPLE_SYSTEM, MINSKY_EXAMPLE_TAPE,
                                         MINSKY_EXAMPLE_WORD, MINSKY_UTM, encode_tag_system,
                                         minsky_result, minsky_tag_words, run_tag_system,
                                         table_alphabet, transition_program)

from tests.library.test_machines import random_tag_systems
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
    encoded = encode_tag_system(MINSKY_EXAMPLE_SYSTEM, MINSKY_EXAMPLE_WORD)
    tag = run_tag_system(MINSKY_EXAMPLE_SYSTEM, MINSKY_EXAMPLE_WORD, max_steps=100)
    assert minsky_tag_words(encoded, run) == tag.words
    assert minsky_result(encoded, run) == tag.words[-1] == (0, 0, 0, 0, 0)


def test_random_tag_systems_through_the_compiled_utm():
    """Encoded random tag systems run in one batch through the compiled transition: each run
    equal to the simulator step by step, its tape decoding to the tag system's words."""
    cases, encoded = [], []
    for system, word, tag in random_tag_systems(20, seed=5, max_letters=3, max_tag_steps=6):
        e = encode_tag_system(system, word)
        if len(cases) < 6 and simulate_machine(MINSKY_UTM, list(e.tape), state="q2",
                                               steps=2_500, blank="0", halt=HALT,
                                               head=e.head).halted:
            cases.append((system, word, tag))
            encoded.append(e)
    assert len(cases) == 6
    # blanks on the left put every head on the same cell (one batch starts on one cell)
    head = max(e.head for e in encoded)
    encoded = [dataclasses.replace(e, tape=("0",) * (head - e.head) + e.tape, head=head,
                                   rules=("0",) * (head - e.head) + e.rules) for e in encoded]
    kw = dict(state="q2", steps=2_500, blank="0", halt=HALT, head=head, trace=True)
    runs = run_machines(_decoder(MINSKY_UTM), [list(e.tape) for e in encoded],
                        alphabet=set("01yA"), **kw)
    for e, run, (_, _, tag) in zip(encoded, runs, cases):
        assert run == simulate_machine(MINSKY_UTM, list(e.tape), **kw)
        assert run.halted and minsky_tag_words(e, run) == tag.words
        assert minsky_result(e, run) == tag.words[-1]
    assert sum(r.steps for r in runs) > 2_500


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
