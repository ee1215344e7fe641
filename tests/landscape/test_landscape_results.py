"""Every frozen result checks its invariants; arrays inside results are read-only."""

import dataclasses

import numpy as np
import pytest

from theory_kit.errors import InvalidInput
from theory_kit.landscape import (AttentionConvexResult, AttentionNonconvexResult, ConvexSolution, DualCertificate,
                                  GatedReluResult, LipschitzResult, LoopedLSAResult, LSAClosedForm, LSANumericResult,
                                  LSATrainedVsClosedForm, NonconvexBaselineResult, TwoLayerReluResult)


def _relu(**overrides):
    fields = dict(value=1.0, lower_bound=0.9, gap=0.1, status="optimal", solver="CLARABEL", solve_seconds=0.1,
                  n_patterns=4, patterns_exact=True, certificate="all-patterns", W=np.ones((2, 3)),
                  alpha=np.ones(3), network_objective=1.0, dual=np.zeros(5), dual_scale=1.0, beta=0.1)
    fields.update(overrides)
    return TwoLayerReluResult(**fields)


def test_two_layer_relu_result_invariants():
    result = _relu()
    assert result.relative_gap == pytest.approx(0.1) and result.width == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.value = 2.0
    with pytest.raises(ValueError):
        result.W[0, 0] = 5.0
    for overrides, fragment in [({"gap": 0.2}, "gap"), ({"lower_bound": 1.5, "gap": -0.5}, "exceeds value"),
                                ({"alpha": np.ones(2)}, "W must be"), ({"status": "optimal_inaccurate"}, "status"),
                                ({"n_patterns": 0}, "n_patterns"), ({"certificate": "sampled"}, "certificate"),
                                ({"pricing_method": "sign-branch-and-bound"}, "pricing_method"),
                                ({"certificate": "exact-pricing"}, "pricing_method"),
                                ({"value": float("nan")}, "finite")]:
        with pytest.raises(InvalidInput, match=fragment):
            _relu(**overrides)


def test_gated_result_invariants():
    fields = dict(value=1.0, lower_bound=1.0, gap=0.0, status="optimal", solver="SCS", solve_seconds=0.0,
                  n_patterns=2, patterns_exact=False, W=np.ones((2, 1)), alpha=np.ones(1), gates=np.ones((2, 1)),
                  network_objective=1.0, beta=1.0)
    GatedReluResult(**fields)
    with pytest.raises(InvalidInput, match="gates must have the shape"):
        GatedReluResult(**{**fields, "gates": np.ones((2, 2))})


def test_convex_solution_and_certificate_invariants():
    solution = ConvexSolution(status="optimal", value=1.0, solver="CLARABEL", solve_seconds=0.0,
                              solver_seconds=float("nan"), variables={"x": np.ones(2)})
    with pytest.raises(TypeError):
        solution.variables["y"] = np.ones(1)
    with pytest.raises(ValueError):
        solution.variables["x"][0] = 3.0
    with pytest.raises(InvalidInput, match="status"):
        ConvexSolution(status="infeasible", value=1.0, solver="X", solve_seconds=0.0, solver_seconds=0.0, variables={})
    with pytest.raises(InvalidInput, match="solve_seconds"):
        ConvexSolution(status="optimal", value=1.0, solver="X", solve_seconds=-1.0, solver_seconds=0.0, variables={})
    DualCertificate(lower_bound=0.5, dual=np.zeros(3), scale=1.0, constraint_value=0.1, method="exact")
    with pytest.raises(InvalidInput, match="method"):
        DualCertificate(lower_bound=0.5, dual=np.zeros(3), scale=1.0, constraint_value=0.1, method="guess")
    with pytest.raises(InvalidInput, match="scale"):
        DualCertificate(lower_bound=0.5, dual=np.zeros(3), scale=-1.0, constraint_value=0.1, method="exact")


def test_baseline_result_invariants_and_derived_quantities():
    result = NonconvexBaselineResult(widths=np.array([1, 2]), objectives=np.array([[2.0, 1.0], [1.0, 1.0 + 1e-9]]),
                                     iterations=np.ones((2, 2), int), certified_value=1.0,
                                     certified_lower_bound=0.999, rel_tol=1e-6, seed=0)
    assert result.fraction_optimal.tolist() == [0.5, 1.0]
    assert result.min_objective == 1.0
    with pytest.raises(InvalidInput, match="objectives must be"):
        NonconvexBaselineResult(widths=np.array([1]), objectives=np.ones((2, 2)), iterations=np.ones((2, 2)),
                                certified_value=1.0, certified_lower_bound=1.0, rel_tol=1e-6, seed=0)
    with pytest.raises(InvalidInput, match="iterations must match"):
        AttentionNonconvexResult(heads=np.array([1]), objectives=np.ones((1, 2)), iterations=np.ones((1, 3)),
                                 convex_value=1.0, convex_lower_bound=1.0, rel_tol=1e-6, seed=0)


def test_lsa_and_attention_and_lipschitz_result_invariants():
    closed = LSAClosedForm(d=2, n=3, cov_diag=np.ones(2), gamma=np.eye(2), min_loss=1.0, gamma_expr=None,
                           loss_expr=None)
    with pytest.raises(InvalidInput, match="gamma must be"):
        LSAClosedForm(d=2, n=3, cov_diag=np.ones(2), gamma=np.eye(3), min_loss=1.0, gamma_expr=None, loss_expr=None)
    with pytest.raises(InvalidInput, match="parametrisation"):
        LSANumericResult(d=2, n=3, parametrisation="softmax", gamma=np.eye(2), loss=1.0, closed_form=closed,
                         relative_error=0.0, n_prompts=1, iterations=1, seed=0)
    with pytest.raises(InvalidInput, match="A must be"):
        LoopedLSAResult(d=2, n=3, loops=np.array([1, 2]), A=np.zeros((1, 2, 2)), loss=np.zeros(2),
                        scalar_a=np.zeros(2), scalar_loss=np.zeros(2), n_prompts=1, seed=0)
    with pytest.raises(InvalidInput, match="trained_loss must have shape"):
        LSATrainedVsClosedForm(d=2, ns=np.array([1, 2]), closed_form_scale=np.zeros(2),
                               trained_diag_mean=np.zeros(2), trained_offdiag_max=np.zeros(2),
                               relative_error=np.zeros(2), closed_form_loss=np.zeros(2), trained_loss=np.zeros(3))
    with pytest.raises(InvalidInput, match="W1 must be"):
        AttentionConvexResult(value=1.0, lower_bound=1.0, gap=0.0, status="optimal", solver="CLARABEL",
                              solve_seconds=0.0, Z=np.zeros((4, 2)), W1=np.zeros((1, 2, 2)), W2=np.zeros((2, 2, 1)),
                              network_objective=1.0, beta=1.0)
    with pytest.raises(InvalidInput, match="certificate is wrong"):
        LipschitzResult(upper_bound=1.0, sdp_value=1.0, naive_bound=2.0, sampled_lower_bound=1.5, status="optimal",
                        solver="CLARABEL", solve_seconds=0.0, n_samples=1, seed=0, layer_sizes=(1, 1, 1))
