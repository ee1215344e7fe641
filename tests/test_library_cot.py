"""Chain-of-thought library programs (issue 15, item 3): on every prompt of its format (exhaustive
up to 100,000 prompts per size, else a seeded sample) each program writes exactly its plain-Python
reference, whose answer is the directly computed one, in exactly the formula's number of tokens.

Two oracles: `rasp.generate_batch` (the interpreter as a decoder, one sequence at a time) on the
small sizes, and teacher forcing on every prompt: the causal program's outputs on prompt +
reference[:-1] (`rasp.evaluate_vectorised`, exactly the interpreter's values) must be the
reference from the prompt's last position on. By the definition of the next token (the causal
output at the last position) and the stop rule, that is the generation equalling the reference.
"""

from __future__ import annotations

import itertools

import pytest
import sympy as sp

from theory_kit import library, rasp
from theory_kit.errors import InvalidInput
from theory_kit.library.cot import (
    ARITHMETIC_FORMATS, COT_PROGRAMS, STOP, arithmetic_spec, circuit_gates, make_arithmetic_cot,
    n_sym)

#: Prompts enumerated per size; above, a seeded sample of SAMPLE prompts.
EXHAUSTIVE_LIMIT = 100_000
SAMPLE = 20_000
#: Sizes whose every prompt also runs through rasp.generate_batch (the per-sequence oracle;
#: about 5 ms a prompt), per program; larger sizes run GENERATE_SAMPLE sampled prompts.
GENERATE = {"parity": 6, "add_plain": 1, "add_plain_carries": 1, "add_reversed": 1,
            "add_reversed_carries": 1, "mul_reversed": 1, "mul_reversed_carries": 1,
            "mul_plain_carries": 1, "circuit": 3, "hops": 3}
GENERATE_SAMPLE = 60
#: Arithmetic in other bases: (base, largest size) in the default run and in the slow suite
#: (the largest sizes with at most 100,000 prompts).
OTHER_BASES = {"default": ((2, 6), (3, 3)), "slow": ((2, 8), (3, 5))}


def _prompts(spec, n, *, limit=EXHAUSTIVE_LIMIT, sample=SAMPLE):
    if spec.count(n) <= limit:
        return list(spec.prompts(n))
    return spec.sample(n, sample, seed=n)


def _teacher_forced(spec, prompts):
    """The program's next tokens along each reference generation (one causal evaluation)."""
    program = spec()
    refs = [spec.reference(p) for p in prompts]
    outs = rasp.evaluate_vectorised(program, [p + r[:-1] for p, r in zip(prompts, refs)],
                                    causal=True)
    return [(p, r, o[len(p) - 1:]) for p, r, o in zip(prompts, refs, outs)]


def _other_base_specs(which):
    return [(arithmetic_spec(op, fmt, base=b), top) for b, top in OTHER_BASES[which]
            for op in "+*" for fmt in ARITHMETIC_FORMATS if not (op == "*" and fmt == "plain")]


def test_every_program_is_checked_and_exported():
    assert set(GENERATE) == set(COT_PROGRAMS)
    assert library.COT_PROGRAMS is COT_PROGRAMS
    assert list(COT_PROGRAMS) == ["parity", "add_plain", "add_plain_carries", "add_reversed",
                                  "add_reversed_carries", "mul_reversed", "mul_reversed_carries",
                                  "mul_plain_carries", "circuit", "hops"]


@pytest.mark.parametrize("name", list(COT_PROGRAMS))
def test_spec_metadata(name):
    spec = COT_PROGRAMS[name]
    assert spec.name == name and spec.doc and "\n" not in spec.doc and len(spec.doc) <= 90
    assert spec.cot_length.free_symbols <= {n_sym} and spec.prompt_length.free_symbols <= {n_sym}
    assert spec.sizes == tuple(sorted(spec.sizes)) and spec.sizes[0] == 1
    program = spec()
    assert isinstance(program, rasp.SOp) and spec() is not program
    assert rasp.validate(program, set(spec.vocab(spec.sizes[-1])), 16) == []
    for n in spec.sizes:
        first = next(spec.prompts(n))
        assert len(first) == int(spec.prompt_length.subs(n_sym, n)) and first[-1] != STOP
        assert spec.max_seq_len(n) == len(first) + spec.cot_length_at(n)
        assert set(first) <= set(spec.vocab(n)) and STOP in spec.vocab(n)


