"""Two-layer ReLU and gated ReLU convex programs: exactness, recovery and dual certificates."""

import cvxpy as cp
import numpy as np
import pytest

from theory_kit.errors import InvalidInput

from theory_kit.landscape import (TOY_BETA, build_gated_relu_problem, build_two_layer_relu_problem,
                                  enumerate_patterns, gated_objective, gated_relu, relu_dual_certificate,
                                  relu_dual_constraint, sample_patterns, solve, toy_relu_dataset,
                                  two_layer_objective, two_layer_relu)
from theory_kit.landscape import relu as relu_module

CLOSE_RTOL = 1e-6  # acceptance: the certificate closes and the recovery is exact to this


@pytest.mark.parametrize("n", [50, 100, 200])
def test_certificate_closes_with_all_patterns_in_d2(toy_solutions, n):
    _, _, result = toy_solutions[n]
    assert result.patterns_exact and result.certificate == "all-patterns"
    assert result.n_patterns >= 2 * n - 1
    assert 0 <= result.gap <= CLOSE_RTOL * result.value
    assert result.relative_gap <= CLOSE_RTOL


@pytest.mark.parametrize("n", [50, 100, 200])
def test_recovered_network_attains_the_convex_value(toy_solutions, n):
    X, y, result = toy_solutions[n]
    objective = two_layer_objective(X, y, result.W, result.alpha, beta=TOY_BETA)
    assert objective == pytest.approx(result.value, rel=CLOSE_RTOL)
    assert result.network_objective == pytest.approx(objective, rel=1e-12)
    assert result.W.shape == (2, result.width)


def test_exact_in_d3_via_arrangement_enumeration():
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    result = two_layer_relu(X, y, beta=0.1)
    assert result.patterns_exact and result.certificate == "all-patterns"
    assert result.relative_gap <= CLOSE_RTOL
    assert result.network_objective == pytest.approx(result.value, rel=CLOSE_RTOL)


def test_sampled_patterns_still_give_a_valid_lower_bound(toy_solutions):
    X, y, exact = toy_solutions[100]
    sampled = two_layer_relu(X, y, beta=TOY_BETA, patterns=10, seed=0)
    assert not sampled.patterns_exact and sampled.n_patterns <= 10
    # the sampled program can only be worse, and its bound must still sit under the true optimum
    assert sampled.value >= exact.value * (1 - 1e-8)
    assert sampled.lower_bound <= exact.value * (1 + 1e-9)
    # the residual of a sampled program violates the dual constraint on some unseen pattern:
    # without the all-pattern check the bound would be wrong, with it λ is scaled down
    c, method = relu_dual_constraint(X, sampled.dual)
    assert method == "all-patterns" and c > TOY_BETA and sampled.dual_scale < 1
    assert sampled.certificate == "all-patterns"


def test_norm_bound_fallback_is_rigorous_but_loose():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((15, 3)), rng.standard_normal(15)
    exact = two_layer_relu(X, y, beta=0.2)
    cert = relu_dual_certificate(X, y, exact.dual, beta=0.2, max_check_patterns=1)
    assert cert.method == "norm-bound"
    assert cert.lower_bound <= exact.value
    assert cert.lower_bound < exact.lower_bound  # honest: looser than the all-pattern check


def test_rank2_closed_form_matches_nnls_and_a_dense_angle_grid():
    X, y = toy_relu_dataset(40, seed=1)
    lam = np.random.default_rng(0).standard_normal(40)
    closed, _ = relu_dual_constraint(X, lam)
    nnls_value = relu_module._nnls_max(X, lam, enumerate_patterns(X).masks)
    theta = np.linspace(0, 2 * np.pi, 400_001)
    grid = np.max(np.abs(lam @ np.maximum(X @ np.stack([np.cos(theta), np.sin(theta)]), 0)))
    assert grid <= closed * (1 + 1e-12)
    assert closed - grid <= 1e-6 * closed
    assert nnls_value == pytest.approx(closed, rel=1e-7)


