"""Looped programs (rasp.loop): a body applied until a halting condition, with the iterations
each needs as a sympy formula.

Each program here has a plain-Python reference and an iteration count `iterations(xs)` (what
the interpreter's `loop_trace` must report) bounded by a formula in the input length n
(`LoopedSpec.iteration_bound`), so a claim can check the bound and a figure can compare the
looped model with the fixed-depth (unrolled) one. They run in the interpreter (rasp.evaluate,
rasp.loop_trace) and compile after `rasp.unroll`.

Programs:
    make_parity_loop     parity of the number of 1s, by prefix doubling   ceil(log2 n)
    make_add_loop        binary addition, carry-save until no carry        <= n
    make_sort_loop       odd-even transposition sort until sorted          <= n
    make_hops_loop       k-hop pointer chasing                             k
    make_dyck_loop       Dyck-1/Dyck-2 by cancelling adjacent matched pairs <= n/2
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Mapping, Optional, Sequence

import sympy as sp

from theory_kit.errors import InvalidInput
from theory_kit.library.theory import _parse_digit_pair
from theory_kit.rasp import nodes as rasp
from theory_kit.rasp.loops import loop

__all__ = ["make_parity_loop", "make_add_loop", "make_sort_loop", "make_hops_loop",
           "make_dyck_loop", "LoopedSpec", "LOOPED_PROGRAMS"]

_I, _T = rasp.indices, rasp.tokens
_EQ = rasp.Comparison.EQ
#: The length symbol of the iteration formulas.
n_sym = sp.Symbol("n", positive=True, integer=True)


def _at_offset(sop: rasp.SOp, offset: rasp.SOp, default, name: str) -> rasp.SOp:
    """sop[i + offset_i] at position i (offset an SOp), `default` outside the sequence."""
    target = rasp.SequenceMap(lambda i, d: i + d, _I, offset).named(f"{name}_target")
    return rasp.Aggregate(rasp.Select(_I, target, _EQ), sop, default=default).named(name)


def _shifted(sop: rasp.SOp, by: int, default, name: str) -> rasp.SOp:
    """sop[i - by] at position i, `default` where i - by is outside the sequence."""
    source = rasp.Map(lambda i: i - by, _I).named(f"{name}_source")
    return rasp.Aggregate(rasp.Select(_I, source, _EQ), sop, default=default).named(name)


def _broadcast_last(sop: rasp.SOp, name: str) -> rasp.SOp:
    """The value of `sop` at the last position, at every position."""
    last = rasp.Map(lambda n: n - 1, rasp.length).named(f"{name}_last")
    return rasp.Aggregate(rasp.Select(_I, last, _EQ), sop).named(name)


# -- parity -----------------------------------------------------------------------------------
def make_parity_loop(sop: rasp.SOp = _T, *, max_iterations: int = 4) -> rasp.SOp:
    """The parity (0/1) of the number of 1s in `sop` (tokens 0/1), at every position.

    Loop state (p, w): p_i is the parity of sop over the window (i - w, i]; each iteration
    doubles the window, p_i ^= p_{i-w}, w *= 2, until w >= n: ceil(log2 n) iterations (0 for
    n = 1). The answer is p at the last position. `max_iterations` >= ceil(log2 max_seq_len).

    Example:
        >>> make_parity_loop()([1, 0, 1, 1])
        [1, 1, 1, 1]
    """
    def step(state):
        p, w = state
        source = rasp.SequenceMap(lambda i, w: i - w, _I, w).named("parity_source")
        back = rasp.Aggregate(rasp.Select(_I, source, _EQ), p, default=0).named("parity_back")
        return (rasp.SequenceMap(lambda a, b: a ^ b, p, back).named("parity_next"),
                rasp.Map(lambda w: 2 * w, w).named("parity_width_next"))

    def until(state):
        _, w = state
        return rasp.SequenceMap(lambda w, n: w >= n, w, rasp.length).named("parity_done")

    p, _ = loop(step, (rasp.Map(lambda x: x, sop).named("parity_init"), rasp.Full(1)),
                until=until, max_iterations=max_iterations, name="parity")
    return _broadcast_last(p, "parity")


def _ref_parity(xs) -> list:
    return [sum(xs) % 2] * len(xs)


def _iters_parity(xs) -> int:
    return math.ceil(math.log2(len(xs))) if len(xs) > 1 else 0


# -- binary addition ----------------------------------------------------------------------------
def make_add_loop(sop: rasp.SOp = _T, *, max_iterations: int = 6) -> rasp.SOp:
    """Binary addition, token "a+b" per digit, least significant first (as library `make_add`):
    output digit i of (a + b) mod 2^n.

    Loop state (z, c): the partial sum z = a XOR b and the carries c = a AND b (c_i goes into
    position i + 1). Each iteration adds the shifted carries: z' = z XOR c_{i-1},
    c' = z AND c_{i-1}, until no carry is left: at most n iterations (a carry moves one digit
    per iteration; the longest carry chain is n - 1 digits, plus the final clear).

    Example:
        >>> make_add_loop()(["1+1", "1+0", "0+0"])  # 3 + 1 = 4
        [0, 0, 1]
    """
    digits = rasp.Map(_parse_digit_pair, sop).named("add_digits")
    z0 = rasp.Map(lambda ab: ab[0] ^ ab[1], digits).named("add_z0")
    c0 = rasp.Map(lambda ab: ab[0] & ab[1], digits).named("add_c0")

    def step(state):
        z, c = state
        carry_in = _shifted(c, 1, 0, "add_carry_in")
        return (rasp.SequenceMap(lambda a, b: a ^ b, z, carry_in).named("add_z"),
                rasp.SequenceMap(lambda a, b: a & b, z, carry_in).named("add_c"))

    def until(state):
        _, c = state
        # a carry out of the last digit is dropped (mod 2^n): it is no carry left
        pending = rasp.SequenceMap(lambda c, last: c == 1 and not last, c,
                                   rasp.SequenceMap(lambda i, n: i == n - 1, _I, rasp.length))
        return rasp.Map(lambda x: not x, pending).named("add_no_carry")

    z, _ = loop(step, (z0, c0), until=until, max_iterations=max_iterations, name="add_loop")
    return z


def _ref_add(xs) -> list:
    pairs = [_parse_digit_pair(t) for t in xs]
    total = sum((a + b) << i for i, (a, b) in enumerate(pairs))
    return [total >> i & 1 for i in range(len(xs))]


def _iters_add(xs) -> int:
    z = [a ^ b for a, b in map(_parse_digit_pair, xs)]
    c = [a & b for a, b in map(_parse_digit_pair, xs)]
    steps = 0
    while any(c[:-1]):
        carry_in = [0] + c[:-1]
        z, c = [a ^ b for a, b in zip(z, carry_in)], [a & b for a, b in zip(z, carry_in)]
        steps += 1
    return steps


# -- sorting ----------------------------------------------------------------------------------
def make_sort_loop(sop: rasp.SOp = _T, *, max_iterations: int = 5, pad=-1) -> rasp.SOp:
    """Odd-even transposition sort: at phase p, positions i, i + 1 with i + p even swap when out
    of order; halts when every position is <= the next: at most n iterations (Knuth, TAOCP 3,
    5.3.4 ex. 37). `pad` is a value no token takes (marks "no partner").

    Example:
        >>> make_sort_loop()([2, 0, 1])
        [0, 1, 2]
    """
    def step(state):
        s, phase = state
        left = rasp.SequenceMap(lambda i, p: (i + p) % 2 == 0, _I, phase).named("sort_left")
        offset = rasp.Map(lambda is_left: 1 if is_left else -1, left).named("sort_offset")
        other = _at_offset(s, offset, pad, "sort_partner")
        pair = rasp.SequenceMap(lambda a, b: (a, b), s, other).named("sort_pair")
        new = rasp.SequenceMap(
            lambda ab, is_left: ab[0] if ab[1] == pad else (min(ab) if is_left else max(ab)),
            pair, left).named("sort_next")
        return new, rasp.Map(lambda p: 1 - p, phase).named("sort_phase_next")

    def until(state):
        s, _ = state
        after = _at_offset(s, rasp.Full(1), pad, "sort_after")
        return rasp.SequenceMap(lambda a, b: b == pad or a <= b, s, after).named("sort_done")

    s, _ = loop(step, (rasp.Map(lambda x: x, sop).named("sort_init"), rasp.Full(0)),
                until=until, max_iterations=max_iterations, name="sort_loop")
    return s


def _iters_sort(xs) -> int:
    s, phase, steps = list(xs), 0, 0
    while any(a > b for a, b in zip(s, s[1:])):
        new = list(s)
        for i in range(len(s) - 1):
            if (i + phase) % 2 == 0:
                new[i], new[i + 1] = min(s[i], s[i + 1]), max(s[i], s[i + 1])
        s, phase, steps = new, 1 - phase, steps + 1
    return steps


# -- pointer chasing -------------------------------------------------------------------------
def make_hops_loop(sop: rasp.SOp = _T, *, k: int = 2) -> rasp.SOp:
    """k-hop pointer chasing: tokens are positions (token i points to position t_i); position i
    outputs t^k(i), following k pointers from itself: exactly k iterations.

    Example:
        >>> make_hops_loop(k=2)([1, 2, 0])
        [2, 0, 1]
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidInput(f"make_hops_loop: k must be a positive int, got {k!r}")

    def step(state):
        p, count = state
        return (rasp.Aggregate(rasp.Select(_I, p, _EQ), sop).named("hops_next"),
                rasp.Map(lambda c: c + 1, count).named("hops_count_next"))

    p, _ = loop(step, (rasp.Map(lambda i: i, _I).named("hops_init"), rasp.Full(0)),
                until=lambda state: rasp.Map(lambda c: c >= k, state[1]).named("hops_done"),
                max_iterations=k, name="hops")
    return p


