"""Verification settings, the input-space budget, streaming, progress and Ctrl-C (issue 22 item
3): `compile` takes exhaustive_limit / sample_size / config=, refuses a verification too large
to finish before any work, streams its inputs in chunks (bounded memory), draws samples by
index, shows a progress bar only when asked, and lets KeyboardInterrupt through cleanly."""

from __future__ import annotations

import importlib
import inspect
import itertools
import tracemalloc
import types

import pytest

import theory_kit as tk
from theory_kit import rasp
from theory_kit.compiler.config import FIELDS, CompileConfig
from theory_kit.compiler.verify import (CHUNK, check_outputs, decode_index, enumerate_inputs,
                                        input_space_size, iter_sample_inputs, sample_inputs,
                                        verification_inputs, verification_plan, verify_model)
from theory_kit.errors import InvalidInput
from theory_kit.progress import progress
from theory_kit.values import value_sort_key

compile_module = importlib.import_module("theory_kit.compiler.compile")  # the package's
verify_module = importlib.import_module("theory_kit.compiler.verify")  # `compile` is the function

FLIP = rasp.Map(lambda x: 1 - x, rasp.tokens).named("flip")


# -- enumeration: a generator, same order and count as before ----------------------------------
def test_enumeration_streams_in_the_same_order_and_count():
    vocab = {2, 0, 1}
    gen = enumerate_inputs(vocab, 4)
    assert isinstance(gen, types.GeneratorType)
    toks = sorted(vocab, key=value_sort_key)
    reference = [list(s) for n in range(1, 5) for s in itertools.product(toks, repeat=n)]
    assert list(gen) == reference and len(reference) == input_space_size(3, 4) == 120
    config = CompileConfig(vocab=frozenset(vocab), max_seq_len=4, verify="exhaustive")
    inputs = verification_inputs(config)
    assert not isinstance(inputs, list) and list(inputs) == reference
    assert verification_plan(config) == (120, True)


def test_decode_index_is_the_enumeration_order():
    toks = ["a", "b", "c"]
    for length in (1, 2, 4):
        assert [decode_index(i, toks, length) for i in range(3 ** length)] == \
            [list(s) for s in itertools.product(toks, repeat=length)]


# -- sampling: by index, seeded, distinct, smallest first --------------------------------------
def test_sampled_inputs_are_seeded_distinct_smallest_first_and_exact_in_number():
    a = sample_inputs({0, 1, 2}, 8, 500, seed=4)
    assert a == sample_inputs({0, 1, 2}, 8, 500, seed=4)
    assert a != sample_inputs({0, 1, 2}, 8, 500, seed=5)
    assert len(a) == 500 and len({tuple(x) for x in a}) == 500
    toks = [0, 1, 2]
    keys = [(len(x), [toks.index(t) for t in x]) for x in a]
    assert keys == sorted(keys)  # shortest first, then enumeration order
    short = [list(s) for n in (1, 2, 3) for s in itertools.product(toks, repeat=n)]
    assert a[:len(short)] == short  # the short lengths are checked exhaustively
    assert all([t] * 8 in a for t in toks)  # edge cases: each token repeated at full length
    assert isinstance(iter_sample_inputs({0, 1}, 3, 5, 0), types.GeneratorType)


def test_sampling_a_space_beyond_int64_needs_no_space():
    vocab = set(range(50))
    xs = list(iter_sample_inputs(vocab, 30, 300, seed=0))  # 50^30 inputs of length 30 alone
    assert len(xs) == 300 == len({tuple(x) for x in xs})
    assert all(1 <= len(x) <= 30 and set(x) <= vocab for x in xs)
    assert xs == sample_inputs(vocab, 30, 300, seed=0)


def test_a_sample_larger_than_the_space_is_the_space():
    assert sample_inputs({0, 1}, 3, 100, seed=0) == list(enumerate_inputs({0, 1}, 3))
    m = tk.compile(FLIP, vocab={0, 1}, max_seq_len=3, verify="sample", sample_size=100)
    assert m.verified_inputs == 14


# -- compile(..., exhaustive_limit=, sample_size=, config=) -----------------------------------
def test_compile_takes_the_verification_settings():
    m = tk.compile(FLIP, vocab={0, 1}, max_seq_len=4, verify="sample", sample_size=7, seed=3)
    assert m.verified_inputs == 7 and m.config.sample_size == 7 and m.config.seed == 3
    # auto: exhaustive up to exhaustive_limit inputs (30 here), else sample_size samples
    assert tk.compile(FLIP, vocab={0, 1}, max_seq_len=4, exhaustive_limit=30).verified_inputs == 30
    m = tk.compile(FLIP, vocab={0, 1}, max_seq_len=4, exhaustive_limit=29, sample_size=9)
    assert m.verified_inputs == 9


