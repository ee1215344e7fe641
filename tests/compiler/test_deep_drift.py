"""Deep fixed-depth compiles stay exact: categorical one-hots written by MLPs are snapped
(craft.mlp.snapped_units), so input errors do not pass through lookups and cannot compound
through long chains of lookups and Selects.

Before the snapping, a lookup unit relu(Σ pattern - offset) passed its input error on linearly
and every Select reading it multiplied the error by β: along the unrolled sort_loop the error
grew geometrically (1e-5 at copy 14, 4e-2 at copy 22) and the smallest failing length was
N = 23, where [1, 1, 0, ...] came out as [0]*20 + [1, 0, 1].
"""

import numpy as np
import pytest

import theory_kit as tk
from theory_kit import rasp
from theory_kit.craft import BOS, ONE, BasisDirection, VectorSpace
from theory_kit.craft.mlp import lookup_mlp, step_mlp
from theory_kit.library.looped import LOOPED_PROGRAMS


def _run(mlp, rows):
    space = VectorSpace.of(dict.fromkeys([BOS, ONE, *mlp.reads, *mlp.writes]))
    x = np.stack([space.vector({ONE: 1.0, **row}) for row in rows])[None]
    return mlp.apply(x, space)[0][:, space.indices_of(mlp.writes)]


X = [BasisDirection("x", v) for v in "abc"]
Y = [BasisDirection("y", v) for v in (0, 1)]
OUT = [BasisDirection("o", v) for v in (0, 1)]


@pytest.mark.parametrize("err", [0.0, 1e-6, -1e-6, 0.05, -0.1, 0.12])
def test_lookup_outputs_are_exact_for_inexact_one_hots(err):
    # [x = a and y = 1] -> o:1 ; [x = b and y ∈ {0, 1}] -> o:1 ; [x = c] handled by none
    mlp = lookup_mlp("pair", X + Y, OUT, [({X[0]: 1.0, Y[1]: 1.0}, 1.0, {OUT[1]: 1.0}),
                                          ({X[1]: 1.0, Y[0]: 1.0, Y[1]: 1.0}, 1.0,
                                           {OUT[1]: 1.0}),
                                          ({X[0]: 1.0, Y[0]: 1.0}, 1.0, {OUT[0]: 1.0})], "t")
    rows, want = [], []
    for i, xv in enumerate("abc"):
        for j in (0, 1):
            # every coordinate off by err (on: 1 + err, off: err): a pattern sum of at most
            # 3 directions is off by at most 3·|err| < 3/8
            row = {d: err for d in X + Y}
            row[X[i]], row[Y[j]] = 1.0 + err, 1.0 + err
            rows.append(row)
            hit = {("a", 1): 1, ("b", 0): 1, ("b", 1): 1, ("a", 0): 0}.get((xv, j))
            want.append([float(hit == 0), float(hit == 1)])
    rows.append({BOS: 1.0, X[0]: 1.0, Y[1]: 1.0})  # BOS with (default) one-hots: gated off
    want.append([0.0, 0.0])
    np.testing.assert_allclose(_run(mlp, rows), want, rtol=0, atol=1e-12)


def test_step_present_unit_is_snapped():
    # z = x + y on values {0, 1}; the constant output needs both one-hots present
    xd, yd = [BasisDirection("x", v) for v in (0, 1)], [BasisDirection("y", v) for v in (0, 1)]
    k = 4.0
    form = {**{d: v + k for d, v in zip(xd, (0, 1))}, **{d: v + k for d, v in zip(yd, (0, 1))}}
    mlp, _ = step_mlp("s", form, [0, 1, 2], [{OUT[0]: 1.0}, {OUT[1]: 1.0}, {OUT[1]: 1.0}],
                      OUT, offset=-2 * k, present={d: 1.0 for d in xd + yd})
    got = _run(mlp, [{xd[0]: 1.0 + 1e-3, yd[0]: 1.0 + 1e-3}, {xd[0]: 1.0 + 1e-3, yd[1]: 1.0},
                     {xd[0]: 1e-3}])
    np.testing.assert_allclose(got, [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], rtol=0, atol=1e-12)


def test_unrolled_sort_at_the_smallest_length_that_drifted():
    n = 23
    prog = rasp.unroll(LOOPED_PROGRAMS["sort_loop"].at(max_seq_len=n))
    m = tk.compile(prog, vocab={0, 1, 2}, max_seq_len=n, verify=None)
    xs = [1, 1] + [0] * (n - 2)
    assert rasp.evaluate(prog, xs) == [0] * 21 + [1, 1]
    assert m.run(xs) == rasp.evaluate(prog, xs)
    # every categorical dimension stays within the attention's off-target mass of a one-hot
    # along the whole stack (it grew to ~0.3 before the snapping)
    cat = [i for i, ds in enumerate(m.layout.dims)
           if ds and all(d.value is not None for d in ds)]
    rng = np.random.default_rng(0)
    seqs = [xs] + [list(rng.integers(0, 3, n)) for _ in range(50)]
    ids = np.array([[0] + [m._token_id[int(x)] for x in s] for s in seqs])
    trace = m.forward(ids)
    worst = max(float(np.max(np.minimum(np.abs(r[:, 1:, cat]), np.abs(r[:, 1:, cat] - 1))))
                for r in trace.residuals)
    assert worst < 1e-6
    assert m.run_batch(seqs) == [sorted(int(x) for x in s) for s in seqs]