def _ref_hops(xs, k=2) -> list:
    out = list(range(len(xs)))
    for _ in range(k):
        out = [xs[p] for p in out]
    return out


# -- Dyck -------------------------------------------------------------------------------------
def make_dyck_loop(sop: rasp.SOp = _T, *, pairs: Sequence[str] = ("()",),
                   max_iterations: int = 3, blank: str = "_") -> rasp.SOp:
    """Whether the brackets are balanced (Dyck-k for k = len(pairs)), at every position.

    Loop state s: the brackets left, packed to the front, blanks after. Each iteration blanks
    every adjacent matched pair (an opener directly followed by its closer) and packs the rest
    to the front (position of a kept bracket = number of kept brackets before it). It halts
    when no adjacent matched pair is left: at most floor(n/2) iterations (each removes at least
    one pair). Balanced iff nothing is left.

    Example:
        >>> make_dyck_loop()("(())")
        [True, True, True, True]
        >>> make_dyck_loop(pairs=("()", "[]"))("([)]")
        [False, False, False, False]
    """
    openers = {p[0]: p[1] for p in pairs}

    def matched(a, b):
        return a in openers and openers[a] == b

    def step(s):
        after = _at_offset(s, rasp.Full(1), blank, "dyck_after")
        before = _at_offset(s, rasp.Full(-1), blank, "dyck_before")
        gone = rasp.SequenceMap(
            lambda here, nb: matched(here, nb[1]) or matched(nb[0], here), s,
            rasp.SequenceMap(lambda b, a: (b, a), before, after).named("dyck_neighbours")
        ).named("dyck_gone")
        kept = rasp.SequenceMap(lambda c, g: c != blank and not g, s, gone).named("dyck_kept")
        rank = rasp.SelectorWidth(rasp.Select(
            rasp.SequenceMap(lambda k, i: (k, i), kept, _I).named("dyck_kept_at"), _I,
            lambda key, q: key[0] and key[1] < q)).named("dyck_rank")
        target = rasp.SequenceMap(lambda k, r: r if k else -1, kept, rank).named("dyck_target")
        return rasp.Aggregate(rasp.Select(target, _I, _EQ), s, default=blank).named("dyck_next")

    def until(s):
        after = _at_offset(s, rasp.Full(1), blank, "dyck_after_done")
        return rasp.SequenceMap(lambda a, b: not matched(a, b), s, after).named("dyck_done")

    left = loop(step, rasp.Map(lambda x: x, sop).named("dyck_init"), until=until,
                max_iterations=max_iterations, name="dyck")
    first = rasp.Aggregate(rasp.Select(_I, rasp.Full(0), _EQ), left).named("dyck_first")
    return rasp.Map(lambda c: c == blank, first).named("dyck_balanced")


