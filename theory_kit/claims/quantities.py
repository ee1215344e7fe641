"""Measured quantities: direct numerical computations that the built-in claims compare with bounds.

Nothing here uses a bound's formula: each function builds the object a lemma talks about (a
softmax over explicit logits, a ReLU staircase, a float computation in a given dtype, explicit ±1
codes) and measures it. Shape letters: N positions (keys), D value width, C = 4 hash coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np

from theory_kit.errors import InvalidInput

__all__ = [
    "gap_logits",
    "softmax",
    "relu_staircase",
    "round_ratio_to_bits",
    "position_encoding_min_gap",
    "position_encodings_distinct",
    "layer_norm_hash",
    "layer_norm_hash_gap_exact",
    "HashBreakpoints",
    "layer_norm_hash_breakpoints",
    "tie_breaker",
    "bipolar_code",
    "walsh_hadamard",
    "parity_gradients",
    "parity_gradient_variance",
    "HASH_DTYPES",
]

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
HASH_DTYPES = ("float16", "float32", "float64")


def gap_logits(n_top: int, n_rest: int, Delta: float, spread: float) -> np.ndarray:
    """Logits with n_top tied maxima at 0 and n_rest others at -Delta - spread * u_k.

    u_k = frac(k * golden ratio) in [0, 1) is a fixed low-discrepancy pattern, so spread = 0 puts
    every other logit exactly Delta below the maximum (the worst case of the softmax lemmas).

    Args:
        n_top: number of tied maximal logits (>= 1).
        n_rest: number of other logits (>= 0).
        Delta: the gap (> 0).
        spread: how far beyond the gap the other logits are spread (>= 0).

    Returns:
        float64 array of shape (N,), N = n_top + n_rest, maxima first.
    """
    k = np.arange(1, n_rest + 1, dtype=float)
    u = np.mod(k * _GOLDEN, 1.0)
    return np.concatenate([np.zeros(n_top), -Delta - spread * u])


def softmax(logits: np.ndarray, beta: float) -> np.ndarray:
    """The numerically stable softmax of beta * logits, in float64.

    Args:
        logits: array of shape (N,).
        beta: inverse temperature.

    Returns:
        Array of shape (N,) summing to 1 (entries may underflow to 0).
    """
    z = beta * np.asarray(logits, dtype=float)
    with np.errstate(under="ignore"):
        w = np.exp(z - z.max())
    return w / w.sum()


def relu_staircase(x: float, K: int, L: float, delta: float) -> float:
    """The K-level discretising ReLU MLP on values spaced delta apart, evaluated at x.

    Hidden layer: for each threshold t_k = (k - 1/2) delta, k = 1..K-1, the pair
    ReLU(L (x - t_k) + 1/2) - ReLU(L (x - t_k) - 1/2); output: the sum of the pairs, which is the
    level index j for x = j delta when the slope is large enough.

    Args:
        x: the input.
        K: number of levels.
        L: slope of every pair.
        delta: spacing of the levels.

    Returns:
        The MLP's output.
    """
    t = (np.arange(1, K, dtype=float) - 0.5) * delta
    a = L * (x - t)
    return float(np.sum(np.maximum(a + 0.5, 0.0) - np.maximum(a - 0.5, 0.0)))


def tracr_relu_staircase(x: float, K: int, L: float, delta: float) -> float:
    """Tracr's K-level discretising MLP (one-sided ReLU pairs) on values spaced delta apart.

    Hidden layer (tracr craft/chamber/numerical_mlp.py): for each threshold t_k = (k - 1/2) delta,
    ReLU(L (x - t_k) + 1) - ReLU(L (x - t_k)), which ramps over [t_k - 1/L, t_k]; output: their sum.
    """
    t = (np.arange(1, K, dtype=float) - 0.5) * delta
    a = L * (x - t)
    return float(np.sum(np.maximum(a + 1.0, 0.0) - np.maximum(a, 0.0)))


def _bit_length(a: np.ndarray) -> np.ndarray:
    return np.frexp(a.astype(np.float64))[1].astype(np.int64)


def round_ratio_to_bits(num: np.ndarray, den: int, p: int) -> np.ndarray:
    """Round the exact ratios num/den in (0, 1] to p significand bits, to nearest, ties to even.

    Computed with exact integer arithmetic (no intermediate float rounding), so it models a p-bit
    float format with unbounded exponent range.

    Args:
        num: int array of numerators, 1 <= num <= den.
        den: the common denominator (>= 1).
        p: significand bits (implicit bit included), 1 <= p.

    Returns:
        float64 array of the rounded values (exactly representable: p <= 53).

    Raises:
        InvalidInput: if den * 2^p >= 2^62 (int64 would overflow) or num is outside [1, den].
    """
    num = np.asarray(num, dtype=np.int64)
    if p < 1 or p > 53 or den < 1 or den.bit_length() + p >= 62:
        raise InvalidInput(f"round_ratio_to_bits needs 1 <= p <= 53 and den * 2^p < 2^62, got den={den!r}, p={p!r}")
    if num.size and (num.min() < 1 or num.max() > den):
        raise InvalidInput(f"round_ratio_to_bits needs 1 <= num <= den={den}, got range [{num.min()}, {num.max()}]")
    # binade: 2^k <= num/den < 2^(k+1), k <= 0
    k = _bit_length(num) - den.bit_length()
    lhs = np.left_shift(num, np.maximum(-k, 0))
    rhs = np.left_shift(np.int64(den), np.maximum(k, 0))
    k = np.where(lhs < rhs, k - 1, k)
    shifted = np.left_shift(num, p - 1 - k)  # < den * 2^p: no overflow
    q, rem = np.divmod(shifted, np.int64(den))
    up = (2 * rem > den) | ((2 * rem == den) & (q % 2 == 1))
    q = q + up
    return np.ldexp(q.astype(np.float64), (k - p + 1).astype(np.int64))


def position_encoding_min_gap(n: int, p: int) -> float:
    """The smallest gap between consecutive rounded position encodings fl_p(i/n), i = 1..n.

    Args:
        n: number of positions (>= 2).
        p: significand bits of the format.

    Returns:
        min_i fl_p(i/n) - fl_p((i-1)/n), computed exactly; 0.0 means two positions collide.
    """
    vals = round_ratio_to_bits(np.arange(1, n + 1, dtype=np.int64), int(n), int(p))
    return float(np.min(np.diff(vals)))


def position_encodings_distinct(dtype: str, n: int) -> bool:
    """Whether the encodings i/n, i = 1..n, computed as dtype(i) / dtype(n), are pairwise distinct.

    This is the real dtype computation (i and n are themselves rounded to the dtype first, as a
    model storing positions in that dtype would).

    Args:
        dtype: "float16", "float32" or "float64".
        n: number of positions (>= 2).

    Returns:
        True if no two positions share an encoding.
    """
    dt = np.dtype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        enc = np.arange(1, n + 1, dtype=np.float64).astype(dt) / dt.type(n)
    return bool(np.all(np.diff(enc) > 0))


def layer_norm_hash(x, y, dtype: str = "float64", accumulate: str | None = None) -> np.ndarray:
    """Merrill & Sabharwal's layer-norm hash phi(x, y) = LN(<x, y, -x, -y>), computed in dtype.

    LN(v) = (v - mean v) / |v - mean v| (their layer norm, no epsilon, no affine part). Inputs and
    the returned hash are stored in dtype; the arithmetic (mean, centring, sum of squares, sqrt,
    division) is done in `accumulate` (default: dtype itself, "all the way"), sums left to
    right, as a model running in that precision would; overflow and underflow are allowed to
    happen (and show up as non-finite or non-unit hashes). accumulate="float32" with
    dtype="float16" is float16 storage with float32 accumulation, as on most accelerators.

    Args:
        x, y: scalars or arrays of shape (N,) (cast to dtype first).
        dtype: "float16", "float32" or "float64" (storage).
        accumulate: None (= dtype) or a dtype at least as wide as dtype (arithmetic).

    Returns:
        Array of shape (N, 4) (or (4,) for scalars) in dtype.
    """
    if dtype not in HASH_DTYPES:
        raise InvalidInput(f"unknown dtype {dtype!r}; supported: {list(HASH_DTYPES)}")
    acc = _accumulator(dtype, accumulate)
    dt = np.dtype(dtype)
    with np.errstate(all="ignore"):
        x = np.asarray(x, dtype=np.float64).astype(dt).astype(acc)
        y = np.asarray(y, dtype=np.float64).astype(dt).astype(acc)
        v = [x, y, -x, -y]
        mean = (((v[0] + v[1]) + v[2]) + v[3]) / acc.type(4)
        c = [vi - mean for vi in v]
        ss = ((c[0] * c[0] + c[1] * c[1]) + c[2] * c[2]) + c[3] * c[3]
        norm = np.sqrt(ss)
        return np.stack([ci / norm for ci in c], axis=-1).astype(dt)


def _accumulator(dtype: str, accumulate: str | None) -> np.dtype:
    if accumulate is None:
        return np.dtype(dtype)
    if accumulate not in HASH_DTYPES or np.dtype(accumulate).itemsize < np.dtype(dtype).itemsize:
        raise InvalidInput(f"accumulate must be None or a dtype in {list(HASH_DTYPES)} at least as wide as "
                           f"{dtype!r}, got {accumulate!r}")
    return np.dtype(accumulate)


def _dot4(a: np.ndarray, b: np.ndarray, acc: np.dtype | None = None) -> np.ndarray:
    """Left-to-right dot product over the last axis of length 4, in acc (default: a's dtype),
    the result rounded back to a's dtype (what a model stores)."""
    store = a.dtype
    acc = store if acc is None else acc
    a, b = a.astype(acc), b.astype(acc)
    with np.errstate(all="ignore"):
        out = ((a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1]) + a[..., 2] * b[..., 2]) + a[..., 3] * b[..., 3]
    return out.astype(store)


