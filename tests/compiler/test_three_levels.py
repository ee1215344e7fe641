"""Interpreter = block-level apply = weight forward pass, node by node, on the shared cases."""

import pytest

import theory_kit as tk
from theory_kit import rasp
from theory_kit.compiler.reference import first_divergence, node_values_from_reference
from theory_kit.compiler.verify import enumerate_inputs, outputs_match

from tests.compiler.cases import CASES


@pytest.mark.parametrize("name,factory,vocab,n,causal", CASES, ids=[c[0] for c in CASES])
def test_three_levels_agree_on_every_input(name, factory, vocab, n, causal):
    program = factory()
    model = tk.compile(program, vocab=vocab, max_seq_len=n, causal=causal, verify=None)
    layered = model.layered
    graph = layered.blocks.assignment.graph
    checked_nodes = 0
    for xs in enumerate_inputs(vocab, n):
        truth = rasp.evaluate_all(graph.program, xs, causal=causal)
        reference = model.block_reference(xs)
        decoded = node_values_from_reference(layered, reference)
        for node_id, values in decoded.items():
            assert outputs_match(truth[node_id], values), (name, xs, graph.node(node_id).label)
            checked_nodes += 1
        ids, mask = model.encode([xs])
        trace = model.forward(ids, mask)
        assert first_divergence(layered, reference, trace.residuals, 1e-7) is None, (name, xs)
        assert outputs_match(rasp.evaluate(program, xs, causal=causal), model.run(xs))
    assert checked_nodes > 0


def test_cases_cover_what_tracr_gets_wrong():
    names = {c[0] for c in CASES}
    assert {"composite_and", "composite_or_not", "empty_selection", "numeric_mean"} <= names
    # The empty-selection case really decodes None somewhere.
    factory = next(c[1] for c in CASES if c[0] == "empty_selection")
    model = tk.compile(factory(), vocab={0, 1, 2}, max_seq_len=4, causal=True)
    assert model.run([2, 1, 0]) == [None, 1, 2]
    assert model.run([1, 0]) == [None, 1]
