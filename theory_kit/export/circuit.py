"""Ground-truth circuits of a compiled model: which RASP node every attention head and every
MLP neuron implements, which named residual directions it reads and writes, and which
components' outputs it reads (the edges), with TransformerLens hook names.

Pure data, no torch: `circuit(compilation)` needs only the compiler's layered model (heads
and MLP blocks carry their RASP node's label and their named reads/writes), laid out exactly
as `theory_kit.craft.assemble` laid them into the weights: head h of layer l is
`layer.heads[h]`, and an MLP's hidden units are its blocks side by side (`layer.mlps`, then the
`cleaners` that erase dead directions before their dimension is reused).

Layers are counted as the exported TransformerLens model counts them: a looped model is
unrolled (prelude, the block once per pass up to `max_iterations`, epilogue), so a component
of the loop block appears once per pass, with `pass_` set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from theory_kit.errors import InvalidInput
from theory_kit.values import BasisDirection

__all__ = ["Component", "Circuit", "circuit", "layer_schedule"]

KINDS = ("embed", "head", "mlp", "cleaner")


@dataclass(frozen=True)
class Component:
    """One component of the exported model.

    Attributes:
        name: unique and readable: "embed", "L3.H0", "L3.mlp[12:20]".
        kind: "embed", "head", "mlp" (a RASP node's MLP) or "cleaner" (units that erase
            directions whose SOp is dead, so a later SOp can reuse the dimension; it
            implements no RASP node, and ablating it matters only where the later SOp's
            decoding is sensitive to the stale value).
        layer: the exported (TransformerLens) layer; -1 for the embedding.
        node: the label of the RASP node it implements ("tokens"/"indices" for the embedding;
            for a cleaner, "clean@<layer>").
        hook: the TransformerLens hook point holding its output: "blocks.{l}.attn.hook_result"
            (index [..., head, :]), "blocks.{l}.mlp.hook_post" (neurons [..., start:stop]), or
            "hook_embed" for the embedding.
        head: the head index (heads only).
        neurons: (start, stop) of its hidden units (MLPs and cleaners only).
        reads, writes: the named residual directions it reads and writes.
        deps: names of the components whose output it reads (the latest writer, before this
            component, of each direction it reads; cleaners produce nothing).
        pass_: for a looped model's block, which pass (0-based); None elsewhere.
    """

    name: str
    kind: str
    layer: int
    node: str
    hook: str
    reads: tuple[BasisDirection, ...] = ()
    writes: tuple[BasisDirection, ...] = ()
    deps: tuple[str, ...] = ()
    head: Optional[int] = None
    neurons: Optional[tuple[int, int]] = None
    pass_: Optional[int] = None

    def as_dict(self) -> dict:
        """JSON-ready: directions as their printable names."""
        return {"name": self.name, "kind": self.kind, "layer": self.layer, "node": self.node,
                "hook": self.hook, "head": self.head,
                "neurons": None if self.neurons is None else list(self.neurons),
                "reads": [str(d) for d in self.reads], "writes": [str(d) for d in self.writes],
                "deps": list(self.deps), "pass": self.pass_}


@dataclass(frozen=True)
class Circuit:
    """All components of an exported model that implement the program, and what is padding.

    Attributes:
        components: in forward order (embedding first).
        unused_heads: (layer, head) of every exported head that implements nothing (padding
            to one head count per layer).
        unused_neurons: (layer, start, stop) of the exported MLP units that implement nothing
            (padding to one MLP width).
        residual: {direction: residual index} (TransformerLens's `hook_resid_*` dimension).
        output: the directions the "output" readout reads.
    """

    components: tuple[Component, ...]
    unused_heads: tuple[tuple[int, int], ...]
    unused_neurons: tuple[tuple[int, int, int], ...]
    residual: dict
    output: tuple[BasisDirection, ...]

    def __getitem__(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    def of_node(self, node: str) -> tuple[Component, ...]:
        """The components implementing RASP node `node` (by label)."""
        return tuple(c for c in self.components if c.node == node)

    @property
    def nodes(self) -> tuple[str, ...]:
        """Every RASP node label with a component, in forward order."""
        return tuple(dict.fromkeys(c.node for c in self.components if c.kind != "cleaner"))

    def edges(self) -> tuple[tuple[str, str], ...]:
        """(producer, consumer) component names."""
        return tuple((d, c.name) for c in self.components for d in c.deps)

    def as_dict(self) -> dict:
        return {"components": [c.as_dict() for c in self.components],
                "unused_heads": [list(x) for x in self.unused_heads],
                "unused_neurons": [list(x) for x in self.unused_neurons],
                "residual": {str(d): i for d, i in self.residual.items()},
                "output": [str(d) for d in self.output]}


def layer_schedule(weights: Any) -> tuple[int, ...]:
    """The weights' layer index of every exported layer: 0..L-1, or for looped weights the
    prelude, the block max_iterations times, then the epilogue."""
    loop = weights.loop
    if loop is None:
        return tuple(range(len(weights.layers)))
    return (tuple(range(loop.start)) + tuple(loop.block) * loop.max_iterations
            + tuple(range(loop.stop, len(weights.layers))))


def circuit(compilation: Any) -> Circuit:
    """The ground-truth circuit of a compiled RASP program (`theory_kit.compile`'s result).

    Raises:
        InvalidInput: not a Compilation (a loaded or hand-assembled `Model` has no RASP nodes:
            its heads carry no labels).
    """
    layered = getattr(compilation, "layered", None)
    if layered is None or not hasattr(layered, "layers"):
        raise InvalidInput(f"circuit: expected the result of theory_kit.compile, got "
                           f"{type(compilation).__name__} (a loaded model keeps no RASP nodes)")
    weights = compilation.model.weights
    schedule = layer_schedule(weights)
    loop = weights.loop
    emb = layered.embedding
    emb_writes = tuple(dict.fromkeys(
        [d for row in emb.tokens.values() for d in row] + list(emb.bos)
        + [d for row in emb.positions.values() for d in row]))
    components = [Component("embed", "embed", -1, "tokens", "hook_embed", (), emb_writes)]
    latest: dict = {d: "embed" for d in emb_writes}
    n_heads = max([len(w.W_Q) for w in weights.layers], default=0)
    d_mlp = max([w.W_in.shape[1] for w in weights.layers], default=0)
    unused_heads, unused_neurons = [], []
    passes = -1
    for tl_layer, layer_index in enumerate(schedule):
        layer = layered.layers[layer_index]
        in_block = loop is not None and layer_index in loop.block
        if in_block and layer_index == loop.start:
            passes += 1
        pass_ = passes if in_block else None
        head_outputs = []
        for h, head in enumerate(layer.heads):
            reads = tuple(dict.fromkeys(head.reads))
            c = Component(f"L{tl_layer}.H{h}", "head", tl_layer, head.label,
                          f"blocks.{tl_layer}.attn.hook_result", reads, tuple(head.writes),
                          _deps(reads, latest), head=h, pass_=pass_)
            components.append(c)
            head_outputs.append(c)
        for c in head_outputs:  # heads run in parallel: none reads another's output
            latest.update({d: c.name for d in c.writes})
        unused_heads += [(tl_layer, h) for h in range(len(layer.heads), n_heads)]
        start = 0
        mlp_outputs = []
        for kind, mlps in (("mlp", layer.mlps), ("cleaner", layer.cleaners)):
            for mlp in mlps:
                span = (start, start + mlp.hidden)
                reads = tuple(mlp.reads)
                c = Component(f"L{tl_layer}.mlp[{span[0]}:{span[1]}]", kind, tl_layer,
                              mlp.label, f"blocks.{tl_layer}.mlp.hook_post", reads,
                              tuple(mlp.writes), _deps(reads, latest), neurons=span,
                              pass_=pass_)
                components.append(c)
                if kind == "mlp":
                    mlp_outputs.append(c)
                start += mlp.hidden
        for c in mlp_outputs:
            latest.update({d: c.name for d in c.writes})
        if start < d_mlp:
            unused_neurons.append((tl_layer, start, d_mlp))
    layout = weights.layout
    residual = {d: i for i, dim in enumerate(layout.dims) for d in dim}
    return Circuit(tuple(components), tuple(unused_heads), tuple(unused_neurons), residual,
                   tuple(layered.blocks.output_directions))


def _deps(reads: tuple, latest: dict) -> tuple[str, ...]:
    return tuple(dict.fromkeys(latest[d] for d in reads if d in latest))