def test_compile_takes_a_config_and_keywords_that_agree_with_it():
    config = CompileConfig(vocab=frozenset({0, 1}), max_seq_len=4, verify="sample",
                           sample_size=11, seed=2)
    m = tk.compile(FLIP, config=config)
    assert m.config is config and m.verified_inputs == 11
    m = tk.compile(FLIP, config=config, vocab={1, 0}, max_seq_len=4, sample_size=11)
    assert m.config is config


def test_keywords_conflicting_with_config_are_all_named():
    config = CompileConfig(vocab=frozenset({0, 1}), max_seq_len=4, sample_size=11)
    with pytest.raises(InvalidInput) as info:
        tk.compile(FLIP, config=config, sample_size=12, verify="exhaustive", max_seq_len=4)
    text = str(info.value)
    assert "sample_size=12 (config has sample_size=11)" in text
    assert "verify='exhaustive' (config has verify='auto')" in text
    assert "max_seq_len" not in text  # an agreeing keyword is not a conflict
    with pytest.raises(InvalidInput, match=r"causal=1 \(config has causal=False\)"):
        tk.compile(FLIP, config=config, causal=1)
    with pytest.raises(InvalidInput, match="config must be a CompileConfig, got dict"):
        tk.compile(FLIP, config={"vocab": {0, 1}})


def test_compile_keywords_are_the_config_fields():
    params = inspect.signature(tk.compile).parameters
    assert [p for p in params if p not in ("program", "config")] == \
        [f for f in ("vocab", "max_seq_len", "causal", "bos", "dtype", "verify", "beta",
                     "seed", "exhaustive_limit", "sample_size")]
    assert set(params) - {"program", "config"} == set(FIELDS)


def test_vocab_and_max_seq_len_are_required_without_config():
    with pytest.raises(InvalidInput, match="vocab and max_seq_len required"):
        tk.compile(FLIP)
    with pytest.raises(InvalidInput, match="max_seq_len required"):
        tk.compile(FLIP, vocab={0, 1})


@pytest.mark.parametrize("name, value, text", [
    ("sample_size", 0, "sample_size must be a positive int, got 0"),
    ("sample_size", -3, "sample_size must be a positive int, got -3"),
    ("sample_size", True, "sample_size must be a positive int, got True"),
    ("sample_size", 2.5, "sample_size must be a positive int, got 2.5"),
    ("exhaustive_limit", -1, "exhaustive_limit must be a non-negative int, got -1"),
    ("exhaustive_limit", "10", "exhaustive_limit must be a non-negative int, got '10'"),
])
def test_bad_verification_settings_are_refused_with_the_value(name, value, text):
    with pytest.raises(InvalidInput, match=text.replace("(", r"\(").replace(".", r"\.")):
        tk.compile(FLIP, vocab={0, 1}, max_seq_len=2, **{name: value})
    with pytest.raises(InvalidInput, match=text.replace(".", r"\.")):
        CompileConfig(vocab=frozenset({0, 1}), max_seq_len=2, **{name: value})


def test_every_bad_setting_is_reported_at_once():
    with pytest.raises(InvalidInput) as info:
        tk.compile(FLIP, vocab=set(), max_seq_len=0, sample_size=0, exhaustive_limit=-2,
                   verify="all")
    text = str(info.value)
    for part in ("vocab: is empty", "max_seq_len: must be a positive int, got 0",
                 "sample_size must be a positive int, got 0",
                 "exhaustive_limit must be a non-negative int, got -2", "got 'all'"):
        assert part in text, part


