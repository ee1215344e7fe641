"""craft.loop: the looped model's entry and update MLPs, RASP-free (issue 14, item 2)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from theory_kit.bounds.compiled import loop_snap_tolerance
from theory_kit.craft import BOS, BasisDirection, VectorSpace
from theory_kit.craft.loop import SNAP_SLOPE, loop_entry_mlp, loop_update_mlp, snap_tolerance

S = [BasisDirection("s", v) for v in range(3)]
N = [BasisDirection("n", v) for v in range(3)]
H = BasisDirection("h", True)
FLAG = (BasisDirection("flag", True), BasisDirection("flag", False))
ULP = np.finfo(np.float64).eps


def test_the_tolerance_is_the_sympy_bound():
    assert sp.nsimplify(snap_tolerance(SNAP_SLOPE)) == loop_snap_tolerance(int(SNAP_SLOPE))
    assert loop_snap_tolerance(4) == sp.Rational(3, 8)


def _apply(mlp, values: dict) -> dict:
    space = VectorSpace(list(dict.fromkeys([*mlp.reads, *mlp.writes])))
    x = np.zeros((1, len(space.basis)))
    for d, v in values.items():
        x[0, space.index(d)] = v
    out = mlp.apply(x, space)
    return {d: out[0, space.index(d)] for d in mlp.writes}


@pytest.mark.parametrize("seed", range(20))
def test_update_is_exact_within_the_tolerance(seed):
    rng = np.random.default_rng(seed)
    mlp = loop_update_mlp("u", list(zip(S, N)), H, FLAG)
    tol = snap_tolerance() / 2 - 1e-9  # n - h and s + h - 1 each add two errors
    for _ in range(50):
        s, n, h = rng.integers(0, 3), rng.integers(0, 3), bool(rng.integers(0, 2))
        noisy = {d: float(d.value == n) + rng.uniform(-tol, tol) for d in N}
        noisy[H] = float(h) + rng.uniform(-tol, tol)
        state = {d: float(d.value == s) for d in S}
        flag = {FLAG[0]: 0.0, FLAG[1]: 1.0}
        delta = _apply(mlp, {**noisy, **state, **flag})
        new = [state[d] + delta[d] for d in S]
        # exact up to the rounding of one subtraction, whatever the input error
        assert np.allclose(new, [float(v == (s if h else n)) for v in range(3)],
                           rtol=0, atol=4 * ULP)
        assert np.allclose([flag[d] + delta[d] for d in FLAG], [float(h), float(not h)],
                           rtol=0, atol=4 * ULP)


def test_update_and_entry_are_zero_at_bos():
    at_bos = {N[1]: 1.0, H: 0.7}  # what attention leaves at BOS (the gates know it)
    mlp = loop_update_mlp("u", list(zip(S, N)), H, FLAG, bos_values=at_bos)
    delta = _apply(mlp, {BOS: 1.0, **at_bos})
    assert all(v == 0.0 for v in delta.values())
    entry = loop_entry_mlp("e", [(N[0], S[0])], {FLAG[1]: 1.0}, S + list(FLAG),
                           bos_values={N[0]: 1.0})
    assert all(v == 0.0 for v in _apply(entry, {BOS: 1.0, N[0]: 1.0}).values())
    written = _apply(entry, {N[0]: 0.9})
    assert written[S[0]] == 1.0 and written[FLAG[1]] == 1.0 and written[S[1]] == 0.0
