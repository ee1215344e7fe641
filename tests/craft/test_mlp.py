"""craft.mlp constructors, each checked numerically against the identity in its docstring."""

import numpy as np
import pytest

from theory_kit import bounds
from theory_kit.craft import BOS, ONE, BasisDirection, VectorSpace
from theory_kit.craft.mlp import (MLPBuilder, Step, linear_mlp, lookup_mlp, step_mlp,
                                  width_decoder_mlp)


def run(mlp, rows: list[dict]) -> np.ndarray:
    """Apply `mlp` to residual rows given as {direction: value} (BOS, ONE added as usual);
    returns [T, len(writes)]."""
    space = VectorSpace.of(dict.fromkeys([BOS, ONE, *mlp.reads, *mlp.writes]))
    x = np.stack([space.vector({ONE: 1.0, **row}) for row in rows])[None]
    out = mlp.apply(x, space)[0]
    return out[:, space.indices_of(mlp.writes)]


X = [BasisDirection("x", v) for v in "abc"]
Y = [BasisDirection("y", v) for v in (0, 1)]
OUT = [BasisDirection("o", v) for v in (0, 1, 2)]


def test_builder_unit_is_a_gated_relu_and_reads_bos():
    m = MLPBuilder([X[0]], [OUT[0]])
    m.unit({X[0]: 2.0}, -0.5, {OUT[0]: 3.0}, gate=10.0)
    mlp = m.build("m", "note")
    assert mlp.reads == (X[0], BOS) and mlp.hidden == 1
    got = run(mlp, [{X[0]: 1.0}, {X[0]: 0.1}, {BOS: 1.0, X[0]: 1.0}])
    np.testing.assert_allclose(got[:, 0], [3.0 * 1.5, 0.0, 0.0])
    empty = MLPBuilder([X[0]], [OUT[0]]).build("e", "")
    assert empty.w_in.shape == (2, 0) and empty.w_out.shape == (0, 1)


def test_lookup_is_one_hot_of_the_table_and_zero_at_bos():
    f = {"a": 2, "b": 0, "c": 2}
    groups = [({X[i]: 1.0 for i, v in enumerate("abc") if f[v] == y}, 0.0, {OUT[y]: 1.0})
              for y in (0, 2)]
    mlp = lookup_mlp("lookup", X, OUT, groups, "t")
    got = run(mlp, [{X[i]: 1.0} for i in range(3)] + [{BOS: 1.0, X[1]: 1.0}])
    want = np.zeros((4, 3))
    for i, v in enumerate("abc"):
        want[i, f[v]] = 1.0
    np.testing.assert_array_equal(got, want)


def test_pair_lookup_is_the_conjunction_of_two_one_hots():
    # group (a, y=1): the snapped pair [x_a + y_1 > 3/2] = [x = a and y = 1] (two units)
    mlp = lookup_mlp("pair", X + Y, OUT, [({X[0]: 1.0, Y[1]: 1.0}, 1.0, {OUT[1]: 1.0})], "t")
    rows = [{X[i]: 1.0, Y[j]: 1.0} for i in range(3) for j in range(2)]
    got = run(mlp, rows + [{}])  # last: both one-hots empty (no value)
    want = [1.0 if (i, j) == (0, 1) else 0.0 for i in range(3) for j in range(2)] + [0.0]
    np.testing.assert_array_equal(got[:, 1], want)
    assert mlp.hidden == 2


def test_lookup_skips_groups_with_empty_output():
    mlp = lookup_mlp("l", X, OUT, [({X[0]: 1.0}, 0.0, {})], "t")
    assert mlp.hidden == 0


def test_linear_mlp_is_exact_and_zero_at_bos():
    rng = np.random.default_rng(0)
    a, b = BasisDirection("a"), BasisDirection("b")
    out = BasisDirection("z")
    form = {a: 1.5, b: -2.0}
    xs = rng.uniform(-10, 10, size=(50, 2))
    bound = 1.5 * 10 + 2.0 * 10
    mlp = linear_mlp("lin", out, form, [a, b], bound)
    got = run(mlp, [{a: x, b: y} for x, y in xs] + [{BOS: 1.0, a: 10.0, b: -10.0}])
    np.testing.assert_allclose(got[:-1, 0], 1.5 * xs[:, 0] - 2.0 * xs[:, 1], rtol=0, atol=1e-12)
    assert got[-1, 0] == 0.0
    assert mlp.hidden == 2


