"""theory_kit.rasp.generate: the interpreter as a decoder — autoregressive generation, tool
calls and tape machines, checked against plain Python and against simulate_machine."""

from __future__ import annotations

import time

import pytest

from theory_kit import rasp
from theory_kit.errors import (EvaluationError, GenerationError, InvalidInput, InvalidProgram,
                               MachineError, ToolCallError)
from theory_kit.generation import (CALL, END, PROTOCOL_TOKENS, generate_with, run_machines,
                                   simulate_machine)

from tests.test_generation_protocol import (BB2, BB4, COUNTER, counter_steps, counter_value,
                                            mul_transcript)


def shift_by(d):
    """The token d positions back (None where there is none)."""
    return rasp.categorical(rasp.Aggregate(
        rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == q - d), rasp.tokens))


def token_at(i):
    return rasp.categorical(rasp.Aggregate(
        rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == i), rasp.tokens))


# -- small generators -----------------------------------------------------------------------
SUCC = rasp.categorical(rasp.Map(lambda x: (x + 1) % 5, rasp.tokens))


def test_next_token_generator_batched_against_python():
    prompts = [[3], [1, 2, 0], [4, 4]]
    out = rasp.generate_batch(SUCC, prompts, max_new_tokens=6)
    for p, g in zip(prompts, out):
        assert g.tokens == tuple((p[-1] + i) % 5 for i in range(1, 7)) and not g.stopped
    out = rasp.generate_batch(SUCC, prompts, max_new_tokens=6, stop=2)
    assert [g.tokens for g in out] == [(4, 0, 1, 2), (1, 2), (0, 1, 2)]
    assert all(g.stopped for g in out)
    g = rasp.generate(SUCC, (2,), max_new_tokens=3, stop={0, 1})
    assert g.tokens == (3, 4, 0) and g.prompt == (2,)


def _running_parity_program():
    """Prompt: bits then '='; the model writes the running parity p_1..p_n, then '.'.

    With n the position of '=' and q the last position, o = q - n tokens follow '='; the next
    is p_{o+1} = p_o XOR bit_o (p_0 = 0, the token at q when o > 0) while o < n, then '.'.
    """
    # default -1 before '=' (selectors need values everywhere; those positions are never
    # the last one the model is asked about)
    eq_pos = rasp.categorical(rasp.Aggregate(
        rasp.Select(rasp.tokens, rasp.tokens, lambda k, q: k == "="), rasp.indices, default=-1))
    offset = rasp.categorical(rasp.SequenceMap(lambda i, n: i - n, rasp.indices, eq_pos))
    bit = rasp.categorical(rasp.Aggregate(
        rasp.Select(rasp.indices, offset, lambda k, q: k == q), rasp.tokens))
    where = rasp.categorical(rasp.SequenceMap(lambda o, n: (o, n), offset, eq_pos))
    seen = rasp.categorical(rasp.SequenceMap(lambda t, b: (t, b), rasp.tokens, bit))

    def step(where, seen):
        (o, n), (t, b) = where, seen
        return "." if o >= n else (0 if o == 0 else t) ^ b
    return rasp.categorical(rasp.SequenceMap(step, where, seen))


PARITY = _running_parity_program()


def running_parity(bits):
    out, p = [], 0
    for b in bits:
        p ^= b
        out.append(p)
    return out + ["."]


def test_running_parity_scratchpad_against_python():
    cases = [[1, 0, 1, 1], [], [0], [1, 1, 1, 0, 1, 0, 0, 1]]
    out = rasp.generate_batch(PARITY, [bits + ["="] for bits in cases], max_new_tokens=20,
                              stop=".")
    for bits, g in zip(cases, out):
        assert list(g.tokens) == running_parity(bits) and g.stopped
    # the budget cuts it short, the stop token is not reached
    g = rasp.generate(PARITY, [1, 0, 1, "="], max_new_tokens=2, stop=".")
    assert g.tokens == (1, 1) and g.reason == "max_new_tokens"


def test_generation_equals_the_causal_interpreter_token_by_token():
    g = rasp.generate(PARITY, [0, 1, 1, "="], max_new_tokens=10, stop=".")
    seq = list(g.prompt)
    for tok in g.tokens:
        assert rasp.evaluate(PARITY, seq, causal=True)[-1] == tok
        seq.append(tok)


