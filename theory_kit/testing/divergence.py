"""Locate where a compiled model first departs from the interpreter, node by node.

Three levels are compared on one input (principle 7): the interpreter's value of every node,
the block-level reference (`theory_kit.compiler.reference.block_apply`, every named direction
in its own dimension) and the weight forward pass (`model.forward`). The earliest sublayer at
which either compiled level disagrees is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy

from theory_kit.rasp import nodes as n
from theory_kit.rasp.interpreter import evaluate_all, topological_order

__all__ = ["Divergence", "first_divergence", "sublayer_name"]


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


def _agree(e: Any, g: Any, atol: float) -> bool:
    if e is None or g is None:
        return e is None and g is None
    if isinstance(e, (int, float)) and isinstance(g, (int, float)):
        return abs(float(e) - float(g)) <= atol + 1e-6 * abs(float(e))
    return e == g


def _decode(residual: numpy.ndarray, dims: list, values: list, numerical: bool) -> list:
    """Decode one node from a residual [T, D] (rows 1.. are the tokens)."""
    if numerical:
        return [float(v) for v in residual[1:, dims[0]]]
    mat = residual[1:][:, dims]
    out = []
    for row in mat:
        j = int(row.argmax())
        out.append(values[j] if row[j] >= 0.5 else None)
    return out


def first_divergence(model: Any, program: n.SOp, xs: list, *, causal: bool = False,
                     atol: float = 1e-6) -> Optional[Divergence]:
    """The earliest (sublayer, node) where the block reference or the weight forward pass
    disagrees with the interpreter on input `xs`; None when every node agrees.

    Needs a model compiled in this session (a loaded model has weights only).

    Raises:
        ValueError: the model carries no compiled blocks.
    """
    layered = getattr(model, "_layered", None)
    if layered is None:
        raise ValueError("the model has no compiled blocks (was it loaded from a file?)")
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
            ref_residual = numpy.stack([ref[d] for d in dirs], axis=1)
            got_ref = _decode(ref_residual, list(range(len(dirs))), values, numerical)
            for p, (e, g) in enumerate(zip(want, got_ref)):
                if not _agree(e, g, atol):
                    found.append(Divergence(s, "block apply", label, p + 1, e, g))
                    break
        # The weight forward pass, decoded from the dimensions the layout gave this node,
        # right after the sublayer that writes it (a dimension may be reused later).
        residual = trace.residuals[s + 1][0]
        got_w = _decode(residual, [layered.layout[d] for d in dirs], values, numerical)
        for p, (e, g) in enumerate(zip(want, got_w)):
            if not _agree(e, g, atol):
                found.append(Divergence(s, "weight forward", label, p + 1, e, g))
                break
    if not found:
        return None
    level_rank = {"block apply": 0, "weight forward": 1}
    return min(found, key=lambda d: (d.sublayer, level_rank[d.level]))
