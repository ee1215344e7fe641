"""`assert_compiles_correctly`: the one call a user puts in their own test suite."""

from __future__ import annotations

from typing import Any, Optional

import numpy

from theory_kit.compiler.verify import (NUMERIC_ATOL, check_outputs, diagnose,
                                        enumerate_inputs, input_space_size, node_divergence,
                                        outputs_match, sample_inputs)
from theory_kit.errors import EvaluationError, InvalidInput
from theory_kit.rasp import nodes as n
from theory_kit.testing.formatting import format_program

__all__ = ["assert_compiles_correctly", "all_inputs", "input_space_size", "outputs_agree",
           "numerical_atol"]

#: Every input, shortest first, then lexicographic in the vocabulary's value order (so the
#: first failure found is the smallest): the compiler's own enumeration, a generator.
all_inputs = enumerate_inputs


def numerical_atol(dtype: Any) -> float:
    """Absolute tolerance on decoded numerical outputs for a model of `dtype`: the compiler's
    own verification tolerance, `theory_kit.compiler.verify.NUMERIC_ATOL`.

    Softmax is not hardmax: every attention layer leaves an off-target mass the compiler keeps
    below its TOLERANCE (1e-10 for float64, 1e-5 for float32); numerical values pass through
    a few layers, so 1e-6 / 1e-3 leaves a wide margin while still catching any real mismatch
    (generated numerical values differ by >= 1/(max_seq_len * (max_seq_len - 1))).
    """
    return NUMERIC_ATOL.get(numpy.dtype(dtype), 1e-3)


def _sampled_inputs(vocab: Any, max_seq_len: int, count: int, seed: int) -> list[list]:
    """The compiler's seeded sample (`theory_kit.compiler.verify.sample_inputs`): every input
    of the short lengths that fit, then distinct samples of the longer ones, smallest first."""
    return sample_inputs(vocab, max_seq_len, count, seed)


def outputs_agree(expected, got, *, numerical: bool, atol: float = 1e-6) -> bool:
    """Whether a decoded model output equals the interpreter's: the compiler's own rule
    (`theory_kit.compiler.verify.outputs_match`): categorical values exactly, type included;
    numerical ones within atol (absolute below 1, relative above)."""
    return outputs_match(expected, got, atol, numerical=numerical)


