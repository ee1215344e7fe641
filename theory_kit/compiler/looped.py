"""Looped compile: a program with a `rasp.loop` becomes a weight-shared looped transformer.

    prelude (once) -> entry MLP -> [ body -> update MLP ] x up to max_iterations -> epilogue

The body is compiled once; the runtime applies its layers again and again
(`theory_kit.model.LoopSchedule`). What each stage does:

* `substitute` replaces every Loop node by its state placeholder (`LoopVar`): the state's
  directions hold the loop-carried state at the start of every iteration, and hold the final
  state after the loop, where the epilogue (the program after the loop) reads it. The initial
  values, the body's next states and the halting flag ("until holds at every position", one
  SelectorWidth counting the positions not done) are compiled alongside as extra roots.
* `infer_loop_bases` gives the state a value set: the declared `values`, or the values of
  S_0 = values(init), S_{r+1} = S_r ∪ values(step(S_r)) (value inference over the body with
  the state holding S_r) at the fixed point, or after max_iterations rounds (every state the
  loop can reach is in S_{max_iterations}); refused with a fix (declare `values=`) when
  neither happens within MAX_FIXED_POINT_ROUNDS rounds and MAX_STATE_VALUES values.
* `loop_nodes` splits the graph: nodes that depend on the state and feed the next state or the
  flag are the body (recomputed every iteration); those that read the final state are the
  epilogue; all others run once before the loop (loop-invariant parts of the body included).
* graph_to_blocks adds the entry and update MLPs (craft.loop: snapped, gated state update) and
  blocks_to_layers places prelude, entry, body, update and epilogue in that order and erases
  every direction the body wrote by the end of each iteration.

Exactness at every iteration (the bound). The state enters each iteration as an exact one-hot
(up to the rounding of one subtraction, δ ≤ a few ulps); the body is then the same single-pass
computation the compiler derives its constants for, so its next state and flag are within
ε_body of one-hots, with ε_body below the compiler's decoding margin; the update snaps them
back to exact one-hots (exact for ε_body ≤ `craft.loop.snap_tolerance()` = 3/8). The error
after iteration k is therefore δ for every k — it does not grow with k. Verification checks it:
after every iteration the state directions are within `STATE_ATOL` of 0 or 1, and the decoded
state equals the interpreter's (`verify_loop`).
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

import numpy as np

from theory_kit.compiler.bases import infer_bases
from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.graph import program_to_graph
from theory_kit.compiler.ir import BasisAssignment, LoopNodes, ProgramGraph
from theory_kit.compiler.verify import NUMERIC_ATOL, outputs_match, values_match
from theory_kit.errors import (CompilationMismatch, EvaluationError, Problem,
                               UnsupportedProgram)
from theory_kit.progress import chunks
from theory_kit.rasp import nodes as rn
from theory_kit.rasp.interpreter import evaluate_with_traces
from theory_kit.rasp.loops import Loop, LoopSpec, _every_position
from theory_kit.rasp.tree import topological_order, topological_order_of, with_children
from theory_kit.values import typed_key, typed_unique, value_sort_key

__all__ = ["find_loop", "substitute", "infer_loop_bases", "loop_nodes", "verify_loop",
           "MAX_FIXED_POINT_ROUNDS", "MAX_STATE_VALUES", "STATE_ATOL"]

#: Value inference of the state runs at most this many rounds (then `values=` is asked for).
MAX_FIXED_POINT_ROUNDS = 64
#: ... or when the state could hold more values than this (one residual dimension each).
MAX_STATE_VALUES = 4096
#: After every iteration each state coordinate is within this of 0 or 1 (dtype-relative).
STATE_ATOL = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-4}


def find_loop(program: rn.RASPExpr) -> Optional[Loop]:
    """The first Loop node of `program` (None for a loop-free program)."""
    return next((x for x in topological_order(program) if isinstance(x, Loop)), None)


def substitute(program: rn.SOp, spec: LoopSpec) -> tuple[rn.SOp, tuple]:
    """(the program with every Loop node of `spec` replaced by its LoopVar, the extra roots:
    the initial values, the next states, then the halting flag)."""
    memo: dict[int, rn.RASPExpr] = {}
    inits: Optional[tuple] = None
    for node in topological_order(program):
        if isinstance(node, Loop):
            memo[id(node)] = spec.vars[node.index]
            inits = node.inits
            continue
        memo[id(node)] = with_children(node, tuple(memo[id(c)] for c in node.children))
    halted = _every_position(spec.halt, f"{spec.name}.halts")
    return memo[id(program)], (*inits, *spec.bodies, halted)


def _values_of(assignment: BasisAssignment, node_id: int) -> tuple[tuple, bool]:
    basis = assignment.nodes[node_id]
    return tuple(basis.values or ()), basis.may_be_none


def _union(*sets: Iterable) -> tuple:
    return tuple(sorted(typed_unique(v for s in sets for v in s), key=value_sort_key))


def infer_loop_bases(graph: ProgramGraph, config: CompileConfig, spec: LoopSpec
                     ) -> BasisAssignment:
    """Value sets with the state's set declared or found as a fixed point (module doc).

    Raises:
        UnsupportedProgram: the fixed point does not converge (the fix: declare `values=`),
            or value inference refuses a node of the program or the body.
    """
    m = len(spec.vars)
    roots = graph.extra_roots
    inits, nexts = roots[:m], roots[m:2 * m]
    # The initial values alone (inferred without the body, which needs the state's values).
    init_graph = program_to_graph(graph.node(inits[0]).expr, config,
                                  extra_roots=tuple(graph.node(i).expr for i in inits[1:]))
    init_assignment = infer_bases(init_graph, config)
    init_ids = (init_graph.output, *init_graph.extra_roots)
    state = {}
    for var, declared, i in zip(spec.vars, spec.values, init_ids):
        values, none = _values_of(init_assignment, i)
        state[var.unique_id] = (declared if declared is not None else values, none)
    rounds = min(spec.max_iterations, MAX_FIXED_POINT_ROUNDS)
    for _ in range(rounds):
        assignment = infer_bases(graph, config, state)
        grown = {}
        for var, declared, init, nxt in zip(spec.vars, spec.values, inits, nexts):
            (vi, ni), (vn, nn) = _values_of(assignment, init), _values_of(assignment, nxt)
            values = declared if declared is not None else _union(vi, vn)
            grown[var.unique_id] = (values, ni or nn)
        if all({typed_key(v) for v in grown[k][0]} == {typed_key(v) for v in state[k][0]}
               and grown[k][1] == state[k][1] for k in state):
            return assignment
        if any(len(grown[k][0]) > MAX_STATE_VALUES for k in grown):
            break
        state = grown
    else:
        if rounds == spec.max_iterations:  # every state max_iterations steps can reach
            return infer_bases(graph, config, state)
    problem = Problem(spec.name, f"the values of its state do not reach a fixed point in "
                      f"{MAX_FIXED_POINT_ROUNDS} rounds of value inference (or exceed "
                      f"{MAX_STATE_VALUES} values)",
                      "declare the state's values: rasp.loop(..., values={...})")
    raise UnsupportedProgram(f"cannot compile loop {spec.name!r}: {problem}", (problem,))


def loop_nodes(graph: ProgramGraph, spec: LoopSpec) -> LoopNodes:
    """Which graph nodes are the body, which the epilogue (module doc)."""
    m = len(spec.vars)
    roots = graph.extra_roots
    var_ids = {v.unique_id for v in spec.vars}
    depends: set[int] = set()
    for node_id in graph.order:
        if node_id in var_ids or any(c in depends for c in graph.node(node_id).children):
            depends.add(node_id)

    def reachable(starts) -> set[int]:
        exprs = [graph.node(i).expr for i in starts]
        return {x.unique_id for x in topological_order_of(exprs)}

    body = (reachable(roots[m:]) & depends) - var_ids
    epilogue = (reachable([graph.output]) & depends) - var_ids
    return LoopNodes(name=spec.name, max_iterations=spec.max_iterations,
                     states=tuple(v.unique_id for v in spec.vars), inits=roots[:m],
                     nexts=roots[m:2 * m], halted=roots[2 * m], body=frozenset(body),
                     epilogue=frozenset(epilogue))


def _exactness(model, xs_block: list) -> float:
    """The largest distance of a state coordinate (at a real position) from 0 or 1, at the
    start of the loop and after every iteration."""
    from theory_kit.model.forward import additive_mask, run_planned

    weights = model.weights
    rows = np.unique(np.concatenate([np.flatnonzero(weights.readouts[name].unembed.any(axis=1))
                                     for name in weights.loop.state]))
    worst = [0.0]
    for length in sorted({len(xs) for xs in xs_block}):
        group = [xs for xs in xs_block if len(xs) == length]
        ids, mask = model.encode(group)

        def observe(_k, x):   # x [D, T*B]; one length: every position but BOS is real
            v = x[rows].reshape(len(rows), length + 1, len(group))[:, 1:]
            worst[0] = max(worst[0], float(np.max(np.minimum(np.abs(v), np.abs(v - 1)),
                                                  initial=0.0)))
        run_planned(weights, ids, additive_mask(mask, weights.causal, ids.shape[1],
                                                weights.dtype), observe=observe)
    return worst[0]


def verify_loop(model: Any, program: rn.SOp, loop: Loop, inputs: Iterable[list], *,
                total: Optional[int] = None, chunk: int = 2000,
                desc: str = "verify loop") -> tuple[int, float]:
    """Compare the looped model with the interpreter on `inputs` (one interpreter run gives
    both, `rasp.interpreter.evaluate_with_traces`): the state after every iteration and the
    halting (`model.loop_traces` = `rasp.loop_traces`), the output (`model.run_batch` =
    `rasp.evaluate`), and every state coordinate within STATE_ATOL of 0 or 1 after every
    iteration (errors do not accumulate).

    Returns:
        (the number of inputs checked, the largest distance of a state coordinate from 0 or
        1 seen after any iteration).

    Raises:
        UnsupportedProgram: the interpreter fails on an input.
        CompilationMismatch: the first input, and iteration and component (or output
            position), where they differ.
    """
    atol = STATE_ATOL[np.dtype(model.dtype)]
    numerical = model.weights.output_encoding == "numerical"
    checked = 0
    worst = 0.0
    for block in chunks(inputs, chunk, total=total, desc=desc, unit="input"):
        try:
            want = evaluate_with_traces(program, loop, block)
        except EvaluationError as exc:
            raise UnsupportedProgram(
                f"{exc}; the loop is not defined on every input up to max_seq_len",
                (Problem(loop.spec.name, str(exc)),)) from exc
        traces = model.loop_traces(block)
        outputs = model.run_batch(block)
        for xs, (w_out, w), g, g_out in zip(block, want, traces, outputs):
            problem = _trace_difference(w, g, loop.spec)
            if problem is None and not outputs_match(
                    w_out, g_out, NUMERIC_ATOL[np.dtype(model.dtype)], numerical=numerical):
                problem = (f"the states agree after every iteration, the output does not: "
                           f"expected {w_out!r}, got {g_out!r}")
            if problem is not None:
                raise CompilationMismatch(
                    f"looped model disagrees with the interpreter on {xs!r}: {problem}",
                    input=xs, expected=w_out, got=g_out, layer=problem)
        worst = max(worst, _exactness(model, block))
        if worst > atol:
            raise CompilationMismatch(
                f"loop {loop.spec.name!r}: a state coordinate is {worst:.3g} away from 0 "
                f"or 1 after an iteration (allowed {atol:g}): errors could accumulate "
                "across iterations", input=block[0], expected=None, got=worst,
                layer="loop update")
        checked += len(block)
    return checked, worst


def _trace_difference(want, got, spec: LoopSpec) -> Optional[str]:
    if got.iterations != want.iterations:
        return (f"the interpreter takes {want.iterations} iterations "
                f"({'halted' if want.halted else 'max_iterations reached'}), the model "
                f"{got.iterations}")
    for k, (ws, gs) in enumerate(zip(want.states, got.states)):
        for j, (w, g) in enumerate(zip(ws, gs)):
            for q, (a, b) in enumerate(zip(w, g)):
                if not values_match(a, b, numerical=False):
                    return (f"after {k} iterations, state {spec.vars[j].label!r} at position "
                            f"{q} is {b!r}, expected {a!r}")
    if got.halted != want.halted:
        return f"halted is {got.halted}, expected {want.halted}"
    return None
