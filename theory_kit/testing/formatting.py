"""A readable one-node-per-line rendering of a RASP program (for failure messages)."""

from __future__ import annotations

from collections import Counter

from theory_kit.errors import InvalidProgram
from theory_kit.rasp import nodes as n
from theory_kit.rasp.interpreter import topological_order
from theory_kit.testing.functions import describe_function

__all__ = ["format_program"]

_PRIMITIVES = (n.TokensType, n.IndicesType, n.LengthType)


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
        if isinstance(node, n.LinearSequenceMap):
            return (f"LinearSequenceMap({ref(node.fst)}, {ref(node.snd)}, "
                    f"{node.fst_fac!r}, {node.snd_fac!r})")
        if isinstance(node, n.Map):
            return f"Map({describe_function(node.f)}, {ref(node.inner)})"
        if isinstance(node, n.SequenceMap):
            return f"SequenceMap({describe_function(node.f)}, {ref(node.fst)}, {ref(node.snd)})"
        if isinstance(node, n.Full):
            return f"Full({node.fill!r})"
        if isinstance(node, n.ConstantSOp):
            return f"ConstantSOp({list(node.value)!r})"
        if isinstance(node, n.Select):
            return (f"Select({ref(node.keys)}, {ref(node.queries)}, "
                    f"{describe_function(node.predicate)})")
        if isinstance(node, n.ConstantSelector):
            return f"ConstantSelector({[list(r) for r in node.value]!r})"
        if isinstance(node, n.Aggregate):
            default = "" if node.default is None else f", default={node.default!r}"
            return f"Aggregate({ref(node.selector)}, {ref(node.sop)}{default})"
        if isinstance(node, n.SelectorWidth):
            return f"SelectorWidth({ref(node.selector)})"
        if isinstance(node, n.SelectorAnd):
            return f"SelectorAnd({ref(node.fst)}, {ref(node.snd)})"
        if isinstance(node, n.SelectorOr):
            return f"SelectorOr({ref(node.fst)}, {ref(node.snd)})"
        if isinstance(node, n.SelectorNot):
            return f"SelectorNot({ref(node.inner)})"
        if isinstance(node, _PRIMITIVES):
            return node.label
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
