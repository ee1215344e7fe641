"""The lexicographic-key rewrite (theory_kit.compiler.order): when it applies, what it saves,
and that the model stays exact — against the interpreter on every input."""

import itertools

import pytest

import theory_kit as tk
from theory_kit import library as lib
from theory_kit import rasp
from theory_kit.bounds import sizes
from theory_kit.compiler.order import _lex_order
from theory_kit.rasp import Comparison as C

VOCAB = (1, 2, 3)
N = 4


def _all_inputs(vocab, n):
    for length in range(1, n + 1):
        yield from (list(x) for x in itertools.product(sorted(vocab), repeat=length))


def _assert_exact(model, program, vocab, n):
    inputs = list(_all_inputs(vocab, n))
    expected = rasp.evaluate_batch(program, inputs)
    assert model.run_batch(inputs) == expected


def _rewritten(model) -> bool:
    split = any(".tie_minor" in label for label in model.residual_labels)
    assert split == bool(model.constants["lexicographic_counts"])  # recorded for the user
    return split


def _count(f, predicate, fst=rasp.tokens, snd=rasp.indices):
    key = rasp.SequenceMap(f, fst, snd)
    return rasp.SelectorWidth(rasp.Select(key, key, predicate)).named("count")


@pytest.mark.parametrize("predicate", [C.LT, C.LEQ, C.GT, C.GEQ])
@pytest.mark.parametrize("f, why", [
    (lambda x, i: x + i / N, "increasing, token major"),
    (lambda x, i: -x - i / N, "decreasing, token major"),
    (lambda x, i: 10 * i + x, "increasing, index major"),
    (lambda x, i: -10 * i - x, "decreasing, index major"),
])
def test_rewrite_applies_and_is_exact(predicate, f, why):
    program = _count(f, predicate)
    model = tk.compile(program, vocab=set(VOCAB), max_seq_len=N, verify="exhaustive")
    assert _rewritten(model), why
    assert model.constants["lexicographic_counts"] == ("count",)
    # no one-hot of the V*N keys: the widest categorical SOp has at most N + 1 values
    assert not any(label.startswith("sequence_map") for label in model.residual_labels)
    _assert_exact(model, program, VOCAB, N)


@pytest.mark.parametrize("f, predicate, why", [
    (lambda x, i: x * i, C.LT, "not monotone in either order"),
    (lambda x, i: x + i, C.LT, "monotone in neither lexicographic order (ties across rows)"),
    (lambda x, i: x - 10 * i, C.LT, "monotone only in a mixed order (index descending)"),
    (lambda x, i: x + i / N, C.EQ, "EQ is not an order comparison"),
    (lambda x, i: x + i / N, C.NEQ, "NEQ is not an order comparison"),
])
def test_rewrite_left_alone_when_it_does_not_hold(f, predicate, why):
    program = _count(f, predicate)
    model = tk.compile(program, vocab=set(VOCAB), max_seq_len=N, verify="exhaustive")
    assert not _rewritten(model), why
    _assert_exact(model, program, VOCAB, N)


def test_left_alone_for_different_keys_and_queries_and_numerical_width():
    key = rasp.SequenceMap(lambda x, i: x + i / N, rasp.tokens, rasp.indices)
    other = rasp.SequenceMap(lambda x, i: x + i / N + 0.0, rasp.tokens, rasp.indices)
    two_sops = rasp.SelectorWidth(rasp.Select(key, other, C.LT))
    numerical = rasp.numerical(rasp.SelectorWidth(rasp.Select(key, key, C.LT)))
    for program in (two_sops, numerical):
        model = tk.compile(program, vocab=set(VOCAB), max_seq_len=N, verify="exhaustive")
        assert not _rewritten(model)
        _assert_exact(model, program, VOCAB, N)


def test_lex_order_detection():
    assert _lex_order(lambda x, i: x + i / 4, (1, 2, 3), (0, 1, 2, 3)) == (True, 1)
    assert _lex_order(lambda x, i: -x - i / 4, (1, 2, 3), (0, 1, 2, 3)) == (True, -1)
    assert _lex_order(lambda x, i: 10 * i + x, (1, 2, 3), (0, 1, 2, 3)) == (False, 1)
    # x + i/3 ties 1 + 3/3 with 2 + 0/3: not strict, so not rewritten
    assert _lex_order(lambda x, i: x + i / 3, (1, 2, 3), (0, 1, 2, 3)) is None
    assert _lex_order(lambda x, i: 1 / (x - 2), (1, 2, 3), (0, 1)) is None   # raises
    assert _lex_order(lambda x, i: str(x), (1, 2, 3), (0, 1)) is None        # not a number


