"""The looped FLEQ computer (issue 16, item 5): the program counter equals the interpreter's
after every loop; every instruction's written value is within its derived tolerance of the
exact function applied to the machine's own operands; Newton's matrix inverse run on the machine
matches numpy; the RASP block runs the compiled model's weights; sizes match their formulas;
the weights do not depend on the program; bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from theory_kit.constructions import fleq
from theory_kit.constructions.subleq import _layer, address_bits
from theory_kit.errors import InvalidInput, TheoryKitError

DTYPES = (np.float64, np.float32)


def _valid_programs(machine, count, loops, seed):
    """`count` seeded random programs that stay in the machine's domain for `loops` loops
    (rejection sampling: `interpret` refuses the others), with their reference traces."""
    rng = np.random.default_rng(seed)
    progs, refs = [], []
    while len(progs) < count:
        ins, mem = fleq.random_program(rng, m=machine.m, n_instructions=machine.capacity,
                                       k=machine.k, functions=machine.functions)
        try:
            refs.append(fleq.interpret(ins, mem, loops=loops, k=machine.k, R=machine.R,
                                       trace=True))
        except InvalidInput:
            continue
        progs.append((ins, mem))
    return progs, refs


def _local_errors(machine, program, result):
    """Per executed loop: |written value - f(machine's own operands)| / tolerance(f); every
    other entry must be unchanged bit for bit."""
    instrs, _ = fleq._check_program(*program, k=machine.k, R=machine.R,
                                    functions=machine.functions)
    ratios = []
    for t in range(len(result.pcs) - 1):
        pc = result.pcs[t]
        before, after = result.memories[t], result.memories[t + 1]
        if pc >= len(instrs):
            assert np.array_equal(before, after)
            continue
        a, b, c, f, _, _ = instrs[pc]
        name = machine.functions[f]
        want = fleq.apply_function(name, before[a], before[b], k=machine.k)
        ratios.append(float(np.abs(want - after[c]).max()) / machine.tolerance(name))
        others = [i for i in range(len(before)) if i != c]
        assert np.array_equal(before[others], after[others])
    return ratios


def _check_random(dtype, count, loops, seed, *, s=8, m=8, n=32, k=2):
    machine = fleq.build(s=s, m=m, n=n, k=k, dtype=dtype)
    progs, refs = _valid_programs(machine, count, loops, seed)
    got = machine.run_batch(progs, loops=loops, trace=True)
    used = {machine.functions[f] if isinstance(f, int) else f
            for ins, _ in progs for (_, _, _, f, _, _) in ins}
    assert used == set(machine.functions)
    bad = [j for j, (g, r) in enumerate(zip(got, refs)) if g.pcs != r.pcs]
    assert not bad, f"{len(bad)} of {count} programs branch differently, e.g. {progs[bad[0]]}"
    worst = max(max(_local_errors(machine, p, g), default=0.0) for p, g in zip(progs, got))
    assert worst <= 1.0, worst
    return machine, got, refs


@pytest.mark.parametrize("dtype", DTYPES)
def test_random_programs_control_flow_exact_and_values_within_tolerance(dtype):
    _check_random(dtype, count=16, loops=25, seed=16)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
def test_random_programs_thorough(dtype):
    _check_random(dtype, count=200, loops=50, seed=1600)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
def test_random_programs_larger_machine(dtype):
    _check_random(dtype, count=60, loops=40, seed=1601, s=12, m=12, n=64, k=3)


def _newton(dtype, k, seed, iterations):
    """Newton's inverse on the machine vs numpy within `fleq.newton_tolerance` (its docstring
    derives it), the pc equal to the interpreter's at every loop, and the interpreter (exact
    float64 operations) itself converged."""
    rng = np.random.default_rng(seed)
    A = np.eye(k) * 2.0 + rng.uniform(-0.5, 0.5, size=(k, k))
    ins, mem, cells = fleq.newton_inverse_program(A, iterations=iterations)
    need = k * k + 3 + len(mem) + len(ins) + 1
    machine = fleq.build(s=k * k + 3, m=len(mem), n=need + need % 2, k=k, dtype=dtype)
    loops = 2 + 6 * iterations + 1
    ref = fleq.interpret(ins, mem, loops=loops, k=k, trace=True)
    got = machine.run(ins, mem, loops=loops, trace=True)
    assert got.pcs == ref.pcs
    assert got.pc == ref.pc == len(ins)
    inv = np.linalg.inv(A)
    u64 = np.finfo(np.float64).eps / 2
    assert np.abs(ref.memory[cells["X"]] - inv).max() <= 100 * np.linalg.cond(A) * u64
    tol = fleq.newton_tolerance(A, machine)
    err = np.abs(got.memory[cells["X"]] - inv).max()
    assert err <= tol, (err, tol)
    xs = fleq.newton_iterates(got.memories, cells, iterations)
    assert np.array_equal(xs[-1], got.memory[cells["X"]])
    assert max(_local_errors(machine, (ins, mem), got)) <= 1.0
    return err, tol


@pytest.mark.parametrize("dtype", DTYPES)
def test_newton_inverse_matches_numpy(dtype):
    _newton(dtype, k=2, seed=3, iterations=7)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", [4, 5, 6])
def test_newton_inverse_3x3_matches_numpy(dtype, seed):
    _newton(dtype, k=3, seed=seed, iterations=8)


@pytest.mark.parametrize("name", [pytest.param(p, marks=() if p == "sort" else pytest.mark.slow)
                                  for p in fleq.RASP_PROGRAMS])
def test_rasp_block_runs_the_compiled_weights(name):
    """The region's residual after the compiled layers equals the compiled model's own forward
    pass (theory_kit.model.forward on the compiled Weights), on every input of the block, and
    the written values are the RASP interpreter's."""
    from itertools import product
    from theory_kit.model.forward import forward
    machine = fleq.build(s=8, m=3, n=16, k=2, rasp=name)
    program, cw = fleq._compiled(name, 4, 4)
    inputs = list(product(range(4), repeat=4))
    progs = [(((0, 0, 1, name, 2, 1),), [np.array(t, float).reshape(2, 2), np.zeros((2, 2)),
                                         np.ones((2, 2))]) for t in inputs]
    x = np.stack([machine.encode(*p) for p in progs])
    for c in machine._compact[:2 + machine.compiled_layers]:
        x = _layer(c, x)
    rows = machine.space.indices_of(fleq._dirs("rasp_residual", cw.residual_width))
    region = x[:, 2:2 + 5][..., rows]
    ids = np.array([[0] + [cw.tokens.index(v) for v in t] for t in inputs])
    want = forward(cw, ids, record=False).output
    assert np.abs(region - want).max() <= 1e-9
    x = _layer(machine._compact[2 + machine.compiled_layers], x)   # the gather heads
    scores = x[..., [i for i, d in enumerate(machine.space.basis) if d.label == "scratch_rasp"]]
    assert np.minimum(np.abs(scores), np.abs(scores - 1)).max() < 1e-6   # the snap needs < 1/4
    got = machine.run_batch(progs, loops=1)
    from theory_kit import rasp
    for t, r in zip(inputs, got):
        assert r.memory[1].reshape(-1).tolist() == rasp.evaluate(program, list(t))


