"""Loops in RASP: a body applied again and again to loop-carried state, until a halting condition.

    state = rasp.loop(step, init, until=halted, max_iterations=N)

runs, per input sequence (the reference semantics, `rasp.interpreter`):

    s = init
    for _ in range(N):
        if until(s) is True at every position: break     # halting is per sequence
        s = step(s)
    return s

`step` and `until` are Python functions from the state to SOps; `loop` applies each once to a
placeholder (`LoopVar`) to build the body: ordinary RASP over the placeholder, `tokens`,
`indices`, `length` and any SOp computed before the loop. The state is one SOp, or a tuple of
SOps (then `step` takes and returns a tuple and `loop` returns one SOp per component). The
halting condition is a boolean SOp: the sequence halts when it is True at every position, so
"no position changed" is `until=lambda s: step(s) == s` and "every position done" is a
per-position flag. Once halted, the state no longer changes (iterations past halting are a fixed
point), and a sequence that has not halted after `max_iterations` keeps the state reached then.

Halting reads every position, so loops are evaluated with `causal=False`.

`values` declares the state's value set (the compiler otherwise infers it as a fixed point of
the body from the initial values); the interpreter checks every state against it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional, Sequence, Union

from theory_kit.errors import InvalidProgram
from theory_kit.rasp import nodes as n
from theory_kit.rasp.tree import child_fields, topological_order, topological_order_of, with_children
from theory_kit.values import typed_key, typed_unique, value_sort_key

__all__ = ["LoopVar", "Loop", "LoopSpec", "loop", "unroll"]


class LoopVar(n.SOp):
    """The loop-carried state at the start of an iteration (a placeholder leaf of the body).

    It has a value only inside the body of its own loop; `loop` creates it, the user never
    does."""

    _default_name = "state"

    def __init__(self, name: str, encoding: n.Encoding):
        super().__init__()
        self._set(_annotations=n.MappingProxyType({"name": name, "encoding": encoding}))


class LoopSpec:
    """What every component of one loop shares: the placeholders, the next-state SOps (the
    body), the halting SOp, `max_iterations` and the declared value sets. Frozen."""

    __slots__ = ("vars", "bodies", "halt", "max_iterations", "values", "name")

    def __init__(self, vars: tuple, bodies: tuple, halt: n.SOp, max_iterations: int,
                 values: tuple, name: str):
        for key, value in (("vars", vars), ("bodies", bodies), ("halt", halt),
                           ("max_iterations", max_iterations), ("values", values),
                           ("name", name)):
            object.__setattr__(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        raise InvalidProgram(f"loop {self.name!r} is frozen: cannot set {key!r}")

    @property
    def roots(self) -> tuple[n.SOp, ...]:
        """The body's outputs: the halting SOp, then one next-state SOp per component."""
        return (self.halt, *self.bodies)

    def __repr__(self) -> str:
        return f"LoopSpec({self.name!r}, components={len(self.vars)}, " \
               f"max_iterations={self.max_iterations})"


class Loop(n.SOp):
    """Component `index` of the state a loop reaches (see the module docstring).

    Its children are the initial values of every component (the loop needs all of them); the
    body, in `spec`, is a separate scope whose leaves include the `LoopVar`s."""

    _default_name = "loop"

    def __init__(self, inits: Sequence[n.SOp], spec: LoopSpec, index: int):
        super().__init__()
        fields = tuple(f"init{i}" for i in range(len(inits)))
        self._set(_child_fields=fields, spec=spec, index=index,
                  **dict(zip(fields, inits)))

    @property
    def inits(self) -> tuple[n.SOp, ...]:
        return self.children


def _check_sops(what: str, got: Any, arity: Optional[int], name: str) -> tuple[n.SOp, ...]:
    """`got` as a tuple of SOps (one SOp when arity is None), or InvalidProgram naming it."""
    items = (got,) if arity is None else got
    if arity is not None and (not isinstance(got, (tuple, list)) or len(got) != arity):
        raise InvalidProgram(
            f"loop {name!r}: {what} must return a tuple of {arity} SOps (one per state "
            f"component), got {type(got).__name__} {got!r:.80}")
    bad = [x for x in items if not isinstance(x, n.SOp)]
    if bad:
        kind = "a Selector" if isinstance(bad[0], n.Selector) else type(bad[0]).__name__
        raise InvalidProgram(
            f"loop {name!r}: {what} must give SOps, got {kind} {bad[0]!r:.80}")
    return tuple(items)


