"""Pinned error messages: each bad input raises a TheoryKitError subclass quoting what was wrong."""

from __future__ import annotations

import re

import pytest

from theory_kit import rasp
from theory_kit.errors import EvaluationError, InvalidInput, InvalidProgram, TheoryKitError

SEL_EQ = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.EQ)


def _cycle():
    a = rasp.Map(lambda x: x, rasp.tokens).named("a")
    b = rasp.Map(lambda x: x, a, simplify=False).named("b")
    object.__setattr__(a, "inner", b)  # bypass the frozen guard to close the loop
    return b


def _shifted():
    return rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, lambda k, q: q == k + 1),
                          rasp.tokens).named("shifted")


class Subclassed(rasp.Map):
    pass


CASES = [
    ("map function raises",
     lambda: rasp.Map(lambda x: 1 // x, rasp.tokens).named("inv")([1, 0]),
     EvaluationError,
     "Map 'inv': its function raised ZeroDivisionError(integer division or modulo by zero) "
     "on value 0"),
    ("sequence map function raises",
     lambda: rasp.SequenceMap(lambda x, y: x / y, rasp.tokens, rasp.indices).named("div")([1]),
     EvaluationError,
     "SequenceMap 'div': its function raised ZeroDivisionError(division by zero) on value "
     "(1, 0)"),
    ("map returns nan",
     lambda: rasp.Map(lambda x: float("nan"), rasp.tokens).named("nanmap")([1]),
     EvaluationError,
     "Map 'nanmap': its function returned nan on value 1; values must be finite"),
    ("non-sequence input",
     lambda: rasp.evaluate(rasp.tokens, 5),
     InvalidInput,
     "evaluate: the input must be a sequence (list, tuple or str) of tokens, got int 5"),
    ("bytes input",
     lambda: rasp.evaluate(rasp.tokens, b"ab"),
     InvalidInput,
     "evaluate: the input must be a sequence (list, tuple or str) of tokens, got bytes b'ab'"),
    ("unhashable token",
     lambda: rasp.evaluate(rasp.tokens, [1, [2]]),
     InvalidInput,
     "evaluate: token [2] at position 1 is unhashable (list); tokens must be hashable values"),
    ("None token",
     lambda: rasp.evaluate(rasp.tokens, [1, None]),
     InvalidInput,
     "evaluate: token at position 1 is None; None means 'no value' in RASP and cannot be an "
     "input token"),
    ("NaN token",
     lambda: rasp.evaluate(rasp.tokens, [1, float("nan")]),
     InvalidInput,
     "evaluate: token nan at position 1 is not finite"),
    ("bad token in a batch names the input",
     lambda: rasp.evaluate_batch(rasp.tokens, [[1], [None]]),
     InvalidInput,
     "evaluate_batch (input 1): token at position 0 is None; None means 'no value' in RASP and "
     "cannot be an input token"),
    ("cycle",
     lambda: rasp.evaluate(_cycle(), [1]),
     InvalidProgram,
     "the program has a cycle through 'b'"),
    ("non-RASP child",
     lambda: rasp.Map(lambda x: x, 3),
     InvalidProgram,
     "Map: inner must be a SOp, got int 3"),
    ("selector where an SOp is needed",
     lambda: rasp.Aggregate(SEL_EQ, SEL_EQ),
     InvalidProgram,
     f"Aggregate: sop must be a SOp, got Select Select({SEL_EQ.label!r})"),
    ("function that is not callable",
     lambda: rasp.Map(3, rasp.tokens),
     InvalidProgram,
     "Map: f must be a function, got 3"),
    ("empty name",
     lambda: rasp.Map(lambda x: x, rasp.tokens).named(""),
     InvalidProgram,
     "name must be a non-empty string, got ''"),
    ("non-string name",
     lambda: rasp.Map(lambda x: x, rasp.tokens).named(3),
     InvalidProgram,
     "name must be a non-empty string, got 3"),
    ("renaming a primitive",
     lambda: rasp.tokens.named("x"),
     InvalidProgram,
     "the primitive 'tokens' cannot be renamed"),
    ("bad encoding",
     lambda: rasp.annotate(rasp.tokens, encoding="numerical"),
     InvalidProgram,
     "encoding of 'tokens' must be an Encoding, got 'numerical'"),
    ("aggregate default of a bad type",
     lambda: rasp.Aggregate(SEL_EQ, rasp.tokens, default=[1]),
     InvalidProgram,
     "Aggregate: default must be None, str, int, float or bool, got [1]"),
    ("aggregate default not finite",
     lambda: rasp.Aggregate(SEL_EQ, rasp.tokens, default=float("inf")),
     InvalidProgram,
     "Aggregate: default must be finite, got inf"),
    ("linear factor not finite",
     lambda: rasp.LinearSequenceMap(rasp.tokens, rasp.indices, float("inf"), 1),
     InvalidProgram,
     "LinearSequenceMap: fst_fac must be a finite number, got inf"),
    ("unhashable fill",
     lambda: rasp.Full([1]),
     InvalidProgram,
     "Full: fill must be hashable, got [1]"),
    ("constant SOp length mismatch",
     lambda: rasp.ConstantSOp([1, 2]).named("c")([1]),
     InvalidInput,
     "ConstantSOp 'c' has length 2 but the input has length 1"),
    ("constant selector length mismatch",
     lambda: rasp.ConstantSelector([[1, 0]]).named("cs")([1, 2]),
     InvalidInput,
     "ConstantSelector 'cs' has 1 rows but the input has length 2"),
    ("select with a None key",
     lambda: rasp.Select(_shifted(), rasp.tokens, rasp.Comparison.EQ).named("s")([1, 2]),
     EvaluationError,
     "Select 's': a key is None (keys=[None, 1], queries=[1, 2]); selectors need values "
     "everywhere"),
    ("categorical aggregate selecting different values",
     lambda: rasp.Aggregate(rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE),
                            rasp.tokens).named("avg")([1, 2]),
     EvaluationError,
     "categorical Aggregate 'avg' at position 0 selected several different values [1, 2]; a "
     "categorical aggregate must select one value (make the selector pick one position, or "
     "annotate with rasp.numerical(...) to average)"),
    ("numerical aggregate of non-numbers",
     lambda: rasp.numerical(rasp.Aggregate(
         rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE), rasp.tokens,
         default=0)).named("numagg")(["a", "b"]),
     EvaluationError,
     "numerical Aggregate 'numagg' at position 0: selected non-numeric values ['a', 'b']"),
    ("setting an attribute",
     lambda: setattr(rasp.tokens, "x", 1),
     InvalidProgram,
     "RASP expressions are frozen: cannot set 'x' on 'tokens'; use annotate(expr, ...) or "
     "build a new node"),
    ("truth value of an SOp",
     lambda: bool((rasp.tokens == 1).named("eq")),
     InvalidProgram,
     "the truth value of SOp 'eq' is undefined: `==`, `<` and friends build new SOps; use "
     "`and`/`or` on evaluated lists, or `&`/`|` between SOps"),
    ("evaluating a non-program",
     lambda: rasp.evaluate(3, [1]),
     InvalidProgram,
     "expected a RASP expression, got int 3"),
    ("encoding of a selector",
     lambda: rasp.numerical(SEL_EQ.named("sel")),
     InvalidProgram,
     "only SOps have an encoding; 'sel' is a selector"),
]


@pytest.mark.parametrize("build,error,message", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_pinned_error_message(build, error, message):
    assert issubclass(error, TheoryKitError)
    with pytest.raises(error) as info:
        build()
    assert type(info.value) is error
    assert str(info.value) == message


def test_an_unknown_node_subclass_is_refused_by_name():
    with pytest.raises(InvalidProgram, match=re.escape(
            "'w': the interpreter has no rule for node class Subclassed")):
        rasp.evaluate(Subclassed(lambda x: x, rasp.tokens).named("w"), [1])


def test_errors_chain_the_original_exception():
    with pytest.raises(EvaluationError) as info:
        rasp.Map(lambda x: {}[x], rasp.tokens).named("lookup")(["k"])
    assert isinstance(info.value.__cause__, KeyError)
    assert "'lookup'" in str(info.value) and "on value 'k'" in str(info.value)


def test_at_least_ten_kinds_pinned():
    assert len({c[0] for c in CASES}) == len(CASES) >= 10
