"""A readable one-node-per-line rendering of a RASP program (for failure messages)."""

from __future__ import annotations

from collections import Counter
from types import MappingProxyType
from typing import Callable, Mapping

from theory_kit.errors import InvalidProgram
from theory_kit.rasp import nodes as n
from theory_kit.rasp.loops import Loop, LoopVar
from theory_kit.rasp.tree import topological_order
from theory_kit.testing.functions import describe_function

__all__ = ["format_program", "RULES"]

_PRIMITIVES = (n.TokensType, n.IndicesType, n.LengthType)


# -- one rendering rule per node class: rule(node, ref) -> text, where ref(child) renders a
# -- child (its name, or the child inline) -----------------------------------------------------
Ref = Callable[[n.RASPExpr], str]


def _primitive(node, ref: Ref) -> str:
    return node.label


def _map(node, ref: Ref) -> str:
    return f"Map({describe_function(node.f)}, {ref(node.inner)})"


def _sequence_map(node, ref: Ref) -> str:
    return f"SequenceMap({describe_function(node.f)}, {ref(node.fst)}, {ref(node.snd)})"


def _linear_sequence_map(node, ref: Ref) -> str:
    return (f"LinearSequenceMap({ref(node.fst)}, {ref(node.snd)}, "
            f"{node.fst_fac!r}, {node.snd_fac!r})")


def _full(node, ref: Ref) -> str:
    return f"Full({node.fill!r})"


def _constant_sop(node, ref: Ref) -> str:
    return f"ConstantSOp({list(node.value)!r})"


def _select(node, ref: Ref) -> str:
    return f"Select({ref(node.keys)}, {ref(node.queries)}, {describe_function(node.predicate)})"


def _constant_selector(node, ref: Ref) -> str:
    return f"ConstantSelector({[list(r) for r in node.value]!r})"


def _aggregate(node, ref: Ref) -> str:
    default = "" if node.default is None else f", default={node.default!r}"
    return f"Aggregate({ref(node.selector)}, {ref(node.sop)}{default})"


def _selector_width(node, ref: Ref) -> str:
    return f"SelectorWidth({ref(node.selector)})"


def _selector_and(node, ref: Ref) -> str:
    return f"SelectorAnd({ref(node.fst)}, {ref(node.snd)})"


def _selector_or(node, ref: Ref) -> str:
    return f"SelectorOr({ref(node.fst)}, {ref(node.snd)})"


def _selector_not(node, ref: Ref) -> str:
    return f"SelectorNot({ref(node.inner)})"


def _loop(node, ref: Ref) -> str:
    """The loop's inits, its limit and which component; the body (halting condition first,
    then one next-state SOp per component) indented below, as its own program."""
    spec = node.spec
    inits = ", ".join(ref(c) for c in node.children)
    body = []
    for what, root in (("until", spec.halt), *((f"next[{i}]" if len(spec.bodies) > 1 else "next",
                                                 b) for i, b in enumerate(spec.bodies))):
        body.append(f"    # {what}")
        body += ["    " + line for line in format_program(root).splitlines()]
    return (f"Loop({inits}, max_iterations={spec.max_iterations})[{node.index}] with state "
            f"{', '.join(v.label for v in spec.vars)}:\n" + "\n".join(body))


#: How each node class is rendered. A subclass of a node class uses its nearest base's rule.
RULES: Mapping[type, Callable[[n.RASPExpr, Ref], str]] = MappingProxyType({
    n.TokensType: _primitive, n.IndicesType: _primitive, n.LengthType: _primitive,
    n.Map: _map, n.SequenceMap: _sequence_map, n.LinearSequenceMap: _linear_sequence_map,
    n.Full: _full, n.ConstantSOp: _constant_sop, n.Select: _select,
    n.ConstantSelector: _constant_selector, n.Aggregate: _aggregate,
    n.SelectorWidth: _selector_width, n.SelectorAnd: _selector_and,
    n.SelectorOr: _selector_or, n.SelectorNot: _selector_not,
    Loop: _loop, LoopVar: _primitive,
})


def format_program(program: n.RASPExpr) -> str:
    """Render `program` as one line per SOp, children first, the output last.

    Selectors used once are written inline; shared nodes get their own line and are referred
    to by name. Numerical SOps are marked `# numerical`.

    Args:
        program: any RASP expression.

    Returns:
        A multi-line string, e.g.::

            opp_idx = Map(lambda x: x - 1 [...], length)
            reverse = Aggregate(Select(indices, opp_idx, EQ), tokens)

    Raises:
        InvalidProgram: `program` is not a RASP expression or has a cycle.

    Example:
        >>> from theory_kit import rasp
        >>> print(format_program(rasp.Map(lambda x: x + 1, rasp.tokens).named("inc")))
        inc = Map(lambda x: x + 1, tokens)
    """
    order = topological_order(program)
    uses: Counter = Counter()
    for node in order:
        for child in node.children:
            uses[id(child)] += 1
    own_line = {id(node) for node in order
                if not isinstance(node, _PRIMITIVES)
                and (isinstance(node, n.SOp) or uses[id(node)] > 1 or node is program)}

    def ref(node: n.RASPExpr) -> str:
        if isinstance(node, _PRIMITIVES) or id(node) in own_line:
            return node.label
        return render(node)

    def render(node: n.RASPExpr) -> str:
        for cls in type(node).__mro__:
            rule = RULES.get(cls)
            if rule is not None:
                return rule(node, ref)
        raise InvalidProgram(f"format_program: unknown node class {type(node).__name__} "
                             f"({node.label!r})")

    lines = []
    for node in order:
        if id(node) not in own_line:
            continue
        line = f"{node.label} = {render(node)}"
        if isinstance(node, n.SOp) and n.is_numerical(node):
            line += "  # numerical"
        lines.append(line)
    if not lines:  # the program is a primitive
        lines.append(program.label)
    return "\n".join(lines)
