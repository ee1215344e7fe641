"""Exact pricing of the ReLU dual constraint and column generation (patterns="pricing")."""

import numpy as np
import pytest

from theory_kit.errors import InvalidInput
from theory_kit.landscape import (TOY_BETA, price_relu_dual, relu_dual_constraint, toy_relu_dataset,
                                  two_layer_relu, verify_two_layer_relu)
from theory_kit.landscape.pricing import relu_objective_direction


def _random_problem(n, d, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


@pytest.mark.parametrize("method", ["box", "sign"])
@pytest.mark.parametrize("n,d,seed", [(12, 3, 0), (10, 4, 1), (9, 2, 2), (14, 6, 3)])
def test_branch_and_bound_matches_enumeration(n, d, seed, method):
    X, lam = _random_problem(n, d, seed)
    exact, method_all = relu_dual_constraint(X, lam)
    assert method_all == "all-patterns"
    priced = price_relu_dual(X, lam, n_starts=5, method=method)
    assert priced.method == f"{method}-branch-and-bound" and not priced.time_limited
    # the bound is an upper bound, attained by a direction to rtol, and equals the enumeration value
    assert priced.best_value <= exact * (1 + 1e-9)
    assert priced.upper_bound >= exact * (1 - 1e-9)
    assert priced.upper_bound == pytest.approx(exact, rel=1e-7)
    assert abs(float(lam @ np.maximum(X @ priced.best_gate, 0.0))) == pytest.approx(priced.best_value, rel=1e-12)
    assert np.linalg.norm(priced.best_gate) == pytest.approx(1.0, rel=1e-9)


def test_upper_bound_dominates_many_sampled_directions_in_d4():
    X, lam = _random_problem(16, 4, 4)
    priced = price_relu_dual(X, lam, n_starts=20, rtol=1e-3)
    U = np.random.default_rng(9).standard_normal((4, 20000))
    U /= np.linalg.norm(U, axis=0)
    sampled = np.max(np.abs(relu_objective_direction(X, lam, U)))
    assert sampled <= priced.upper_bound * (1 + 1e-12)
    assert priced.best_value >= sampled * (1 - 1e-9) or priced.upper_bound <= (1 + 1e-3) * priced.best_value


def test_threshold_violators_are_real_violations():
    X, lam = _random_problem(15, 3, 5)
    exact, _ = relu_dual_constraint(X, lam)
    priced = price_relu_dual(X, lam, threshold=0.5 * exact, stop_on_violation=True, n_starts=10)
    assert priced.violating_gates.shape[1] >= 1 and not priced.certified_feasible
    values = np.abs(lam @ np.maximum(X @ priced.violating_gates, 0.0))
    assert np.all(values > 0.5 * exact)
    above = price_relu_dual(X, lam, threshold=2.0 * exact, n_starts=10)
    assert above.certified_feasible and above.violating_gates.shape[1] == 0


@pytest.mark.parametrize("n,d", [(14, 3), (10, 4), (12, 6)])
def test_column_generation_matches_full_enumeration(n, d):
    X, y = toy_relu_dataset(n, seed=1, d=d)
    priced = two_layer_relu(X, y, beta=TOY_BETA, patterns="pricing")
    full = two_layer_relu(X, y, beta=TOY_BETA, patterns="all")
    assert priced.certificate == "exact-pricing" and full.certificate == "all-patterns"
    assert priced.pricing_method.endswith("-branch-and-bound") and full.pricing_method == ""
    assert priced.value == pytest.approx(full.value, rel=1e-7)
    assert priced.relative_gap <= 1e-6
    assert priced.lower_bound <= full.value * (1 + 1e-9)
    assert priced.network_objective == pytest.approx(priced.value, rel=1e-6)
    assert priced.pricing_gap <= 1e-6 and priced.iterations >= 1
    assert priced.pricing_method == ("sign" if d >= 5 else "box") + "-branch-and-bound"
    check = verify_two_layer_relu(X, y, priced)
    assert check.agrees and check.relative_gap <= 1e-6 and check.pricing_method == priced.pricing_method
    for method in ("box", "sign") if d <= 4 else ("sign",):  # either re-verifies the certificate (box: 43 s at d = 6)
        other = verify_two_layer_relu(X, y, priced, method=method)
        assert other.agrees and other.pricing_method == f"{method}-branch-and-bound"


def test_column_generation_recognises_the_zero_network():
    X, y = toy_relu_dataset(12, seed=0, d=3)
    result = two_layer_relu(X, y, beta=1e4, patterns="pricing")
    assert result.width == 0 and result.certificate == "exact-pricing"
    assert result.value == pytest.approx(0.5 * y @ y) and result.gap <= 1e-12 * result.value


def test_verification_catches_a_tampered_certificate():
    X, y = toy_relu_dataset(10, seed=2, d=3)
    result = two_layer_relu(X, y, beta=TOY_BETA, patterns="pricing")
    import dataclasses
    tampered = dataclasses.replace(result, lower_bound=result.value, gap=0.0,
                                   W=result.W * 1.01)
    assert not verify_two_layer_relu(X, y, tampered).agrees


def test_pricing_rejects_bad_input():
    X, lam = _random_problem(5, 3, 0)
    with pytest.raises(InvalidInput, match="max_nodes"):
        price_relu_dual(X, lam, max_nodes=0)
    with pytest.raises(InvalidInput, match="lam"):
        price_relu_dual(X, lam[:3])
    with pytest.raises(InvalidInput, match="result"):
        verify_two_layer_relu(X, lam, "not a result")
    with pytest.raises(InvalidInput, match="'simplex'"):
        price_relu_dual(X, lam, method="simplex")


@pytest.mark.slow
@pytest.mark.parametrize("d,n", [(5, 30), (5, 100), (10, 50)])
def test_column_generation_certifies_against_trained_networks(d, n):
    # issue 20 acceptance at D = 5, N = 100 and D = 10, N = 50 (benchmarks/README.md has the times;
    # both by the sign branch and bound, method="auto" from rank 5)
    from theory_kit.landscape import train_two_layer_relu

    X, y = toy_relu_dataset(n, seed=0, d=d)
    result = two_layer_relu(X, y, beta=TOY_BETA, patterns="pricing")
    assert result.certificate == "exact-pricing" and result.relative_gap <= 1e-6
    assert result.pricing_method == "sign-branch-and-bound"
    assert result.network_objective == pytest.approx(result.value, rel=1e-6)
    check = verify_two_layer_relu(X, y, result)
    # the re-pricing refines to the claimed bound minus rtol/2 = 5e-7 (verify_two_layer_relu)
    assert check.agrees and check.relative_gap <= result.relative_gap + 6e-7
    for width in (8, 32, 128):
        for seed in range(3):
            objective = train_two_layer_relu(X, y, beta=TOY_BETA, width=width, seed=seed)[2]
            assert objective >= result.lower_bound * (1 - 1e-12)


def test_pricing_edge_cases_rank_one_and_zero_data():
    X = np.outer(np.array([1.0, -2.0, 0.5, 3.0]), np.array([1.0, 1.0, 0.0]))  # rank 1
    lam = np.array([1.0, 0.3, -2.0, 0.7])
    exact, _ = relu_dual_constraint(X, lam)
    assert price_relu_dual(X, lam, n_starts=3).upper_bound == pytest.approx(exact, rel=1e-9)
    zero = price_relu_dual(np.zeros((3, 2)), np.ones(3))
    assert zero.upper_bound == 0.0 and zero.best_value == 0.0
    with pytest.raises(InvalidInput, match="n_starts"):
        price_relu_dual(X, lam, n_starts=0)


def test_certifiable_constraint_is_the_c_at_which_the_scaled_bound_reaches_the_target():
    from theory_kit.landscape.relu import _certifiable_constraint, _scaled_bound

    rng = np.random.default_rng(3)
    y = rng.standard_normal(20)
    lam = y - 0.3 * rng.standard_normal(20)
    beta = 0.1
    best, _ = _scaled_bound(lam, y, beta, 0.0)  # c = 0: s = λᵀy/‖λ‖², the unconstrained best
    target = 0.9 * best
    c = _certifiable_constraint(lam, y, beta, target)
    assert _scaled_bound(lam, y, beta, c)[0] == pytest.approx(target, rel=1e-12)
    assert _scaled_bound(lam, y, beta, c * (1 + 1e-6))[0] < target
    assert _certifiable_constraint(lam, y, beta, 1.1 * best) == 0.0  # unreachable target



@pytest.mark.parametrize("n,d,seed", [(11, 3, 20), (12, 5, 21), (13, 6, 22), (10, 7, 23)])
def test_sign_branch_and_bound_bound_is_valid_at_any_target_and_budget(n, d, seed):
    # called directly (no heuristic first): for each sign the bound is >= the maximum enumerated over
    # every activation cell whatever the target and however early the node budget stops it, and it
    # closes on that maximum when run to the end
    from theory_kit.landscape import enumerate_patterns
    from theory_kit.landscape.pricing import _pattern_max, _row_space, _sign_branch_and_bound

    X, lam = _random_problem(n, d, seed)
    Xr = X @ _row_space(X)
    masks = enumerate_patterns(X).masks
    for v in (lam, -lam):
        exact_v = max(_pattern_max(Xr, v, m.astype(float))[0] for m in masks.T)
        for target, budget in ((0.5 * exact_v, 10 ** 6), (exact_v * (1 + 1e-9), 10 ** 6), (0.0, 3)):
            upper, best, _, above, _, complete = _sign_branch_and_bound(Xr, v, target, max_nodes=budget,
                                                                        stop_on_violation=False)
            assert upper >= exact_v * (1 - 1e-12) and best <= exact_v * (1 + 1e-12)
            if complete:
                assert upper <= max(target, best) * (1 + 1e-9)
            assert all(float(v @ np.maximum(Xr @ w, 0.0)) > target for w in above)