def test_only_the_selected_block_writes_and_halt_is_a_fixed_point():
    machine = fleq.build(s=8, m=4, n=24, k=2)
    a = np.array([[1.0, 2.0], [3.0, -1.0]])
    b = np.array([[0.5, -1.0], [2.0, 1.5]])
    one = np.eye(2)
    for f, want in (("add", a + b), ("sub", a - b), ("matmul", a @ b), ("transpose", a.T)):
        r = machine.run(((0, 1, 2, f, 3, 1),), [a, b, np.full((2, 2), 7.0), one], loops=5,
                        trace=True)
        assert r.pcs == (0, 1, 1, 1, 1, 1)
        assert np.abs(r.memory[2] - want).max() <= machine.tolerance(f)
        assert np.array_equal(r.memory[[0, 1, 3]], np.stack([a, b, one]))
        assert all(np.array_equal(r.memories[1], mm) for mm in r.memories[2:])


def test_branch_reads_the_flag_after_the_write():
    # mem[1] = mem[0] - mem[1] with flag = c = 1. Loop 1: the old flag is 1 > 0 but the new
    # value is 0 <= 0, so it jumps to 0; loop 2: 1 - 0 = 1 > 0, so it halts.
    ins = ((0, 1, 1, "sub", 1, 0),)
    mem = [np.eye(2), np.eye(2)]
    r = fleq.run(ins, mem, loops=3, s=7, m=2, n=12, trace=True)
    ref = fleq.interpret(ins, mem, loops=3, k=2, trace=True)
    assert r.pcs == ref.pcs == (0, 0, 1, 1)
    assert np.abs(r.memory - ref.memory).max() == 0.0


