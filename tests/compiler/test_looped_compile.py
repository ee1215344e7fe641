"""Weight-shared looped compile (issue 14, items 2, 3, 5): the body is compiled once and its
layers applied at every iteration; the state after every iteration equals the interpreter's;
iterations past halting are a fixed point; the same weights run every length up to
max_seq_len; unsupported loop shapes are refused with a fix."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import theory_kit as tk
from theory_kit import rasp
from theory_kit.compiler.looped import STATE_ATOL
from theory_kit.errors import UnsupportedProgram
from theory_kit.library.looped import LOOPED_PROGRAMS
from theory_kit.rasp.loops import Loop, loop
from theory_kit.rasp.tree import topological_order

T, I = rasp.tokens, rasp.indices
#: max_seq_len of the default run's compile (every input checked by compile's verification).
DEFAULT_N = {"parity_loop": 6, "add_loop": 4, "sort_loop": 5, "hops_loop": 4,
             "dyck1_loop": 6, "dyck2_loop": 4}


def _loop_of(program):
    return next(x for x in topological_order(program) if isinstance(x, Loop))


def _inputs(vocab, n_max):
    for n in range(1, n_max + 1):
        yield from (list(xs) for xs in itertools.product(sorted(vocab, key=repr), repeat=n))


def _vocab(spec, n):
    return set(range(n)) if spec.name == "hops_loop" else set(spec.vocab)


def _compiled(name, n, **kw):
    spec = LOOPED_PROGRAMS[name]
    program = spec.at(max_seq_len=n)
    return spec, program, tk.compile(program, vocab=_vocab(spec, n), max_seq_len=n, **kw)


@pytest.mark.parametrize("name", sorted(LOOPED_PROGRAMS))
def test_library_loops_compile_weight_shared_and_exact(name):
    n = DEFAULT_N[name]
    spec, program, model = _compiled(name, n)  # verify="auto": every input, every iteration
    vocab = _vocab(spec, n)
    assert model.verified_inputs == sum(len(vocab) ** k for k in range(1, n + 1))
    schedule = model.weights.loop
    assert schedule is not None and schedule.max_iterations == _loop_of(program).spec.max_iterations
    assert model.constants["loop_state_max_deviation"] <= STATE_ATOL[np.dtype(np.float64)]
    xss = [xs for xs in _inputs(vocab, n) if spec.accepts(xs)]
    assert model.run_batch(xss) == [list(spec.reference(xs)) for xs in xss]
    traces = model.loop_traces(xss)
    assert [t.iterations for t in traces] == [spec.iterations(xs) for xs in xss]
    assert rasp.loop_traces(_loop_of(program), xss) == traces


@pytest.mark.parametrize("name", ["sort_loop", "dyck1_loop"])
def test_running_three_times_longer_changes_nothing(name):
    spec, program, model = _compiled(name, 4, verify=None)
    xss = [xs for xs in _inputs(_vocab(spec, 4), 4) if spec.accepts(xs)]
    k = model.weights.loop.max_iterations
    long = model.loop_traces(xss, iterations=3 * k)
    for xs, trace in zip(xss, long):
        final = rasp.loop_trace(_loop_of(program), xs).states[-1]
        assert len(trace.states) == 3 * k + 1
        assert all(state == final for state in trace.states[spec.iterations(xs):]), xs


def test_one_compile_runs_every_shorter_length_with_the_same_weights():
    spec, program, model = _compiled("sort_loop", 6, verify="sample", sample_size=300, seed=2)
    rng = np.random.default_rng(0)
    for n in range(1, 7):
        xss = [list(rng.integers(0, 3, size=n)) for _ in range(50)]
        xss = [[int(x) for x in xs] for xs in xss]
        assert model.run_batch(xss) == [sorted(xs) for xs in xss]


def test_looped_is_shallower_than_unrolled_and_float32_is_exact():
    spec = LOOPED_PROGRAMS["sort_loop"]
    program = spec.at(max_seq_len=5)
    looped = tk.compile(program, vocab={0, 1, 2}, max_seq_len=5, dtype=np.float32)
    unrolled = tk.compile(rasp.unroll(program), vocab={0, 1, 2}, max_seq_len=5, verify=None)
    assert len(looped.weights.layers) < len(unrolled.weights.layers) / 2
    start, stop = looped.weights.loop.start, looped.weights.loop.stop
    assert stop - start < len(looped.weights.layers)


def test_an_epilogue_and_a_prelude_around_the_loop():
    double = rasp.Map(lambda x: (2 * x) % 5, T).named("double")       # before the loop
    count = loop(lambda s: rasp.Map(lambda c: min(c + 1, 4), s), rasp.Full(0),
                 until=lambda s: rasp.SequenceMap(lambda c, d: c >= d, s, double),
                 max_iterations=4, name="count")
    out = rasp.SequenceMap(lambda c, d: c * 10 + d, count, double).named("out")  # after it
    model = tk.compile(out, vocab={0, 1, 2}, max_seq_len=3)
    xss = list(_inputs({0, 1, 2}, 3))
    assert model.run_batch(xss) == rasp.evaluate_batch(out, xss)


def test_a_loop_that_never_halts_runs_max_iterations():
    prog = loop(lambda s: rasp.Map(lambda x: (x + 1) % 3, s), T, until=lambda s: rasp.Full(False),
                max_iterations=5, name="spin")
    model = tk.compile(prog, vocab={0, 1, 2}, max_seq_len=3)
    trace = model.loop_trace([0, 1])
    assert trace.iterations == 5 and not trace.halted
    assert model.run([0, 1]) == [2, 0]


def test_declared_values_fix_the_state_dimensions():
    grow = loop(lambda s: rasp.Map(lambda c: c + 1, s), rasp.Full(0),
                until=lambda s: rasp.Map(lambda c: c >= 2, s), max_iterations=100,
                values=range(3), name="grow")
    model = tk.compile(grow, vocab={"a"}, max_seq_len=2)
    assert {d.value for d in model.weights.layout.directions("grow.state")} == {0, 1, 2}
    assert model.run(["a", "a"]) == [2, 2]


def test_a_state_without_a_fixed_point_asks_for_declared_values():
    grow = loop(lambda s: rasp.Map(lambda c: c + 1, s), rasp.Full(0),
                until=lambda s: rasp.Map(lambda c: c >= 2, s), max_iterations=100, name="grow")
    with pytest.raises(UnsupportedProgram, match=r"grow.*fixed point.*values="):
        tk.compile(grow, vocab={"a"}, max_seq_len=2)


@pytest.mark.parametrize("shape, match", [
    ("nested", r"outer.*contains the loop 'inner'.*rasp\.unroll"),
    ("two", r"has 2 loops.*rasp\.unroll"),
    ("numerical", r"num.*numerical.*categorical"),
    ("causal", r"causal"),
])
def test_unsupported_loop_shapes_are_refused_with_a_fix(shape, match):
    def flip(s):
        return rasp.Map(lambda x: 1 - x, s)
    done = lambda s: s == 1  # noqa: E731
    if shape == "nested":
        prog = loop(lambda s: loop(flip, s, until=done, max_iterations=2, name="inner"), T,
                    until=done, max_iterations=2, name="outer")
    elif shape == "two":
        a = loop(flip, T, until=done, max_iterations=2, name="a")
        prog = loop(flip, a, until=done, max_iterations=2, name="b")
    elif shape == "numerical":
        prog = loop(lambda s: rasp.numerical(rasp.Map(lambda x: 1 - x, s)),
                    rasp.numerical(rasp.Map(lambda x: x, T)), until=done, max_iterations=2,
                    name="num")
    else:
        prog = loop(flip, T, until=done, max_iterations=2, name="c")
    with pytest.raises(UnsupportedProgram, match=match):
        tk.compile(prog, vocab={0, 1}, max_seq_len=2, causal=shape == "causal")
    if shape in ("nested", "two"):  # the fix works
        flat = rasp.unroll(prog)
        model = tk.compile(flat, vocab={0, 1}, max_seq_len=2)
        assert model.run([0, 1]) == prog([0, 1])


def test_the_looped_model_saves_and_loads(tmp_path):
    _, program, model = _compiled("parity_loop", 4)
    path = tmp_path / "parity.npz"
    model.save(path)
    again = tk.load(path)
    xss = list(_inputs({0, 1}, 4))
    assert again.run_batch(xss) == model.run_batch(xss)
    assert again.loop_traces(xss) == model.loop_traces(xss)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LOOPED_PROGRAMS))
def test_acceptance_every_input_up_to_8_and_samples_at_16_and_32(name):
    spec = LOOPED_PROGRAMS[name]
    looped = None
    for n, mode in ((8, "auto"), (16, "sample"), (32, "sample")):
        program = spec.at(max_seq_len=n)
        model = tk.compile(program, vocab=_vocab(spec, n), max_seq_len=n, verify=mode,
                           sample_size=2000, seed=n)
        looped = _loop_of(program)
        rng = np.random.default_rng(n)
        vocab = sorted(_vocab(spec, n), key=repr)
        xss = [[vocab[i] for i in rng.integers(0, len(vocab), size=rng.integers(1, n + 1))]
               for _ in range(300)]
        k = model.weights.loop.max_iterations
        long = model.loop_traces(xss, iterations=3 * k)
        want = rasp.loop_traces(looped, xss)
        for xs, w, g in zip(xss, want, long):
            assert all(s == w.states[-1] for s in g.states[w.iterations:]), (n, xs)


def test_twin_nodes_with_one_unique_id_are_two_nodes():
    # Regression (generated-loop property test): a body template rewritten twice with
    # with_children (which keeps unique_ids) gave two distinct nodes one id; the graph merged
    # them and the looped model halted at the wrong iteration.
    from theory_kit.rasp.tree import with_children

    template = rasp.SequenceMap(lambda a, b: a == b, T, T)
    template = rasp.SequenceMap(lambda a, b: a == b, T, template)

    def with_state(s):
        memo = {}
        for node in topological_order(template):
            memo[id(node)] = s if node is T else with_children(
                node, [memo[id(c)] for c in node.children])
        return rasp.Map(lambda v: 1 if v else 0, memo[id(template)], simplify=False)

    prog = loop(with_state, T, until=lambda s: rasp.SequenceMap(lambda a, b: a == b,
                                                                 with_state(s), s),
                max_iterations=1, name="twins")
    model = tk.compile(prog, vocab={0, 1}, max_seq_len=2)  # every input, every iteration
    xss = list(_inputs({0, 1}, 2))
    assert model.loop_traces(xss) == rasp.loop_traces(prog, xss)


def test_verification_fails_closed_on_a_broken_iteration():
    # A looped model whose update layer is damaged: the per-iteration check names the input
    # and the iteration where the state first differs.
    import dataclasses

    from theory_kit.compiler.looped import verify_loop
    from theory_kit.errors import CompilationMismatch
    from theory_kit.model import Model

    spec, program, model = _compiled("sort_loop", 3, verify=None)
    weights = model.weights
    last = weights.loop.stop - 1
    layers = list(weights.layers)
    layers[last] = dataclasses.replace(layers[last], W_out=layers[last].W_out * 0.9)
    broken = Model(dataclasses.replace(weights, layers=tuple(layers)), vocab={0, 1, 2},
                   max_seq_len=3, bos="BOS", constants={})
    with pytest.raises(CompilationMismatch, match=r"on \[.*\]: .*(iterations|away from 0)"):
        verify_loop(broken, program, _loop_of(program), _inputs({0, 1, 2}, 3))


def test_state_deviation_is_read_at_the_real_positions(monkeypatch):
    """verify_loop's deviation of the state from 0/1 (`_exactness`) reads the planned pass's
    position-major residual [D, T*B] at every position but BOS: a residual with 0.3 in the
    state rows at BOS and 0.1 at position 1 of the last input deviates by 0.1."""
    import importlib

    from theory_kit.compiler.looped import _exactness

    forward_mod = importlib.import_module("theory_kit.model.forward")
    spec, _, model = _compiled("parity_loop", 4)
    w = model.weights
    rows = np.unique(np.concatenate([np.flatnonzero(w.readouts[name].unembed.any(axis=1))
                                     for name in w.loop.state]))
    xss = [[0, 1, 1], [1, 0, 1]]

    def fake_run(weights, ids, mask, observe):
        b, t = ids.shape
        x = np.zeros((weights.residual_width, t, b))
        x[rows, 0, :] = 0.3                    # BOS of every input
        x[rows, 1, b - 1] = 0.1                # position 1 of the last input
        observe(0, x.reshape(weights.residual_width, t * b))

    monkeypatch.setattr(forward_mod, "run_planned", fake_run)
    assert _exactness(model, xss) == pytest.approx(0.1)
