"""The claim registry: built-ins, one-line registration, lazy factories and modules."""

import sys

import pytest
import sympy as sp

from theory_kit import claims
from theory_kit.claims import Claim, get, names, register, register_factory, register_module, registry, unregister
from theory_kit.errors import InvalidClaim

BUILTINS = {
    "softmax_pmax", "softmax_pmax_linear", "softmax_beta_for_eps", "attention_output_error", "softmax_tied_mass",
    "softmax_tied_each", "relu_discretiser_error", "position_encoding_gap", "layer_norm_hash_gap",
    "layer_norm_hash_tiebreak", "bipolar_address_codes", "parity_gradient_variance",
}


def toy(name="toy_claim"):
    return Claim(name, lambda x: 1.0, sp.Symbol("x"), {"x": (0.0, 1.0, "real")}, relation=">=")


@pytest.fixture
def cleanup():
    made = []
    yield made
    for name in made:
        unregister(name)


def test_builtins_are_registered_with_sources():
    assert BUILTINS <= set(names())
    for name in BUILTINS:
        c = get(name)
        assert c.name == name and c.source and c.description
    assert set(registry()) == set(names())


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(InvalidClaim, match=r"unknown claim 'nope'; known claims: .*softmax_pmax"):
        get("nope")


def test_register_is_a_one_liner_and_refuses_silent_replacement(cleanup):
    cleanup.append("toy_claim")
    c = register(toy())
    assert get("toy_claim") is c
    assert register(c) is c  # idempotent for the same object
    with pytest.raises(InvalidClaim, match="a claim named 'toy_claim' is already registered; pass replace=True"):
        register(toy())
    c2 = register(toy(), replace=True)
    assert get("toy_claim") is c2
    with pytest.raises(InvalidClaim, match="register expects a Claim, got str"):
        register("toy")


def test_factory_is_lazy_and_built_once(cleanup):
    cleanup.append("lazy_claim")
    calls = []

    @register_factory("lazy_claim")
    def make():
        calls.append(1)
        return toy("lazy_claim")

    assert "lazy_claim" in names() and calls == []
    first = get("lazy_claim")
    assert get("lazy_claim") is first and calls == [1]


def test_factory_returning_the_wrong_claim(cleanup):
    cleanup.append("wrong")
    register_factory("wrong", lambda: toy("other"))
    with pytest.raises(InvalidClaim, match="factory for claim 'wrong' returned .*expected a Claim named 'wrong'"):
        get("wrong")


def test_register_module_imports_on_first_access(tmp_path, monkeypatch, cleanup):
    cleanup.append("from_module")
    (tmp_path / "tk_extra_claims.py").write_text(
        "import sympy as sp\n"
        "from theory_kit.claims import Claim, register\n"
        "register(Claim('from_module', lambda x: 1.0, sp.Symbol('x'), {'x': (0.0, 1.0, 'real')}, relation='>='))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    register_module("tk_extra_claims")
    assert "tk_extra_claims" not in sys.modules
    assert "from_module" in names()
    assert claims.verify(get("from_module"), budget=20).holds


def test_optional_module_that_does_not_exist_is_skipped():
    register_module("tk_no_such_claims_module_anywhere", optional=True)
    assert "softmax_pmax" in names()


def test_missing_required_module_is_reported(monkeypatch):
    from theory_kit.errors import TheoryKitError

    reg = sys.modules["theory_kit.claims.registry"]  # the package attribute is the registry() function

    monkeypatch.setattr(reg, "_pending_modules", [("tk_no_such_claims_module_either", False)])
    with pytest.raises(TheoryKitError, match="claims module 'tk_no_such_claims_module_either' registered with register_module could not be imported"):
        names()
