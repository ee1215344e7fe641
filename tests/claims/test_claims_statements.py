"""What the built-in claims state about themselves is true (issue 13, item 4)."""

from theory_kit.claims import get
from theory_kit.claims.quantities import position_encoding_min_gap


def test_position_encoding_gap_does_not_claim_iff():
    desc = get("position_encoding_gap").description
    assert "iff" not in desc
    for p in range(4, 9):
        # the bound 1/n - 2^-p is negative at n = 2^p + 1, yet the encodings are distinct there
        assert position_encoding_min_gap(2**p + 1, p) > 0
        assert position_encoding_min_gap(2**p + 2, p) == 0
    assert "2^p + 1" in desc and "2^p + 2" in desc


def test_relu_discretiser_attribution_ours_is_centred_tracr_is_one_sided():
    import sympy as sp

    from theory_kit import bounds
    from theory_kit.bounds import symbols as sym
    from theory_kit.claims import verify
    from theory_kit.claims.builtin import relu_discretiser_error, relu_discretiser_error_tracr

    ours = get("relu_discretiser_error")
    assert "tracr" not in ours.source.split(";")[0].lower()  # ours is not attributed to tracr
    assert "one-sided" in ours.source and "relu_discretiser_error_tracr" in ours.source
    tracr = get("relu_discretiser_error_tracr")
    assert "numerical_mlp" in tracr.source
    assert verify(tracr, budget=600).holds
    # tracr's construction breaks our bound: it needs twice the slope
    broken = type(ours)("tracr_vs_ours", relu_discretiser_error_tracr, ours.bound, ours.domain, rtol=1e-9, atol=1e-8)
    assert not verify(broken, budget=600).holds
    delta, rho = sp.Rational(1, 3), sp.Rational(1, 5)
    assert bounds.tracr_relu_exact_slope(delta, rho) == 2 * bounds.relu_exact_slope(delta, rho)
    L = float(bounds.relu_exact_slope(delta, rho))  # enough for ours, not for tracr's
    assert relu_discretiser_error(K=8, L=L * 1.001, delta=float(delta), pos=0.5, rho=float(rho)) == 0
    assert relu_discretiser_error_tracr(K=8, L=L * 1.001, delta=float(delta), pos=0.5, rho=float(rho)) > 0.4
    assert relu_discretiser_error_tracr(K=8, L=2 * L * 1.001, delta=float(delta), pos=0.5, rho=float(rho)) == 0
    assert sym.K in bounds.tracr_relu_discretiser_error_upper().free_symbols


def test_layer_norm_hash_breakpoints_depend_on_accumulation():
    from theory_kit.claims import layer_norm_hash_breakpoints

    all16 = layer_norm_hash_breakpoints("float16", 150)
    acc32 = layer_norm_hash_breakpoints("float16", 150, accumulate="float32")
    assert (all16.first_gap_violation, all16.first_collision) == (6, 7)
    assert (acc32.first_gap_violation, acc32.first_collision) == (8, 8)
    assert acc32.accumulate == "float32" and all16.accumulate is None
    import pytest

    from theory_kit.errors import InvalidInput

    with pytest.raises(InvalidInput, match="accumulate"):
        layer_norm_hash_breakpoints("float32", 10, accumulate="float16")


def test_layer_norm_hash_gap_lemma_holds_exactly():
    from theory_kit.claims import verify

    v = verify(get("layer_norm_hash_gap_squared"), method="prove", budget=100)
    assert v.status == "proved"
