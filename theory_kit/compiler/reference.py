"""The block-level oracle: apply the named-basis blocks one sublayer at a time.

It uses every block's own `apply` in a residual where each named direction has its own
dimension (no reuse, no packing into heads), so it checks the lowering independently of the
layout that `layers_to_weights` chooses. Also: decoding node values from it and locating the
first sublayer where the weight forward pass leaves it.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import LayeredModel
from theory_kit.craft.bases import VectorSpace

__all__ = ["block_apply", "first_divergence", "node_values_from_reference"]


def _space(layered: LayeredModel) -> VectorSpace:
    return VectorSpace(tuple(sorted(layered.layout, key=lambda d: (layered.layout[d], d.sort_key()))))


def block_apply(layered: LayeredModel, config: CompileConfig, xs: list) -> list[dict]:
    """Named residual after the embedding and after each sublayer: list of {direction: [T]}."""
    space = _space(layered)
    t = len(xs) + 1
    x = np.zeros((1, t, space.dim))
    toks = [config.bos] + list(xs)
    for p, tok in enumerate(toks):
        row = layered.embedding.bos if p == 0 else layered.embedding.tokens.get(tok, {})
        for d, v in row.items():
            x[0, p, space.index(d)] += v
        for d, v in layered.embedding.positions.get(p, {}).items():
            x[0, p, space.index(d)] += v
    mask = np.ones((1, t, t), dtype=bool)
    if config.causal:
        mask = np.tril(mask)
    out = [_named(space, x)]
    for layer in layered.layers:
        update = sum((h.apply(x, space, mask) for h in layer.heads), np.zeros_like(x))
        x = x + update
        out.append(_named(space, x))
        update = sum((m.apply(x, space) for m in layer.mlps), np.zeros_like(x))
        x = x + update
        out.append(_named(space, x))
    return out


def _named(space: VectorSpace, x: np.ndarray) -> dict:
    return {d: x[0, :, i].copy() for i, d in enumerate(space.basis)}


def first_divergence(layered: LayeredModel, reference: list[dict], residuals: tuple,
                     atol: float) -> Optional[dict]:
    """First sublayer where a live direction of the weight forward pass (batch row 0) differs
    from the block-level reference by more than atol; None if they agree everywhere."""
    for s in range(-1, len(reference) - 1):
        ref = reference[s + 1]
        got = residuals[s + 1][0]
        for d in layered.live.get(s, ()):
            diff = np.abs(got[:, layered.layout[d]] - ref[d]).max()
            if diff > atol:
                where = "embedding" if s < 0 else f"layer {s // 2} {'attention' if s % 2 == 0 else 'MLP'}"
                return {"sublayer": s, "where": where, "direction": str(d), "max_abs_diff": float(diff)}
    return None


def node_values_from_reference(layered: LayeredModel, reference: list[dict]) -> dict[int, list]:
    """Decode every materialised SOp from the block-level residual after it is written."""
    assignment = layered.blocks.assignment
    sub = layered.sublayer_of_block
    written_at: dict[int, int] = {}
    for b in layered.blocks.blocks:
        if b.kind != "embed":
            written_at[b.node] = max(written_at.get(b.node, -1), sub[b.id])
    out: dict[int, list] = {}
    for node_id, basis in assignment.nodes.items():
        dirs = basis.directions
        if not dirs or any(d not in layered.layout for d in dirs):
            continue  # fused, or some values pruned because no reader looks at them
        s = written_at.get(node_id, -1)
        res = reference[s + 1]
        if basis.encoding == "numerical":
            out[node_id] = [float(v) for v in res[dirs[0]][1:]]
        else:
            mat = np.stack([res[d] for d in dirs], axis=1)[1:]
            vals = []
            for row in mat:
                j = int(row.argmax())
                vals.append(dirs[j].value if row[j] >= 0.5 else None)
            out[node_id] = vals
    return out