def layer_norm_hash_gap_exact(i: int, dps: int = 60) -> mpmath.mpf:
    """1 - phi(i, 1) . phi(i-1, 1), computed from the hash vectors in mpmath at dps digits.

    Args:
        i: the position (>= 2).
        dps: decimal digits of working precision (the gap is about 1/(2 i^4), so dps must
            exceed 4 log10(i) + 10 or so).

    Returns:
        The gap as an mpmath mpf.
    """
    with mpmath.workdps(dps):
        def phi(x):
            v = [mpmath.mpf(x), mpmath.mpf(1), -mpmath.mpf(x), -mpmath.mpf(1)]
            mean = sum(v) / 4
            c = [vi - mean for vi in v]
            norm = mpmath.sqrt(sum(ci * ci for ci in c))
            return [ci / norm for ci in c]

        a, b = phi(i), phi(i - 1)
        return +(1 - sum(ai * bi for ai, bi in zip(a, b)))


@dataclass(frozen=True)
class HashBreakpoints:
    """Where the layer-norm hash of positions stops working in a float dtype.

    For each position i in 2..n_max, three failures are checked on the hashes computed in dtype:
      gap violation — the computed phi_i . phi_(i-1) exceeds 1 - 1/(2 i^4) (exact threshold),
        i.e. Merrill & Sabharwal's Lemma 8 no longer holds for the computed numbers;
      collision — the computed phi_i . phi_(i-1) >= the computed phi_i . phi_i, so attention
        cannot prefer the exact match over the neighbour at all;
      degenerate — the hash of i or i-1 is not finite or not a unit vector (|phi . phi - 1| > 1/4),
        e.g. because 2 i^2 + 2 overflowed.

    Attributes:
        accumulate: the accumulation dtype (None: dtype all the way).
        dtype, n_max, form: the inputs ("direct" hashes phi(i, 1); "scaled" hashes
            phi(1, 1/i), the form a uniform causal average produces, equal in exact arithmetic
            by Lemma 1).
        first_gap_violation, first_collision, first_degenerate: the first position with each
            failure, or None.
        first_break: the first position with any failure, or None.
        n_broken: how many positions in 2..n_max have any failure.
        broken: those positions, ascending.
    """

    dtype: str
    n_max: int
    form: str
    first_gap_violation: int | None
    first_collision: int | None
    first_degenerate: int | None
    first_break: int | None
    n_broken: int
    broken: tuple
    accumulate: str | None = None


