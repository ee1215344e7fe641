"""Stage 4: BlockGraph -> LayeredModel (layer placement and residual allocation by liveness).

Sublayer s = 2l is layer l's attention, 2l+1 its MLP, -1 the embedding. Each block goes in the
earliest sublayer of its kind after all its inputs. A direction is live from its writer's
sublayer to its last reader's; after that, an MLP (the reader itself, or the MLP right after an
attention reader) subtracts it — relu(x) for non-negative values, relu(x) - relu(-x) for signed
ones — and the dimension is reused by a later writer. Cleaning units are only added for
dimensions that actually get reused.
"""

from __future__ import annotations

import math

import numpy as np

from theory_kit.compiler.ir import Block, BlockGraph, Layer, LayeredModel
from theory_kit.craft.bases import BOS, ONE, BasisDirection
from theory_kit.craft.blocks import MLP

__all__ = ["blocks_to_layers"]

_INF = math.inf


def _place(blocks: tuple[Block, ...]) -> dict[int, int]:
    by_id = {b.id: b for b in blocks}
    sub: dict[int, int] = {}

    def place(b: Block) -> int:
        if b.id in sub:
            return sub[b.id]
        if b.kind == "embed":
            sub[b.id] = -1
            return -1
        earliest = max([place(by_id[d]) for d in b.deps if d in by_id], default=-1) + 1
        parity = 0 if b.kind == "attn" else 1
        s = earliest if earliest % 2 == parity else earliest + 1
        sub[b.id] = s
        return s

    for b in blocks:
        place(b)
    return sub


def _cleaner(dirs: list[BasisDirection], signed: set, label: str) -> MLP:
    cols_in, cols_out = [], []
    for i, d in enumerate(dirs):
        for sign in ((1.0, -1.0) if d in signed else (1.0,)):
            w_in = np.zeros(len(dirs))
            w_in[i] = sign
            w_out = np.zeros(len(dirs))
            w_out[i] = -sign
            cols_in.append(w_in)
            cols_out.append(w_out)
    return MLP(label=label, reads=tuple(dirs), writes=tuple(dirs),
               w_in=np.stack(cols_in, axis=1), b_in=np.zeros(len(cols_in)),
               w_out=np.stack(cols_out, axis=0), note="clean dead directions for reuse")


def blocks_to_layers(block_graph: BlockGraph) -> LayeredModel:
    """Place blocks in layers and lay out the residual stream."""
    blocks = block_graph.blocks
    sub = _place(blocks)
    embed = next(b for b in blocks if b.kind == "embed")
    n_sub = max(sub.values()) + 1
    n_layers = (n_sub + 1) // 2

    write_at: dict[BasisDirection, int] = {}
    order: list[BasisDirection] = []
    for b in sorted(blocks, key=lambda b: (sub[b.id], b.id)):
        for d in b.payload.writes:
            if d not in write_at:
                write_at[d] = sub[b.id]
                order.append(d)
    last_read: dict[BasisDirection, float] = {d: -1 for d in order}
    self_cleaned: set = set()
    for b in blocks:
        if b.kind == "embed":
            continue
        for d in b.payload.reads:
            last_read[d] = max(last_read.get(d, -1), sub[b.id])
        if b.kind == "mlp":
            # A block that writes a direction it reads (the selector-width scratch) cleans it.
            self_cleaned.update(set(b.payload.reads) & set(b.payload.writes))
    for d in order:
        # A direction nobody reads still occupies its dimension in the sublayer it is written.
        last_read[d] = max(last_read[d], write_at[d])
    for d in (BOS, ONE, *block_graph.output_directions):
        last_read[d] = _INF

    def clean_time(d):
        # The cleaning MLP must see the value: strictly after the write, no earlier than
        # the last read.
        r = last_read[d]
        if r == _INF:
            return _INF
        c = max(r, write_at[d] + 1)
        return c if c % 2 == 1 else c + 1

    signed = {d for d in order if d.value is None and d not in (BOS, ONE)
              and d not in self_cleaned}
    slots: list[list[BasisDirection]] = []
    free_after: list[float] = []
    layout: dict[BasisDirection, int] = {}
    to_clean: dict[int, list[BasisDirection]] = {}
    fixed = [d for d in (ONE, BOS) if d in write_at]
    for d in fixed + [d for d in order if d not in fixed]:
        s = write_at[d]
        choice = next((i for i, t in enumerate(free_after) if t < s), None)
        if choice is None:
            choice = len(slots)
            slots.append([])
            free_after.append(_INF)
        elif slots[choice]:
            prev = slots[choice][-1]
            if prev not in self_cleaned:
                to_clean.setdefault(int(clean_time(prev)), []).append(prev)
        slots[choice].append(d)
        free_after[choice] = clean_time(d)
        layout[d] = choice

    heads = [[] for _ in range(n_layers)]
    mlps = [[] for _ in range(n_layers)]
    for b in sorted(blocks, key=lambda b: (sub[b.id], b.id)):
        if b.kind == "attn":
            heads[sub[b.id] // 2].append(b.payload)
        elif b.kind == "mlp":
            mlps[sub[b.id] // 2].append(b.payload)
    cleaners = [[] for _ in range(n_layers)]
    for s, dirs in sorted(to_clean.items()):
        cleaners[s // 2].append(_cleaner(dirs, signed, f"clean@{s // 2}"))

    live = {}
    for s in range(-1, n_sub):
        live[s] = tuple(d for d in order if write_at[d] <= s and (s < last_read[d]))
    layers = tuple(Layer(tuple(h), tuple(m), tuple(c)) for h, m, c in zip(heads, mlps, cleaners))
    return LayeredModel(blocks=block_graph, embedding=embed.payload, layers=layers,
                        layout=layout, slots=tuple(tuple(s) for s in slots), live=live,
                        sublayer_of_block=sub)
