"""Stage 5: LayeredModel -> Weights (named directions laid out as array indices, only here).

The output SOp becomes the "output" readout. For a numerical output the readout also carries
the values the reference interpreter can produce there, as the interpreter's own Python values
(`exact_output_values`), so decoding returns exactly what `rasp.evaluate` returns; where those
are not known exactly, the inferred (rounded) value set, or None when it is too large.
"""

from __future__ import annotations

from typing import Optional

from theory_kit.compiler.bases import MAX_NUMERICAL_VALUES
from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import BasisAssignment, LayeredModel
from theory_kit.craft.assemble import ReadoutSpec, assemble
from theory_kit.craft.bases import value_sort_key
from theory_kit.model.weights import LoopSchedule, ResidualLayout, Weights
from theory_kit.rasp import nodes as rn
from theory_kit.values import typed_key, typed_unique

__all__ = ["layers_to_weights", "token_order", "exact_output_values"]

#: The readout of a looped model's halting flag (True where the sequence has halted).
HALT = "halt"

#: A numerical LinearSequenceMap's exact values are enumerated for at most this many pairs
#: (plain Python calls of its function; more gives up exactness, not correctness).
MAX_EXACT_PAIRS = 200_000


def token_order(config: CompileConfig) -> tuple:
    """Token ids: BOS is 0, then the vocabulary in a fixed total order."""
    return (config.bos,) + tuple(sorted(config.vocab, key=value_sort_key))


def layers_to_weights(layered: LayeredModel, config: CompileConfig) -> Weights:
    """Lay every block's named-basis matrices into dense arrays of the residual width
    (`theory_kit.craft.assemble`, the assembler hand-built constructions use too)."""
    assignment = layered.blocks.assignment
    out_basis = assignment.nodes[assignment.graph.output]
    reachable = None
    if out_basis.encoding == "numerical":  # exact where known, else the inferred floats
        reachable = exact_output_values(assignment, config)
        if reachable is None:
            reachable = out_basis.values
    readouts, schedule = {}, None
    loop = layered.blocks.loop
    if loop is not None:  # the halting flag and each state component, read between iterations
        m = len(loop.state)
        names = ("state",) if m == 1 else tuple(f"state{j}" for j in range(m))
        readouts = {HALT: ReadoutSpec(loop.flag), **{
            name: ReadoutSpec(dirs) for name, dirs in zip(names, loop.state)}}
        schedule = LoopSchedule(*layered.loop_layers, loop.nodes.max_iterations, HALT, names)
    return assemble([(layer.heads, layer.all_mlps) for layer in layered.layers],
                    ResidualLayout(tuple(map(tuple, layered.slots))), layered.embedding,
                    tokens=token_order(config), max_seq_len=config.max_seq_len,
                    readout=layered.blocks.output_directions,
                    output_encoding=out_basis.encoding, output_reachable=reachable,
                    readouts=readouts, loop=schedule, causal=config.causal, dtype=config.dtype)


def exact_output_values(assignment: BasisAssignment, config: CompileConfig
                        ) -> Optional[tuple]:
    """Every value the interpreter can produce at the output, as the interpreter computes it
    (a superset: each value the output can take on some input is in it), or None when that
    is not known exactly.

    Value inference (compiler.bases) keeps numerical value sets as floats rounded to 12
    decimals, which is enough to lay out weights but not to decode: a mean of integers is
    3.333333333333 there and 3.3333333333333335 to the interpreter. Here the sets are
    recomputed exactly where the interpreter's arithmetic is exact and enumerable:

    * tokens, indices, length, Full, SelectorWidth: the inferred values (already the
      interpreter's);
    * a Map or SequenceMap (LinearSequenceMap included) of exact inputs: its own function on
      every exact input value (pair), as the interpreter calls it (at most MAX_EXACT_PAIRS
      pairs; a function raising there gives None);
    * a categorical Aggregate of exact values: those values (and its default when inference
      kept it);
    * a numerical Aggregate (a mean) of int or bool values: sum(selected) / len(selected) is
      an int sum (exact) divided once (correctly rounded), so every int sum S of m values
      gives the float S / m, for m = 1..max_seq_len; plus the default where inference found
      the selector may be empty.

    Anything else (a mean of floats, whose sums depend on the order of additions) is None,
    and decoding snaps to the inferred floats as before.
    """
    memo: dict = {}

    def exact(sop) -> Optional[tuple]:
        node_id = sop.unique_id
        if node_id not in memo:
            memo[node_id] = _exact(sop)
        return memo[node_id]

    def inferred(node_id: int) -> Optional[tuple]:
        basis = assignment.nodes[node_id]
        if basis.typed:
            return tuple(v for vs in basis.typed.values() for v in vs)
        return basis.values

    def _exact(expr) -> Optional[tuple]:
        values = inferred(expr.unique_id)
        if values is None:
            return None
        if isinstance(expr, (rn.TokensType, rn.IndicesType, rn.LengthType, rn.Full,
                             rn.SelectorWidth)):
            return values
        if isinstance(expr, rn.Map):
            inner = exact(expr.inner)
            return None if inner is None else _apply(expr.f, [(v,) for v in inner])
        if isinstance(expr, rn.SequenceMap):
            xs, ys = exact(expr.fst), exact(expr.snd)
            if xs is None or ys is None:
                return None
            pairs = [(x, x) for x in xs] if expr.fst is expr.snd else \
                [(x, y) for x in xs for y in ys]
            return None if len(pairs) > MAX_EXACT_PAIRS else _apply(expr.f, pairs)
        if isinstance(expr, rn.Aggregate):
            inner = exact(expr.sop)
            if inner is None:
                return None
            default = (expr.default,) if expr.default is not None and typed_key(
                expr.default) in {typed_key(v) for v in values} else ()
            if not rn.is_numerical(expr):
                return _distinct(inner + default)
            means = _exact_means(inner, config.max_seq_len)
            return None if means is None else _distinct(means + default)
        return None

    graph = assignment.graph
    return exact(graph.node(graph.output).expr)


def _distinct(values) -> tuple:
    return tuple(sorted(typed_unique(values), key=value_sort_key))


def _apply(f, args_list: list) -> Optional[tuple]:
    """The distinct values of f on every argument tuple without a None (the interpreter
    gives None there without calling f), None being dropped as inference drops it; None when
    f raises (inference ran f on the rounded values only)."""
    try:
        return _distinct(v for v in (f(*args) for args in args_list
                                     if all(a is not None for a in args)) if v is not None)
    except Exception:  # noqa: BLE001 - any failure only means "not known exactly"
        return None


def _exact_means(inner: tuple, max_len: int) -> Optional[tuple]:
    """The interpreter's means sum(selected) / len(selected) of 1..max_len values of `inner`
    when they are all ints or bools (None otherwise, or above MAX_NUMERICAL_VALUES)."""
    if any(type(v) not in (int, bool) for v in inner):
        return None
    steps = sorted({int(v) for v in inner})
    sums, out = {0}, set()
    for m in range(1, max_len + 1):
        sums = {s + v for s in sums for v in steps}
        if len(sums) > MAX_NUMERICAL_VALUES:
            return None
        out.update(s / m for s in sums)
        if len(out) > MAX_NUMERICAL_VALUES:
            return None
    return tuple(out)
