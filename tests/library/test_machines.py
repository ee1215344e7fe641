"""theory_kit.library.machines: 2-tag systems, Minsky's encoding of them for his (7, 4)
universal machine, and the decoding of the machine's tape, checked against `run_tag_system`
(an independent tag-system simulator) with the direct machine simulator. The compiled
transition runs the same checks in tests/compiler/test_compiled_utm.py."""

from __future__ import annotations

import random

import pytest

from theory_kit.errors import InvalidInput
from theory_kit.generation import simulate_machine
from theory_kit.library.machines import (HALT, MINSKY_EXAMPLE_STEPS, MINSKY_EXAMPLE_SYSTEM,
                                         MINSKY_EXAMPLE_TAPE, MINSKY_EXAMPLE_WORD, MINSKY_UTM,
                                         TagSystem, decode_tag_word, encode_tag_system,
                                         minsky_result, minsky_tag_words, run_tag_system)


def run_utm(encoded, steps=200_000, trace=True):
    return simulate_machine(MINSKY_UTM, list(encoded.tape), state=encoded.state, steps=steps,
                            blank="0", halt=HALT, head=encoded.head, trace=trace)


def random_tag_systems(count, seed, *, max_letters=4, max_tag_steps=12):
    """Seeded random 2-tag systems and words whose run halts (first letter 0) after 2 to
    `max_tag_steps` steps, every step applied to a word of 3 letters or more (Minsky's
    construction needs a non-empty word after each deletion)."""
    rng = random.Random(seed)
    found = []
    while len(found) < count:
        m = rng.randint(1, max_letters)
        system = TagSystem(tuple(tuple(rng.randint(0, m) for _ in range(rng.randint(1, 3)))
                                 for _ in range(m)))
        word = (rng.randint(1, m),) + tuple(rng.randint(0, m) for _ in range(rng.randint(2, 5)))
        ref = run_tag_system(system, word, max_steps=max_tag_steps)
        if ref.halted and len(ref.words) >= 3 and all(len(w) >= 3 for w in ref.words[:-1]):
            found.append((system, word, ref))
    return found


def test_the_example_tape_is_the_encoding_of_its_tag_system():
    encoded = encode_tag_system(MINSKY_EXAMPLE_SYSTEM, MINSKY_EXAMPLE_WORD)
    assert encoded.tape == MINSKY_EXAMPLE_TAPE
    assert encoded.head == MINSKY_EXAMPLE_TAPE.index("y") and encoded.numbers == (0, 1, 2, 4)
    ref = run_tag_system(MINSKY_EXAMPLE_SYSTEM, MINSKY_EXAMPLE_WORD, max_steps=100)
    assert ref.words == ((2, 2, 2), (2, 2, 3), (3, 2, 3), (3, 0, 0, 0), (0, 0, 0, 0, 0))
    run = run_utm(encoded)
    assert run.halted and run.steps == MINSKY_EXAMPLE_STEPS
    assert minsky_tag_words(encoded, run) == ref.words
    assert minsky_result(encoded, run) == ref.words[-1]


def test_random_tag_systems_through_the_utm():
    """The UTM's tape decodes, at the start of every cycle, to the tag system's word at that
    step, and its halted tape to the tag system's final word."""
    cases = random_tag_systems(24, seed=11)
    steps = 0
    for i, (system, word, ref) in enumerate(cases):
        encoded = encode_tag_system(system, word)
        run = run_utm(encoded)
        assert run.halted, (system, word)
        assert minsky_tag_words(encoded, run) == ref.words, (system, word)
        assert minsky_result(encoded, run) == ref.words[-1], (system, word)
        if i < 4:  # the halted-tape decoder needs no trace
            assert minsky_result(encoded, run_utm(encoded, trace=False)) == ref.words[-1]
        steps += run.steps
    assert steps > 20_000
    assert len({c[0] for c in cases}) == len(cases)


def test_a_word_emptied_by_a_step_is_outside_the_construction():
    """Why the random systems avoid words of 2 letters: deleting both leaves an empty word, and
    the appended production's leading separator reads as an extra halting letter."""
    system, word = TagSystem(((0,), (0, 1))), (2, 0, 2)
    ref = run_tag_system(system, word, max_steps=20)
    assert ref.halted and ref.words[-2] == (1, 0)
    encoded = encode_tag_system(system, word)
    run = run_utm(encoded, steps=20_000)
    assert minsky_tag_words(encoded, run)[:4] == ref.words[:4]
    assert not (run.halted and minsky_result(encoded, run) == ref.words[-1])


def test_run_tag_system_reasons():
    system = TagSystem(((1, 1),))
    assert run_tag_system(system, (1, 1), max_steps=5).reason == "max_steps"
    assert len(run_tag_system(system, (1, 1), max_steps=5).words) == 6
    short = run_tag_system(TagSystem(((1,),)), (1, 1, 1), max_steps=5)
    assert short.reason == "short" and short.words[-1] == (1,)
    assert run_tag_system(system, (0, 1), max_steps=5).words == ((0, 1),)


@pytest.mark.parametrize("productions, fragments", [
    ((), ["non-empty tuple"]),
    (((1,), ()), ["letter 2 is empty"]),
    (((3, -1), (True,)), ["holds 3", "holds -1", "holds True"]),
    ([(1,)], ["non-empty tuple"]),
])
def test_bad_tag_systems(productions, fragments):
    with pytest.raises(InvalidInput) as err:
        TagSystem(productions)
    for f in fragments:
        assert f in str(err.value)


def test_bad_words_and_tapes():
    system = MINSKY_EXAMPLE_SYSTEM
    with pytest.raises(InvalidInput, match=r"\(1, 7\)"):
        encode_tag_system(system, (1, 7))
    with pytest.raises(InvalidInput, match="halting letter"):
        encode_tag_system(system, (0, 1, 2))
    with pytest.raises(InvalidInput, match="2 letters or more"):
        encode_tag_system(system, (1,))
    with pytest.raises(InvalidInput, match="list of letters"):
        run_tag_system(system, "12", max_steps=3)
    with pytest.raises(InvalidInput, match="max_steps"):
        run_tag_system(system, (1, 2), max_steps=-1)
    with pytest.raises(InvalidInput, match="cell 2 holds '1'"):
        decode_tag_word(list("yy1"), (0, 1, 2))
    with pytest.raises(InvalidInput, match=r"runs of \[3\]"):
        decode_tag_word(list("yyyAy"), (0, 1, 2))
    encoded = encode_tag_system(system, MINSKY_EXAMPLE_WORD)
    with pytest.raises(InvalidInput, match="did not halt"):
        minsky_result(encoded, run_utm(encoded, steps=100))
    with pytest.raises(InvalidInput, match="trace=True"):
        minsky_tag_words(encoded, run_utm(encoded, steps=100, trace=False))
