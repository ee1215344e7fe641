"""Ground-truth circuits of a compiled model: which RASP node every attention head and every
MLP neuron implements, which named residual directions it reads and writes, and which
components' outputs it reads (the edges), with TransformerLens hook names.

Pure data, no torch: `circuit(compilation)` needs only the compiler's layered model (heads
and MLP blocks carry their RASP node's label and their named reads/writes), laid out exactly
as `theory_kit.craft.assemble` laid them into the weights: head h of layer l is
`layer.heads[h]`, and an MLP's hidden units are its blocks side by side (`layer.mlps`, then the
`cleaners` that erase dead directions before their dimension is reused).

Layers are counted as the exported TransformerLens model counts them: a looped model is
unrolled (prelude, the block once per pass up to `max_iterations`, or `iterations` passes,
epilogue), so a component of the loop block appears once per pass, with `pass_` set.

Every component has a **role**, read off the compiler's own data (the program graph, and for a
looped compile the `LoopBlocks` that name the loop's entry and update blocks):

* ``"node"``: it implements a RASP node the program's output depends on (the embedding too).
  Zero-ablating it changes the decoded output on some input (for every library program on
  its verification inputs: tests/export/test_ablation.py).
* ``"loop"``: a looped model's entry MLP (writes the initial state and the flag "not halted")
  or update MLP (ends every pass: the next state, gated by the halting flag, and the flag).
  They carry the state between passes: zero-ablating one changes the output (tested alike).
* ``"halting"``: it implements a node that only the loop's halting condition depends on (the
  `<loop>.halts` node, the `until` SOps, and state kept only for them, e.g. hops_loop's
  counter), not the output. Its effect is *when the loop halts*: the `halt` readout, which
  the runtime reads after every pass (`Model.loop_traces`). Unrolled, a halted sequence goes
  on through the remaining passes with its state frozen by the update MLP, so the output
  sees a halting unit only through the freezing: zeroing one may halt a sequence before its
  state is final (an output changes) or move or remove a halt that freezing did not need
  (none does). The halt flag after pass k is the condition on the state at the start of pass
  k; the flag of the final state is read by one more pass (the runtime's probe pass), so
  unroll with ``iterations=max_iterations + 1`` to see it (hops_loop always runs
  max_iterations passes: only the probe pass sets its flag).
* ``"cleaner"``: units that erase the directions of a dead SOp so a later SOp can reuse the
  dimension. A cleaner implements no RASP node; zero-ablating it leaves the stale value in the
  residual stream after its layer, which changes an output only where the later SOp's
  decoding is sensitive to it (after snapping lookups, often not). In a loop block, the value
  it erases may exist only in the probe pass (parity_loop's clean@3: i - w for the final
  width w = n).
* ``"dead"``: it implements a node that neither the output nor a halting flag depends on
  (the compiler lowered code nothing reads; no library program has such a component).
* padding (no component): `Circuit.unused_heads` / `unused_neurons`, zero heads and neurons
  that make every layer one width; ablating them all at once changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from theory_kit.errors import InvalidInput
from theory_kit.model.forward import _check_iterations
from theory_kit.values import BasisDirection

__all__ = ["Component", "Circuit", "circuit", "layer_schedule", "KINDS", "ROLES",
           "UnknownComponent"]

KINDS = ("embed", "head", "mlp", "cleaner")


class UnknownComponent(InvalidInput, KeyError):
    """`Circuit[name]` for a name no component has (a KeyError too, as a mapping's lookup)."""

    def __str__(self) -> str:  # KeyError would print the message with quotes
        return str(self.args[0])
#: The roles of a component (module docstring); padding is listed apart, in `Circuit`.
ROLES = ("node", "loop", "halting", "cleaner", "dead")


@dataclass(frozen=True)
class Component:
    """One component of the exported model.

    Attributes:
        name: unique and readable: "embed", "L3.H0", "L3.mlp[12:20]".
        kind: "embed", "head", "mlp" (a RASP node's MLP, or a loop's entry/update MLP) or
            "cleaner" (units that erase directions whose SOp is dead, so a later SOp can
            reuse the dimension).
        role: what it does for the program, one of ROLES: "node" (a RASP node the output
            depends on), "loop" (a loop's entry or update MLP), "halting" (a node only the
            loop's halting condition depends on), "cleaner" (exactly the cleaners) or "dead"
            (a node nothing depends on: a compiler finding, none in the library). The
            module docstring says what ablating a component of each role changes.
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
        source_layer: the layer of the model's own weights it belongs to (equal to `layer`
            for a loop-free model; a looped block's component has one per pass).
    """

    name: str
    kind: str
    role: str
    layer: int
    node: str
    hook: str
    reads: tuple[BasisDirection, ...] = ()
    writes: tuple[BasisDirection, ...] = ()
    deps: tuple[str, ...] = ()
    head: Optional[int] = None
    neurons: Optional[tuple[int, int]] = None
    pass_: Optional[int] = None
    source_layer: Optional[int] = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise InvalidInput(f"Component {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        if self.role not in ROLES:
            raise InvalidInput(f"Component {self.name!r}: role {self.role!r} is not one of {ROLES}")
        if (self.kind == "cleaner") != (self.role == "cleaner"):
            raise InvalidInput(f"Component {self.name!r}: kind {self.kind!r} with role "
                             f"{self.role!r} (a cleaner, and only a cleaner, has role cleaner)")

    @property
    def key(self) -> tuple:
        """The same for a component's copies in every pass of a loop: (kind, source layer,
        head or neuron span)."""
        return (self.kind, self.source_layer, self.head, self.neurons)

    def as_dict(self) -> dict:
        """JSON-ready: directions as their printable names."""
        return {"name": self.name, "kind": self.kind, "role": self.role, "layer": self.layer,
                "node": self.node, "hook": self.hook, "head": self.head,
                "neurons": None if self.neurons is None else list(self.neurons),
                "reads": [str(d) for d in self.reads], "writes": [str(d) for d in self.writes],
                "deps": list(self.deps), "pass": self.pass_,
                "source_layer": self.source_layer}


@dataclass(frozen=True)
class Circuit:
    """All components of an exported model that implement the program, and what is padding.

    Every component has a role (`Component.role`; the module docstring says what each means
    and what ablating it changes); the padding is not a component, it is listed here.

    Attributes:
        components: in forward order (embedding first).
        unused_heads: (layer, head) of every exported head that implements nothing (padding
            to one head count per layer: role padding).
        unused_neurons: (layer, start, stop) of the exported MLP units that implement nothing
            (padding to one MLP width: role padding).
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
        raise UnknownComponent(f"Circuit: no component named {name!r}; the components are "
                               f"{[c.name for c in self.components]}")

    def of_node(self, node: str) -> tuple[Component, ...]:
        """The components implementing RASP node `node` (by label)."""
        return tuple(c for c in self.components if c.node == node)

    def of_role(self, role: str) -> tuple[Component, ...]:
        """The components of role `role` (one of ROLES), in forward order.

        Raises:
            InvalidInput: `role` is not one of ROLES.
        """
        if role not in ROLES:
            raise InvalidInput(f"Circuit.of_role: role must be one of {ROLES}, got {role!r}")
        return tuple(c for c in self.components if c.role == role)

    @property
    def nodes(self) -> tuple[str, ...]:
        """Every RASP node label with a component (role node or halting), in forward order."""
        return tuple(dict.fromkeys(c.node for c in self.components
                                   if c.role in ("node", "halting")))

    def edges(self) -> tuple[tuple[str, str], ...]:
        """(producer, consumer) component names."""
        return tuple((d, c.name) for c in self.components for d in c.deps)

    def as_dict(self) -> dict:
        return {"components": [c.as_dict() for c in self.components],
                "unused_heads": [list(x) for x in self.unused_heads],
                "unused_neurons": [list(x) for x in self.unused_neurons],
                "residual": {str(d): i for d, i in self.residual.items()},
                "output": [str(d) for d in self.output]}


def layer_schedule(weights: Any, iterations: Optional[int] = None) -> tuple[int, ...]:
    """The weights' layer index of every exported layer: 0..L-1, or for looped weights the
    prelude, the block `iterations` times (default `max_iterations`), then the epilogue.

    Raises:
        InvalidInput: `iterations` is given for weights without a loop, or is not an int >= 0.
    """
    _check_iterations(weights, iterations, "layer_schedule")
    loop = weights.loop
    if loop is None:
        return tuple(range(len(weights.layers)))
    passes = loop.max_iterations if iterations is None else iterations
    return (tuple(range(loop.start)) + tuple(loop.block) * passes
            + tuple(range(loop.stop, len(weights.layers))))


def circuit(compilation: Any, *, iterations: Optional[int] = None) -> Circuit:
    """The ground-truth circuit of a compiled RASP program (`theory_kit.compile`'s result).

    Args:
        compilation: the result of `theory_kit.compile` (or `compile_generator`).
        iterations: for a looped model, the number of passes the exported model is unrolled
            to (`to_transformer_lens(..., iterations=)`; default `max_iterations`).

    Raises:
        InvalidInput: not a Compilation (a loaded or hand-assembled `Model` has no RASP nodes:
            its heads carry no labels); `iterations` as for `layer_schedule`.
    """
    layered = getattr(compilation, "layered", None)
    if layered is None or not hasattr(layered, "layers"):
        raise InvalidInput(f"circuit: expected the result of theory_kit.compile, got "
                           f"{type(compilation).__name__} (a loaded model keeps no RASP nodes)")
    weights = compilation.model.weights
    schedule = layer_schedule(weights, iterations)
    roles = block_roles(compilation)
    loop = weights.loop
    emb = layered.embedding
    emb_writes = tuple(dict.fromkeys(
        [d for row in emb.tokens.values() for d in row] + list(emb.bos)
        + [d for row in emb.positions.values() for d in row]))
    components = [Component("embed", "embed", "node", -1, "tokens", "hook_embed", (),
                            emb_writes)]
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
            c = Component(f"L{tl_layer}.H{h}", "head", roles[id(head)], tl_layer, head.label,
                          f"blocks.{tl_layer}.attn.hook_result", reads, tuple(head.writes),
                          _deps(reads, latest), head=h, pass_=pass_,
                          source_layer=layer_index)
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
                role = "cleaner" if kind == "cleaner" else roles[id(mlp)]
                c = Component(f"L{tl_layer}.mlp[{span[0]}:{span[1]}]", kind, role, tl_layer,
                              mlp.label, f"blocks.{tl_layer}.mlp.hook_post", reads,
                              tuple(mlp.writes), _deps(reads, latest), neurons=span,
                              pass_=pass_, source_layer=layer_index)
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


def block_roles(compilation: Any) -> dict[int, str]:
    """The role ("node", "loop" or "halting") of every head and MLP the compiler lowered, keyed
    by `id()` of its craft payload (the object `LayeredModel.layers` holds).

    Which nodes the output depends on: the closure of the graph's output over children, where
    a loop's state (its `LoopVar`) depends on its initial value and its next state. A node in
    the closure of the halting flag (`LoopNodes.halted`) but not in that one is "halting"; the
    loop's entry and update blocks (`LoopBlocks.entry`/`update`) are "loop".

    A block whose node neither depends on is "dead" (the compiler lowered code nothing reads;
    no library program has one, a test checks it).
    """
    blocks = compilation.layered.blocks
    graph = compilation.graph
    loop = blocks.loop
    carried: dict = {}
    if loop is not None:
        nodes = loop.nodes
        carried = {s: (i, n) for s, i, n in zip(nodes.states, nodes.inits, nodes.nexts)}

    def closure(roots) -> set:
        seen, todo = set(), list(roots)
        while todo:
            i = todo.pop()
            if i not in seen:
                seen.add(i)
                todo += [*graph.node(i).children, *carried.get(i, ())]
        return seen

    output = closure([graph.output])
    halting = closure([loop.nodes.halted]) - output if loop is not None else set()
    roles = {}
    for b in blocks.blocks:
        if b.kind == "embed":
            continue
        if loop is not None and b.id in (loop.entry, loop.update):
            roles[id(b.payload)] = "loop"
        elif b.node in output:
            roles[id(b.payload)] = "node"
        elif b.node in halting:
            roles[id(b.payload)] = "halting"
        else:
            roles[id(b.payload)] = "dead"
    return roles


def _deps(reads: tuple, latest: dict) -> tuple[str, ...]:
    return tuple(dict.fromkeys(latest[d] for d in reads if d in latest))
