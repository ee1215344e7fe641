"""The assembler: layers of named heads and MLPs + a residual layout -> dense weight arrays.

Shape letters: V token ids (BOS first), P positions (BOS is position 0, so max_seq_len + 1),
D residual width, H heads of a layer, E query/key width, F value width, M hidden units of a
layer, R readout width.

Everything before this point speaks named directions; here, and only here, a direction becomes
an index (`layout[direction]`). Several directions may share one index over time (a dimension
is reused after its last reader cleared it); within one block they never do, and the arrays
are built by adding, so a shared index simply sums.

Worked example (a one-head "previous token" model, no compiler involved)::

    from theory_kit.craft import BOS, ONE, BasisDirection, Embedding
    from theory_kit.craft.assemble import assemble
    from theory_kit.model import Model
    from theory_kit.craft.attention import (bos_key_logit, predicate_codes, select_head,
                                            with_bos_columns)

    N, vocab = 4, ("a", "b")
    idx = [BasisDirection("i", p) for p in range(N)]
    tok = [BasisDirection("t", v) for v in vocab]
    prev = [BasisDirection("prev", v) for v in vocab]
    beta = 30.0
    bos_values = {BOS: 1.0, ONE: 1.0}
    q, k = predicate_codes(idx, range(N), idx, range(N), lambda k, q: k == q - 1, beta)
    codes = with_bos_columns(q, k, beta=beta, bos_key_logit=bos_key_logit(1, beta, average=True),
                             bos_values=bos_values)
    head = select_head("prev", codes, tok, np.eye(2), prev, default=[0.0, 0.0],
                       bos_values=bos_values)
    emb = Embedding("emb", tokens={v: {d: 1.0, ONE: 1.0} for v, d in zip(vocab, tok)},
                    positions={p + 1: {idx[p]: 1.0} for p in range(N)}, bos={BOS: 1.0, ONE: 1.0})
    layout = {d: i for i, d in enumerate([BOS, ONE, *idx, *tok, *prev])}
    weights = assemble([([head], [])], layout, emb, tokens=("BOS", *vocab), max_seq_len=N,
                       readout=prev)
    model = Model(weights, vocab=vocab, max_seq_len=N, bos="BOS", constants={},
                  output_value_set=None)   # from theory_kit.model import Model

`model.run(["a", "b", "b"])` then gives [None, "a", "b"]; it saves and loads like any model.
tests/craft/test_assemble.py checks it on all inputs.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from theory_kit.craft.bases import BasisDirection
from theory_kit.craft.blocks import MLP, AttentionHead, Embedding
from theory_kit.model.weights import LayerWeights, Weights

__all__ = ["assemble"]


def assemble(layers: Sequence[tuple[Sequence[AttentionHead], Sequence[MLP]]],
             layout: Mapping[BasisDirection, int], embedding: Embedding, *, tokens: Sequence[Any],
             max_seq_len: int, readout: Sequence[BasisDirection],
             output_encoding: str = "categorical", causal: bool = False,
             residual_labels: Sequence[str] | None = None, dtype: Any = np.float64) -> Weights:
    """Lay named heads and MLPs out as the runtime's dense `Weights` (the one assembler: the
    compiler's last stage and hand-built constructions both call it).

    Args:
        layers: per layer, (heads, MLPs); the heads run in parallel, then the MLPs' units side
            by side in one MLP (so MLPs of one layer must not read each other's outputs).
        layout: the residual index of every direction any block or the embedding uses;
            D = max index + 1.
        embedding: what each token (by value; BOS by `embedding.bos`) and each position
            1..max_seq_len write.
        tokens: the token ids' values, BOS first (row i of token_embed is tokens[i]).
        max_seq_len: positions 1..max_seq_len after BOS.
        readout: directions read out, in order (one unembedding column each); categorical
            outputs decode to their values, a numerical output reads one direction.
        output_encoding: "categorical" or "numerical".
        causal: the attention mask the weights are meant for.
        residual_labels: a name per residual index (default: the directions laid there).
        dtype: the arrays' dtype.

    Returns:
        Weights (run them with `theory_kit.model.Model` or `theory_kit.model.forward`).

    Raises:
        ValueError: when a direction read or written is missing from `layout`, or the layout
            has a negative index.
    """
    if any(i < 0 for i in layout.values()):
        raise ValueError("assemble: layout indices must be >= 0")
    d = max(layout.values(), default=-1) + 1

    def idx(dirs) -> np.ndarray:
        missing = [str(x) for x in dirs if x not in layout]
        if missing:
            raise ValueError(f"assemble: directions {missing} are not in the layout")
        return np.array([layout[x] for x in dirs], dtype=np.int64)

    tok = np.zeros((len(tokens), d))
    for t_id, t in enumerate(tokens):
        row = embedding.bos if t_id == 0 else embedding.tokens.get(t, {})
        dirs = list(row)
        np.add.at(tok[t_id], idx(dirs), [row[x] for x in dirs])
    pos = np.zeros((max_seq_len + 1, d))
    for p, row in embedding.positions.items():
        dirs = list(row)
        np.add.at(pos[p], idx(dirs), [row[x] for x in dirs])

    out_layers = []
    for heads, mlps in layers:
        h = len(heads)
        e = max([hd.w_q.shape[1] for hd in heads], default=0)
        f = max([hd.w_v.shape[1] for hd in heads], default=0)
        W_Q, W_K = np.zeros((h, d, e)), np.zeros((h, d, e))
        W_V, W_O = np.zeros((h, d, f)), np.zeros((h, f, d))
        for i, hd in enumerate(heads):
            # np.add.at: several named directions may share a dimension only across time,
            # never within one block, but adding keeps the layout honest either way.
            np.add.at(W_Q[i], (idx(hd.reads_q), slice(0, hd.w_q.shape[1])), hd.w_q)
            np.add.at(W_K[i], (idx(hd.reads_k), slice(0, hd.w_k.shape[1])), hd.w_k)
            np.add.at(W_V[i], (idx(hd.reads_v), slice(0, hd.w_v.shape[1])), hd.w_v)
            W_O[i][:hd.w_o.shape[0], idx(hd.writes)] += hd.w_o
        m = sum(mlp.hidden for mlp in mlps)
        W_in, b_in, W_out = np.zeros((d, m)), np.zeros(m), np.zeros((m, d))
        start = 0
        for mlp in mlps:
            cols = slice(start, start + mlp.hidden)
            np.add.at(W_in, (idx(mlp.reads), cols), mlp.w_in)
            b_in[cols] = mlp.b_in
            W_out[cols][:, idx(mlp.writes)] += mlp.w_out
            start += mlp.hidden
        out_layers.append(LayerWeights(*(np.asarray(a, dtype=dtype) for a in
                                         (W_Q, W_K, W_V, W_O, W_in, b_in, W_out, np.zeros(d)))))

    unembed = np.zeros((d, len(readout)))
    for k, direction in enumerate(readout):
        unembed[idx([direction])[0], k] = 1.0
    if residual_labels is None:
        slots: list[list[str]] = [[] for _ in range(d)]
        for direction, i in sorted(layout.items(), key=lambda kv: (kv[1], kv[0].sort_key())):
            slots[i].append(str(direction))
        residual_labels = [" / ".join(names) for names in slots]
    return Weights(
        token_embed=tok.astype(dtype), pos_embed=pos.astype(dtype), layers=tuple(out_layers),
        unembed=unembed.astype(dtype), tokens=tuple(tokens),
        residual_labels=tuple(residual_labels),
        output_values=tuple(x.value for x in readout) if output_encoding == "categorical" else (),
        output_encoding=output_encoding, causal=causal)
