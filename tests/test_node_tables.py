"""Every per-node-class table has a rule for every concrete RASP node class.

A new node class (a loop, a halt condition) must be taught to the interpreter, the validator,
value inference, the lowering, the formatter and the coverage report; forgetting one fails
here, with the table's name, instead of deep inside a compile (cvxpy's test_canon_methods).
"""

from __future__ import annotations

import pytest

from theory_kit.compiler.bases import VALUE_RULES
from theory_kit.rasp import interpreter, nodes
from theory_kit.rasp.validate import INTERPRETER_ONLY
from theory_kit.rasp.validate import RULES as VALIDATE_RULES
from theory_kit.rasp.tree import concrete_node_classes
from theory_kit.testing import coverage, formatting

try:  # the lowering table moves into the compiler stage that uses it (issue 12, step 1a)
    from theory_kit.compiler.graph_to_blocks import LOWERING
except ImportError:
    from theory_kit.craft.lowering import LOWERING

CONCRETE_NODE_CLASSES = concrete_node_classes()

TABLES = {
    "interpreter.RULES": interpreter.RULES,
    "validate.RULES": VALIDATE_RULES,
    "bases.VALUE_RULES": VALUE_RULES,
    "LOWERING": LOWERING,
    "formatting.RULES": formatting.RULES,
    "coverage.FEATURES": coverage.FEATURES,
}

#: Classes a table may leave out on purpose, and why.
EXEMPT = {
    # validate refuses them before lowering (they fix values per position, for interpreter
    # tests)
    "LOWERING": INTERPRETER_ONLY,
}


def test_the_node_classes_are_found():
    names = {c.__name__ for c in CONCRETE_NODE_CLASSES}
    assert {"TokensType", "IndicesType", "LengthType", "Map", "SequenceMap", "LinearSequenceMap",
            "Full", "ConstantSOp", "Select", "ConstantSelector", "Aggregate", "SelectorWidth",
            "SelectorAnd", "SelectorOr", "SelectorNot"} <= names


@pytest.mark.parametrize("table_name", sorted(TABLES))
@pytest.mark.parametrize("cls", CONCRETE_NODE_CLASSES, ids=lambda c: c.__name__)
def test_every_node_class_has_a_rule(table_name, cls):
    if cls in EXEMPT.get(table_name, ()):
        pytest.skip(f"{cls.__name__} is exempt from {table_name}")
    assert cls in TABLES[table_name], f"{cls.__name__} missing from {table_name}"


@pytest.mark.parametrize("table_name", sorted(TABLES))
def test_tables_hold_only_node_classes(table_name):
    stale = [k for k in TABLES[table_name] if k not in CONCRETE_NODE_CLASSES]
    assert not stale, f"{table_name} has rules for unknown classes {stale}"


@pytest.mark.parametrize("cls", sorted(INTERPRETER_ONLY, key=lambda c: c.__name__))
def test_exempt_from_lowering_means_refused_by_validate(cls):
    node = nodes.ConstantSOp([1, 2]) if issubclass(cls, nodes.SOp) else \
        nodes.ConstantSelector([[True, False], [False, True]])
    assert isinstance(node, cls)
    problems = VALIDATE_RULES[cls](node)
    assert problems and "interpreter tests" in problems[0].reason


# -- Sublayer: the one encoding of a place in the forward pass (issue 12, item 6) -------------

from theory_kit.compiler.ir import EMBEDDING, Sublayer  # noqa: E402


def test_sublayer_flat_index_round_trips_in_forward_order():
    flat = list(range(-1, 9))
    subs = [Sublayer.from_index(i) for i in flat]
    assert [s.index for s in subs] == flat
    assert sorted(reversed(subs)) == subs  # order=True sorts as the forward pass runs
    assert subs[0] == EMBEDDING and str(EMBEDDING) == "embedding"
    assert [str(s) for s in subs[1:3]] == ["layer 0 attention", "layer 0 MLP"]
    assert Sublayer(0, 3, "mlp") < Sublayer(1, 0, "attn")  # a later loop iteration runs later
    assert str(Sublayer(2, 1, "attn")) == "step 2 layer 1 attention"


@pytest.mark.parametrize("start", [Sublayer.from_index(i) for i in range(-1, 6)], ids=str)
@pytest.mark.parametrize("kind", ["attn", "mlp"])
def test_sublayer_next_is_the_first_of_its_kind_after(start, kind):
    later = [Sublayer.from_index(i) for i in range(start.index + 1, start.index + 4)]
    assert start.next(kind) == next(s for s in later if s.kind == kind)


@pytest.mark.parametrize("args, match", [
    ((0, 0, "head"), "kind"), ((-1, 0, "attn"), "step"), ((0, -1, "attn"), "embedding"),
    ((0, 2, "embed"), "embedding"), ((0, -2, "embed"), "embedding"), ((True, 0, "mlp"), "step"),
    ((0, 1.0, "mlp"), "layer"),
])
def test_sublayer_invariants_fire(args, match):
    with pytest.raises(ValueError, match=match):
        Sublayer(*args)
    with pytest.raises(ValueError, match="kind"):
        EMBEDDING.next("embed")
    with pytest.raises(ValueError, match=">= -1"):
        Sublayer.from_index(-2)


def test_layered_model_reads_back_as_sublayers():
    from theory_kit import rasp
    from theory_kit.compiler.bases import infer_bases
    from theory_kit.compiler.config import CompileConfig
    from theory_kit.compiler.graph import program_to_graph
    from theory_kit.compiler.layers import blocks_to_layers
    try:
        from theory_kit.compiler.graph_to_blocks import graph_to_blocks
    except ImportError:
        from theory_kit.compiler.blocks import graph_to_blocks

    from theory_kit.library import make_hist

    config = CompileConfig(vocab=frozenset("abc"), max_seq_len=4)
    assignment = infer_bases(program_to_graph(make_hist(), config), config)
    layered = blocks_to_layers(graph_to_blocks(assignment, config))
    assert layered.sublayers[0] == EMBEDDING
    assert [s.index for s in layered.sublayers] == sorted(layered.live)
    for block in layered.blocks.blocks:
        where = layered.sublayer(block.id)
        assert where.kind == block.kind and where.index == layered.sublayer_of_block[block.id]
    for s in layered.sublayers:
        assert layered.live_after(s) == layered.live[s.index]