def test_scratch_is_cleared_and_weights_are_input_independent():
    machine = fleq.build(s=8, m=8, n=32, k=2)
    before = {name: a.copy() for name, a in machine.weights.arrays().items()}
    progs, _ = _valid_programs(machine, 6, 8, seed=9)
    x = np.stack([machine.encode(*p) for p in progs])
    scratch = [i for i, d in enumerate(machine.space.basis)
               if d.label.startswith("scratch") or d.label == "rasp_residual"]
    for _ in range(8):
        x = machine.step(x)
        assert np.abs(x[..., scratch]).max() == 0.0
    after = machine.weights.arrays()
    assert all(np.array_equal(before[key], after[key]) for key in before)
    assert fleq.build(s=8, m=8, n=32, k=2) is machine


@pytest.mark.parametrize("n,k", [(32, 2), (64, 2), (32, 3)])
def test_width_and_depth_formulas(n, k):
    machine = fleq.build(s=k * k + 3, m=4, n=n, k=k)
    _, cw = fleq._compiled("sort", 4, k * k)
    L, K, F, V, Dc = sp.symbols("L k F V D_c", positive=True)
    subs = {L: address_bits(n), K: k, F: len(machine.functions), V: len(cw.output_values),
            Dc: cw.residual_width}
    assert int(fleq.width_formula().subs(subs)) == machine.width
    assert int(fleq.depth_formula().subs({sp.Symbol("L_c", positive=True): len(cw.layers)})) \
        == machine.depth


def test_derived_constants():
    assert fleq.derived_lam(np.float64) == 512.0 and fleq.derived_lam(np.float32) == 64.0
    for dtype in DTYPES:  # e^(-2λ) underflows to exactly 0, e^(-λ) does not
        lam = np.array(fleq.derived_lam(dtype), dtype=dtype)
        assert np.exp(-2 * lam) == 0.0 and np.exp(-lam / 2) > 0.0
    # ε minimises the truncation + rounding terms of matmul_bound
    b = fleq.matmul_bound()
    n, k, R, u, eps = sp.symbols("n k R u epsilon", positive=True)
    subs = {n: 32, k: 2, R: 16, u: 2.0 ** -53}
    e0 = fleq.derived_eps(32, 2, 16.0)
    err = sp.lambdify(eps, b["error"].subs(subs), modules="numpy")
    assert err(e0) < min(err(0.8 * e0), err(1.25 * e0))
    assert fleq.tolerance("matmul", n=32, k=2, R=16.0) == pytest.approx(err(e0))


def test_richardson_truncation_bound():
    """matmul_bound's step 1: the series of (4 tanh x - tanh(2x)/2)/3 and its tail below
    (16/15)x⁵ on (0, 1/4] (mpmath, 30 digits, 2000 points; the ratio peaks at 1/2 near 0)."""
    import mpmath
    x = sp.Symbol("x")
    g = (4 * sp.tanh(x) - sp.tanh(2 * x) / 2) / 3
    assert sp.expand(sp.series(g, x, 0, 8).removeO()) == x - sp.Rational(8, 15) * x ** 5 \
        + sp.Rational(68, 63) * x ** 7
    with mpmath.workdps(30):
        worst = max(abs((4 * mpmath.tanh(v) - mpmath.tanh(2 * v) / 2) / 3 - v)
                    / (mpmath.mpf(16) / 15 * v ** 5)
                    for v in (mpmath.mpf(i) / 8000 for i in range(1, 2001)))
    assert worst <= 0.5 + 1e-9
    with pytest.raises(InvalidInput, match="eps·R <= 1/4"):
        fleq.build(s=7, m=3, n=12, k=2, eps=0.05)