def _check_args(program, vocab, max_seq_len, causal, dtype, max_inputs, seed) -> None:
    where = "assert_compiles_correctly"
    if not isinstance(program, n.SOp):
        raise InvalidInput(f"{where}: program must be a RASP SOp, got {type(program).__name__} "
                           f"{program!r:.60}")
    for name, value, low in (("max_seq_len", max_seq_len, 1), ("max_inputs", max_inputs, 1),
                             ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < low:
            raise InvalidInput(f"{where}: {name} must be an int >= {low}, got {value!r:.60}")
    if not isinstance(causal, bool):
        raise InvalidInput(f"{where}: causal must be True or False, got {causal!r:.60}")
    try:
        ok = numpy.dtype(dtype) in (numpy.dtype(numpy.float64), numpy.dtype(numpy.float32))
    except TypeError:
        ok = False
    if not ok:
        raise InvalidInput(f"{where}: dtype must be numpy.float64 or numpy.float32, got {dtype!r:.60}")
    if isinstance(vocab, (str, bytes)) or not hasattr(vocab, "__iter__"):
        raise InvalidInput(f"{where}: vocab must be a set of tokens, got {vocab!r:.60}")


def assert_compiles_correctly(program: n.SOp, *, vocab: Any, max_seq_len: int,
                              causal: bool = False, dtype: Any = numpy.float64,
                              max_inputs: int = 100_000, seed: int = 0) -> None:
    """Compile `program` and check the model against the interpreter on every input.

    Every input of length 1..max_seq_len is checked when there are at most `max_inputs` of
    them; otherwise all short inputs that fit plus a seeded sample of longer ones (`max_inputs`
    in total). The empty input must give [] as well. Numerical outputs are compared within
    `numerical_atol(dtype)`.

    Args:
        program: the RASP SOp.
        vocab: the input vocabulary.
        max_seq_len: the longest input.
        causal: compile with a causal mask and compare with the causal interpreter.
        dtype: numpy.float64 or numpy.float32.
        max_inputs: the most inputs to run.
        seed: seed of the sample when the input space is larger than `max_inputs`.

    Raises:
        AssertionError: the model disagrees with the interpreter; the message shows the
            smallest failing input, expected and got, the first diverging layer (when the
            model can tell) and the program, one node per line.
        UnsupportedProgram: the compiler refuses the program (raised by `theory_kit.compile`).
        EvaluationError: the interpreter itself fails on an input (the program is partial).
        InvalidInput: a bad argument.

    Example:
        >>> from theory_kit import rasp
        >>> from theory_kit.testing import assert_compiles_correctly
        >>> assert_compiles_correctly(rasp.Map(lambda x: x + 1, rasp.tokens),
        ...                           vocab={1, 2}, max_seq_len=3)  # doctest: +SKIP
    """
    _check_args(program, vocab, max_seq_len, causal, dtype, max_inputs, seed)
    import theory_kit

    model = theory_kit.compile(program, vocab=vocab, max_seq_len=max_seq_len, causal=causal,
                               dtype=dtype, verify=None)
    check_model(model, program, vocab=vocab, max_seq_len=max_seq_len, causal=causal,
                dtype=dtype, max_inputs=max_inputs, seed=seed)


def check_model(model: Any, program: n.SOp, *, vocab: Any, max_seq_len: int,
                causal: bool = False, dtype: Any = numpy.float64, max_inputs: int = 100_000,
                seed: int = 0, inputs: Optional[list] = None,
                expected: Optional[list] = None) -> int:
    """The checking half of `assert_compiles_correctly` for an already compiled `model`.

    `inputs`/`expected` may be passed to reuse an interpreter run. Returns the number of
    inputs checked; raises AssertionError as `assert_compiles_correctly` does.
    """
    total = input_space_size(len(set(vocab)), max_seq_len)
    exhaustive = total <= max_inputs
    size = len(inputs) if hasattr(inputs, "__len__") else None
    if inputs is None:  # streamed when exhaustive: never the whole space in memory
        inputs = (all_inputs(vocab, max_seq_len) if exhaustive
                  else _sampled_inputs(vocab, max_seq_len, max_inputs, seed))
        size = total if exhaustive else len(inputs)
    numerical = n.is_numerical(program)
    atol = numerical_atol(dtype)

    failures: list[tuple[list, Any, Any]] = []
    empty = model.run([])
    if empty != []:
        failures.append(([], [], empty))
    try:
        found = check_outputs(model, program, inputs, causal=causal, numerical=numerical,
                              atol=atol, total=size, expected=expected,
                              desc="assert_compiles_correctly")
    except EvaluationError as exc:
        raise EvaluationError(f"assert_compiles_correctly: the interpreter fails, so there "
                              f"is nothing to compare with: {exc}\nprogram:\n"
                              f"{_indent(format_program(program))}") from exc
    n_failures = len(failures) + found.n_failures
    failures += list(found.failures)
    if failures:
        raise AssertionError(_failure_message(
            model, program, failures, n_failures=n_failures, n_checked=found.n_checked + 1,
            exhaustive=exhaustive, causal=causal, numerical=numerical, atol=atol))
    return found.n_checked + 1


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _failure_message(model, program, failures, *, n_failures, n_checked, exhaustive, causal,
                     numerical, atol) -> str:
    xs, expected, got = failures[0]
    how = "every input" if exhaustive else "a seeded sample of inputs"
    lines = [
        f"the compiled model disagrees with the {'causal ' if causal else ''}interpreter on "
        f"{n_failures} of {n_checked} inputs ({how}, plus the empty input)",
        f"smallest failing input: {xs!r}",
        f"  expected (rasp.evaluate): {expected!r}",
        f"  got (model.run):          {got!r}",
    ]
    if numerical:
        lines.append(f"  (numerical output, compared within atol={atol:g})")
    lines.append(f"first diverging layer: {_divergence_text(model, program, xs, causal)}")
    lines.append(f"compiler diagnosis: {_diagnosis_text(model, program, xs)}")
    if n_failures > 1:
        others = ", ".join(repr(f[0]) for f in failures[1:4])
        lines.append(f"other failing inputs: {others}{' ...' if n_failures > 4 else ''}")
    lines += ["program:", _indent(format_program(program))]
    return "\n".join(lines)


def _divergence_text(model, program, xs, causal) -> str:
    if not xs:
        return "not applicable (empty input)"
    try:
        found = node_divergence(model, program, xs, causal=causal)
    except Exception as exc:  # noqa: BLE001 - diagnostics must never hide the real failure
        return f"unavailable ({type(exc).__name__}: {exc})"
    return "none found in the residual stream" if found is None else str(found)


def _diagnosis_text(model, program, xs) -> str:
    """The compiler's own diagnosis (weights vs blocks, or which block) when it offers one."""
    if not xs:
        return "not applicable (empty input)"
    try:
        return diagnose(model, program, xs)
    except Exception as exc:  # noqa: BLE001 - diagnostics must never hide the real failure
        return f"unavailable ({type(exc).__name__}: {exc})"