def _first(mask: np.ndarray, positions: np.ndarray):
    idx = np.flatnonzero(mask)
    return int(positions[idx[0]]) if idx.size else None


def layer_norm_hash_breakpoints(dtype: str, n_max: int, form: str = "direct",
                                accumulate: str | None = None) -> HashBreakpoints:
    """Find the positions at which the layer-norm hash, computed in dtype, breaks (claim:
    layer_norm_hash_gap, Merrill & Sabharwal 2024 Lemma 8).

    The lemma holds in exact arithmetic; what breaks is the floating-point evaluation of its
    inequality, and where depends on the accumulation precision: with float16 all the way the
    computed inequality first fails at i = 6 and neighbours collide at i = 7; with float16
    storage and float32 accumulation both happen first at i = 8.

    Args:
        dtype: "float16", "float32" or "float64" (storage of hashes and dot products).
        n_max: the last position checked (>= 2).
        form: "direct" (phi(i, 1)) or "scaled" (phi(1, 1/i)).
        accumulate: None (arithmetic in dtype) or a wider dtype for the layer norm's sums and
            the dot products (results stored in dtype).

    Returns:
        A HashBreakpoints record (see its docstring for the three failure kinds).

    Raises:
        InvalidInput: for an unknown dtype or form, or n_max < 2 (value quoted).
    """
    if dtype not in HASH_DTYPES:
        raise InvalidInput(f"unknown dtype {dtype!r}; supported: {list(HASH_DTYPES)}")
    if form not in ("direct", "scaled"):
        raise InvalidInput(f"form must be 'direct' or 'scaled', got {form!r}")
    if isinstance(n_max, bool) or not isinstance(n_max, int) or n_max < 2:
        raise InvalidInput(f"n_max must be an int >= 2, got {n_max!r}")
    acc = _accumulator(dtype, accumulate)
    pos = np.arange(1, n_max + 1, dtype=np.float64)
    if form == "direct":
        phi = layer_norm_hash(pos, np.ones_like(pos), dtype, accumulate)
    else:
        with np.errstate(all="ignore"):
            inv = (np.ones_like(pos).astype(dtype) / pos.astype(dtype)).astype(np.float64)
        phi = layer_norm_hash(np.ones_like(pos), inv, dtype, accumulate)
    cur, prev = phi[1:], phi[:-1]  # positions 2..n_max and 1..n_max-1
    positions = np.arange(2, n_max + 1)
    cross = _dot4(cur, prev, acc).astype(np.float64)
    self_dot = _dot4(cur, cur, acc).astype(np.float64)
    prev_self = _dot4(prev, prev, acc).astype(np.float64)
    finite = np.all(np.isfinite(cur), axis=1) & np.all(np.isfinite(prev), axis=1)
    unit = (np.abs(self_dot - 1.0) <= 0.25) & (np.abs(prev_self - 1.0) <= 0.25)
    degenerate = ~(finite & unit)
    collision = ~degenerate & (cross >= self_dot)
    # gap violation: 2 i^4 (1 - cross) < 1, decided exactly (1 - cross is exact where it matters)
    gap_violation = np.zeros_like(degenerate)
    for idx in np.flatnonzero(~degenerate & (cross > 0.5)):
        a, b = float(1.0 - cross[idx]).as_integer_ratio()
        gap_violation[idx] = 2 * int(positions[idx]) ** 4 * a < b
    broken_mask = degenerate | collision | gap_violation
    broken = tuple(int(x) for x in positions[broken_mask])
    return HashBreakpoints(
        dtype=dtype,
        n_max=n_max,
        form=form,
        first_gap_violation=_first(gap_violation, positions),
        first_collision=_first(collision, positions),
        first_degenerate=_first(degenerate, positions),
        first_break=broken[0] if broken else None,
        n_broken=len(broken),
        broken=broken,
        accumulate=accumulate,
    )


