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

MINSKY_EXAMPLE: the worked example distributed with Minsky's figure, the tape
MINSKY_EXAMPLE_TAPE with the head on its first y in state q2; it halts after
MINSKY_EXAMPLE_STEPS steps (halting transition included). It is
`encode_tag_system(MINSKY_EXAMPLE_SYSTEM, MINSKY_EXAMPLE_WORD)`: the 2-tag system
a1 -> a1, a2 -> a2 a3, a3 -> a0 a0 a0 (a0 the halting letter) from the word a2 a2 a2, whose
run a2a2a2 -> a2a2a3 -> a3a2a3 -> a3a0a0a0 -> a0a0a0a0a0 the halted tape decodes to.

Minsky's encoding of a 2-tag system (`encode_tag_system`, `decode_tag_word`). The encoding was
worked out here by tracing the machine on the example (a secondary summary of Minsky's AI
Memo 33 gives the same layout with a different letter numbering, which does not reproduce
the example tape; the numbering below does, cell for cell) and checked end to end against
`run_tag_system`, an independent plain-Python tag-system simulator, on the example and on
random tag systems (tests/library/test_machines.py with the direct simulator,
tests/compiler/test_compiled_utm.py with the compiled transition): letters a0 (halting), a1..am;
production P_j = a_j -> b_1 ... b_r (r >= 1, b_i in a0..am), deletion number 2.

* Letter a_j has the number N_0 = 0, N_j = 1 + (r_1 + ... + r_(j-1)) (r_i = |P_i|).
* The word b_1 ... b_n is  y^N(b_1) A y^N(b_2) A ... A y^N(b_n)  (A separates letters).
* An output letter b of a production is the cell pair  x 1  followed by  0^N(b), where x = 1
  marks the production's LAST letter and x = 0 the others; P_j is written right to left,
  chunk(b_r, x=1) chunk(b_(r-1), x=0) ... chunk(b_1, x=0).
* The tape is  P_m ... P_2 P_1 11 word  (the "11" a spacer chunk), head on the word's first
  cell in state q2, blank 0.

