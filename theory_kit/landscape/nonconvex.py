"""Non-convex baseline: the two-layer ReLU objective trained by L-BFGS from seeded random inits.

Objective (the one `relu.two_layer_relu` certifies): f(W, α) = ½‖relu(XW)α − y‖² + (β/2)(‖W‖² + ‖α‖²).
Analytic (sub)gradient, with r = relu(XW)α − y and the convention relu'(0) = 0:
    ∂f/∂α = relu(XW)ᵀ r + βα,     ∂f/∂W = Xᵀ[(r αᵀ) ∘ 1[XW > 0]] + βW.
Every trained network is a feasible point, so its objective is ≥ the global minimum ≥ the dual
lower bound — the comparison a test asserts.

Scaling. L-BFGS stops on an absolute gradient tolerance, so on raw data at scale 1e-12 it stopped at
the initialisation. We train on X̃ = X/s_x, ỹ = y/s_y (s_x, s_y powers of four, `_scaling`) with
β̃ = β/(s_x s_y): for W = a W̃, α = a α̃, a = √(s_y/s_x) (a power of two),
    relu(X W) α = s_x a² relu(X̃ W̃) α̃ = s_y relu(X̃ W̃) α̃,   (β/2)(‖W‖² + ‖α‖²) = s_y² (β̃/2)(‖W̃‖² + ‖α̃‖²),
so f(W, α; X, y, β) = s_y² f(W̃, α̃; X̃, ỹ, β̃) — the same scaling law as the convex program
(`relu` module docstring). The He-style initialisation is drawn for (W̃, α̃), i.e. relative to the
normalised data, which makes training equivariant under rescaling the data by powers of two.

Shape glossary: N samples, D input dimension, M width, S widths swept, K initialisations.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy.optimize import minimize

from theory_kit.errors import InvalidInput
from theory_kit.landscape._scaling import power_of_two_scale
from theory_kit.landscape._validate import Problems, check_int, check_int_list, check_positive, check_seed, check_training
from theory_kit.landscape.data import TOY_BETA, toy_relu_dataset
from theory_kit.landscape.relu import _validate_data, two_layer_objective, two_layer_relu
from theory_kit.landscape.results import NonconvexBaselineResult, TwoLayerReluResult

__all__ = [
    "objective_and_gradient",
    "train_two_layer_relu",
    "nonconvex_baseline",
    "toy_nonconvex_vs_certified",
    "DEFAULT_WIDTHS",
    "OPTIMAL_RTOL",
]

DEFAULT_WIDTHS = (2, 4, 8, 16, 32)
# A run "reached the certified optimum" when its objective is within this relative tolerance.
OPTIMAL_RTOL = 1e-6


def objective_and_gradient(theta: np.ndarray, X: np.ndarray, y: np.ndarray, beta: float,
                           width: int) -> tuple[float, np.ndarray]:
    """f and ∇f at theta = concat(W.ravel() (D·M), α (M)). Unvalidated hot path for L-BFGS."""
    d = X.shape[1]
    W = theta[: d * width].reshape(d, width)
    alpha = theta[d * width:]
    pre = X @ W  # (N, M)
    hidden = np.maximum(pre, 0.0)
    r = hidden @ alpha - y
    f = 0.5 * r @ r + 0.5 * beta * (np.sum(W * W) + alpha @ alpha)
    grad_alpha = hidden.T @ r + beta * alpha
    grad_W = X.T @ ((r[:, None] * alpha[None, :]) * (pre > 0)) + beta * W
    return float(f), np.concatenate([grad_W.ravel(), grad_alpha])


def train_two_layer_relu(X, y, *, beta: float, width: int, seed: int = 0, max_iter: int = 5000,
                         init_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, float, int]:
    """One L-BFGS run from W ~ N(0, init_scale²·2/D), α ~ N(0, init_scale²/M) (He-style).

    Args:
        X: (N, D); y: (N,); beta > 0; width: M ≥ 1; seed: init rng seed; max_iter ≥ 1;
        init_scale > 0.

    Returns:
        (W (D, M), alpha (M,), objective recomputed by `two_layer_objective`, iterations).

    Raises:
        InvalidInput: bad inputs (listed together).
    """
    problems = Problems("train_two_layer_relu")
    X, y, beta = _validate_data(problems, X, y, beta)
    width = check_int(problems, "width", width)
    seed = check_seed(problems, seed)
    max_iter = check_int(problems, "max_iter", max_iter)
    init_scale = check_positive(problems, "init_scale", init_scale)
    problems.raise_if_any()
    return _train(X, y, beta, width, np.random.default_rng(seed), max_iter, init_scale)


def _train(X, y, beta, width, rng, max_iter, init_scale):
    d = X.shape[1]
    # normalised problem (module docstring, "Scaling"): f = s_y² f̃, (W, α) = a (W̃, α̃)
    s_x, s_y = power_of_two_scale(X, even=True), power_of_two_scale(y, even=True)
    Xs, ys = X / s_x, y / s_y
    a = math.sqrt(s_y / s_x)
    beta_s = beta / s_x / s_y
    if beta_s == 0.0 or not 0.0 < a < math.inf or not math.isfinite(s_y * s_y * float(ys @ ys)):
        raise InvalidInput(f"two-layer ReLU training: the data scale (max|X| = {float(np.max(np.abs(X)))!r}, "
                           f"max|y| = {float(np.max(np.abs(y)))!r}) and beta = {beta!r} are outside float64 range")
    W0 = rng.standard_normal((d, width)) * init_scale * np.sqrt(2.0 / d)
    a0 = rng.standard_normal(width) * init_scale / np.sqrt(width)
    result = minimize(objective_and_gradient, np.concatenate([W0.ravel(), a0]),
                      args=(Xs, ys, beta_s, width), jac=True, method="L-BFGS-B",
                      options={"maxiter": max_iter, "maxcor": 30, "gtol": 1e-12, "ftol": 1e-15})
    W = a * result.x[: d * width].reshape(d, width)
    alpha = a * result.x[d * width:]
    return W, alpha, two_layer_objective(X, y, W, alpha, beta=beta), int(result.nit)


def nonconvex_baseline(X, y, *, beta: float, widths: Sequence[int] = DEFAULT_WIDTHS, n_inits: int = 10,
                       seed: int = 0, max_iter: int = 5000, init_scale: float = 1.0,
                       certified: TwoLayerReluResult | None = None,
                       rel_tol: float = OPTIMAL_RTOL) -> NonconvexBaselineResult:
    """Train from `n_inits` seeded inits at each width and compare with the certified optimum.

    Args:
        X: (N, D); y: (N,); beta > 0: the same objective as `two_layer_relu`.
        widths: network widths to train (each ≥ 1).
        n_inits: K initialisations per width; run k at width index s uses seed (seed, s, k).
        seed: base seed; max_iter: L-BFGS iteration cap; init_scale: init standard-deviation factor.
        certified: a TwoLayerReluResult for the same (X, y, beta); computed with patterns="all"
            when None.
        rel_tol: relative tolerance for "reached the optimum" (fraction_optimal).

    Returns:
        NonconvexBaselineResult with objectives (S, K), gaps and fraction within rel_tol.

    Raises:
        InvalidInput: bad inputs, or `certified` solved with a different beta.
        SolverFailed: from the certifying solve.
    """
    problems = Problems("nonconvex_baseline")
    X, y, beta = _validate_data(problems, X, y, beta)
    widths = check_int_list(problems, "widths", widths)
    n_inits, seed, max_iter, init_scale, rel_tol = check_training(
        problems, n_inits=n_inits, seed=seed, max_iter=max_iter, init_scale=init_scale,
        rel_tol=rel_tol, certified=certified, certified_type=TwoLayerReluResult, beta=beta)
    problems.raise_if_any()
    if certified is None:
        certified = two_layer_relu(X, y, beta=beta, patterns="all")
    objectives = np.empty((len(widths), n_inits))
    iterations = np.empty((len(widths), n_inits), dtype=int)
    for s, width in enumerate(widths):
        for k in range(n_inits):
            rng = np.random.default_rng((seed, s, k))
            _, _, objectives[s, k], iterations[s, k] = _train(X, y, beta, int(width), rng, max_iter, init_scale)
    if not np.all(np.isfinite(objectives)):
        raise InvalidInput("nonconvex_baseline: training diverged to a non-finite objective; lower init_scale")
    return NonconvexBaselineResult(widths=np.array(widths), objectives=objectives, iterations=iterations,
                                   certified_value=certified.value,
                                   certified_lower_bound=certified.lower_bound, rel_tol=rel_tol, seed=seed)


def toy_nonconvex_vs_certified(n: int, *, seed: int = 0, beta: float | None = None,
                               widths: Sequence[int] = DEFAULT_WIDTHS, n_inits: int = 10,
                               max_iter: int = 5000) -> NonconvexBaselineResult:
    """Figure data "non-convex objectives vs certified optimum" on the d = 2 toy dataset.

    Args:
        n: samples of `toy_relu_dataset(n, seed=seed)`; seed: data seed and training base seed;
        beta: weight decay (default data.TOY_BETA); widths, n_inits, max_iter: as `nonconvex_baseline`.

    Returns:
        NonconvexBaselineResult (objectives (S, K), certified value and lower bound).

    Raises:
        InvalidInput: bad arguments. SolverFailed: the certifying solve failed.
    """
    X, y = toy_relu_dataset(n, seed=seed)
    beta = TOY_BETA if beta is None else beta
    return nonconvex_baseline(X, y, beta=beta, widths=widths, n_inits=n_inits, seed=seed, max_iter=max_iter)
