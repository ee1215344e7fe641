"""craft.attention constructors, each checked numerically against its documented identity."""

import math

import numpy as np
import pytest

from theory_kit import bounds
from theory_kit.craft import BOS, ONE, BasisDirection, VectorSpace
from theory_kit.craft.attention import (bos_key_logit, predicate_codes, predicate_matrix,
                                        select_head, with_bos_columns)
from theory_kit.errors import UnsupportedProgram

QV = [0, 1, 2, 3]
KV = [0, 1, 2, 3, 4]
QD = [BasisDirection("q", v) for v in QV]
KD = [BasisDirection("k", v) for v in KV]

PREDICATES = {
    "all": lambda k, q: True,
    "none": lambda k, q: False,
    "key_only": lambda k, q: k % 2 == 0,
    "query_only": lambda k, q: q > 1,
    "less": lambda k, q: k < q,
    "equal": lambda k, q: k == q,
    "mod": lambda k, q: (k + q) % 3 == 0,
}


def _matrix(cols: list[dict], dirs: list) -> np.ndarray:
    """[len(dirs), E]: row i = the codes of a real position holding the one-hot dirs[i]."""
    return np.array([[col.get(d, 0.0) + col.get(ONE, 0.0) for col in cols] for d in dirs]
                    ).reshape(len(dirs), len(cols))


@pytest.mark.parametrize("name", sorted(PREDICATES))
def test_predicate_codes_give_beta_times_p(name):
    beta = 7.25
    pred = PREDICATES[name]
    q_cols, k_cols = predicate_codes(QD, QV, KD, KV, pred, beta, label="sel")
    assert len(q_cols) == len(k_cols)
    P = np.array([[bool(pred(k, q)) for k in KV] for q in QV])
    np.testing.assert_array_equal(predicate_matrix(QV, KV, pred), P)
    logits = _matrix(q_cols, QD) @ _matrix(k_cols, KD).T
    np.testing.assert_array_equal(logits, beta * P)
    # fewest columns: one when P ignores a side, none when P is all false
    if name in ("all", "key_only", "query_only"):
        assert len(q_cols) == 1
    if name == "none":
        assert q_cols == []


def test_predicate_codes_skip_none_values_and_quote_a_raising_predicate():
    q_cols, k_cols = predicate_codes(QD[:2], [None, 1], KD[:2], [0, None], lambda k, q: True, 1.0)
    assert (_matrix(q_cols, QD[:2]) @ _matrix(k_cols, KD[:2]).T).tolist() == [[0, 0], [1, 0]]
    with pytest.raises(UnsupportedProgram, match=r"sel: predicate raises ZeroDivisionError.*key 0"):
        predicate_codes(QD, QV, KD, KV, lambda k, q: q / k, 1.0, label="sel")


def _residual(dirs_at: list[dict], extra=()) -> tuple[np.ndarray, VectorSpace]:
    dirs = dict.fromkeys([BOS, ONE, *QD, *KD, *extra] + [d for row in dirs_at for d in row])
    space = VectorSpace.of(dirs)
    return np.stack([space.vector(row) for row in dirs_at]), space


