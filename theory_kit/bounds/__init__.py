"""Sympy bounds behind transformer constructions: one function per lemma, each citing its source.

Every function returns a sympy expression in the symbols of `theory_kit.bounds.symbols` (pass
numbers instead to get exact values). Claims in `theory_kit.claims` pair these with measured
quantities and the verifier tries to break them.
"""

from __future__ import annotations

from theory_kit.bounds import compiled, symbols
from theory_kit.bounds.compiled import (
    attention_beta,
    attention_epsilon,
    attention_offtarget_mass,
    discretiser_slope,
)
from theory_kit.bounds.positions import (
    bipolar_inner_product,
    bipolar_offdiagonal_upper,
    layer_norm_hash_gap_lower,
    layer_norm_hash_inner_product,
    tie_breaker_upper,
)
from theory_kit.bounds.precision import (
    MANTISSA_BITS,
    layer_norm_hash_bits_needed,
    layer_norm_hash_lemma_max_position,
    layer_norm_hash_max_position,
    mantissa_bits,
    mantissa_bits_needed,
    max_distinguishable_positions,
    min_mantissa_bits,
    position_gap_lower,
    unit_roundoff,
)
from theory_kit.bounds.relu import (
    relu_discretiser_error_upper,
    relu_exact_distance,
    relu_exact_slope,
    relu_pair_step_error,
    tracr_relu_discretiser_error_upper,
    tracr_relu_exact_slope,
    tracr_relu_pair_step_error,
)
from theory_kit.bounds.softmax import (
    attention_output_error_upper,
    beta_for_offmax_mass,
    offmax_mass_upper,
    softmax_pmax_linear_lower,
    softmax_pmax_lower,
    tied_max_each_lower,
    tied_max_mass_lower,
)

__all__ = [
    "symbols",
    "compiled",
    "attention_epsilon",
    "attention_beta",
    "attention_offtarget_mass",
    "discretiser_slope",
    "softmax_pmax_lower",
    "softmax_pmax_linear_lower",
    "offmax_mass_upper",
    "beta_for_offmax_mass",
    "attention_output_error_upper",
    "tied_max_mass_lower",
    "tied_max_each_lower",
    "relu_pair_step_error",
    "relu_exact_distance",
    "relu_exact_slope",
    "relu_discretiser_error_upper",
    "tracr_relu_pair_step_error",
    "tracr_relu_exact_slope",
    "tracr_relu_discretiser_error_upper",
    "MANTISSA_BITS",
    "mantissa_bits",
    "unit_roundoff",
    "position_gap_lower",
    "mantissa_bits_needed",
    "max_distinguishable_positions",
    "min_mantissa_bits",
    "layer_norm_hash_bits_needed",
    "layer_norm_hash_max_position",
    "layer_norm_hash_lemma_max_position",
    "layer_norm_hash_inner_product",
    "layer_norm_hash_gap_lower",
    "tie_breaker_upper",
    "bipolar_inner_product",
    "bipolar_offdiagonal_upper",
]
