"""Typed, frozen intermediate representations passed between compiler stages."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Literal, Mapping, Optional, Union

from theory_kit.craft.bases import BasisDirection
from theory_kit.craft.blocks import MLP, AttentionHead, Embedding
from theory_kit.rasp import nodes as rn

__all__ = ["GraphNode", "ProgramGraph", "NodeBasis", "BasisAssignment", "Block", "BlockGraph",
           "Layer", "LayeredModel", "Sublayer", "SublayerKind", "EMBEDDING", "LoopNodes",
           "LoopBlocks"]


def _freeze(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


SublayerKind = Literal["embed", "attn", "mlp"]


@dataclass(frozen=True, order=True)
class Sublayer:
    """Where in the forward pass something happens: the embedding, or layer `layer`'s attention
    or MLP, in loop iteration `step` (0 for a plain model).

    Ordered as the forward pass runs (step, then layer, then attention before MLP: the field
    order and "attn" < "mlp"; the embedding is layer -1). `index` is the flat number the
    residual trace and `LayeredModel.live`/`sublayer_of_block` use: -1 for the embedding,
    2l for layer l's attention, 2l+1 for its MLP (step 0 only).
    """

    step: int
    layer: int
    kind: SublayerKind

    def __post_init__(self):
        if self.kind not in ("embed", "attn", "mlp"):
            raise ValueError(f"Sublayer kind must be embed/attn/mlp, got {self.kind!r}")
        if isinstance(self.step, bool) or not isinstance(self.step, int) or self.step < 0:
            raise ValueError(f"Sublayer step must be an int >= 0, got {self.step!r}")
        if isinstance(self.layer, bool) or not isinstance(self.layer, int):
            raise ValueError(f"Sublayer layer must be an int, got {self.layer!r}")
        if (self.kind == "embed") != (self.layer == -1) or self.layer < -1:
            raise ValueError(f"Sublayer: the embedding is layer -1 and only it, got layer "
                             f"{self.layer} kind {self.kind!r}")

    @classmethod
    def from_index(cls, index: int, step: int = 0) -> "Sublayer":
        """The sublayer with flat number `index` (-1 embedding, 2l attention, 2l+1 MLP)."""
        if index < 0:
            if index != -1:
                raise ValueError(f"Sublayer index must be >= -1, got {index}")
            return cls(step, -1, "embed")
        return cls(step, index // 2, "attn" if index % 2 == 0 else "mlp")

    @property
    def index(self) -> int:
        """The flat number: -1 for the embedding, 2l for attention, 2l+1 for the MLP."""
        if self.kind == "embed":
            return -1
        return 2 * self.layer + (0 if self.kind == "attn" else 1)

    def next(self, kind: SublayerKind) -> "Sublayer":
        """The first sublayer of `kind` ("attn" or "mlp") that runs after this one."""
        if kind == "attn":
            return Sublayer(self.step, self.layer + 1, "attn")
        if kind == "mlp":
            return Sublayer(self.step, self.layer if self.kind == "attn" else self.layer + 1,
                            "mlp")
        raise ValueError(f"Sublayer.next: kind must be attn or mlp, got {kind!r}")

    def __str__(self) -> str:
        where = "embedding" if self.kind == "embed" else \
            f"layer {self.layer} {'attention' if self.kind == 'attn' else 'MLP'}"
        return where if self.step == 0 else f"step {self.step} {where}"


#: The embedding of a plain (step-0) model.
EMBEDDING = Sublayer(0, -1, "embed")


@dataclass(frozen=True)
class GraphNode:
    """A RASP node in the graph: `id` is its unique_id, `label` unique within the program."""

    id: int
    label: str
    expr: rn.RASPExpr
    children: tuple[int, ...]
    consumers: tuple[int, ...]


@dataclass(frozen=True)
class ProgramGraph:
    """The (rewritten) program as a DAG; `source` is the program the user passed."""

    nodes: Mapping[int, GraphNode]
    order: tuple[int, ...]
    output: int
    program: rn.SOp
    source: rn.SOp
    #: further roots compiled alongside the output (a loop's initial state and body)
    extra_roots: tuple[int, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "nodes", _freeze(self.nodes))
        missing = [i for i in (*self.order, *self.extra_roots) if i not in self.nodes]
        if missing or self.output not in self.nodes:
            raise ValueError(f"ProgramGraph: order/output name unknown node ids {missing}")

    def node(self, node_id: int) -> GraphNode:
        return self.nodes[node_id]


@dataclass(frozen=True)
class NodeBasis:
    """How one SOp lives in the residual stream.

    `values` is the sorted tuple of values it can take (None when unknown, numerical only);
    `bounds` the (lo, hi) range of a numerical SOp. A fused Map is `virtual`: it owns no
    directions, and readers apply `fn` to the values of its materialised `base` SOp.
    `may_be_none` over-approximates whether the SOp can be None (no value) somewhere; None
    lives in the residual as an all-zero one-hot, which only categorical SOps can hold.
    """

    id: int
    label: str
    encoding: Optional[str]  # "categorical" | "numerical" | None for selectors
    values: Optional[tuple]
    bounds: Optional[tuple[float, float]] = None
    base: Optional[int] = None
    fn: Optional[Callable[[Any], Any]] = None
    may_be_none: bool = False  # some input up to max_seq_len gives None at some position
    #: numerical only: float value -> the Python values the interpreter may hold there (0 and
    #: 0.0 and False are one residual number but not one value to a function like str)
    typed: Optional[Mapping[float, tuple]] = None

    def typed_value(self, x: Any) -> Any:
        """A Python value the interpreter holds where this numerical SOp reads x."""
        return self.typed[x][0] if self.typed and x in self.typed else x

    @property
    def virtual(self) -> bool:
        return self.base is not None

    @property
    def directions(self) -> tuple[BasisDirection, ...]:
        if self.encoding == "categorical" and not self.virtual:
            return tuple(BasisDirection(self.label, v) for v in self.values)
        if self.encoding == "numerical" and not self.virtual:
            return (BasisDirection(self.label),)
        return ()


@dataclass(frozen=True)
class BasisAssignment:
    graph: ProgramGraph
    nodes: Mapping[int, NodeBasis]

    def __post_init__(self):
        object.__setattr__(self, "nodes", _freeze(self.nodes))


@dataclass(frozen=True)
class LoopNodes:
    """The loop of a looped compile, in graph node ids (`compiler.looped`).

    `states[j]` is the LoopVar of component j (its directions are the loop-carried state),
    `inits[j]` its initial value and `nexts[j]` the next state the body computes; `halted` the
    per-position halting flag (True at every position of a halted sequence). `body` are the
    nodes recomputed every iteration (they depend on the state), `epilogue` the nodes after the
    loop that read its final state; every other node is computed once before the loop."""

    name: str
    max_iterations: int
    states: tuple[int, ...]
    inits: tuple[int, ...]
    nexts: tuple[int, ...]
    halted: int
    body: frozenset
    epilogue: frozenset


@dataclass(frozen=True)
class LoopBlocks:
    """The loop of a looped compile, in block ids: `entry` writes the initial state (and the
    flag False) once; `update` ends every iteration (writes the gated next state and the flag);
    `body`/`epilogue` as in LoopNodes. `state[j]` are component j's directions, `flag` the
    persistent (halted True, halted False) directions the runtime reads."""

    nodes: LoopNodes
    entry: int
    update: int
    body: frozenset
    epilogue: frozenset
    state: tuple[tuple[BasisDirection, ...], ...]
    flag: tuple[BasisDirection, BasisDirection]


Payload = Union[AttentionHead, MLP, Embedding]


@dataclass(frozen=True)
class Block:
    """One lowered piece: `kind` is "embed", "attn" or "mlp"; `deps` are producer block ids."""

    id: int
    node: int
    kind: str
    payload: Payload
    deps: tuple[int, ...]

    def __post_init__(self):
        if self.kind not in ("embed", "attn", "mlp"):
            raise ValueError(f"Block kind must be embed/attn/mlp, got {self.kind!r}")


@dataclass(frozen=True)
class BlockGraph:
    """All blocks, the constants chosen while lowering, and each direction's value at BOS."""

    assignment: BasisAssignment
    blocks: tuple[Block, ...]
    output_directions: tuple[BasisDirection, ...]
    bos_values: Mapping[BasisDirection, float]
    constants: Mapping[str, Any]
    loop: Optional[LoopBlocks] = None

    def __post_init__(self):
        object.__setattr__(self, "bos_values", _freeze(self.bos_values))
        object.__setattr__(self, "constants", _freeze(self.constants))


