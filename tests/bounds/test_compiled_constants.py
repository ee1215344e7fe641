"""The compiler's β, ε, off-target mass and slopes are the bounds.compiled expressions."""

import math

import numpy as np
import pytest
import sympy as sp

import theory_kit as tk
from theory_kit import bounds, rasp
from theory_kit.bounds import compiled as bc
from theory_kit.claims import compiled as claims_compiled
from theory_kit.compiler import graph_to_blocks as g2b
from theory_kit.compiler.config import TOLERANCE
from theory_kit.library import make_frac_prevs, make_hist, make_sort_unique


def _threshold_program():
    frac = make_frac_prevs(rasp.tokens == 1)
    return rasp.numerical(rasp.Map(lambda x: 1 if x > 0.5 else 0, frac)).named("above_half")


PROGRAMS = [
    ("hist", make_hist, {0, 1, 2}, 5, np.float64),
    ("sort_unique", lambda: make_sort_unique(rasp.tokens, rasp.tokens), {1, 2, 3}, 4, np.float64),
    ("frac_prevs", lambda: make_frac_prevs(rasp.tokens == 1), {0, 1}, 6, np.float32),
    ("threshold", _threshold_program, {0, 1}, 5, np.float64),
]


def _assignment(model):
    layered = getattr(model, "layered", None) or model._layered
    return layered.blocks.assignment


@pytest.mark.parametrize("name, factory, vocab, n, dtype", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_compiler_constants_are_the_bounds_expressions(name, factory, vocab, n, dtype):
    model = tk.compile(factory(), vocab=vocab, max_seq_len=n, dtype=dtype, verify=None)
    c = model.constants
    assignment = _assignment(model)
    vmax = g2b._vmax(assignment)
    gaps = [min(g) for *_, g in g2b._discretised(assignment) if g]
    gap = sp.nsimplify(min(gaps)) if gaps else sp.oo
    tol = sp.nsimplify(TOLERANCE[np.dtype(dtype)])
    eps = bounds.attention_epsilon(tol, n, sp.nsimplify(vmax), gap)
    assert math.isclose(c["epsilon"], float(eps), rel_tol=1e-14)
    beta = bounds.attention_beta(n, sp.Float(c["epsilon"], 30))
    assert math.isclose(c["beta"], float(beta), rel_tol=1e-14)
    mass = bounds.attention_offtarget_mass(n, sp.Float(c["beta"], 30))
    assert math.isclose(c["off_target_mass_bound"], float(mass), rel_tol=1e-14)
    assert math.isclose(c["off_target_mass_bound"], c["epsilon"], rel_tol=1e-12)
    for step in c["mlp_slopes"]:
        assert step["slope"] == float(bounds.discretiser_slope(sp.Float(step["gap"], 30)))
    if name == "threshold":
        assert gaps and c["mlp_slopes"]


def test_lambdified_constants_are_bit_identical_to_the_plain_float_formulas():
    # The expressions are lambdified so that they do the float operations the compiler always
    # did; any change of form that moves a bit would change compiled weights.
    rng = np.random.default_rng(0)
    for n in range(1, 400):
        for vmax in (1.0, 2, 3.0, 7.5, 1 / 3 + 1, 1e6, float(n)):
            for tol in (1e-10, 1e-5):
                gap_list = list(rng.uniform(1e-9, 1, size=2)) + [1.0 / (n + 1) ** 2]
                for gaps in ([], gap_list[:1], gap_list):
                    old = min(tol, min(gaps + [1.0 / (n + 1) ** 2]) / (8.0 * vmax))
                    new = g2b._epsilon(tol, n, vmax, min(gaps) if gaps else math.inf)
                    assert new == old, (n, vmax, tol, gaps)
                    assert g2b.derive_beta(n, new) == 2.0 * math.log((n + 1) / old)
                    b = g2b.derive_beta(n, new)
                    assert g2b.off_target_mass(n, b) == (n + 1) * math.exp(-b / 2)


def test_claim_bound_is_the_same_expression():
    expected = bc.attention_beta(bc.N, bc.attention_epsilon(sp.Rational(1, 10**10), bc.N, bc.N,
                                                            sp.oo))
    assert sp.simplify(claims_compiled.MIN_BETA_BOUND - expected) == 0
    for n in range(*claims_compiled.MIN_BETA_N_RANGE):
        assert math.isclose(float(claims_compiled.MIN_BETA_BOUND.subs(bc.N, n)),
                            claims_compiled.compiler_beta(n), rel_tol=1e-12)


def test_epsilon_expression_reads_as_documented():
    e = bounds.attention_epsilon(sp.Rational(1, 10), 3, 2, sp.oo)
    assert e == sp.Rational(1, 8 * 16 * 2)
    assert bounds.attention_epsilon(sp.Rational(1, 10**10), 3, 2, sp.oo) == sp.Rational(1, 10**10)
    assert bounds.attention_epsilon(1, 3, 2, sp.Rational(1, 100)) == sp.Rational(1, 1600)
    assert bounds.attention_beta(3, sp.Rational(1, 2)) == 2 * sp.log(8)
    assert bounds.discretiser_slope(sp.Rational(1, 4)) == 8
