"""The fast paths of the model agree with the dense reference and with the interpreter.

`forward(record=False)` and `CompiledModel.run_batch` run a cached sparse execution plan on a
feature-major residual, with length buckets, additive masks and C-level encoding/decoding
(theory_kit/model/forward.py, compiled.py). These tests compare them with the dense
`forward(record=True)` pass and with `rasp.evaluate`, on library programs (categorical,
numerical, causal; float32 and float64), on random weights with random sparsity (so the dense
and the CSR branch both run), with mixed lengths in shuffled order, and pin the input errors.
"""

import importlib
import itertools
import random

import numpy as np
import pytest

import theory_kit as tk
from theory_kit import library as lib
from theory_kit import rasp
from theory_kit.compiler.verify import NUMERIC_ATOL, outputs_match
from theory_kit.errors import InvalidInput
from theory_kit.model import compiled as compiled_mod
from theory_kit.model.forward import _Linear, additive_mask, attend, execution_plan, forward
from theory_kit.model.weights import LayerWeights, Readout, ResidualLayout, Weights
from theory_kit.values import ONE, BasisDirection

#: the module (theory_kit.model exports a function named forward)
forward_mod = importlib.import_module("theory_kit.model.forward")

PROGRAMS = {
    "reverse": (lambda n: lib.make_reverse(rasp.tokens), {1, 2, 3}, False),
    "sort": (lambda n: lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=n, min_key=1),
             {1, 2, 3, 4}, False),
    "hist": (lambda n: lib.make_hist(), {"a", "b", "c"}, False),
    "length": (lambda n: lib.make_length(), {"a", "b"}, False),
    "frac_prevs": (lambda n: lib.make_frac_prevs(rasp.tokens == "a"), {"a", "b"}, False),
    "frac_prevs_causal": (lambda n: lib.make_frac_prevs(rasp.tokens == "a"), {"a", "b"}, True),
    "length_causal": (lambda n: lib.make_length(), {"a", "b"}, True),
}
N = 6


@pytest.fixture(scope="module", params=[np.float64, np.float32], ids=["f64", "f32"])
def models(request):
    out = {}
    for name, (make, vocab, causal) in PROGRAMS.items():
        program = make(N)
        model = tk.compile(program, vocab=vocab, max_seq_len=N, causal=causal,
                           dtype=request.param, verify=None)
        out[name] = (program, sorted(vocab), causal, model)
    return out


def _inputs(vocab, n=N, count=150, seed=0):
    """Mixed lengths 0..n (every length present), shuffled."""
    rng = random.Random(seed)
    seqs = [[rng.choice(vocab) for _ in range(rng.randint(0, n))] for _ in range(count)]
    seqs += [[vocab[0]] * k for k in range(n + 1)]
    rng.shuffle(seqs)
    return seqs


def _dense_reference(model, seqs):
    """Decoded outputs of the dense record=True pass (one padded batch)."""
    ids, mask = model.encode(seqs)
    trace = forward(model.weights, ids, mask, record=True)
    return model.decode(trace.output, [len(s) for s in seqs])


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_run_batch_matches_interpreter_and_dense_reference(models, name):
    program, vocab, causal, model = models[name]
    seqs = _inputs(vocab)
    got = model.run_batch(seqs)
    assert got == _dense_reference(model, seqs)
    atol = NUMERIC_ATOL[model.dtype]
    for xs, g in zip(seqs, got):
        assert outputs_match(rasp.evaluate(program, xs, causal=causal), g, atol), (xs, g)
    # the same inputs one by one, and in another order, give the same outputs
    assert [model.run(xs) for xs in seqs[:20]] == got[:20]
    order = list(range(len(seqs)))
    random.Random(1).shuffle(order)
    assert model.run_batch([seqs[i] for i in order]) == [got[i] for i in order]


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_forward_without_record_equals_recorded_residual(models, name):
    _, vocab, _, model = models[name]
    ids, mask = model.encode(_inputs(vocab, count=40))
    dense = forward(model.weights, ids, mask, record=True)
    fast = forward(model.weights, ids, mask, record=False)
    assert fast.output.shape == dense.output.shape and fast.attention == ()
    tol = 1e-12 if model.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(fast.output[mask], dense.output[mask], rtol=0, atol=tol)
    # without a key mask (nothing padded): the additive mask is left out
    ids1, mask1 = model.encode([[vocab[0]] * N, [vocab[-1]] * N])
    assert mask1.all()
    np.testing.assert_allclose(forward(model.weights, ids1, record=False).output,
                               forward(model.weights, ids1, record=True).output, rtol=0, atol=tol)


