"""Learning tasks from programs: a chain-of-thought RASP program plus a seeded input
distribution, and the datasets (prompt, chain of thought, answer) the program writes.

A `Task` is a generator program of `theory_kit.library.cot` (its causal output at the last
position is the next token; `rasp.generate`) at one problem size n, with a distribution over
its prompts. `Task.examples(prompts)` runs the program on the prompts through the reference
interpreter (`rasp.generate_batch`): what it writes after a prompt — chain of thought, answer,
stop token — is split by position into the chain of thought (the program's own intermediate
tokens) and the answer (its last `answer_length` tokens before the stop). Nothing is computed
by a second implementation: the dataset is the interpreter's output (tests/learning checks it
against `rasp.evaluate` on every example and every step).

Tasks (`make_task(name, n, ...)`):
    parity          n bits, "="; CoT the running parities p_1..p_{n-1}; answer p_n
                    (Wies et al. 2023; Kim & Suzuki 2024)
    add_plain       two n-digit numbers; answer the n+1 sum digits, most significant first
    add_reversed    answer least significant digit first (Lee et al. 2024); no CoT
    add_scratchpad  CoT the carries c_1..c_n and ";"; answer the sum most significant first
                    (the library's add_plain_carries)
    hops            a table f of m entries, x, "=", n marks "?"; CoT f(x), ..., f^{n-1}(x);
                    answer f^n(x) (n-hop pointer chasing; Joshi et al. 2025)

Encoding (`Dataset`): every sequence of a dataset has one length (the task fixes it), tokens
become ids in `Task.vocab` (one vocabulary for all sizes of a family up to `max_size`, so
longer-length sets share it). A dataset with `cot=True` holds prompt + CoT + answer, with
`cot=False` prompt + answer: the model is trained to write the answer right after the prompt.
The stop token is not part of a sequence (every length is fixed by the task).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from theory_kit.errors import InvalidInput
from theory_kit.library import cot as cotlib
from theory_kit.rasp import generate_batch
from theory_kit.rasp import nodes as rasp

__all__ = ["Task", "Dataset", "make_task", "TASKS", "dataset", "split_pools"]

#: Task families `make_task` builds.
TASKS = ("parity", "add_plain", "add_reversed", "add_scratchpad", "hops")
_STOP = cotlib.STOP


@dataclass(frozen=True, kw_only=True)
class Task:
    """A generator program at problem size n and its input distribution.

    Attributes:
        name: the family (one of TASKS).
        n: problem size (bits, digits per operand, hops).
        program: the chain-of-thought program (library.cot); its written tokens define the
            dataset.
        choices: one tuple of possible tokens per prompt position; prompts are drawn
            uniformly from their product (seeded).
        cot_length: tokens of chain of thought before the answer.
        answer_length: tokens of the answer.
        vocab: every token of prompts and written tokens of this family up to `max_size`.
        max_size: the largest n the vocabulary (and a longer-length set) serves.
        params: the family's other parameters (base, table size), for names and records.
    """

    name: str
    n: int
    program: rasp.SOp = field(repr=False, compare=False)
    choices: tuple
    cot_length: int
    answer_length: int
    vocab: tuple
    max_size: int
    params: tuple = ()

    def __post_init__(self):
        if self.cot_length < 0 or self.answer_length < 1:
            raise InvalidInput(f"Task {self.name}: cot_length {self.cot_length} must be >= 0 and "
                               f"answer_length {self.answer_length} >= 1")
        if not 1 <= self.n <= self.max_size:
            raise InvalidInput(f"Task {self.name}: n = {self.n} outside 1..max_size = "
                               f"{self.max_size}")

    @property
    def prompt_length(self) -> int:
        return len(self.choices)

    @property
    def input_space(self) -> int:
        """The number of distinct prompts."""
        return math.prod(len(c) for c in self.choices)

    def sample(self, count: int, rng: np.random.Generator) -> list[list]:
        """`count` prompts drawn uniformly and independently (repeats possible).

        Raises:
            InvalidInput: count is not an int >= 0."""
        if not isinstance(count, (int, np.integer)) or count < 0:
            raise InvalidInput(f"Task.sample: count must be an int >= 0, got {count!r}")
        # one uniform per (row, position), drawn row by row: the first k of `count` prompts
        # are the k prompts a call with count=k draws (nested training sets)
        u = rng.random((count, len(self.choices)))
        sizes = np.array([len(c) for c in self.choices])
        picks = np.minimum((u * sizes).astype(np.int64), sizes - 1)
        return [[c[k] for c, k in zip(self.choices, row)] for row in picks.tolist()]

    def written(self, prompts: Sequence[Sequence]) -> list[tuple]:
        """What the program writes after each prompt (chain of thought, answer, stop), by the
        reference interpreter."""
        gens = generate_batch(self.program, [list(p) for p in prompts],
                              max_new_tokens=self.cot_length + self.answer_length + 1,
                              stop=_STOP)
        return [g.tokens for g in gens]

    def examples(self, prompts: Sequence[Sequence]) -> list[tuple[tuple, tuple, tuple]]:
        """(prompt, chain of thought, answer) of each prompt, from `written`.

        Raises:
            InvalidInput: the program wrote a different number of tokens than the task's
                lengths (cot_length + answer_length, then the stop token)."""
        out = []
        for p, w in zip(prompts, self.written(prompts)):
            want = self.cot_length + self.answer_length
            if len(w) != want + 1 or w[-1] != _STOP:
                raise InvalidInput(f"Task {self.name} n={self.n}: the program wrote {w!r} after "
                                   f"{p!r}; expected {want} tokens and {_STOP!r}")
            out.append((tuple(p), tuple(w[:self.cot_length]), tuple(w[self.cot_length:want])))
        return out

    def with_size(self, n: int) -> "Task":
        """The same family at size n (same vocabulary, so one model reads both)."""
        return make_task(self.name, n, max_size=self.max_size, **dict(self.params))


@dataclass(frozen=True, kw_only=True)
class Dataset:
    """Examples of a task encoded as integer arrays (every row one full sequence).

    Attributes:
        task: the task.
        cot: whether the sequences hold the chain of thought.
        prompts, cots, answers: the examples as token tuples (N each).
        tokens: int32 [N, T] ids in task.vocab: prompt, (CoT,) answer.
        target_mask: bool [T] positions whose token is a training target (the answer, and the
            chain of thought when cot=True); position t is predicted from positions < t.
        answer_mask: bool [T] the answer positions (exact match of these is accuracy).
    """

    task: Task
    cot: bool
    prompts: tuple = field(repr=False)
    cots: tuple = field(repr=False)
    answers: tuple = field(repr=False)
    tokens: np.ndarray = field(repr=False)
    target_mask: np.ndarray = field(repr=False)
    answer_mask: np.ndarray = field(repr=False)

    def __post_init__(self):
        n = len(self.prompts)
        if not len(self.cots) == len(self.answers) == n == self.tokens.shape[0]:
            raise InvalidInput(f"Dataset: {n} prompts, {len(self.cots)} CoTs, "
                               f"{len(self.answers)} answers, {self.tokens.shape[0]} rows")
        if self.target_mask.shape != (self.tokens.shape[1],) or (
                self.answer_mask.shape != self.target_mask.shape):
            raise InvalidInput(f"Dataset: masks {self.target_mask.shape}, "
                               f"{self.answer_mask.shape} do not match tokens {self.tokens.shape}")

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def length(self) -> int:
        return int(self.tokens.shape[1])

    def padded(self, length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tokens [N, length], target_mask [length], answer_mask [length]): the sequences
        followed by id 0 up to `length` (padding is never a target, and a causal model never
        reads it before the positions that matter), so datasets of different tasks, sizes
        and layouts share one array shape.

        Raises:
            InvalidInput: length shorter than the sequences."""
        extra = length - self.length
        if extra < 0:
            raise InvalidInput(f"Dataset.padded: length {length} < the sequences' {self.length}")
        return (np.pad(self.tokens, ((0, 0), (0, extra))), np.pad(self.target_mask, (0, extra)),
                np.pad(self.answer_mask, (0, extra)))