@pytest.mark.parametrize("name", list(COT_PROGRAMS))
def test_reference_states_the_answer_in_the_formulas_number_of_tokens(name):
    spec = COT_PROGRAMS[name]
    for n in spec.sizes:
        prompts = _prompts(spec, n, sample=2_000)
        for p in prompts:
            written = spec.reference(p)
            assert len(written) == spec.cot_length_at(n) and written[-1] == STOP, p
            assert STOP not in written[:-1]
            assert spec.read_answer(p, written) == spec.answer(p), p
            assert set(written) <= set(spec.vocab(n)), p


@pytest.mark.parametrize("name", list(COT_PROGRAMS))
def test_generate_batch_equals_the_reference(name):
    spec = COT_PROGRAMS[name]
    program = spec()
    for n in spec.sizes:
        if n <= GENERATE[name]:
            prompts = list(spec.prompts(n))
        else:
            prompts = spec.sample(n, GENERATE_SAMPLE, seed=n)
        out = rasp.generate_batch(program, prompts, max_new_tokens=spec.cot_length_at(n) + 3,
                                  stop=STOP, vocab=spec.vocab(n))
        for p, g in zip(prompts, out):
            assert g.stopped and list(g.tokens) == spec.reference(p), (p, g.tokens)


@pytest.mark.parametrize("name", list(COT_PROGRAMS))
def test_next_tokens_equal_the_reference_on_every_prompt(name):
    spec = COT_PROGRAMS[name]
    for n in spec.sizes:
        for p, want, got in _teacher_forced(spec, _prompts(spec, n)):
            assert got == want, p


@pytest.mark.parametrize("spec,top", _other_base_specs("default"), ids=lambda x: getattr(
    x, "name", str(x)))
def test_arithmetic_in_other_bases(spec, top):
    for n in range(1, top + 1):
        for p, want, got in _teacher_forced(spec, _prompts(spec, n)):
            assert got == want, p
            assert spec.read_answer(p, want) == spec.answer(p), p


@pytest.mark.slow
@pytest.mark.parametrize("spec,top", _other_base_specs("slow"), ids=lambda x: getattr(
    x, "name", str(x)))
def test_slow_arithmetic_in_other_bases_up_to_100000_prompts(spec, top):
    for n in range(1, top + 1):
        assert spec.count(n) <= EXHAUSTIVE_LIMIT
        for p, want, got in _teacher_forced(spec, list(spec.prompts(n))):
            assert got == want, p
            assert spec.read_answer(p, want) == spec.answer(p), p


def test_worked_formats():
    add = {fmt: COT_PROGRAMS[f"add_{fmt}"] for fmt in ARITHMETIC_FORMATS}
    prompt = [4, 7, "+", 5, 8, "="]                      # 47 + 58 = 105
    assert add["plain"].reference(prompt) == [1, 0, 5, STOP]
    assert add["reversed"].reference(prompt) == [5, 0, 1, STOP]
    assert add["reversed_carries"].reference(prompt) == [5, 1, 0, 1, STOP]
    assert add["plain_carries"].reference(prompt) == [1, 1, ";", 1, 0, 5, STOP]
    mul = COT_PROGRAMS["mul_reversed_carries"]
    assert mul.reference([4, 7, "*", 8, "="]) == [6, 5, 7, 3, STOP]  # 47 * 8 = 376
    circuit = [("IN", 1), ("IN", 0), ("AND", 0, 1), ("OR", 2, 0), ("NOT", 3), "="]
    assert COT_PROGRAMS["circuit"].reference(circuit) == [1, 0, 0, 1, 0, STOP]
    hops = [2, 0, 1, 1, "=", "?", "?", "?"]                # f = (2, 0, 1), x = 1
    assert COT_PROGRAMS["hops"].reference(hops) == [0, 2, 1, STOP]
    for spec, p in ((add["plain"], prompt), (COT_PROGRAMS["circuit"], circuit),
                    (COT_PROGRAMS["hops"], hops)):
        g = rasp.generate(spec(), p, max_new_tokens=12, stop=STOP)
        assert list(g.tokens) == spec.reference(p)


