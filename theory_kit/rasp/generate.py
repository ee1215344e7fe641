"""The generation oracle: autoregressive generation, tool calls and tape machines driven by the
reference interpreter, through the one protocol in `theory_kit.generation`.

The next token of a sequence is the CAUSAL program's output at its last position,
`evaluate(program, seq, causal=True)[-1]`: what a decoder-only transformer compiled from the
program writes next. `generate` takes one prompt and returns one Generation; `generate_batch`
takes a list of prompts and returns a list (as `evaluate` / `evaluate_batch`).

Two decoders compute that definition: `InterpreterDecoder` runs the scalar interpreter on each
sequence, `VectorisedDecoder` (the default of `generate` / `generate_batch`) runs
`rasp.evaluate_vectorised` once per step on all the sequences (vectorised over those of equal
length) — the same
values (evaluate_vectorised equals evaluate_batch, falling back on the interpreter by itself),
and wherever a step would raise or meet None, the interpreter's path reruns that step, so the
errors are the interpreter's too.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from theory_kit.errors import EvaluationError, InvalidInput, InvalidProgram
from theory_kit.generation import Generation, MachineRun, generate_with, run_machines
from theory_kit.rasp import nodes as n
from theory_kit.rasp.interpreter import _Evaluator
from theory_kit.rasp.vectorised import evaluate_vectorised
from theory_kit.values import check_input

__all__ = ["InterpreterDecoder", "VectorisedDecoder", "generate", "generate_batch",
           "run_machine"]


class InterpreterDecoder:
    """A `theory_kit.generation.Decoder` backed by the reference interpreter.

    Every next token re-evaluates the whole sequence (causal=True); one evaluator serves all
    calls, so Map / SequenceMap values are computed once per distinct argument (as in
    `evaluate_batch`). A compiled model implements the same interface incrementally.
    """

    def __init__(self, program: n.SOp):
        if not isinstance(program, n.SOp):
            raise InvalidProgram(f"InterpreterDecoder: expected an SOp (its value at the last "
                                 f"position is the next token), got {type(program).__name__} "
                                 f"{program!r:.60}")
        self.program = program
        self._evaluator = _Evaluator(program, True)
        self._sequences: list[list] = []

    def start(self, prompts: Sequence[Sequence]) -> list:
        """Forget earlier sequences; the next token of each prompt."""
        self._sequences = [check_input(p, where=f"InterpreterDecoder.start (prompt {i})")
                           for i, p in enumerate(prompts)]
        return self._next_rows(list(range(len(self._sequences))))

    def extend(self, rows: Sequence[int], appended: Sequence[Sequence]) -> list:
        """Append `appended[j]` to sequence `rows[j]`; each extended sequence's next token."""
        if len(rows) != len(appended):
            raise InvalidInput(f"InterpreterDecoder.extend: {len(rows)} rows but "
                               f"{len(appended)} lists of tokens")
        checked = []
        for row, tokens in zip(rows, appended):
            if not (isinstance(row, int) and 0 <= row < len(self._sequences)):
                raise InvalidInput(f"InterpreterDecoder.extend: row {row!r} is not one of the "
                                   f"{len(self._sequences)} started sequences")
            checked.append(check_input(tokens, where=f"InterpreterDecoder.extend (row {row})"))
        for row, tokens in zip(rows, checked):
            self._sequences[row].extend(tokens)
        return self._next_rows(list(rows))

    def _next_rows(self, rows: list[int]) -> list:
        """The next token of each of `rows`, in order."""
        return [self._next(row) for row in rows]

    def _next(self, row: int) -> Any:
        seq = self._sequences[row]
        if not seq:
            raise InvalidInput(f"InterpreterDecoder: sequence {row} is empty; the next token is "
                               "the output at the last position")
        value = self._evaluator.run_all(seq)[id(self.program)][-1]
        if value is None:
            raise EvaluationError(
                f"generate: sequence {row}: program {self.program.label!r} has no value (None) "
                f"at position {len(seq) - 1}, the last, so there is no next token; sequence "
                f"{seq!r:.120}")
        return value


