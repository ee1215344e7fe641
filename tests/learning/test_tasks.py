"""Datasets are the interpreter's output: every token of every example equals rasp.evaluate's
causal output at the last position of the sequence before it (issue 19, acceptance)."""

from __future__ import annotations

import numpy as np
import pytest

from theory_kit import rasp
from theory_kit.errors import InvalidInput
from theory_kit.learning import tasks

CASES = [("parity", 5, {}), ("add_plain", 3, {"base": 10}), ("add_reversed", 2, {"base": 3}),
         ("add_scratchpad", 3, {"base": 10}), ("hops", 3, {"table": 5})]


@pytest.mark.parametrize("name,n,kw", CASES)
@pytest.mark.parametrize("cot", [True, False])
def test_dataset_equals_interpreter_on_every_example(name, n, kw, cot):
    task = tasks.make_task(name, n, **kw)
    pool, held = tasks.split_pools(task, train=12, test=6, seed=3)
    for prompts in (pool, held):
        data = tasks.dataset(task, prompts, cot=cot)
        for p, c, a, row in zip(data.prompts, data.cots, data.answers, data.tokens):
            written = list(c) + list(a)
            for k, token in enumerate(written):   # each written token is the next token
                assert rasp.evaluate(task.program, list(p) + written[:k], causal=True)[-1] \
                    == token
            assert rasp.evaluate(task.program, list(p) + written, causal=True)[-1] == "."
            seq = list(p) + (list(c) if cot else []) + list(a)
            assert [task.vocab[i] for i in row] == seq
        assert data.answer_mask.sum() == task.answer_length
        assert data.target_mask.sum() == task.answer_length + (task.cot_length if cot else 0)


def test_answers_are_the_functions():
    task = tasks.make_task("parity", 6)
    data = tasks.dataset(task, task.sample(40, np.random.default_rng(0)), cot=True)
    for p, c, a in zip(data.prompts, data.cots, data.answers):
        assert a == (sum(p[:-1]) % 2,) and len(c) == 5
    hop = tasks.make_task("hops", 3, table=4)
    for p, c, a in zip(*[getattr(tasks.dataset(hop, hop.sample(30, np.random.default_rng(1)),
                                               cot=True), k) for k in ("prompts", "cots",
                                                                       "answers")]):
        f, x = p[:4], p[4]
        assert c == (f[x], f[f[x]]) and a == (f[f[f[x]]],)
    add = tasks.make_task("add_reversed", 3, base=10)
    d = tasks.dataset(add, [[1, 2, 3, "+", 9, 9, 9, "="]], cot=False)
    assert d.answers[0] == (2, 2, 1, 1)    # 123 + 999 = 1122, least significant first


def test_pools_are_seeded_nested_and_held_out_is_unseen():
    task = tasks.make_task("parity", 10)
    a = tasks.split_pools(task, train=64, test=50, seed=7)
    assert a == tasks.split_pools(task, train=64, test=50, seed=7)
    assert a != tasks.split_pools(task, train=64, test=50, seed=8)
    big = tasks.split_pools(task, train=128, test=50, seed=7)
    assert big[0][:64] == a[0]
    assert not {tuple(p) for p in a[1]} & {tuple(p) for p in a[0]}


def test_longer_sets_share_the_vocabulary_and_pad():
    task = tasks.make_task("parity", 4, max_size=8)
    longer = task.with_size(8)
    assert longer.vocab == task.vocab and longer.n == 8
    d = tasks.dataset(task, task.sample(3, np.random.default_rng(0)), cot=True)
    tokens, target, answer = d.padded(20)
    assert tokens.shape == (3, 20) and not target[d.length:].any() and answer.sum() == 1


def test_errors_quote_the_value():
    with pytest.raises(InvalidInput, match="'nope'"):
        tasks.make_task("nope", 3)
    with pytest.raises(InvalidInput, match="-1"):
        tasks.make_task("parity", -1)
    with pytest.raises(InvalidInput, match="half"):
        tasks.split_pools(tasks.make_task("parity", 3), train=5, test=2, seed=0)
    with pytest.raises(InvalidInput, match="tokens"):
        tasks.dataset(tasks.make_task("parity", 3), [[0, 1, "="]], cot=True)