def _declared(values: Any, arity: Optional[int], name: str) -> tuple:
    """The declared value sets, one sorted tuple (or None) per component."""
    if values is None:
        return (None,) * (arity or 1)
    per = (values,) if arity is None else values
    if arity is not None and (not isinstance(per, (tuple, list)) or len(per) != arity):
        raise InvalidProgram(
            f"loop {name!r}: values must give one value set per state component ({arity}), "
            f"got {values!r:.80}")
    out = []
    for i, vs in enumerate(per):
        if vs is None:
            out.append(None)
            continue
        if isinstance(vs, (str, bytes)) or not isinstance(vs, Iterable):
            raise InvalidProgram(
                f"loop {name!r}: the value set of component {i} must be a collection of values, "
                f"got {type(vs).__name__} {vs!r:.60}")
        vs = list(vs)
        try:
            hash(tuple(vs))
        except TypeError:
            raise InvalidProgram(
                f"loop {name!r}: the values of component {i} must be hashable, got "
                f"{vs!r:.80}") from None
        if not vs:
            raise InvalidProgram(f"loop {name!r}: the value set of component {i} is empty")
        out.append(tuple(sorted(typed_unique(vs), key=value_sort_key)))
    return tuple(out)


def loop(step: Callable, init: Union[n.SOp, Sequence[n.SOp]], *, until: Callable,
         max_iterations: int, values: Any = None, name: Optional[str] = None):
    """Iterate `step` on the state, starting from `init`, until `until(state)` holds at every
    position or `max_iterations` steps were taken.

    Args:
        step: state -> next state (SOps; a tuple when `init` is a tuple), built once on
            placeholders.
        init: the initial state: an SOp, or a tuple/list of SOps (one per component).
        until: state -> boolean SOp; the sequence halts when it is True at every position.
        max_iterations: the most steps taken (a positive int).
        values: optional declared value set of the state (one collection per component when
            `init` is a tuple); every state the interpreter reaches is checked against it.
        name: the loop's name (labels `name`, `name.state0`, ...); default `loop_<id>`.

    Returns:
        The state after halting: an SOp, or a tuple of SOps when `init` is a tuple.

    Raises:
        InvalidProgram: a bad argument, or `step`/`until` returning something other than SOps
            (the message names the loop and the value).

    Example:
        >>> from theory_kit import rasp
        >>> flip = loop(lambda s: rasp.Map(lambda x: 1 - x, s), rasp.Full(0),
        ...             until=lambda s: s == 1, max_iterations=3)
        >>> flip([5, 5])
        [1, 1]
    """
    if not callable(step) or not callable(until):
        bad = "step" if not callable(step) else "until"
        raise InvalidProgram(f"loop: {bad} must be a function of the state, got "
                             f"{type(step if bad == 'step' else until).__name__}")
    if isinstance(max_iterations, bool) or not isinstance(max_iterations, int) \
            or max_iterations < 1:
        raise InvalidProgram(f"loop: max_iterations must be a positive int, got "
                             f"{type(max_iterations).__name__} {max_iterations!r:.40}")
    if name is not None and (not isinstance(name, str) or not name):
        raise InvalidProgram(f"loop: name must be a non-empty string, got {name!r:.60}")
    arity = len(init) if isinstance(init, (tuple, list)) else None
    if arity == 0:
        raise InvalidProgram("loop: init must be an SOp or a non-empty tuple of SOps, got ()")
    label = name or f"loop_{next(n._ids)}"
    inits = _check_sops("init", init, arity, label)
    declared = _declared(values, arity, label)
    vars_ = tuple(LoopVar(f"{label}.state{i}" if arity is not None else f"{label}.state",
                          n.get_encoding(s)) for i, s in enumerate(inits))
    placeholder = vars_ if arity is not None else vars_[0]
    bodies = _check_sops("step", step(placeholder), arity, label)
    halt = _check_sops("until", until(placeholder), None, label)[0]
    spec = LoopSpec(vars_, bodies, halt, max_iterations, declared, label)
    outs = []
    for i, s in enumerate(inits):
        out = Loop(inits, spec, i)
        out_name = label if arity is None else f"{label}[{i}]"
        outs.append(n.annotate(out, name=out_name, encoding=n.get_encoding(s)))
    return tuple(outs) if arity is not None else outs[0]


# -- unrolling: a loop as a single-pass program of max_iterations gated copies of its body --------
def unroll(program: n.RASPExpr) -> n.RASPExpr:
    """An equivalent loop-free program: every loop becomes `max_iterations` copies of its body,
    each gated by the halting condition of the state it starts from,

        s_{k+1} = s_k if until(s_k) holds at every position else step(s_k),

    with "every position" computed by one SelectorWidth (the number of positions not done).
    Body nodes that do not depend on the state are shared by all copies (computed once); the
    copies of a named node are named `name@k` (iteration k; `name@k.j` inside nested loops).
    The unrolled program compiles with `theory_kit.compile` like any other (fixed depth, no
    weight sharing) and equals the loop on every input where the loop's halting condition is
    boolean; a state outside the declared `values` raises as in the loop. Every copy of the
    body is evaluated, so a step that raises on a state where the loop has already halted
    raises in the unrolled program (and compile refuses it), though the loop does not.

    Raises:
        InvalidProgram: a loop whose state is numerical (the gate is a categorical lookup).
    """
    memo: dict[int, n.RASPExpr] = {}
    loops: dict[tuple, tuple] = {}
    for node in topological_order(program):
        kids = tuple(memo[id(c)] for c in node.children)
        if isinstance(node, Loop):
            memo[id(node)] = _unrolled(node, kids, {}, "", loops)
        else:
            memo[id(node)] = with_children(node, kids)
    return memo[id(program)]