class VectorisedDecoder(InterpreterDecoder):
    """`InterpreterDecoder`'s tokens, computed by `rasp.evaluate_vectorised`: each step
    evaluates the sequences of all the rows asked in one call (which evaluates those of each
    length together). Where a step raises or a next token is None, that step is recomputed
    by the interpreter, row by row, so it raises what `InterpreterDecoder` raises.
    """

    def _next_rows(self, rows: list[int]) -> list:
        seqs = [self._sequences[r] for r in rows]
        if not all(seqs):
            return super()._next_rows(rows)   # the interpreter's error for an empty one
        try:
            tokens = [out[-1] for out in evaluate_vectorised(self.program, seqs, causal=True)]
        except Exception:
            return super()._next_rows(rows)   # raises as the interpreter does
        if any(t is None for t in tokens):
            return super()._next_rows(rows)
        return tokens


def generate_batch(program: n.SOp, prompts: Iterable[Sequence], *, max_new_tokens: int,
                   stop: Any = None, tools: Optional[Mapping[Any, Callable]] = None,
                   vocab: Optional[Iterable] = None, max_len: Optional[int] = None,
                   vectorised: bool = True) -> list[Generation]:
    """Generate from each prompt with `program` as the model (causal, last position).

    Args:
        program: an SOp; its causal value at the last position is the next token.
        prompts: a list of non-empty token sequences.
        vectorised: compute the next tokens with `VectorisedDecoder` (default) or, if False,
            `InterpreterDecoder` (the same tokens and errors; slower on many or long prompts).
        The other arguments are `theory_kit.generation.generate_with`'s (stop tokens, tools,
        vocabulary, max_len; see its module docstring for the tool-call protocol).

    Returns:
        One `theory_kit.generation.Generation` per prompt.

    Raises:
        InvalidProgram: `program` is not an SOp. InvalidInput: bad arguments.
        EvaluationError: the program has no value (None) at the last position, or a node's
            function raised. GenerationError / ToolCallError: the protocol was broken.
    """
    if not isinstance(vectorised, bool):
        raise InvalidInput(f"generate: vectorised must be True or False, got {vectorised!r:.40}")
    decoder = (VectorisedDecoder if vectorised else InterpreterDecoder)(program)
    return generate_with(decoder, prompts, max_new_tokens=max_new_tokens, stop=stop,
                         tools=tools, vocab=vocab, max_len=max_len)


def generate(program: n.SOp, prompt: Sequence, *, max_new_tokens: int, stop: Any = None,
             tools: Optional[Mapping[Any, Callable]] = None, vocab: Optional[Iterable] = None,
             max_len: Optional[int] = None, vectorised: bool = True) -> Generation:
    """`generate_batch` on one prompt: returns one Generation."""
    return generate_batch(program, [prompt], max_new_tokens=max_new_tokens, stop=stop,
                          tools=tools, vocab=vocab, max_len=max_len, vectorised=vectorised)[0]


def run_machine(program: n.SOp, tape: Sequence, *, state: Any, steps: int, alphabet: Iterable,
                halt: Any = None, blank: Any = 0, head: int = 0, trace: bool = False,
                encode: Optional[Callable[[Any, Any], list]] = None) -> MachineRun:
    """Run a tape machine whose transition function is `program`: each step the prompt is
    `[(state, symbol)]` (or `encode(state, symbol)`) and the program's causal output at its
    last position is the transition `(write, move, next_state)`.

    See `theory_kit.generation.run_machine` for the arguments, result and errors;
    `run_machines(InterpreterDecoder(program), tapes, ...)` runs several tapes batched.
    """
    return run_machines(InterpreterDecoder(program), [tape], state=state, steps=steps,
                        alphabet=alphabet, halt=halt, blank=blank, head=head, trace=trace,
                        encode=encode)[0]