# -- tool calls -------------------------------------------------------------------------------
def _multiply_with_add_program():
    """Prompt [a, "*", b, "="] ('=' at position 3). The model repeats, b times,
    `<call> add acc a </call>` (acc: 0, then the last result) and the runtime answers
    `<result> acc + a </result>`; then the model copies the last result and writes '.'.

    Each call takes 8 tokens, so with o = q - 3 (q the last position), c, j = divmod(o, 8):
    j = 0 -> CALL (c < b) or the answer (the token at q - 1, the last result); j = 1 -> "add"
    or '.'; j = 2 -> acc (the token at q - 3); j = 3 -> a; j = 4 -> END. j = 5..7 lie inside
    the result block, where the model is never asked (None).
    """
    offset = rasp.categorical(rasp.Map(lambda i: i - 3, rasp.indices))
    where = rasp.categorical(rasp.SequenceMap(lambda o, b: (o, b), offset, token_at(2)))
    back = rasp.categorical(rasp.SequenceMap(lambda p1, p3: (p1, p3), shift_by(1), shift_by(3)))
    seen = rasp.categorical(rasp.SequenceMap(lambda v, a: v + (a,), back, token_at(0)))

    def step(where, seen):
        (o, b), (prev1, prev3, a) = where, seen
        c, j = divmod(o, 8)
        if j == 0:
            return CALL if c < b else (prev1 if c > 0 else 0)
        if j == 1:
            return "add" if c < b else "."
        if j == 2:
            return prev3 if c > 0 else 0
        return {3: a, 4: END}.get(j)
    return rasp.categorical(rasp.SequenceMap(step, where, seen))


MULTIPLY = _multiply_with_add_program()
ADD = {"add": lambda x, y: x + y}
VOCAB = set(range(50)) | {"*", "=", ".", "add"} | set(PROTOCOL_TOKENS)


def test_multiplication_by_repeated_add_calls_end_to_end():
    pairs = [(3, 4), (7, 0), (0, 3), (6, 6), (5, 1)]
    out = rasp.generate_batch(MULTIPLY, [[a, "*", b, "="] for a, b in pairs],
                              max_new_tokens=60, stop=".", tools=ADD, vocab=VOCAB)
    for (a, b), g in zip(pairs, out):
        assert list(g.tokens) == mul_transcript(a, b)
        assert g.model_tokens[-2] == a * b and g.stopped
        assert [(c.name, c.args, c.result) for c in g.calls] == \
            [("add", (a * i, a), (a * i + a,)) for i in range(b)]
        assert sum(g.generated) == 5 * b + 2


def test_tool_call_errors_raise_with_the_offending_value():
    prompts = [[2, "*", 2, "="], [3, "*", 1, "="]]
    saved = [list(p) for p in prompts]
    with pytest.raises(ToolCallError, match="unknown tool 'add'") as info:
        rasp.generate_batch(MULTIPLY, prompts, max_new_tokens=40, tools={"mul": max})
    assert (info.value.row, info.value.position, info.value.value) == (0, 5, "add")
    with pytest.raises(ToolCallError, match="raised ZeroDivisionError") as info:
        rasp.generate_batch(MULTIPLY, prompts, max_new_tokens=40,
                            tools={"add": lambda x, y: y // x})
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    with pytest.raises(ToolCallError, match="returned 51.*not in the vocabulary") as info:
        rasp.generate_batch(MULTIPLY, prompts, max_new_tokens=40, vocab=VOCAB,
                            tools={"add": lambda x, y: 51})
    assert info.value.value == 51
    with pytest.raises(ToolCallError, match=r"\{1: 2\} is unhashable"):
        rasp.generate_batch(MULTIPLY, prompts, max_new_tokens=40,
                            tools={"add": lambda x, y: [{1: 2}]})
    assert prompts == saved
    ends = rasp.categorical(rasp.Map(lambda t: END, rasp.tokens))
    with pytest.raises(ToolCallError, match="without a CALL"):
        rasp.generate(ends, [1], max_new_tokens=3, tools=ADD)
    no_name = rasp.categorical(rasp.Map(lambda t: END if t == CALL else CALL, rasp.tokens))
    with pytest.raises(ToolCallError, match="malformed call.*no tool name"):
        rasp.generate(no_name, [1], max_new_tokens=3, tools=ADD)


def test_a_missing_next_token_is_an_evaluation_error_naming_the_position():
    # nothing is selected at the last position once the sequence is longer than 2
    gap = rasp.categorical(rasp.Aggregate(
        rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == q and q < 2),
        rasp.Map(lambda x: x + 1, rasp.tokens)))
    with pytest.raises(EvaluationError, match="no value \\(None\\) at position 2, the last"):
        rasp.generate(gap, [5], max_new_tokens=5)
    with pytest.raises(EvaluationError, match="sequence 1: .*position 2"):
        rasp.generate_batch(gap, [[5, 6], [5, 6, 7]], max_new_tokens=1)


def test_bad_arguments():
    with pytest.raises(InvalidProgram, match="expected an SOp"):
        rasp.generate(rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ), [1],
                      max_new_tokens=1)
    with pytest.raises(InvalidInput, match=r"prompts\[0\]: is empty"):
        rasp.generate(SUCC, [], max_new_tokens=1)
    with pytest.raises(GenerationError, match="not in the vocabulary"):
        rasp.generate(SUCC, [4], max_new_tokens=3, vocab={3, 4})


