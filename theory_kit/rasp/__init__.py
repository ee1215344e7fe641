"""The RASP language with Tracr's names (`from theory_kit import rasp` replaces `from tracr.rasp import rasp`)."""

from theory_kit.rasp.nodes import *  # noqa: F401,F403
from theory_kit.rasp.nodes import __all__ as _nodes_all
from theory_kit.rasp.interpreter import evaluate, evaluate_all, evaluate_batch, topological_order
from theory_kit.rasp.validate import Problem, validate

__all__ = list(_nodes_all) + [
    "evaluate", "evaluate_all", "evaluate_batch", "topological_order", "validate", "Problem",
]
