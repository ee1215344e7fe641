"""Adversarial programs (issue 23): compile exactly or refuse, checked with an exact comparator.

`theory_kit.compile` promises a model equal to `rasp.evaluate` or a TheoryKitError. This file
holds the independent checker the slow sweep (`tests/slow/test_adversarial_sweep.py`) uses
too, and a fast smoke version of that sweep:

  * `check_program` compiles with the compiler's own verification (verify="auto"); a
    TheoryKitError is a refusal (fail closed, counted by reason), any other exception is a
    failure; a model that compiled is re-checked on *every* input up to max_seq_len (and the
    empty one) with `values_equal`: categorical outputs exactly, type included (1, True and
    1.0 are three different outputs, None only equals None); numerical outputs within the
    compiler's own promise, `math.isclose(e, g, rel_tol=atol, abs_tol=atol)` with atol =
    `theory_kit.compiler.verify.NUMERIC_ATOL[dtype]` (1e-6 for float64, 1e-3 for float32).
    The model is run as the verification runs it (one `run_batch`, shortest input first) and
    as users run it (one batch per length, `run` on single inputs, and after save + load),
    so a check that only repeats the verification's own run cannot hide a difference.
  * `program_to_python` prints a failing program as runnable code for bug reports.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import theory_kit
from theory_kit import rasp
from theory_kit.errors import InvalidInput, TheoryKitError
from theory_kit.testing import format_program
from theory_kit.testing import functions as fx
from theory_kit.testing import strategies as tks

# ------------------------------------------------------------------------------------------
# The exact comparator
# ------------------------------------------------------------------------------------------


def _signature(v: Any):
    if isinstance(v, tuple):
        return tuple(_signature(x) for x in v)
    return type(v)


def numeric_atol(dtype: Any) -> float:
    """The compiler's promised numerical tolerance for `dtype` (its verification uses it)."""
    from theory_kit.compiler.verify import NUMERIC_ATOL

    return NUMERIC_ATOL[np.dtype(dtype)]


def values_equal(expected: Any, got: Any, *, numerical: bool, atol: float) -> bool:
    """One output value: categorical exactly (same type, recursively in tuples, and ==);
    numerical within atol (absolute, relative above 1); None only equals None."""
    if expected is None or got is None:
        return expected is None and got is None
    if numerical:
        numbers = (bool, int, float, np.integer, np.floating)
        if not (isinstance(expected, numbers) and isinstance(got, numbers)):
            return False
        e, g = float(expected), float(got)
        return math.isfinite(g) and math.isclose(e, g, rel_tol=atol, abs_tol=atol)
    return _signature(expected) == _signature(got) and expected == got


def _kind_of_difference(e: Any, g: Any, numerical: bool) -> str:
    if e is None:
        return "expected None, got a value"
    if g is None:
        return "expected a value, got None"
    if numerical:
        return "numerical value outside the promised tolerance"
    if e == g:
        return f"same value, wrong type (expected {type(e).__name__}, got {type(g).__name__})"
    if (isinstance(e, (int, float)) and isinstance(g, (int, float))
            and math.isclose(e, g, rel_tol=1e-6, abs_tol=1e-6)):
        return "different but numerically close categorical values"
    return "different value"


def difference(expected: list, got: Any, *, numerical: bool, atol: float = 1e-6
               ) -> Optional[str]:
    """None when equal, else the kind of the first difference (for grouping failures)."""
    if not isinstance(got, list) or len(got) != len(expected):
        return f"output of the wrong length or kind ({type(got).__name__})"
    for e, g in zip(expected, got):
        if not values_equal(e, g, numerical=numerical, atol=atol):
            return _kind_of_difference(e, g, numerical)
    return None


# ------------------------------------------------------------------------------------------
# Checking one program
# ------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What happened to one program: "ok", "refused", "mismatch" or "raw_exception"."""

    status: str
    reason: str = ""             # the group: refusal reason or kind of mismatch / exception
    message: str = ""
    input: Any = None
    expected: Any = None
    got: Any = None
    n_inputs: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status in ("mismatch", "raw_exception")


def every_input(vocab, max_seq_len: int, min_len: int = 0) -> list[list]:
    tokens = fx.sorted_values(vocab)
    return [list(c) for length in range(min_len, max_seq_len + 1)
            for c in itertools.product(tokens, repeat=length)]


