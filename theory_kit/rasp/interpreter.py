"""The reference interpreter: the oracle every compiled model is checked against.

Semantics are Tracr's (`rasp.evaluate`), with two deliberate, documented differences:
  * a numerical Aggregate averages floats too (Tracr raises on a float exemplar);
  * a categorical Aggregate that selects several *different* values raises EvaluationError
    (Tracr returns their mean, a value no categorical transformer can output); values are
    the same only when equal *and* of the same type (1, True and 1.0 are three values).
A fused Map (`Map(f, Map(g, x))`) is None wherever g returns None, as the unfused pair is.
Causal mode masks every selector at the point it is consumed (Aggregate, SelectorWidth) to
keys k <= query q, and `length` is the prefix length q + 1: position q then depends only on
input[:q + 1], exactly what a decoder with a causal mask computes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType, MethodType
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from theory_kit.errors import EvaluationError, InvalidInput, InvalidProgram
from theory_kit.rasp import nodes as n
from theory_kit.rasp.loops import Loop, LoopVar
# topological_order is re-exported here (its old home)
from theory_kit.rasp.tree import topological_order, topological_order_of
from theory_kit.values import check_input, same_value, typed_key

__all__ = ["evaluate", "evaluate_batch", "evaluate_all", "loop_trace", "loop_traces", "LoopTrace",
           "evaluate_with_traces",
           "topological_order", "check_input", "RULES"]


def _type_signature(value: Any):
    """The types of `value` and, for tuples, of every element at every depth."""
    if isinstance(value, tuple):
        return tuple([_type_signature(v) if isinstance(v, tuple) else type(v) for v in value])
    return type(value)


class _Evaluator:
    """Evaluates one program on many inputs, caching f(value) per node (functions are pure)."""

    def __init__(self, program: Optional[n.RASPExpr], causal: bool, *,
                 roots: Sequence[n.RASPExpr] = ()):
        if not isinstance(causal, bool) and type(causal).__name__ != "bool_":  # numpy.bool_ ok
            raise InvalidInput(f"causal must be True or False, got {type(causal).__name__} "
                               f"{causal!r:.60}")
        causal = bool(causal)
        if program is not None and not isinstance(program, n.RASPExpr):
            raise InvalidProgram(f"expected a RASP expression, got {type(program).__name__} "
                                 f"{program!r:.60}")
        self.program = program
        self.order = topological_order_of((program,) if program is not None else tuple(roots))
        self.causal = causal
        self.map_cache: dict[int, dict] = {}
        #: Loops: the body evaluators (their caches live as long as this one), the LoopVar
        #: values of the enclosing loops during one run, and each loop's trace on this input.
        self.bodies: dict[int, "_Evaluator"] = {}
        self.scope: dict[int, list] = {}
        self.loop_runs: dict[int, LoopTrace] = {}
        self.halt_order: list = []  # a loop body's: the halting condition's nodes
        if causal:
            looped = [node for node in self.order if isinstance(node, Loop)]
            if looped:
                raise InvalidProgram(
                    f"loop {looped[0].spec.name!r}: a loop halts when its condition holds at "
                    "every position, which reads later positions; loops are evaluated with "
                    "causal=False")
        self.dispatch: dict[type, Callable] = {
            cls: MethodType(rule, self) for cls, rule in RULES.items()}
        for node in self.order:
            if type(node) not in self.dispatch:
                raise InvalidProgram(
                    f"{node.label!r}: the interpreter has no rule for node class "
                    f"{type(node).__name__}; subclass one of the RASP node classes' "
                    "semantics is not supported")

    def run_all(self, xs: list, scope: Optional[Mapping[int, list]] = None) -> dict[int, list]:
        """Every node's value on `xs`; `scope` gives the LoopVars' values (inside a loop body)."""
        self.scope = dict(scope or {})
        self.loop_runs = {}
        return self.run_nodes(self.order, xs, dict(self.scope))

    def run_nodes(self, nodes: Sequence[n.RASPExpr], xs: list, values: dict) -> dict[int, list]:
        """Evaluate `nodes` (children first) into `values`, skipping those already there."""
        for node in nodes:
            if id(node) not in values:
                values[id(node)] = self.dispatch[type(node)](node, xs, values)
        return values

    # -- helpers ----------------------------------------------------------------------------
    def _cached(self, node, key, compute):
        cache = self.map_cache.setdefault(id(node), {})
        # Key on the types too, recursively: 1, 1.0 and True hash alike (also inside nested
        # tuples such as (True, 0) vs (1, 0)) but a function may tell them apart.
        key = (key, _type_signature(key))
        try:
            return cache[key]
        except KeyError:
            pass
        except TypeError:  # unhashable intermediate value: no caching
            return compute()
        value = compute()
        cache[key] = value
        return value

    def _call(self, node, f, args):
        try:
            out = f(*args)
        except Exception as exc:  # the user's function failed: say where and on what
            shown = args[0] if len(args) == 1 else args
            raise EvaluationError(
                f"{type(node).__name__} {node.label!r}: its function raised "
                f"{type(exc).__name__}({exc}) on value {shown!r:.80}") from exc
        if isinstance(out, float) and not math.isfinite(out):
            raise EvaluationError(
                f"{type(node).__name__} {node.label!r}: its function returned {out!r} on value "
                f"{(args[0] if len(args) == 1 else args)!r:.80}; values must be finite")
        return out

    def _mask(self, rows: list[list[bool]]) -> list[list[bool]]:
        if not self.causal:
            return rows
        return [[s and k <= q for k, s in enumerate(row)] for q, row in enumerate(rows)]

    # -- rules ------------------------------------------------------------------------------
    def _tokens(self, node, xs, values):
        return list(xs)

    def _indices(self, node, xs, values):
        return list(range(len(xs)))

    def _length(self, node, xs, values):
        if self.causal:
            return [q + 1 for q in range(len(xs))]
        return [len(xs)] * len(xs)

    def _map(self, node, xs, values):
        f = node.f
        return [None if x is None else self._cached(node, x, lambda x=x: self._call(node, f, (x,)))
                for x in values[id(node.inner)]]

    def _sequence_map(self, node, xs, values):
        f = node.f
        return [None if x is None or y is None
                else self._cached(node, (x, y), lambda x=x, y=y: self._call(node, f, (x, y)))
                for x, y in zip(values[id(node.fst)], values[id(node.snd)])]

    def _full(self, node, xs, values):
        return [node.fill] * len(xs)

    def _constant_sop(self, node, xs, values):
        if node.check_length and len(node.value) != len(xs):
            raise InvalidInput(
                f"ConstantSOp {node.label!r} has length {len(node.value)} but the input has "
                f"length {len(xs)}")
        return list(node.value)

    def _constant_selector(self, node, xs, values):
        if node.check_length and len(node.value) != len(xs):
            raise InvalidInput(
                f"ConstantSelector {node.label!r} has {len(node.value)} rows but the input has "
                f"length {len(xs)}")
        return [list(row) for row in node.value]

    def _select(self, node, xs, values):
        pred = node.predicate
        keys, queries = values[id(node.keys)], values[id(node.queries)]

        def check(k, q):
            if k is None or q is None:
                raise EvaluationError(
                    f"Select {node.label!r}: a {'key' if k is None else 'query'} is None "
                    f"(keys={keys!r:.80}, queries={queries!r:.80}); selectors need values "
                    "everywhere")
            return self._call(node, lambda a, b: bool(pred(a, b)), (k, q))

        return [[self._cached(node, (k, q), lambda k=k, q=q: check(k, q)) for k in keys]
                for q in queries]

    def _selector_and(self, node, xs, values):
        a, b = values[id(node.fst)], values[id(node.snd)]
        return [[x and y for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]

    def _selector_or(self, node, xs, values):
        a, b = values[id(node.fst)], values[id(node.snd)]
        return [[x or y for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]

    def _selector_not(self, node, xs, values):
        return [[not x for x in row] for row in values[id(node.inner)]]

    def _selector_width(self, node, xs, values):
        return [sum(row) for row in self._mask(values[id(node.selector)])]

    def _aggregate(self, node, xs, values):
        rows = self._mask(values[id(node.selector)])
        vals = values[id(node.sop)]
        numeric = n.is_numerical(node)
        out = []
        for q, row in enumerate(rows):
            selected = [v for s, v in zip(row, vals) if s]
            out.append(self._aggregate_row(node, q, selected, numeric))
        return out

    def _aggregate_row(self, node, q, selected, numeric):
        if not selected:
            return node.default
        if any(v is None for v in selected):
            return None
        if numeric:
            if not all(isinstance(v, (int, float)) for v in selected):
                raise EvaluationError(
                    f"numerical Aggregate {node.label!r} at position {q}: selected "
                    f"non-numeric values {selected!r:.80}")
            return sum(selected) / len(selected)
        first = selected[0]
        if all(same_value(v, first) for v in selected[1:]):  # 1, True and 1.0 differ
            return first
        raise EvaluationError(
            f"categorical Aggregate {node.label!r} at position {q} selected several different "
            f"values {selected!r:.80}; a categorical aggregate must select one value (make the "
            "selector pick one position, or annotate with rasp.numerical(...) to average)")

    # -- loops (rasp.loops) -----------------------------------------------------------------
    def _loop_var(self, node, xs, values):
        raise InvalidProgram(
            f"{node.label!r} is the state of a loop and has a value only inside that loop's "
            "body (step and until); use the SOp that rasp.loop returns outside it")

    def _loop(self, node, xs, values):
        spec = node.spec
        trace = self.loop_runs.get(id(spec))
        if trace is None:
            trace = self._run_loop(spec, tuple(values[id(c)] for c in node.inits), xs)
            self.loop_runs[id(spec)] = trace
        return list(trace.states[-1][node.index])

    def _run_loop(self, spec, state: tuple, xs: list) -> "LoopTrace":
        body = self.bodies.get(id(spec))
        if body is None:
            body = self.bodies[id(spec)] = _Evaluator(None, False, roots=spec.roots)
            # the halting condition first: the step is evaluated only when it is taken
            body.halt_order = topological_order(spec.halt)
        state = tuple(tuple(s) for s in state)
        _check_declared(spec, state, 0)
        states = [state]
        while True:
            scope = dict(self.scope)
            scope.update((id(v), list(s)) for v, s in zip(spec.vars, state))
            body.scope, body.loop_runs = scope, {}
            values = body.run_nodes(body.halt_order, xs, dict(scope))
            flags = values[id(spec.halt)]
            for q, flag in enumerate(flags):
                if flag is not True and flag is not False:
                    raise EvaluationError(
                        f"loop {spec.name!r}: its halting condition {spec.halt.label!r} is "
                        f"{flag!r:.40} at position {q} after {len(states) - 1} iterations; it "
                        "must be True or False at every position (e.g. compare with ==)")
            if all(flags):
                return LoopTrace(tuple(states), True)
            if len(states) > spec.max_iterations:
                return LoopTrace(tuple(states), False)
            values = body.run_nodes(body.order, xs, values)
            state = tuple(tuple(values[id(b)]) for b in spec.bodies)
            _check_declared(spec, state, len(states))
            states.append(state)


def _check_declared(spec, state: tuple, iteration: int) -> None:
    for i, (declared, values) in enumerate(zip(spec.values, state)):
        if declared is None:
            continue
        keys = {typed_key(v) for v in declared}
        for q, v in enumerate(values):
            if typed_key(v) not in keys:
                where = spec.name if len(spec.vars) == 1 else f"{spec.name}[{i}]"
                raise EvaluationError(
                    f"loop {spec.name!r}: the state {where!r} is {v!r:.40} at position {q} "
                    f"after {iteration} iterations, outside its declared values "
                    f"{list(declared)!r:.80}")


@dataclass(frozen=True)
class LoopTrace:
    """A loop's state after every iteration on one input: `states[0]` is the initial state,
    `states[i]` the state after i iterations, each a tuple (one per component) of tuples (one
    value per position). `halted`: the halting condition held at the last state (otherwise
    max_iterations stopped it)."""

    states: tuple
    halted: bool

    @property
    def iterations(self) -> int:
        """How many times the body was applied."""
        return len(self.states) - 1


#: The interpreter's rule for each node class (dispatch is on the exact class: a subclass of a
#: node class is refused, since its semantics may differ).
RULES: Mapping[type, Callable] = MappingProxyType({
    n.TokensType: _Evaluator._tokens, n.IndicesType: _Evaluator._indices,
    n.LengthType: _Evaluator._length, n.Map: _Evaluator._map,
    n.SequenceMap: _Evaluator._sequence_map, n.LinearSequenceMap: _Evaluator._sequence_map,
    n.Full: _Evaluator._full, n.ConstantSOp: _Evaluator._constant_sop,
    n.SelectorWidth: _Evaluator._selector_width, n.Aggregate: _Evaluator._aggregate,
    n.Select: _Evaluator._select, n.ConstantSelector: _Evaluator._constant_selector,
    n.SelectorAnd: _Evaluator._selector_and, n.SelectorOr: _Evaluator._selector_or,
    n.SelectorNot: _Evaluator._selector_not,
    LoopVar: _Evaluator._loop_var, Loop: _Evaluator._loop,
})


def _as_output(program: n.RASPExpr, value: list) -> list:
    return [list(row) for row in value] if isinstance(program, n.Selector) else list(value)


def evaluate(program: n.RASPExpr, input_sequence: Sequence, *, causal: bool = False) -> list:
    """Evaluate `program` on one input: the reference semantics of theory_kit.

    Args:
        program: an SOp (or Selector) built from `theory_kit.rasp`.
        input_sequence: the tokens (no BOS), e.g. [1, 2, 3] or "abc".
        causal: evaluate as a decoder would: selectors see only keys k <= query q.

    Returns:
        A list with one value per position (`None` where an aggregate selected nothing and
        has default None); for a Selector, a list of boolean rows (row q = query q).

    Raises:
        InvalidProgram: malformed program. InvalidInput: malformed input.
        EvaluationError: a node's function raised or produced an invalid value.
    """
    evaluator = _Evaluator(program, causal)
    xs = check_input(input_sequence)
    return _as_output(program, evaluator.run_all(xs)[id(program)])


def evaluate_all(program: n.RASPExpr, input_sequence: Sequence, *,
                 causal: bool = False) -> dict[int, list]:
    """Every node's value on one input, keyed by `node.unique_id` (for layer-level oracles)."""
    evaluator = _Evaluator(program, causal)
    xs = check_input(input_sequence)
    values = evaluator.run_all(xs)
    return {node.unique_id: values[id(node)] for node in evaluator.order}


