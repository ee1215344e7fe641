"""theory_kit.generation: the generation / tool-call / tape protocol with plain-Python decoders
(the RASP oracle's tests are in tests/rasp/test_generate.py)."""

from __future__ import annotations

import pytest

from theory_kit.errors import (GenerationError, InvalidInput, MachineError, TheoryKitError,
                               ToolCallError)
from theory_kit.generation import (CALL, END, END_RESULT, MOVES, PROTOCOL_TOKENS, RESULT,
                                   Generation, MachineRun, MachineStep, ToolCall, generate_with,
                                   run_machine, run_machines, simulate_machine)


class FnDecoder:
    """next token = f(whole sequence); records every call (to check batching)."""

    def __init__(self, f):
        self.f = f
        self.seqs: list[list] = []
        self.log: list = []

    def start(self, prompts):
        self.log.append(("start", len(prompts)))
        self.seqs = [list(p) for p in prompts]
        return [self.f(s) for s in self.seqs]

    def extend(self, rows, appended):
        self.log.append(("extend", list(rows), [list(a) for a in appended]))
        for r, a in zip(rows, appended):
            self.seqs[r].extend(a)
        return [self.f(self.seqs[r]) for r in rows]


def succ_mod5(seq):
    return (seq[-1] + 1) % 5


# -- generation -------------------------------------------------------------------------------
def test_next_token_generation_batched_with_stop_and_budget():
    prompts = [[3], [1, 2], [0, 0, 4]]
    out = generate_with(FnDecoder(succ_mod5), prompts, max_new_tokens=7, stop=0)
    assert [g.tokens for g in out] == [(4, 0), (3, 4, 0), (0,)]
    assert all(g.stopped and g.reason == "stop" for g in out)
    assert [g.prompt for g in out] == [tuple(p) for p in prompts]
    out = generate_with(FnDecoder(succ_mod5), prompts, max_new_tokens=3)
    for p, g in zip(prompts, out):
        assert g.tokens == tuple((p[-1] + i) % 5 for i in range(1, 4))
        assert g.generated == (True,) * 3 and not g.stopped and g.reason == "max_new_tokens"
        assert g.sequence == tuple(p) + g.tokens and g.model_tokens == g.tokens


def test_stop_sets_and_typed_tokens():
    dec = FnDecoder(succ_mod5)
    [g] = generate_with(dec, [[0]], max_new_tokens=9, stop={3, 4})
    assert g.tokens == (1, 2, 3) and g.stopped
    # 2.0 is not the token 2 (values are compared with their types), and a tuple is one token
    [g] = generate_with(FnDecoder(succ_mod5), [[0]], max_new_tokens=4, stop=[2.0, (2, 3)])
    assert g.tokens == (1, 2, 3, 4) and not g.stopped


def test_zero_budget_and_max_len_do_not_call_the_decoder_needlessly():
    dec = FnDecoder(succ_mod5)
    [g] = generate_with(dec, [[1, 2]], max_new_tokens=0)
    assert g.tokens == () and g.reason == "max_new_tokens" and dec.log == []
    out = generate_with(dec, [[1, 2], [1]], max_new_tokens=5, max_len=2)
    assert [g.tokens for g in out] == [(), (2,)] and {g.reason for g in out} == {"max_len"}
    assert dec.log[0] == ("start", 1)


def test_finished_rows_are_not_extended():
    dec = FnDecoder(succ_mod5)
    generate_with(dec, [[3], [0]], max_new_tokens=5, stop=0)
    # row 0 stops after one token (4, then 0); row 1 runs on alone
    extends = [e for e in dec.log if e[0] == "extend"]
    assert extends[0][1] == [0, 1] and all(e[1] == [1] for e in extends[1:])


# -- tool calls -------------------------------------------------------------------------------
def mul_decoder_fn(seq):
    """A scripted 'model' for a * b (prompt [a, "*", b, "="]): call add(acc, a) b times, then
    write the answer and '.'; the next token depends on the offset after '=' (8 per call)."""
    a, b = seq[0], seq[2]
    c, j = divmod(len(seq) - 1 - 3, 8)
    if j == 0:
        return CALL if c < b else (seq[-2] if c > 0 else 0)  # seq[-2]: the last result
    if j == 1:
        return "add" if c < b else "."
    if j == 2:
        return seq[-4] if c > 0 else 0
    if j == 3:
        return a
    if j == 4:
        return END
    raise AssertionError(f"the model was asked inside a result block: {seq}")


