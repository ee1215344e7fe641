"""Every library program compiles and equals the interpreter on all inputs (fail-closed verify)."""

import numpy as np
import pytest

import theory_kit as tk
from theory_kit import library as lib
from theory_kit import rasp
from theory_kit.compiler.verify import input_space_size, outputs_match, sample_inputs
from theory_kit.library import PROGRAMS

SETTINGS = [(name, causal, dtype) for name, spec in PROGRAMS.items()
            for causal in ((False, True) if spec.causal_safe else (False,))
            for dtype in (np.float64, np.float32)]


@pytest.mark.parametrize("name,causal,dtype", SETTINGS,
                         ids=[f"{n}-{'causal' if c else 'full'}-{np.dtype(d)}" for n, c, d in SETTINGS])
def test_library_program_is_exact_on_every_input(name, causal, dtype):
    spec = PROGRAMS[name]
    size = input_space_size(len(spec.vocab), spec.max_seq_len)
    assert size <= 100_000  # so verify="auto" is exhaustive
    model = tk.compile(spec(), vocab=set(spec.vocab), max_seq_len=spec.max_seq_len,
                       causal=causal, dtype=dtype)  # raises CompilationMismatch on any mismatch
    assert model.constants["verified_inputs"] == size
    assert model.dtype == np.dtype(dtype)


LONG = {
    "reverse": (lambda n: lib.make_reverse(rasp.tokens), ("a", "b", "c"), 0.0),
    "sort_unique": (lambda n: lib.make_sort_unique(rasp.tokens, rasp.tokens), None, 0.0),
    "sort": (lambda n: lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=n, min_key=1),
             (1, 2, 3, 4, 5), 0.0),
    "hist": (lambda n: lib.make_hist(), ("a", "b", "c", "d"), 0.0),
    "frac_prevs": (lambda n: lib.make_frac_prevs(rasp.tokens == "x"), ("x", "y"), 1e-6),
    # Its balance is a LinearSequenceMap of two fractions: ~10^6 possible values at N = 64.
    "shuffle_dyck": (lambda n: lib.make_shuffle_dyck(["()"]), ("(", ")"), 0.0),
}


def _long_inputs(name, vocab, n, count=1000):
    if name == "sort_unique":  # unique keys: draw without replacement from 0..n+3
        rng = np.random.default_rng(0)
        return [[int(v) for v in rng.choice(n + 4, size=int(rng.integers(1, n + 1)), replace=False)]
                for _ in range(count)]
    return sample_inputs(set(vocab), n, count, seed=0)


def _check_long(name, n):
    factory, vocab, atol = LONG[name]
    if vocab is None:
        vocab = tuple(range(n + 4))
    program = factory(n)
    model = tk.compile(program, vocab=set(vocab), max_seq_len=n, verify=None)
    inputs = _long_inputs(name, vocab, n)
    expected = rasp.evaluate_batch(program, inputs)
    got = model.run_batch(inputs)
    bad = [x for x, e, g in zip(inputs, expected, got) if not outputs_match(e, g, atol or 1e-12)]
    assert not bad, f"{name} at max_seq_len {n}: {len(bad)} of {len(inputs)} wrong, e.g. {bad[0]}"


@pytest.mark.parametrize("name", sorted(LONG))
@pytest.mark.parametrize("n", [16, 32])
def test_long_inputs_exact(name, n):
    _check_long(name, n)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LONG))
def test_long_inputs_exact_64(name):
    _check_long(name, 64)
