"""Claims on chain-of-thought programs: every prompt of size n makes the program write exactly
the number of tokens its formula says.

Importing this module registers one claim per program of `theory_kit.library.cot`:
`<name>_cot_length`, the number of tokens the program writes after a prompt of size n
(scratchpad, answer and the stop token), generated through the one protocol driver
(`theory_kit.generation.generate_with`) from every prompt of size n, against the program's
sympy formula in n. The quantity is that common length, or -1 when two prompts of size n
write different numbers of tokens, so "== formula" holds only when every prompt writes
exactly the formula's count.

The decoder is `VectorisedDecoder`: the interpreter's next token (the causal output at the
last position, `rasp.InterpreterDecoder`'s definition) computed by `rasp.evaluate_vectorised`,
which returns exactly what the interpreter returns (or runs the interpreter), over the whole
batch at once: about 100 times faster than the per-sequence interpreter on 10,000 prompts.
"""

from __future__ import annotations

import functools
from typing import Any, Sequence

from theory_kit.claims.claim import Claim
from theory_kit.claims.registry import register
from theory_kit.errors import EvaluationError, InvalidInput
from theory_kit.generation import generate_with
from theory_kit.library.cot import COT_PROGRAMS
from theory_kit.rasp import nodes as rn
from theory_kit.rasp.vectorised import evaluate_vectorised

__all__ = ["VectorisedDecoder", "cot_lengths", "cot_length_at", "DOMAINS", "CHUNK"]

#: Sizes checked per program: every prompt of every size 1..N (10,000 prompts at most per size
#: for base-10 arithmetic, 2,760 circuits of 4 gates).
DOMAINS = {"parity": 12, "add_plain": 2, "add_plain_carries": 2, "add_reversed": 2,
           "add_reversed_carries": 2, "mul_reversed": 3, "mul_reversed_carries": 3,
           "mul_plain_carries": 3, "circuit": 4, "hops": 8}
#: Prompts generated per batch.
CHUNK = 20_000


class VectorisedDecoder:
    """A `theory_kit.generation.Decoder` giving the reference interpreter's next tokens
    (`rasp.InterpreterDecoder`: the causal output at the last position), each step evaluating
    every extended sequence with `rasp.evaluate_vectorised` (batched, exact)."""

    def __init__(self, program: rn.SOp):
        self.program = program
        self._sequences: list[list] = []

    def start(self, prompts: Sequence[Sequence]) -> list:
        self._sequences = [list(p) for p in prompts]
        return self._next(range(len(self._sequences)))

    def extend(self, rows: Sequence[int], appended: Sequence[Sequence]) -> list:
        if len(rows) != len(appended):
            raise InvalidInput(f"VectorisedDecoder.extend: {len(rows)} rows but "
                               f"{len(appended)} lists of tokens")
        for row, tokens in zip(rows, appended):
            self._sequences[row].extend(tokens)
        return self._next(rows)

    def _next(self, rows) -> list:
        sequences = [self._sequences[r] for r in rows]
        out = [values[-1] for values in evaluate_vectorised(self.program, sequences,
                                                            causal=True)]
        for row, value in zip(rows, out):
            if value is None:
                raise EvaluationError(f"generate: sequence {row}: program "
                                      f"{self.program.label!r} has no value (None) at its last "
                                      f"position; sequence {self._sequences[row]!r:.120}")
        return out


def cot_lengths(name: str, n: int) -> list[int]:
    """The number of tokens library CoT program `name` writes after each prompt of size n
    (until its stop token, at most twice its formula's count plus 4)."""
    spec = COT_PROGRAMS[name]
    program = spec()
    budget = 2 * spec.cot_length_at(n) + 4
    prompts = spec.prompts(n)
    lengths: list[int] = []
    while True:
        block = [p for _, p in zip(range(CHUNK), prompts)]
        if not block:
            return lengths
        for g in generate_with(VectorisedDecoder(program), block, max_new_tokens=budget,
                               stop=spec.stop):
            lengths.append(len(g.tokens) if g.stopped else -1)


@functools.lru_cache(maxsize=None)
def cot_length_at(name: str, n: int) -> int:
    """The number of tokens library CoT program `name` writes after every prompt of size n;
    -1 when two prompts write different numbers (or one does not stop)."""
    lengths = set(cot_lengths(name, int(n)))
    return lengths.pop() if len(lengths) == 1 else -1


def _quantity(name: str, n: Any) -> int:
    return cot_length_at(name, int(n))


for _name, _spec in COT_PROGRAMS.items():
    register(Claim(
        name=f"{_name}_cot_length",
        quantity=functools.partial(_quantity, _name),
        bound=_spec.cot_length,
        domain={"n": (1, DOMAINS[_name], "int")},
        relation="==",
        source=f"theory_kit/library/cot.py ({_spec.doc})",
        description=f"tokens the {_name} chain of thought writes (stop included) after every "
                    f"prompt of size n ({_spec.size}; -1 if two prompts differ) vs "
                    f"{_spec.cot_length}",
    ))
del _name, _spec
assert set(DOMAINS) == set(COT_PROGRAMS), "every CoT program needs a claim domain"
