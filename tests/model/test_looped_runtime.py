"""The program-agnostic runtime of looped (weight-shared) weights: `LoopSchedule`,
`Weights.loop`, the looped forward pass (planned and dense), `Model.loop_traces`, and model
files of format 3 — on a looped model built by hand with theory_kit.craft (no compiler),
checked against plain Python on every input."""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import json
import random
import zipfile

import numpy as np
import pytest

from theory_kit.craft import BOS, ONE, BasisDirection, Embedding, MLPBuilder
from theory_kit.craft.assemble import ReadoutSpec, assemble
from theory_kit.craft.attention import (bos_key_logit, predicate_codes, select_head,
                                        with_bos_columns)
from theory_kit.errors import InvalidInput
from theory_kit.model import LoopSchedule, Model, Readout, Weights, load
from theory_kit.model.forward import additive_mask, forward, run_planned
from theory_kit.rasp.interpreter import LoopTrace

from tests.model.test_readouts import assert_edited_file_refused

# -- the relay counter ------------------------------------------------------------------------
# Each position p holds a target t_p in 0..3 (its token) and a count c_p, 0 after the prelude.
# A step, from the state c: done_p = (c_p == t_p); position p counts one up when it is not
# done and it may go: it is the first position, or position p-1 is done. The sequence halts
# when every position is done. The block needs an attention head (is the previous position
# done?), so halting, padding and the masks inside the loop are all exercised; the output,
# read after the epilogue, is the final count of the previous position (None at the first).
N = 4
TARGETS = (0, 1, 2, 3)
IDX = [BasisDirection("i", p) for p in range(N)]       # IDX[p]: position p + 1
T = [BasisDirection("t", u) for u in TARGETS]
C = [BasisDirection("c", v) for v in TARGETS]
PC = [BasisDirection("prev_c", v) for v in TARGETS]
HALT_F, HALT_T = BasisDirection("halt", False), BasisDirection("halt", True)
PD = BasisDirection("prev_done")    # scratch: the attention's (approximate) 0/1
GO = BasisDirection("go")           # scratch: exact 0/1, may count up
BOS_VALUES = {BOS: 1.0, ONE: 1.0}
BETA = 30.0
#: every input holds at most 12 steps of counting (4 positions x target 3): the worst input
#: halts exactly at the last pass (12 steps, then the pass that finds it halted).
M_ENOUGH = 13
#: too few passes for many inputs: their halting flag comes from the probe pass.
M_SHORT = 5


def _previous_head(label, reads, writes):
    """Query position p attends position p - 1 (BOS, hence `default` 0, at position 1)."""
    q, k = predicate_codes(IDX, range(N), IDX, range(N), lambda k, q: k == q - 1, BETA)
    codes = with_bos_columns(q, k, beta=BETA, bos_key_logit=bos_key_logit(1, BETA, average=True),
                             bos_values=BOS_VALUES)
    return select_head(label, codes, reads, np.eye(len(reads)), writes,
                       default=[0.0] * len(writes), bos_values=BOS_VALUES)


def _layers():
    # Every MLP writes exact 0/1 one-hots from exact 0/1 inputs (relu of a sum of 0/1 terms
    # minus an offset is 0 or 1), so no pass drifts; its units are gated at BOS, which stays 0.
    init = MLPBuilder([ONE], [C[0]])
    init.unit({ONE: 1.0}, 0.0, {C[0]: 1.0}, gate=2.0)       # c := 0 off BOS and padding

    # halt := (c == t), one-hot over False/True; the old flag is cleared (delta write).
    done = MLPBuilder([*C, *T, HALT_F, HALT_T], [HALT_F, HALT_T])
    for v, u in itertools.product(TARGETS, TARGETS):        # relu(c_v + t_u - 1) = [c=v, t=u]
        done.unit({C[v]: 1.0, T[u]: 1.0}, -1.0, {HALT_T if v == u else HALT_F: 1.0}, gate=2.0)
    for flag in (HALT_F, HALT_T):
        done.unit({flag: 1.0}, 0.0, {flag: -1.0}, gate=0.0)

    # go := [prev_done > 1/2] + [first position]: a ReLU pair of slope 2 at 1/2 is exactly
    # [x > 1/2] for x within 1/4 of 0 or 1 (the head's x is within e^-15 of one of them);
    # prev_done is then cleared, both signs (it is never exactly 0 at BOS either).
    go = MLPBuilder([PD, IDX[0]], [GO, PD])
    go.unit({PD: 2.0}, -0.5, {GO: 1.0}, gate=4.0)
    go.unit({PD: 2.0}, -1.5, {GO: -1.0}, gate=4.0)
    go.unit({IDX[0]: 1.0}, 0.0, {GO: 1.0}, gate=2.0)
    go.unit({PD: 1.0}, 0.0, {PD: -1.0}, gate=0.0)
    go.unit({PD: -1.0}, 0.0, {PD: 1.0}, gate=0.0)

    # c := c + 1 where not done and go: relu(c_v - done + go - 1) = [c=v, not done, go];
    # go is cleared.
    step = MLPBuilder([*C, HALT_T, GO], [*C, GO])
    for v in TARGETS[:-1]:
        step.unit({C[v]: 1.0, HALT_T: -1.0, GO: 1.0}, -1.0, {C[v]: -1.0, C[v + 1]: 1.0},
                  gate=3.0)
    step.unit({GO: 1.0}, 0.0, {GO: -1.0}, gate=0.0)

    return [
        ([], [init.build("init", "c := 0")]),                                      # prelude
        ([], [done.build("done", "halt := (c == t)")]),                            # block
        ([_previous_head("prev_done", (HALT_T,), (PD,))], [go.build("go", "go")]),  # block
        ([], [step.build("step", "c += go and not done")]),                       # block
        ([_previous_head("prev_count", tuple(C), tuple(PC))], []),                 # epilogue
    ]


