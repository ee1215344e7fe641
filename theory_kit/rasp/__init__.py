"""The RASP language with Tracr's names (`from theory_kit import rasp` replaces `from tracr.rasp import rasp`)."""

from theory_kit.rasp.nodes import *  # noqa: F401,F403
from theory_kit.rasp.nodes import __all__ as _nodes_all
from theory_kit.rasp.interpreter import (LoopTrace, evaluate, evaluate_all, evaluate_batch,
                                         loop_trace, loop_traces, topological_order)
from theory_kit.rasp.loops import Loop, LoopVar, loop, unroll
from theory_kit.rasp.validate import Problem, validate
from theory_kit.rasp.generate import (InterpreterDecoder, VectorisedDecoder, generate,
                                      generate_batch, run_machine)

__all__ = list(_nodes_all) + [
    "evaluate", "evaluate_all", "evaluate_batch", "topological_order", "validate", "Problem",
    "loop", "unroll", "loop_trace", "loop_traces", "LoopTrace", "Loop", "LoopVar",
    "generate", "generate_batch", "run_machine", "InterpreterDecoder", "VectorisedDecoder",
]
from theory_kit.rasp.vectorised import evaluate_vectorised  # noqa: E402

__all__.append("evaluate_vectorised")