XS = [-1.0, 0.0, 0.5, 2.0, 7.0]


@pytest.mark.parametrize("numerical", [True, False])
def test_step_mlp_is_exact_within_a_quarter_gap(numerical):
    x = BasisDirection("x")
    ys = [3.0, 3.0, -1.0, 4.0, 0.0]
    if numerical:
        o = BasisDirection("y")
        outputs, writes = [{o: y} for y in ys], [o]
    else:
        vals = sorted(set(ys))
        writes = [BasisDirection("y", v) for v in vals]
        outputs = [{BasisDirection("y", y): 1.0} for y in ys]
    mlp, steps = step_mlp("s", {x: 1.0}, XS, outputs, writes)
    # one step per change of the output (4 changes of 4 neighbour pairs minus the repeat)
    assert [s.threshold for s in steps] == [0.25, 1.25, 4.5]
    for s in steps:
        assert isinstance(s, Step) and s.slope == float(bounds.discretiser_slope(s.gap))
    gaps = np.diff(XS)
    rows, want = [], []
    for j, xj in enumerate(XS):
        tol = min(gaps[max(j - 1, 0)], gaps[min(j, len(gaps) - 1)]) / 4
        for noise in (-tol, -tol / 3, 0.0, tol / 2, tol):
            rows.append({x: xj + noise})
            want.append([outputs[j].get(d, 0.0) for d in writes])
    got = run(mlp, rows + [{BOS: 1.0, x: 7.0}])
    np.testing.assert_allclose(got[:-1], want, rtol=0, atol=1e-12)
    assert not got[-1].any()  # gated at BOS


def test_step_mlp_present_gate_and_offset():
    # z = x + y over one-hots weighted by value + K, offset -2K; nothing written if one is empty
    k = 10.0
    xd = [BasisDirection("x", v) for v in (0, 1)]
    yd = [BasisDirection("y", v) for v in (0, 1)]
    o = BasisDirection("s")
    form = {xd[0]: 0 + k, xd[1]: 1 + k, yd[0]: 0 + k, yd[1]: 1 + k}
    present = {d: 1.0 for d in xd + yd}
    sums = [0, 1, 2]
    mlp, steps = step_mlp("s", form, sums, [{o: 5.0 * s + 1} for s in sums], [o],
                          offset=-2 * k, present=present)
    rows = [{xd[i]: 1.0, yd[j]: 1.0} for i in (0, 1) for j in (0, 1)]
    got = run(mlp, rows + [{xd[1]: 1.0}, {yd[0]: 1.0}, {}])
    np.testing.assert_allclose(got[:, 0], [1, 6, 6, 11, 0, 0, 0], rtol=0, atol=1e-12)


def test_step_mlp_levels_keep_steps_between_equal_vectors():
    x, o = BasisDirection("x"), BasisDirection("y")
    outs = [{o: 1.0}, {o: 1.0}]
    assert step_mlp("s", {x: 1.0}, [0.0, 1.0], outs, [o])[1] == ()
    mlp, steps = step_mlp("s", {x: 1.0}, [0.0, 1.0], outs, [o], levels=["int", "float"])
    assert len(steps) == 1 and mlp.hidden == 3


def test_width_decoder_reads_one_over_w_plus_one():
    n = 6
    a = BasisDirection("w.bos_weight", internal=True)
    widths = list(range(n + 1))
    writes = [BasisDirection("w", v) for v in widths]
    mlp, steps = width_decoder_mlp("w", a, widths, [{d: 1.0} for d in writes], writes)
    assert min(s.gap for s in steps) >= 1 / (n + 1) ** 2
    rows, want = [], []
    for j, w in enumerate(widths):
        gaps = [s.gap for s in steps]
        tol = min(gaps[max(j - 1, 0)], gaps[min(j, len(gaps) - 1)]) / 4
        for noise in (-tol, 0.0, tol):
            rows.append({a: 1 / (w + 1) + noise})
            row = np.zeros(len(writes) + 1)
            row[j] = 1.0
            row[-1] = -(1 / (w + 1) + noise)  # the scratch direction is cleared
            want.append(row)
    got = run(mlp, rows)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    # at BOS the head writes a = 1 there: the one-hot stays 0, the scratch is still cleared
    np.testing.assert_allclose(run(mlp, [{BOS: 1.0, a: 1.0}])[0], [0.0] * len(writes) + [-1.0])
