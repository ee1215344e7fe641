"""The looped SUBLEQ computer (issue 16): the machine equals the interpreter after every loop on
random programs and the example programs, in float64 and float32 with the derived λ; sizes
match their sympy formulas; the weights do not depend on the program; bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from theory_kit.constructions import subleq
from theory_kit.errors import InvalidInput, TheoryKitError

DTYPES = (np.float64, np.float32)


def _check_random(s, m, n, N, programs, loops, dtype, seed):
    machine = subleq.build(s=s, m=m, n=n, N=N, dtype=dtype)
    rng = np.random.default_rng(seed)
    progs = [subleq.random_program(rng, m=m, n_instructions=machine.capacity, N=N)
             for _ in range(programs)]
    got = machine.run_batch(progs, loops=loops, trace=True)
    bad = [k for k, ((ins, mem), r) in enumerate(zip(progs, got))
           if (lambda ref: (ref.memories, ref.pcs) != (r.memories, r.pcs))(
               subleq.interpret(ins, mem, loops=loops, N=N, trace=True))]
    assert not bad, f"{len(bad)} of {programs} programs differ from the interpreter, e.g. " \
                    f"{progs[bad[0]]}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_random_programs_exact_every_loop(dtype):
    _check_random(8, 8, 32, 8, programs=100, loops=50, dtype=dtype, seed=16)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
def test_random_programs_exact_every_loop_thorough(dtype):
    _check_random(8, 8, 32, 8, programs=1000, loops=50, dtype=dtype, seed=1600)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
def test_random_programs_exact_larger(dtype):
    _check_random(8, 16, 64, 10, programs=200, loops=60, dtype=dtype, seed=1601)


@pytest.mark.parametrize("spec", subleq.EXAMPLES, ids=lambda s: s[0])
def test_examples_interpreter(spec):
    ex = subleq.example(*spec)
    k = subleq.steps_to_halt(ex.instructions, ex.memory, N=8)
    r = subleq.interpret(ex.instructions, ex.memory, loops=k, N=8)
    assert r.pc == len(ex.instructions)
    assert tuple(r.memory[i] for i in ex.outputs) == ex.expected


@pytest.mark.parametrize("dtype", DTYPES)
def test_examples_machine(dtype):
    machine = subleq.build(s=1, m=16, n=128, N=8, dtype=dtype)
    exs = [subleq.example(*spec) for spec in subleq.EXAMPLES]
    loops = max(subleq.steps_to_halt(e.instructions, e.memory, N=8) for e in exs) + 2
    results = machine.run_batch([(e.instructions, e.memory) for e in exs], loops=loops)
    for e, r in zip(exs, results):
        assert r.pc == len(e.instructions), e.name
        assert tuple(r.memory[i] for i in e.outputs) == e.expected, e.name


def test_run_entry_point_matches_interpreter():
    ex = subleq.example("factorial", 4)
    r = subleq.run(ex.instructions, ex.memory, loops=80, s=1, m=8, n=32, N=8, trace=True)
    ref = subleq.interpret(ex.instructions, ex.memory, loops=80, N=8, trace=True)
    assert (r.memory, r.pc, r.memories, r.pcs) == (ref.memory, ref.pc, ref.memories, ref.pcs)
    assert r.memory[ex.outputs[0]] == 24


def test_weights_identical_for_every_program():
    machine = subleq.build(s=8, m=8, n=32, N=8)
    before = {name: a.copy() for name, a in machine.weights.arrays().items()}
    rng = np.random.default_rng(3)
    for _ in range(3):
        ins, mem = subleq.random_program(rng, m=8, n_instructions=10, N=8)
        assert machine.run(ins, mem, loops=12) == subleq.interpret(ins, mem, loops=12, N=8)
    after = machine.weights.arrays()
    assert before.keys() == after.keys()
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert subleq.build(s=8, m=8, n=32, N=8) is machine  # built once per parameters


@pytest.mark.parametrize("n,N", [(32, 8), (64, 8), (64, 10), (128, 12), (256, 16)])
def test_width_and_depth_formulas(n, N):
    machine = subleq.build(s=4, m=8, n=n, N=N)
    subs = {sp.Symbol("L", positive=True): subleq.address_bits(n),
            sp.Symbol("N", positive=True): N}
    assert int(subleq.width_formula().subs(subs)) == machine.width
    assert int(subleq.width_formula().subs(subs)) <= int(subleq.paper_width_formula().subs(subs))
    assert int(subleq.depth_formula()) == machine.depth == 3
    assert machine.depth < min(subleq.paper_layers().values())


def test_derived_lam():
    lam64, lam32 = subleq.derived_lam(32, 8, np.float64), subleq.derived_lam(32, 8, np.float32)
    assert 5.0 < lam64 < lam32 < 6.0
    bound = subleq.lam_bound()
    L, n, N, u = (sp.Symbol(x, positive=True) for x in ("L", "n", "N", "u"))
    subs = {n: 32, N: 8, L: 5, u: sp.Rational(1, 2 ** 53)}
    eps = bound["eps_target"].subs(subs)
    mass = bound["mass"].subs({**subs, sp.Symbol("lambda", positive=True): lam64})
    assert float(mass) <= float(eps) * (1 + 1e-9)
    with pytest.raises(InvalidInput, match="too many for float32"):
        subleq.derived_lam(32, 24, np.float32)


def test_halted_is_a_fixed_point():
    ins, mem = ((0, 1, 1),), (3, 5)          # one instruction then halt
    r = subleq.run(ins, mem, loops=6, s=1, m=2, n=8, N=4, trace=True)
    assert r.pcs == (0, 1, 1, 1, 1, 1, 1)
    assert r.memories[1:] == ((3, 2),) * 6


def test_bad_input_reports_every_problem():
    with pytest.raises(InvalidInput) as info:
        subleq.run([(0, 9, 0), (1, 0, 7), (0, 1)], [1, 200], loops=3, s=1, m=4, n=16, N=8)
    msg = str(info.value)
    for part in ("b = 9 out of range", "c = 7 out of range", "(0, 1) is not a triple",
                 "memory[1] = 200 is not representable"):
        assert part in msg
    with pytest.raises(TheoryKitError, match="memory has 5 cells"):
        subleq.run([], [0] * 5, loops=1, s=1, m=4, n=16, N=8)
    with pytest.raises(TheoryKitError, match="at most 2"):
        subleq.run([(0, 0, 0)] * 3, [0], loops=1, s=1, m=4, n=8, N=8)
    with pytest.raises(TheoryKitError, match="loops must be"):
        subleq.run([], [0], loops=-1, s=1, m=4, n=8, N=8)
    with pytest.raises(TheoryKitError) as info:
        subleq.build(s=0, m=8, n=8, N=1, lam=-1.0)
    for part in ("s must be", "N must be", "lam must be"):
        assert part in str(info.value)
    with pytest.raises(TheoryKitError, match="n=16 columns cannot hold"):
        subleq.build(s=8, m=8, n=16, N=8)
    with pytest.raises(TheoryKitError, match="not an int"):
        subleq.interpret([(0, 0, "x")], [0.5], loops=1, N=8)


def test_random_program_is_seeded():
    a = subleq.random_program(np.random.default_rng(5), m=4, n_instructions=6, N=8)
    b = subleq.random_program(np.random.default_rng(5), m=4, n_instructions=6, N=8)
    assert a == b
    assert all(-128 <= v < 128 for v in a[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_state_error_does_not_grow(dtype):
    """The write MLP rewrites every persistent bit by steps: after 200 loops the memory bits
    and pc codes are as close to exact as after 1 (a few roundings), and the scratch is 0."""
    machine = subleq.build(s=4, m=8, n=32, N=8, dtype=dtype)
    rng = np.random.default_rng(7)
    x = np.stack([machine.encode(*subleq.random_program(rng, m=8, n_instructions=19, N=8))
                  for _ in range(20)])
    sp_ = machine.space
    state = [i for i, d in enumerate(sp_.basis) if d.label in ("memory", "pc")]
    scratch = [i for i, d in enumerate(sp_.basis) if d.label.startswith("scratch")]
    errors = []
    for loop in range(200):
        x = machine.step(x)
        s = x[..., state]
        errors.append(float(np.abs(s - np.round(s)).max()))
        assert np.abs(x[..., scratch]).max() == 0.0, f"scratch not cleared at loop {loop}"
    tol = 4 * np.finfo(dtype).eps  # measured: 0 in float64, 1 ulp in float32
    assert max(errors) <= tol, (max(errors), tol)


def test_bad_punchcards_and_program_pairs_are_clear_errors():
    machine = subleq.build(s=1, m=4, n=16, N=8)
    with pytest.raises(InvalidInput, match=r"decode: expected finite punchcards"):
        machine.decode(np.zeros((3, 3)))
    with pytest.raises(InvalidInput, match=r"step: expected finite punchcards"):
        machine.step(np.zeros((2, 3)))
    x = machine.encode([(0, 1, 0)], [1, 2])
    with pytest.raises(InvalidInput, match="finite"):
        machine.step(np.where(x == 0, np.nan, x))
    with pytest.raises(InvalidInput, match="cells"):
        machine.decode(x, cells=9)
    with pytest.raises(InvalidInput, match=r"program\(s\) \[1\]"):
        machine.run_batch([([(0, 1, 0)], [1, 2]), 5], loops=1)
    ref = subleq.interpret([(0, 1, 0)], [1, 2], loops=1, N=8)
    assert machine.decode(machine.step(x), cells=2) == (ref.memory, ref.pc)