@pytest.mark.parametrize("per_call", [0.0, 1e9])
def test_bucket_extremes_give_the_same_outputs(models, monkeypatch, per_call):
    # per_call 0: every distinct length its own bucket (no key masks); huge: one padded bucket
    program, vocab, causal, model = models["sort"]
    seqs = _inputs(vocab)
    expected = model.run_batch(seqs)
    costs = model._bucket_costs()
    monkeypatch.setattr(model, "_bucket_costs", lambda: (per_call,) + costs[1:])
    assert model.run_batch(seqs) == expected
    # tiny chunks (memory cap): many chunks per bucket
    monkeypatch.setattr(compiled_mod, "_CHUNK_BYTES", 1)
    assert model.run_batch(seqs) == expected


def test_buckets_partition_sorted_inputs():
    lengths = np.array([0, 0, 1, 3, 3, 3, 7, 9, 9, 40])
    for costs in [(0.0, 1.0, 1.0), (1e9, 1.0, 1.0), (1e-5, 1e-8, 1e-8), (5e-5, 1e-7, 1e-9)]:
        runs = compiled_mod._buckets(lengths, *costs)
        assert runs[0][0] == 0 and runs[-1][1] == len(lengths)
        assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(runs, runs[1:]))
        for lo, hi in runs:  # a bucket never splits one length
            assert lo == 0 or lengths[lo - 1] != lengths[lo]
    assert len(compiled_mod._buckets(lengths, 0.0, 1.0, 1.0)) == len(set(lengths.tolist()))
    assert compiled_mod._buckets(lengths, 1e9, 1.0, 1.0) == [(0, len(lengths))]