def dataset(task: Task, prompts: Sequence[Sequence], *, cot: bool) -> Dataset:
    """The examples of `prompts`, encoded; with `cot` the sequences hold the chain of thought.

    Raises:
        InvalidInput: a prompt of the wrong length, or a token outside the task's vocabulary."""
    if not isinstance(cot, bool):
        raise InvalidInput(f"dataset: cot must be True or False, got {cot!r}")
    bad = [p for p in prompts if len(p) != task.prompt_length]
    if bad:
        raise InvalidInput(f"dataset: prompts of task {task.name} n={task.n} have "
                           f"{task.prompt_length} tokens; got {bad[0]!r}")
    ex = task.examples(prompts)
    index = {t: i for i, t in enumerate(task.vocab)}
    rows = [p + (c if cot else ()) + a for p, c, a in ex]
    try:
        tokens = np.array([[index[t] for t in r] for r in rows], dtype=np.int32).reshape(
            len(rows), task.prompt_length + (task.cot_length if cot else 0) + task.answer_length)
    except KeyError as exc:
        raise InvalidInput(f"dataset: token {exc.args[0]!r} is not in the vocabulary of task "
                           f"{task.name} {task.vocab!r}") from None
    p, c, a = task.prompt_length, task.cot_length if cot else 0, task.answer_length
    target = np.zeros(p + c + a, dtype=bool)
    target[p:] = True
    answer = np.zeros(p + c + a, dtype=bool)
    answer[p + c:] = True
    return Dataset(task=task, cot=cot, prompts=tuple(e[0] for e in ex),
                   cots=tuple(e[1] for e in ex), answers=tuple(e[2] for e in ex),
                   tokens=tokens, target_mask=target, answer_mask=answer)


