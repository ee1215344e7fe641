"""Stage 1: program -> ProgramGraph, after rewriting what has no direct transformer form.

Rewrites (each a pure program -> program map that keeps the interpreter's outputs):
  * non-causal `length` -> SelectorWidth(Select(tokens, tokens, TRUE)) (Tracr's make_length);
    causal `length` is the prefix length q + 1, which the position embedding provides;
  * ~Select -> Select with the negated predicate; a conjunction of Selects is kept (one head
    sums the leaves' logits);
  * any other composite selector (SelectorOr, SelectorNot of a composite) -> one Select whose
    keys and queries are tuples of the leaf keys/queries, with the boolean combination as
    predicate. One attention head then computes it exactly; Tracr refuses these (its #4).
"""

from __future__ import annotations

from typing import Callable

from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import GraphNode, ProgramGraph
from theory_kit.rasp import nodes as rn
from theory_kit.rasp.tree import topological_order_of, with_children

__all__ = ["program_to_graph", "rewrite", "rewrite_all"]


def _flatten_selector(sel: rn.Selector, leaves: list) -> Callable:
    """Return f(leaf_values) -> bool for a composite selector; appends its Select leaves."""
    if isinstance(sel, rn.Select):
        i = len(leaves)
        leaves.append(sel)
        return lambda vals: vals[i]
    if isinstance(sel, rn.SelectorNot):
        inner = _flatten_selector(sel.inner, leaves)
        return lambda vals: not inner(vals)
    if isinstance(sel, (rn.SelectorAnd, rn.SelectorOr)):
        a = _flatten_selector(sel.fst, leaves)
        b = _flatten_selector(sel.snd, leaves)
        if isinstance(sel, rn.SelectorAnd):
            return lambda vals: a(vals) and b(vals)
        return lambda vals: a(vals) or b(vals)
    raise TypeError(type(sel).__name__)  # validate() rejects ConstantSelector earlier


def _tuple_sop(sops: list, label: str) -> tuple[rn.SOp, bool]:
    """One SOp carrying all of `sops` (the SOp itself when there is only one)."""
    if len(sops) == 1:
        return sops[0], False
    acc = rn.SequenceMap(lambda x, y: (x, y), sops[0], sops[1])
    for sop in sops[2:]:
        acc = rn.SequenceMap(lambda x, y: (*x, y), acc, sop)
    return rn.categorical(acc).named(label), True


def _fuse_selector(sel: rn.Selector) -> rn.Select:
    leaves: list[rn.Select] = []
    combine = _flatten_selector(sel, leaves)
    key_sops, query_sops = [], []
    key_pos, query_pos = [], []
    for leaf in leaves:
        for sops, pos, sop in ((key_sops, key_pos, leaf.keys), (query_sops, query_pos, leaf.queries)):
            idx = next((i for i, s in enumerate(sops) if s is sop), None)
            if idx is None:
                idx = len(sops)
                sops.append(sop)
            pos.append(idx)
    keys, k_tuple = _tuple_sop(key_sops, f"{sel.label}.keys")
    queries, q_tuple = _tuple_sop(query_sops, f"{sel.label}.queries")
    preds = [leaf.predicate for leaf in leaves]

    def predicate(key, query):
        ks = key if k_tuple else (key,)
        qs = query if q_tuple else (query,)
        return combine([p(ks[i], qs[j]) for p, i, j in zip(preds, key_pos, query_pos)])

    fused = rn.Select(keys, queries, predicate).named(sel.label)
    # the composite it replaces, for analyses that reason about its leaves (never-empty)
    object.__setattr__(fused, "fused_from", sel)
    return fused


def rewrite(program: rn.SOp, config: CompileConfig) -> rn.SOp:
    """Apply the rewrites above; returns `program` itself when nothing changes."""
    return rewrite_all((program,), config)[0]


def rewrite_all(roots: tuple, config: CompileConfig) -> tuple:
    """`rewrite` of several roots at once (shared nodes stay shared). Two distinct nodes with
    one unique_id (copies made with `with_children`, which keeps it, e.g. a template rewritten
    twice) become two graph nodes: the later one gets a fresh unique_id."""
    new: dict[int, rn.RASPExpr] = {}
    owner: dict[int, rn.RASPExpr] = {}
    length_sop = None
    for node in topological_order_of(roots):
        if isinstance(node, rn.LengthType) and not config.causal:
            if length_sop is None:
                all_true = rn.Select(rn.tokens, rn.tokens, rn.Comparison.TRUE).named("length.select")
                length_sop = rn.SelectorWidth(all_true).named("length")
            new[id(node)] = length_sop
            continue
        children = tuple(new[id(c)] for c in node.children)
        rebuilt = with_children(node, children) if children else node
        if isinstance(rebuilt, rn.SelectorNot) and isinstance(rebuilt.inner, rn.Select):
            inner = rebuilt.inner
            rebuilt = rn.Select(inner.keys, inner.queries,
                                lambda k, q, p=inner.predicate: not p(k, q)).named(rebuilt.label)
        elif isinstance(rebuilt, rn.SelectorAnd) and all(
                isinstance(c, (rn.Select, rn.SelectorAnd)) for c in rebuilt.children):
            pass  # a conjunction of Selects: one head sums their logits (craft.lowering)
        elif isinstance(rebuilt, (rn.SelectorAnd, rn.SelectorOr, rn.SelectorNot)):
            rebuilt = _fuse_selector(rebuilt)
        if owner.setdefault(rebuilt.unique_id, rebuilt) is not rebuilt:
            rebuilt = rebuilt._replace(_unique_id=next(rn._ids))
            owner[rebuilt.unique_id] = rebuilt
        new[id(node)] = rebuilt
    return tuple(new[id(r)] for r in roots)


def program_to_graph(program: rn.SOp, config: CompileConfig,
                     source: rn.SOp | None = None, extra_roots: tuple = ()) -> ProgramGraph:
    """Rewrite `program` and index it as a DAG with unique labels (`x`, `x#2`, ...).

    `source` is the user's program when `program` is already a rewrite of it (stage 2b).
    `extra_roots` are further SOps to compile alongside the output (a loop's initial state and
    body, `compiler.looped`); the graph keeps their rewritten ids in `extra_roots`."""
    rewritten, *extras = rewrite_all((program, *extra_roots), config)
    order = topological_order_of((rewritten, *extras))
    consumers: dict[int, list[int]] = {id(n): [] for n in order}
    for node in order:
        for child in node.children:
            if node.unique_id not in consumers[id(child)]:
                consumers[id(child)].append(node.unique_id)
    used: dict[str, int] = {}
    nodes = {}
    for node in order:
        label = node.label
        used[label] = used.get(label, 0) + 1
        if used[label] > 1:
            label = f"{label}#{used[label]}"
        nodes[node.unique_id] = GraphNode(
            id=node.unique_id, label=label, expr=node,
            children=tuple(c.unique_id for c in node.children),
            consumers=tuple(consumers[id(node)]))
    return ProgramGraph(nodes=nodes, order=tuple(n.unique_id for n in order),
                        output=rewritten.unique_id, program=rewritten,
                        source=program if source is None else source,
                        extra_roots=tuple(e.unique_id for e in extras))
