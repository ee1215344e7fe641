"""Stage 4: BlockGraph -> LayeredModel (layer placement and residual allocation by liveness).

Blocks are placed at `Sublayer`s (the embedding, then each layer's attention and MLP). Each
block goes in the earliest sublayer of its kind after all its inputs. A direction is live from
its writer's sublayer to its last reader's; after that, an MLP (the reader itself, or the MLP
right after an attention reader) subtracts it — relu(x) for non-negative values, relu(x) -
relu(-x) for signed ones — and the dimension is reused by a later writer. Cleaning units are
only added for dimensions that actually get reused.

The residual layout depends only on the program, never on set iteration order (PYTHONHASHSEED):
directions are taken in block order, and the embedding's in the fixed token order
(`value_sort_key`), not in the order of the vocabulary set.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from theory_kit.compiler.ir import (EMBEDDING, Block, BlockGraph, Layer, LayeredModel, LoopBlocks,
                                    Sublayer)
from theory_kit.craft.bases import BOS, ONE, BasisDirection
from theory_kit.craft.blocks import MLP, Embedding
from theory_kit.values import value_sort_key

__all__ = ["blocks_to_layers"]


def _place(blocks: tuple[Block, ...], loop: Optional[LoopBlocks] = None) -> dict[int, Sublayer]:
    """Each block at the earliest sublayer of its kind after its inputs. In a looped compile
    the loop's blocks come in order: everything before the loop, the entry MLP, the body
    (never before the entry), the update MLP (after the whole body), the epilogue (after it)."""
    by_id = {b.id: b for b in blocks}
    sub: dict[int, Sublayer] = {}
    floor: dict[int, Sublayer] = {}

    def place(b: Block) -> Sublayer:
        if b.id in sub:
            return sub[b.id]
        if b.kind == "embed":
            sub[b.id] = EMBEDDING
            return EMBEDDING
        after = max([place(by_id[d]) for d in b.deps if d in by_id] + [floor.get(b.id, EMBEDDING)])
        sub[b.id] = after.next(b.kind)
        return sub[b.id]

    if loop is None:
        for b in blocks:
            place(b)
        return sub
    staged = {loop.entry, loop.update, *loop.body, *loop.epilogue}
    before = [place(b) for b in blocks if b.id not in staged]
    floor[loop.entry] = max(before, default=EMBEDDING)
    entry = place(by_id[loop.entry])
    floor.update((i, entry) for i in loop.body)
    body = [place(by_id[i]) for i in sorted(loop.body)]
    floor[loop.update] = max(body, default=entry)
    update = place(by_id[loop.update])
    floor.update((i, update) for i in loop.epilogue)
    for i in sorted(loop.epilogue):
        place(by_id[i])
    return sub


def _embedding_writes(embedding: Embedding) -> tuple[BasisDirection, ...]:
    """`embedding.writes` with the token rows taken in the fixed token order: the vocabulary
    is a set, whose iteration order (for strings) changes with PYTHONHASHSEED."""
    dirs = dict.fromkeys(embedding.bos)
    for tok in sorted(embedding.tokens, key=value_sort_key):
        dirs.update(dict.fromkeys(embedding.tokens[tok]))
    for p in sorted(embedding.positions):
        dirs.update(dict.fromkeys(embedding.positions[p]))
    return tuple(dirs)


def _writes(block: Block) -> tuple[BasisDirection, ...]:
    return _embedding_writes(block.payload) if block.kind == "embed" else block.payload.writes


def _cleaning_mlp(last_read: Sublayer, written: Sublayer) -> Sublayer:
    """The MLP that cleans a direction: it must see the value, so it runs strictly after the
    write and no earlier than the last read."""
    at_read = last_read if last_read.kind == "mlp" else last_read.next("mlp")
    return max(at_read, written.next("mlp"))


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
    loop = block_graph.loop
    sub = _place(blocks, loop)
    embed = next(b for b in blocks if b.kind == "embed")
    last = max(sub.values())
    n_layers = last.layer + 1
    in_order = sorted(blocks, key=lambda b: (sub[b.id], b.id))

    write_at: dict[BasisDirection, Sublayer] = {}
    order: list[BasisDirection] = []
    for b in in_order:
        for d in _writes(b):
            if d not in write_at:
                write_at[d] = sub[b.id]
                order.append(d)
    last_read: dict[BasisDirection, Sublayer] = {}
    self_cleaned: set = set()
    for b in blocks:
        if b.kind == "embed":
            continue
        for d in b.payload.reads:
            last_read[d] = max(last_read[d], sub[b.id]) if d in last_read else sub[b.id]
        if b.kind == "mlp":
            # A block that writes a direction it reads (the selector-width scratch) cleans it.
            self_cleaned.update(set(b.payload.reads) & set(b.payload.writes))
    for d in order:
        # A direction nobody reads still occupies its dimension in the sublayer it is written.
        last_read[d] = max(last_read[d], write_at[d]) if d in last_read else write_at[d]
    forever = {BOS, ONE, *block_graph.output_directions}  # live to the end, never cleaned
    body_dirs: set = set()
    if loop is not None:
        entry, update = sub[loop.entry], sub[loop.update]
        carried = {*loop.flag, *(d for c in loop.state for d in c)}
        forever |= set(loop.flag)
        self_cleaned -= carried
        # What the loop reads and was written before it must outlive every iteration: it is
        # never cleaned inside the looped layers (only after them, if its dimension is reused).
        after_loop = Sublayer(0, update.layer + 1, "attn")
        in_loop = {loop.update, *loop.body}
        for b in blocks:
            if b.id in in_loop:
                for d in b.payload.reads:
                    if write_at[d] <= entry:
                        last_read[d] = max(last_read[d], after_loop)
        body_dirs = {d for d in order if entry < write_at[d] <= update and d not in carried}

    def clean_time(d) -> Optional[Sublayer]:
        return None if d in forever else _cleaning_mlp(last_read[d], write_at[d])

    def live_at(d, s: Sublayer) -> bool:
        return write_at[d] <= s and (d in forever or s < last_read[d])

    signed = {d for d in order if (d.value is None or d in body_dirs) and d not in (BOS, ONE)
              and d not in self_cleaned}
    slots: list[list[BasisDirection]] = []
    free_after: list[Optional[Sublayer]] = []  # None: never free
    layout: dict[BasisDirection, int] = {}
    to_clean: dict[Sublayer, list[BasisDirection]] = {}
    fixed = [d for d in (ONE, BOS) if d in write_at]
    for d in fixed + [d for d in order if d not in fixed]:
        s = write_at[d]
        choice = next((i for i, t in enumerate(free_after) if t is not None and t < s), None)
        if choice is None:
            choice = len(slots)
            slots.append([])
            free_after.append(None)
        elif slots[choice]:
            prev = slots[choice][-1]
            if prev not in self_cleaned:
                to_clean.setdefault(clean_time(prev), []).append(prev)
        slots[choice].append(d)
        free_after[choice] = clean_time(d)
        layout[d] = choice

    if loop is not None:
        # Every direction the body wrote is zero again when an iteration ends: the update MLP's
        # layer erases (exactly: relu(x) - relu(-x)) those no cleaner erased before.
        cleaned = {d for dirs in to_clean.values() for d in dirs} | self_cleaned
        left = [d for d in order if d in body_dirs and d not in cleaned]
        if left:
            to_clean.setdefault(sub[loop.update], []).extend(left)

    heads = [[] for _ in range(n_layers)]
    mlps = [[] for _ in range(n_layers)]
    for b in in_order:
        if b.kind == "attn":
            heads[sub[b.id].layer].append(b.payload)
        elif b.kind == "mlp":
            mlps[sub[b.id].layer].append(b.payload)
    cleaners = [[] for _ in range(n_layers)]
    for s, dirs in sorted(to_clean.items()):
        cleaners[s.layer].append(_cleaner(dirs, signed, f"clean@{s.layer}"))

    sublayers = [EMBEDDING] + [Sublayer(0, layer, kind) for layer in range(n_layers)
                               for kind in ("attn", "mlp")]
    live = {s.index: tuple(d for d in order if live_at(d, s)) for s in sublayers if s <= last}
    layers = tuple(Layer(tuple(h), tuple(m), tuple(c)) for h, m, c in zip(heads, mlps, cleaners))
    loop_layers = None if loop is None else (sub[loop.entry].layer + 1, sub[loop.update].layer + 1)
    return LayeredModel(blocks=block_graph, embedding=embed.payload, layers=layers,
                        layout=layout, slots=tuple(tuple(s) for s in slots), live=live,
                        sublayer_of_block={i: s.index for i, s in sub.items()},
                        loop_layers=loop_layers)
