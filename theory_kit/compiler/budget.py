"""Size guards: estimate what a compile and its verification will cost, refuse what cannot fit.

Each estimate is computed from the settings (`check_input_space`, before any other work) or
from the value sets (stage 2), before any weight matrix, pair table or verification input
exists, so `max_seq_len=100_000` or an exhaustive check of 10^9 inputs is refused in
milliseconds with the numbers and a fix instead of running for hours or exhausting memory.
Verification streams its inputs in chunks, so its memory is bounded; its budget is time.
"""

from __future__ import annotations

import numpy as np

from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import BasisAssignment
from theory_kit.errors import InvalidInput
from theory_kit.rasp import nodes as rn

__all__ = ["MAX_VALUE_PAIRS", "MAX_RESIDUAL_WIDTH", "MAX_WEIGHT_BYTES", "MAX_VERIFY_WORK",
           "MAX_EXHAUSTIVE_INPUTS", "MAX_VERIFY_SECONDS", "SECONDS_PER_INPUT",
           "check_compile_size", "check_input_space", "check_verification_size",
           "estimated_seconds"]

#: Value pairs a SequenceMap table or a Select predicate matrix may enumerate.
MAX_VALUE_PAIRS = 4_000_000
#: Residual dimensions (before reuse) a model may have.
MAX_RESIDUAL_WIDTH = 200_000
#: Bytes the token and position embeddings may need (a lower bound on the weights).
MAX_WEIGHT_BYTES = 4 * 2 ** 30
#: Selector entries (positions² × selectors, summed over inputs) verification may evaluate.
MAX_VERIFY_WORK = 20_000_000_000
#: A lower bound on the time one verified input costs (interpreter + forward pass + decoding
#: + comparison), in seconds. Measured costs are 40-250 us per input of length 5 for library
#: programs (Map: ~45 us, make_hist ~100 us, make_reverse ~220 us, on a shared 2-core
#: machine); 10 us undercounts on purpose, so the estimate in a refusal is never too high.
SECONDS_PER_INPUT = 1e-5
#: Estimated seconds (at SECONDS_PER_INPUT) a verification may take.
MAX_VERIFY_SECONDS = 500
#: Inputs a verification (exhaustive or sampled) may check: MAX_VERIFY_SECONDS of the
#: cheapest inputs.
MAX_EXHAUSTIVE_INPUTS = round(MAX_VERIFY_SECONDS / SECONDS_PER_INPUT)


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
        if isinstance(expr, rn.LinearSequenceMap) and b.encoding == "numerical":
            continue  # one linear MLP, no pair table (its value set is bounded in bases.py)
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


def estimated_seconds(n_inputs: int) -> float:
    """A lower bound on the seconds verifying `n_inputs` inputs takes (SECONDS_PER_INPUT each)."""
    return n_inputs * SECONDS_PER_INPUT


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86_400), ("hours", 3_600), ("minutes", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:,.1f} {unit}"
    return f"{seconds:,.0f} s"


def check_input_space(config: CompileConfig, n_inputs: int, exhaustive: bool) -> None:
    """Refuse a verification with more inputs than MAX_EXHAUSTIVE_INPUTS, from the settings
    alone (before the program is even read), naming the number of inputs, the estimated time
    and what to change.

    Args:
        config: the compile settings (vocab, max_seq_len, sample_size).
        n_inputs, exhaustive: `theory_kit.compiler.verify.verification_plan(config)`.

    Raises:
        InvalidInput: the verification cannot finish in MAX_VERIFY_SECONDS.
    """
    if n_inputs <= MAX_EXHAUSTIVE_INPUTS:
        return
    n, v = config.max_seq_len, len(config.vocab)
    seconds = estimated_seconds(n_inputs)
    if exhaustive:
        fits, total = 0, v  # the longest max_seq_len within the budget (lengths 1..fits)
        while fits < n and total <= MAX_EXHAUSTIVE_INPUTS:
            fits, total = fits + 1, total + v ** (fits + 2)
        shorter = (f", or lower max_seq_len to {fits} "
                   f"({sum(v ** k for k in range(1, fits + 1)):,} inputs)" if fits else "")
        raise InvalidInput(
            f"compile: an exhaustive verification of {n_inputs:,} inputs ({v} tokens, lengths "
            f"1..{n}) would take at least ~{_duration(seconds)} (at {SECONDS_PER_INPUT * 1e6:g} "
            f"us per input, a lower bound), above the budget of {MAX_VERIFY_SECONDS:,} s "
            f"({MAX_EXHAUSTIVE_INPUTS:,} inputs); use sampled verification "
            f"(verify='sample', sample_size={min(config.sample_size, MAX_EXHAUSTIVE_INPUTS)})"
            f"{shorter}")
    raise InvalidInput(
        f"compile: a sampled verification of sample_size={config.sample_size:,} inputs would "
        f"take at least ~{_duration(seconds)} (at {SECONDS_PER_INPUT * 1e6:g} us per input, a "
        f"lower bound), above the budget of {MAX_VERIFY_SECONDS:,} s "
        f"({MAX_EXHAUSTIVE_INPUTS:,} inputs); lower sample_size to at most "
        f"{MAX_EXHAUSTIVE_INPUTS:,}")


def check_verification_size(assignment: BasisAssignment, config: CompileConfig,
                            n_inputs: int, exhaustive: bool) -> None:
    """Refuse a verification whose interpreter work (selector entries) cannot finish.

    Raises:
        InvalidInput: with the number of inputs, the estimated work and a suggestion.
    """
    check_input_space(config, n_inputs, exhaustive)
    n, v = config.max_seq_len, len(config.vocab)
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
