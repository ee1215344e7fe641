"""Frozen result values returned by theory_kit.landscape: every solve ends in one of these.

Arrays inside results are copied and made read-only, so a result can be shared freely. Each class
checks its invariants in __post_init__ (a violated invariant raises InvalidInput naming the field).

Shape glossary: N samples, D input dimension, M network width (neurons kept), P activation
patterns, K random initialisations, S widths/head counts swept, C outputs, T tokens.
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from theory_kit.errors import InvalidInput

__all__ = [
    "ConvexSolution",
    "DualCertificate",
    "TwoLayerReluResult",
    "GatedReluResult",
    "NonconvexBaselineResult",
    "LSAClosedForm",
    "LSANumericResult",
    "LoopedLSAResult",
    "LSATrainedVsClosedForm",
    "AttentionConvexResult",
    "AttentionNonconvexResult",
    "LipschitzResult",
]

CERTIFICATE_KINDS = ("all-patterns", "norm-bound", "exact", "exact-pricing")

# Relative slack allowed when checking "lower bound <= value" style invariants on solver output.
_INVARIANT_RTOL = 1e-5


def _readonly(a, *, dtype=float) -> np.ndarray:
    out = np.array(a, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


def _fail(cls, message: str):
    raise InvalidInput(f"{cls.__name__}: {message}")


def _set(obj, name: str, value) -> None:
    object.__setattr__(obj, name, value)


def _require_finite(obj, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not math.isfinite(value):
            _fail(type(obj), f"{name} must be finite, got {value!r}")


def _leq(a: float, b: float) -> bool:
    return a <= b + _INVARIANT_RTOL * max(1.0, abs(a), abs(b))


@dataclass(frozen=True)
class ConvexSolution:
    """What `landscape.solve` returns: an optimal solve of one cvxpy problem.

    Attributes:
        status: cvxpy status; always "optimal" (anything else raised SolverFailed).
        value: optimal objective value reported by the solver.
        solver: solver name (e.g. "CLARABEL").
        solve_seconds: wall-clock seconds of `problem.solve` (cvxpy compilation + solver).
        solver_seconds: the solver's own reported time, or nan when it reports none.
        variables: read-only mapping variable name -> read-only array of its optimal value.
        warnings: texts of warnings cvxpy emitted during the solve (kept, not re-emitted).
    """

    status: str
    value: float
    solver: str
    solve_seconds: float
    solver_seconds: float
    variables: Mapping[str, np.ndarray]
    warnings: tuple[str, ...] = ()

    def __post_init__(self):
        if self.status != "optimal":
            _fail(type(self), f"status must be 'optimal', got {self.status!r}")
        _require_finite(self, "value", "solve_seconds")
        if self.solve_seconds < 0:
            _fail(type(self), f"solve_seconds must be >= 0, got {self.solve_seconds!r}")
        frozen = {str(k): _readonly(v) for k, v in dict(self.variables).items()}
        _set(self, "variables", types.MappingProxyType(frozen))
        _set(self, "warnings", tuple(str(w) for w in self.warnings))


@dataclass(frozen=True)
class DualCertificate:
    """A lower bound on a regularised training objective from a feasible dual point.

    Attributes:
        lower_bound: s·λᵀy − s²‖λ‖²/2, valid for every network width.
        dual: the unscaled dual vector λ (N,), typically the residual y − ŷ of a convex solve.
        scale: the factor s ≥ 0 applied to λ to make it dual feasible.
        constraint_value: an upper bound c on max_{‖u‖≤1} |λᵀ(Xu)_+| (or the model's analogue).
        method: how `constraint_value` was obtained: "all-patterns" (every activation pattern of
            X checked, exact), "norm-bound" (a looser closed-form bound, rigorous but not tight),
            or "exact" (a closed-form dual norm, e.g. the spectral norm for nuclear-norm programs).
    """

    lower_bound: float
    dual: np.ndarray
    scale: float
    constraint_value: float
    method: str

    def __post_init__(self):
        _set(self, "dual", _readonly(self.dual))
        _require_finite(self, "lower_bound", "scale", "constraint_value")
        if self.scale < 0:
            _fail(type(self), f"scale must be >= 0, got {self.scale!r}")
        if self.constraint_value < 0:
            _fail(type(self), f"constraint_value must be >= 0, got {self.constraint_value!r}")
        if self.method not in CERTIFICATE_KINDS:
            _fail(type(self), f"method must be one of {CERTIFICATE_KINDS}, got {self.method!r}")


def _check_runs(obj, axis: str) -> None:
    """Freeze a (S,) size axis (widths/heads) with (S, K) objectives and iterations of K runs."""
    sizes = _readonly(getattr(obj, axis), dtype=int)
    objectives = _readonly(obj.objectives)
    iterations = _readonly(obj.iterations, dtype=int)
    if sizes.ndim != 1 or objectives.ndim != 2 or objectives.shape[0] != sizes.shape[0]:
        _fail(type(obj), f"objectives must be (S, K) with S = len({axis}); got {objectives.shape}, "
              f"{sizes.shape}")
    if iterations.shape != objectives.shape:
        _fail(type(obj), f"iterations must match objectives {objectives.shape}, got {iterations.shape}")
    _set(obj, axis, sizes)
    _set(obj, "objectives", objectives)
    _set(obj, "iterations", iterations)


def _check_network(obj, W_name: str = "W", alpha_name: str = "alpha") -> None:
    W = _readonly(getattr(obj, W_name))
    alpha = _readonly(getattr(obj, alpha_name))
    if W.ndim != 2 or alpha.ndim != 1 or W.shape[1] != alpha.shape[0]:
        _fail(type(obj), f"{W_name} must be (D, M) and {alpha_name} (M,), got {W.shape} and {alpha.shape}")
    _set(obj, W_name, W)
    _set(obj, alpha_name, alpha)


def _check_gap(obj) -> None:
    _require_finite(obj, "value", "lower_bound", "gap")
    if not math.isclose(obj.gap, obj.value - obj.lower_bound, rel_tol=1e-12, abs_tol=1e-12):
        _fail(type(obj), f"gap {obj.gap!r} must equal value - lower_bound = {obj.value - obj.lower_bound!r}")
    if not _leq(obj.lower_bound, obj.value):
        _fail(type(obj), f"lower_bound {obj.lower_bound!r} exceeds value {obj.value!r}: the certificate is wrong")


@dataclass(frozen=True)
class TwoLayerReluResult:
    """Global optimum of the weight-decayed two-layer ReLU objective via its convex program.

    Non-convex objective: ½‖relu(X W) α − y‖² + (β/2)(‖W‖_F² + ‖α‖²), W (D, M), α (M,).

    Attributes:
        value: optimal value of the convex group-lasso program (solver-reported). With all
            activation patterns it equals the global minimum over every width M ≥ len(alpha).
        lower_bound: dual certificate, valid for every width (see `certificate`).
        gap: value − lower_bound.
        status, solver, solve_seconds: from the convex solve.
        n_patterns: number P of activation patterns in the program.
        patterns_exact: True when the patterns are all activation patterns of X.
        certificate: "all-patterns" (dual constraint checked on every pattern: tight),
            "exact-pricing" (dual constraint bounded by exact pricing, `landscape.pricing`:
            tight up to `pricing_gap`) or "norm-bound" (rigorous but loose).
        W: recovered first layer (D, M), columns w = u/√‖u‖ (and v/√‖v‖).
        alpha: recovered second layer (M,), √‖u‖ (and −√‖v‖).
        network_objective: the non-convex objective of (W, alpha), computed directly.
        dual: the dual vector λ = y − ŷ (N,) the certificate was built from.
        dual_scale: factor applied to λ to make it dual feasible.
        beta: the weight-decay strength.
        constraint_value: the upper bound c on max_{‖u‖≤1} |λᵀ relu(X u)| behind lower_bound
            (nan for results built without one).
        pricing_gap: for patterns="pricing", the final pricing branch and bound's relative gap
            (c upper bound − best attained value)/(c upper bound); nan otherwise.
        iterations: column-generation rounds (convex solves) for patterns="pricing"; else 1.
        pricing_method: for certificate "exact-pricing", the exact pricing that bounded the
            constraint ("box-branch-and-bound" or "sign-branch-and-bound", `landscape.pricing`);
            "" otherwise.
    """

    value: float
    lower_bound: float
    gap: float
    status: str
    solver: str
    solve_seconds: float
    n_patterns: int
    patterns_exact: bool
    certificate: str
    W: np.ndarray
    alpha: np.ndarray
    network_objective: float
    dual: np.ndarray
    dual_scale: float
    beta: float
    constraint_value: float = math.nan
    pricing_gap: float = math.nan
    iterations: int = 1
    pricing_method: str = ""

    def __post_init__(self):
        _check_gap(self)
        _check_network(self)
        _set(self, "dual", _readonly(self.dual))
        if self.status != "optimal":
            _fail(type(self), f"status must be 'optimal', got {self.status!r}")
        if self.n_patterns < 1:
            _fail(type(self), f"n_patterns must be >= 1, got {self.n_patterns!r}")
        if self.certificate not in ("all-patterns", "norm-bound", "exact-pricing"):
            _fail(type(self), f"certificate must be 'all-patterns', 'exact-pricing' or 'norm-bound', "
                  f"got {self.certificate!r}")
        methods = ("box-branch-and-bound", "sign-branch-and-bound") if self.certificate == "exact-pricing" else ("",)
        if self.pricing_method not in methods:
            _fail(type(self), f"pricing_method must be one of {methods} for certificate {self.certificate!r}, "
                  f"got {self.pricing_method!r}")
        _require_finite(self, "network_objective", "solve_seconds", "beta")

    @property
    def relative_gap(self) -> float:
        """gap / max(|value|, tiny): the certificate's closing, scale-free."""
        return self.gap / max(abs(self.value), np.finfo(float).tiny)

    @property
    def width(self) -> int:
        """Number M of neurons in the recovered network."""
        return int(self.alpha.shape[0])


@dataclass(frozen=True)
class GatedReluResult:
    """Global optimum of the gated-ReLU network (Mishkin et al. 2022) with a fixed set of gates.

    Gated network: Σ_j diag(1[X g_j ≥ 0]) X w_j α_j with weight decay (β/2)(‖w_j‖² + α_j²).

    Attributes:
        value: optimal value of the convex group lasso min ½‖Σ_i D_i X u_i − y‖² + β Σ_i ‖u_i‖.
        lower_bound: dual certificate for the gated model over these gates (any width).
        gap: value − lower_bound.
        status, solver, solve_seconds, n_patterns, patterns_exact: as in TwoLayerReluResult.
        W: recovered first layer (D, M); alpha: (M,); gates: gate vector of each neuron (D, M).
        network_objective: gated non-convex objective of (W, alpha, gates).
        beta: the weight-decay strength.
    """

    value: float
    lower_bound: float
    gap: float
    status: str
    solver: str
    solve_seconds: float
    n_patterns: int
    patterns_exact: bool
    W: np.ndarray
    alpha: np.ndarray
    gates: np.ndarray
    network_objective: float
    beta: float

    def __post_init__(self):
        _check_gap(self)
        _check_network(self)
        gates = _readonly(self.gates)
        if gates.shape != self.W.shape:
            _fail(type(self), f"gates must have the shape of W {self.W.shape}, got {gates.shape}")
        _set(self, "gates", gates)
        if self.status != "optimal":
            _fail(type(self), f"status must be 'optimal', got {self.status!r}")
        if self.n_patterns < 1:
            _fail(type(self), f"n_patterns must be >= 1, got {self.n_patterns!r}")
        _require_finite(self, "network_objective", "solve_seconds", "beta")


@dataclass(frozen=True)
class NonconvexBaselineResult:
    """Final objectives of L-BFGS training from K seeded initialisations at S widths.

    Attributes:
        widths: (S,) network widths trained.
        objectives: (S, K) final non-convex objective of each run.
        iterations: (S, K) L-BFGS iterations used.
        certified_value: the convex optimum (TwoLayerReluResult.value) trained runs are compared to.
        certified_lower_bound: its dual lower bound; no run can end below it.
        rel_tol: tolerance defining "reached the optimum" (relative).
        seed: base seed of the initialisations.
    """

    widths: np.ndarray
    objectives: np.ndarray
    iterations: np.ndarray
    certified_value: float
    certified_lower_bound: float
    rel_tol: float
    seed: int

    def __post_init__(self):
        _check_runs(self, "widths")
        _require_finite(self, "certified_value", "certified_lower_bound", "rel_tol")

    @property
    def gaps(self) -> np.ndarray:
        """(S, K) objective − certified value (≥ −solver tolerance when the certificate holds)."""
        return self.objectives - self.certified_value

    @property
    def relative_gaps(self) -> np.ndarray:
        """(S, K) gaps / |certified value|."""
        return self.gaps / max(abs(self.certified_value), np.finfo(float).tiny)

    @property
    def fraction_optimal(self) -> np.ndarray:
        """(S,) fraction of runs per width within rel_tol of the certified optimum."""
        return np.mean(self.relative_gaps <= self.rel_tol, axis=1)

    @property
    def min_objective(self) -> float:
        """Lowest objective any run reached."""
        return float(np.min(self.objectives))


@dataclass(frozen=True)
class LSAClosedForm:
    """Closed-form global minimiser of the population ICL loss of linear self-attention.

    Attributes:
        d, n: input dimension and number of in-context examples.
        cov_diag: (D,) diagonal of the covariance Σ of x (ones for isotropic).
        gamma: (D, D) the minimiser Γ* = ((n+1)/n Σ + tr(Σ)/n I)^{-1}.
        min_loss: population loss at Γ*.
        gamma_expr: sympy Matrix of Γ* in the symbols n, s_1..s_D (Σ = diag(s)).
        loss_expr: sympy expression of the population loss in n, s_i and Γ entries g_a_b.
    """

    d: int
    n: int
    cov_diag: np.ndarray
    gamma: np.ndarray
    min_loss: float
    gamma_expr: object = field(repr=False)
    loss_expr: object = field(repr=False)

    def __post_init__(self):
        _set(self, "cov_diag", _readonly(self.cov_diag))
        _set(self, "gamma", _readonly(self.gamma))
        if self.gamma.shape != (self.d, self.d) or self.cov_diag.shape != (self.d,):
            _fail(type(self), f"gamma must be ({self.d}, {self.d}) and cov_diag ({self.d},)")
        _require_finite(self, "min_loss")


@dataclass(frozen=True)
class LSANumericResult:
    """Numerical minimiser of a large-sample ICL loss for linear self-attention.

    Attributes:
        d, n: dimension and context length.
        parametrisation: "gamma" (ŷ = x_qᵀ Γ h) or "full" (W^{KQ}, W^{PV} of the LSA layer).
        gamma: (D, D) effective Γ of the trained model.
        loss: final empirical loss.
        closed_form: the LSAClosedForm it is compared to.
        relative_error: ‖Γ − Γ*‖_F / ‖Γ*‖_F.
        n_prompts: number of sampled prompts (contexts).
        iterations: optimizer iterations.
        seed: rng seed.
        params: read-only mapping of the trained raw parameters.
    """

    d: int
    n: int
    parametrisation: str
    gamma: np.ndarray
    loss: float
    closed_form: LSAClosedForm
    relative_error: float
    n_prompts: int
    iterations: int
    seed: int
    params: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __post_init__(self):
        _set(self, "gamma", _readonly(self.gamma))
        if self.gamma.shape != (self.d, self.d):
            _fail(type(self), f"gamma must be ({self.d}, {self.d}), got {self.gamma.shape}")
        if self.parametrisation not in ("gamma", "full"):
            _fail(type(self), f"parametrisation must be 'gamma' or 'full', got {self.parametrisation!r}")
        _set(self, "params", types.MappingProxyType({k: _readonly(v) for k, v in dict(self.params).items()}))
        _require_finite(self, "loss", "relative_error")


@dataclass(frozen=True)
class LoopedLSAResult:
    """Numerical optimum of the looped LSA (one shared preconditioner A applied L times).

    Attributes:
        d, n: dimension and context length.
        loops: (L_count,) loop counts studied.
        A: (L_count, D, D) trained preconditioner per loop count.
        loss: (L_count,) Monte-Carlo population loss at the trained A.
        scalar_a: (L_count,) optimal a for the isotropic restriction A = a I.
        scalar_loss: (L_count,) loss at a I.
        n_prompts: number of sampled contexts; seed: rng seed.
    """

    d: int
    n: int
    loops: np.ndarray
    A: np.ndarray
    loss: np.ndarray
    scalar_a: np.ndarray
    scalar_loss: np.ndarray
    n_prompts: int
    seed: int

    def __post_init__(self):
        for name in ("loops", "A", "loss", "scalar_a", "scalar_loss"):
            _set(self, name, _readonly(getattr(self, name), dtype=int if name == "loops" else float))
        count = self.loops.shape[0]
        if self.A.shape != (count, self.d, self.d) or self.loss.shape != (count,):
            _fail(type(self), f"A must be ({count}, {self.d}, {self.d}) and loss ({count},)")
        if self.scalar_a.shape != (count,) or self.scalar_loss.shape != (count,):
            _fail(type(self), f"scalar_a and scalar_loss must be ({count},)")


@dataclass(frozen=True)
class LSATrainedVsClosedForm:
    """Figure data: closed-form vs trained Γ for linear self-attention over context lengths.

    Attributes:
        d: dimension; ns: (R,) context lengths.
        closed_form_scale: (R,) γ*(n) with Γ* = γ* I (isotropic x).
        trained_diag_mean: (R,) mean diagonal entry of the trained Γ.
        trained_offdiag_max: (R,) largest |off-diagonal| entry of the trained Γ.
        relative_error: (R,) ‖Γ − Γ*‖_F / ‖Γ*‖_F.
        closed_form_loss, trained_loss: (R,) population loss at Γ* and at the trained Γ.
    """

    d: int
    ns: np.ndarray
    closed_form_scale: np.ndarray
    trained_diag_mean: np.ndarray
    trained_offdiag_max: np.ndarray
    relative_error: np.ndarray
    closed_form_loss: np.ndarray
    trained_loss: np.ndarray

    def __post_init__(self):
        _set(self, "ns", _readonly(self.ns, dtype=int))
        for name in ("closed_form_scale", "trained_diag_mean", "trained_offdiag_max", "relative_error",
                     "closed_form_loss", "trained_loss"):
            arr = _readonly(getattr(self, name))
            if arr.shape != self.ns.shape:
                _fail(type(self), f"{name} must have shape {self.ns.shape}, got {arr.shape}")
            _set(self, name, arr)


@dataclass(frozen=True)
class AttentionConvexResult:
    """Global optimum of weight-decayed multi-head linear self-attention via nuclear-norm program.

    Non-convex model (Sahiner et al. 2022, linear-activation self-attention): for a sequence
    X (T, D), f(X) = Σ_j X W1_j XᵀX W2_j with W1_j (D, D), W2_j (D, C), objective
    ½ Σ_i ‖f(X_i) − Y_i‖_F² + (β/2) Σ_j (‖W1_j‖_F² + ‖W2_j‖_F²).

    Attributes:
        value: optimal value of min_Z ½ Σ_i ‖F_i(Z) − Y_i‖² + β ‖Z‖_*, Z (D², D·C).
        lower_bound: dual certificate (exact dual norm: spectral norm), valid for any head count.
        gap: value − lower_bound.
        status, solver, solve_seconds: from the convex solve.
        Z: (D², D·C) optimal lifted matrix.
        W1: (M, D, D) and W2: (M, D, C): heads recovered from the SVD of Z (M = rank).
        network_objective: non-convex objective of the recovered heads.
        beta: weight decay.
    """

    value: float
    lower_bound: float
    gap: float
    status: str
    solver: str
    solve_seconds: float
    Z: np.ndarray
    W1: np.ndarray
    W2: np.ndarray
    network_objective: float
    beta: float

    def __post_init__(self):
        _check_gap(self)
        for name in ("Z", "W1", "W2"):
            _set(self, name, _readonly(getattr(self, name)))
        if self.W1.ndim != 3 or self.W2.ndim != 3 or self.W1.shape[0] != self.W2.shape[0]:
            _fail(type(self), f"W1 must be (M, D, D) and W2 (M, D, C), got {self.W1.shape}, {self.W2.shape}")
        if self.status != "optimal":
            _fail(type(self), f"status must be 'optimal', got {self.status!r}")
        _require_finite(self, "network_objective", "solve_seconds", "beta")

    @property
    def n_heads(self) -> int:
        """Number of heads in the recovered model (the numerical rank of Z)."""
        return int(self.W1.shape[0])


@dataclass(frozen=True)
class AttentionNonconvexResult:
    """Final objectives of L-BFGS training of multi-head linear self-attention from random inits.

    Attributes:
        heads: (S,) head counts trained; objectives: (S, K) final objectives;
        iterations: (S, K); convex_value: the certified optimum compared against;
        convex_lower_bound: its dual bound; rel_tol: "reached the optimum" tolerance; seed.
    """

    heads: np.ndarray
    objectives: np.ndarray
    iterations: np.ndarray
    convex_value: float
    convex_lower_bound: float
    rel_tol: float
    seed: int

    def __post_init__(self):
        _check_runs(self, "heads")
        _require_finite(self, "convex_value", "convex_lower_bound", "rel_tol")

    @property
    def relative_gaps(self) -> np.ndarray:
        """(S, K) (objective − convex value) / |convex value|."""
        return (self.objectives - self.convex_value) / max(abs(self.convex_value), np.finfo(float).tiny)

    @property
    def fraction_optimal(self) -> np.ndarray:
        """(S,) fraction of runs within rel_tol of the convex optimum."""
        return np.mean(self.relative_gaps <= self.rel_tol, axis=1)


@dataclass(frozen=True)
class LipschitzResult:
    """ℓ2 Lipschitz bounds of a ReLU MLP: sampled lower bound ≤ LipSDP ≤ product of norms.

    Attributes:
        upper_bound: √ρ for a (ρ, T) pair verified by an eigenvalue check of the LipSDP-Neuron
            matrix inequality (rigorous up to floating-point eigenvalue accuracy).
        sdp_value: √ρ as returned by the SDP solver (may sit a hair below `upper_bound`).
        naive_bound: product of the layers' spectral norms.
        sampled_lower_bound: max over sampled inputs of the Jacobian's spectral norm.
        status, solver, solve_seconds: from the SDP solve.
        n_samples: inputs sampled for the lower bound; seed: their rng seed.
        layer_sizes: (n_0, n_1, ..., n_L+1) input, hidden and output widths.
    """

    upper_bound: float
    sdp_value: float
    naive_bound: float
    sampled_lower_bound: float
    status: str
    solver: str
    solve_seconds: float
    n_samples: int
    seed: int
    layer_sizes: tuple[int, ...]

    def __post_init__(self):
        _require_finite(self, "upper_bound", "sdp_value", "naive_bound", "sampled_lower_bound")
        if not _leq(self.sampled_lower_bound, self.upper_bound):
            _fail(type(self), f"sampled_lower_bound {self.sampled_lower_bound!r} exceeds upper_bound "
                              f"{self.upper_bound!r}: the LipSDP certificate is wrong")
        if self.status != "optimal":
            _fail(type(self), f"status must be 'optimal', got {self.status!r}")
        _set(self, "layer_sizes", tuple(int(s) for s in self.layer_sizes))