def evaluate_batch(program: n.RASPExpr, inputs: Iterable[Sequence], *,
                   causal: bool = False) -> list[list]:
    """`evaluate` on many inputs, sharing one cache of function values (much faster).

    Raises:
        The same errors as `evaluate`, naming the index of the offending input.
    """
    evaluator = _Evaluator(program, causal)
    return [_as_output(program, evaluator.run_all(xs)[id(program)])
            for xs in _checked_inputs(inputs, "evaluate_batch")]


def _checked_inputs(inputs: Iterable[Sequence], where: str):
    """Each input of a batch, checked (`check_input`), the error naming its index."""
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Iterable):
        raise InvalidInput(f"{where}: inputs must be an iterable of input sequences, "
                           f"got {type(inputs).__name__} {inputs!r:.60}")
    for i, seq in enumerate(inputs):
        yield check_input(seq, where=f"{where} (input {i})")


def evaluate_with_traces(program: n.RASPExpr, loop: Loop, inputs: Iterable[Sequence]
                         ) -> list[tuple[list, LoopTrace]]:
    """(`evaluate(program, xs)`, `loop_trace(loop, xs)`) for each input, from one evaluation
    (`loop` is a loop of `program`): what a compiled looped model is verified against.

    Raises:
        InvalidProgram: `loop` is not a loop of `program`.
        The errors of `evaluate_batch` otherwise.
    """
    evaluator = _Evaluator(program, False)
    if not isinstance(loop, Loop) or not any(x is loop for x in evaluator.order):
        raise InvalidProgram(f"evaluate_with_traces: {loop!r:.60} is not a loop of "
                             f"{program.label!r}")
    out = []
    for xs in _checked_inputs(inputs, "evaluate_with_traces"):
        values = evaluator.run_all(xs)
        out.append((_as_output(program, values[id(program)]), evaluator.loop_runs[id(loop.spec)]))
    return out


def loop_trace(loop: Loop, input_sequence: Sequence, *, causal: bool = False) -> LoopTrace:
    """The state of `loop` (an SOp returned by `rasp.loop`) after every iteration on one input:
    the looped oracle that compiled loops are checked against iteration by iteration.

    Raises:
        InvalidProgram: `loop` is not a loop's output (or causal=True).
        The errors of `evaluate` otherwise.
    """
    return loop_traces(loop, [input_sequence], causal=causal)[0]


def loop_traces(loop: Loop, inputs: Iterable[Sequence], *,
                causal: bool = False) -> list[LoopTrace]:
    """`loop_trace` on many inputs, sharing one cache of function values (much faster).

    Raises:
        The errors of `loop_trace`, naming the index of the offending input.
    """
    if not isinstance(loop, Loop):
        raise InvalidProgram(f"loop_trace: expected an SOp returned by rasp.loop, got "
                             f"{type(loop).__name__} {loop!r:.60}")
    evaluator = _Evaluator(loop, causal)
    traces = []
    for xs in _checked_inputs(inputs, "loop_traces"):
        evaluator.run_all(xs)
        traces.append(evaluator.loop_runs[id(loop.spec)])
    return traces