@dataclass(frozen=True)
class Layer:
    """One transformer layer: attention heads then one MLP.

    The MLP is `mlps` (the program's blocks) plus `cleaners` (units that zero dead
    directions before their dimension is reused; the block-level oracle has no reuse and
    skips them).
    """

    heads: tuple[AttentionHead, ...]
    mlps: tuple[MLP, ...]
    cleaners: tuple[MLP, ...] = ()

    @property
    def all_mlps(self) -> tuple[MLP, ...]:
        return self.mlps + self.cleaners


@dataclass(frozen=True)
class LayeredModel:
    """Blocks placed in layers, with the residual layout (direction -> dimension).

    `slots[d]` lists every direction that occupies dimension d over the forward pass (a
    dimension is reused after its SOp's last reader cleans it). `live[s]` lists the directions
    live after sublayer s and `sublayer_of_block[b]` is where block b runs, both by the flat
    `Sublayer.index` (s = -1 is the embedding; 2l is layer l's attention, 2l+1 its MLP); read
    them as `Sublayer` values with `sublayer(block_id)` and `live_after(sublayer)`.
    """

    blocks: BlockGraph
    embedding: Embedding
    layers: tuple[Layer, ...]
    layout: Mapping[BasisDirection, int]
    slots: tuple[tuple[BasisDirection, ...], ...]
    live: Mapping[int, tuple[BasisDirection, ...]]
    sublayer_of_block: Mapping[int, int]
    #: a looped compile: layers[start:stop] are the block applied every iteration
    loop_layers: Optional[tuple[int, int]] = None

    def __post_init__(self):
        object.__setattr__(self, "layout", _freeze(self.layout))
        object.__setattr__(self, "live", _freeze(self.live))
        object.__setattr__(self, "sublayer_of_block", _freeze(self.sublayer_of_block))
        width = len(self.slots)
        bad = [str(d) for d, i in self.layout.items() if not 0 <= i < width]
        if bad:
            raise ValueError(f"LayeredModel: directions laid out outside the residual: {bad}")

    @property
    def residual_width(self) -> int:
        return len(self.slots)

    def sublayer(self, block_id: int) -> Sublayer:
        """Where block `block_id` runs."""
        return Sublayer.from_index(self.sublayer_of_block[block_id])

    def live_after(self, sublayer: Sublayer) -> tuple[BasisDirection, ...]:
        """The directions live after `sublayer` (empty past the last one)."""
        return self.live.get(sublayer.index, ())

    @property
    def sublayers(self) -> tuple[Sublayer, ...]:
        """Every sublayer with a `live` entry, in forward order (the embedding first)."""
        return tuple(Sublayer.from_index(s) for s in sorted(self.live))
