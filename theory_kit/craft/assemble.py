"""The assembler: layers of named heads and MLPs + a residual layout -> dense weight arrays.

Shape letters: V token ids (BOS first), P positions (BOS is position 0, so max_seq_len + 1),
D residual width, H heads of a layer, E query/key width, F value width, M hidden units of a
layer, R readout width.

Everything before this point speaks named directions; here, and only here, a direction becomes
an index (`layout.index(direction)`). Several directions may share one index over time (a dimension
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

More readouts (a loop's halt flag, a tool port) are named directions too:
`assemble(..., readout=prev, readouts={"halt": ReadoutSpec((flag,), "numerical", (0, 1))})`
gives weights whose `readouts` are "output" and "halt" (`Model.run(seq, readout="halt")`,
`Model.read(seqs)`); tests/model/test_readouts.py builds one such model.

A looped (weight-shared) transformer is the same layers plus `loop=LoopSchedule(start, stop,
max_iterations, halt="halt", state=(...))`: layers[start:stop] run pass after pass until the
categorical "halt" readout is True at every position; tests/model/test_looped_runtime.py
builds a per-position counter this way and checks it against plain Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from theory_kit.craft.bases import BasisDirection
from theory_kit.craft.blocks import MLP, AttentionHead, Embedding
from theory_kit.errors import InvalidInput
from theory_kit.model.weights import (OUTPUT, LayerWeights, LoopSchedule, Readout,
                                      ResidualLayout, Weights)

__all__ = ["assemble", "ReadoutSpec"]


@dataclass(frozen=True)
class ReadoutSpec:
    """A readout in named directions, before the layout fixes its rows (see
    `theory_kit.model.Readout` for the decoding rules).

    Attributes:
        directions: categorical: one direction per value (the column decodes to the
            direction's value); numerical: exactly one direction.
        encoding: "categorical" or "numerical".
        reachable: numerical only: every value it can hold (Python values), or None.
    """

    directions: tuple
    encoding: str = "categorical"
    reachable: Optional[tuple] = None

    def __post_init__(self):
        object.__setattr__(self, "directions", tuple(self.directions))
        if self.reachable is not None:
            object.__setattr__(self, "reachable", tuple(self.reachable))


def assemble(layers: Sequence[tuple[Sequence[AttentionHead], Sequence[MLP]]],
             layout: Mapping[BasisDirection, int] | ResidualLayout, embedding: Embedding, *,
             tokens: Sequence[Any], max_seq_len: int, readout: Sequence[BasisDirection] = (),
             output_encoding: str = "categorical", output_reachable: Optional[Sequence] = None,
             readouts: Optional[Mapping[str, ReadoutSpec]] = None, causal: bool = False,
             dtype: Any = np.float64, loop: Optional[LoopSchedule] = None) -> Weights:
    """Lay named heads and MLPs out as the runtime's dense `Weights` (the one assembler: the
    compiler's last stage and hand-built constructions both call it).

    Args:
        layers: per layer, (heads, MLPs); the heads run in parallel, then the MLPs' units side
            by side in one MLP (so MLPs of one layer must not read each other's outputs).
        layout: the residual dimension of every direction any block, the embedding or a
            readout uses: a {direction: index} map (D = max index + 1; directions sharing an
            index are listed in `BasisDirection.sort_key` order) or a `ResidualLayout`.
        embedding: what each token (by value; BOS by `embedding.bos`) and each position
            1..max_seq_len write.
        tokens: the token ids' values, BOS first (row i of token_embed is tokens[i]).
        max_seq_len: positions 1..max_seq_len after BOS.
        readout, output_encoding, output_reachable: the "output" readout (the program's
            output) — shorthand for readouts={"output": ReadoutSpec(readout, output_encoding,
            output_reachable)}.
        readouts: further named readouts (e.g. a loop's "halt" flag), or "output" itself when
            `readout` is not given.
        causal: the attention mask the weights are meant for.
        dtype: the arrays' dtype.
        loop: for a looped (weight-shared) transformer, which of `layers` form the block run
            again and again, at most how often, and the names of its halt and state readouts
            (given in `readouts`); None: every layer runs once. Passed to `Weights.loop`.

    Returns:
        Weights (run them with `theory_kit.model.Model` or `theory_kit.model.forward`).

    Raises:
        InvalidInput (a ValueError): a direction read or written is missing from `layout`,
            the layout has a negative index or repeats a direction, the "output" readout is
            given twice or not at all, a readout is malformed, or `loop` names layers or
            readouts the weights do not have (or a halt readout without the value True).
    """
    if not isinstance(layout, ResidualLayout):
        if any(i < 0 for i in layout.values()):
            raise InvalidInput("assemble: layout indices must be >= 0")
        layout = ResidualLayout.from_index(layout)
    d = layout.width
    specs = dict(readouts or {})
    if readout or output_encoding != "categorical" or output_reachable is not None \
            or OUTPUT not in specs:
        if OUTPUT in specs:
            raise InvalidInput(f"assemble: the {OUTPUT!r} readout is given twice (readout=... "
                               f"and readouts[{OUTPUT!r}])")
        specs[OUTPUT] = ReadoutSpec(tuple(readout), output_encoding, output_reachable)

    def idx(dirs) -> np.ndarray:
        missing = [str(x) for x in dirs if x not in layout]
        if missing:
            raise InvalidInput(f"assemble: directions {missing} are not in the layout")
        return np.array([layout.index(x) for x in dirs], dtype=np.int64)

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

    for spec in specs.values():
        idx(spec.directions)  # every missing direction, named as for the blocks
    return Weights(
        token_embed=tok.astype(dtype), pos_embed=pos.astype(dtype), layers=tuple(out_layers),
        tokens=tuple(tokens), layout=layout,
        readouts={name: Readout.of_directions(name, layout, spec.directions,
                                              encoding=spec.encoding, reachable=spec.reachable,
                                              dtype=dtype)
                  for name, spec in specs.items()},
        causal=causal, loop=loop)
