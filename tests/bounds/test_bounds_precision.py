"""Precision formulas checked against real dtype computations and exact rounding."""

import numpy as np
import pytest
import sympy as sp

from theory_kit import bounds
from theory_kit.claims.quantities import position_encoding_min_gap, position_encodings_distinct
from theory_kit.errors import InvalidInput


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_mantissa_bits_match_numpy(dtype):
    assert bounds.mantissa_bits(dtype) == np.finfo(dtype).nmant + 1
    assert bounds.MANTISSA_BITS[dtype] == {"float16": 11, "float32": 24, "float64": 53}[dtype]


def test_unknown_dtype_is_rejected_with_the_name_quoted():
    with pytest.raises(InvalidInput, match=r"unknown dtype 'bfloat16'; supported: \['float16', 'float32', 'float64'\]"):
        bounds.mantissa_bits("bfloat16")


def test_min_mantissa_bits_is_exact_at_powers_of_two():
    assert bounds.min_mantissa_bits(1024) == 10
    assert bounds.min_mantissa_bits(1025) == 11
    assert bounds.min_mantissa_bits(2**53) == 53
    assert bounds.min_mantissa_bits(1000, margin=3) == 13
    with pytest.raises(InvalidInput, match="n must be an int >= 1, got 0"):
        bounds.min_mantissa_bits(0)
    with pytest.raises(InvalidInput, match="margin must be an int >= 0, got -1"):
        bounds.min_mantissa_bits(4, -1)


def test_bits_needed_and_max_positions_are_inverse():
    n, m = bounds.symbols.n, bounds.symbols.margin
    assert sp.simplify(bounds.max_distinguishable_positions(bounds.mantissa_bits_needed(n, m), m) - n) == 0
    assert bounds.mantissa_bits_needed(1024, 0) == 10


@pytest.mark.parametrize("n,p", [(3, 4), (10, 4), (1000, 10), (1024, 10), (1025, 10), (5000, 14), (60000, 16), (777, 30)])
def test_position_gap_bound_holds_against_exact_rounding(n, p):
    gap = position_encoding_min_gap(n, p)
    assert gap >= float(bounds.position_gap_lower(n, p)) - 1e-18
    if 2**p > n:
        assert gap > 0  # distinct, as the formula promises


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_real_dtype_keeps_2_to_the_p_positions_apart_and_not_one_more(dtype):
    n_max = int(bounds.max_distinguishable_positions(bounds.mantissa_bits(dtype), 0))
    assert position_encodings_distinct(dtype, n_max)
    assert not position_encodings_distinct(dtype, n_max + 1)


def test_float16_scan_first_collision_is_2049():
    first = next(n for n in range(2, 4097) if not position_encodings_distinct("float16", n))
    assert first == 2**11 + 1


def test_layer_norm_hash_precision_predictions():
    assert float(bounds.layer_norm_hash_max_position(53)) == pytest.approx(8192)
    assert float(bounds.layer_norm_hash_max_position(24)) == pytest.approx(53.817, rel=1e-4)
    assert float(bounds.layer_norm_hash_lemma_max_position(53)) == pytest.approx(1552.09, rel=1e-5)
    assert float(bounds.layer_norm_hash_bits_needed(8192)) == pytest.approx(53)
