"""LipSDP-Neuron: sampled lower bound ≤ certified LipSDP bound ≤ product of spectral norms."""

import numpy as np
import pytest

from theory_kit.errors import InvalidInput
from theory_kit.landscape import (build_lipsdp_problem, lipschitz_bounds, lipsdp_matrix, mlp_lipschitz,
                                  naive_lipschitz_bound, sampled_lipschitz_lower_bound)

FP_RTOL = 1e-9


def _random_mlp(sizes, seed):
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((a, b)) / np.sqrt(a) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [0.3 * rng.standard_normal(b) for b in sizes[1:]]
    return weights, biases


def _forward(weights, biases, x):
    h = x
    for W, b in zip(weights[:-1], biases[:-1]):
        h = np.maximum(h @ W + b, 0.0)
    return h @ weights[-1] + biases[-1]


@pytest.mark.parametrize("sizes,seed", [((3, 8, 1), 0), ((4, 10, 3), 1), ((5, 12, 12, 2), 2), ((2, 6, 6, 6, 1), 3)])
def test_bounds_are_ordered_and_the_upper_bound_holds_on_pairs(sizes, seed):
    weights, biases = _random_mlp(sizes, seed)
    result = lipschitz_bounds(weights, biases, n_samples=2000, seed=seed)
    assert result.sampled_lower_bound <= result.upper_bound * (1 + FP_RTOL)
    assert result.upper_bound <= result.naive_bound * (1 + 1e-6)
    assert result.layer_sizes == sizes
    rng = np.random.default_rng(100 + seed)
    x, z = rng.standard_normal((2, 5000, sizes[0]))
    ratios = np.linalg.norm(_forward(weights, biases, x) - _forward(weights, biases, z), axis=1) / np.linalg.norm(
        x - z, axis=1)
    assert np.max(ratios) <= result.upper_bound * (1 + FP_RTOL)


def test_single_neuron_is_exact():
    w0, w1 = np.array([0.3, -1.2, 2.0]), -1.7
    result = mlp_lipschitz(w0[:, None], np.zeros(1), np.array([[w1]]), np.zeros(1))
    exact = abs(w1) * np.linalg.norm(w0)
    assert result.upper_bound == pytest.approx(exact, rel=1e-6)
    assert result.sampled_lower_bound == pytest.approx(exact, rel=1e-12)


def test_identity_relu_layer_is_exact():
    eye = np.eye(4)
    result = mlp_lipschitz(eye, np.zeros(4), eye, np.zeros(4))
    assert result.upper_bound == pytest.approx(1.0, rel=1e-6)
    assert result.sampled_lower_bound == pytest.approx(1.0, rel=1e-12)


def test_lipsdp_beats_the_naive_bound_on_a_cancelling_network():
    # two neurons with opposite output weights on the same direction: naive bound 2, true constant 1
    W_in = np.array([[1.0, 1.0]])
    W_out = np.array([[1.0], [-1.0]])
    result = mlp_lipschitz(W_in, np.array([0.0, -1.0]), W_out, np.zeros(1))
    assert result.naive_bound == pytest.approx(2.0)
    assert result.upper_bound < 1.5
    assert result.sampled_lower_bound == pytest.approx(1.0)


def test_certified_bound_satisfies_the_matrix_inequality():
    weights, _ = _random_mlp((3, 7, 2), 5)
    problem = build_lipsdp_problem(weights)
    problem.solve(solver="CLARABEL")
    t = np.maximum(problem.var_dict["t"].value, 0.0)
    result = lipschitz_bounds(weights)
    eigs = np.linalg.eigvalsh(lipsdp_matrix(weights, result.upper_bound ** 2, t))
    assert eigs[-1] <= 1e-9 * result.upper_bound ** 2


def test_naive_and_sampled_helpers_and_layout_errors():
    weights, biases = _random_mlp((3, 5, 2), 0)
    assert naive_lipschitz_bound(weights) == pytest.approx(
        np.linalg.norm(weights[0], 2) * np.linalg.norm(weights[1], 2))
    assert sampled_lipschitz_lower_bound(weights, biases, n_samples=50, seed=1) > 0
    with pytest.raises(InvalidInput, match="x @ W"):
        lipschitz_bounds([weights[0].T, weights[1]])
    with pytest.raises(InvalidInput, match="at least 2"):
        lipschitz_bounds([weights[0]])
    with pytest.raises(InvalidInput, match=r"biases\[0\] must have shape \(5,\)"):
        lipschitz_bounds(weights, [np.zeros(4), np.zeros(2)])
    with pytest.raises(InvalidInput, match="both"):
        mlp_lipschitz(weights[0], None, weights[1], np.zeros(2))


def test_eigen_method_matches_the_sdp_and_orders_the_bounds():
    weights, biases = _random_mlp((6, 40, 3), 7)
    eigen = lipschitz_bounds(weights, biases, method="eigen", n_samples=2000)
    sdp = lipschitz_bounds(weights, biases, method="sdp", n_samples=2000)
    assert eigen.solver == "eigen-lbfgs"
    # both are certified LipSDP bounds; the SDP minimises over the same multipliers
    assert eigen.upper_bound >= sdp.sdp_value * (1 - 1e-6)
    assert eigen.upper_bound <= sdp.upper_bound * (1 + 1e-2)
    assert eigen.sampled_lower_bound <= eigen.upper_bound <= eigen.naive_bound * (1 + 1e-9)


def test_auto_uses_the_eigen_method_for_a_wide_hidden_layer_and_validates_method():
    weights, biases = _random_mlp((4, 48, 2), 8)
    assert mlp_lipschitz(weights[0], biases[0], weights[1], biases[1], n_samples=500).solver == "eigen-lbfgs"
    with pytest.raises(InvalidInput, match="method"):
        lipschitz_bounds(weights, method="newton")
    deep, _ = _random_mlp((3, 5, 5, 1), 0)
    with pytest.raises(InvalidInput, match="one hidden layer"):
        lipschitz_bounds(deep, method="eigen")


@pytest.mark.slow
def test_eigen_method_at_200_hidden_units():
    weights, biases = _random_mlp((20, 200, 5), 9)
    result = lipschitz_bounds(weights, biases, n_samples=2000)
    assert result.solver == "eigen-lbfgs"
    assert result.sampled_lower_bound <= result.upper_bound <= result.naive_bound
    assert result.upper_bound < 0.9 * result.naive_bound


def test_compiled_mlp_blocks_get_enclosing_bounds():
    import theory_kit as tk
    from theory_kit import rasp
    from theory_kit.landscape import compiled_mlp_lipschitz

    model = tk.compile(rasp.Map(lambda x: x + 1, rasp.tokens), vocab={1, 2, 3}, max_seq_len=3)
    blocks = compiled_mlp_lipschitz(model.weights, n_samples=500)
    assert blocks, "the compiled Map has an MLP block"
    for block in blocks:
        lower, upper = block.exact_interval
        assert lower <= upper * (1 + 1e-9)
        assert block.bounds.upper_bound <= block.bounds.naive_bound * (1 + 1e-6)
        layer = model.weights.layers[block.layer]
        if layer.W_in.shape[1] <= 12:
            # the subset bound is attained by some subset: a genuine spectral norm of a sub-block
            assert block.subset_bound <= block.bounds.naive_bound * (1 + 1e-9)
    with pytest.raises(InvalidInput, match="layers"):
        compiled_mlp_lipschitz(object())