class ScriptDecoder:
    """Writes `script` token by token in every row."""

    def __init__(self, script):
        self.script = script

    def start(self, prompts):
        self.i = [0] * len(prompts)
        return [self._next(r) for r in range(len(prompts))]

    def extend(self, rows, appended):
        return [self._next(r) for r in rows]

    def _next(self, row):
        self.i[row] += 1
        return self.script[self.i[row] - 1]


def mul_transcript(a, b):
    out, acc = [], 0
    for _ in range(b):
        out += [CALL, "add", acc, a, END, RESULT, acc + a, END_RESULT]
        acc += a
    return out + [acc, "."]


def test_tool_calls_end_to_end_against_python():
    prompts = [[a, "*", b, "="] for a, b in [(3, 2), (5, 0), (2, 4), (7, 1)]]
    dec = FnDecoder(mul_decoder_fn)
    out = generate_with(dec, prompts, max_new_tokens=60, stop=".",
                        tools={"add": lambda x, y: x + y})
    for p, g in zip(prompts, out):
        a, b = p[0], p[2]
        assert list(g.tokens) == mul_transcript(a, b)
        assert g.model_tokens[-2] == a * b and g.stopped
        assert [c.name for c in g.calls] == ["add"] * b
        assert [c.args for c in g.calls] == [(a * i, a) for i in range(b)]
        assert [c.result for c in g.calls] == [(a * (i + 1),) for i in range(b)]
        for c in g.calls:
            seq = g.sequence
            assert seq[c.start] == CALL and seq[c.position] == END
            assert seq[c.position + 1] == RESULT and seq[c.position + 3] == END_RESULT
        # runtime tokens are flagged, and do not count toward max_new_tokens
        assert sum(g.generated) == 5 * b + 2 and len(g.tokens) == 8 * b + 2
    # one extend per tool call carries END and the whole result block
    extends = [e for e in dec.log if e[0] == "extend"]
    assert any([END, RESULT, 6, END_RESULT] in e[2] for e in extends)
    assert not any([RESULT] in e[2] for e in extends)


