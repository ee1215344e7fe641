"""Stage 5: LayeredModel -> Weights (named directions laid out as array indices, only here)."""

from __future__ import annotations

import numpy as np

from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import LayeredModel
from theory_kit.craft.bases import value_sort_key
from theory_kit.model.weights import LayerWeights, Weights

__all__ = ["layers_to_weights", "token_order"]


def token_order(config: CompileConfig) -> tuple:
    """Token ids: BOS is 0, then the vocabulary in a fixed total order."""
    return (config.bos,) + tuple(sorted(config.vocab, key=value_sort_key))


def layers_to_weights(layered: LayeredModel, config: CompileConfig) -> Weights:
    """Lay every block's named-basis matrices into dense arrays of the residual width."""
    layout = layered.layout
    d = layered.residual_width
    dt = config.dtype
    idx = lambda dirs: np.array([layout[x] for x in dirs], dtype=np.int64)  # noqa: E731

    tokens = token_order(config)
    tok = np.zeros((len(tokens), d))
    for t_id, t in enumerate(tokens):
        row = layered.embedding.bos if t_id == 0 else layered.embedding.tokens.get(t, {})
        for direction, v in row.items():
            tok[t_id, layout[direction]] += v
    pos = np.zeros((config.max_seq_len + 1, d))
    for p, row in layered.embedding.positions.items():
        for direction, v in row.items():
            pos[p, layout[direction]] += v

    layers = []
    for layer in layered.layers:
        h = len(layer.heads)
        e = max([hd.w_q.shape[1] for hd in layer.heads], default=0)
        f = max([hd.w_v.shape[1] for hd in layer.heads], default=0)
        W_Q, W_K = np.zeros((h, d, e)), np.zeros((h, d, e))
        W_V, W_O = np.zeros((h, d, f)), np.zeros((h, f, d))
        for i, hd in enumerate(layer.heads):
            # np.add.at: several named directions may share a dimension only across time,
            # never within one block, but adding keeps the layout honest either way.
            np.add.at(W_Q[i], (idx(hd.reads_q), slice(0, hd.w_q.shape[1])), hd.w_q)
            np.add.at(W_K[i], (idx(hd.reads_k), slice(0, hd.w_k.shape[1])), hd.w_k)
            np.add.at(W_V[i], (idx(hd.reads_v), slice(0, hd.w_v.shape[1])), hd.w_v)
            W_O[i][:hd.w_o.shape[0], idx(hd.writes)] += hd.w_o
        m = sum(mlp.hidden for mlp in layer.all_mlps)
        W_in, b_in, W_out = np.zeros((d, m)), np.zeros(m), np.zeros((m, d))
        start = 0
        for mlp in layer.all_mlps:
            cols = slice(start, start + mlp.hidden)
            np.add.at(W_in, (idx(mlp.reads), cols), mlp.w_in)
            b_in[cols] = mlp.b_in
            W_out[cols][:, idx(mlp.writes)] += mlp.w_out
            start += mlp.hidden
        layers.append(LayerWeights(*(np.asarray(a, dtype=dt) for a in
                                     (W_Q, W_K, W_V, W_O, W_in, b_in, W_out, np.zeros(d)))))

    out_dirs = layered.blocks.output_directions
    assignment = layered.blocks.assignment
    out_basis = assignment.nodes[assignment.graph.output]
    unembed = np.zeros((d, len(out_dirs)))
    for k, direction in enumerate(out_dirs):
        unembed[layout[direction], k] = 1.0
    labels = tuple(" / ".join(str(x) for x in slot) for slot in layered.slots)
    return Weights(
        token_embed=tok.astype(dt), pos_embed=pos.astype(dt), layers=tuple(layers),
        unembed=unembed.astype(dt), tokens=tokens, residual_labels=labels,
        output_values=tuple(x.value for x in out_dirs) if out_basis.encoding == "categorical" else (),
        output_encoding=out_basis.encoding, causal=config.causal)