def _random_weights(rng, dtype, causal, d=24, layers=3, vocab=5, max_len=7):
    """Random weights whose blocks have every kind of sparsity: dense, very sparse (CSR),
    zero rows/columns, all-zero sublayers, heads without a value read."""
    def sparse(shape, density):
        a = rng.standard_normal(shape) * (rng.random(shape) < density)
        return a

    lws = []
    for i in range(layers):
        h, e, f, m = rng.integers(1, 4), rng.integers(1, 5), rng.integers(1, 4), rng.integers(1, 60)
        density = [1.0, 0.5, 0.05, 0.0][i % 4]
        w_q = sparse((h, d, e), max(density, 0.05))
        w_q[:, : d // 3] = 0  # rows never read
        lw = LayerWeights(W_Q=w_q, W_K=sparse((h, d, e), 0.3), W_V=sparse((h, d, f), 0.3),
                          W_O=sparse((h, f, d), density), W_in=sparse((d, m), density),
                          b_in=rng.standard_normal(m), W_out=sparse((m, d), 0.08),
                          b_out=sparse((d,), 0.2))
        lws.append(lw)
    lws.append(LayerWeights(*(np.zeros((0, d, 0)), np.zeros((0, d, 0)), np.zeros((0, d, 0)),
                              np.zeros((0, 0, d)), sparse((d, 9), 0.2), np.ones(9),
                              sparse((9, d), 0.1), np.zeros(d))))  # MLP only, no heads
    w = Weights(token_embed=rng.standard_normal((vocab, d)),
                pos_embed=rng.standard_normal((max_len + 1, d)),
                layers=tuple(lws), tokens=("BOS",) + tuple(range(vocab - 1)),
                layout=ResidualLayout(tuple((BasisDirection("r", i),) for i in range(d))),
                readouts={"output": Readout("output", sparse((d, 4), 0.3), "categorical",
                                            (0, 1, 2, 3))}, causal=causal)
    return w if dtype == np.float64 else w.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("causal", [False, True])
def test_planned_forward_on_random_sparse_weights(dtype, causal):
    rng = np.random.default_rng(7)
    w = _random_weights(rng, dtype, causal)
    plan = execution_plan(w)
    assert execution_plan(w) is plan  # cached
    kinds = {lin.sparse for att, mlp in plan.layers for blk in (att, mlp) if blk is not None
             for lin in vars(blk).values() if isinstance(lin, _Linear)}
    assert kinds == {True, False}  # both branches exercised
    b, t = 9, 8
    ids = rng.integers(1, 5, size=(b, t))
    ids[:, 0] = 0
    lengths = rng.integers(0, t, size=b)
    mask = np.arange(t)[None, :] <= lengths[:, None]
    dense = forward(w, ids, mask, record=True).output
    fast = forward(w, ids, mask, record=False).output
    scale = np.abs(dense).max()
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(fast[mask], dense[mask], rtol=0, atol=tol * scale)
    # the model built on these weights decodes like the dense reference
    model = compiled_mod.CompiledModel(w, vocab=frozenset(range(4)), max_seq_len=t - 1,
                                       bos="BOS", constants={}, output_value_set=None)
    rng_py = random.Random(3)
    seqs = [[rng_py.randrange(4) for _ in range(rng_py.randint(0, t - 1))] for _ in range(50)]
    assert model.run_batch(seqs) == _dense_reference(model, seqs)


def test_plan_skips_sublayers_that_write_nothing():
    rng = np.random.default_rng(0)
    w = _random_weights(rng, np.float64, False, layers=4)  # layer 3: W_O, W_in all zero
    att, mlp = execution_plan(w).layers[3]
    assert att is None  # writes nothing: skipped
    assert mlp.reads.size == 0 and mlp.w_in.shape[1] == 0  # reads nothing (only b_in counts)
    assert execution_plan(w).layers[4][0] is None  # no heads


def test_encode_matches_straightforward_encoding(models):
    _, vocab, _, model = models["hist"]
    seqs = [list("abc"), ("a", "b"), "cab", [], range(0), "a"]
    ids, mask = model.encode(seqs)
    assert ids.shape == mask.shape == (len(seqs), 4)
    tid = {t: i for i, t in enumerate(model.weights.tokens)}
    for row, m, s in zip(ids, mask, seqs):
        s = list(s)
        assert row.tolist() == [0] + [tid[x] for x in s] + [0] * (3 - len(s))
        assert m.tolist() == [True] * (len(s) + 1) + [False] * (3 - len(s))
    assert model.run_batch(seqs) == [rasp.evaluate(lib.make_hist(), list(s)) for s in seqs]
    assert model.run_batch(x for x in seqs) == model.run_batch(seqs)
    assert model.run_batch([]) == []
    ids, mask = model.encode([])
    assert ids.shape == (0, 1) and mask.shape == (0, 1)


def test_bad_inputs_raise_the_precise_error(models):
    _, vocab, _, model = models["hist"]
    cases = [
        ([["a"], ["a", "z"]], r"input 1: token 'z' at position 1 is not in the vocabulary"),
        ([["a"], ["a"] * (N + 1)], rf"input 1: input of length {N + 1} is longer than "
                                   rf"max_seq_len {N}"),
        ([["a"], 5], r"input 1: the input must be a sequence"),
        ([["a"], ["BOS"]], r"input 1: token 'BOS' at position 0 is not in the vocabulary"),
        ([["a", ["b"]]], r"input 0: token \['b'\] at position 1 is unhashable"),
        ([["a"], [None]], r"input 1: token at position 0 is None"),
        ([{"a": 1}], r"input 0: the input must be a sequence"),
        ([b"ab"], r"input 0: the input must be a sequence"),
    ]
    for seqs, message in cases:
        for call in (model.run_batch, model.encode):
            with pytest.raises(InvalidInput, match=message):
                call(seqs)
    with pytest.raises(InvalidInput, match="run_batch: expected a list of input sequences"):
        model.run_batch("ab")


def test_decode_public_path_unchanged(models):
    # `decode` on a [B, T, D] residual agrees with the planned decoding inside run_batch
    for name in ("sort", "frac_prevs"):
        _, vocab, _, model = models[name]
        seqs = _inputs(vocab, count=30)
        ids, mask = model.encode(seqs)
        final = forward(model.weights, ids, mask, record=False).output
        assert model.decode(final, [len(s) for s in seqs]) == model.run_batch(seqs)


def test_numerical_outputs_are_snapped_like_decode(models):
    program, vocab, causal, model = models["frac_prevs"]
    seqs = [list(p) for k in range(1, 5) for p in itertools.product(vocab, repeat=k)]
    got = model.run_batch(seqs)
    for xs, g in zip(seqs, got):
        assert all(isinstance(v, float) for v in g)
        assert outputs_match(rasp.evaluate(program, xs, causal=causal), g,
                             NUMERIC_ATOL[model.dtype])


@pytest.mark.parametrize("written", [False, True])
def test_hidden_biases_fold_into_the_constant_one_row(written):
    """A residual row labelled "one" that is provably 1 everywhere carries the MLP biases
    (one elementwise pass fewer); a row that some layer writes is not trusted."""
    rng = np.random.default_rng(11)
    w = _random_weights(rng, np.float64, False)
    token_embed = w.token_embed.copy()
    pos_embed = w.pos_embed.copy()
    token_embed[:, 0], pos_embed[:, 0] = 1.0, 0.0
    layers = []
    for lw in w.layers:
        arrays = {name: getattr(lw, name).copy() for name in LayerWeights.ARRAYS}
        arrays["W_O"][:, :, 0] = 0.0
        arrays["W_out"][:, 0] = 0.0
        arrays["b_out"][0] = 0.0
        layers.append(arrays)
    if written:
        layers[0]["W_out"][0, 0] = 0.5  # the first hidden unit writes into "one"
    w = Weights(token_embed=token_embed, pos_embed=pos_embed,
                layers=tuple(LayerWeights(**a) for a in layers), tokens=w.tokens,
                layout=ResidualLayout(((ONE,),) + w.layout.dims[1:]), readouts=w.readouts,
                causal=False)
    mlps = [mlp for _, mlp in execution_plan(w).layers if mlp is not None]
    assert all((mlp.b_in is None) != written for mlp in mlps)
    b, t = 9, 8
    ids = rng.integers(1, 5, size=(b, t))
    ids[:, 0] = 0
    dense = forward(w, ids, record=True).output
    fast = forward(w, ids, record=False).output
    np.testing.assert_allclose(fast, dense, rtol=0, atol=1e-12 * np.abs(dense).max())


def _attention_layer(rng, d=20, f=3):
    """A layer of four heads whose bilinear forms take every shape `_logit_factors` knows:
    W_K reads fewer rows than E (folded onto the key rows), W_Q reads fewer (folded onto the
    query rows), E is smallest (the weights as they are), and a head that reads nothing."""
    e = 8
    w_q = rng.standard_normal((4, d, e))
    w_k = rng.standard_normal((4, d, e))
    w_k[0, 3:] = 0          # head 0: keys read 3 rows < E
    w_q[1, :5] = 0
    w_q[1, 10:] = 0         # head 1: queries read 5 rows < E
    w_q[3] = w_k[3] = 0     # head 3: no logits (uniform attention)
    return LayerWeights(W_Q=w_q, W_K=w_k, W_V=rng.standard_normal((4, d, f)),
                        W_O=rng.standard_normal((4, f, d)), W_in=np.zeros((d, 0)),
                        b_in=np.zeros(0), W_out=np.zeros((0, d)), b_out=np.zeros(d))


def test_logit_factors_give_each_head_its_bilinear_form():
    rng = np.random.default_rng(5)
    lw = _attention_layer(rng)
    att = forward_mod._attention_plan(lw)
    factors = att.factors.matrix.toarray() if att.factors.sparse else att.factors.matrix
    reads = att.factor_reads.idx
    d = lw.W_Q.shape[1]

    def side(src):   # [r, D]: what the side computes from a residual column
        if isinstance(src, forward_mod._Rows):
            return np.eye(d)[src.idx]
        out = np.zeros((src.stop - src.start, d))
        out[:, reads] = factors[src]
        return out

    kinds = []
    for j in range(4):
        p, q = side(att.key_sides[j]), side(att.query_sides[j])
        kinds.append((type(att.key_sides[j]).__name__, type(att.query_sides[j]).__name__,
                      len(p)))
        np.testing.assert_allclose(p.T @ q, lw.W_K[j] @ lw.W_Q[j].T, rtol=0, atol=1e-12)
    assert kinds == [("_Rows", "slice", 3), ("slice", "_Rows", 5), ("slice", "slice", 8),
                     ("_Rows", "slice", 0)]
    h, f = lw.W_V.shape[0], lw.W_V.shape[2]
    w_v = np.zeros((h * f, d))
    w_v[:, att.reads.idx] = att.qkv.matrix[-h * f:]
    np.testing.assert_array_equal(factors[len(factors) - h * f:], w_v[:, reads])


@pytest.mark.parametrize("t", [1, 2, 9, 16, 20])
@pytest.mark.parametrize("masking", ["none", "keys", "causal", "both"])
@pytest.mark.parametrize("first", [0, 1])
def test_planned_attention_equals_attend(t, masking, first):
    """`_attend_planned` (batch-last up to _BATCH_LAST_MAX_T positions, batch-major beyond;
    folded logits) adds what `attend` mixes from the unfolded W_Q, W_K, W_V, at the queries
    first..T-1, and leaves the other columns as they were."""
    assert forward_mod._BATCH_LAST_MAX_T < 20
    rng = np.random.default_rng(t * 10 + first)
    lw = _attention_layer(rng)
    att = forward_mod._attention_plan(lw)
    b, d = 13, lw.W_Q.shape[1]
    x = rng.standard_normal((d, t * b))                 # position-major: column t*B + b
    lengths = rng.integers(0, t, size=b)
    key_mask = None if masking in ("none", "causal") else np.arange(t)[None, :] <= lengths[:, None]
    mask = additive_mask(key_mask, masking in ("causal", "both"), t, np.float64)
    xs = x.reshape(d, t, b).transpose(2, 1, 0)          # [B, T, D]
    q = np.einsum("btd,hde->bhet", xs, lw.W_Q)
    k = np.einsum("btd,hde->bhte", xs, lw.W_K)
    v = np.einsum("btd,hdf->bhft", xs, lw.W_V)
    mixed = attend(k, q, v, mask)                       # [B, H, F, query]
    added = np.einsum("bhfq,hfd->dqb", mixed, lw.W_O).reshape(d, t * b)
    got = x.copy()
    forward_mod._attend_planned(att, got, mask, b, t, first)
    np.testing.assert_array_equal(got[:, :first * b], x[:, :first * b])
    np.testing.assert_allclose(got[:, first * b:], (x + added)[:, first * b:], rtol=0,
                               atol=1e-10)


def _first_layer_weights(rng, scale, vocab=5, max_len=7, causal=False):
    """Weights whose layer 0 is `_attention_layer` with W_Q scaled by `scale`."""
    lw = _attention_layer(rng)
    lw = LayerWeights(W_Q=lw.W_Q * scale, W_K=lw.W_K, W_V=lw.W_V, W_O=lw.W_O, W_in=lw.W_in,
                      b_in=lw.b_in, W_out=lw.W_out, b_out=lw.b_out)
    d = lw.W_Q.shape[1]
    return Weights(token_embed=rng.standard_normal((vocab, d)),
                   pos_embed=rng.standard_normal((max_len + 1, d)), layers=(lw,),
                   tokens=("BOS",) + tuple(range(vocab - 1)),
                   layout=ResidualLayout(tuple((BasisDirection("r", i),) for i in range(d))),
                   readouts={"output": Readout("output", np.eye(d)[:, :4], "categorical",
                                               (0, 1, 2, 3))}, causal=causal)


@pytest.mark.parametrize("masking", ["none", "keys", "causal", "both"])
@pytest.mark.parametrize("first", [0, 1])
def test_first_layer_table_equals_planned_attention(masking, first):
    """Layer 0 reads the embedding alone, so `_attend_first` looks its softmax weights up in
    a table over (key, query) embedding codes; it adds what `_attend_planned` adds."""
    rng = np.random.default_rng(17)
    w = _first_layer_weights(rng, 0.02)
    plan = execution_plan(w)
    assert plan.first_weights is not None and plan.first_weights[1].shape == (4, 40, 40)
    b, t = 11, 8
    ids = rng.integers(0, 5, size=(b, t))
    ids[:, 0] = 0
    lengths = rng.integers(0, t, size=b)
    key_mask = None if masking in ("none", "causal") else np.arange(t)[None, :] <= lengths[:, None]
    mask = additive_mask(key_mask, masking in ("causal", "both"), t, np.float64)
    att = plan.layers[0][0]
    x = forward_mod._embed(plan, ids)
    want, got = x.copy(), x.copy()
    forward_mod._attend_planned(att, want, mask, b, t, first)
    forward_mod._attend_first(att, plan.first_weights, ids, got, mask, first)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_first_layer_table_only_where_it_is_safe(monkeypatch):
    rng = np.random.default_rng(17)
    # logits spread too far: the BOS key's weight could underflow; too many codes
    assert execution_plan(_first_layer_weights(rng, 50.0)).first_weights is None
    assert execution_plan(_first_layer_weights(rng, 0.02, vocab=20, max_len=15)
                          ).first_weights is None
    # a batch whose column 0 is not BOS skips the table (its safety rests on the BOS key)
    w = _first_layer_weights(rng, 0.02)
    assert execution_plan(w).first_weights is not None
    calls = []
    attend_first = forward_mod._attend_first
    monkeypatch.setattr(forward_mod, "_attend_first",
                        lambda *a: (calls.append(a[2][:, 0].copy()), attend_first(*a)))
    key_mask = np.ones((6, 8), dtype=bool)
    for column0 in (0, 1):
        ids = rng.integers(1, 5, size=(6, 8))
        ids[:, 0] = column0
        calls.clear()
        dense = forward(w, ids, key_mask, record=True).output
        fast = forward(w, ids, key_mask, record=False).output
        np.testing.assert_allclose(fast, dense, rtol=0, atol=1e-10 * np.abs(dense).max())
        assert len(calls) == (1 if column0 == 0 else 0)   # the table: BOS batches only


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_skipping_bos_changes_no_output_column(models, name):
    """run_planned(bos=False) (what run_batch runs) skips the sublayers whose output at BOS
    nothing reads (`Plan.bos_needed`); every other column is the full pass's."""
    _, vocab, _, model = models[name]
    seqs = _inputs(vocab, count=60)
    ids, key_mask = model.encode(seqs)
    w = model.weights
    mask = additive_mask(key_mask, w.causal, ids.shape[1], w.dtype)
    full = forward_mod.run_planned(w, ids, mask)
    skip = forward_mod.run_planned(w, ids, mask, bos=False)
    b = ids.shape[0]
    tol = 1e-12 if model.dtype == np.float64 else 1e-5
    np.testing.assert_allclose(skip[:, b:], full[:, b:], rtol=0, atol=tol * np.abs(full).max())


def test_bos_needed_follows_what_later_sublayers_read(models):
    """make_sort's last attention reads target_pos as its keys, at BOS too: everything before
    it is needed at BOS; its own queries are not (the readout reads no BOS column)."""
    _, _, _, model = models["sort"]
    plan = execution_plan(model.weights)
    assert plan.bos_needed[-1] == (False, False)
    assert all(att is None or needed
               for (att, _), (needed, _) in zip(plan.layers[:-1], plan.bos_needed[:-1]))
    # a model whose readout reads a row only an MLP at the end writes: that MLP skips BOS
    rng = np.random.default_rng(2)
    w = _random_weights(rng, np.float64, False)
    needed = execution_plan(w).bos_needed
    assert needed[-1] == (False, False)       # MLP-only last layer: nothing reads its BOS
    assert needed[0][0]                       # layer 0's attention: read at BOS later


def test_equal_length_inputs_take_the_consecutive_path(models):
    """All inputs of one length: no sort, chunks are ranges; outputs in input order."""
    _, vocab, _, model = models["sort"]
    rng = random.Random(4)
    seqs = [[rng.choice(vocab) for _ in range(N)] for _ in range(300)]
    chunks = list(model._batches(seqs))
    assert all(isinstance(pos, range) for pos, *_ in chunks)
    assert model.run_batch(seqs) == [model.run(xs) for xs in seqs]
    assert model.run_batch([[]] * 3) == [[], [], []]


def test_int_vocabulary_token_table_matches_the_dict_lookup(models, monkeypatch):
    # the table path (int vocabulary) gives the ids of the per-token lookup, and falls back
    # to the precise errors for anything it cannot map
    _, vocab, _, compiled = models["sort"]
    model = compiled.model
    assert model._int_ids is not None
    seqs = _inputs(vocab, count=200) + [(4, 3), [1] * N]
    table_ids = model._token_ids(seqs)
    monkeypatch.setattr(model, "_int_ids", None)
    dict_ids = model._token_ids(seqs)
    monkeypatch.undo()
    for a, b in zip(table_ids, dict_ids):
        assert a.dtype == b.dtype and a.tolist() == b.tolist()
    for bad, message in [([[1, 2, 99]], "token 99 at position 2 is not in the vocabulary"),
                         ([[1], [0]], "input 1: token 0 at position 0 is not in the vocab"),
                         ([[True, 2]], "token True at position 0 is not in the vocabulary"),
                         ([[2, 1.0]], "token 1.0 at position 1 is not in the vocabulary"),
                         ([[2 ** 70]], f"token {2 ** 70} at position 0 is not in the voc"),
                         ([[-3]], "token -3 at position 0 is not in the vocabulary")]:
        with pytest.raises(InvalidInput, match=message):
            model.run_batch(bad)
    # a vocabulary of ints too far apart for a table keeps the dict lookup
    wide = tk.compile(lib.make_length(), vocab={0, 10 ** 9}, max_seq_len=3, verify=None)
    assert wide.model._int_ids is None
    assert wide.run_batch([[0, 10 ** 9], [10 ** 9]]) == [[2, 2], [1]]


@pytest.mark.parametrize("k", [0, 1, 2, 4, 16, 17, 40])
def test_best_column_follows_the_argmax_rule(k):
    # the comparison loop (k <= 16) and argmax (beyond) give the first maximum when it is
    # >= 1/2, else k; ties, NaN, +-inf, along either axis
    from theory_kit.model.weights import _best_column

    rng = np.random.default_rng(k)
    scores = rng.choice(np.array([0.0, 0.25, 0.5, 0.75, 1.0, np.inf, -np.inf, np.nan],
                                 dtype=np.float32), size=(k, 300, 5), p=[.2, .2, .15, .15, .2,
                                                                         .04, .03, .03])
    for axis in (0, 1, 2):
        s = np.moveaxis(scores, 0, axis)
        got = _best_column(s, axis)
        if k:
            arg = np.argmax(scores, axis=0)
            top = np.take_along_axis(scores, arg[None], 0)[0]
            want = np.where(top >= 0.5, arg, k)
        else:
            want = np.zeros((300, 5), dtype=np.intp)
        assert got.shape == want.shape and (got == want).all()


def test_relu_inplace_equals_maximum_with_zero():
    relu = forward_mod.relu_inplace
    rng = np.random.default_rng(1)
    for shape in [(5,), (3, 7), (2, 3, 4), (4, 3000), (0, 3)]:
        for dtype in (np.float32, np.float64):
            a = rng.normal(size=shape).astype(dtype)
            if a.size:
                a.flat[0] = np.nan
            want = np.maximum(a, 0)
            relu(a)
            np.testing.assert_array_equal(a, want)


def test_run_batch_restores_the_garbage_collector_state(models):
    import gc

    _, vocab, _, model = models["sort"]
    assert gc.isenabled()
    model.run_batch([[1, 2]])
    assert gc.isenabled()
    with pytest.raises(InvalidInput):
        model.run_batch([[1, 2], [7]])
    assert gc.isenabled()
    gc.disable()
    try:
        model.run_batch([[1, 2]])
        assert not gc.isenabled()
    finally:
        gc.enable()
