"""Seeded toy datasets used by the landscape tests, benchmarks and figures (one source of truth).

Shape glossary: N samples (or sequences), D input dimension, T tokens, C outputs.
"""

from __future__ import annotations

import numpy as np

from theory_kit.landscape._validate import Problems, check_int, check_nonnegative, check_seed

__all__ = ["toy_relu_dataset", "toy_attention_dataset", "TOY_BETA"]

# The weight decay the d = 2 toy problems are solved with in tests and figures.
TOY_BETA = 0.1


def toy_relu_dataset(n: int, *, seed: int = 0, d: int = 2, noise: float = 0.1,
                     teacher_width: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian inputs labelled by a random ReLU teacher plus Gaussian noise.

    x_i ~ N(0, I_D); y_i = Σ_k relu(x_iᵀ t_k) a_k + noise·ε_i with t_k ~ N(0, I_D), a_k = ±1
    alternating (so the target is neither monotone nor convex), ε_i ~ N(0, 1).

    Args:
        n: number of samples N ≥ 1.
        seed: seed for np.random.default_rng (same seed and n -> same data).
        d: input dimension D (2 for the exactly enumerable toy problem).
        noise: label-noise standard deviation ≥ 0.
        teacher_width: number of teacher neurons ≥ 1.

    Returns:
        (X, y) with X (N, D) and y (N,).

    Raises:
        InvalidInput: n, d or teacher_width < 1, bad seed, negative or non-finite noise.
    """
    problems = Problems("toy_relu_dataset")
    n = check_int(problems, "n", n)
    d = check_int(problems, "d", d)
    teacher_width = check_int(problems, "teacher_width", teacher_width)
    noise = check_nonnegative(problems, "noise", noise)
    seed = check_seed(problems, seed)
    problems.raise_if_any()
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    teacher = rng.standard_normal((d, teacher_width))
    signs = np.where(np.arange(teacher_width) % 2 == 0, 1.0, -1.0)
    y = np.maximum(X @ teacher, 0.0) @ signs + noise * rng.standard_normal(n)
    return X, y


def toy_attention_dataset(n_sequences: int, *, seq_len: int = 4, d: int = 3, c: int = 1, heads: int = 2,
                          noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sequences labelled by a random multi-head linear self-attention teacher plus noise.

    X_i has i.i.d. N(0, 1/D) entries (so XᵀX is O(1)); Y_i = Σ_h X_i A_h X_iᵀ X_i B_h + noise·E_i with
    A_h (D, D), B_h (D, C) standard normal / D.

    Args:
        n_sequences: N ≥ 1; seq_len: T ≥ 1; d: D ≥ 1; c: outputs C ≥ 1; heads: teacher heads ≥ 1;
        noise: label noise ≥ 0; seed: rng seed.

    Returns:
        (X (N, T, D), Y (N, T, C)).

    Raises:
        InvalidInput: bad arguments.
    """
    problems = Problems("toy_attention_dataset")
    n_sequences = check_int(problems, "n_sequences", n_sequences)
    seq_len = check_int(problems, "seq_len", seq_len)
    d = check_int(problems, "d", d)
    c = check_int(problems, "c", c)
    heads = check_int(problems, "heads", heads)
    noise = check_nonnegative(problems, "noise", noise)
    seed = check_seed(problems, seed)
    problems.raise_if_any()
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_sequences, seq_len, d)) / np.sqrt(d)
    A = rng.standard_normal((heads, d, d)) / d
    B = rng.standard_normal((heads, d, c)) / d
    gram = np.swapaxes(X, 1, 2) @ X  # (N, D, D)
    Y = np.zeros((n_sequences, seq_len, c))
    for h in range(heads):
        Y += X @ A[h] @ gram @ B[h]
    return X, Y + noise * rng.standard_normal(Y.shape)