def _weights(max_iterations: int, dtype=np.float64) -> Weights:
    layout = {d: i for i, d in enumerate([BOS, ONE, *IDX, *T, *C, HALT_F, HALT_T, PD, GO, *PC])}
    emb = Embedding("emb", tokens={u: {T[u]: 1.0, ONE: 1.0} for u in TARGETS},
                    positions={p + 1: {IDX[p]: 1.0} for p in range(N)}, bos=dict(BOS_VALUES))
    loop = LoopSchedule(1, 4, max_iterations, halt="halt", state=("count",))
    weights = assemble(_layers(), layout, emb, tokens=("BOS", *TARGETS), max_seq_len=N,
                       readout=PC, readouts={"halt": ReadoutSpec((HALT_F, HALT_T)),
                                             "count": ReadoutSpec(tuple(C))},
                       dtype=dtype, loop=loop)
    assert weights.loop is loop
    # a second state component: the count as a number, sum of v * c_v (a weighted readout,
    # which ReadoutSpec cannot say)
    value = np.zeros((weights.residual_width, 1))
    for v, d in zip(TARGETS, C):
        value[weights.layout.index(d), 0] = v
    return dataclasses.replace(
        weights.with_readouts(Readout("count_value", value, "numerical", reachable=TARGETS)),
        loop=dataclasses.replace(loop, state=("count", "count_value")))


def _model(max_iterations: int, dtype=np.float64) -> Model:
    return Model(_weights(max_iterations, dtype), vocab=TARGETS, max_seq_len=N, bos="BOS",
                 constants={})


@pytest.fixture(scope="module")
def enough():
    return _model(M_ENOUGH)


@pytest.fixture(scope="module")
def short():
    return _model(M_SHORT)


def _inputs(max_len=N):
    return [list(s) for n in range(0, max_len + 1) for s in itertools.product(TARGETS, repeat=n)]


# -- the plain-Python reference -----------------------------------------------------------------
def reference(targets, max_iterations):
    """(states, halted, passes the runtime runs for this input alone, output)."""
    n = len(targets)
    c = (0,) * n
    states = [c]
    while True:
        done = [c[p] == targets[p] for p in range(n)]
        if all(done):
            halted = True
            break
        if len(states) > max_iterations:
            halted = False
            break
        c = tuple(c[p] + (not done[p] and (p == 0 or done[p - 1])) for p in range(n))
        states.append(c)
    passes = min(len(states), max_iterations)
    return states, halted, passes, ([None] + list(states[-1][:-1]))[:n]


def reference_trace(targets, max_iterations):
    states, halted, _, _ = reference(targets, max_iterations)
    return LoopTrace(tuple((s, s) for s in states), halted)   # "count" and "count_value"


def _passes(model, seqs, **kwargs):
    """How many passes the planned run makes on this batch (observe sees each)."""
    ids, key_mask = model.encode(seqs)
    seen = []
    run_planned(model.weights, ids, additive_mask(key_mask, False, ids.shape[1], model.dtype),
                observe=lambda k, x: seen.append(k), **kwargs)
    assert seen == list(range(len(seen)))
    return seen[-1]


