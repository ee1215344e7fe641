"""theory_kit.claims.cot: one `<name>_cot_length` claim per library CoT program, its quantity
generated through the protocol driver with the vectorised interpreter decoder (the same tokens
as rasp.generate_batch), -1 when prompts of one size write different numbers of tokens."""

from __future__ import annotations

import dataclasses

import pytest

from theory_kit import rasp
from theory_kit.claims import Claim, get, names, verify
from theory_kit.claims.cot import DOMAINS, VectorisedDecoder, cot_length_at, cot_lengths
from theory_kit.errors import EvaluationError, GenerationError
from theory_kit.generation import generate_with
from theory_kit.library import cot
from theory_kit.library.cot import COT_PROGRAMS, STOP


def test_one_claim_per_program():
    assert {f"{n}_cot_length" for n in COT_PROGRAMS} <= set(names())
    assert set(DOMAINS) == set(COT_PROGRAMS)
    claim = get("circuit_cot_length")
    assert claim.relation == "==" and str(claim.bound) == "n + 1"


@pytest.mark.parametrize("name", ["parity", "add_plain", "circuit", "hops"])
def test_claims_hold_on_small_domains(name):
    claim = get(f"{name}_cot_length")
    small = Claim(f"{name}_small", claim.quantity, claim.bound, {"n": (1, 2, "int")},
                  relation="==")
    verdict = verify(small, budget=10)
    assert verdict.holds and verdict.exhaustive and verdict.n_evaluated == 2
    assert [cot_length_at(name, n) for n in (1, 2)] == [COT_PROGRAMS[name].cot_length_at(n)
                                                        for n in (1, 2)]


def test_vectorised_decoder_gives_the_interpreters_tokens():
    spec = COT_PROGRAMS["add_plain_carries"]
    prompts = spec.sample(2, 40, seed=3) + list(spec.prompts(1))[:20]
    program = spec()
    a = generate_with(VectorisedDecoder(program), prompts, max_new_tokens=12, stop=STOP)
    b = rasp.generate_batch(program, prompts, max_new_tokens=12, stop=STOP)
    assert a == b


def test_prompts_that_write_different_lengths_give_minus_one(monkeypatch):
    # parity that stops at once when the first bit is 1: 1 token there, n + 1 elsewhere
    first = rasp.Aggregate(rasp.Select(rasp.indices, rasp.Full(0), rasp.Comparison.EQ),
                           rasp.tokens)
    program = rasp.categorical(rasp.SequenceMap(lambda f, p: STOP if f == 1 else p, first,
                                                cot.make_parity_cot()))
    fake = dataclasses.replace(COT_PROGRAMS["parity"], build=lambda: program)
    monkeypatch.setattr("theory_kit.claims.cot.COT_PROGRAMS", {"parity": fake})
    cot_length_at.cache_clear()
    try:
        assert sorted(set(cot_lengths("parity", 3))) == [1, 4]
        assert cot_length_at("parity", 3) == -1
    finally:
        cot_length_at.cache_clear()


def test_a_program_without_a_next_token_raises():
    none_at_last = rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices,
                                              lambda k, q: k > q), rasp.tokens)
    with pytest.raises((EvaluationError, GenerationError), match="None"):
        generate_with(VectorisedDecoder(none_at_last), [[0, 1]], max_new_tokens=2)
