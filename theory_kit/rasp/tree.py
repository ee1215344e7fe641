"""Tree utilities over RASP expressions: walk a program, rebuild a node with new children.

Everything here reads a node's structure only through its class's `_child_fields`
declaration (rasp.nodes), so a new node class (a loop, a halt condition) is walked and
rewritten by declaring its child attributes, with no table to update here.
"""

from __future__ import annotations

from typing import Sequence

from theory_kit.errors import InvalidProgram
from theory_kit.rasp import nodes as n

__all__ = ["topological_order", "topological_order_of", "with_children", "child_fields", "concrete_node_classes"]


def child_fields(node_or_class) -> tuple[str, ...]:
    """The attribute names holding the children of a node (or node class), in `children` order.
    A node may declare its own (a Loop has one child per state component)."""
    return node_or_class._child_fields


def topological_order(program: n.RASPExpr) -> list[n.RASPExpr]:
    """All nodes of `program`, children before parents, each once (iterative, no recursion).

    Raises:
        InvalidProgram: `program` is not a RASP expression, a child is not one, or the graph
            has a cycle.
    """
    if not isinstance(program, n.RASPExpr):
        raise InvalidProgram(
            f"expected a RASP expression, got {type(program).__name__} {program!r:.80}")
    order: list[n.RASPExpr] = []
    done: set[int] = set()
    on_stack: set[int] = set()
    stack: list[tuple[n.RASPExpr, bool]] = [(program, False)]
    while stack:
        node, expanded = stack.pop()
        key = id(node)
        if expanded:
            on_stack.discard(key)
            if key not in done:
                done.add(key)
                order.append(node)
            continue
        if key in done:
            continue
        if key in on_stack:
            raise InvalidProgram(f"the program has a cycle through {node.label!r}")
        on_stack.add(key)
        stack.append((node, True))
        for child in node.children:
            if not isinstance(child, n.RASPExpr):
                raise InvalidProgram(
                    f"{node.label!r} has a child that is not a RASP expression: {child!r:.80}")
            if id(child) in on_stack:
                raise InvalidProgram(f"the program has a cycle through {child.label!r}")
            stack.append((child, False))
    return order


def topological_order_of(roots: Sequence[n.RASPExpr]) -> list[n.RASPExpr]:
    """The nodes of several roots, children before parents, each once (roots in order)."""
    if len(roots) == 1:
        return topological_order(roots[0])
    seen: set[int] = set()
    order = []
    for root in roots:
        for node in topological_order(root):
            if id(node) not in seen:
                seen.add(id(node))
                order.append(node)
    return order


def with_children(node: n.RASPExpr, children: Sequence[n.RASPExpr]) -> n.RASPExpr:
    """A copy of `node` with new children (same class, function, annotations and unique_id);
    `node` itself when every child is the same object.

    Rewrites (compiler.graph, compiler.order) rebuild a program bottom-up with this; the copy
    keeps the unique_id so that its value, label and annotations stay those of the original.

    Raises:
        InvalidProgram: `node` is not a RASP expression, or `children` does not have one entry
            per declared child field.
    """
    if not isinstance(node, n.RASPExpr):
        raise InvalidProgram(f"with_children: expected a RASP expression, got {node!r:.80}")
    fields = child_fields(node)
    children = tuple(children)
    if len(children) != len(fields):
        raise InvalidProgram(
            f"with_children: {type(node).__name__} {node.label!r} has the child fields "
            f"{fields}, got {len(children)} children")
    if all(a is b for a, b in zip(children, node.children)):
        return node
    return node._replace(**dict(zip(fields, children)))


def concrete_node_classes() -> tuple[type, ...]:
    """Every public node class defined in theory_kit.rasp (not RASPExpr, SOp, Selector or a
    private base), sorted by name: the keys every per-node-class table must cover."""
    abstract = (n.RASPExpr, n.SOp, n.Selector)
    found: set[type] = set()
    todo = [n.RASPExpr]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if (cls.__module__.startswith("theory_kit.rasp.") and not cls.__name__.startswith("_")
                and cls not in abstract):
            found.add(cls)
    return tuple(sorted(found, key=lambda c: c.__name__))