# -- the budget: refuse the impossible before any work -----------------------------------------
def test_an_exhaustive_check_too_large_is_refused_before_any_work(monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("compile started working on a refused verification")

    monkeypatch.setattr(compile_module, "program_to_graph", no_work)
    monkeypatch.setattr(compile_module, "validate", no_work)
    with pytest.raises(InvalidInput) as info:
        tk.compile(FLIP, vocab=set(range(10)), max_seq_len=9, verify="exhaustive")
    text = str(info.value)
    assert "1,111,111,110 inputs" in text  # sum_{L=1..9} 10^L
    assert "would take at least ~3.1 hours" in text
    assert "verify='sample', sample_size=2000" in text
    assert "lower max_seq_len to 7 (11,111,110 inputs)" in text
    with pytest.raises(InvalidInput, match=r"sample_size=1,000,000,000 inputs .* lower "
                                           r"sample_size"):
        tk.compile(FLIP, vocab=set(range(10)), max_seq_len=9, verify="sample",
                   sample_size=10 ** 9)


def test_auto_on_a_large_space_samples_instead_of_refusing():
    m = tk.compile(FLIP, vocab={0, 1}, max_seq_len=20, sample_size=50)  # 2,097,150 inputs
    assert m.verified_inputs == 50


# -- streaming: bounded memory, no read-ahead ---------------------------------------------------
def test_check_outputs_reads_one_chunk_at_a_time():
    model = tk.compile(FLIP, vocab={0, 1}, max_seq_len=9, verify=None)
    pulled = []
    calls = []

    def inputs():
        for xs in enumerate_inputs({0, 1}, 9):
            pulled.append(1)
            yield xs

    class Recording:
        weights = model.weights

        def run_batch(self, batch):
            calls.append((len(pulled), len(batch)))
            return model.run_batch(batch)

    found = check_outputs(Recording(), FLIP, inputs(), causal=False, numerical=False,
                          atol=1e-6, chunk=100)
    assert found.n_checked == 1022 and found.n_failures == 0
    done = 0
    for n_pulled, size in calls:
        assert size <= 100 and n_pulled == done + size  # nothing read past the current chunk
        done += size


def _peak_verify(max_seq_len):
    model = tk.compile(rasp.tokens, vocab={0, 1}, max_seq_len=max_seq_len, verify=None)
    tracemalloc.start()
    try:
        n = verify_model(model, rasp.tokens, model.config, "exhaustive")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        as_list = list(enumerate_inputs({0, 1}, max_seq_len))
        list_bytes = tracemalloc.get_traced_memory()[1]
        del as_list
    finally:
        tracemalloc.stop()
    return n, peak, list_bytes


def test_exhaustive_verification_of_131070_inputs_keeps_memory_bounded():
    n_small, peak_small, _ = _peak_verify(12)
    n, peak, list_bytes = _peak_verify(16)
    assert (n_small, n) == (8_190, 131_070)
    # 16x the inputs, the same chunk of CHUNK inputs in memory (a bit wider: 17 vs 13 positions)
    assert peak < 2 * peak_small, (peak, peak_small)
    # holding the inputs alone as a list takes more than twice the whole streaming peak (the
    # old verification held inputs, expected and decoded outputs: three such lists)
    assert peak < list_bytes / 2, (peak, list_bytes)


# -- progress and Ctrl-C --------------------------------------------------------------------------
@pytest.fixture
def bar_at_once(monkeypatch):
    """Bars forced on (THEORY_KIT_PROGRESS=1) and drawn from the first item (no delay)."""
    monkeypatch.setenv("THEORY_KIT_PROGRESS", "1")
    monkeypatch.setitem(progress.__kwdefaults__, "min_seconds", 0)


def test_verification_shows_a_bar_with_its_total_when_enabled(bar_at_once, capsys):
    tk.compile(FLIP, vocab={0, 1}, max_seq_len=10, verify="exhaustive")
    out, err = capsys.readouterr()
    assert out == "" and "verify every input" in err and "/2046" in err
    tk.compile(FLIP, vocab={0, 1}, max_seq_len=10, verify="sample", sample_size=300)
    out, err = capsys.readouterr()
    assert out == "" and "verify a sample" in err and "/300" in err


def test_verification_is_silent_without_a_terminal(monkeypatch, capfd):
    monkeypatch.delenv("THEORY_KIT_PROGRESS", raising=False)
    monkeypatch.setitem(progress.__kwdefaults__, "min_seconds", 0)
    tk.compile(FLIP, vocab={0, 1}, max_seq_len=10, verify="exhaustive")
    assert capfd.readouterr() == ("", "")


def test_ctrl_c_during_verification_propagates_and_leaves_nothing(bar_at_once, monkeypatch,
                                                                 capsys):
    tqdm = pytest.importorskip("tqdm")
    real = verify_module.evaluate_vectorised
    calls = []

    def interrupted(program, inputs, **kwargs):
        calls.append(len(inputs))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(program, inputs, **kwargs)

    monkeypatch.setattr(verify_module, "evaluate_vectorised", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tk.compile(FLIP, vocab={0, 1, 2, 3}, max_seq_len=7, verify="exhaustive")  # 21,844
    assert calls == [CHUNK, CHUNK]
    assert len(tqdm.tqdm._instances) == 0  # the bar was closed
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(verify_module, "evaluate_vectorised", real)
    assert tk.compile(FLIP, vocab={0, 1}, max_seq_len=3).verified_inputs == 14
