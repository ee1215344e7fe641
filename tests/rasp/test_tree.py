"""rasp.tree: children declared on the node classes, topological_order and with_children."""

from __future__ import annotations

import pytest

from theory_kit import rasp
from theory_kit.errors import InvalidProgram
from theory_kit.rasp import interpreter, nodes, tree

_sel = rasp.Select(rasp.tokens, rasp.indices, rasp.Comparison.EQ)
_sel2 = rasp.Select(rasp.indices, rasp.tokens, rasp.Comparison.LT)

def _loop_var():
    seen = []
    rasp.loop(lambda s: seen.append(s) or s, rasp.tokens, until=lambda s: s > 3, max_iterations=2)
    return seen[0]


#: One instance of every concrete node class (the completeness test below keeps it complete).
EXAMPLES = {
    nodes.TokensType: lambda: rasp.tokens,
    nodes.IndicesType: lambda: rasp.indices,
    nodes.LengthType: lambda: rasp.length,
    nodes.Map: lambda: rasp.Map(lambda x: x + 1, rasp.tokens),
    nodes.SequenceMap: lambda: rasp.SequenceMap(lambda x, y: x + y, rasp.tokens, rasp.indices),
    nodes.LinearSequenceMap: lambda: rasp.LinearSequenceMap(rasp.tokens, rasp.indices, 1, 2),
    nodes.Full: lambda: rasp.Full(3),
    nodes.ConstantSOp: lambda: rasp.ConstantSOp([1, 2]),
    nodes.Select: lambda: _sel,
    nodes.ConstantSelector: lambda: rasp.ConstantSelector([[True, False], [False, True]]),
    nodes.Aggregate: lambda: rasp.Aggregate(_sel, rasp.tokens),
    nodes.SelectorWidth: lambda: rasp.SelectorWidth(_sel),
    nodes.SelectorAnd: lambda: rasp.SelectorAnd(_sel, _sel2),
    nodes.SelectorOr: lambda: rasp.SelectorOr(_sel, _sel2),
    nodes.SelectorNot: lambda: rasp.SelectorNot(_sel),
    rasp.Loop: lambda: rasp.loop(lambda s: s + 1, rasp.tokens, until=lambda s: s > 3,
                                 max_iterations=4),
    rasp.LoopVar: lambda: _loop_var(),
}


def _replacement(child):
    """A different node of the same kind as `child`."""
    if isinstance(child, rasp.Selector):
        return rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.GEQ)
    return rasp.Map(lambda x: x, child)


def test_every_concrete_node_class_has_an_example():
    assert set(tree.concrete_node_classes()) <= set(EXAMPLES)


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda c: c.__name__)
def test_children_come_from_the_declared_fields(cls):
    node = EXAMPLES[cls]()
    assert type(node) is cls
    fields = tree.child_fields(node)
    if "_child_fields" in vars(node):  # declared per node (a Loop: one per state component)
        assert fields == node._child_fields
    else:
        assert fields == cls._child_fields == tree.child_fields(cls)
    assert len(node.children) == len(fields)
    assert all(c is getattr(node, f) for c, f in zip(node.children, fields))
    assert all(isinstance(c, rasp.RASPExpr) for c in node.children)


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda c: c.__name__)
def test_with_children_replaces_only_the_children(cls):
    node = EXAMPLES[cls]()
    assert tree.with_children(node, node.children) is node
    if not node.children:
        return
    node = node.named("original")
    new_children = tuple(_replacement(c) for c in node.children)
    copy = tree.with_children(node, new_children)
    assert type(copy) is cls and copy is not node
    assert all(a is b for a, b in zip(copy.children, new_children))
    # same function, annotations and identity as the original; the original is untouched
    assert copy.unique_id == node.unique_id and copy.label == "original"
    assert dict(copy.annotations) == dict(node.annotations)
    for key, value in vars(node).items():
        if key not in tree.child_fields(node):
            assert vars(copy)[key] is value
    assert not any(a is b for a, b in zip(node.children, new_children))


def test_with_children_checks_the_number_of_children():
    node = rasp.Map(lambda x: x, rasp.tokens)
    with pytest.raises(InvalidProgram, match="child fields"):
        tree.with_children(node, (rasp.tokens, rasp.indices))
    with pytest.raises(InvalidProgram, match="expected a RASP expression"):
        tree.with_children("tokens", ())


def test_with_children_copies_are_evaluated_with_the_new_children():
    node = rasp.numerical(rasp.Map(lambda x: x * 10, rasp.tokens))
    copy = tree.with_children(node, (rasp.indices,))
    assert rasp.evaluate(copy, [7, 8, 9]) == [0, 10, 20]
    assert rasp.evaluate(node, [7, 8, 9]) == [70, 80, 90]
    assert rasp.is_numerical(copy)


def test_annotate_still_copies_with_a_new_identity():
    node = rasp.Map(lambda x: x, rasp.tokens)
    named = node.named("x")
    assert named.unique_id != node.unique_id and named.inner is node.inner and named.f is node.f


def test_topological_order_lives_in_tree_and_is_re_exported():
    assert interpreter.topological_order is tree.topological_order
    assert rasp.topological_order is tree.topological_order


def test_topological_order_children_first_each_once():
    x = rasp.Map(lambda v: v + 1, rasp.tokens)
    program = rasp.SequenceMap(lambda a, b: a + b, x, x)
    order = tree.topological_order(program)
    assert order == [rasp.tokens, x, program]


def test_topological_order_detects_cycles_and_non_nodes():
    node = rasp.Map(lambda v: v, rasp.tokens)
    object.__setattr__(node, "inner", node)  # only possible by bypassing the frozen nodes
    with pytest.raises(InvalidProgram, match="cycle"):
        tree.topological_order(node)
    bad = rasp.Map(lambda v: v, rasp.tokens)
    object.__setattr__(bad, "inner", 3)
    with pytest.raises(InvalidProgram, match="not a RASP expression"):
        tree.topological_order(bad)
    with pytest.raises(InvalidProgram, match="expected a RASP expression"):
        tree.topological_order([1, 2])