def _ref_dyck(xs, pairs=("()",)) -> list:
    stack, ok = [], True
    openers = {p[0]: p[1] for p in pairs}
    for c in xs:
        if c in openers:
            stack.append(openers[c])
        elif not stack or stack.pop() != c:
            ok = False
            break
    return [ok and not stack] * len(xs)


def _iters_dyck(xs, pairs=("()",)) -> int:
    openers = {p[0]: p[1] for p in pairs}
    s, steps = list(xs), 0
    while any(a in openers and openers[a] == b for a, b in zip(s, s[1:])):
        gone = set()
        for i in range(len(s) - 1):
            if s[i] in openers and openers[s[i]] == s[i + 1]:
                gone |= {i, i + 1}
        s = [c for i, c in enumerate(s) if i not in gone]
        steps += 1
    return steps


# -- registry ---------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class LoopedSpec:
    """A looped library program with what checks it.

    Attributes:
        name: registry key.
        build: builds the program for inputs up to `max_seq_len` (keyword-only argument), with
            `max_iterations` large enough for that length.
        doc: one line.
        vocab: default vocabulary (sorted tuple); max_seq_len: default maximum length.
        reference: plain-Python output on a valid input.
        iterations: the exact number of iterations the loop takes on an input.
        iteration_bound: sympy expression in `n_sym` bounding `iterations` at length n
            (attained by some input of every length, except sort_loop at n <= 2).
        precondition: inputs outside the program's domain are skipped (None: all inputs).
    """

    name: str
    build: Callable[..., rasp.SOp]
    doc: str
    vocab: tuple
    max_seq_len: int
    reference: Callable[[Sequence], list]
    iterations: Callable[[Sequence], int]
    iteration_bound: sp.Expr
    precondition: Optional[Callable[[Sequence], bool]] = None

    def __call__(self) -> rasp.SOp:
        return self.build(max_seq_len=self.max_seq_len)

    def at(self, *, max_seq_len: int) -> rasp.SOp:
        return self.build(max_seq_len=max_seq_len)

    def bound_at(self, n: int) -> int:
        """The iteration bound at length n, as an int."""
        return int(self.iteration_bound.subs(n_sym, n))

    def accepts(self, xs: Sequence) -> bool:
        return self.precondition is None or bool(self.precondition(xs))


