"""Tool-using programs (issue 15, item 4): n-digit multiplication by calls to an `add` tool
(theory_kit.library.tools), compiled with compile_generator and checked end to end.

Three oracles agree: the plain-Python reference (`mul_with_add_reference`), the interpreter
(`rasp.generate_batch` with tools; slow on long sequences, so on every prompt of the small
configurations only) and teacher forcing (`rasp.evaluate_vectorised`, causal: the program's
output at every position the model writes, on the reference sequence; by the definition of the
next token this is the oracle's generation, on every prompt). The compiled model's generations
(cached keys and values, the runtime running the tool) equal them token for token, in float64
and float32, and the answer is Python's a * b; the number of calls and tokens is the formula.
"""

from __future__ import annotations

import numpy as np
import pytest

import theory_kit as tk
from theory_kit import rasp
from theory_kit.errors import TheoryKitError, ToolCallError
from theory_kit.generation import CALL, END, END_RESULT, RESULT
from theory_kit.library.tools import (ADD, STOP, calls_sym, make_add_tool,
                                      mul_with_add_spec, n_sym)


def _check_generations(spec, prompts, gens):
    for p, g in zip(prompts, gens):
        ref = spec.reference(p)
        assert list(g.tokens) == ref, p
        assert g.stopped and spec.read_answer(g.model_tokens) == spec.answer(p), p
        assert len(g.calls) == spec.calls_at(p) and len(g.tokens) == spec.tokens_at(p)
        assert len(g.model_tokens) == spec.tokens_at(p, model_only=True)
        assert all(c.name == ADD and c.result == tuple(make_add_tool(spec.base)(*c.args))
                   for c in g.calls)


def _teacher_forced_mismatches(spec, prompts):
    """Prompts where the program's causal output differs from the reference at a position
    whose next token the model writes (result blocks are the runtime's)."""
    refs = [spec.reference(p) for p in prompts]
    outs = rasp.evaluate_vectorised(spec.build(), [p + r[:-1] for p, r in zip(prompts, refs)],
                                    causal=True)
    bad = []
    for p, r, o in zip(prompts, refs, outs):
        inside = False
        for i, tok in enumerate(r):
            if not inside and o[len(p) - 1 + i] != tok:
                bad.append(p)
                break
            inside = tok == END or (inside and tok != END_RESULT)
    return bad


def test_reference_and_formulas():
    spec = mul_with_add_spec(2)
    p = [4, 7, "*", 0, 3, "="]                        # 47 * 03: digit 0 adds 47 three times,
    ref = spec.reference(p)                           # digit 1 (b_1 = 0) once adds zero
    assert spec.calls_at(p) == 4 and spec.answer(p) == 141
    assert ref[:13] == [(0, 1), CALL, ADD, 0, 0, 0, 0, 0, 0, 4, 7, END, RESULT]
    assert ref[-5:] == [0, 1, 4, 1, STOP] and spec.read_answer(ref) == 141
    assert len(ref) == spec.tokens_at(p) == 4 * 18 + 5
    assert spec.tokens_in_calls.free_symbols == {n_sym, calls_sym}
    assert spec.max_seq_len == 6 + 18 * 18 + 5 and spec.max_new_tokens == 18 * 12 + 5
    assert mul_with_add_spec(3, 2).calls_at([1, 0, 1, "*", 1, 0, 0, "="]) == 3  # base 2: n calls


def test_add_tool():
    add = make_add_tool(10)
    assert add(0, 4, 0, 7) == [1, 1] and add(4, 5) == [9]
    with pytest.raises(ValueError, match="does not fit in 1 digits"):
        add(9, 9)
    with pytest.raises(ValueError, match="same digit count"):
        add(1, 2, 3)
    with pytest.raises(ValueError, match="'x' is not a base-10 digit"):
        add("x", 1)


#: (n, base, prompts): the interpreter re-evaluates the whole sequence for every token (about
#: 1 s a prompt of base 10), so the default run takes a few prompts; the slow suite more.
INTERPRETER = [(1, 2, None), (1, 10, [[3, "*", 2, "="], [9, "*", 1, "="], [0, "*", 0, "="]])]
INTERPRETER_SLOW = [(1, 3, None), (2, 2, None), (1, 10, "every 7th"), (3, 2, "every 9th")]


def _interpreter_check(n, base, which):
    spec = mul_with_add_spec(n, base)
    prompts = list(spec.prompts())
    if isinstance(which, str):
        prompts = prompts[::int(which.split()[1][:-2])]
    elif which is not None:
        prompts = which
    gens = rasp.generate_batch(spec.build(), prompts, max_new_tokens=spec.max_new_tokens,
                               stop=STOP, tools=spec.tools(), vocab=spec.vocab(),
                               max_len=spec.max_seq_len)
    _check_generations(spec, prompts, gens)


@pytest.mark.parametrize("n,base,which", INTERPRETER)
def test_interpreter_generation_equals_the_reference(n, base, which):
    _interpreter_check(n, base, which)


@pytest.mark.slow
@pytest.mark.parametrize("n,base,which", INTERPRETER_SLOW)
def test_slow_interpreter_generation_equals_the_reference(n, base, which):
    _interpreter_check(n, base, which)