def test_with_bos_columns_logits_and_bos_compensation():
    beta = 9.0
    pred = PREDICATES["less"]
    q_cols, k_cols = predicate_codes(QD, QV, KD, KV, pred, beta)
    before = [dict(c) for c in q_cols]
    # What BOS holds in the read directions is arbitrary (an earlier head's default):
    bos_values = {QD[2]: 1.0, KD[4]: 1.0, BOS: 1.0, ONE: 1.0}
    c = bos_key_logit(1, beta, average=True)
    assert c == beta / 2 and bos_key_logit(2, beta, average=False) == 2 * beta
    codes = with_bos_columns(q_cols, k_cols, beta=beta, bos_key_logit=c, bos_values=bos_values)
    assert q_cols == before  # inputs untouched
    bos_row = {BOS: 1.0, ONE: 1.0, QD[2]: 1.0, KD[4]: 1.0}
    rows = [bos_row] + [{ONE: 1.0, QD[i]: 1.0, KD[j]: 1.0} for i, j in [(0, 0), (1, 0), (3, 2),
                                                                         (2, 4), (3, 4)]]
    x, space = _residual(rows)
    q = x[:, space.indices_of(codes.q_reads)] @ codes.w_q
    k = x[:, space.indices_of(codes.k_reads)] @ codes.w_k
    logits = q @ k.T
    assert logits[0, 0] == beta and not logits[0, 1:].any()  # BOS query: β on BOS, 0 elsewhere
    for a, (qi, _) in enumerate([(0, 0), (1, 0), (3, 2), (2, 4), (3, 4)], start=1):
        assert logits[a, 0] == c  # real query x BOS key
        for b, (_, kj) in enumerate([(0, 0), (1, 0), (3, 2), (2, 4), (3, 4)], start=1):
            assert logits[a, b] == beta * pred(KV[kj], QV[qi])


def _run_head(head, rows):
    x, space = _residual(rows, head.writes)
    T = len(rows)
    mask = np.ones((1, T, T), dtype=bool)  # non-causal
    out = head.apply(x[None], space, mask)[0]
    return out[:, space.indices_of(head.writes)]


@pytest.mark.parametrize("n", [2, 5, 9])
def test_select_head_averages_selected_values_within_the_off_target_bound(n):
    eps = 1e-6
    beta = float(bounds.attention_beta(n, eps))
    pred = PREDICATES["less"]
    v = BasisDirection("v")
    o = BasisDirection("o")
    q_cols, k_cols = predicate_codes(QD, QV, KD, KV, pred, beta)
    bos_values = {BOS: 1.0, ONE: 1.0, v: 123.0}
    codes = with_bos_columns(q_cols, k_cols, beta=beta,
                             bos_key_logit=bos_key_logit(1, beta, average=True),
                             bos_values=bos_values)
    head = select_head("agg", codes, [v], np.ones((1, 1)), [o], default=[-2.0],
                       bos_values=bos_values)
    rng = np.random.default_rng(n)
    qs, ks, vs = rng.choice(QV, n), rng.choice(KV, n), rng.uniform(-1, 1, n)
    rows = [{BOS: 1.0, ONE: 1.0, v: 123.0}] + [
        {ONE: 1.0, QD[qs[i]]: 1.0, KD[ks[i]]: 1.0, v: vs[i]} for i in range(n)]
    got = _run_head(head, rows)[:, 0]
    vmax = 123.0
    for a in range(1, n + 1):
        sel = [i for i in range(n) if pred(ks[i], qs[a - 1])]
        want = np.mean(vs[sel]) if sel else -2.0
        assert abs(got[a] - want) <= eps * 2 * vmax
    assert abs(got[0] - (-2.0)) <= eps * 2 * vmax  # BOS contributes the default


@pytest.mark.parametrize("w", [0, 1, 3, 6])
def test_counting_head_puts_one_over_w_plus_one_on_bos(w):
    n = 6
    beta = 40.0
    scratch = BasisDirection("w.bos_weight", internal=True)
    q_cols, k_cols = predicate_codes(QD, QV, KD, KV, PREDICATES["key_only"], beta)
    codes = with_bos_columns(q_cols, k_cols, beta=beta,
                             bos_key_logit=bos_key_logit(1, beta, average=False),
                             bos_values={BOS: 1.0, ONE: 1.0})
    head = select_head("w", codes, (), np.zeros((0, 1)), (scratch,), default=[1.0],
                       bos_values={BOS: 1.0, ONE: 1.0})
    assert head.reads_v == (BOS,)
    keys = [0] * w + [1] * (n - w)  # key_only selects even keys
    rows = [{BOS: 1.0, ONE: 1.0}] + [{ONE: 1.0, QD[0]: 1.0, KD[k]: 1.0} for k in keys]
    got = _run_head(head, rows)[:, 0]
    assert math.isclose(got[1], 1 / (w + 1), abs_tol=(n + 1) * math.exp(-beta))