# -- outputs and loop traces against Python, every input ----------------------------------------
@pytest.mark.parametrize("m", [M_ENOUGH, M_SHORT])
def test_outputs_equal_python_on_every_input(m, enough, short):
    model = enough if m == M_ENOUGH else short
    seqs = _inputs()
    want = [reference(s, m)[3] for s in seqs]
    assert model.run_batch(seqs) == want
    assert [model.run(s) for s in seqs[::17]] == want[::17]
    both = model.read(seqs, ["output", "count"])
    assert both["output"] == want
    assert both["count"] == [list(reference(s, m)[0][-1]) for s in seqs]
    assert any(not reference(s, m)[1] for s in seqs) == (m == M_SHORT)


@pytest.mark.parametrize("m", [M_ENOUGH, M_SHORT])
def test_loop_traces_equal_python_on_every_input(m, enough, short):
    model = enough if m == M_ENOUGH else short
    seqs = _inputs()
    got = model.loop_traces(seqs)
    assert got == [reference_trace(s, m) for s in seqs]
    assert all(type(v) is int for tr in got for st in tr.states for comp in st for v in comp)
    assert model.loop_trace([2, 3, 0]) == reference_trace([2, 3, 0], m)


def test_the_probe_pass_decides_halted_when_max_iterations_ran_out(short):
    """[2, 3] needs exactly 5 steps = M_SHORT: only the probe pass sees that its last state
    halts; [3, 3] needs 6 and has not halted. Neither the probe nor loop_traces changes what
    run reads."""
    assert short.loop_trace([2, 3]) == LoopTrace(tuple(((c, c)) for c in [
        (0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (2, 3)]), True)
    trace = short.loop_trace([3, 3])
    assert trace.iterations == M_SHORT and not trace.halted
    assert trace.states[-1] == ((3, 2), (3, 2))
    assert short.run([3, 3]) == [None, 3]
    # the probe is pass M + 1, given to observe only when some sequence has not halted
    assert _passes(short, [[3, 3]], probe=True) == M_SHORT + 1
    assert _passes(short, [[2, 3]], probe=True) == M_SHORT + 1
    assert _passes(short, [[1, 1]], probe=True) == 3


def test_the_batch_stops_when_every_sequence_has_halted(enough, short):
    seqs = _inputs()
    for model, m in ((enough, M_ENOUGH), (short, M_SHORT)):
        for s in seqs[::7]:
            assert _passes(model, [s]) == reference(s, m)[2], s
        rng = random.Random(0)
        for _ in range(20):
            batch = rng.sample(seqs, rng.randint(1, 6))
            assert _passes(model, batch) == max(reference(s, m)[2] for s in batch), batch
    assert _passes(enough, [[]]) == 1 and _passes(enough, [[0, 0, 0]]) == 1
    assert _passes(enough, [[3, 3, 3, 3]]) == M_ENOUGH


def test_running_three_times_more_passes_changes_nothing(enough, short):
    """The weights are a fixed point once halted: iterations=3M records every state (exactly
    n + 1), and the residual after the epilogue is the same, bit for bit."""
    seqs = _inputs()
    for model, m in ((enough, M_ENOUGH), (short, M_SHORT)):
        n = 3 * m
        traces = model.loop_traces(seqs, iterations=n)
        for s, tr in zip(seqs, traces):
            states, halted, _, _ = reference(s, n)
            assert halted and tr.halted, s
            padded = states + [states[-1]] * (n + 1 - len(states))
            assert tr.states == tuple((c, c) for c in padded), s
        if model is enough:
            ids, key_mask = model.encode(seqs)
            mask = additive_mask(key_mask, False, ids.shape[1], model.dtype)
            x = run_planned(model.weights, ids, mask)
            assert np.array_equal(run_planned(model.weights, ids, mask, iterations=n), x)
    assert enough.loop_trace([1, 2], iterations=0) == LoopTrace((((0, 0), (0, 0)),), False)
    assert enough.loop_trace([], iterations=2) == LoopTrace((((), ()),) * 3, True)


def test_padding_and_mixed_lengths_in_one_batch(enough, short):
    """One padded batch (empty input included): each row as if run alone."""
    seqs = [[3, 3, 3, 3], [], [1], [0, 2], [2, 0, 1], [3], [0, 0, 0, 0], [1, 3, 2]]
    for model, m in ((enough, M_ENOUGH), (short, M_SHORT)):
        ids, key_mask = model.encode(seqs)
        assert not key_mask.all()
        x = run_planned(model.weights, ids,
                        additive_mask(key_mask, False, ids.shape[1], model.dtype))
        b, t = ids.shape
        final = x.reshape(-1, t, b).transpose(2, 1, 0)
        assert model.decode(final, [len(s) for s in seqs]) == [reference(s, m)[3] for s in seqs]
        assert model.loop_traces(seqs) == [reference_trace(s, m) for s in seqs]
        assert model.run([]) == [] and model.loop_trace([]) == LoopTrace((((), ()),), True)


def test_dropping_halted_sequences_from_the_batch_changes_no_bit(enough, monkeypatch):
    """A plain run drops sequences that halted from its working batch (compaction); a run
    with `observe` keeps the whole batch. The counter is an exact fixed point once halted, so
    the final residuals are equal bit for bit — with padding, and with a causal mask too
    (every head of the counter looks back, so causal weights compute the same)."""
    module = importlib.import_module("theory_kit.model.forward")  # not the function `forward`
    widths = []
    apply = module._apply
    monkeypatch.setattr(module, "_apply", lambda layers, x, *a: (widths.append(x.shape[1]),
                                                                 apply(layers, x, *a)))
    rng = random.Random(1)
    seqs = [rng.choice(_inputs()) for _ in range(300)]
    for weights in (enough.weights, dataclasses.replace(enough.weights, causal=True)):
        ids, key_mask = enough.encode(seqs)
        mask = additive_mask(key_mask, weights.causal, ids.shape[1], weights.dtype)
        widths.clear()
        x = run_planned(weights, ids, mask)
        assert min(widths) < ids.size   # some passes ran on fewer sequences
        assert np.array_equal(x, run_planned(weights, ids, mask, observe=lambda k, x: None))
        model = Model(weights, vocab=TARGETS, max_seq_len=N, bos="BOS", constants={})
        assert model.run_batch(seqs) == [reference(s, M_ENOUGH)[3] for s in seqs]


def test_the_dense_recorded_pass_equals_the_planned_one(enough, short):
    seqs = _inputs(3)
    lengths = [len(s) for s in seqs]
    ids, key_mask = enough.encode(seqs)
    for model, m in ((enough, M_ENOUGH), (short, M_SHORT)):
        trace = model.forward(ids, key_mask)
        passes = max(reference(s, m)[2] for s in seqs)
        assert trace.schedule == (0,) + (1, 2, 3) * passes + (4,)
        assert len(trace.residuals) == 1 + 2 * len(trace.schedule)
        assert len(trace.attention) == len(trace.schedule)
        assert [a.shape[1] for a in trace.attention] == [
            len(model.weights.layers[i].W_Q) for i in trace.schedule]
        assert model.decode(trace.output, lengths) == model.run_batch(seqs)
        fast = forward(model.weights, ids, key_mask, record=False)
        assert fast.schedule == trace.schedule
        np.testing.assert_allclose(fast.output, trace.output, atol=1e-9)
        # exactly n passes, halting ignored
        fixed = model.forward(ids, key_mask, iterations=2)
        assert fixed.schedule == (0, 1, 2, 3, 1, 2, 3, 4)
        assert forward(model.weights, ids, key_mask, record=False,
                       iterations=2).schedule == fixed.schedule
    empty = enough.forward(np.zeros((0, 3), dtype=np.int64))
    assert empty.schedule == (0, 1, 2, 3, 4)
    assert all(r.shape[0] == 0 for r in empty.residuals)


def test_a_loop_free_trace_keeps_its_schedule(enough):
    weights = dataclasses.replace(enough.weights, loop=None)
    ids, key_mask = enough.encode([[1, 2]])
    trace = forward(weights, ids, key_mask)
    assert trace.schedule == tuple(range(5)) and len(trace.residuals) == 11
    assert forward(weights, ids, key_mask, record=False).schedule == tuple(range(5))
    # constructed as before schedules existed
    old = type(trace)(trace.residuals, trace.attention, trace.key_mask, trace.layout)
    assert old.schedule == tuple(range(5))


def test_float32_runs_the_same_loop():
    model = _model(M_SHORT, np.float32)
    assert model.dtype == np.float32 and model.weights.loop.max_iterations == M_SHORT
    seqs = _inputs()
    assert model.run_batch(seqs) == [reference(s, M_SHORT)[3] for s in seqs]
    assert model.loop_traces(seqs) == [reference_trace(s, M_SHORT) for s in seqs]


def test_observe_sees_a_read_only_residual(enough):
    ids, key_mask = enough.encode([[1, 2]])

    def write(k, x):
        x[0, 0] = 5.0

    with pytest.raises(ValueError, match="read-only"):
        run_planned(enough.weights, ids, None, observe=write)


# -- the weights and the schedule ------------------------------------------------------------
def test_loop_is_kept_by_with_readouts_astype_and_reported_by_summary(enough):
    w = enough.weights
    assert w.with_readouts(w.readouts["count"]).loop == w.loop
    assert w.astype(np.float32).loop == w.loop
    s = enough.summary()
    assert s["loop"] == {"looped_layers": [1, 2, 3], "max_iterations": M_ENOUGH,
                         "halt": "halt", "state": ["count", "count_value"],
                         "max_layers_run": 2 + 3 * M_ENOUGH}
    assert "loop=layers[1:4] x <=13" in repr(enough)
    plain = Model(dataclasses.replace(w, loop=None), vocab=TARGETS, max_seq_len=N, bos="BOS",
                  constants={})
    assert "loop" not in plain.summary() and "loop" not in repr(plain)


@pytest.mark.parametrize("kwargs, needles", [
    (dict(start=-1, stop=2, max_iterations=1), ["start must be >= 0, got -1"]),
    (dict(start=2, stop=2, max_iterations=1), ["layers[2:2] is empty"]),
    (dict(start=0, stop=1, max_iterations=0), ["max_iterations must be >= 1, got 0"]),
    (dict(start=True, stop=2.0, max_iterations="3"),
     ["start must be an int, got bool True", "stop must be an int, got float 2.0",
      "max_iterations must be an int, got str '3'"]),
    (dict(start=0, stop=1, max_iterations=1, halt="a.b"), ["halt must be a readout name", "'a.b'"]),
    (dict(start=0, stop=1, max_iterations=1, state="count"), ["state must be a tuple", "'count'"]),
    (dict(start=0, stop=1, max_iterations=1, state=("x", 3, "x")), ["state names", "3"]),
    (dict(start=0, stop=1, max_iterations=1, state=("x", "x")), ["state names repeat x"]),
])
def test_a_malformed_loop_schedule_is_refused_naming_every_problem(kwargs, needles):
    with pytest.raises(InvalidInput, match="LoopSchedule") as info:
        LoopSchedule(**kwargs)
    for needle in needles:
        assert needle in str(info.value), (needle, str(info.value))


def test_a_loop_schedule_is_a_frozen_typed_value():
    loop = LoopSchedule(np.int64(1), 3, 2, state=["a"])
    assert loop == LoopSchedule(1, 3, 2, "halt", ("a",)) and type(loop.start) is int
    assert loop.block == range(1, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        loop.start = 0


def test_weights_refuse_a_loop_that_does_not_fit_them(enough):
    w = enough.weights
    bad_halt = Readout("count_value", w.readouts["count_value"].unembed, "numerical",
                       reachable=TARGETS)
    with pytest.raises(InvalidInput, match="Weights") as info:
        dataclasses.replace(w, loop=LoopSchedule(2, 6, 3, halt="count_value",
                                                 state=("count", "nowhere")))
    message = str(info.value)
    for needle in ["layers[2:6] runs past the 5 layers", "'nowhere'",
                   "halt readout 'count_value' is numerical"]:
        assert needle in message, (needle, message)
    with pytest.raises(InvalidInput, match="'count' has no value True"):
        dataclasses.replace(w, loop=LoopSchedule(1, 4, 3, halt="count"))
    with pytest.raises(InvalidInput, match="loop must be a LoopSchedule or None"):
        dataclasses.replace(w, loop=(1, 4, 3))
    with pytest.raises(InvalidInput, match="halt readout 'halt' is numerical"):
        w.with_readouts(dataclasses.replace(bad_halt, name="halt"))
    # True, not 1: a readout whose values are 0/1 is no halting flag
    ones = Readout("halt", w.readouts["halt"].unembed, values=(0, 1))
    with pytest.raises(InvalidInput, match=r"no value True among its values \[0, 1\]"):
        w.with_readouts(ones)


def test_loop_options_are_refused_where_there_is_no_loop(enough):
    plain = Model(dataclasses.replace(enough.weights, loop=None), vocab=TARGETS, max_seq_len=N,
                  bos="BOS", constants={})
    ids, key_mask = plain.encode([[1]])
    with pytest.raises(InvalidInput, match="loop_traces: this model has no loop"):
        plain.loop_traces([[1]])
    with pytest.raises(InvalidInput, match="no loop"):
        plain.forward(ids, key_mask, iterations=2)
    with pytest.raises(InvalidInput, match="no loop"):
        run_planned(plain.weights, ids, None, observe=print)
    for bad in (-1, True, 1.5):
        with pytest.raises(InvalidInput, match=f"iterations must be an int >= 0.*{bad!r}"):
            enough.loop_traces([[1]], iterations=bad)
    with pytest.raises(InvalidInput, match="probe=True needs observe"):
        run_planned(enough.weights, ids, None, probe=True)
    with pytest.raises(InvalidInput, match="token 7 at position 1"):
        enough.loop_traces([[1], [1, 7]])
    with pytest.raises(InvalidInput, match="expected a list of input sequences"):
        enough.loop_traces("12")
    assert enough.loop_traces([]) == []


# -- model files ---------------------------------------------------------------------------------
def _meta(path):
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("meta.json"))


def test_a_looped_model_saves_as_format_3_and_loads_back(short, tmp_path):
    path = tmp_path / "looped.npz"
    short.save(path)
    meta = _meta(path)
    assert meta["format_version"] == 3
    assert meta["loop"] == {"start": 1, "stop": 4, "max_iterations": M_SHORT, "halt": "halt",
                            "state": ["count", "count_value"]}
    loaded = load(path)
    assert loaded.weights.loop == short.weights.loop
    seqs = _inputs()
    assert loaded.run_batch(seqs) == short.run_batch(seqs)
    assert loaded.loop_traces(seqs) == short.loop_traces(seqs)
    again = tmp_path / "again.npz"
    loaded.save(again)
    assert again.read_bytes() == path.read_bytes()


def test_a_loop_free_model_still_saves_as_format_2(short, tmp_path):
    plain = Model(dataclasses.replace(short.weights, loop=None), vocab=TARGETS, max_seq_len=N,
                  bos="BOS", constants={})
    plain.save(tmp_path / "plain.npz")
    meta = _meta(tmp_path / "plain.npz")
    assert meta["format_version"] == 2 and "loop" not in meta
    assert load(tmp_path / "plain.npz").weights.loop is None




BAD_LOOPS = {
    "not_an_object": (lambda m: m.__setitem__("loop", [1, 4, 5]),
                      ["field 'loop' must be an object with exactly the keys"]),
    "missing_key": (lambda m: m["loop"].pop("state"),
                    ["field 'loop' must be an object", "'state'"]),
    "null_in_format_3": (lambda m: m.__setitem__("loop", None), ["field 'loop' must be"]),
    "missing_in_format_3": (lambda m: m.pop("loop"), ["field 'loop' is missing"]),
    "in_format_2": (lambda m: m.update(format_version=2), ["unknown field(s) ['loop']"]),
    "not_ints": (lambda m: m["loop"].update(start=True, max_iterations=2.5),
                 ["field 'loop.start' must be an int, got True",
                  "field 'loop.max_iterations' must be an int, got 2.5"]),
    "empty_block": (lambda m: m["loop"].update(start=3, stop=3),
                    ["'loop.start' 3 and 'loop.stop' 3 must have 0 <= start < stop"]),
    "past_the_layers": (lambda m: m["loop"].update(stop=9),
                        ["field 'loop.stop' is 9 but field 'n_layers' is 5"]),
    "no_iterations": (lambda m: m["loop"].update(max_iterations=0),
                      ["field 'loop.max_iterations' must be >= 1, got 0"]),
    "unknown_readouts": (lambda m: m["loop"].update(halt="stop", state=["count", "x"]),
                         ["field 'loop' names readouts 'stop', 'x'"]),
    "numerical_halt": (lambda m: m["loop"].update(halt="count_value"),
                       ["field 'loop.halt': the readout 'count_value' is numerical"]),
    "halt_without_true": (lambda m: m["loop"].update(halt="count"),
                          ["field 'loop.halt': the readout 'count' has no value True"]),
    "bad_names": (lambda m: m["loop"].update(halt=3, state="count"),
                  ["field 'loop.halt' must be a readout name, got 3",
                   "field 'loop.state' must be a list of readout names, got 'count'"]),
    "repeated_state": (lambda m: m["loop"].update(state=["count", "count"]),
                       ["field 'loop'", "state names repeat count"]),
}


@pytest.mark.parametrize("case", sorted(BAD_LOOPS))
def test_a_bad_loop_field_is_refused_naming_it(case, short, tmp_path):
    assert_edited_file_refused(short, tmp_path, *BAD_LOOPS[case])
