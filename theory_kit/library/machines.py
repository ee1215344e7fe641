"""Turing machine tables for the external-memory protocol (issue 15, item 5;
`theory_kit.generation.run_machine`, `simulate_machine`), with their sources, and the RASP
transition program a compiled transformer computes them with.

A table maps (state, symbol) -> (write, move, next_state), move in {"L", "N", "R"}.

MINSKY_UTM: Minsky's 7-state, 4-symbol universal Turing machine, which simulates 2-tag systems
(and through them any Turing machine). Source: M. L. Minsky, "Computation: Finite and Infinite
Machines", Prentice-Hall, 1967, Section 14.8, Fig. 14.8-1 (the machine of M. L. Minsky, "Size
and structure of universal Turing machines using tag systems", Recursive Function Theory,
Proc. Symp. Pure Mathematics 5, AMS, 1962, 229-238). States q1..q7, symbols 0 (the blank), 1,
y, A; the table, one row per state, columns y / 0 / 1 / A (write, move, next state):

    q1   0 L q1   0 L q1   1 L q2   1 L q1
    q2   0 L q1   y R q2   A R q2   y R q6
    q3   y L q3   HALT     A L q3   1 L q4
    q4   y L q4   y R q5   1 L q7   1 L q4
    q5   y R q5   y L q3   A R q5   1 R q5
    q6   y R q6   A L q3   A R q6   1 R q6
    q7   0 R q7   y R q6   1 R q7   0 R q2

(Transcribed from the figure as reproduced in public course material and cross-checked against
an independent public transcription; it was not compared with a printed copy of the book.)
Minsky's machine halts when it reads 0 in state q3; here that entry is the transition
(0, N, "H") into the halt state "H", so a run counts it as one step.

MINSKY_EXAMPLE: an encoded tag-system program and word for MINSKY_UTM (the worked example
distributed with Minsky's figure): the tape MINSKY_EXAMPLE_TAPE with the head on its first y
in state q2. It halts after MINSKY_EXAMPLE_STEPS steps (halting transition included). What
this tape encodes was not decoded independently here: the tests check the compiled
transition against the direct simulator at every step, and that the run halts.

BB4: the 4-state, 2-symbol busy beaver champion (A. H. Brady, "The determination of the value
of Rado's noncomputable function Sigma(k) for four-state Turing machines", Math. Comp. 40
(1983) 647-665): from a blank tape it halts after 107 steps leaving 13 ones.

COUNTER: a binary counter (bits left of '#', least significant next to it; increment v -> v + 1
takes 2 t + 2 steps, t the trailing ones of v).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

from theory_kit.rasp import nodes as rasp

__all__ = ["MINSKY_UTM", "MINSKY_EXAMPLE_TAPE", "MINSKY_EXAMPLE_STEPS", "BB4", "COUNTER",
           "transition_program", "table_alphabet", "HALT"]

HALT = "H"
_MINSKY_ROWS = """
q1  0Lq1 0Lq1 1Lq2 1Lq1
q2  0Lq1 yRq2 ARq2 yRq6
q3  yLq3 HALT ALq3 1Lq4
q4  yLq4 yRq5 1Lq7 1Lq4
q5  yRq5 yLq3 ARq5 1Rq5
q6  yRq6 ALq3 ARq6 1Rq6
q7  0Rq7 yRq6 1Rq7 0Rq2
"""


def _parse_minsky() -> dict:
    table = {}
    for line in _MINSKY_ROWS.strip().splitlines():
        state, *cells = line.split()
        for symbol, cell in zip("y01A", cells):
            table[(state, symbol)] = ("0", "N", HALT) if cell == "HALT" else \
                (cell[0], cell[1], cell[2:])
    return table


#: Minsky's (7, 4) universal machine (module docstring); blank "0".
MINSKY_UTM: Mapping = MappingProxyType(_parse_minsky())
#: The example tape; start in q2 on its first "y" (index 21).
MINSKY_EXAMPLE_TAPE = tuple("110101110000010011011yyAyyAyy")
MINSKY_EXAMPLE_STEPS = 1870

BB4: Mapping = MappingProxyType({
    ("A", 0): (1, "R", "B"), ("A", 1): (1, "L", "B"), ("B", 0): (1, "L", "A"),
    ("B", 1): (0, "L", "C"), ("C", 0): (1, "R", HALT), ("C", 1): (1, "L", "D"),
    ("D", 0): (1, "R", "D"), ("D", 1): (0, "R", "A")})

COUNTER: Mapping = MappingProxyType({
    ("inc", 1): (0, "L", "inc"), ("inc", 0): (1, "R", "ret"),
    ("ret", 0): (0, "R", "ret"), ("ret", 1): (1, "R", "ret"),
    ("ret", "#"): ("#", "L", "inc")})


def table_alphabet(table: Mapping) -> set:
    """Every symbol a table reads or writes."""
    return {s for _, s in table} | {w for w, _, _ in table.values()}


def transition_program(table: Mapping, name: str = "transition") -> rasp.SOp:
    """The causal program whose output at the (one) position holding (state, symbol) is the
    transition table[(state, symbol)]: one MLP; compile it with vocab=set(table),
    max_seq_len=1, causal=True, and run it with `run_machine(model.decoder(), ...)`."""
    entries = dict(table)

    def step(t: Any):
        return entries.get(t, ("_", "N", "_"))
    return rasp.categorical(rasp.Map(step, rasp.tokens)).named(name)
