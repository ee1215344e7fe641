"""Power-of-two rescaling of data before a solve, so solvers see O(1) numbers at any data scale.

Interior-point solvers work to absolute and relative tolerances tuned for O(1) data: at scale 1e12
Clarabel reports "infeasible" or fails, at 1e-12 it stops at a point far from the optimum and says
"optimal". Every landscape entry point that takes data therefore solves an *equivalent* problem on
normalised data (each module derives its own scaling law next to its code) and maps the solution
back. Scale factors are powers of two, so dividing by them and multiplying back is exact in
floating point (barring underflow to subnormals). Data already of moderate size (largest entry in
[1/UNSCALED_RANGE, UNSCALED_RANGE]) is not rescaled at all: solvers handle it (they equilibrate
internally) and the absolute tolerances a caller passes in solver_options keep their meaning (SCS
at eps_abs = 1e-9 took 4× longer on the toy problem divided by 4 and 8). Beyond that range the
caller's absolute tolerances apply to the normalised problem.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["UNSCALED_RANGE", "power_of_two_scale"]

# Largest exponent e with 2**e finite in float64.
_MAX_EXPONENT = 1023
# Data whose largest entry lies in [1/UNSCALED_RANGE, UNSCALED_RANGE] gets scale 1 (a power of two).
UNSCALED_RANGE = 16.0


def power_of_two_scale(a, *, even: bool = False) -> float:
    """1.0 for moderate data, else the power of two 2**e with max|a| / 2**e in (0.5, 1].

    Moderate: max|a| in [1/UNSCALED_RANGE, UNSCALED_RANGE], or a is empty or all zero.

    Args:
        a: finite array.
        even: force an even exponent (then max|a| / 2**e lies in (0.25, 1]), so that √(2**e) is
            itself a power of two, e.g. for a covariance whose square root scales samples.
    """
    a = np.asarray(a, dtype=float)
    largest = float(np.max(np.abs(a))) if a.size else 0.0
    if largest == 0.0 or not math.isfinite(largest) or 1.0 / UNSCALED_RANGE <= largest <= UNSCALED_RANGE:
        return 1.0
    mantissa, exponent = math.frexp(largest)  # largest = m · 2**exponent, m in [0.5, 1)
    if mantissa == 0.5:  # largest is itself a power of two: use it
        exponent -= 1
    if even and exponent % 2:
        exponent += 1
    return math.ldexp(1.0, min(exponent, _MAX_EXPONENT - (1 if even else 0)))
