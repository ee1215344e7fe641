"""Incremental autoregressive decoding with cached keys and values (issue 15 item 2):
`Model.start_decoding`, `IncrementalState.extend`, `Model.decoder`, `Model.next_tokens_full`.

For causal compiled models (library programs that compile causally, and hand-written causal
programs long enough for the many-key softmax path), random prompts of mixed lengths extended
one token and several tokens at a time: the next tokens equal full recomputation at every step
and the new positions' residuals equal the planned forward pass of the whole sequences (within
1e-9 in float64, 1e-4 in float32)."""

from __future__ import annotations

import dataclasses
import functools
import random
import zlib

import numpy as np
import pytest

import theory_kit as tk
from theory_kit import rasp
from theory_kit.errors import InvalidInput
from theory_kit.library import LOOPED_PROGRAMS, PROGRAMS, shift_by
from theory_kit.model import FullDecoder, IncrementalDecoder, IncrementalState, Model
from theory_kit.model.forward import forward

TOL = {np.float64: 1e-9, np.float32: 1e-4}
#: library programs whose causal evaluation is their prefix semantics (any causal model would
#: do; these are the ones a decoder is meant for)
CAUSAL_LIBRARY = sorted(name for name, spec in PROGRAMS.items() if spec.causal_safe)
V = 5


def _fib(v: int = V) -> rasp.SOp:
    """(token + previous token) mod v; None at the first position."""
    return rasp.SequenceMap(lambda x, p: x if p is None else (x + p) % v, rasp.tokens,
                            shift_by(1, rasp.tokens)).named("fib")


def _prefix_mean() -> rasp.SOp:
    """Numerical: the mean of the tokens at positions <= i (under the causal mask: of the
    whole input too)."""
    values = rasp.numerical(rasp.Map(lambda x: x, rasp.tokens)).named("values")
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    return rasp.numerical(rasp.Aggregate(prevs, values, default=0)).named("prefix_mean")


def _copy_first() -> rasp.SOp:
    """The first token, copied to every position (a head attending one key far back)."""
    first = rasp.Select(rasp.indices, rasp.indices, lambda k, q: k == 0)
    return rasp.Aggregate(first, rasp.tokens, default=None).named("copy_first")


HAND = {"fib": (_fib, tuple(range(V)), 24), "prefix_mean": (_prefix_mean, (0, 1, 2, 3), 20),
        "copy_first": (_copy_first, ("a", "b", "c"), 24)}


@functools.lru_cache(maxsize=None)
def compiled(name: str, dtype=np.float64, causal: bool = True) -> Model:
    if name in HAND:
        build, vocab, n = HAND[name]
        program = build()
    else:
        spec = PROGRAMS[name]
        program, vocab, n = spec(), spec.vocab, spec.max_seq_len
    return tk.compile(program, vocab=set(vocab), max_seq_len=n, causal=causal, dtype=dtype,
                      verify=None).model


def vocab_of(model: Model) -> list:
    return sorted(model.vocab, key=repr)


def full_residuals(model: Model, seqs: list) -> np.ndarray:
    ids, key_mask = model.encode(seqs)
    return forward(model.weights, ids, key_mask, record=False).output    # [B, T, D]