def test_matmul_heads_within_bound_on_extreme_operands():
    """Products at the edge of the range (|C| = R) and tiny ones, in both dtypes."""
    for dtype in DTYPES:
        machine = fleq.build(s=7, m=3, n=12, k=2, dtype=dtype)
        for a, b in ((np.full((2, 2), 2.0), np.full((2, 2), 4.0)),      # C = 16 = R
                     (np.full((2, 2), -2.0), np.full((2, 2), 4.0)),
                     (np.array([[1e-3, 0.0], [0.0, 1.0]]), np.eye(2))):
            r = machine.run(((0, 1, 2, "matmul", 0, 1),), [a, b, np.zeros((2, 2))], loops=1)
            assert np.abs(r.memory[2] - a @ b).max() <= machine.tolerance("matmul")


def test_entry_point_matches_interpreter():
    machine_args = dict(s=8, m=10, n=32, k=2)
    A = np.array([[2.0, 0.5], [0.3, 1.5]])
    ins, mem, cells = fleq.newton_inverse_program(A, iterations=3)
    r = fleq.run(ins, mem, loops=25, trace=True, **machine_args)
    ref = fleq.interpret(ins, mem, loops=25, k=2, trace=True)
    assert r.pcs == ref.pcs and r.memories.shape == ref.memories.shape == (26, 10, 2, 2)
    assert np.abs(r.memories - ref.memories).max() <= 1e-8


def test_bad_input_reports_every_problem():
    with pytest.raises(InvalidInput) as info:
        fleq.run([(0, 9, 0, "add", 0, 0), (1, 0, 1, "pow", 0, 7), (0, 1)],
                 [np.zeros((2, 2)), np.full((2, 2), 99.0)], loops=3, s=7, m=4, n=16)
    msg = str(info.value)
    for part in ("b = 9 out of range", "p = 7 out of range", "'pow' is not a function",
                 "(0, 1) is not (a, b, c, f, flag, p)", "exceed R=16"):
        assert part in msg, part
    with pytest.raises(InvalidInput, match="hold 2x2 matrices"):
        fleq.run([], [np.zeros(3)], loops=1, s=7, m=4, n=16)
    with pytest.raises(TheoryKitError) as info:
        fleq.build(s=2, m=4, n=15, k=2, lam=-1.0, rasp="nope")
    for part in ("rasp must be one of", "lam must be"):
        assert part in str(info.value)
    with pytest.raises(TheoryKitError, match="cannot hold Z, the sink"):
        fleq.build(s=4, m=4, n=16, k=2)
    with pytest.raises(TheoryKitError, match="must be even"):
        fleq.build(s=7, m=4, n=15, k=2)
    with pytest.raises(InvalidInput, match="outside"):   # 16 + 16 > R
        fleq.interpret([(0, 0, 0, "add", 0, 0)], [np.full((2, 2), 16.0)], loops=1, k=2)
    with pytest.raises(InvalidInput, match="strictly between 0 and the flag margin"):
        fleq.interpret([(0, 0, 1, "transpose", 0, 0)], [np.full((2, 2), 0.25), np.zeros((2, 2))],
                       loops=1, k=2)
    with pytest.raises(InvalidInput, match="farther than"):
        fleq.interpret([(0, 0, 1, "sort", 1, 0)], [np.full((2, 2), 0.5), np.zeros((2, 2))],
                       loops=1, k=2)
    with pytest.raises(InvalidInput, match="dtype must be float32 or float64"):
        fleq.derived_lam(np.int32)
    with pytest.raises(InvalidInput, match="unknown function 'pow'"):
        fleq.tolerance("pow", n=16, k=2, R=16.0)
    machine = fleq.build(s=7, m=4, n=16, k=2)
    with pytest.raises(InvalidInput, match="expected finite punchcards"):
        machine.step(np.zeros((3, 3)))
    with pytest.raises(InvalidInput, match=r"program\(s\) \[1\]"):
        machine.run_batch([([], [np.zeros((2, 2))]), 5], loops=1)


def test_random_program_is_seeded():
    a = fleq.random_program(np.random.default_rng(5), m=4, n_instructions=6, k=2,
                            functions=("add", "sort"))
    b = fleq.random_program(np.random.default_rng(5), m=4, n_instructions=6, k=2,
                            functions=("add", "sort"))
    assert a[0] == b[0] and all(np.array_equal(x, y) for x, y in zip(a[1], b[1]))
