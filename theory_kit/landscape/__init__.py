"""theory_kit.landscape: convex programs that certify global optima of small models.

Builders (`build_*_problem`) return `cvxpy.Problem`s and never solve; `solve(problem)` and the
per-model functions (`two_layer_relu`, `gated_relu`, `linear_attention_convex`, `lipschitz_bounds`)
solve with a named solver and return frozen results carrying status, value and a certificate.
Non-convex baselines train the same objectives from seeded random inits for comparison.
"""

from theory_kit.landscape.attention_convex import (attention_dual_certificate, attention_nonconvex_baseline,
                                                   attention_objective, build_linear_attention_problem,
                                                   lifted_attention_operator, linear_attention_convex)
from theory_kit.landscape.data import TOY_BETA, toy_attention_dataset, toy_relu_dataset
from theory_kit.landscape.linear_attention import (ahn_minimiser_formula, derive_lsa_minimiser, looped_lsa,
                                                   lsa_closed_form, lsa_numerical_minimiser, lsa_population_loss,
                                                   lsa_trained_vs_closed_form)
from theory_kit.landscape.lipschitz import (build_lipsdp_problem, lipschitz_bounds, lipsdp_matrix, mlp_lipschitz,
                                            naive_lipschitz_bound, sampled_lipschitz_lower_bound)
from theory_kit.landscape.nonconvex import nonconvex_baseline, toy_nonconvex_vs_certified, train_two_layer_relu
from theory_kit.landscape.patterns import (PatternSet, activation_patterns, enumerate_patterns, max_pattern_count,
                                           sample_patterns)
from theory_kit.landscape.relu import (build_gated_relu_problem, build_two_layer_relu_problem, gated_objective,
                                       gated_relu, relu_dual_certificate, relu_dual_constraint, two_layer_objective,
                                       two_layer_relu)
from theory_kit.landscape.results import (AttentionConvexResult, AttentionNonconvexResult, ConvexSolution,
                                          DualCertificate, GatedReluResult, LipschitzResult, LoopedLSAResult,
                                          LSAClosedForm, LSANumericResult, LSATrainedVsClosedForm,
                                          NonconvexBaselineResult, TwoLayerReluResult)
from theory_kit.landscape.solving import DEFAULT_SOLVER, solve

__all__ = [
    # solving
    "DEFAULT_SOLVER",
    "solve",
    # activation patterns
    "PatternSet",
    "activation_patterns",
    "enumerate_patterns",
    "sample_patterns",
    "max_pattern_count",
    # two-layer ReLU and gated ReLU
    "build_two_layer_relu_problem",
    "build_gated_relu_problem",
    "two_layer_relu",
    "gated_relu",
    "two_layer_objective",
    "gated_objective",
    "relu_dual_certificate",
    "relu_dual_constraint",
    # non-convex baseline
    "train_two_layer_relu",
    "nonconvex_baseline",
    "toy_nonconvex_vs_certified",
    # linear self-attention in-context regression
    "derive_lsa_minimiser",
    "ahn_minimiser_formula",
    "lsa_closed_form",
    "lsa_population_loss",
    "lsa_numerical_minimiser",
    "looped_lsa",
    "lsa_trained_vs_closed_form",
    # convex multi-head linear attention
    "lifted_attention_operator",
    "build_linear_attention_problem",
    "attention_objective",
    "attention_dual_certificate",
    "linear_attention_convex",
    "attention_nonconvex_baseline",
    # Lipschitz bounds
    "lipsdp_matrix",
    "build_lipsdp_problem",
    "lipschitz_bounds",
    "mlp_lipschitz",
    "naive_lipschitz_bound",
    "sampled_lipschitz_lower_bound",
    # data
    "TOY_BETA",
    "toy_relu_dataset",
    "toy_attention_dataset",
    # results
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