def test_nnls_constraint_dominates_sampled_directions_in_d3():
    rng = np.random.default_rng(4)
    X, lam = rng.standard_normal((12, 3)), rng.standard_normal(12)
    c, method = relu_dual_constraint(X, lam)
    u = rng.standard_normal((3, 200_000))
    u /= np.linalg.norm(u, axis=0)
    sampled = np.max(np.abs(lam @ np.maximum(X @ u, 0)))
    assert method == "all-patterns"
    assert sampled <= c * (1 + 1e-9)
    assert c - sampled <= 1e-2 * c


@pytest.mark.parametrize("patterns", ["all", 15])
def test_gated_relaxation_is_below_relu_on_the_same_patterns(toy_solutions, patterns):
    X, y, _ = toy_solutions[50]
    relu = two_layer_relu(X, y, beta=TOY_BETA, patterns=patterns, seed=1)
    gated = gated_relu(X, y, beta=TOY_BETA, patterns=patterns, seed=1)
    assert gated.n_patterns == relu.n_patterns
    assert gated.value <= relu.value * (1 + 1e-8)
    assert gated.gap <= 1e-6 * gated.value  # gated certificate over its own gates closes
    assert gated.network_objective == pytest.approx(gated.value, rel=1e-6)
    assert gated_objective(X, y, gated.W, gated.alpha, gated.gates, beta=TOY_BETA) == pytest.approx(
        gated.network_objective, rel=1e-12)


def test_gated_is_strictly_below_relu_somewhere(toy_solutions):
    X, y, relu = toy_solutions[100]
    gated = gated_relu(X, y, beta=TOY_BETA)
    assert gated.value < relu.value * (1 - 1e-4)  # the cone constraints bind on this data


def test_builders_return_unsolved_problems():
    X, y = toy_relu_dataset(12, seed=0)
    ps = sample_patterns(X, 5, seed=0)
    for build in (build_two_layer_relu_problem, build_gated_relu_problem):
        problem = build(X, y, beta=0.1, pattern_set=ps)
        assert isinstance(problem, cp.Problem)
        assert problem.status is None and problem.value is None
        assert problem.is_dcp()
    solution = solve(build_two_layer_relu_problem(X, y, beta=0.1, pattern_set=ps))
    assert set(solution.variables) == {"U", "V"}
    assert solution.variables["U"].shape == (2, ps.n_patterns)


def test_large_beta_gives_the_zero_network():
    X, y = toy_relu_dataset(20, seed=0)
    result = two_layer_relu(X, y, beta=1e6)
    assert result.width == 0
    assert result.value == pytest.approx(0.5 * y @ y, rel=1e-6)
    assert result.network_objective == pytest.approx(0.5 * y @ y, rel=1e-12)


def test_scs_agrees_with_clarabel_to_its_tolerance(toy_solutions):
    X, y, clarabel = toy_solutions[50]
    scs = two_layer_relu(X, y, beta=TOY_BETA, solver="scs", solver_options={"eps_abs": 1e-9, "eps_rel": 1e-9})
    assert scs.solver == "SCS"
    assert scs.value == pytest.approx(clarabel.value, rel=1e-4)
    assert scs.lower_bound <= clarabel.value * (1 + 1e-9)


def test_builders_check_the_pattern_set_matches_the_data():
    X, y = toy_relu_dataset(12, seed=0)
    other = sample_patterns(toy_relu_dataset(13, seed=0)[0], 5, seed=0)
    with pytest.raises(InvalidInput, match="13 samples but X has 12 rows"):
        build_two_layer_relu_problem(X, y, beta=0.1, pattern_set=other)
    with pytest.raises(InvalidInput, match="PatternSet"):
        build_gated_relu_problem(X, y, beta=0.1, pattern_set=np.ones((12, 3), bool))
