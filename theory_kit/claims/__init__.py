"""Claims about transformer constructions, their registry, and a verifier that tries to break them.

A Claim pairs a measured quantity (a Python callable) with a sympy bound over a box of parameters;
`verify` searches the box adversarially (corners, Sobol points, local optimisation of the
violation) and returns a Verdict. Built-in claims live in the registry (`names`, `get`,
`registry`); other modules add theirs with `register` or `register_factory`. A bound may also be
given as text: `parse_expression` reads it safely (a whitelist walked in Python's syntax tree,
never eval), with the domain's names as plain symbols.

Verdicts are rounding-aware by default (float noise is a near miss, not a counterexample;
strict=True compares floats exactly). A claim whose quantity is also a formula
(Claim(quantity=<sympy expression or text>, ...)) can be proved: verify(claim, method="prove")
tries sympy, then interval branch and bound, and returns a Proof that `check_proof` re-validates.

Claims about random quantities (a trained model's sample complexity) are StatisticalClaims:
`verify_statistical` tests them at a level alpha against confidence intervals over seeds and
says "consistent" or "refuted", never "proved"; `fit_growth` / `verify_growth` fit and test
growth rates in a task size.
"""

from __future__ import annotations

from theory_kit.claims.claim import KINDS, RELATIONS, Claim, ParamSpec, parse_domain
from theory_kit.claims.parsing import parse_expression
from theory_kit.claims.quantities import HashBreakpoints, layer_norm_hash_breakpoints
from theory_kit.claims.registry import get, names, register, register_factory, register_module, registry, unregister
from theory_kit.claims.prove import InvalidProof, Proof, check_proof
from theory_kit.claims.statistical import (
    GrowthFit,
    GrowthVerdict,
    StatisticalClaim,
    StatisticalVerdict,
    fit_growth,
    verify_growth,
    verify_statistical,
)
from theory_kit.claims.verify import (
    DEFAULT_BUDGET,
    NEAR_MISS_ULPS,
    Evaluation,
    NearMiss,
    Verdict,
    assert_holds,
    ratio_from_margin,
    verify,
)

__all__ = [
    "Claim",
    "ParamSpec",
    "RELATIONS",
    "KINDS",
    "parse_domain",
    "parse_expression",
    "verify",
    "assert_holds",
    "Verdict",
    "Evaluation",
    "NearMiss",
    "NEAR_MISS_ULPS",
    "Proof",
    "check_proof",
    "InvalidProof",
    "ratio_from_margin",
    "DEFAULT_BUDGET",
    "register",
    "register_factory",
    "register_module",
    "unregister",
    "registry",
    "get",
    "names",
    "layer_norm_hash_breakpoints",
    "HashBreakpoints",
    "StatisticalClaim",
    "StatisticalVerdict",
    "verify_statistical",
    "GrowthFit",
    "GrowthVerdict",
    "fit_growth",
    "verify_growth",
]