def test_tool_results_lists_and_calls_started_in_the_prompt():
    def model(seq):
        return "." if seq[-1] == END_RESULT else END
    [g] = generate_with(FnDecoder(model), [[CALL, "split", 12]], max_new_tokens=5, stop=".",
                        tools={"split": lambda x: [x // 10, x % 10]})
    assert g.tokens == (END, RESULT, 1, 2, END_RESULT, ".")
    assert g.calls == (ToolCall("split", (12,), (1, 2), 0, 3),)
    # the last CALL opens the call; an empty list is an empty result; a tuple is one token
    tools = {"pair": lambda: (1, 2), "none": lambda: []}
    [g] = generate_with(FnDecoder(model), [[CALL, "pair", CALL, "none"]], max_new_tokens=5,
                        stop=".", tools=tools)
    assert g.tokens == (END, RESULT, END_RESULT, ".") and g.calls[0].name == "none"
    [g] = generate_with(FnDecoder(model), [[CALL, "pair"]], max_new_tokens=5, stop=".",
                        tools=tools)
    assert g.tokens == (END, RESULT, (1, 2), END_RESULT, ".")


def test_tools_none_makes_protocol_tokens_ordinary():
    [g] = generate_with(FnDecoder(lambda s: END), [[1]], max_new_tokens=2)
    assert g.tokens == (END, END) and g.calls == ()


def test_max_new_tokens_counts_model_tokens_only_and_max_len_bounds_everything():
    def model(seq):
        return {CALL: "id", "id": 7, 7: END}.get(seq[-1], CALL)
    tools = {"id": lambda x: [x, x, x]}
    [g] = generate_with(FnDecoder(model), [[0]], max_new_tokens=4, tools=tools)
    assert g.tokens == (CALL, "id", 7, END, RESULT, 7, 7, 7, END_RESULT)  # END ran its call
    assert g.reason == "max_new_tokens"
    [g] = generate_with(FnDecoder(model), [[0]], max_new_tokens=40, tools=tools, max_len=12)
    assert len(g.sequence) == 12 and g.reason == "max_len"
    with pytest.raises(ToolCallError, match="does not fit in max_len=8") as info:
        generate_with(FnDecoder(model), [[0]], max_new_tokens=40, tools=tools, max_len=8)
    assert info.value.position == 5


# -- errors -----------------------------------------------------------------------------------
MUL = {"add": lambda x, y: x + y}


def _raises(exc, match, decoder, prompts, **kw):
    prompts_copy = [list(p) for p in prompts]
    if not hasattr(decoder, "start"):
        decoder = FnDecoder(decoder)
    with pytest.raises(exc, match=match) as info:
        generate_with(decoder, prompts, **kw)
    assert prompts == prompts_copy  # the caller's inputs are untouched
    assert isinstance(info.value, TheoryKitError)
    return info.value


def test_unknown_tool():
    err = _raises(ToolCallError, r"unknown tool 'add' \(known: 'sub'\)", mul_decoder_fn,
                  [[2, "*", 1, "="], [3, "*", 2, "="]], max_new_tokens=30,
                  tools={"sub": lambda x, y: x - y})
    assert (err.row, err.position, err.value) == (0, 5, "add")


def test_end_without_call_and_malformed_call():
    err = _raises(ToolCallError, "END '</call>' without a CALL", lambda s: END, [[1]],
                  max_new_tokens=3, tools=MUL)
    assert (err.row, err.position) == (0, 1)
    # an END right after an answered call has no CALL either
    err = _raises(ToolCallError, "END at position 9: END '</call>' without a CALL",
                  ScriptDecoder([CALL, "add", 1, 2, END, END]), [[0]], max_new_tokens=9,
                  tools=MUL)
    assert err.position == 9
    err = _raises(ToolCallError, "malformed call.*no tool name",
                  lambda s: END if s[-1] == CALL else CALL, [[1]], max_new_tokens=3, tools=MUL)
    assert err.position == 2


def test_a_raising_tool_is_wrapped_and_chained():
    err = _raises(ToolCallError, r"tool 'add' raised ZeroDivisionError.*\(0, 3\)",
                  mul_decoder_fn, [[3, "*", 2, "="]], max_new_tokens=30,
                  tools={"add": lambda x, y: y / x})
    assert isinstance(err.__cause__, ZeroDivisionError) and err.value == (0, 3)


def test_bad_results():
    vocab = set(range(20)) | {"*", "=", ".", "add"} | set(PROTOCOL_TOKENS)
    err = _raises(ToolCallError, "returned 999.*999 is not in the vocabulary", mul_decoder_fn,
                  [[3, "*", 2, "="]], max_new_tokens=30, vocab=vocab,
                  tools={"add": lambda x, y: 999})
    assert (err.value, err.position) == (999, 10)
    _raises(ToolCallError, r"\[1\] is unhashable", mul_decoder_fn, [[3, "*", 2, "="]],
            max_new_tokens=30, tools={"add": lambda x, y: [[1]]})
    _raises(ToolCallError, "None is not a token", mul_decoder_fn, [[3, "*", 2, "="]],
            max_new_tokens=30, tools={"add": lambda x, y: None})
    _raises(ToolCallError, "protocol token", mul_decoder_fn, [[3, "*", 2, "="]],
            max_new_tokens=30, tools={"add": lambda x, y: [END_RESULT]})


def test_bad_decoder_tokens():
    err = _raises(GenerationError, r"position 2 is invalid: \[5\] is unhashable",
                  lambda s: [5] if len(s) == 2 else 1, [[0]], max_new_tokens=4)
    assert (err.row, err.position, err.value) == (0, 2, [5])
    _raises(GenerationError, "None is not a token", lambda s: None, [[0]], max_new_tokens=1)
    _raises(GenerationError, "nan is not finite", lambda s: float("nan"), [[0]],
            max_new_tokens=1)
    err = _raises(GenerationError, "next token 7 at position 3 is not in the vocabulary",
                  lambda s: len(s) * 2 + 1, [[0], [0, 0]], max_new_tokens=4, vocab=range(6))
    assert err.row == 1

    class Short(FnDecoder):
        def start(self, prompts):
            return []
    with pytest.raises(GenerationError, match="list of 1 next token"):
        generate_with(Short(succ_mod5), [[1]], max_new_tokens=2)


def test_arguments_are_validated_all_at_once():
    with pytest.raises(InvalidInput) as info:
        generate_with(FnDecoder(succ_mod5), [[1, [2]], [], [3, 9]], max_new_tokens=-1,
                      stop=[[0]], tools={"f": 3}, vocab={1, 2, 3})
    msg = str(info.value)
    for part in ["prompts[0][1]: [2] is unhashable", "prompts[1]: is empty", "max_new_tokens",
                 "stop: [0] is unhashable", "tools['f']: is not callable",
                 "prompts[2]: tokens [9] are not in the vocabulary", "lacks the result tokens"]:
        assert part in msg
    with pytest.raises(InvalidInput, match="decoder must have start"):
        generate_with(succ_mod5, [[1]], max_new_tokens=1)
    with pytest.raises(InvalidInput, match="prompts: must be a list"):
        generate_with(FnDecoder(succ_mod5), "abc", max_new_tokens=1)
    with pytest.raises(InvalidInput, match="has 3 tokens, more than max_len=2"):
        generate_with(FnDecoder(succ_mod5), [[1, 2, 3]], max_new_tokens=1, max_len=2)


def test_record_invariants():
    with pytest.raises(InvalidInput, match="generated has 1 flags for 2 tokens"):
        Generation((1,), (2, 3), (True,), False)
    with pytest.raises(InvalidInput, match="contradicts"):
        Generation((1,), (2,), (True,), True, (), "max_len")
    with pytest.raises(InvalidInput, match="start < position"):
        ToolCall("f", (), (), 3, 3)
    with pytest.raises(InvalidInput, match="head=5 is not an index"):
        MachineRun((0, 1), 0, 5, "A", 0, False)
    with pytest.raises(InvalidInput, match="trace must be a tuple of 1 steps"):
        MachineRun((0,), 0, 0, "A", 1, False, ())


# -- external memory --------------------------------------------------------------------------
#: The 4-state 2-symbol busy beaver champion (A. H. Brady, "The determination of the value of
#: Rado's noncomputable function Sigma(k) for four-state Turing machines", Math. Comp. 40
#: (1983) 647-665): from a blank tape it halts after 107 steps leaving 13 ones.
BB4 = {("A", 0): (1, "R", "B"), ("A", 1): (1, "L", "B"), ("B", 0): (1, "L", "A"),
       ("B", 1): (0, "L", "C"), ("C", 0): (1, "R", "H"), ("C", 1): (1, "L", "D"),
       ("D", 0): (1, "R", "D"), ("D", 1): (0, "R", "A")}
#: The 2-state busy beaver (Rado 1962): 6 steps, 4 ones.
BB2 = {("A", 0): (1, "R", "B"), ("A", 1): (1, "L", "B"), ("B", 0): (1, "L", "A"),
       ("B", 1): (1, "R", "H")}


class TableDecoder:
    """A plain-Python transition decoder: prompt [(state, symbol)] -> table entry."""

    def __init__(self, table):
        self.table = table
        self.calls = 0

    def start(self, prompts):
        self.calls += 1
        return [self.table[p[-1]] for p in prompts]

    def extend(self, rows, appended):  # never used: the machine's context does not grow
        raise AssertionError("run_machine must not extend")


def test_busy_beavers_simulated():
    run = simulate_machine(BB4, [], state="A", steps=1000, halt="H", trace=True)
    assert (run.steps, run.tape.count(1), run.halted, run.state) == (107, 13, True, "H")
    assert run.trace[0] == MachineStep(0, "A", 0, 0, 1, 1, "B")
    run2 = simulate_machine(BB2, [0], state="A", steps=100, halt={"H"})
    assert (run2.steps, run2.tape.count(1), run2.halted) == (6, 4, True)


@pytest.mark.parametrize("table,steps", [(BB4, 107), (BB2, 6)])
def test_busy_beaver_through_the_protocol_equals_the_simulator(table, steps):
    ref = simulate_machine(table, [], state="A", steps=500, halt="H", trace=True)
    dec = TableDecoder(table)
    run = run_machine(dec, [], state="A", steps=500, halt="H", alphabet={0, 1}, trace=True)
    assert run == ref and run.steps == steps and dec.calls == steps
    # a plain step function works too, and stopping early gives the prefix of the trace
    run = run_machine(lambda p: table[p[0]], [], state="A", steps=50, halt="H", alphabet={0, 1},
                      trace=True)
    assert run.trace == ref.trace[:min(50, steps)]
    assert run == simulate_machine(table, [], state="A", steps=50, halt="H", trace=True)


def test_batched_machines_and_tape_bookkeeping():
    tapes = [[], [1, 1, 0, 1], [0, 0, 1]]
    runs = run_machines(TableDecoder(BB4), tapes, state="A", steps=300, halt="H",
                        alphabet=[0, 1], trace=True)
    for tape, run in zip(tapes, runs):
        ref = simulate_machine(BB4, tape, state="A", steps=300, halt="H", trace=True)
        assert run == ref and run.position == run.head - run.origin
    # head starts off the given tape: the tape grows to include it
    for head in (-3, 5):
        ref = simulate_machine(BB4, [1], state="A", steps=20, halt="H", head=head)
        assert run_machine(TableDecoder(BB4), [1], state="A", steps=20, halt="H",
                           alphabet={0, 1}, head=head) == ref
    # a machine that starts halted runs no step
    run = run_machine(TableDecoder(BB4), [1], state="H", steps=20, halt="H", alphabet={0, 1})
    assert run.steps == 0 and run.halted and run.tape == (1,)


def test_moves_in_every_spelling():
    assert dict(MOVES) == {-1: -1, 0: 0, 1: 1, "L": -1, "N": 0, "R": 1}
    table = {("a", 0): (2, 1, "b"), ("b", 0): (3, "N", "c"), ("c", 3): (4, -1, "d"),
             ("d", 2): (5, "L", "e")}
    run = simulate_machine(table, [], state="a", steps=10, halt="e", blank=0)
    assert run.tape == (0, 5, 4) and run.position == -1 and run.origin == 1
    assert run_machine(lambda p: table[p[0]], [], state="a", steps=10, halt="e",
                       alphabet=range(6)) == run


#: A binary counter: the bits left of '#', least significant next to it. "inc" carries left
#: over ones; "ret" walks back right to '#'. Increment v -> v + 1 takes 2 t + 2 steps, t the
#: number of trailing ones of v.
COUNTER = {("inc", 1): (0, "L", "inc"), ("inc", 0): (1, "R", "ret"),
           ("ret", 0): (0, "R", "ret"), ("ret", 1): (1, "R", "ret"),
           ("ret", "#"): ("#", "L", "inc")}


def counter_steps(k):
    def trailing_ones(v):
        t = 0
        while v & 1:
            v, t = v >> 1, t + 1
        return t
    return sum(2 * trailing_ones(v) + 2 for v in range(k))


def counter_value(run):
    bits = run.tape[:run.tape.index("#")]
    return int("".join(map(str, bits)), 2)


def test_binary_counter_machine():
    k = 300
    steps = counter_steps(k)
    run = run_machine(lambda p: COUNTER[p[0]], [0, "#"], state="inc", steps=steps,
                      alphabet={0, 1, "#"})
    assert run.steps == steps and run.state == "inc" and counter_value(run) == k
    assert run == simulate_machine(COUNTER, [0, "#"], state="inc", steps=steps)


def test_machine_errors():
    tape = [0, 1]
    with pytest.raises(InvalidInput) as info:
        run_machine(TableDecoder(BB4), tape + [2, "x"], state="A", steps=-1, alphabet={0, 1},
                    blank=7, halt=[[1]])
    msg = str(info.value)
    for part in ["tape[2]: symbol 2 is not in the alphabet", "tape[3]: symbol 'x'",
                 "blank: 7 is not in the alphabet", "steps: must be an int >= 0", "halt"]:
        assert part in msg
    with pytest.raises(InvalidInput, match=r"tapes\[1\]\[0\]"):
        run_machines(TableDecoder(BB4), [[0], [True]], state="A", steps=3, alphabet={0, 1})

    def bad(token, when=3):  # a step function that goes wrong at step `when`
        count = [0]

        def step(prompt):
            count[0] += 1
            return token if count[0] == when + 1 else BB4[prompt[0]]
        return step
    with pytest.raises(MachineError, match=r"step 3 .*output 'R' is not a transition") as info:
        run_machine(bad("R"), tape, state="A", steps=50, alphabet={0, 1})
    assert (info.value.step, info.value.value) == (3, "R")
    with pytest.raises(MachineError, match=r"move 'X', not one of") as info:
        run_machine(bad((1, "X", "A")), tape, state="A", steps=50, alphabet={0, 1})
    assert info.value.value == "X"
    with pytest.raises(MachineError, match="move True"):  # True == 1, but it is not a move
        run_machine(bad((1, True, "A")), tape, state="A", steps=50, alphabet={0, 1})
    with pytest.raises(MachineError, match="writes symbol 2: it is not in the alphabet") as info:
        run_machine(bad((2, "R", "A")), tape, state="A", steps=50, alphabet={0, 1})
    assert (info.value.row, info.value.value) == (0, 2)
    with pytest.raises(MachineError, match="next state None"):
        run_machine(bad((1, "R", None)), tape, state="A", steps=50, alphabet={0, 1})
    with pytest.raises(MachineError, match=r"machine 1, step 0 .*output '\?' is not a trans"):
        run_machines(lambda p: BB4.get(p[0], "?"), [[0], [5]], state="A", steps=5,
                     alphabet={0, 1, 5})
    assert tape == [0, 1]  # untouched
    with pytest.raises(MachineError, match=r"no transition for \('A', 5\)"):
        simulate_machine(BB4, [5], state="A", steps=5)
    with pytest.raises(InvalidInput, match="expected a Decoder or a callable"):
        run_machine(3, [0], state="A", steps=1, alphabet={0})