def normalise(text: str, limit: int = 110) -> str:
    """A message with labels, numbers and values blanked out, so one cause is one group."""
    text = text.strip().splitlines()[0] if text.strip() else text
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "<q>", text)
    text = re.sub(r"\[[^\]]*\]", "[..]", text)
    text = re.sub(r"\{[^}]*\}", "{..}", text)
    text = re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "<n>", text)
    return text[:limit]


def _short(reason: str) -> str:
    """The cause of a problem without its explanation: up to the first ' (', ': ', '; ' or
    ', which' (a leading 'precision: ' is kept)."""
    text = normalise(reason, 200)
    head, rest = ("precision: ", text[11:]) if text.startswith("precision: ") else ("", text)
    cuts = [i for i in (rest.find(" ("), rest.find(": "), rest.find("; "),
                        rest.find(", which needs")) if i > 0]
    return head + (rest[:min(cuts)] if cuts else rest)[:90]


def refusal_reasons(exc: TheoryKitError, *, numerical: bool = False) -> list[str]:
    """One group per distinct cause: each problem of an UnsupportedProgram, the kind of
    difference of a CompilationMismatch, else the normalised message."""
    name = type(exc).__name__
    problems = getattr(exc, "problems", ())
    if problems:
        return sorted({f"{name}: {_short(p.reason)}" for p in problems})
    if name == "CompilationMismatch" and isinstance(getattr(exc, "expected", None), list):
        kind = difference(exc.expected, exc.got, numerical=numerical)
        return [f"{name} (verification caught it): {kind}"]
    return [f"{name}: {_short(str(exc))}"]


def check_program(program: rasp.SOp, vocab, max_seq_len: int, *, causal: bool = False,
                  dtype: Any = np.float64, bos: Any = "BOS", save_load: bool = True) -> Outcome:
    """Compile (default verification) and, if it compiles, check every input exactly."""
    try:
        model = theory_kit.compile(program, vocab=vocab, max_seq_len=max_seq_len,
                                   causal=causal, dtype=dtype, bos=bos)
    except TheoryKitError as exc:
        reasons = refusal_reasons(exc, numerical=rasp.is_numerical(program))
        return Outcome("refused", "; ".join(reasons), str(exc), extra={"reasons": reasons})
    except Exception as exc:  # noqa: BLE001 - any non-TheoryKitError is a failure
        return Outcome("raw_exception", f"compile raised {type(exc).__name__}: "
                       f"{normalise(str(exc))}", f"{type(exc).__name__}: {exc}")
    inputs = every_input(vocab, max_seq_len)
    try:
        expected = rasp.evaluate_batch(program, inputs, causal=causal)
    except TheoryKitError as exc:
        return Outcome("raw_exception", "the interpreter fails on a compiled program "
                       f"(generator bug?): {normalise(str(exc))}", str(exc))
    numerical = rasp.is_numerical(program)
    atol = numeric_atol(dtype)
    encoding = "numerical" if numerical else "categorical"
    # The model runs as the compiler's verification ran it (one batch, shortest first) and
    # also as users run it: one batch per length, longest first, and one input at a time.
    runs = {
        "run_batch": lambda: model.run_batch(inputs),
        "run_batch per length": lambda: _per_length(model, inputs),
        "run": lambda: [model.run(xs) if i % RUN_STRIDE == 0 or i == len(inputs) - 1 else None
                        for i, xs in enumerate(inputs)],
    }
    if save_load:
        runs["save + load + run_batch"] = lambda: _saved_and_loaded(model).run_batch(inputs)
    for how, run in runs.items():
        try:
            got = run()
        except Exception as exc:  # noqa: BLE001 - a compiled model must run on valid inputs
            return Outcome("raw_exception", f"{how} raised "
                           f"{type(exc).__name__}: {normalise(str(exc))}",
                           f"{type(exc).__name__}: {exc}")
        for i, (xs, e, g) in enumerate(zip(inputs, expected, got)):
            if how == "run" and not (i % RUN_STRIDE == 0 or i == len(inputs) - 1):
                continue
            kind = difference(e, g, numerical=numerical, atol=atol)
            if kind is not None:
                where = "" if how == "run_batch" else f" (only through {how})"
                return Outcome("mismatch", f"{encoding} output: {kind}{where}",
                               f"{how} on {xs!r}: expected {e!r}, got {g!r}", xs, e, g,
                               len(inputs))
    return Outcome("ok", n_inputs=len(inputs))


