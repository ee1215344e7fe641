"""Linear self-attention (LSA) on in-context linear regression: closed-form optimum vs training.

Setting (Ahn, Cheng, Daneshmand & Sra 2023; Mahankali, Hashimoto & Ma 2023; Zhang, Frei & Bartlett
2024 — we use the masked form of Ahn et al., where the query is not its own key):
    x_1..x_n, x_q ~ N(0, Σ) i.i.d. (Σ = diag(cov_diag), default I_D),  w ~ N(0, I_D),
    y_i = wᵀx_i (noiseless), target y_q = wᵀx_q.
    The LSA prediction at the query reduces to  ŷ = x_qᵀ Γ h,  h = (1/n) Σ_i y_i x_i  (Γ ∈ R^{D×D}),
    loss L(Γ) = E (ŷ − y_q)².

Derivation (the hand part; sympy does the moments and the algebra in `derive_lsa_minimiser`):
    with S = (1/n) Σ_i x_i x_iᵀ we have h = S w, so ŷ − y_q = x_qᵀ (ΓS − I) w and, averaging x_q
    and w (second moments only),  L(Γ) = E_S tr(Σ (ΓS − I)(ΓS − I)ᵀ)
                                        = tr(Σ Γ E[S²] Γᵀ) − 2 tr(Σ Γ Σ) + tr Σ.
    E[S²] = (1/n) E[x xᵀ x xᵀ] + ((n−1)/n) Σ², with the fourth moment from Isserlis' theorem.
    L is a convex quadratic (Hessian 2 E[S²] ⊗ Σ ≻ 0), stationary where Σ Γ E[S²] = Σ², so
        Γ* = Σ E[S²]^{-1} = ((n+1)/n Σ + tr(Σ)/n I)^{-1},
    which is Ahn et al.'s (and Zhang–Frei–Bartlett's) global minimiser; for Σ = I:
        Γ* = n/(n + D + 1) I,   L(Γ*) = D (D + 1)/(n + D + 1).
    `derive_lsa_minimiser` builds L symbolically, takes Γ* from the matrix stationarity condition and
    *verifies* with sympy that every partial derivative ∂L/∂Γ_ab vanishes there.

Full LSA layer ("full" parametrisation): for tokens z_i = (x_i, y_i), z_q = (x_q, 0) and
f(Z) = Z + W^{PV} Z_ctx Z_ctxᵀ W^{KQ} Z / n, the query prediction [f(Z)]_{D+1, q} only involves the
last row b = (b_x, b_y) of W^{PV} and the first D columns A = [A_x; a_yᵀ] of W^{KQ}:
    ŷ = x_qᵀ v,  v = A_xᵀ (S b_x + b_y h) + a_y (b_xᵀ h + b_y q),  q = (1/n) Σ_i y_i²,
so we train (b, A) ((D+1)² numbers). Its effective Γ (the part odd in w) is b_y A_xᵀ + a_y b_xᵀ;
the even part must vanish at the optimum, so the global minimum is again Γ*.

Looped LSA (Gatmiry, Saunshi, Reddi, Jegelka & Kumar, ICML 2024): one shared preconditioner A applied
L times, each loop a preconditioned GD step on the in-context least squares from w_0 = 0:
    w_{t+1} = w_t + A (h − S w_t)   ⇒   w − w_L = (I − A S)^L w,
    L_loop(A) = E_S tr(Σ (I − AS)^L (I − AS)^{Lᵀ}).  For L = 1 this is the LSA loss with Γ = A.
It is minimised numerically (no closed form for L ≥ 2).

Scaling (why the numerical minimisers work on a normalised covariance). With Σ = s Σ̃ (s > 0) the
samples are x = √s x̃, so S = s S̃, h = s h̃, q = s q̃ while w is unchanged, and
    L_Σ(Γ) = E tr(Σ (ΓS − I)(ΓS − I)ᵀ) = s L_Σ̃(s Γ):   Γ* = Γ̃*/s,  L* = s L̃*;
the same holds for the looped loss in A. In the full layer v is a product of one entry of b and one
of A times (S, h, q), so (b, A) = (b̃, Ã)/√s. L-BFGS stops on an absolute gradient tolerance (and
the 1-D search for a is bounded to [0, 4]), so on Σ = 1e-12 I it stopped at the initialisation
(relative error 1.0) and on Σ = 1e12 I the full layer ended 0.61 off Γ*. We therefore optimise for
Σ̃ = Σ/s with s a power of four (`_scaling`: √s is a power of two, so the sampled contexts are the
same numbers up to exact powers of two) and map back; Σ = I is left unchanged (s = 1).

Shape glossary: D dimension, n context length, K sampled contexts (prompts), L loops.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np
import sympy as sp
from scipy.optimize import minimize, minimize_scalar

from theory_kit.errors import InvalidInput
from theory_kit.landscape._scaling import power_of_two_scale
from theory_kit.landscape._validate import Problems, check_int, check_int_list, check_matrix, check_seed, check_vector
from theory_kit.landscape.results import LoopedLSAResult, LSAClosedForm, LSANumericResult, LSATrainedVsClosedForm

__all__ = [
    "derive_lsa_minimiser",
    "lsa_closed_form",
    "lsa_population_loss",
    "lsa_numerical_minimiser",
    "looped_lsa",
    "lsa_trained_vs_closed_form",
    "ahn_minimiser_formula",
]

# Above this dimension a symbolic (per-coordinate) covariance makes sympy too slow to be useful.
MAX_SYMBOLIC_COV_DIM = 3
_CHUNK = 5000  # contexts sampled per chunk (memory: CHUNK · n · D floats)


def _isserlis_fourth(Sigma: sp.Matrix) -> sp.Matrix:
    """E[x xᵀ x xᵀ] for x ~ N(0, Sigma): entry (a, b) = Σ_c E[x_a x_c x_c x_b] (Isserlis)."""
    d = Sigma.shape[0]

    def m4(a, b, c, e):
        return Sigma[a, b] * Sigma[c, e] + Sigma[a, c] * Sigma[b, e] + Sigma[a, e] * Sigma[b, c]

    return sp.Matrix(d, d, lambda a, b: sp.Add(*[m4(a, c, c, b) for c in range(d)]))


@functools.lru_cache(maxsize=32)
def _derive(d: int, cov_key: tuple | None):
    n = sp.Symbol("n", positive=True)
    if cov_key is None:
        s = sp.symbols(f"s_1:{d + 1}", positive=True)
    else:
        s = [sp.nsimplify(v, rational=True) for v in cov_key]
    Sigma = sp.diag(*s)
    G = sp.Matrix(d, d, lambda a, b: sp.Symbol(f"g_{a + 1}_{b + 1}"))
    ES2 = (_isserlis_fourth(Sigma) / n + (n - 1) / n * Sigma * Sigma).applyfunc(sp.cancel)
    loss = sp.expand((Sigma * G * ES2 * G.T).trace() - 2 * (Sigma * G * Sigma).trace() + Sigma.trace())
    gamma = (Sigma * ES2.inv()).applyfunc(sp.cancel)  # stationarity Σ Γ E[S²] = Σ² solved for Γ
    substitution = dict(zip(list(G), list(gamma)))
    gradient_vanishes = all(sp.cancel(sp.diff(loss, g).xreplace(substitution)) == 0 for g in G)
    if not gradient_vanishes:  # pragma: no cover - would mean the algebra above is wrong
        raise InvalidInput(f"derive_lsa_minimiser: stationarity check failed for d={d}")
    min_loss = sp.factor(sp.cancel(loss.xreplace(substitution)))
    return n, tuple(s), gamma, loss, min_loss


def _validate_cov(problems: Problems, cov_diag, d):
    if cov_diag is None:
        return None if d is None else np.ones(d)
    cov = check_vector(problems, "cov_diag", cov_diag, length=d)
    if cov is not None and np.any(cov <= 0):
        problems.add(f"cov_diag must be positive, got {cov_diag!r}")
        return None
    return cov


def derive_lsa_minimiser(d: int, *, cov_diag=None, symbolic_cov: bool = False):
    """Symbolic population loss and minimiser of the LSA in-context regression problem.

    Args:
        d: dimension D ≥ 1.
        cov_diag: diagonal of Σ as numbers (default ones). Ignored when symbolic_cov.
        symbolic_cov: use symbols s_1..s_D for Σ's diagonal (only D ≤ 3: sympy gets slow).

    Returns:
        (gamma_expr, loss_expr, min_loss_expr, n_symbol): sympy Matrix Γ*(n[, s]), the loss in n
        and the Γ entries g_a_b, the minimum value, and the symbol n.

    Raises:
        InvalidInput: d < 1, bad cov_diag, or symbolic_cov with D > 3.
    """
    problems = Problems("derive_lsa_minimiser")
    d = check_int(problems, "d", d)
    cov = _validate_cov(problems, cov_diag, d)
    if symbolic_cov and d is not None and d > MAX_SYMBOLIC_COV_DIM:
        problems.add(f"symbolic_cov is limited to d <= {MAX_SYMBOLIC_COV_DIM} (sympy cost), got d={d}")
    problems.raise_if_any()
    n, _, gamma, loss, min_loss = _derive(d, None if symbolic_cov else tuple(float(v) for v in cov))
    return gamma, loss, min_loss, n


def ahn_minimiser_formula(d: int) -> sp.Matrix:
    """Ahn et al. (2023) closed form ((1 + 1/n) Σ + tr(Σ)/n I)^{-1} with Σ = diag(s_1..s_D), symbolic."""
    problems = Problems("ahn_minimiser_formula")
    d = check_int(problems, "d", d)
    problems.raise_if_any()
    n = sp.Symbol("n", positive=True)
    s = sp.symbols(f"s_1:{d + 1}", positive=True)
    Sigma = sp.diag(*s)
    return ((1 + 1 / n) * Sigma + Sigma.trace() / n * sp.eye(d)).inv().applyfunc(sp.cancel)


def lsa_closed_form(d: int, n: int, *, cov_diag=None) -> LSAClosedForm:
    """Γ* and the minimum population loss for dimension d and context length n (sympy-derived).

    Args:
        d: dimension ≥ 1; n: context length ≥ 1; cov_diag: Σ's diagonal (default ones).

    Returns:
        LSAClosedForm with the numeric Γ* and the symbolic expressions.

    Raises:
        InvalidInput: bad d, n or cov_diag.
    """
    problems = Problems("lsa_closed_form")
    d = check_int(problems, "d", d)
    n_value = check_int(problems, "n", n)
    cov = _validate_cov(problems, cov_diag, d)
    problems.raise_if_any()
    gamma_expr, loss_expr, min_loss_expr, n_sym = derive_lsa_minimiser(d, cov_diag=cov)
    gamma = np.array(gamma_expr.subs(n_sym, n_value).evalf(), dtype=float)
    min_loss = float(min_loss_expr.subs(n_sym, n_value))
    return LSAClosedForm(d=d, n=n_value, cov_diag=cov, gamma=gamma, min_loss=min_loss,
                         gamma_expr=gamma_expr, loss_expr=loss_expr)


def lsa_population_loss(gamma, *, n: int, cov_diag=None) -> float:
    """Exact population loss tr(ΣΓE[S²]Γᵀ) − 2tr(ΣΓΣ) + trΣ of ŷ = x_qᵀΓh (numeric).

    Raises:
        InvalidInput: gamma not square finite, bad n or cov_diag.
    """
    problems = Problems("lsa_population_loss")
    G = check_matrix(problems, "gamma", gamma)
    if G is not None and G.shape[0] != G.shape[1]:
        problems.add(f"gamma must be square, got shape {G.shape}")
        G = None
    n = check_int(problems, "n", n)
    cov = _validate_cov(problems, cov_diag, None if G is None else G.shape[0])
    problems.raise_if_any()
    Sigma = np.diag(cov)
    # E[S²] = (2Σ² + tr(Σ)Σ)/n + (n−1)/n Σ²  (Isserlis), the same moment `_derive` builds in sympy
    ES2 = (n + 1) / n * Sigma @ Sigma + np.trace(Sigma) / n * Sigma
    return float(np.trace(Sigma @ G @ ES2 @ G.T) - 2 * np.trace(Sigma @ G @ Sigma) + np.trace(Sigma))


# ---------------------------------------------------------------------------------------------
# Monte-Carlo statistics of sampled contexts
# ---------------------------------------------------------------------------------------------

def _contexts(d, n, n_prompts, cov, rng):
    """Yield chunks (S (K, D, D), h (K, D), q (K,), w (K, D)) of sampled prompts."""
    root = np.sqrt(cov)
    remaining = n_prompts
    while remaining > 0:
        k = min(_CHUNK, remaining)
        remaining -= k
        X = rng.standard_normal((k, n, d)) * root
        w = rng.standard_normal((k, d))
        y = (X @ w[:, :, None])[:, :, 0]
        S = np.swapaxes(X, 1, 2) @ X / n
        h = (y[:, None, :] @ X)[:, 0, :] / n
        q = np.mean(y * y, axis=1)
        yield S, h, q, w


def _gamma_statistics(d, n, n_prompts, cov, rng):
    """C = mean S, H = mean S² (w and x_q averaged analytically: only second moments used)."""
    C = np.zeros((d, d))
    H = np.zeros((d, d))
    for S, _, _, _ in _contexts(d, n, n_prompts, cov, rng):
        C += S.sum(axis=0)
        H += (S @ S).sum(axis=0)
    return C / n_prompts, H / n_prompts


def _full_statistics(d, n, n_prompts, cov, rng):
    """Second moment Φ of φ = (vec S, h, q, w) over prompts, with antithetic w ↦ −w pairs."""
    dim = d * d + 2 * d + 1
    Phi = np.zeros((dim, dim))
    for S, h, q, w in _contexts(d, n, n_prompts, cov, rng):
        for sign in (1.0, -1.0):  # (S, q) are even in w, (h, w) odd: antithetic pairs cancel odd noise
            phi = np.hstack([S.reshape(len(q), -1), sign * h, q[:, None], sign * w])
            Phi += phi.T @ phi
    return Phi / (2 * n_prompts)


def _full_coefficients(theta, d):
    """Map θ = (b (D+1), A ((D+1)·D)) to M (D, dim) with v = M φ_ctx and the pieces for gradients."""
    b, A = theta[: d + 1], theta[d + 1:].reshape(d + 1, d)
    bx, by, Ax, ay = b[:d], b[d], A[:d], A[d]
    M_S = np.einsum("ai,j->iaj", Ax, bx).reshape(d, d * d)  # v_i += Σ_aj Ax[a,i] bx[j] S[a,j]
    M_h = by * Ax.T + np.outer(ay, bx)  # v_i += (by Ax[a,i] + ay[i] bx[a]) h[a]
    M_q = ay * by  # v_i += ay[i] by q
    return bx, by, Ax, ay, np.hstack([M_S, M_h, M_q[:, None]])


def _full_loss_and_grad(theta, Phi, Sigma, d):
    bx, by, Ax, ay, M = _full_coefficients(theta, d)
    E = np.hstack([M, -np.eye(d)])  # residual r = v − w = E φ
    SE = Sigma @ E
    f = float(np.sum(SE * (E @ Phi)))
    G = 2.0 * SE @ Phi  # ∂f/∂E (D, dim)
    G_S = G[:, : d * d].reshape(d, d, d)  # [i, a, j]
    G_h = G[:, d * d: d * d + d]  # [i, a]
    G_q = G[:, d * d + d]  # [i]
    g_Ax = np.einsum("iaj,j->ai", G_S, bx) + by * G_h.T
    g_bx = np.einsum("iaj,ai->j", G_S, Ax) + G_h.T @ ay
    g_by = float(np.sum(G_h * Ax.T)) + float(G_q @ ay)
    g_ay = G_h @ bx + by * G_q
    return f, np.concatenate([g_bx, [g_by], np.vstack([g_Ax, g_ay[None, :]]).ravel()])


def _full_init(d, init, rng):
    """θ0 for the full LSA: "zfb" = Zhang–Frei–Bartlett-style (b_x = 0, a_y = 0, b_y = σ,
    A_x = σ ΘΘᵀ/D), which stays in the subspace where the even-in-w terms vanish; "random" =
    every entry N(0, 0.5²)."""
    if init == "random":
        return 0.5 * rng.standard_normal((d + 1) * (d + 1))
    sigma = 0.5
    theta = rng.standard_normal((d, d))
    b = np.zeros(d + 1)
    b[d] = sigma
    A = np.zeros((d + 1, d))
    A[:d] = sigma * theta @ theta.T / d
    return np.concatenate([b, A.ravel()])


def lsa_numerical_minimiser(d: int, n: int, *, parametrisation: str = "gamma", n_prompts: int = 20000,
                            seed: int = 0, cov_diag=None, n_restarts: int = 3, init: str = "zfb",
                            max_iter: int = 10000) -> LSANumericResult:
    """Minimise a large-sample ICL loss numerically (L-BFGS) and compare with the closed form.

    "gamma": ŷ = x_qᵀ Γ h; contexts are sampled, w and x_q averaged analytically (second moments
    only, so the fourth-moment algebra of the closed form is checked independently).
    "full": the LSA layer's (b, A) (see module docstring); contexts and w are sampled (antithetic
    pairs), x_q averaged analytically. Non-convex: the best of `n_restarts` inits is kept. From
    init="random" L-BFGS can stop at a spurious local minimum that uses both the b_y A_xᵀ and the
    a_y b_xᵀ paths (seen for D = 2, n = 20: loss 0.820 vs the optimum 0.261), which is why the
    default is the Zhang–Frei–Bartlett-style init "zfb".

    Args:
        d: dimension; n: context length; parametrisation: "gamma" or "full";
        n_prompts: number of sampled contexts; seed: rng seed; cov_diag: Σ's diagonal;
        n_restarts: inits for "full"; init: "zfb" or "random" (for "full");
        max_iter: L-BFGS iteration cap.

    Returns:
        LSANumericResult (effective Γ, loss, relative Frobenius error against Γ*).

    Raises:
        InvalidInput: bad arguments (listed together).
    """
    problems = Problems("lsa_numerical_minimiser")
    d = check_int(problems, "d", d)
    n = check_int(problems, "n", n)
    if parametrisation not in ("gamma", "full"):
        problems.add(f"parametrisation must be 'gamma' or 'full', got {parametrisation!r}")
    if init not in ("zfb", "random"):
        problems.add(f"init must be 'zfb' or 'random', got {init!r}")
    n_prompts = check_int(problems, "n_prompts", n_prompts)
    seed = check_seed(problems, seed)
    cov = _validate_cov(problems, cov_diag, d)
    n_restarts = check_int(problems, "n_restarts", n_restarts)
    max_iter = check_int(problems, "max_iter", max_iter)
    problems.raise_if_any()
    closed = lsa_closed_form(d, n, cov_diag=cov)
    s = power_of_two_scale(cov, even=True)  # optimise for Σ̃ = Σ/s, map back (module docstring, "Scaling")
    cov = cov / s
    rng = np.random.default_rng(seed)
    Sigma = np.diag(cov)
    options = {"maxiter": max_iter, "gtol": 1e-12, "ftol": 1e-15}
    if parametrisation == "gamma":
        C, H = _gamma_statistics(d, n, n_prompts, cov, rng)

        def fun(theta):
            G = theta.reshape(d, d)
            f = np.trace(Sigma @ G @ H @ G.T) - 2 * np.trace(Sigma @ G @ C) + np.trace(Sigma)
            grad = 2 * Sigma @ G @ H - 2 * Sigma @ C.T
            return float(f), grad.ravel()

        res = minimize(fun, rng.standard_normal(d * d), jac=True, method="L-BFGS-B", options=options)
        gamma = res.x.reshape(d, d) / s
        params, loss, nit = {"gamma": gamma}, s * float(res.fun), int(res.nit)
    else:
        Phi = _full_statistics(d, n, n_prompts, cov, rng)
        best = None
        for _ in range(n_restarts):
            theta0 = _full_init(d, init, rng)
            res = minimize(_full_loss_and_grad, theta0, args=(Phi, Sigma, d), jac=True, method="L-BFGS-B",
                           options=options)
            if best is None or res.fun < best.fun:
                best = res
        theta = best.x / np.sqrt(s)  # (b, A) = (b̃, Ã)/√s, √s a power of two
        bx, by, Ax, ay, _ = _full_coefficients(theta, d)
        gamma = by * Ax.T + np.outer(ay, bx)
        params = {"b": theta[: d + 1], "A": theta[d + 1:].reshape(d + 1, d)}
        loss, nit = s * float(best.fun), int(best.nit)
    error = float(np.linalg.norm(gamma - closed.gamma) / np.linalg.norm(closed.gamma))
    return LSANumericResult(d=d, n=n, parametrisation=parametrisation, gamma=gamma, loss=loss, closed_form=closed,
                            relative_error=error, n_prompts=n_prompts, iterations=nit, seed=seed, params=params)


# ---------------------------------------------------------------------------------------------
# Looped LSA
# ---------------------------------------------------------------------------------------------

def _looped_loss_and_grad(theta, S, Sigma, loops):
    """mean_k tr(Σ P_k P_kᵀ), P_k = (I − A S_k)^L, and its gradient in A (see module docstring)."""
    d = Sigma.shape[0]
    A = theta.reshape(d, d)
    B = np.eye(d)[None] - np.einsum("ij,kjl->kil", A, S)  # (K, D, D)
    powers = [np.broadcast_to(np.eye(d), B.shape)]
    for _ in range(loops):
        powers.append(powers[-1] @ B)
    P = powers[loops]
    SP = Sigma[None] @ P
    f = float(np.mean(np.sum(SP * P, axis=(1, 2))))
    # ∂f/∂B = 2 Σ_j (B^j)ᵀ Σ P (B^{L−1−j})ᵀ ;  ∂f/∂A = −(∂f/∂B) Sᵀ
    dB = np.zeros_like(B)
    for j in range(loops):
        dB += np.swapaxes(powers[j], 1, 2) @ SP @ np.swapaxes(powers[loops - 1 - j], 1, 2)
    grad = -2.0 * np.mean(dB @ np.swapaxes(S, 1, 2), axis=0)
    return f, grad.ravel()


def looped_lsa(d: int, n: int, *, loops: Sequence[int] = (1, 2, 3, 4), n_prompts: int = 5000, seed: int = 0,
               cov_diag=None, max_iter: int = 2000) -> LoopedLSAResult:
    """Numerically optimal shared preconditioner of the looped LSA for each loop count.

    Contexts S_k are sampled; w and x_q are averaged analytically. The full D×D preconditioner A
    is trained by L-BFGS from the closed-form one-loop Γ* (a natural warm start), and the
    isotropic restriction A = a I is minimised separately as a 1-D check.

    Args:
        d: dimension; n: context length; loops: loop counts L ≥ 1; n_prompts: sampled contexts;
        seed: rng seed; cov_diag: Σ's diagonal; max_iter: L-BFGS iteration cap.

    Returns:
        LoopedLSAResult.

    Raises:
        InvalidInput: bad arguments.
    """
    problems = Problems("looped_lsa")
    d = check_int(problems, "d", d)
    n = check_int(problems, "n", n)
    loop_list = check_int_list(problems, "loops", loops)
    n_prompts = check_int(problems, "n_prompts", n_prompts)
    seed = check_seed(problems, seed)
    cov = _validate_cov(problems, cov_diag, d)
    max_iter = check_int(problems, "max_iter", max_iter)
    problems.raise_if_any()
    s = power_of_two_scale(cov, even=True)  # optimise for Σ̃ = Σ/s: A = Ã/s, loss = s·loss̃ (docstring)
    cov = cov / s
    rng = np.random.default_rng(seed)
    S = np.concatenate([chunk[0] for chunk in _contexts(d, n, n_prompts, cov, rng)])
    Sigma = np.diag(cov)
    start = lsa_closed_form(d, n, cov_diag=cov).gamma
    As, losses, scalars, scalar_losses = [], [], [], []
    for L in loop_list:
        res = minimize(_looped_loss_and_grad, start.ravel(), args=(S, Sigma, int(L)), jac=True, method="L-BFGS-B",
                       options={"maxiter": max_iter, "gtol": 1e-12, "ftol": 1e-15})
        As.append(res.x.reshape(d, d))
        losses.append(float(res.fun))
        scalar = minimize_scalar(lambda a: _looped_loss_and_grad((a * np.eye(d)).ravel(), S, Sigma, int(L))[0],
                                 bounds=(0.0, 4.0), method="bounded", options={"xatol": 1e-10})
        scalars.append(float(scalar.x))
        scalar_losses.append(float(scalar.fun))
    return LoopedLSAResult(d=d, n=n, loops=np.array(loop_list), A=np.array(As) / s, loss=s * np.array(losses),
                           scalar_a=np.array(scalars) / s, scalar_loss=s * np.array(scalar_losses),
                           n_prompts=n_prompts, seed=seed)


def lsa_trained_vs_closed_form(d: int, ns: Sequence[int], *, parametrisation: str = "full",
                               n_prompts: int = 20000, seed: int = 0) -> LSATrainedVsClosedForm:
    """Figure data: trained LSA (isotropic x) against Γ* = n/(n+D+1) I over context lengths.

    Args:
        d: dimension; ns: context lengths; parametrisation: "full" or "gamma";
        n_prompts: contexts per n; seed: base seed (context length index i uses seed + i).

    Returns:
        LSATrainedVsClosedForm with per-n closed-form scale, trained diagonal mean, largest
        off-diagonal entry, relative error and losses.

    Raises:
        InvalidInput: bad arguments.
    """
    problems = Problems("lsa_trained_vs_closed_form")
    ns = check_int_list(problems, "ns", ns)
    d = check_int(problems, "d", d)
    seed = check_seed(problems, seed)
    problems.raise_if_any()
    rows = []
    for i, n in enumerate(ns):
        res = lsa_numerical_minimiser(d, int(n), parametrisation=parametrisation, n_prompts=n_prompts, seed=seed + i)
        off = res.gamma - np.diag(np.diag(res.gamma))
        rows.append((res.closed_form.gamma[0, 0], float(np.mean(np.diag(res.gamma))), float(np.max(np.abs(off))),
                     res.relative_error, res.closed_form.min_loss, res.loss))
    cols = np.array(rows).T
    return LSATrainedVsClosedForm(d=d, ns=np.array(ns), closed_form_scale=cols[0], trained_diag_mean=cols[1],
                                  trained_offdiag_max=cols[2], relative_error=cols[3], closed_form_loss=cols[4],
                                  trained_loss=cols[5])
