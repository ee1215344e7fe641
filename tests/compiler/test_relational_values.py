"""Relational (per-position) value sets: prefix fractions that share their denominator combine
only at the same position, so shuffle_dyck compiles at max_seq_len 128 and 256 (issue 21)."""

import random

import numpy as np
import pytest

from theory_kit import rasp
from theory_kit.compiler import compile
from theory_kit.compiler.bases import infer_bases
from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.graph import program_to_graph
from theory_kit.rasp.vectorised import evaluate_vectorised
from theory_kit.library import make_pair_balance, make_shuffle_dyck, make_shuffle_dyck2
from theory_kit.values import identical


def _dyck_word(rng: random.Random, pair: str, length: int) -> list:
    """A random balanced word of `length` (even) over one pair."""
    out, depth = [], 0
    for i in range(length):
        left = length - i
        if depth and (depth >= left or rng.random() < 0.5):
            out.append(pair[1])
            depth -= 1
        else:
            out.append(pair[0])
            depth += 1
    return out


def _inputs(pairs, other, n: int, count: int, seed: int) -> list:
    """`count` inputs of lengths up to n: a third uniformly random, the rest shuffles of
    balanced words of each pair (with `other` tokens mixed in), every fifth with one token
    changed (mostly unbalanced then)."""
    rng = random.Random(seed)
    vocab = [c for p in pairs for c in p] + list(other)
    out = []
    for i in range(count):
        length = rng.randint(1, n) if i % 2 else n - rng.randint(0, 3)
        if i % 3 == 0:
            out.append([rng.choice(vocab) for _ in range(length)])
            continue
        words = []
        budget = length
        for p in pairs:
            size = 2 * rng.randint(0, budget // 2)
            words.append(_dyck_word(rng, p, size))
            budget -= size
        words.append([rng.choice(other) for _ in range(budget)] if other else [])
        slots = [j for j, w in enumerate(words) for _ in w]
        rng.shuffle(slots)
        its = [iter(w) for w in words]
        seq = [next(its[j]) for j in slots] or [vocab[0]]
        if i % 5 == 1:
            seq[rng.randrange(len(seq))] = rng.choice(vocab)
        out.append(seq)
    return out


def _check(program, pairs, other, n: int) -> None:
    vocab = {c for p in pairs for c in p} | set(other)
    model = compile(program, vocab=vocab, max_seq_len=n, verify=None)
    inputs = _inputs(pairs, list(other), n, 1000, seed=n)
    got = model.run_batch(inputs)
    want = evaluate_vectorised(program, inputs)  # equal to rasp.evaluate (tests/rasp)
    assert all(identical(rasp.evaluate(program, xs), w) for xs, w in zip(inputs[:5], want))
    assert sum(all(w) for w in want) > 100  # the balanced inputs are there
    bad = [(xs, g, w) for xs, g, w in zip(inputs, got, want) if not identical(g, w)]
    assert not bad, bad[:1]


@pytest.mark.slow
@pytest.mark.parametrize("n", [128, 256])
def test_shuffle_dyck_exact_at_long_lengths(n):
    _check(make_shuffle_dyck(["()"]), ["()"], "a", n)


@pytest.mark.slow
@pytest.mark.parametrize("n", [128, 256])
def test_shuffle_dyck2_exact_at_long_lengths(n):
    _check(make_shuffle_dyck2(), ["()", "{}"], "", n)


def test_pair_balance_values_are_per_position_fractions():
    """At max_seq_len 128 the balance's value set is {j/m : |j| <= m <= 128} (its two
    fractions share the denominator m), not all differences of two fractions (which were
    too many pairs to enumerate: the program was refused)."""
    n = 128
    program = make_pair_balance(rasp.tokens, "(", ")")
    config = CompileConfig(vocab={"(", ")", "a"}, max_seq_len=n)
    graph = program_to_graph(program, config)
    values = infer_bases(graph, config).nodes[graph.output].values
    want = np.unique(np.round([j / m for m in range(1, n + 1) for j in range(-m, m + 1)], 12))
    values = np.array(values)  # (sums of values rounded to 12 digits: a few 1e-12 twins)
    assert np.array_equal(np.unique(np.round(values, 9)), np.unique(np.round(want, 9)))
    assert len(values) < 2 * len(want)  # independent pairs: ~5,000^2 differences


@pytest.mark.parametrize("causal", [False, True])
def test_per_position_values_cover_every_evaluation(causal):
    """Soundness: at every position, every value the interpreter gives (all inputs up to
    length 5) is in that position's value set, for prefix fractions and their difference."""
    from theory_kit.compiler.bases import _Inference
    from theory_kit.compiler.verify import enumerate_inputs

    n = 5
    program = make_pair_balance(rasp.tokens, "(", ")")
    config = CompileConfig(vocab={"(", ")", "a"}, max_seq_len=n, causal=causal)
    graph = program_to_graph(program, config)
    inference = _Inference(graph, config)
    inference.run()
    nodes = [i for i in graph.order if isinstance(graph.node(i).expr,
                                                    (rasp.Aggregate, rasp.LinearSequenceMap))]
    per_position = {i: inference.positional(i) for i in nodes}
    assert all(p is not None for p in per_position.values()) and len(nodes) == 3
    exprs = {i: graph.node(i).expr for i in nodes}
    for xs in enumerate_inputs(config.vocab, n):
        for i, expr in exprs.items():
            for pos, v in enumerate(rasp.evaluate(expr, xs, causal=causal)):
                assert np.isclose(per_position[i][pos], v, rtol=0, atol=1e-11).any(), \
                    (expr.label, xs, pos, v)