#: `check_program` calls `model.run` on every RUN_STRIDE-th input (and the last one).
RUN_STRIDE = 3


def _saved_and_loaded(model):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.npz")
        model.save(path)
        return theory_kit.load(path)


def _per_length(model, inputs: list[list]) -> list:
    """model.run_batch over one batch per input length, longest first, in input order."""
    out: list = [None] * len(inputs)
    for length in sorted({len(xs) for xs in inputs}, reverse=True):
        idx = [i for i, xs in enumerate(inputs) if len(xs) == length]
        for i, got in zip(idx, model.run_batch([inputs[i] for i in idx])):
            out[i] = got
    return out


# ------------------------------------------------------------------------------------------
# Programs as runnable Python (for reports)
# ------------------------------------------------------------------------------------------


def _function_source(fn: Any, params: str) -> str:
    if isinstance(fn, rasp.Comparison):
        return f"rasp.Comparison.{fn.name}"
    if isinstance(fn, fx.NamedFunction):
        body = fn.name
        if params == "k, q":  # predicates are written in k and q
            return f"lambda k, q: {body}"
        return f"lambda {params}: {body}"
    return f"{fx.describe_function(fn)}  # (not a NamedFunction)"


def program_to_python(program: rasp.SOp, *, vocab=None, max_seq_len=None, causal=False,
                      dtype=np.float64, xs=None, bos: Any = "BOS") -> str:
    """Runnable code that rebuilds `program` (names, encodings and functions included)."""
    names: dict[int, str] = {}
    lines = ["import numpy as np", "import theory_kit", "from theory_kit import rasp", ""]
    for i, node in enumerate(rasp.topological_order(program)):
        if isinstance(node, rasp.TokensType):
            names[id(node)] = "rasp.tokens"
            continue
        if isinstance(node, rasp.IndicesType):
            names[id(node)] = "rasp.indices"
            continue
        if isinstance(node, rasp.LengthType):
            names[id(node)] = "rasp.length"
            continue
        ref = lambda c: names[id(c)]  # noqa: E731
        if isinstance(node, rasp.LinearSequenceMap):
            expr = (f"rasp.LinearSequenceMap({ref(node.fst)}, {ref(node.snd)}, "
                    f"{node.fst_fac!r}, {node.snd_fac!r})")
        elif isinstance(node, rasp.Map):
            expr = f"rasp.Map({_function_source(node.f, 'x')}, {ref(node.inner)}, simplify=False)"
        elif isinstance(node, rasp.SequenceMap):
            expr = (f"rasp.SequenceMap({_function_source(node.f, 'x, y')}, {ref(node.fst)}, "
                    f"{ref(node.snd)})")
        elif isinstance(node, rasp.Full):
            expr = f"rasp.Full({node.fill!r})"
        elif isinstance(node, rasp.Select):
            expr = (f"rasp.Select({ref(node.keys)}, {ref(node.queries)}, "
                    f"{_function_source(node.predicate, 'k, q')})")
        elif isinstance(node, rasp.Aggregate):
            expr = (f"rasp.Aggregate({ref(node.selector)}, {ref(node.sop)}, "
                    f"default={node.default!r})")
        elif isinstance(node, rasp.SelectorWidth):
            expr = f"rasp.SelectorWidth({ref(node.selector)})"
        elif isinstance(node, (rasp.SelectorAnd, rasp.SelectorOr)):
            expr = f"rasp.{type(node).__name__}({ref(node.fst)}, {ref(node.snd)})"
        elif isinstance(node, rasp.SelectorNot):
            expr = f"rasp.SelectorNot({ref(node.inner)})"
        else:
            expr = f"<{type(node).__name__} not supported by program_to_python>"
        expr = f"{expr}.named({node.label!r})"
        if isinstance(node, rasp.SOp) and rasp.is_numerical(node):
            expr = f"rasp.numerical({expr})"
        var = f"n{i}"
        names[id(node)] = var
        lines.append(f"{var} = {expr}")
    lines.append(f"program = {names[id(program)]}")
    if vocab is not None:
        dt = "np.float32" if np.dtype(dtype) == np.float32 else "np.float64"
        lines += [f"vocab, max_seq_len = {set(fx.sorted_values(vocab))!r}, {max_seq_len!r}",
                  f"model = theory_kit.compile(program, vocab=vocab, max_seq_len=max_seq_len, "
                  f"causal={causal!r}, dtype={dt}"
                  + ("" if bos == "BOS" else f", bos={bos!r}") + ")"]
        if xs is not None:
            lines += [f"xs = {xs!r}",
                      f"print(rasp.evaluate(program, xs, causal={causal!r}), model.run(xs))"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# Generated cases
# ------------------------------------------------------------------------------------------


class Case(NamedTuple):
    """One generated compilation: the program and every setting it is compiled with."""

    vocab: frozenset
    max_seq_len: int
    causal: bool
    dtype: Any
    program: rasp.SOp
    bos: Any = "BOS"

    def check(self, *, save_load: bool = True) -> Outcome:
        return check_program(self.program, self.vocab, self.max_seq_len, causal=self.causal,
                             dtype=self.dtype, bos=self.bos, save_load=save_load)

    def header(self) -> str:
        bos = "" if self.bos == "BOS" else f" bos={self.bos!r}"
        return (f"vocab={fx.sorted_values(self.vocab)!r} max_seq_len={self.max_seq_len} "
                f"causal={self.causal} dtype={np.dtype(self.dtype).name}{bos}")

    def python(self, xs: Any = None) -> str:
        return program_to_python(self.program, vocab=self.vocab, max_seq_len=self.max_seq_len,
                                 causal=self.causal, dtype=self.dtype, xs=xs, bos=self.bos)


#: Beginning-of-sequence tokens drawn one time in four instead of "BOS": values equal across
#: types to tokens or outputs (1 vs True, 0 vs False), None, a tuple.
ADVERSARIAL_BOS = (0, 1, True, False, 1.0, -1, "a", None, (0,))


@st.composite
def adversarial_cases(draw, *, max_nodes: tuple = (5, 8)) -> Case:
    """Cases small enough to check every input (<= 3 tokens and length <= 4, or 4 tokens and
    length <= 3: at most 121 inputs); causal, float32 and an unusual bos one time in four
    each; up to 5 or 8 steps of the program generator."""
    vocab = draw(tks.adversarial_vocabularies(min_size=1, max_size=4))
    max_seq_len = draw(st.sampled_from([2, 3, 4] if len(vocab) <= 3 else [2, 3]))
    causal = draw(st.integers(0, 3)) == 3
    dtype = np.float32 if draw(st.integers(0, 3)) == 3 else np.float64
    bos = "BOS"
    if draw(st.integers(0, 3)) == 3:
        options = [b for b in ADVERSARIAL_BOS
                   if not any(b == t and _signature(b) == _signature(t) for t in vocab)]
        bos = draw(st.sampled_from(options))
    program = draw(tks.programs(vocab=vocab, max_seq_len=max_seq_len, causal=causal,
                                adversarial=True, max_nodes=draw(st.sampled_from(max_nodes))))
    return Case(vocab, max_seq_len, causal, dtype, program, bos)


def _describe_case(case: Case, outcome: Optional[Outcome] = None) -> str:
    text = case.header() + "\n" + format_program(case.program)
    if outcome is not None:
        text += f"\n{outcome.status}: {outcome.reason}\n{outcome.message[:400]}"
        if outcome.status == "mismatch":
            text += "\n" + case.python(outcome.input)
    return text


# ------------------------------------------------------------------------------------------
# Tests: the comparator
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("expected, got, equal", [
    (1, 1, True), (1, True, False), (True, 1, False), (1, 1.0, False), (0, False, False),
    (10_000_001, 10_000_000, False), (None, None, True), (None, 0, False), (0, None, False),
    ("1", 1, False), ((1, 0), (True, 0), False), ((1, 0), (1, 0), True), (0.5, 0.5, True),
    (4.5, 4.500000000005, False),
])
def test_categorical_values_are_compared_exactly_with_their_type(expected, got, equal):
    assert values_equal(expected, got, numerical=False, atol=1e-6) is equal


@pytest.mark.parametrize("expected, got, equal", [
    (1, 1.0, True), (True, 1.0, True), (0.5, 0.5 + 1e-9, True), (0.5, 0.5 + 1e-5, False),
    (None, 0.0, False), (None, None, True), (10_000_001, 10_000_001.0, True),
    (1.0, float("nan"), False),
])
def test_numerical_values_are_compared_within_the_promised_tolerance(expected, got, equal):
    assert values_equal(expected, got, numerical=True, atol=1e-6) is equal


# ------------------------------------------------------------------------------------------
# Tests: the generator
# ------------------------------------------------------------------------------------------


def _draw_many(n_programs: int, seed: int = 0) -> list:
    from hypothesis import seed as hseed

    out = []

    @hseed(seed)
    @settings(max_examples=n_programs, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(adversarial_cases())
    def collect(case):
        out.append(case)

    collect()
    return out


def _features(case: Case) -> set[str]:
    """Which adversarial shapes a generated program contains (from node values on every
    input, names and functions)."""
    vocab, max_seq_len, causal, program = case.vocab, case.max_seq_len, case.causal, case.program
    found = set()
    nodes = rasp.topological_order(program)
    labels = [x.label for x in nodes]
    if len(labels) != len(set(labels)):
        found.add("duplicate name")
    if any(x.label in tks.INTERNAL_NAMES or x.label.endswith(tks.INTERNAL_SUFFIXES[2:])
           for x in nodes if not isinstance(x, (rasp.TokensType, rasp.IndicesType,
                                                rasp.LengthType))):
        found.add("internal name")
    values: dict[int, list] = {}
    from theory_kit.rasp.interpreter import evaluate_all

    for xs in every_input(vocab, max_seq_len, min_len=1):
        for uid, out in evaluate_all(program, xs, causal=causal).items():
            if isinstance(out, list) and out and not isinstance(out[0], list):
                values.setdefault(uid, []).extend(out)
    by_id = {x.unique_id: x for x in nodes}
    for uid, vals in values.items():
        node = by_id[uid]
        numerical = isinstance(node, rasp.SOp) and rasp.is_numerical(node)
        present = [v for v in vals if v is not None]
        if len(present) < len(vals):
            found.add("None in a numerical SOp" if numerical else "None in a categorical SOp")
        if (isinstance(node, rasp.Aggregate) and not numerical
                and None in values.get(node.sop.unique_id, [])):
            found.add("None inside a categorical Aggregate")
        if len({(_signature(v), v) for v in present}) > len(set(present)):
            found.add("equal values of different types")
        nums = sorted({float(v) for v in present if isinstance(v, (int, float))})
        if any(0 < b - a <= 1e-6 * max(1.0, abs(a)) for a, b in zip(nums, nums[1:])):
            found.add("numerically close values")
        if not numerical and any(isinstance(v, int) and abs(v) >= 10_000_000 for v in present):
            found.add("large nearby categorical ints")
    return found


ADVERSARIAL_FEATURES = (
    "duplicate name", "internal name", "None in a numerical SOp",
    "None in a categorical SOp", "None inside a categorical Aggregate",
    "equal values of different types", "numerically close values",
    "large nearby categorical ints",
)


def test_adversarial_programs_validate_never_raise_and_contain_every_shape():
    cases = _draw_many(300, seed=0)
    counts: dict[str, int] = {}
    for case in cases:
        vocab, max_seq_len, causal, program = (case.vocab, case.max_seq_len, case.causal,
                                               case.program)
        assert not isinstance(program, (rasp.TokensType, rasp.IndicesType, rasp.LengthType))
        assert rasp.validate(program, vocab, max_seq_len) == [], _describe_case(case)
        outputs = rasp.evaluate_batch(program, every_input(vocab, max_seq_len), causal=causal)
        assert len(outputs) == len(every_input(vocab, max_seq_len))
        for feature in _features(case):
            counts[feature] = counts.get(feature, 0) + 1
    # Every shape of issue 23 in at least 2% of the programs.
    rare = {f: counts.get(f, 0) for f in ADVERSARIAL_FEATURES if counts.get(f, 0) < 6}
    assert not rare, f"shapes drawn too rarely in 300 programs: {rare}; all: {counts}"


@pytest.mark.parametrize("make, message", [
    (lambda: tks.programs(vocab={1}, max_seq_len=3, adversarial="yes"), "adversarial"),
    (lambda: tks.adversarial_vocabularies(kinds=("complex",)), "kinds"),
    (lambda: tks.adversarial_vocabularies(kinds="int"), "kinds"),
    (lambda: tks.adversarial_vocabularies(max_size=6), "max_size"),
    (lambda: tks.adversarial_vocabularies(min_size=3, max_size=2), "max_size"),
])
def test_bad_adversarial_arguments_raise_invalid_input(make, message):
    with pytest.raises(InvalidInput, match=message):
        make()


def test_program_to_python_rebuilds_an_equivalent_program():
    for case in _draw_many(40, seed=3):
        vocab, max_seq_len, causal, program = (case.vocab, case.max_seq_len, case.causal,
                                               case.program)
        scope: dict = {}
        exec(program_to_python(program), scope)  # noqa: S102 - our own generated code
        rebuilt = scope["program"]
        inputs = every_input(vocab, max_seq_len)
        for a, b in zip(rasp.evaluate_batch(program, inputs, causal=causal),
                        rasp.evaluate_batch(rebuilt, inputs, causal=causal)):
            assert all(values_equal(x, y, numerical=False, atol=0) for x, y in zip(a, b)), (
                program_to_python(program))


# ------------------------------------------------------------------------------------------
# Tests: the compiler (fail closed on the known shapes, and a small generated sweep)
# ------------------------------------------------------------------------------------------

C = rasp.Comparison
T, I = rasp.tokens, rasp.indices


def _close_values():
    v = rasp.numerical(rasp.Map(lambda t: t + (1e-11 if t == 9 else 0), T))
    mean = rasp.numerical(rasp.Aggregate(rasp.Select(I, I, C.TRUE), v, default=0))
    return rasp.Map(lambda x: 10_000_001 if x > 4.5 else 10_000_000, mean)


def _none_in_categorical_aggregate():
    return rasp.Aggregate(rasp.Select(T, T, lambda k, q: k >= 48),
                          rasp.Map(lambda t: None if t == 49 else 0, T))


def _none_in_numerical_aggregate():
    values = rasp.numerical(rasp.Map(lambda t: None if t == 1 else t, T))
    return rasp.numerical(rasp.Aggregate(rasp.Select(T, T, C.TRUE), values, default=0))


def _internal_names():
    one = rasp.Map(lambda t: t + 1, T).named("one")
    bos = rasp.Map(lambda t: t * 2, one).named("bos")
    agg = rasp.Aggregate(rasp.Select(I, I, C.EQ), bos).named("tokens")
    return rasp.SequenceMap(lambda x, y: x + y, agg, one).named("tokens.bos_weight")


def _bool_next_to_int():
    return rasp.Map(lambda t: True if t == 0 else 1, T)


def _float_next_to_int():
    return rasp.Map(lambda t: 1.0 if t == 0 else 1, T)


KNOWN_SHAPES = [
    ("close_values_thresholded", _close_values, {0, 4, 5, 9}, 2),
    ("none_in_categorical_aggregate", _none_in_categorical_aggregate, set(range(50)), 3),
    ("none_in_numerical_aggregate", _none_in_numerical_aggregate, {0, 1, 2}, 3),
    ("internal_names", _internal_names, {0, 1, 2}, 3),
    ("bool_next_to_int", _bool_next_to_int, {0, 1}, 2),
    ("float_next_to_int", _float_next_to_int, {0, 1}, 2),
]


@pytest.mark.parametrize("name, factory, vocab, max_seq_len", KNOWN_SHAPES,
                         ids=[c[0] for c in KNOWN_SHAPES])
def test_known_adversarial_shapes_compile_exactly_or_are_refused(name, factory, vocab,
                                                                 max_seq_len):
    program = factory()
    if name == "none_in_categorical_aggregate":
        # 127,550 inputs: check the failing one of the issue and a sample, not all of them.
        try:
            model = theory_kit.compile(program, vocab=vocab, max_seq_len=max_seq_len)
        except TheoryKitError:
            return
        for xs in ([48, 48, 49], [49, 48], [48], [0, 49, 48]):
            expected, got = rasp.evaluate(program, xs), model.run(xs)
            assert difference(expected, got, numerical=False) is None, (xs, expected, got)
        return
    outcome = check_program(program, vocab, max_seq_len)
    assert not outcome.failed, f"{outcome.reason}: {outcome.message}"


SMOKE_EXAMPLES = 60


@settings(max_examples=SMOKE_EXAMPLES, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
@given(adversarial_cases(max_nodes=(4,)))
def test_adversarial_programs_compile_exactly_or_are_refused(case):
    note(_describe_case(case))
    outcome = case.check()
    assert not outcome.failed, _describe_case(case, outcome)
