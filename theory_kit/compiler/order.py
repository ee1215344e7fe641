"""Stage 2b: rewrites that need the value sets of stage 2 (a program -> program map).

Lexicographic keys. Tracr's `make_sort` makes repeated keys unique with a SequenceMap
key' = f(key, index) = key + min_key * index / max_seq_len, and `make_sort_unique` then counts
smaller keys: target_pos = SelectorWidth(Select(key', key', LT)). Compiled as written, key' is
a one-hot over |keys| x N values and the head compares two such one-hots: for
`make_sort_freq` at max_seq_len 40 that is 1,600 residual dimensions and a 1,600 x 1,600
query-key matrix (the bulk of the model, in Tracr as in a direct compilation).

When f is strictly monotone in the lexicographic order of (a, b) over their value sets — f(p)
< f(q) exactly when p precedes q, checked on every pair of values, so on every reachable one —
the comparison of f-values is a comparison of pairs, and for `key' < query'`:

    Select(f, f, LT) = Select(a, a, LT)  ∪  (Select(a, a, EQ) ∧ Select(b, b, LT))

a union of two *disjoint* selectors, so its width is the sum of their widths. Each is one
head (a conjunction of Selects is one head, see craft.lowering) reading the one-hots of a
and b directly, and the sum is a small categorical SequenceMap. The rewrite is applied to
a SelectorWidth whose selector compares one SequenceMap of two different categorical,
numeric SOps with itself by <, <=, > or >= (either lexicographic order, f increasing or
decreasing); everything else is left alone. The sum is capped at max_seq_len (two disjoint
sets of positions hold at most max_seq_len keys), so its value set is 0..max_seq_len, like
the SelectorWidth it replaces.

The rewritten program computes the same function as the source on every input (it is
verified against the source program's interpreter like any other compilation).
"""

from __future__ import annotations

from typing import Optional

from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import BasisAssignment, ProgramGraph
from theory_kit.craft.bases import is_plain_number
from theory_kit.rasp import nodes as rn
from theory_kit.rasp.tree import topological_order_of, with_children

__all__ = ["lexicographic_rewrite"]

_C = rn.Comparison
#: The comparison of f-values after swapping key and query roles of "smaller" (f decreasing).
_MIRROR = {_C.LT: _C.GT, _C.LEQ: _C.GEQ, _C.GT: _C.LT, _C.GEQ: _C.LEQ}
#: The strict part of each order comparison: how the major components must compare.
_STRICT = {_C.LT: _C.LT, _C.LEQ: _C.LT, _C.GT: _C.GT, _C.GEQ: _C.GT}


def _monotone(values: list) -> int:
    """+1 strictly increasing, -1 strictly decreasing, 0 otherwise."""
    try:
        if all(u < v for u, v in zip(values, values[1:])):
            return 1
        if all(u > v for u, v in zip(values, values[1:])):
            return -1
    except TypeError:
        pass
    return 0


def _lex_order(f, va: tuple, vb: tuple) -> Optional[tuple[bool, int]]:
    """(a_major, direction) when f is strictly monotone in a lexicographic order of (a, b)."""
    try:
        table = {(x, y): f(x, y) for x in va for y in vb}
    except Exception:  # a function that raises is validate()'s business, not ours
        return None
    if not all(is_plain_number(v) for v in table.values()):
        return None
    for a_major in (True, False):
        pairs = [(x, y) for x in va for y in vb] if a_major else [(x, y) for y in vb for x in va]
        direction = _monotone([table[p] for p in pairs])
        if direction:
            return a_major, direction
    return None


def _candidate(node: rn.RASPExpr, assignment: BasisAssignment) -> Optional[tuple]:
    if not isinstance(node, rn.SelectorWidth) or not isinstance(node.selector, rn.Select):
        return None
    if assignment.nodes[node.unique_id].encoding != "categorical":
        return None
    sel = node.selector
    key = sel.keys
    if (sel.queries is not key or not isinstance(key, rn.SequenceMap) or key.fst is key.snd
            or not isinstance(sel.predicate, rn.Comparison) or sel.predicate not in _MIRROR):
        return None
    bases = [assignment.nodes.get(c.unique_id) for c in (key.fst, key.snd)]
    if any(b is None or b.encoding != "categorical" or not b.values
           or not all(is_plain_number(v) for v in b.values) for b in bases):
        return None
    order = _lex_order(key.f, bases[0].values, bases[1].values)
    return None if order is None else (sel, key, order)


def _split(node: rn.SelectorWidth, sel: rn.Select, key: rn.SequenceMap, a_major: bool,
           direction: int, cap: int) -> rn.SOp:
    major, minor = (key.fst, key.snd) if a_major else (key.snd, key.fst)
    cmp = sel.predicate if direction > 0 else _MIRROR[sel.predicate]
    before = rn.Select(major, major, _STRICT[cmp]).named(f"{sel.label}.major")
    tie = rn.SelectorAnd(rn.Select(major, major, _C.EQ).named(f"{sel.label}.tie"),
                         rn.Select(minor, minor, cmp).named(f"{sel.label}.minor"))
    tie = tie.named(f"{sel.label}.tie_minor")
    w_before = rn.categorical(rn.SelectorWidth(before)).named(f"{node.label}.major")
    w_tie = rn.categorical(rn.SelectorWidth(tie)).named(f"{node.label}.tie_minor")
    total = rn.SequenceMap(lambda x, y: min(x + y, cap), w_before, w_tie)
    return rn.categorical(total).named(node.label)


def lexicographic_rewrite(graph: ProgramGraph, assignment: BasisAssignment,
                          config: CompileConfig
                          ) -> Optional[tuple[rn.SOp, tuple[str, ...], tuple[rn.SOp, ...]]]:
    """(the rewritten program, the labels of the SelectorWidths it split, the rewritten
    `graph.extra_roots`), or None when no SelectorWidth qualifies (see module doc)."""
    replace = {}
    for node_id in graph.order:
        node = graph.nodes[node_id].expr
        found = _candidate(node, assignment)
        if found is not None:
            replace[id(node)] = _split(node, *found[:2], *found[2], cap=config.max_seq_len)
    if not replace:
        return None
    new: dict[int, rn.RASPExpr] = {}
    extras = tuple(graph.node(i).expr for i in graph.extra_roots)
    for node in topological_order_of((graph.program, *extras)):
        if id(node) in replace:
            new[id(node)] = replace[id(node)]
            continue
        children = tuple(new[id(c)] for c in node.children)
        new[id(node)] = with_children(node, children) if children else node
    labels = tuple(graph.nodes[i].label for i in graph.order
                   if id(graph.nodes[i].expr) in replace)
    return new[id(graph.program)], labels, tuple(new[id(e)] for e in extras)
