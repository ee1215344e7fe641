"""Size guards: estimate what a compile and its verification will cost, refuse what cannot fit.

Each estimate is an upper bound computed from the value sets (stage 2), before any weight
matrix, pair table or verification input exists, so `max_seq_len=100_000` is refused in
milliseconds with the numbers instead of running for minutes or exhausting memory.
"""

from __future__ import annotations

import numpy as np

from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import BasisAssignment
from theory_kit.errors import InvalidInput
from theory_kit.rasp import nodes as rn

__all__ = ["MAX_VALUE_PAIRS", "MAX_RESIDUAL_WIDTH", "MAX_WEIGHT_BYTES", "MAX_VERIFY_WORK",
           "MAX_EXHAUSTIVE_INPUTS", "check_compile_size", "check_verification_size"]

#: Value pairs a SequenceMap table or a Select predicate matrix may enumerate.
MAX_VALUE_PAIRS = 4_000_000
#: Residual dimensions (before reuse) a model may have.
MAX_RESIDUAL_WIDTH = 200_000
#: Bytes the token and position embeddings may need (a lower bound on the weights).
MAX_WEIGHT_BYTES = 4 * 2 ** 30
#: Selector entries (positions² × selectors, summed over inputs) verification may evaluate.
MAX_VERIFY_WORK = 20_000_000_000
#: Inputs an exhaustive verification may enumerate.
MAX_EXHAUSTIVE_INPUTS = 50_000_000


def _refuse(what: str, value: float, limit: float, fix: str) -> None:
    raise InvalidInput(f"compile: {what} is about {value:,.0f}, above the limit {limit:,.0f}; "
                       f"{fix}")


def check_value_pairs(label: str, n_pairs: int, config: CompileConfig) -> None:
    """Refuse enumerating `n_pairs` (x, y) values for one node (called before enumerating)."""
    if n_pairs > MAX_VALUE_PAIRS:
        _refuse(f"the number of value pairs of {label!r} at max_seq_len {config.max_seq_len}",
                n_pairs, MAX_VALUE_PAIRS, "lower max_seq_len or shrink the value sets")


def check_compile_size(assignment: BasisAssignment, config: CompileConfig) -> None:
    """Estimated residual width, pair tables and weight bytes, before lowering.

    Raises:
        InvalidInput: naming the estimate, its limit and what to change.
    """
    graph = assignment.graph
    width = 2
    for node_id in graph.order:
        b = assignment.nodes[node_id]
        expr = graph.node(node_id).expr
        if b.encoding == "categorical" and not b.virtual:
            width += len(b.values)
        elif b.encoding == "numerical":
            width += 1
        if isinstance(expr, (rn.SequenceMap, rn.Select)):
            a, c = ((expr.fst, expr.snd) if isinstance(expr, rn.SequenceMap)
                    else (expr.keys, expr.queries))
            va, vc = assignment.nodes[a.unique_id].values, assignment.nodes[c.unique_id].values
            check_value_pairs(b.label, len(va or ()) * len(vc or ()), config)
    n = config.max_seq_len
    if width > MAX_RESIDUAL_WIDTH:
        _refuse(f"the residual width (before reuse) at max_seq_len {n}", width,
                MAX_RESIDUAL_WIDTH, "lower max_seq_len or shrink the value sets")
    # a lower bound: the token and position embeddings alone (layers come on top)
    embed_bytes = np.dtype(config.dtype).itemsize * width * (len(config.vocab) + n + 2)
    if embed_bytes > MAX_WEIGHT_BYTES:
        _refuse(f"the embedding memory in bytes at max_seq_len {n} (residual width ~{width:,} "
                "before reuse)", embed_bytes, MAX_WEIGHT_BYTES,
                "lower max_seq_len or shrink the value sets")


def check_verification_size(assignment: BasisAssignment, config: CompileConfig,
                            n_inputs: int, exhaustive: bool) -> None:
    """Refuse a verification whose interpreter work (selector entries) cannot finish.

    Raises:
        InvalidInput: with the number of inputs, the estimated work and a suggestion.
    """
    n, v = config.max_seq_len, len(config.vocab)
    if exhaustive and n_inputs > MAX_EXHAUSTIVE_INPUTS:
        _refuse(f"the number of inputs of an exhaustive verification ({v} tokens, lengths "
                f"1..{n})", n_inputs, MAX_EXHAUSTIVE_INPUTS,
                "use verify='sample' (or 'auto'), or lower max_seq_len")
    selects = 1 + sum(isinstance(assignment.graph.node(i).expr, rn.Select)
                      for i in assignment.graph.order)
    if exhaustive:
        work = sum(v ** m * m * m for m in range(1, n + 1)) * selects
    else:
        work = n_inputs * (n * n / 3.0) * selects
    if work > MAX_VERIFY_WORK:
        _refuse(f"the interpreter's work to verify {n_inputs:,} inputs of length up to {n} "
                f"({selects - 1} selectors; selector entries evaluated)", work, MAX_VERIFY_WORK,
                "lower max_seq_len, or pass verify=None to skip verification (the model is "
                "then unchecked)")