def test_the_interpreter_decoder_is_the_shared_protocol():
    dec = rasp.InterpreterDecoder(SUCC)
    assert dec.start([[1], [2, 3]]) == [2, 4]
    assert dec.extend([1], [[7, 1]]) == [2]
    with pytest.raises(InvalidInput, match="row 2 is not one of the 2"):
        dec.extend([2], [[1]])
    [g] = generate_with(rasp.InterpreterDecoder(PARITY), [[1, 1, "="]], max_new_tokens=9,
                        stop=".")
    assert g == rasp.generate(PARITY, [1, 1, "="], max_new_tokens=9, stop=".")


# -- external memory: a RASP program as the transition function ---------------------------------
def table_program(table):
    """A categorical Map of the single input token (state, symbol) -> (write, move, next)."""
    return rasp.categorical(rasp.Map(lambda t: table[t], rasp.tokens))


STEPS = {"total": 0}


@pytest.mark.parametrize("table,steps,ones", [(BB4, 107, 13), (BB2, 6, 4)])
def test_busy_beaver_run_by_a_rasp_program_equals_the_simulator(table, steps, ones):
    ref = simulate_machine(table, [], state="A", steps=1000, halt="H", trace=True)
    run = rasp.run_machine(table_program(table), [], state="A", steps=1000, halt="H",
                           alphabet={0, 1}, trace=True)
    assert run == ref  # every step: state, head, read, write, move, next state
    assert (run.steps, run.tape.count(1), run.halted) == (steps, ones, True)
    STEPS["total"] += run.steps


def test_two_token_prompt_encoding():
    """encode=[state, symbol]: the program reads the state one position back."""
    prog = rasp.categorical(rasp.SequenceMap(lambda s, x: BB4[(s, x)], shift_by(1), rasp.tokens))
    run = rasp.run_machine(prog, [], state="A", steps=1000, halt="H", alphabet={0, 1},
                           trace=True, encode=lambda s, x: [s, x])
    assert run == simulate_machine(BB4, [], state="A", steps=1000, halt="H", trace=True)
    STEPS["total"] += run.steps


def test_batched_rasp_machines_and_a_counter():
    tapes = [[], [1], [0, 1, 1], [1, 0, 1, 0, 1]]
    runs = run_machines(rasp.InterpreterDecoder(table_program(BB4)), tapes, state="A",
                        steps=400, halt="H", alphabet={0, 1}, trace=True)
    for tape, run in zip(tapes, runs):
        assert run == simulate_machine(BB4, tape, state="A", steps=400, halt="H", trace=True)
        STEPS["total"] += run.steps
    k = 400
    run = rasp.run_machine(table_program(COUNTER), [0, "#"], state="inc",
                           steps=counter_steps(k), alphabet={0, 1, "#"})
    assert counter_value(run) == k and run.state == "inc"
    assert run == simulate_machine(COUNTER, [0, "#"], state="inc", steps=counter_steps(k))
    STEPS["total"] += run.steps


def test_rasp_machine_errors():
    bad = table_program({**BB4, ("B", 1): (0, "left", "C")})
    with pytest.raises(MachineError, match="move 'left', not one of") as info:
        rasp.run_machine(bad, [], state="A", steps=200, halt="H", alphabet={0, 1})
    assert info.value.value == "left" and info.value.step > 0
    wide = table_program({**BB4, ("D", 0): (2, "R", "D")})
    with pytest.raises(MachineError, match="writes symbol 2: it is not in the alphabet"):
        rasp.run_machine(wide, [], state="A", steps=200, halt="H", alphabet={0, 1})
    with pytest.raises(InvalidInput, match=r"tape\[1\]: symbol 3 is not in the alphabet"):
        rasp.run_machine(table_program(BB4), [0, 3], state="A", steps=5, alphabet={0, 1})
    with pytest.raises(EvaluationError, match="KeyError"):  # the Map itself has no entry
        rasp.run_machine(table_program(BB4), [0], state="Z", steps=5, alphabet={0, 1})