def _bound(spec_bound: sp.Expr) -> Callable[[int], int]:
    return lambda n: max(1, int(spec_bound.subs(n_sym, n)))


_PARITY = sp.ceiling(sp.log(n_sym, 2))
_LINEAR = n_sym
_HALF = sp.floor(n_sym / 2)

_SPECS = (
    LoopedSpec(
        name="parity_loop", doc="parity of the number of 1s, by prefix doubling",
        build=lambda *, max_seq_len: make_parity_loop(
            max_iterations=_bound(_PARITY)(max_seq_len)),
        vocab=(0, 1), max_seq_len=8, reference=_ref_parity, iterations=_iters_parity,
        iteration_bound=_PARITY),
    LoopedSpec(
        name="add_loop", doc="binary addition mod 2^n, carry-save until no carry is left",
        build=lambda *, max_seq_len: make_add_loop(max_iterations=_bound(_LINEAR)(max_seq_len)),
        vocab=("0+0", "0+1", "1+0", "1+1"), max_seq_len=6, reference=_ref_add,
        iterations=_iters_add, iteration_bound=_LINEAR - 1),
    LoopedSpec(
        name="sort_loop", doc="odd-even transposition sort, until sorted",
        build=lambda *, max_seq_len: make_sort_loop(max_iterations=_bound(_LINEAR)(max_seq_len)),
        vocab=(0, 1, 2), max_seq_len=6, reference=sorted, iterations=_iters_sort,
        iteration_bound=_LINEAR),
    LoopedSpec(
        name="hops_loop", doc="2-hop pointer chasing (token i points to position t_i)",
        build=lambda *, max_seq_len: make_hops_loop(k=2),
        vocab=(0, 1, 2, 3), max_seq_len=4, reference=_ref_hops, iterations=lambda xs: 2,
        iteration_bound=sp.Integer(2), precondition=lambda xs: max(xs) < len(xs)),
    LoopedSpec(
        name="dyck1_loop", doc="Dyck-1 by cancelling adjacent matched pairs",
        build=lambda *, max_seq_len: make_dyck_loop(
            pairs=("()",), max_iterations=_bound(_HALF)(max_seq_len)),
        vocab=("(", ")"), max_seq_len=8, reference=_ref_dyck, iterations=_iters_dyck,
        iteration_bound=_HALF),
    LoopedSpec(
        name="dyck2_loop", doc="Dyck-2 by cancelling adjacent matched pairs",
        build=lambda *, max_seq_len: make_dyck_loop(
            pairs=("()", "[]"), max_iterations=_bound(_HALF)(max_seq_len)),
        vocab=("(", ")", "[", "]"), max_seq_len=6,
        reference=lambda xs: _ref_dyck(xs, ("()", "[]")),
        iterations=lambda xs: _iters_dyck(xs, ("()", "[]")), iteration_bound=_HALF),
)

#: name -> LoopedSpec.
LOOPED_PROGRAMS: Mapping[str, LoopedSpec] = MappingProxyType({s.name: s for s in _SPECS})
