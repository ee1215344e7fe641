"""theory_kit.landscape: convex programs that certify global optima of small models.

Builders (`build_*_problem`) return `cvxpy.Problem`s and never solve; `solve(problem)` and the
per-model functions (`two_layer_relu`, `gated_relu`, `linear_attention_convex`, `lipschitz_bounds`)
solve with a named solver and return frozen results carrying status, value and a certificate.
Non-convex baselines train the same objectives from seeded random inits for comparison.
"""

from theory_kit.landscape import (attention_convex, data, linear_attention, lipschitz, nonconvex, patterns, pricing, relu,
                                  results, solving)
from theory_kit.landscape.attention_convex import *  # noqa: F401,F403
from theory_kit.landscape.data import *  # noqa: F401,F403
from theory_kit.landscape.linear_attention import *  # noqa: F401,F403
from theory_kit.landscape.lipschitz import *  # noqa: F401,F403
from theory_kit.landscape.nonconvex import *  # noqa: F401,F403
from theory_kit.landscape.patterns import *  # noqa: F401,F403
from theory_kit.landscape.pricing import *  # noqa: F401,F403
from theory_kit.landscape.relu import *  # noqa: F401,F403
from theory_kit.landscape.results import *  # noqa: F401,F403
from theory_kit.landscape.solving import *  # noqa: F401,F403

#: Each module's public names, listed once (in the module); the package re-exports them all.
__all__ = [name for module in (solving, patterns, pricing, relu, nonconvex, linear_attention, attention_convex,
                               lipschitz, data, results) for name in module.__all__]