@pytest.mark.slow
def test_a_hundred_thousand_steps_through_the_rasp_oracle():
    """>= 100,000 machine steps through the interpreter decoder, each equal to the simulator:
    the binary counter for 25,000 increments and 1,000 batched busy beavers (4 states)."""
    t0 = time.perf_counter()
    k = 25_000
    steps = counter_steps(k)
    run = rasp.run_machine(table_program(COUNTER), [0, "#"], state="inc", steps=steps,
                           alphabet={0, 1, "#"}, trace=True)
    assert run == simulate_machine(COUNTER, [0, "#"], state="inc", steps=steps, trace=True)
    assert counter_value(run) == k
    runs = run_machines(rasp.InterpreterDecoder(table_program(BB4)), [[]] * 1000, state="A",
                        steps=200, halt="H", alphabet={0, 1})
    assert all(r.steps == 107 and r.tape.count(1) == 13 for r in runs)
    total = run.steps + sum(r.steps for r in runs)
    assert total >= 100_000
    print(f"\n{total} machine steps through the RASP oracle in "
          f"{time.perf_counter() - t0:.2f} s")


# -- VectorisedDecoder: the interpreter's tokens and errors, batched by length -----------------
def both_decoders(program, prompts, **kw):
    """(vectorised, interpreter) results of generate_batch: Generations or (type, message)."""
    out = []
    for vectorised in (True, False):
        try:
            out.append(rasp.generate_batch(program, prompts, vectorised=vectorised, **kw))
        except Exception as exc:
            out.append((type(exc), str(exc)))
    return out


@pytest.mark.parametrize("name", sorted(__import__("theory_kit.library.cot",
                                                   fromlist=["COT_PROGRAMS"]).COT_PROGRAMS))
def test_vectorised_decoder_equals_the_interpreter_on_the_cot_library(name):
    from theory_kit.library.cot import COT_PROGRAMS, STOP
    spec = COT_PROGRAMS[name]
    n = spec.sizes[0]
    prompts = spec.sample(n, 12, seed=7) if spec.count(n) > 12 else list(spec.prompts(n))
    fast, slow = both_decoders(spec(), prompts, max_new_tokens=spec.cot_length_at(n) + 3, stop=STOP,
                       vocab=spec.vocab(n))
    assert fast == slow and all(g.stopped for g in fast)


def test_vectorised_decoder_on_tool_calls_and_mixed_lengths():
    from theory_kit.library.tools import STOP, mul_with_add_spec
    spec = mul_with_add_spec(1, 3)
    prompts = list(spec.prompts())
    fast, slow = both_decoders(spec.build(), prompts, max_new_tokens=spec.max_new_tokens, stop=STOP,
                       tools=spec.tools(), vocab=spec.vocab(), max_len=spec.max_seq_len)
    assert fast == slow and [list(g.tokens) for g in fast] == [spec.reference(p) for p in
                                                               prompts]
    # prompts of different lengths, rows ending at different steps
    fast, slow = both_decoders(SUCC, [[3], [1, 2, 0], [4, 4, 4, 4]], max_new_tokens=5, stop=2)
    assert fast == slow


def test_vectorised_decoder_raises_the_interpreters_errors():
    none_late = token_at(2)                                  # None on a sequence of 2 tokens
    fast, slow = both_decoders(none_late, [[1, 2, 3], [1]], max_new_tokens=3)
    assert fast == slow and fast[0] is EvaluationError and "no value (None)" in fast[1]
    boom = rasp.categorical(rasp.Map(lambda x: 1 // (x - 2), rasp.tokens))
    fast, slow = both_decoders(boom, [[1], [2]], max_new_tokens=4)
    assert fast == slow and fast[0] is EvaluationError and "ZeroDivisionError" in fast[1]
    fast, slow = both_decoders(token_at(0), [[1], []], max_new_tokens=2)
    assert fast == slow and fast[0] is InvalidInput
    with pytest.raises(InvalidInput, match="vectorised must be True or False"):
        rasp.generate(SUCC, [1], max_new_tokens=1, vectorised="yes")