@pytest.mark.parametrize("n", [3, 5, 8])
def test_tracr_sort_programs_shrink_and_stay_exact(n):
    vocab = {1, 2, 3, 4}
    v = len(vocab)
    # widths as written, with a one-hot over the VN (make_sort) or N^2 (make_sort_freq) keys
    unsplit = {"make_sort": v * n + v + 2 * n + 3, "make_sort_freq": v + n * n + 2 * n + 3}
    for name, program in (("make_sort", lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=n,
                                                      min_key=1)),
                          ("make_sort_freq", lib.make_sort_freq(n))):
        model = tk.compile(program, vocab=vocab, max_seq_len=n, verify="sample", seed=n)
        assert _rewritten(model)
        width = int(getattr(sizes, name)()["residual_width"].subs({sizes.V: v, sizes.N: n}))
        assert model.summary()["residual_width"] == width < unsplit[name]
        if n <= 5:
            _assert_exact(model, program, vocab, n)


# -- SequenceMaps through x ± y (craft.lowering._through_sum) -----------------------------------


def _notes(model) -> list:
    return [b.note for layer in model.layered.layers for b in layer.mlps]


@pytest.mark.parametrize("f, note", [
    (lambda x, i: x + i, "steps on x + y"),
    (lambda x, i: min(x + i, 4), "steps on x + y"),
    (lambda x, i: x - i, "steps on x - y"),
    (lambda x, i: (x - i) // 2, "steps on x - y"),
    (lambda x, i: x * i, "pair lookup grouped by output"),        # not a function of x ± i
])
def test_sequence_map_through_a_sum_is_exact(f, note):
    program = rasp.categorical(rasp.SequenceMap(f, rasp.tokens, rasp.indices)).named("s")
    vocab = {0, 1, 2, 3, 4}
    model = tk.compile(program, vocab=vocab, max_seq_len=5, verify="exhaustive")
    assert note in _notes(model)
    _assert_exact(model, program, vocab, 5)


def test_sum_of_attention_outputs_is_exact():
    # both operands come out of attention heads (values carry the off-target mass ε)
    prev = rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices - 1, C.EQ), rasp.tokens,
                          default=0).named("prev")
    first = rasp.Aggregate(rasp.Select(rasp.indices, rasp.tokens, C.EQ), rasp.tokens,
                           default=0).named("first")
    program = rasp.categorical(rasp.SequenceMap(lambda a, b: a + b, prev, first)).named("s")
    vocab = {0, 1, 2, 3}
    model = tk.compile(program, vocab=vocab, max_seq_len=5, verify="exhaustive")
    assert "steps on x + y" in _notes(model)
    _assert_exact(model, program, vocab, 5)


def test_two_valued_outputs_keep_the_table():
    program = rasp.SequenceMap(lambda x, i: x + i > 3, rasp.tokens, rasp.indices).named("s")
    model = tk.compile(program, vocab={0, 1, 2, 3, 4}, max_seq_len=5, verify="exhaustive")
    assert "pair lookup grouped by output" in _notes(model)


def test_sum_with_an_operand_that_has_no_value():
    # Found by the differential sweep: an empty categorical aggregate has an all-zero one-hot,
    # and x + y must then have no value (None), not f(0 + y).
    agg = rasp.Aggregate(rasp.Select(lib.length, rasp.tokens, C.EQ), lib.length).named("agg")
    program = rasp.SequenceMap(lambda x, y: x + y, rasp.indices, agg).named("s")
    for vocab in ({0}, {0, 2, 3}):
        model = tk.compile(program, vocab=vocab, max_seq_len=4, verify="exhaustive")
        if vocab != {0}:  # with {0} the selector never selects: agg, and so s, is always None
            assert "steps on x + y" in _notes(model)
        _assert_exact(model, program, vocab, 4)
        assert model.run([0]) == [None]
