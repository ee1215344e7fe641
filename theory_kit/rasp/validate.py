"""Static validation of a RASP program against what the compiler supports; reports every problem."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from theory_kit.errors import InvalidProgram
from theory_kit.rasp import nodes as n
from theory_kit.rasp.interpreter import topological_order

__all__ = ["Problem", "validate", "check_vocab", "check_max_seq_len"]


@dataclass(frozen=True)
class Problem:
    """One reason a program cannot be compiled as given."""

    label: str
    reason: str
    fix: Optional[str] = None

    def __str__(self) -> str:
        text = f"{self.label}: {self.reason}"
        return f"{text} (fix: {self.fix})" if self.fix else text


def check_vocab(vocab: Any, *, bos: Any = "BOS") -> list[Problem]:
    """Problems with a vocabulary: must be a non-empty collection of hashable finite tokens."""
    if isinstance(vocab, (str, bytes)) or not isinstance(vocab, Iterable):
        return [Problem("vocab", f"must be a set of tokens, got {type(vocab).__name__} {vocab!r:.60}",
                        "pass e.g. vocab={1, 2, 3}")]
    problems = []
    items = list(vocab)
    if not items:
        problems.append(Problem("vocab", "is empty", "pass at least one token"))
    for tok in items:
        try:
            hash(tok)
        except TypeError:
            problems.append(Problem("vocab", f"token {tok!r:.60} is unhashable"))
            continue
        if tok is None:
            problems.append(Problem("vocab", "contains None, which RASP reserves for 'no value'"))
        elif isinstance(tok, float) and not math.isfinite(tok):
            problems.append(Problem("vocab", f"contains the non-finite token {tok!r}"))
        elif bos is not None and tok == bos and type(tok) is type(bos):
            problems.append(Problem("vocab", f"contains the BOS token {bos!r}",
                                    "pick another bos=... or remove it from the vocabulary"))
    keys: dict = {}
    for tok in items:
        try:
            keys.setdefault(hash(tok), []).append(tok)
        except TypeError:
            continue
    for same_hash in keys.values():
        for i, a in enumerate(same_hash):
            for b in same_hash[i + 1:]:
                if a == b and type(a) is not type(b):
                    problems.append(Problem(
                        "vocab", f"contains {a!r} and {b!r}, which Python treats as one token "
                        f"({a!r} == {b!r})", "keep one of them"))
    return problems


def check_max_seq_len(max_seq_len: Any) -> list[Problem]:
    if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len < 1:
        return [Problem("max_seq_len", f"must be a positive int, got {max_seq_len!r:.60}")]
    return []


def _node_problems(node: n.RASPExpr) -> list[Problem]:
    label = node.label
    out: list[Problem] = []
    if isinstance(node, (n.ConstantSOp, n.ConstantSelector)):
        out.append(Problem(label, f"{type(node).__name__} fixes values per position and only "
                           "exists for interpreter tests; it has no transformer implementation",
                           "build the constant from rasp.Full(...) or a Map of rasp.indices"))
    if isinstance(node, n.Select):
        for role, child in (("keys", node.keys), ("queries", node.queries)):
            if n.is_numerical(child):
                out.append(Problem(label, f"Select {role} {child.label!r} is numerical; attention "
                                   "compares categorical values",
                                   f"use rasp.categorical(rasp.Map(lambda x: x, {child.label}))"))
    if isinstance(node, n.Aggregate):
        if n.is_categorical(node) and n.is_numerical(node.sop):
            out.append(Problem(label, f"categorical Aggregate of the numerical SOp "
                               f"{node.sop.label!r}",
                               "make the Aggregate numerical with rasp.numerical(...)"))
        if n.is_numerical(node):
            if node.default is None or isinstance(node.default, str):
                out.append(Problem(label, f"numerical Aggregate with default {node.default!r}; "
                                   "a numerical aggregate outputs a number where nothing is "
                                   "selected", "pass default=0 (or another number)"))
    if isinstance(node, n.SequenceMap) and not isinstance(node, n.LinearSequenceMap):
        numeric_inputs = [c.label for c in node.children if n.is_numerical(c)]
        if numeric_inputs:
            out.append(Problem(label, f"SequenceMap with numerical input(s) {numeric_inputs}: "
                               "only categorical inputs have a finite lookup-table MLP",
                               "use rasp.LinearSequenceMap for a linear function, or make the "
                               "inputs categorical"))
    if isinstance(node, n.LinearSequenceMap):
        kinds = {n.is_numerical(c) for c in node.children} | {n.is_numerical(node)}
        if len(kinds) > 1:
            out.append(Problem(label, "LinearSequenceMap mixes numerical and categorical SOps "
                               "among its inputs and output",
                               "annotate the inputs and the output with the same encoding"))
    return out


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
    return problems
