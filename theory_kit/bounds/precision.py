"""Floating-point precision needed to keep positions apart, per dtype.

Conventions: p is the number of significand bits including the implicit leading bit (IEEE
binary16/32/64: 11/24/53), so round-to-nearest has unit roundoff u = 2^-p relative to the binade
[2^e, 2^(e+1)) of the value, and the spacing of representable numbers in [1/2, 1) is 2^-p.
"""

from __future__ import annotations

import sympy as sp

from theory_kit.bounds import symbols as sym
from theory_kit.bounds._coerce import sympify_arg
from theory_kit.errors import InvalidInput

__all__ = [
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
]

#: Significand bits (implicit bit included) of the IEEE formats numpy calls float16/32/64.
MANTISSA_BITS = {"float16": 11, "float32": 24, "float64": 53}


def mantissa_bits(dtype: str) -> int:
    """The significand bits (implicit bit included) of a float dtype name.

    Args:
        dtype: "float16", "float32" or "float64".

    Returns:
        11, 24 or 53.

    Raises:
        InvalidInput: for any other name (quoted, with the supported ones).
    """
    if dtype not in MANTISSA_BITS:
        raise InvalidInput(f"unknown dtype {dtype!r}; supported: {sorted(MANTISSA_BITS)}")
    return MANTISSA_BITS[dtype]


def unit_roundoff(p=sym.p) -> sp.Expr:
    """The spacing 2^-p of p-bit floats in [1/2, 1), twice the unit roundoff there.

    Args:
        p: significand bits (implicit bit included).

    Returns:
        The sympy expression 2^-p.
    """
    return sp.Integer(2) ** (-sympify_arg(p))


def position_gap_lower(n=sym.n, p=sym.p) -> sp.Expr:
    """Lower bound on the smallest gap between rounded numerical position encodings i/n.

    Lemma: round-to-nearest moves each x in (0, 1] by at most half the spacing of its binade, at
    most 2^-(p+1); two encodings 1/n apart therefore stay at least 1/n - 2^-p apart after
    rounding. Consequently the n encodings i/n, i = 1..n, are pairwise distinct whenever
    2^-p < 1/n, i.e. p > log2 n (and also at n = 2^p, where every i/n is representable).
    Source: elementary floating-point analysis (Higham, "Accuracy and Stability of Numerical
    Algorithms", 2nd ed., Thm 2.2 for the rounding model).

    Args:
        n: number of positions (n >= 2).
        p: significand bits.

    Returns:
        The sympy expression 1/n - 2^-p.
    """
    n, p = map(sympify_arg, (n, p))
    return 1 / n - unit_roundoff(p)


def mantissa_bits_needed(n=sym.n, margin=sym.margin) -> sp.Expr:
    """Significand bits needed to tell the numerical encodings i/n of positions 1..n apart.

    Lemma: by `position_gap_lower`, p >= log2(n) keeps them distinct; every extra margin bit
    halves the rounding error relative to the gap 1/n, leaving room for 2^margin - 1 further
    roundings of the same size before two neighbours may merge. Source: `position_gap_lower`.

    Args:
        n: number of positions.
        margin: extra bits of headroom (>= 0).

    Returns:
        The sympy expression log2(n) + margin.
    """
    n, margin = map(sympify_arg, (n, margin))
    return sp.log(n, 2) + margin


def max_distinguishable_positions(p=sym.p, margin=sym.margin) -> sp.Expr:
    """The number of positions whose encodings i/n a p-bit format keeps apart with margin bits.

    The inverse of `mantissa_bits_needed`: n <= 2^(p - margin).

    Args:
        p: significand bits.
        margin: extra bits of headroom.

    Returns:
        The sympy expression 2^(p - margin).
    """
    p, margin = map(sympify_arg, (p, margin))
    return sp.Integer(2) ** (p - margin)


def min_mantissa_bits(n: int, margin: int = 0) -> int:
    """The integer ceil(log2 n) + margin, computed exactly (no floating-point log).

    Args:
        n: number of positions, an int >= 1.
        margin: extra bits, an int >= 0.

    Returns:
        The smallest integer p with 2^(p - margin) >= n.

    Raises:
        InvalidInput: if n < 1 or margin < 0 or either is not an int (value quoted).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidInput(f"n must be an int >= 1, got {n!r}")
    if isinstance(margin, bool) or not isinstance(margin, int) or margin < 0:
        raise InvalidInput(f"margin must be an int >= 0, got {margin!r}")
    return (n - 1).bit_length() + margin


def layer_norm_hash_bits_needed(i=sym.i, c=1) -> sp.Expr:
    """Significand bits for which the layer-norm hash still separates position i from i-1.

    Heuristic (first-order rounding model): Merrill & Sabharwal's Lemma 8 gives the exact gap
    1 - phi_i . phi_(i-1) >= 1/(2 i^4); a dot product of unit vectors computed in p-bit floats is
    off by about c 2^-p, so the gap survives while c 2^-p < 1/(2 i^4), i.e.
    p > log2(2 c i^4) = 4 log2(i) + 1 + log2(c). The measured breakpoints are reported by
    `theory_kit.claims.layer_norm_hash_breakpoints` and proofs_numeric/check_layer_norm_hash_gap.py.

    Args:
        i: the position.
        c: the rounding-error constant of the dot product (default 1).

    Returns:
        The sympy expression log2(2 c i^4).
    """
    i, c = map(sympify_arg, (i, c))
    return sp.log(2 * c * i**4, 2)


def layer_norm_hash_max_position(p=sym.p, c=1) -> sp.Expr:
    """The last position the layer-norm hash separates in p-bit floats (heuristic inverse).

    Inverse of `layer_norm_hash_bits_needed`: i_max = (2^p / (2c))^(1/4); about 5.7, 54 and 8192
    for float16, float32 and float64 with c = 1.

    Args:
        p: significand bits.
        c: the rounding-error constant of the dot product.

    Returns:
        The sympy expression (2^p / (2 c))^(1/4).
    """
    p, c = map(sympify_arg, (p, c))
    return (sp.Integer(2) ** p / (2 * c)) ** sp.Rational(1, 4)



def layer_norm_hash_lemma_max_position(p=sym.p, c=1) -> sp.Expr:
    """The last position at which Lemma 8's inequality survives p-bit rounding (heuristic).

    Lemma 8 of Merrill & Sabharwal 2024 is tight to first order: the exact gap is
    1 - m/sqrt(m^2 + 1) with m = i^2 - i + 1, which exceeds 1/(2 i^4) only by about 1/i^5. A
    computed dot product off by c 2^-p therefore violates the stated inequality once
    c 2^-p > 1/i^5, i.e. beyond i_max = (2^p / c)^(1/5): about 4.6, 28 and 1552 for float16,
    float32 and float64 with c = 1 -- far earlier than the hash stops separating positions
    (`layer_norm_hash_max_position`). Measured values: proofs_numeric/check_layer_norm_hash_gap.py.

    Args:
        p: significand bits.
        c: the rounding-error constant of the dot product.

    Returns:
        The sympy expression (2^p / c)^(1/5).
    """
    p, c = map(sympify_arg, (p, c))
    return (sp.Integer(2) ** p / c) ** sp.Rational(1, 5)