@pytest.mark.parametrize("n,base", [(1, 10), (2, 3), (4, 2)])
def test_teacher_forced_oracle_on_every_prompt(n, base):
    spec = mul_with_add_spec(n, base)
    assert _teacher_forced_mismatches(spec, list(spec.prompts())) == []


def _compile(spec, dtype, prompts=None, verify=None):
    return tk.compile_generator(spec.build(), vocab=set(spec.vocab()),
                                max_seq_len=spec.max_seq_len, stop=STOP, tools=spec.tools(),
                                max_new_tokens=spec.max_new_tokens, verify=verify,
                                prompts=prompts, dtype=dtype)


def _compiled_check(n, base, dtype, verified):
    spec = mul_with_add_spec(n, base)
    prompts = list(spec.prompts())
    # verified against rasp.generate_batch (with the tool) on `verified` prompts at compile
    model = _compile(spec, dtype, prompts=verified, verify="auto")
    assert model.verified_inputs == len(verified)
    gens = model.generate(prompts, max_new_tokens=spec.max_new_tokens, stop=STOP,
                          tools=spec.tools())
    _check_generations(spec, prompts, gens)
    assert _teacher_forced_mismatches(spec, prompts) == []
    summary = model.summary()
    assert summary["layers"] == 7 and sum(h > 0 for h in summary["heads"]) == 3


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_compiled_generation_on_every_prompt(dtype):
    """base 10, one digit: all 100 prompts."""
    _compiled_check(1, 10, dtype, [[3, "*", 2, "="], [7, "*", 1, "="]])


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("n", [2, 3, 4])
def test_slow_compiled_binary_on_every_prompt(n, dtype):
    _compiled_check(n, 2, dtype, [[1] * n + ["*"] + [1] * n + ["="]])


def test_depth_does_not_grow_with_the_digits():
    shapes = {(m.summary()["layers"], tuple(m.summary()["heads"]))
              for m in (_compile(mul_with_add_spec(n, b), np.float64) for n, b in
                        [(1, 2), (2, 2), (3, 2), (1, 10), (2, 10)])}
    assert len(shapes) == 1, shapes


# -- bad protocol input through a compiled model: clear errors, no partial state ---------------
@pytest.fixture(scope="module")
def compiled():
    spec = mul_with_add_spec(1, 10)
    return spec, _compile(spec, np.float64)


@pytest.mark.parametrize("tools,match", [
    ({"sub": make_add_tool(10)}, r"unknown tool 'add' \(known: 'sub'\)"),
    ({ADD: lambda *d: 1 / 0}, r"tool 'add' raised ZeroDivisionError"),
    ({ADD: lambda *d: [0, 42]}, r"returned .*42 is not in the vocabulary"),
    ({ADD: lambda *d: [0, RESULT]}, r"protocol token"),
    ({ADD: lambda *d: [None]}, r"None is not a token"),
])
def test_compiled_tool_errors(compiled, tools, match):
    spec, model = compiled
    prompts = [[3, "*", 2, "="], [7, "*", 9, "="]]
    saved = [list(p) for p in prompts]
    with pytest.raises(ToolCallError, match=match) as info:
        model.generate(prompts, max_new_tokens=spec.max_new_tokens, stop=STOP, tools=tools)
    assert isinstance(info.value, TheoryKitError) and info.value.row == 0
    assert prompts == saved
    # nothing partial survives: the same model then generates the reference
    good = model.generate(prompts, max_new_tokens=spec.max_new_tokens, stop=STOP,
                          tools=spec.tools())
    _check_generations(spec, prompts, good)


def test_compiled_malformed_calls(compiled):
    spec, model = compiled
    # the model writes END at offset 3 + 2W = 7 of a period (here the prompt's positions
    # 4..10): a CALL right before it has no tool name, and without a CALL the END has none
    with pytest.raises(ToolCallError, match="malformed call.*no tool name") as info:
        model.generate([[3, "*", 2, "=", (0, 1), 0, ADD, 0, 0, 0, CALL]], max_new_tokens=5,
                       stop=STOP, tools=spec.tools())
    assert info.value.position == 11
    # the model writes END at offset 3 + 2W of a period: here the CALL before it is missing
    with pytest.raises(ToolCallError, match="without a CALL"):
        model.generate([[3, "*", 2, "=", (0, 1), 0, ADD, 0, 0, 0, 3]], max_new_tokens=3,
                       stop=STOP, tools=spec.tools())


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_slow_compiled_generation(dtype):
    """base 2, n = 5 (every one of 1,024 prompts) and base 10, n = 2 (2,000 random of the 10,000
    prompts; the compiled generations take about 0.25 s a prompt)."""
    for n, base, prompts in [(5, 2, None), (2, 10, 2000)]:
        spec = mul_with_add_spec(n, base)
        xs = list(spec.prompts()) if prompts is None else spec.sample(prompts, seed=0)
        model = _compile(spec, dtype, prompts=xs[:3], verify="auto")
        gens = model.generate(xs, max_new_tokens=spec.max_new_tokens, stop=STOP,
                              tools=spec.tools())
        _check_generations(spec, xs, gens)
        assert _teacher_forced_mismatches(spec, xs) == []


@pytest.mark.slow
def test_slow_teacher_forced_oracle_base10_two_digits():
    spec = mul_with_add_spec(2, 10)
    assert _teacher_forced_mismatches(spec, list(spec.prompts())) == []