def _unrolled(node: Loop, inits: tuple, scope: dict, tag: str, done: dict) -> n.SOp:
    """Component `node.index` of the unrolled loop; `done` caches every component of a spec
    (keyed by the spec and the Loop node's id) so a multi-component loop is unrolled once."""
    spec = node.spec
    key = ("loop", id(spec), tag) + tuple(id(i) for i in inits)
    if key not in done:
        bad = [v.label for v in spec.vars if n.is_numerical(v)]
        if bad:
            raise InvalidProgram(
                f"loop {spec.name!r}: unroll needs categorical state, {bad[0]!r} is numerical "
                "(each copy of the body is gated by a lookup on the state's values)")
        state = tuple(_checked(spec, i, s, f"{tag}0") for i, s in enumerate(inits))
        for k in range(spec.max_iterations):
            sub = dict(scope)
            sub.update((id(v), s) for v, s in zip(spec.vars, state))
            copy_tag = f"{tag}{k}"
            halt, *nexts = _instantiate(spec.roots, sub, copy_tag, done)
            halted = _every_position(halt, f"{spec.name}.halted@{copy_tag}")
            state = tuple(
                _checked(spec, i, _gate(halted, old, new, f"{v.label}@{tag}{k + 1}"), f"{tag}{k + 1}")
                for i, (v, old, new) in enumerate(zip(spec.vars, state, nexts)))
        done[key] = state
    final = done[key][node.index]
    return n.annotate(final, name=node.label if not tag else f"{node.label}@{tag[:-1]}",
                      encoding=n.get_encoding(node))


def _instantiate(roots: tuple, sub: dict, tag: str, done: dict) -> list:
    """Copies of the body `roots` with the LoopVars replaced by `sub` (id -> SOp): nodes that
    depend on a replaced var are new nodes named `label@tag`; the others are shared."""
    memo: dict[int, n.RASPExpr] = dict(sub)
    for x in topological_order_of(roots):
        if id(x) in memo:
            continue
        if isinstance(x, LoopVar):
            raise InvalidProgram(f"{x.label!r} is read outside the body of its loop")
        kids = tuple(memo[id(c)] for c in x.children)
        if isinstance(x, Loop):
            memo[id(x)] = _unrolled(x, kids, sub, f"{tag}.", done)
        elif all(a is b for a, b in zip(kids, x.children)):
            memo[id(x)] = x  # does not depend on the state: shared by every copy
        else:
            fresh = x._replace(**dict(zip(child_fields(x), kids)))
            memo[id(x)] = n.annotate(fresh, name=f"{x.label}@{tag}")
    return [memo[id(r)] for r in roots]


def _every_position(flag: n.SOp, name: str) -> n.SOp:
    """True at every position iff `flag` is True at every position (a boolean; anything else
    raises, as the loop's halting check does)."""
    def strict(h, label=flag.label):
        if h is not True and h is not False:
            raise ValueError(f"the halting condition {label!r} must be True or False, got {h!r}")
        return h
    checked = n.Map(strict, flag, simplify=False)
    not_done = n.SelectorWidth(n.Select(checked, checked, lambda k, q: k is False))
    return n.annotate(n.Map(lambda w: w == 0, not_done), name=name)


#: What the gate's copy of the next state holds where the loop has halted (never a state value).
HALTED = "<halted>"


def _gate(halted: n.SOp, old: n.SOp, new: n.SOp, name: str) -> n.SOp:
    """`old` where the loop has halted, else `new`, even where `new` is None (a Map or
    SequenceMap of None is None, so `new` cannot be read directly): a head copies `new` from the
    query's own position only while not halted (else the default HALTED), then a lookup on
    (that, old) picks."""
    live = n.SequenceMap(lambda h, i: -1 if h else i, halted, n.indices)
    fresh = n.Aggregate(n.Select(n.indices, live, n.Comparison.EQ), new, default=HALTED)
    return n.annotate(n.SequenceMap(lambda a, o: o if _is_halted(a) else a, fresh, old),
                      name=name)


def _is_halted(value) -> bool:
    return isinstance(value, str) and value == HALTED


def _checked(spec: LoopSpec, i: int, sop: n.SOp, tag: str) -> n.SOp:
    """`sop`, checked against the declared values of component i (raises outside them)."""
    declared = spec.values[i]
    if declared is None:
        return sop
    keys = frozenset(typed_key(v) for v in declared)

    def check(v, keys=keys, name=spec.name):
        if typed_key(v) not in keys:
            raise ValueError(f"loop {name!r}: state value {v!r} is outside its declared values")
        return v
    return n.annotate(n.Map(check, sop, simplify=False), name=f"{spec.vars[i].label}.checked@{tag}")
