"""Size formulas of theory_kit.bounds.sizes equal the compiled models' summary()."""

import pytest
import sympy as sp

import theory_kit as tk
from theory_kit.bounds import sizes
from theory_kit.library import SIZE_PROGRAMS
from theory_kit.bounds.sizes import (FIXED_VOCAB, N, QUANTITIES, SIZE_MIN, V,
                                     size_formulas)

# Points include ones outside the grid (V 2..6, N 2..7) used while deriving the formulas; the
# formulas of the newer programs were derived by counting at (3, 4), (5, 3), (2, 5) only, none
# of which is below. Fixed-vocabulary programs ignore V, so their N values (2..11) are distinct.
POINTS = [(2, 2), (3, 5), (7, 3), (4, 9), (8, 8), (2, 11), (10, 4), (6, 2), (5, 6)]


def _measured(summary: dict) -> dict:
    return {"layers": summary["layers"], "heads": sum(summary["heads"]),
            "mlp_hidden": sum(summary["mlp_hidden"]), "residual_width": summary["residual_width"],
            "params": summary["params"]}


@pytest.mark.parametrize("name", sorted(SIZE_PROGRAMS))
def test_formulas_match_compiler(name):
    formulas = size_formulas(name)
    assert formulas and set(formulas) <= set(QUANTITIES)
    v_min, n_min = SIZE_MIN[name]
    points = [(v, n) for v, n in POINTS if v >= v_min and n >= n_min]
    assert len(points) >= 4
    for v, n in points:
        program, vocab = SIZE_PROGRAMS[name](v, n)
        got = _measured(tk.compile(program, vocab=vocab, max_seq_len=n, verify=None).summary())
        for q, expr in formulas.items():
            assert int(expr.subs({V: v, N: n})) == got[q], (name, v, n, q)


@pytest.mark.parametrize("name", sorted(SIZE_PROGRAMS))
def test_formulas_are_piecewise_polynomials_in_V_and_N(name):
    """Polynomials, or (where liveness reuse depends on which of two counts is larger) built
    from polynomials with Min/Max; fixed-vocabulary programs depend on N only."""
    allowed = {N} if name in FIXED_VOCAB else {V, N}
    for q, expr in size_formulas(name).items():
        assert isinstance(expr, sp.Expr)
        assert expr.free_symbols <= allowed, (name, q)
        if not expr.is_polynomial(V, N):
            assert expr.has(sp.Min, sp.Max), (name, q)
            polys = expr.atoms(sp.Min, sp.Max)
            assert all(a.is_polynomial(V, N) for m in polys for a in m.args), (name, q)


def test_fixed_vocab_points_cover_four_lengths():
    for name in FIXED_VOCAB:
        v_min, n_min = SIZE_MIN[name]
        assert len({n for v, n in POINTS if v >= v_min and n >= n_min}) >= 4


def test_every_program_has_a_docstring_derivation():
    for name in SIZE_PROGRAMS:
        doc = getattr(sizes, name).__doc__
        assert doc and name in doc


def test_hist_residual_is_v_plus_n_plus_3():
    assert sp.simplify(size_formulas("make_hist")["residual_width"] - (V + N + 3)) == 0


def test_full_closed_forms_where_documented():
    full = set(SIZE_PROGRAMS) - {"make_sum"}
    for name in full:
        assert set(size_formulas(name)) == set(QUANTITIES)
    for name in set(SIZE_PROGRAMS) - full:
        missing = set(QUANTITIES) - set(size_formulas(name))
        assert missing and "omitted" in getattr(sizes, name).__doc__


def test_sum_omits_width_and_params():
    assert set(size_formulas("make_sum")) == {"layers", "heads", "mlp_hidden"}


def test_reverse_width_is_piecewise():
    d = size_formulas("make_reverse")["residual_width"]
    assert d.subs({V: 3, N: 5}) == 2 + 10 + 3 + 5 and d.subs({V: 7, N: 3}) == 2 + 6 + 7 + 7


def test_unknown_program_raises():
    with pytest.raises(KeyError, match="known"):
        size_formulas("make_nonsense")