One cycle of the machine is one tag step: each y of the first letter moves a marker one chunk
further left (so N_j y's find P_j, left of the N_j-th chunk), the letter and the next are
erased to 0, P_j's letters are appended to the word, and the cycle ends with q7 -> q2 on the
new word's first cell, the production region restored. A first letter with N = 0 (a0) halts
the machine in q3 (at least one erased 0 must separate rules and word by then: the initial
word may not start with a0); the halted word region reads  y w A  where the tag word was
A w (the halting letter then the rest, A -> y by q2 and a separator appended by q6).
The construction also needs every step to leave a non-empty word (a step on a word of 2
letters makes the appended production's leading separator read as an extra a0); the tests'
random systems respect it, and one test shows the failure.

BB4: the 4-state, 2-symbol busy beaver champion (A. H. Brady, "The determination of the value
of Rado's noncomputable function Sigma(k) for four-state Turing machines", Math. Comp. 40
(1983) 647-665): from a blank tape it halts after 107 steps leaving 13 ones.

COUNTER: a binary counter (bits left of '#', least significant next to it; increment v -> v + 1
takes 2 t + 2 steps, t the trailing ones of v).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Sequence

from theory_kit.errors import InvalidInput
from theory_kit.generation import MachineRun
from theory_kit.rasp import nodes as rasp

__all__ = ["MINSKY_UTM", "MINSKY_EXAMPLE_TAPE", "MINSKY_EXAMPLE_STEPS", "MINSKY_EXAMPLE_SYSTEM",
           "MINSKY_EXAMPLE_WORD", "BB4", "COUNTER", "transition_program", "table_alphabet",
           "HALT", "TagSystem", "TagRun", "run_tag_system", "MinskyTape", "encode_tag_system",
           "decode_tag_word", "minsky_tag_words", "minsky_result"]

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


# -- 2-tag systems and Minsky's encoding of them (module docstring) ---------------------------
def _is_letter(x: Any, m: int) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= m


@dataclass(frozen=True)
class TagSystem:
    """A 2-tag system over the letters 0..m: letter j >= 1 appends productions[j - 1] (a
    non-empty tuple of letters) and deletes 2; letter 0 halts."""

    productions: tuple

    def __post_init__(self):
        ps = self.productions
        if not (isinstance(ps, tuple) and ps and all(isinstance(p, tuple) for p in ps)):
            raise InvalidInput(f"TagSystem: productions must be a non-empty tuple of tuples of "
                               f"letters, got {ps!r:.80}")
        m = len(ps)
        problems = [f"production of letter {j} is empty" for j, p in enumerate(ps, 1) if not p]
        problems += [f"production of letter {j} holds {x!r:.20}, not a letter 0..{m}"
                     for j, p in enumerate(ps, 1) for x in p if not _is_letter(x, m)]
        if problems:
            raise InvalidInput("TagSystem: " + "; ".join(problems))

    @property
    def letters(self) -> int:
        """m: the letters are 0 (halting) and 1..m."""
        return len(self.productions)

    def check_word(self, word: Any, where: str) -> tuple:
        """`word` as a tuple of letters, or InvalidInput naming every bad letter."""
        if isinstance(word, (str, bytes)) or not isinstance(word, (list, tuple)):
            raise InvalidInput(f"{where}: a word is a list of letters 0..{self.letters}, got "
                               f"{type(word).__name__} {word!r:.60}")
        bad = [(i, x) for i, x in enumerate(word) if not _is_letter(x, self.letters)]
        if bad:
            raise InvalidInput(f"{where}: letters {bad!r:.80} (index, value) are not letters "
                               f"0..{self.letters}")
        return tuple(word)


@dataclass(frozen=True)
class TagRun:
    """A tag system's run: `words[0]` the initial word, one more per step; `reason` is "halt"
    (the last word starts with letter 0), "short" (fewer than 2 letters: no step deletes 2)
    or "max_steps"."""

    words: tuple
    reason: str

    @property
    def halted(self) -> bool:
        return self.reason == "halt"


def run_tag_system(system: TagSystem, word: Sequence[int], *, max_steps: int) -> TagRun:
    """Run `system` from `word` directly (the reference for Minsky's machine): while the first
    letter is not 0 and the word has 2 letters or more, delete 2 and append the first
    letter's production; at most `max_steps` steps.

    Raises:
        InvalidInput: a letter outside 0..m, or max_steps not an int >= 0.
    """
    word = system.check_word(word, "run_tag_system")
    if not (isinstance(max_steps, int) and not isinstance(max_steps, bool) and max_steps >= 0):
        raise InvalidInput(f"run_tag_system: max_steps must be an int >= 0, got {max_steps!r}")
    words = [word]
    while True:
        w = words[-1]
        if w and w[0] == 0:
            return TagRun(tuple(words), "halt")
        if len(w) < 2:
            return TagRun(tuple(words), "short")
        if len(words) > max_steps:
            return TagRun(tuple(words), "max_steps")
        words.append(w[2:] + system.productions[w[0] - 1])


@dataclass(frozen=True)
class MinskyTape:
    """A tag system and word encoded for MINSKY_UTM: run it with state "q2", blank "0",
    head `head`, halt HALT. `rules` is the production region (tape[:len(rules)]),
    `numbers[j]` letter j's number N_j (its y count)."""

    tape: tuple
    head: int
    rules: tuple
    numbers: tuple
    state: str = "q2"


def encode_tag_system(system: TagSystem, word: Sequence[int]) -> MinskyTape:
    """Minsky's initial tape for running `system` from `word` (module docstring).

    Raises:
        InvalidInput: a letter outside 0..m, a word of fewer than 2 letters, or one starting
            with the halting letter 0 (nothing to run; the machine needs an erased cell
            between the rules and a word starting with a0 to halt).
    """
    word = system.check_word(word, "encode_tag_system")
    if len(word) < 2 or word[0] == 0:
        raise InvalidInput(f"encode_tag_system: the word {list(word)!r:.80} must have 2 "
                           "letters or more and not start with the halting letter 0")
    numbers = [0, 1]
    for p in system.productions[:-1]:
        numbers.append(numbers[-1] + len(p))

    def chunk(letter: int, last: bool) -> str:
        return ("1" if last else "0") + "1" + "0" * numbers[letter]
    rules = "".join(chunk(p[-1], True) + "".join(chunk(b, False) for b in reversed(p[:-1]))
                    for p in reversed(system.productions)) + "11"
    text = "A".join("y" * numbers[b] for b in word)
    return MinskyTape(tuple(rules + text), len(rules), tuple(rules), tuple(numbers))


def decode_tag_word(cells: Sequence, numbers: Sequence[int]) -> tuple:
    """The letters of a word region  y^N A y^N A ... y^N  (numbers[j] = N_j).

    Raises:
        InvalidInput: a cell other than y or A, or a run of y's that is no letter's number.
    """
    letter_of = {n: j for j, n in enumerate(numbers)}
    counts, run = [], 0
    for i, c in enumerate(cells):
        if c == "y":
            run += 1
        elif c == "A":
            counts.append(run)
            run = 0
        else:
            raise InvalidInput(f"decode_tag_word: cell {i} holds {c!r:.20}; a word region "
                               f"holds only y and A: {''.join(map(str, cells))!r:.100}")
    counts.append(run)
    unknown = [c for c in counts if c not in letter_of]
    if unknown:
        raise InvalidInput(f"decode_tag_word: runs of {unknown} y's are not letter numbers "
                           f"{list(numbers)}")
    return tuple(letter_of[c] for c in counts)


def _word_region(cells: dict, start: int, encoded: MinskyTape, where: str) -> list:
    """The cells from `start` to the last non-blank one, after checking that the rules are
    restored and only blanks lie between them and `start`."""
    n = len(encoded.rules)
    rules = tuple(cells.get(i, "0") for i in range(n))
    gap = [cells.get(i, "0") for i in range(n, start)]
    outside = [i for i, c in cells.items() if (i < 0 and c != "0")]
    if rules != encoded.rules or any(c != "0" for c in gap) or outside or start < n:
        raise InvalidInput(f"{where}: not a Minsky configuration: rules "
                           f"{''.join(rules)!r:.80} (expected {''.join(encoded.rules)!r:.80}), "
                           f"word from cell {start}, cells before it {''.join(gap)!r:.60}")
    end = max((i for i, c in cells.items() if c != "0"), default=start - 1)
    return [cells.get(i, "0") for i in range(start, end + 1)]


def minsky_tag_words(encoded: MinskyTape, run: MachineRun) -> tuple:
    """The tag words a traced run of MINSKY_UTM on `encoded` went through: the initial word
    and the word at the start of every cycle (each q7 -> q2 step), decoded from the tape —
    for a correct encoding, `run_tag_system(...).words` (or a prefix of it).

    Raises:
        InvalidInput: the run has no trace, or a configuration that does not decode.
    """
    if run.trace is None or len(run.trace) != run.steps:
        raise InvalidInput("minsky_tag_words: run the machine with trace=True")
    cells = dict(enumerate(encoded.tape))
    words = [decode_tag_word(_word_region(cells, encoded.head, encoded, "minsky_tag_words"),
                             encoded.numbers)]
    for s in run.trace:
        cells[s.position] = s.write
        if s.state == "q7" and s.next_state == "q2":
            region = _word_region(cells, s.position + s.move, encoded,
                                  f"minsky_tag_words (step {s.step})")
            words.append(decode_tag_word(region, encoded.numbers))
    return tuple(words)


def minsky_result(encoded: MinskyTape, run: MachineRun) -> tuple:
    """The tag system's final word (starting with the halting letter 0), decoded from the
    halted tape of MINSKY_UTM run on `encoded` (no trace needed): the word region reads
    y w A for the word A w (module docstring).

    Raises:
        InvalidInput: the run did not halt, or its tape is not a halted Minsky configuration.
    """
    if not run.halted:
        raise InvalidInput(f"minsky_result: the run did not halt ({run.steps} steps, state "
                           f"{run.state!r})")
    cells = {i - run.origin: c for i, c in enumerate(run.tape)}
    first = min((i for i, c in cells.items() if c != "0" and i >= len(encoded.rules)),
                default=len(encoded.rules))
    region = _word_region(cells, first, encoded, "minsky_result")
    if len(region) < 2 or region[0] != "y" or region[-1] != "A":
        raise InvalidInput(f"minsky_result: the halted word region {''.join(region)!r:.80} "
                           "is not y ... A")
    return decode_tag_word(["A"] + region[1:-1], encoded.numbers)


#: The tag system and word MINSKY_EXAMPLE_TAPE encodes (module docstring).
MINSKY_EXAMPLE_SYSTEM = TagSystem(((1,), (2, 3), (0, 0, 0)))
MINSKY_EXAMPLE_WORD = (2, 2, 2)