def split_pools(task: Task, *, train: int, test: int, seed: int
                ) -> tuple[list[list], list[list]]:
    """A training pool of `train` prompts and `test` held-out prompts, seeded.

    The training pool is i.i.d. from the task's distribution (a training set of size s is its
    first s prompts, so sets of different sizes are nested). The held-out prompts are drawn
    from the distribution conditioned on not being in the pool: accuracy on them measures
    generalisation to unseen inputs, not memorisation.

    Raises:
        InvalidInput: the pool would cover more than half of the input space (held-out
            prompts would be too few or too slow to find), or counts < 1."""
    if train < 1 or test < 1:
        raise InvalidInput(f"split_pools: train = {train} and test = {test} must be >= 1")
    if 2 * train > task.input_space:
        raise InvalidInput(f"split_pools: a pool of {train} prompts covers more than half of the "
                           f"{task.input_space} inputs of {task.name} n={task.n}; use a larger n "
                           f"or fewer samples")
    rng = np.random.default_rng([seed, 0])
    pool = task.sample(train, rng)
    seen = {tuple(p) for p in pool}
    held: list[list] = []
    rng_test = np.random.default_rng([seed, 1])
    while len(held) < test:
        for p in task.sample(2 * (test - len(held)), rng_test):
            if tuple(p) not in seen and len(held) < test:
                held.append(p)
    return pool, held


# -- the task families ------------------------------------------------------------------------
def _parity(n: int, max_size: int) -> Task:
    return Task(name="parity", n=n, program=cotlib.make_parity_cot(),
                choices=((0, 1),) * n + (("=",),), cot_length=n - 1, answer_length=1,
                vocab=(0, 1, "="), max_size=max_size)


_ADD_FORMATS = {"add_plain": "plain", "add_reversed": "reversed",
                "add_scratchpad": "plain_carries"}


def _addition(name: str, n: int, max_size: int, base: int) -> Task:
    fmt = _ADD_FORMATS[name]
    digits = tuple(range(base))
    cot = n + 1 if fmt == "plain_carries" else 0          # c_1..c_n and ";"
    return Task(name=name, n=n, program=cotlib.make_arithmetic_cot("+", fmt, base=base),
                choices=(digits,) * n + (("+",),) + (digits,) * n + (("=",),),
                cot_length=cot, answer_length=n + 1,
                vocab=digits + ("+", "=") + ((";",) if cot else ()), max_size=max_size,
                params=(("base", base),))


def _hops(n: int, max_size: int, table: int) -> Task:
    entries = tuple(range(table))
    return Task(name="hops", n=n, program=cotlib.make_hops_cot(),
                choices=(entries,) * table + (entries, ("=",)) + (("?",),) * n,
                cot_length=n - 1, answer_length=1, vocab=entries + ("=", "?"),
                max_size=max_size, params=(("table", table),))


def make_task(name: str, n: int, *, max_size: Optional[int] = None, base: int = 10,
              table: int = 8) -> Task:
    """The task `name` (one of TASKS) at size n.

    Args:
        name: the family.
        n: bits (parity), digits per operand (add_*), hops (hops); >= 1.
        max_size: the largest size the vocabulary serves (default n).
        base: digit base of the add_* tasks (2..10).
        table: the pointer table's size m of hops (>= 2).

    Raises:
        InvalidInput: an unknown name or an out-of-range argument."""
    builders: dict[str, Callable[[], Task]] = {
        "parity": lambda: _parity(n, size),
        **{k: (lambda k=k: _addition(k, n, size, base)) for k in _ADD_FORMATS},
        "hops": lambda: _hops(n, size, table),
    }
    if name not in builders:
        raise InvalidInput(f"make_task: unknown task {name!r}; one of {TASKS}")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidInput(f"make_task: n must be an int >= 1, got {n!r}")
    size = n if max_size is None else max_size
    if not isinstance(size, (int, np.integer)) or size < n:
        raise InvalidInput(f"make_task: max_size must be an int >= n = {n}, got {max_size!r}")
    if name.startswith("add") and not (isinstance(base, int) and 2 <= base <= 10):
        raise InvalidInput(f"make_task: base must be an int in 2..10, got {base!r}")
    if name == "hops" and not (isinstance(table, int) and table >= 2):
        raise InvalidInput(f"make_task: table must be an int >= 2, got {table!r}")
    return builders[name]()
