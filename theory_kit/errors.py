"""The exceptions theory_kit raises: every public failure is a TheoryKitError subclass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = [
    "Problem",
    "TheoryKitError",
    "InvalidProgram",
    "UnsupportedProgram",
    "EvaluationError",
    "InvalidInput",
    "CompilationMismatch",
    "InvalidModelFile",
    "InvalidClaim",
    "InvalidMeasurement",
    "BoundViolated",
    "SolverFailed",
    "GenerationError",
    "ToolCallError",
    "MachineError",
    "SweepStoreError",
    "SweepFailed",
]


@dataclass(frozen=True)
class Problem:
    """One reason something cannot be done as given: where (`label`), why, and a fix."""

    label: str
    reason: str
    fix: Optional[str] = None

    def __str__(self) -> str:
        text = f"{self.label}: {self.reason}"
        return f"{text} (fix: {self.fix})" if self.fix else text


class TheoryKitError(Exception):
    """Base class of every error theory_kit raises on purpose."""


class InvalidProgram(TheoryKitError, TypeError):
    """A RASP program is malformed: wrong child types, cycles, bad annotations."""


class UnsupportedProgram(TheoryKitError):
    """A well-formed program the compiler refuses; `.problems` lists every reason."""

    def __init__(self, message: str, problems: tuple = ()):
        super().__init__(message)
        self.problems = tuple(problems)


class EvaluationError(TheoryKitError):
    """The reference interpreter could not evaluate a node (a Map raised, a bad value...)."""


class InvalidInput(TheoryKitError, ValueError):
    """An input sequence or argument is outside what the callee accepts."""


class CompilationMismatch(TheoryKitError):
    """A compiled model disagrees with the reference interpreter.

    Attributes: `input` (the smallest failing input), `expected`, `got`, `layer` (the first
    residual position that disagrees with the block-level reference, or None).
    """

    def __init__(self, message: str, *, input=None, expected=None, got=None, layer=None):
        super().__init__(message)
        self.input = input
        self.expected = expected
        self.got = got
        self.layer = layer


class InvalidModelFile(TheoryKitError):
    """A saved model file is missing, corrupted, or from an incompatible version."""


class InvalidClaim(TheoryKitError, ValueError):
    """A Claim specification is malformed (unknown symbol, empty domain, bad bound...)."""


class InvalidMeasurement(TheoryKitError, ValueError):
    """A measured random quantity cannot be used: NaN, not a number, too few samples, or +inf
    where the confidence interval cannot take it (`theory_kit.claims.statistical`)."""


class BoundViolated(TheoryKitError):
    """A claimed bound was found to fail; `.verdict` holds the counterexample."""

    def __init__(self, message: str, verdict=None):
        super().__init__(message)
        self.verdict = verdict


class SolverFailed(TheoryKitError):
    """A convex solve did not return an optimal solution; carries `.status` and `.solver`."""

    def __init__(self, message: str, *, status=None, solver=None):
        super().__init__(message)
        self.status = status
        self.solver = solver


class GenerationError(TheoryKitError):
    """A generation run broke its protocol: a decoder gave an invalid next token, a sequence
    left the vocabulary, or a bound was exceeded (`theory_kit.generation`).

    Attributes: `row` (the sequence's index in the batch), `position` (the token's index in the
    whole sequence, prompt included; for a machine, the head's position), `value` (the
    offending token or value), `step` (a machine's step, else None).
    """

    def __init__(self, message: str, *, row=None, position=None, value=None, step=None):
        super().__init__(message)
        self.row = row
        self.position = position
        self.value = value
        self.step = step


class ToolCallError(GenerationError):
    """A tool call went wrong: END without CALL, no tool name, an unknown tool, a tool that
    raised (chained as `__cause__`), or a result that is not a valid token."""


class MachineError(GenerationError):
    """An external-memory machine step went wrong: an output that is not a transition, a move
    outside the allowed set, a written symbol outside the alphabet, or no transition."""


class SweepStoreError(TheoryKitError):
    """A sweep's result store cannot be used: missing, corrupted or truncated, written by
    another task function, or in use by another running sweep. The message names the file."""

    def __init__(self, message: str, *, path=None):
        super().__init__(message)
        self.path = path


class SweepFailed(TheoryKitError):
    """Cells of a sweep raised (`theory_kit.sweep.check`); `.rows` holds the failed rows, each
    with its parameters and traceback."""

    def __init__(self, message: str, *, rows=()):
        super().__init__(message)
        self.rows = list(rows)