def _f(i: int, k: int) -> Fraction:
    if k == 0:
        return Fraction(1, i)
    return _f(i - 1, k - 1) - _f(i, k - 1)


def tie_breaker(i: int) -> Fraction:
    """Merrill & Sabharwal's tie-breaking term f(i) (Definition 7), exactly, from Definition 6.

    f(i) = 1/1000 - 1e-10 i for i <= 4, and f(i, 3)/100 for i >= 5, with f(i, 0) = 1/i and
    f(i, k+1) = f(i-1, k) - f(i, k), evaluated by the recursion (not the closed form of Lemma 9).

    Args:
        i: the position (>= 1).

    Returns:
        f(i) as an exact Fraction.
    """
    if i <= 4:
        return Fraction(1, 1000) - Fraction(1, 10**10) * i
    return _f(i, 3) / 100


def bipolar_code(i: int, d: int) -> np.ndarray:
    """The bipolar address code of i in {-1, +1}^d: bit b of i mapped 0 -> -1, 1 -> +1.

    Args:
        i: the address, 0 <= i < 2^d.
        d: number of address bits.

    Returns:
        int64 array of shape (d,), least significant bit first.
    """
    bits = (int(i) >> np.arange(d, dtype=np.int64)) & 1
    return 2 * bits - 1