def test_add_plain_looks_ahead_over_the_whole_carry_chain():
    # 1 + 99...9 = 100...0: the first digit written depends on every digit below it
    spec = COT_PROGRAMS["add_plain"]
    for d in (1, 2, 3, 4, 5):
        prompt = [0] * (d - 1) + [1, "+"] + [9] * d + ["="]
        assert spec.reference(prompt) == [1] + [0] * d + [STOP]
        g = rasp.generate(spec(), prompt, max_new_tokens=d + 3, stop=STOP)
        assert list(g.tokens) == [1] + [0] * d + [STOP]
        broken = prompt[:d + 1] + [8] + [9] * (d - 1) + ["="]  # the chain cut at the top
        g = rasp.generate(spec(), broken, max_new_tokens=d + 3, stop=STOP)
        assert list(g.tokens) == spec.reference(broken) and g.tokens[0] == 0


def test_circuit_gates_and_prompt_counts():
    assert circuit_gates(0) == (("IN", 0), ("IN", 1))
    assert len(circuit_gates(2)) == 2 + 2 + 2 * 4
    spec = COT_PROGRAMS["circuit"]
    assert [spec.count(n) for n in (1, 2, 3, 4, 5)] == [2, 10, 120, 2760, 104880]


def test_prompt_sets_and_samples():
    spec = COT_PROGRAMS["add_reversed"]
    assert spec.count(2) == 10_000 == len(list(spec.prompts(2)))
    sample = spec.sample(3, 50, seed=1)
    assert sample == spec.sample(3, 50, seed=1) and len(sample) == 50
    assert all(len(p) == 8 and p[3] == "+" and p[-1] == "=" for p in sample)
    assert spec.vocab(2) == tuple(sorted([*range(10), "+", "=", STOP], key=repr))
    assert ";" in COT_PROGRAMS["add_plain_carries"].vocab(1) and ";" not in spec.vocab(1)


def test_formulas():
    lengths = {name: spec.cot_length for name, spec in COT_PROGRAMS.items()}
    assert lengths["parity"] == n_sym + 1 and lengths["circuit"] == n_sym + 1
    assert lengths["add_plain"] == lengths["add_reversed"] == n_sym + 2
    assert lengths["add_reversed_carries"] == 2 * n_sym + 1
    assert lengths["add_plain_carries"] == lengths["mul_plain_carries"] == 2 * n_sym + 3
    assert all(isinstance(e, sp.Expr) for e in lengths.values())


def test_bad_arguments_raise_invalid_input():
    with pytest.raises(InvalidInput, match=r"op must be '\+' or '\*', got '-'"):
        make_arithmetic_cot("-")
    with pytest.raises(InvalidInput, match=r"fmt must be one of"):
        make_arithmetic_cot("+", "upside_down")
    with pytest.raises(InvalidInput, match=r"built for '\+'.*use plain_carries"):
        make_arithmetic_cot("*", "plain")
    for base in (1, 11, True, 2.0):
        with pytest.raises(InvalidInput, match=r"base must be an int in 2\.\.10"):
            arithmetic_spec("+", "plain", base=base)


def test_other_bases_are_named_apart():
    assert arithmetic_spec("+", "plain").name == "add_plain"
    assert arithmetic_spec("*", "reversed", base=3).name == "mul_reversed_base3"
    names = {s.name for s, _ in _other_base_specs("default")}
    assert len(names) == 14 and not names & set(COT_PROGRAMS)


def test_every_prompt_token_is_in_the_vocabulary_of_its_size():
    for spec in COT_PROGRAMS.values():
        for n in spec.sizes[:2]:
            tokens = set(itertools.chain.from_iterable(spec.prompts(n)))
            assert tokens <= set(spec.vocab(n))
