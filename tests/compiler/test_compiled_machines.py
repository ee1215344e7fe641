"""External memory with a COMPILED transition (issue 15, item 5): a causal transformer compiled
from a RASP transition program maps the prompt [(state, symbol)] to (write, move, next state),
and the runtime keeps the tape (`theory_kit.generation.run_machines`). Equal to the direct
simulator at every step."""

from __future__ import annotations

import pytest

import theory_kit as tk
from theory_kit import rasp
from theory_kit.generation import run_machine, run_machines, simulate_machine

from tests.test_generation_protocol import BB4, COUNTER, counter_steps, counter_value


def _compiled(table):
    program = rasp.categorical(rasp.Map(lambda t: table[t], rasp.tokens))
    model = tk.compile(program, vocab=set(table), max_seq_len=1, causal=True)  # every prompt
    return model.decoder()


def test_batched_busy_beavers_through_the_compiled_transition():
    decoder = _compiled(BB4)
    tapes = [[(i >> k) & 1 for k in range(i % 7)] for i in range(200)]
    runs = run_machines(decoder, tapes, state="A", steps=2000, halt="H", alphabet={0, 1},
                        trace=True)
    total = 0
    for tape, run in zip(tapes, runs):
        assert run == simulate_machine(BB4, tape, state="A", steps=2000, halt="H", trace=True)
        total += run.steps
    assert runs[0].steps == 107 and runs[0].tape.count(1) == 13  # Brady's 4-state beaver
    assert total > 5_000


@pytest.mark.slow
def test_a_hundred_thousand_compiled_steps():
    """>= 100,000 steps of the compiled transition, each equal to the simulator: the binary
    counter for 25,000 increments (99,988 steps, one machine) and 1,000 batched beavers."""
    decoder = _compiled(COUNTER)
    k = 25_000
    run = run_machine(decoder, [0, "#"], state="inc", steps=counter_steps(k),
                      alphabet={0, 1, "#"}, trace=True)
    assert run == simulate_machine(COUNTER, [0, "#"], state="inc", steps=counter_steps(k),
                                   trace=True)
    assert counter_value(run) == k
    beavers = run_machines(_compiled(BB4), [[]] * 1000, state="A", steps=200, halt="H",
                           alphabet={0, 1})
    assert all(b.steps == 107 for b in beavers)
    assert run.steps + sum(b.steps for b in beavers) >= 100_000
