"""SUBLEQ as a looped RASP program (issue 16, item 6): the RASP interpreter and the compiled
weight-shared looped model equal the SUBLEQ interpreter (`subleq.interpret`) on random
programs, after the loop and after every iteration; the comparison with the hand-built
machine reports both exact."""

from __future__ import annotations

import numpy as np
import pytest

from theory_kit import rasp
from theory_kit.compiler.looped import verify_loop
from theory_kit.constructions import subleq
from theory_kit.constructions import subleq_rasp as sr
from theory_kit.errors import InvalidInput
from theory_kit.rasp.loops import Loop
from theory_kit.rasp.tree import topological_order

M, K, N, LOOPS = 4, 4, 3, 8


def _programs(count, seed, m=M, k=K, n_bits=N):
    rng = np.random.default_rng(seed)
    return [subleq.random_program(rng, m=m, n_instructions=k, N=n_bits) for _ in range(count)]


def _want(progs, loops=LOOPS, n_bits=N):
    return [(tuple(r.memory), r.pc) for r in
            (subleq.interpret(i, mem, loops=loops, N=n_bits) for i, mem in progs)]


@pytest.fixture(scope="module")
def compiled():
    # compile's own verification: 100 seeded token sequences from the whole vocabulary
    return sr.compile_subleq(m=M, k=K, N=N, loops=LOOPS, sample_size=100, seed=1)


def test_rasp_interpreter_equals_subleq_interpreter():
    prog = sr.make_subleq_loop(m=M, k=K, N=N, loops=LOOPS)
    progs = _programs(200, 0)
    outs = rasp.evaluate_batch(prog, [sr.encode(i, mem, m=M, k=K) for i, mem in progs])
    assert [sr.decode(o, m=M) for o in outs] == _want(progs)


def test_compiled_model_equals_subleq_interpreter_after_the_loop(compiled):
    assert compiled.weights.loop is not None
    assert compiled.weights.loop.max_iterations == LOOPS
    progs = _programs(300, 1)
    assert sr.run_compiled(compiled, progs, m=M, k=K) == _want(progs)


def test_compiled_state_after_every_iteration(compiled):
    # the model's state after every iteration = the RASP interpreter's (verify_loop) = SUBLEQ's
    progs = _programs(120, 2)
    xss = [sr.encode(i, mem, m=M, k=K) for i, mem in progs]
    loop_node = next(x for x in topological_order(compiled.program) if isinstance(x, Loop))
    checked, _ = verify_loop(compiled, compiled.program, loop_node, xss)
    assert checked == len(xss)
    for (ins, mem), trace in zip(progs, compiled.loop_traces(xss)):
        want = subleq.interpret(ins, mem, loops=LOOPS, N=N, trace=True)
        for it in range(LOOPS + 1):
            state = trace.states[min(it, trace.iterations)]
            assert tuple(state[0][:M]) == want.memories[it]
            assert set(state[1]) == {want.pcs[it]}
        assert trace.halted == (want.pc == K)


def test_short_programs_are_padded_with_halt():
    prog = sr.make_subleq_loop(m=M, k=K, N=N, loops=LOOPS)
    rng = np.random.default_rng(4)
    for _ in range(100):
        ins, mem = subleq.random_program(rng, m=3, n_instructions=2, N=N)  # c = 2: halt
        got = sr.decode(prog(sr.encode(ins, mem, m=M, k=K)), m=M, n_instructions=len(ins))
        r = subleq.interpret(ins, mem, loops=LOOPS, N=N)
        assert got == (r.memory + (0,), r.pc)


def test_compare_rows():
    auto, hand = sr.compare(m=2, k=2, N=2, programs=40, min_time=0.0, verify=None)
    assert auto["exact"] == hand["exact"] == 1.0
    assert hand["width"] == int(subleq.width_formula().subs(
        {sp: v for sp, v in zip(sorted(subleq.width_formula().free_symbols, key=str),
                                (subleq.address_bits(hand["n_columns"]), 2))}))
    assert auto["layers_per_instruction"] >= hand["layers_per_instruction"] == 3
    for row in (auto, hand):
        assert row["params"] >= row["params_nonzero"] > 0 and row["programs_per_s"] > 0


def test_bad_sizes_are_refused():
    with pytest.raises(InvalidInput, match="m must be"):
        sr.make_subleq_loop(m=0, k=2, N=3, loops=2)
    with pytest.raises(InvalidInput, match="do not fit"):
        sr.encode([(0, 0, 0)] * 3, [0], m=1, k=2)


@pytest.mark.slow
@pytest.mark.parametrize("m, k, n_bits, dtype", [(4, 4, 3, np.float32), (4, 6, 4, np.float64),
                                                 (4, 6, 4, np.float32)])
def test_acceptance_larger_and_float32(m, k, n_bits, dtype):
    loops = 2 * k
    model = sr.compile_subleq(m=m, k=k, N=n_bits, loops=loops, dtype=dtype, sample_size=500)
    progs = _programs(1000, 3, m, k, n_bits)
    assert sr.run_compiled(model, progs, m=m, k=k) == _want(progs, loops, n_bits)