def check_random_extensions(model: Model, seed: int, *, rows: int = 6, steps: int = 6,
                            max_chunk: int = 4) -> int:
    """Random prompts (empty ones included), then `steps` random extensions of random rows by
    0..max_chunk tokens; every step compared with full recomputation. Returns the number of
    positions whose residual was compared."""
    rng = random.Random(seed)
    vocab, n = vocab_of(model), model.max_seq_len
    tol = TOL[model.dtype.type]
    prompts = [[rng.choice(vocab) for _ in range(rng.randint(0, min(n // 2, 6)))]
               for _ in range(rows)]
    state, nxt = model.start_decoding(prompts)
    assert nxt == model.next_tokens_full(prompts)
    compared = 0
    for step in range(steps):
        room = [n - k for k in state.lengths]
        chosen = [r for r in range(rows) if room[r] and rng.random() < 0.7]
        rng.shuffle(chosen)
        appended = [[rng.choice(vocab) for _ in range(rng.randint(0, min(room[r], max_chunk)))]
                    for r in chosen]
        before = state.sequences
        if step % 2:
            got = state.extend(chosen, appended)
            res = None
        else:
            res = state.extend_residuals(chosen, appended)
            got = state.next_tokens(chosen)
        seqs = state.sequences
        for r, xs in zip(chosen, appended):
            assert seqs[r] == before[r] + xs
        assert state.lengths == [len(s) for s in seqs]
        assert got == model.next_tokens_full([seqs[r] for r in chosen])
        assert state.next_tokens() == model.next_tokens_full(seqs)
        if res is not None:
            full = full_residuals(model, seqs)
            for r, new in zip(chosen, res):
                k, length = len(new), len(seqs[r])
                assert new.shape == (k, model.weights.residual_width)
                assert new.dtype == model.dtype
                if k:
                    np.testing.assert_allclose(new, full[r, length - k + 1:length + 1],
                                               rtol=0, atol=tol)
                    compared += k
        # the cached last residuals are the full pass's at each row's last position
        full = full_residuals(model, seqs)
        last = full[np.arange(rows), [len(s) for s in seqs]]
        np.testing.assert_allclose(state.last_residual, last, rtol=0, atol=tol)
    return compared


# -- equality with full recomputation ----------------------------------------------------------
@pytest.mark.parametrize("name", CAUSAL_LIBRARY)
def test_library_programs_match_full_recomputation(name):
    assert check_random_extensions(compiled(name), seed=zlib.crc32(name.encode())) > 0


@pytest.mark.parametrize("name", ["fib", "prefix_mean", "copy_first", "induction", "add",
                                  "frac_prevs"])
def test_float32_matches_full_recomputation(name):
    model = compiled(name, np.float32)
    assert model.dtype == np.float32
    assert check_random_extensions(model, seed=1) > 0


@pytest.mark.parametrize("name", sorted(HAND))
def test_long_sequences_one_and_several_tokens(name):
    """Lengths past 16 keys (the other softmax reduction) and the cache growing by doubling,
    extended one token and several at a time."""
    model = compiled(name)
    check_random_extensions(model, seed=2, rows=5, steps=10, max_chunk=8)
    rng = random.Random(3)
    vocab, n = vocab_of(model), model.max_seq_len
    state, _ = model.start_decoding([[rng.choice(vocab)] for _ in range(3)])
    capacities = []
    while min(state.lengths) < n:
        rows = [r for r in range(3) if state.lengths[r] < n]
        appended = [[rng.choice(vocab)] * (1 if r else min(3, n - state.lengths[r]))
                    for r in rows]
        assert state.extend(rows, appended) == model.next_tokens_full(
            [state.sequences[r] for r in rows])
        capacities.append(state.capacity)
    assert capacities == sorted(capacities) and capacities[-1] <= n + 1
    assert state.lengths == [n] * 3


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_autoregressive_generation_equals_full_decoder(dtype):
    """Greedy generation (each next token appended) of mixed-length prompts: the incremental
    and the full-recomputation decoders produce the same tokens."""
    model = compiled("fib", dtype)
    rng = random.Random(4)
    prompts = [[rng.randrange(V) for _ in range(k)] for k in (2, 2, 5, 9, 3)]
    inc, full = model.decoder(), model.decoder(incremental=False)
    assert isinstance(inc, IncrementalDecoder) and isinstance(full, FullDecoder)
    first = inc.start(prompts)
    assert first == full.start(prompts)
    nxt = dict(enumerate(first))
    while True:
        rows = [r for r, s in enumerate(inc.sequences) if len(s) < model.max_seq_len]
        if not rows:
            break
        rng.shuffle(rows)
        appended = [[nxt[r]] for r in rows]
        got = inc.extend(rows, appended)
        assert got == full.extend(rows, appended)
        nxt.update(zip(rows, got))
    assert inc.sequences == full.sequences
    for s, p in zip(inc.sequences, prompts):   # fib, generated: each token the sum of two
        assert s[:len(p)] == p and len(s) == model.max_seq_len
        assert all(s[i] == (s[i - 1] + s[i - 2]) % V for i in range(max(2, len(p)), len(s)))


def test_several_tokens_at_once_equal_one_at_a_time():
    model = compiled("prefix_mean")
    one, _ = model.start_decoding([[1, 2], [3]])
    many, _ = model.start_decoding([[1, 2], [3]])
    extra = [[0, 3, 1], [2, 2, 2, 1]]
    for r, xs in enumerate(extra):
        for x in xs:
            last = one.extend([r], [[x]])
        assert many.extend([r], [xs]) == last
    np.testing.assert_allclose(one.last_residual, many.last_residual, rtol=0, atol=1e-12)
    assert one.sequences == many.sequences == [[1, 2, 0, 3, 1], [3, 2, 2, 2, 1]]


def test_empty_prompts_rows_and_lists():
    model = compiled("fib")
    state, nxt = model.start_decoding([[], [1, 1]])
    assert nxt == [None, 2] == model.next_tokens_full([[], [1, 1]])
    assert state.lengths == [0, 2]
    assert state.extend([], []) == []
    assert state.extend([1, 0], [[], []]) == [2, None]        # nothing appended
    assert state.extend([0], [[2]]) == [None]                 # fib is None at position 0
    assert state.extend([0, 1], [[4], [3]]) == [(2 + 4) % V, (1 + 3) % V]
    assert state.sequences == [[2, 4], [1, 1, 3]]
    empty, nothing = model.start_decoding([])
    assert nothing == [] and empty.batch_size == 0
    # a state of empty sequences, extended, is the state started from the prompts
    fresh = IncrementalState(model, 2)
    assert fresh.lengths == [0, 0] and fresh.next_tokens() == [None, None]
    assert fresh.extend([1, 0], [[1, 1, 3], [2, 4]]) == [(1 + 3) % V, (2 + 4) % V]
    np.testing.assert_allclose(fresh.last_residual, state.last_residual, rtol=0, atol=1e-12)
    with pytest.raises(InvalidInput, match="batch must be an int >= 0"):
        IncrementalState(model, -1)


def test_numerical_output_is_snapped_like_run_batch():
    model = compiled("prefix_mean")
    seqs = [[1, 2, 2], [3, 0, 0, 1, 1, 1, 0]]
    state, nxt = model.start_decoding(seqs)
    expected = [out[-1] for out in model.run_batch(seqs)]
    assert nxt == expected == [5 / 3, 6 / 7]
    assert all(type(x) is float for x in nxt)


def test_next_tokens_full_is_the_last_position_of_run_batch():
    for name, causal in [("fib", True), ("hist", False), ("mean", True)]:
        model = compiled(name, causal=causal)
        rng = random.Random(5)
        vocab = vocab_of(model)
        seqs = [[rng.choice(vocab) for _ in range(rng.randint(0, model.max_seq_len))]
                for _ in range(40)]
        assert model.next_tokens_full(seqs) == [o[-1] if o else None
                                                for o in model.run_batch(seqs)]


def test_numpy_tokens_and_compilation_delegation():
    comp = tk.compile(_fib(), vocab=set(range(V)), max_seq_len=8, causal=True, verify=None)
    state, nxt = comp.start_decoding([[np.int64(1), 2], (3,)])
    assert nxt == comp.next_tokens_full([[1, 2], [3]])
    state.extend([0], [[np.int64(4)]])
    assert state.sequences == [[1, 2, 4], [3]]
    assert all(type(x) is int for s in state.sequences for x in s)
    assert isinstance(state, IncrementalState)
    assert comp.decoder().start([[1, 2]]) == [3]


def test_full_decoder_serves_non_causal_and_looped_models():
    model = compiled("hist", causal=False)
    dec = model.decoder(incremental=False)
    assert dec.start([["a", "b"], ["a"]]) == [1, 1]
    assert dec.extend([1], [["a", "a"]]) == [3]
    assert dec.sequences == [["a", "b"], ["a", "a", "a"]]


# -- refusals ----------------------------------------------------------------------------------
def looped_causal_model() -> Model:
    spec = LOOPED_PROGRAMS["parity_loop"]
    model = tk.compile(spec.at(max_seq_len=4), vocab=set(spec.vocab), max_seq_len=4,
                       verify=None).model
    weights = dataclasses.replace(model.weights, causal=True)
    return Model(weights, vocab=model.vocab, max_seq_len=model.max_seq_len, bos=model.bos,
                 constants=model.constants)


def test_refuses_non_causal_and_looped_models():
    model = compiled("fib", causal=False)
    for call in (lambda: model.start_decoding([[1]]), model.decoder,
                 lambda: IncrementalState(model, 1)):
        with pytest.raises(InvalidInput, match=r"not causal.*full recomputation"):
            call()
    looped = looped_causal_model()
    with pytest.raises(InvalidInput, match=r"looped.*not supported"):
        looped.start_decoding([[0, 1]])
    with pytest.raises(InvalidInput, match="looped"):
        looped.decoder()
    # full recomputation serves it
    seqs = [[0, 1, 1], [1]]
    assert looped.decoder(incremental=False).start(seqs) == looped.next_tokens_full(seqs) \
        == [o[-1] for o in looped.run_batch(seqs)]


def test_refuses_bad_tokens_lengths_and_rows_without_changing_the_state():
    model = compiled("fib")                  # vocab 0..4, max_seq_len 24
    n = model.max_seq_len
    with pytest.raises(InvalidInput, match=r"prompt 1.*token 7 at position 1 is not in the "
                                           r"vocabulary"):
        model.start_decoding([[1], [2, 7]])
    with pytest.raises(InvalidInput, match=rf"prompt 0 would have length {n + 1} .*longer than "
                                           rf"max_seq_len {n}"):
        model.start_decoding([[1] * (n + 1)])
    with pytest.raises(InvalidInput, match="expected a list of prompts"):
        model.start_decoding("123")
    with pytest.raises(InvalidInput, match="no readout named 'nope'"):
        model.start_decoding([[1]], readout="nope")
    state, _ = model.start_decoding([[1] * (n - 2), [2]])
    before = (state.sequences, state.last_residual.copy(), state.capacity)
    cases = [
        (([1], [[True]]), r"row 1.*token True"),
        (([1], [[1.0]]), r"row 1.*token 1.0"),
        (([0, 1], [[1], ["x"]]), r"row 1.*token 'x' at position 0 is not in the vocabulary"),
        (([0], [[1, 2, 3]]), rf"row 0 would have length {n + 1} \({n - 2} \+ 3 appended "
                             rf"tokens\), longer than max_seq_len {n}"),
        (([1, 0], [[1], [1, 2, 3]]), rf"row 0 would have length {n + 1}"),
        (([2], [[1]]), r"row 2 is out of range; the state has 2 row"),
        (([-1], [[1]]), r"row -1 is out of range"),
        (([0, 0], [[1], [1]]), r"rows \[0\] appear more than once"),
        ((["0"], [[1]]), r"row index '0' \(str\) is not an int"),
        (([True], [[1]]), r"is not an int"),
        (([0, 1], [[1]]), r"2 row\(s\) but 1 token list"),
        (([0], "1"), r"expected a list of token sequences"),
        (([0], [5]), r"row 0: the input must be a sequence"),
        ((0, [[1]]), r"rows must be a sequence"),
    ]
    for (rows, appended), pattern in cases:
        with pytest.raises(InvalidInput, match=pattern):
            state.extend(rows, appended)
        with pytest.raises(InvalidInput, match=pattern):
            state.extend_residuals(rows, appended)
    assert state.sequences == before[0] and state.capacity == before[2]
    np.testing.assert_array_equal(state.last_residual, before[1])
    assert state.extend([0], [[1, 2]]) == model.next_tokens_full([[1] * (n - 2) + [1, 2]])
    with pytest.raises(InvalidInput, match=rf"row 0 would have length {n + 1} \({n} \+ 1"):
        state.extend([0], [[1]])
    for dec in (model.decoder(), model.decoder(incremental=False)):
        with pytest.raises(InvalidInput, match=r"call start\(prompts\) first"):
            dec.extend([0], [[1]])
        dec.start([[1]])
        with pytest.raises(InvalidInput, match="row 3 is out of range"):
            dec.extend([3], [[1]])
        with pytest.raises(InvalidInput, match="row 0.*token 9"):
            dec.extend([0], [[9]])


def test_decoders_drive_generation():
    """Both decoders satisfy theory_kit.generation's Decoder protocol and generate alike."""
    generation = pytest.importorskip("theory_kit.generation")
    model = compiled("fib")
    inc, full = model.decoder(), model.decoder(incremental=False)
    assert isinstance(inc, generation.Decoder) and isinstance(full, generation.Decoder)
    prompts = [[1, 1], [2, 3, 4], [0, 4]]
    got = generation.generate_with(inc, prompts, max_new_tokens=30, max_len=model.max_seq_len)
    assert got == generation.generate_with(full, prompts, max_new_tokens=30,
                                           max_len=model.max_seq_len)
    assert [len(g.prompt) + len(g.tokens) for g in got] == [model.max_seq_len] * 3


# -- the key cache: sparse keys, widened, made dense ---------------------------------------------
def test_key_cache_sparse_widened_and_dense_equal_dense_attention():
    """_KeyCache against a dense mirror of the same keys: logits and attention equal after
    sparse writes (1 nonzero per key), writes that widen it (3 nonzeros), a swap of slots, a
    resize, and writes that make it dense (E / 2 nonzeros)."""
    from theory_kit.model.forward import attend
    from theory_kit.model.incremental import _KeyCache
    rng = np.random.default_rng(0)
    b, h, e, f, cap = 4, 2, 40, 3, 12
    cache = _KeyCache(b, h, e, np.dtype(np.float64))
    cache.resize(cap, 0)
    mirror = np.zeros((b, h, cap, e))
    values = rng.standard_normal((b, h, f, cap))
    filled = 0

    def write(nonzeros):
        nonlocal filled
        keys = np.zeros((b, h, e))
        for i in range(b):
            for j in range(h):
                keys[i, j, rng.choice(e, nonzeros, replace=False)] = rng.standard_normal(nonzeros)
        slots, positions = np.arange(b), np.full(b, filled)
        cache.write(slots, positions, keys)
        mirror[slots, :, positions] = keys
        filled += 1

    def check():
        q = rng.standard_normal((b, h, e, 2))
        mask = np.where(rng.random((b, 1, filled, 2)) < 0.8, 0.0, -np.inf)
        mask[:, :, 0] = 0.0
        np.testing.assert_allclose(cache.logits(slice(0, b), filled, q),
                                   np.matmul(mirror[:, :, :filled], q), rtol=0, atol=1e-12)
        np.testing.assert_allclose(
            cache.attend(slice(1, 3), filled, q[1:3], values[1:3, :, :, :filled], mask[1:3]),
            attend(mirror[1:3, :, :filled], q[1:3], values[1:3, :, :, :filled], mask[1:3]),
            rtol=0, atol=1e-12)

    for _ in range(3):
        write(1)
    assert cache.dense is None and cache.idx.shape[3] == 1
    check()
    write(3)
    assert cache.dense is None and cache.idx.shape[3] == 3
    check()
    a, z = np.array([0, 3]), np.array([2, 1])
    cache.swap(a, z, filled)
    mirror[a, :, :filled], mirror[z, :, :filled] = mirror[z, :, :filled], mirror[a, :, :filled]
    values[a], values[z] = values[z], values[a].copy()
    check()
    cache.resize(2 * cap, cap)
    mirror = np.concatenate([mirror, np.zeros_like(mirror)], axis=2)
    write(1)
    check()
    write(e // 2)
    assert cache.dense is not None
    np.testing.assert_array_equal(cache.dense, mirror)
    check()


def test_tool_calling_model_incremental_equals_full_recomputation():
    """A model with wide one-hot keys (cached sparse): random extensions compared with full
    recomputation, and whole tool-calling generations of both decoders equal."""
    from theory_kit.generation import generate_with
    from theory_kit.library.tools import STOP, mul_with_add_spec
    spec = mul_with_add_spec(1, 10)
    model = tk.compile_generator(spec.build(), vocab=set(spec.vocab()),
                                 max_seq_len=spec.max_seq_len, stop=STOP, tools=spec.tools(),
                                 verify=None).model
    state, _ = model.start_decoding([[1]])
    assert any(k is not None and k.dense is None for k in state._keys)   # a sparse layer
    assert check_random_extensions(model, seed=6, rows=4, steps=4, max_chunk=12) > 0
    prompts = [[3, "*", 0, "="], [7, "*", 9, "="], [5, "*", 4, "="]]
    kw = dict(max_new_tokens=spec.max_new_tokens, stop=STOP, tools=spec.tools())
    inc = generate_with(model.decoder(), prompts, **kw)
    assert [list(g.tokens) for g in inc] == [spec.reference(p) for p in prompts]
    # full recomputation is slow (every step re-runs the whole sequence): one call's prompt
    assert inc[:1] == generate_with(model.decoder(incremental=False), prompts[:1], **kw)


def test_bos_runs_once_and_is_copied_to_every_row():
    """A state's rows copy one BOS pass, and a decoder keeps it across starts: the states
    equal ones whose BOS ran in each row, and full recomputation."""
    model = compiled("copy_first")
    dec = model.decoder()
    for prompts in ([["a", "b"], ["c"], []], [["b"] * 7, ["c", "a"]]):
        assert dec.start(prompts) == model.next_tokens_full(prompts)
        per_row = [model.start_decoding([p])[0] for p in prompts]
        for r, one in enumerate(per_row):
            np.testing.assert_allclose(dec.state.last_residual[r], one.last_residual[0],
                                       rtol=0, atol=1e-12)
        assert dec.extend([1, 0], [["a"], ["c", "c"]]) == model.next_tokens_full(
            [dec.sequences[1], dec.sequences[0]])
    with pytest.raises(InvalidInput, match="one row holding only BOS"):
        IncrementalState(model, 2, bos=model.start_decoding([["a"]])[0])
    with pytest.raises(InvalidInput, match="one row holding only BOS"):
        IncrementalState(model, 2, bos=IncrementalState(compiled("fib"), 1))