def walsh_hadamard(a: np.ndarray) -> np.ndarray:
    """Unnormalised Walsh-Hadamard transform along axis 0 (length 2^n): out[S] = sum_x
    (-1)^popcount(S & x) a[x], in n vectorised butterfly passes (exact for integer input)."""
    a = np.array(a, dtype=float, copy=True)
    m = a.shape[0]
    if m & (m - 1):
        raise InvalidInput(f"walsh_hadamard needs a length that is a power of two, got {m}")
    h = 1
    while h < m:
        b = a.reshape(m // (2 * h), 2, h, *a.shape[1:])
        lo, hi = b[:, 0].copy(), b[:, 1]
        b[:, 0] += hi
        b[:, 1] = lo - hi
        h *= 2
    return a


def parity_gradients(n: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(grads, outputs) of p(x) = a . tanh(W x + b) + c at every x in {-1, 1}^n.

    Row x of `grads` is d p(x) / d(W, b, a, c), flattened (width n + 2 width + 1 numbers); x is
    indexed by its bits, x_i = 1 - 2 bit_i. Weights are N(0, 1/fan_in) from `seed`."""
    if n < 1 or n > 20 or width < 1:
        raise InvalidInput(f"parity_gradients needs 1 <= n <= 20 and width >= 1, got n={n}, width={width}")
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0, 1.0 / math.sqrt(n), (width, n))
    b = rng.normal(0.0, 1.0, width)
    a = rng.normal(0.0, 1.0 / math.sqrt(width), width)
    c = float(rng.normal())
    bits = (np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1
    X = 1.0 - 2.0 * bits
    H = np.tanh(X @ W.T + b)
    back = a * (1.0 - H**2)                                   # d p / d(pre-activation)
    grads = np.concatenate([(back[:, :, None] * X[:, None, :]).reshape(2**n, -1), back, H,
                            np.ones((2**n, 1))], axis=1)
    return grads, H @ a + c


def parity_gradient_variance(n: int, width: int, seed: int) -> tuple[float, float]:
    """(Var, G^2): the exact variance over all 2^n parity targets h_S(x) = prod_{i in S} x_i of
    the square-loss gradient of a tanh network, and G^2 = E_x ||d p(x) / dw||^2.

    Square loss F_S(w) = E_x (p_w(x) - h_S(x))^2 / 2 over the uniform cube, so grad F_S =
    E_x[p dp] - E_x[h_S dp]; the parities' correlations E_x[h_S dp] are one Walsh-Hadamard
    transform of the per-input gradients. Var = E_S ||grad F_S - E_S' grad F_S'||^2 over all
    2^n subsets S (Shalev-Shwartz, Shamir & Shammah 2017, Theorem 1, bound G^2 / 2^n)."""
    grads, p = parity_gradients(n, width, seed)
    m = 2**n
    common = (p[:, None] * grads).mean(axis=0)
    per_target = common[None, :] - walsh_hadamard(grads) / m      # row S: grad F_S
    variance = float(np.mean(np.sum((per_target - per_target.mean(axis=0)) ** 2, axis=1)))
    g2 = float(np.mean(np.sum(grads**2, axis=1)))
    return variance, g2
