"""Static validation of a RASP program against what the compiler supports; reports every problem."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Mapping

from theory_kit.errors import InvalidProgram, Problem
from theory_kit.values import check_vocab
from theory_kit.rasp import nodes as n
from theory_kit.rasp.loops import Loop, LoopVar
from theory_kit.rasp.tree import topological_order, topological_order_of

__all__ = ["Problem", "validate", "check_vocab", "check_max_seq_len", "RULES", "INTERPRETER_ONLY"]


def check_max_seq_len(max_seq_len: Any) -> list[Problem]:
    if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len < 1:
        return [Problem("max_seq_len", f"must be a positive int, got {max_seq_len!r:.60}")]
    return []


# -- one rule per node class: the problems a node of that class has on its own -------------------
def _no_problems(node: n.RASPExpr) -> list[Problem]:
    return []


def _interpreter_only(node: n.RASPExpr) -> list[Problem]:
    return [Problem(node.label, f"{type(node).__name__} fixes values per position and only "
                    "exists for interpreter tests; it has no transformer implementation",
                    "build the constant from rasp.Full(...) or a Map of rasp.indices")]


def _loop_problems(node: Loop) -> list[Problem]:
    """A loop's own shape (checked once, at component 0) and its body's nodes: the compiled
    loop (compiler.looped) carries one-hot state and does not nest."""
    spec = node.spec
    if node.index != 0:
        return []
    out = []
    numerical = [v.label for v in spec.vars if n.is_numerical(v)]
    if numerical:
        out.append(Problem(spec.name, f"its state {numerical[0]!r} is numerical; a compiled loop "
                           "carries one-hot (categorical) state", "make the initial state "
                           "categorical, e.g. rasp.categorical(rasp.Map(lambda x: x, init))"))
    for x in topological_order_of(spec.roots):
        if isinstance(x, Loop) and x.index == 0:
            out.append(Problem(spec.name, f"its body contains the loop {x.spec.name!r}; compiled "
                               "loops do not nest", "unroll the inner loop inside the step "
                               "(rasp.unroll(inner)), or compile rasp.unroll(program) (fixed "
                               "depth)"))
        elif not isinstance(x, (Loop, LoopVar)):
            out += _node_problems(x)
    return out


def _select_problems(node: n.Select) -> list[Problem]:
    out = []
    for role, child in (("keys", node.keys), ("queries", node.queries)):
        if n.is_numerical(child):
            out.append(Problem(node.label, f"Select {role} {child.label!r} is numerical; attention "
                               "compares categorical values",
                               f"use rasp.categorical(rasp.Map(lambda x: x, {child.label}))"))
    return out


def _aggregate_problems(node: n.Aggregate) -> list[Problem]:
    out = []
    if n.is_categorical(node) and n.is_numerical(node.sop):
        out.append(Problem(node.label, f"categorical Aggregate of the numerical SOp "
                           f"{node.sop.label!r}",
                           "make the Aggregate numerical with rasp.numerical(...)"))
    if n.is_numerical(node):
        if node.default is None or isinstance(node.default, str):
            out.append(Problem(node.label, f"numerical Aggregate with default {node.default!r}; "
                               "a numerical aggregate outputs a number where nothing is "
                               "selected", "pass default=0 (or another number)"))
    return out


def _sequence_map_problems(node: n.SequenceMap) -> list[Problem]:
    numeric_inputs = [c.label for c in node.children if n.is_numerical(c)]
    if numeric_inputs:
        return [Problem(node.label, f"SequenceMap with numerical input(s) {numeric_inputs}: "
                        "only categorical inputs have a finite lookup-table MLP",
                        "use rasp.LinearSequenceMap for a linear function, or make the "
                        "inputs categorical")]
    return []


def _linear_sequence_map_problems(node: n.LinearSequenceMap) -> list[Problem]:
    kinds = {n.is_numerical(c) for c in node.children} | {n.is_numerical(node)}
    if len(kinds) > 1:
        return [Problem(node.label, "LinearSequenceMap mixes numerical and categorical SOps "
                        "among its inputs and output",
                        "annotate the inputs and the output with the same encoding")]
    return []


#: The static check of each node class. A subclass of a node class gets its nearest base's rule.
RULES: Mapping[type, Callable[[Any], list]] = MappingProxyType({
    n.TokensType: _no_problems, n.IndicesType: _no_problems, n.LengthType: _no_problems,
    n.Map: _no_problems, n.SequenceMap: _sequence_map_problems,
    n.LinearSequenceMap: _linear_sequence_map_problems, n.Full: _no_problems,
    n.ConstantSOp: _interpreter_only, n.SelectorWidth: _no_problems,
    n.Aggregate: _aggregate_problems, n.Select: _select_problems,
    n.ConstantSelector: _interpreter_only, n.SelectorAnd: _no_problems,
    n.SelectorOr: _no_problems, n.SelectorNot: _no_problems,
    Loop: _loop_problems, LoopVar: _no_problems,
})

#: Node classes the interpreter runs but the compiler refuses (test-only constants).
INTERPRETER_ONLY = frozenset(cls for cls, rule in RULES.items() if rule is _interpreter_only)


def _node_problems(node: n.RASPExpr) -> list[Problem]:
    for cls in type(node).__mro__:
        rule = RULES.get(cls)
        if rule is not None:
            return rule(node)
    return []


def validate(program: Any, vocab: Any = None, max_seq_len: Any = None, *,
             bos: Any = "BOS") -> list[Problem]:
    """Every static reason `program` cannot be compiled, as a list (empty when fine).

    Args:
        program: the RASP SOp to compile.
        vocab: the input vocabulary (checked when given).
        max_seq_len: the longest input (checked when given).
        bos: the beginning-of-sequence token, which must not be in `vocab`.

    Returns:
        A list of `Problem(label, reason, fix)`; the compiler adds dynamic problems found while
        inferring value sets (a Map raising on a reachable value, non-numeric numerical values).
    """
    problems: list[Problem] = []
    if vocab is not None:
        problems += check_vocab(vocab, bos=bos)
    if max_seq_len is not None:
        problems += check_max_seq_len(max_seq_len)
    if not isinstance(program, n.RASPExpr):
        return problems + [Problem("program", f"is not a RASP expression: "
                                   f"{type(program).__name__} {program!r:.60}")]
    if not isinstance(program, n.SOp):
        problems.append(Problem(program.label, "the program's output is a Selector; a "
                                "transformer outputs a sequence",
                                "wrap it, e.g. rasp.SelectorWidth(selector)"))
    try:
        order = topological_order(program)
    except InvalidProgram as exc:
        return problems + [Problem(getattr(program, "label", "program"), str(exc))]
    for node in order:
        problems += _node_problems(node)
    loops = list({id(x.spec): x.spec for x in order if isinstance(x, Loop)}.values())
    if len(loops) > 1:
        problems.append(Problem(program.label, f"has {len(loops)} loops ("
                                + ", ".join(repr(s.name) for s in loops[:4]) + "); a compiled "
                                "model has one looped block", "compile rasp.unroll(program) "
                                "(fixed depth), or unroll all loops but one with rasp.unroll"))
    for x in order:
        if isinstance(x, LoopVar):
            problems.append(Problem(x.label, "the state of a loop is read outside the loop's "
                                    "body", "read the loop's output (what rasp.loop returns)"))
    return problems
