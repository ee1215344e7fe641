"""Compiled chain-of-thought generators (issue 15, item 3): every library CoT program compiles
with compile_generator and is verified (whole generations, cached keys and values) against the
interpreter on the prompts of its format, in float64 and float32; the circuit model has the same
depth for every circuit size."""

from __future__ import annotations

import numpy as np
import pytest

import theory_kit as tk
from theory_kit.library.cot import COT_PROGRAMS, STOP, arithmetic_spec

#: name -> (largest size compiled for, sizes whose every prompt is verified); prompts of the
#: larger sizes are a seeded sample of SAMPLE each.
COMPILE = {"parity": (6, 6), "add_plain": (3, 1), "add_plain_carries": (3, 1),
           "add_reversed": (3, 1), "add_reversed_carries": (3, 1), "mul_reversed": (3, 1),
           "mul_reversed_carries": (3, 1), "mul_plain_carries": (3, 1), "circuit": (4, 3),
           "hops": (3, 3)}
SAMPLE = 100


def _prompts(spec, top, every):
    return [p for n in range(1, top + 1)
            for p in (spec.prompts(n) if n <= every else spec.sample(n, SAMPLE, seed=n))]


def _compile(spec, top, prompts, dtype=np.float64):
    return tk.compile_generator(spec(), vocab=set(spec.vocab(top)),
                                max_seq_len=spec.max_seq_len(top), stop=STOP, prompts=prompts,
                                dtype=dtype)


def test_every_program_is_compiled():
    assert set(COMPILE) == set(COT_PROGRAMS)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(COT_PROGRAMS))
def test_compiles_and_generates_the_reference(name, dtype):
    spec = COT_PROGRAMS[name]
    top, every = COMPILE[name]
    prompts = _prompts(spec, top, every)
    model = _compile(spec, top, prompts, dtype)  # verified on `prompts` against the oracle
    assert model.verified_inputs == len(prompts)
    some = prompts[::max(1, len(prompts) // 25)]
    for p, g in zip(some, model.generate(some, max_new_tokens=spec.max_seq_len(top),
                                         stop=STOP)):
        assert g.stopped and list(g.tokens) == spec.reference(p), p


@pytest.mark.parametrize("base,top", [(2, 3), (3, 2)])
@pytest.mark.parametrize("fmt", ["plain", "reversed"])
def test_addition_in_small_bases_on_every_prompt(base, top, fmt):
    spec = arithmetic_spec("+", fmt, base=base)
    prompts = _prompts(spec, top, top)
    model = _compile(spec, top, prompts)
    assert model.verified_inputs == len(prompts) == sum(base ** (2 * d) for d in
                                                         range(1, top + 1))


def test_circuit_depth_does_not_grow_with_the_circuit():
    spec = COT_PROGRAMS["circuit"]
    shapes = set()
    for top in (2, 3, 4):
        model = _compile(spec, top, _prompts(spec, top, 2))
        summary = model.summary()
        shapes.add((summary["layers"], tuple(summary["heads"])))
    assert len(shapes) == 1, shapes
    (layers, heads), = shapes
    assert layers <= 4 and sum(heads) == 4  # gate, "=", and the two input values


#: The issue's acceptance sizes: every prompt of a size with at most this many, else a sample.
ACCEPT_EXHAUSTIVE, ACCEPT_SAMPLE = 100_000, 2_000


def acceptance_prompts(spec) -> list:
    """Every size the spec checks by default: all its prompts where at most 100,000, else
    2,000 seeded random ones."""
    return [p for n in spec.sizes
            for p in (spec.prompts(n) if spec.count(n) <= ACCEPT_EXHAUSTIVE
                      else spec.sample(n, ACCEPT_SAMPLE, seed=n))]


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(COT_PROGRAMS))
def test_slow_every_prompt_of_every_size(name, dtype):
    """The issue's acceptance: compiled at its largest default size, each CoT program's whole
    generations equal the oracle's (compile_generator's fail-closed verification) on every
    prompt of each size (exhaustive up to 100,000, else 2,000 random), float64 and float32."""
    spec = COT_PROGRAMS[name]
    prompts = acceptance_prompts(spec)
    model = _compile(spec, max(spec.sizes), prompts, dtype)
    assert model.verified_inputs == len(prompts)
