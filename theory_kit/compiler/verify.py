"""Fail closed: check a compiled model against the reference interpreter before returning it."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from theory_kit.compiler.config import CompileConfig
from theory_kit.values import is_plain_number, same_value, value_sort_key
from theory_kit.errors import (CompilationMismatch, EvaluationError, InvalidInput,
                               UnsupportedProgram)
from theory_kit.rasp import nodes as rn
from theory_kit.rasp.interpreter import evaluate_all, evaluate_batch, topological_order
from theory_kit.rasp.validate import Problem

__all__ = ["input_space_size", "enumerate_inputs", "sample_inputs", "outputs_match", "values_match",
           "verification_inputs", "verification_plan", "verify_model", "NUMERIC_ATOL", "Divergence",
           "node_divergence", "sublayer_name"]

#: Absolute tolerance (relative above 1) for numerical outputs, per dtype.
NUMERIC_ATOL = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-3}


def input_space_size(vocab_size: int, max_seq_len: int, min_len: int = 1) -> int:
    return sum(vocab_size ** n for n in range(min_len, max_seq_len + 1))


def enumerate_inputs(vocab, max_seq_len: int, min_len: int = 1):
    """Every sequence of length min_len..max_seq_len, shortest first, in a fixed order."""
    toks = sorted(vocab, key=value_sort_key)
    for n in range(min_len, max_seq_len + 1):
        for seq in itertools.product(toks, repeat=n):
            yield list(seq)


def sample_inputs(vocab, max_seq_len: int, count: int, seed: int) -> list[list]:
    """A seeded sample: lengths uniform in 1..max_seq_len, plus the edge cases (length 1,
    full length, every token repeated)."""
    toks = sorted(vocab, key=value_sort_key)
    rng = np.random.default_rng(seed)
    out = [[t] * max_seq_len for t in toks] + [[t] for t in toks]
    while len(out) < count:
        n = int(rng.integers(1, max_seq_len + 1))
        out.append([toks[i] for i in rng.integers(0, len(toks), size=n)])
    return out[:max(count, 1)]


def verification_plan(config: CompileConfig, mode: Optional[str] = None) -> tuple[int, bool]:
    """(number of inputs, exhaustive?) that `verification_inputs` will return."""
    mode = mode or config.verify
    size = input_space_size(len(config.vocab), config.max_seq_len)
    if mode == "exhaustive" or (mode == "auto" and size <= config.exhaustive_limit):
        return size, True
    return max(config.sample_size, 1), False


def verification_inputs(config: CompileConfig, mode: Optional[str] = None) -> list[list]:
    if verification_plan(config, mode)[1]:
        return list(enumerate_inputs(config.vocab, config.max_seq_len))
    return sample_inputs(config.vocab, config.max_seq_len, config.sample_size, config.seed)


def values_match(e: Any, g: Any, *, numerical: Optional[bool] = None, atol: float = 1e-6) -> bool:
    """One decoded value against the interpreter's: the one comparison rule of theory_kit.

    Categorical values compare exactly, type included (10_000_001 is not 10_000_000, True is
    not 1, None only matches None). Numerical values match within `atol`, absolute below 1
    and relative above. `numerical=None` decides per value: numbers of which at least one is
    a float (and neither a bool) compare numerically, everything else exactly.
    """
    if e is None or g is None:
        return e is None and g is None
    if numerical is None:
        numerical = (is_plain_number(e) and is_plain_number(g)
                     and (isinstance(e, float) or isinstance(g, float)))
    if numerical:
        try:
            fe, fg = float(e), float(g)
        except (TypeError, ValueError):
            return False
        return math.isfinite(fg) and math.isclose(fe, fg, rel_tol=atol, abs_tol=atol)
    return same_value(e, g)


def outputs_match(expected: list, got: list, atol: float = 1e-6, *,
                  numerical: Optional[bool] = None) -> bool:
    """Decoded outputs agree position by position under `values_match`."""
    return (got is not None and len(expected) == len(got)
            and all(values_match(e, g, numerical=numerical, atol=atol)
                    for e, g in zip(expected, got)))


def diagnose(model, program, xs: list) -> str:
    """Where the failing input first goes wrong: layout (weights vs blocks) or lowering."""
    from theory_kit.compiler.reference import first_divergence, node_values_from_reference

    layered, config = getattr(model, "layered", None), getattr(model, "config", None)
    if layered is None:
        return "no block-level reference available"
    reference = model.block_reference(xs)
    ids, mask = model.encode([xs])
    trace = model.forward(ids, mask)
    atol = 1e-6 if model.dtype == np.float64 else 1e-3
    div = first_divergence(layered, reference, trace.residuals, atol)
    if div is not None:
        return (f"the weights diverge from the block-level reference first at {div['where']} "
                f"(direction {div['direction']}, |diff| = {div['max_abs_diff']:.3g})")
    graph = layered.blocks.assignment.graph
    truth = evaluate_all(graph.program, xs, causal=config.causal)
    decoded = node_values_from_reference(layered, reference)
    for node_id in graph.order:
        if node_id in decoded and node_id in truth:
            numerical = layered.blocks.assignment.nodes[node_id].encoding == "numerical"
            if not outputs_match(truth[node_id], decoded[node_id], NUMERIC_ATOL[model.dtype],
                                 numerical=numerical):
                label = graph.node(node_id).label
                return (f"weights match the block-level reference; the block for {label!r} "
                        f"computes {decoded[node_id]!r:.80} where the interpreter gives "
                        f"{truth[node_id]!r:.80}")
    return "weights match the block-level reference; the output decoding differs"


def verify_model(model, program, config: CompileConfig, mode: Optional[str] = None) -> int:
    """Compare `model.run_batch` with `evaluate_batch` on the verification inputs.

    Returns:
        The number of inputs checked.

    Raises:
        UnsupportedProgram: the interpreter itself fails on some input (the program is not
            defined everywhere, so no model can match it).
        CompilationMismatch: with the smallest failing input and the first diverging layer.
    """
    inputs = verification_inputs(config, mode)
    try:
        expected = evaluate_batch(program, inputs, causal=config.causal)
    except EvaluationError as exc:
        bad = _first_failing(program, inputs, config.causal)
        raise UnsupportedProgram(
            f"the interpreter fails on the input {bad!r}: {exc}; the program is not defined on "
            "every input up to max_seq_len", (Problem(getattr(program, "label", "program"),
                                                      f"interpreter fails on {bad!r}: {exc}"),)
        ) from exc
    got = model.run_batch(inputs)
    atol = NUMERIC_ATOL[config.dtype]
    numerical = model.weights.output_encoding == "numerical"
    failing = [i for i, (e, g) in enumerate(zip(expected, got))
               if not outputs_match(e, g, atol, numerical=numerical)]
    if failing:
        i = min(failing, key=lambda j: (len(inputs[j]), j))
        xs = inputs[i]
        where = diagnose(model, program, xs)
        raise CompilationMismatch(
            f"compiled model disagrees with the interpreter on {len(failing)} of {len(inputs)} "
            f"inputs; smallest: {xs!r} -> expected {expected[i]!r}, got {got[i]!r}; {where}",
            input=xs, expected=expected[i], got=got[i], layer=where)
    return len(inputs)


def _first_failing(program, inputs, causal):
    for xs in inputs:
        try:
            evaluate_batch(program, [xs], causal=causal)
        except EvaluationError:
            return xs
    return None


# -- node by node: the first sublayer where a compiled level leaves the interpreter --------
@dataclass(frozen=True)
class Divergence:
    """The first disagreement: `sublayer` (-1 embedding, 2l attention of layer l, 2l+1 its
    MLP), `level` ("block apply" or "weight forward"), the node label, position (1-based after
    BOS), and expected/got values (got may be a raw residual difference)."""

    sublayer: int
    level: str
    label: str
    position: Optional[int]
    expected: Any
    got: Any

    def __str__(self) -> str:
        where = sublayer_name(self.sublayer)
        pos = "" if self.position is None else f" at position {self.position - 1}"
        return (f"{where} ({self.level}): node {self.label!r}{pos}: expected {self.expected!r}, "
                f"got {self.got!r}")


def sublayer_name(s: int) -> str:
    """`embedding`, `layer 0 attention`, `layer 0 MLP`, ... for sublayer index s."""
    if s < 0:
        return "embedding"
    return f"layer {s // 2} {'attention' if s % 2 == 0 else 'MLP'}"


def _decode_node(residual: np.ndarray, dims: list, values: list, numerical: bool) -> list:
    """Decode one node from a residual [T, D] (rows 1.. are the tokens)."""
    if numerical:
        return [float(v) for v in residual[1:, dims[0]]]
    mat = residual[1:][:, dims]
    out = []
    for row in mat:
        j = int(row.argmax())
        out.append(values[j] if row[j] >= 0.5 else None)
    return out


def node_divergence(model: Any, program: rn.SOp, xs: list, *, causal: bool = False,
                     atol: float = 1e-6) -> Optional[Divergence]:
    """The earliest (sublayer, node) where the block reference or the weight forward pass
    disagrees with the interpreter on input `xs`; None when every node agrees.

    Needs a model compiled in this session (a loaded model has weights only).

    Raises:
        InvalidInput: the model carries no compiled blocks.
    """
    layered = getattr(model, "layered", None)
    if layered is None:
        raise InvalidInput("the model has no compiled blocks (was it loaded from a file?)")
    expected = evaluate_all(program, xs, causal=causal)
    labels = {node.unique_id: node.label for node in topological_order(program)}
    assignment = layered.blocks.assignment
    sub = layered.sublayer_of_block
    written_at: dict[int, int] = {}
    for b in layered.blocks.blocks:
        if b.kind != "embed":
            written_at[b.node] = max(written_at.get(b.node, -1), sub[b.id])

    reference = model.block_reference(xs)
    ids, mask = model.encode([xs])
    trace = model.forward(ids, mask)

    found: list[Divergence] = []
    for node_id, basis in assignment.nodes.items():
        dirs = basis.directions
        if not dirs or node_id not in expected:
            continue
        # Directions nobody reads may be pruned from the layout: compare what exists.
        dirs = [d for d in dirs if d in layered.layout]
        if not dirs:
            continue
        s = written_at.get(node_id, -1)
        want = expected[node_id]
        numerical = basis.encoding == "numerical"
        label = labels.get(node_id, basis.label)
        values = [d.value for d in dirs]
        ref = reference[s + 1]
        if all(d in ref for d in dirs):
            ref_residual = np.stack([ref[d] for d in dirs], axis=1)
            got_ref = _decode_node(ref_residual, list(range(len(dirs))), values, numerical)
            for p, (e, g) in enumerate(zip(want, got_ref)):
                if not values_match(e, g, numerical=numerical, atol=atol):
                    found.append(Divergence(s, "block apply", label, p + 1, e, g))
                    break
        # The weight forward pass, decoded from the dimensions the layout gave this node,
        # right after the sublayer that writes it (a dimension may be reused later).
        residual = trace.residuals[s + 1][0]
        got_w = _decode_node(residual, [layered.layout[d] for d in dirs], values, numerical)
        for p, (e, g) in enumerate(zip(want, got_w)):
            if not values_match(e, g, numerical=numerical, atol=atol):
                found.append(Divergence(s, "weight forward", label, p + 1, e, g))
                break
    if not found:
        return None
    level_rank = {"block apply": 0, "weight forward": 1}
    return min(found, key=lambda d: (d.sublayer, level_rank[d.level]))
