"""Compilation.constants is a frozen, typed CompileConstants (issue 12 item 7) whose numbers
are the bounds.compiled expressions, and which still reads like the dict it replaces."""

from __future__ import annotations

import dataclasses
import math

import pytest
import sympy as sp

import theory_kit as tk
from theory_kit.bounds import compiled as bounds
from theory_kit.compiler.result import CompileConstants
from theory_kit.errors import InvalidInput
from theory_kit.library import PROGRAMS


@pytest.fixture(scope="module")
def compiled():
    spec = PROGRAMS["sort"]
    return tk.compile(spec.at(max_seq_len=4), vocab=spec.vocab, max_seq_len=4)


def test_constants_are_typed_and_frozen(compiled):
    c = compiled.constants
    assert isinstance(c, CompileConstants)
    assert isinstance(c.beta, float) and isinstance(c.epsilon, float)
    assert c.verified_inputs == compiled.verified_inputs > 0
    assert c.max_mlp_slope == max(step["slope"] for step in c.mlp_slopes)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.beta = 1.0
    with pytest.raises(TypeError):
        c.mlp_slopes[0]["slope"] = 1.0  # read-only entries


def test_the_numbers_are_the_bounds_expressions(compiled):
    c, n = compiled.constants, 4
    assert math.isclose(c.beta, float(bounds.attention_beta(n, sp.Float(c.epsilon, 30))),
                        rel_tol=1e-14)
    assert math.isclose(c.off_target_mass_bound,
                        float(bounds.attention_offtarget_mass(n, sp.Float(c.beta, 30))),
                        rel_tol=1e-14)
    for step in c.mlp_slopes:
        assert step["slope"] == float(bounds.discretiser_slope(sp.Float(step["gap"], 30)))


def test_the_dict_access_still_works(compiled):
    c = compiled.constants
    assert c["beta"] == c.beta and c.get("epsilon") == c.epsilon
    assert dict(c) == {k: getattr(c, k) for k in c} and "verified_inputs" in c
    assert c == compiled.model.constants  # == with the runtime's plain dict
    with pytest.raises(KeyError):
        c["nope"]
    unverified = tk.compile(PROGRAMS["sort"].at(max_seq_len=4), vocab=PROGRAMS["sort"].vocab,
                            max_seq_len=4, verify=None).constants
    assert unverified.verified_inputs is None and "verified_inputs" not in unverified
    assert unverified.get("verified_inputs", 0) == 0


def test_from_mapping_names_missing_and_unknown_keys(compiled):
    d = dict(compiled.model.constants)
    d.pop("beta")
    d["gamma"] = 1.0
    with pytest.raises(InvalidInput, match=r"unknown keys \['gamma'\], missing keys \['beta'\]"):
        CompileConstants.from_mapping(d)
