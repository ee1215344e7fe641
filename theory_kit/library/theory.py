"""Programs theory papers use that Tracr's library lacks (aggregates, induction, addition, ...).

They use only what the compiler accepts (see `theory_kit.rasp.validate`): categorical Selects,
categorical (Sequence)Maps, numerical Aggregates with default 0, SelectorWidth,
LinearSequenceMap, and categorical Aggregates that select one value.
"""

from __future__ import annotations

from typing import Sequence

from theory_kit.errors import InvalidInput
from theory_kit.library.tracr import length, make_reverse, shift_by
from theory_kit.rasp import nodes as rasp

__all__ = [
    "make_sum", "make_mean", "make_max", "make_min", "make_prefix_sum", "make_majority",
    "make_palindrome", "make_prev_token", "make_induction", "make_add",
    "addition_tokens", "digits_to_int",
]


def _select_all() -> rasp.Select:
    return rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE).named("select_all")


def make_mean(sop: rasp.SOp = rasp.tokens) -> rasp.SOp:
    """Numerical: the mean of the numbers in `sop` over the whole input, at every position.

    A categorical-to-numerical Map (an MLP) puts each value in one residual dimension; an
    all-true numerical Aggregate averages it (one attention head).

    Example:
        >>> make_mean()([1, 2, 3, 0])
        [1.5, 1.5, 1.5, 1.5]
    """
    values = rasp.numerical(rasp.Map(lambda x: x, sop)).named("mean_values")
    return rasp.numerical(rasp.Aggregate(_select_all(), values, default=0)).named("mean")


def make_sum(sop: rasp.SOp = rasp.tokens) -> rasp.SOp:
    """Numerical: the sum of the numbers in `sop` over the whole input, at every position.

    sum = mean_k(x_k * n): each position first multiplies its value by the length n (a
    categorical SequenceMap with `length`), then an all-true numerical Aggregate averages.
    (mean * length directly would be a SequenceMap with a numerical input, which has no
    finite lookup-table MLP.)

    Example:
        >>> make_sum()([1, 2, 3, 0])
        [6.0, 6.0, 6.0, 6.0]
    """
    scaled = rasp.SequenceMap(lambda x, n: x * n, sop, length).named("sum_scaled")
    scaled = rasp.numerical(rasp.Map(lambda v: v, scaled)).named("sum_scaled_num")
    return rasp.numerical(rasp.Aggregate(_select_all(), scaled, default=0)).named("sum")


def _make_extreme(sop: rasp.SOp, beats: rasp.Comparison, name: str) -> rasp.SOp:
    # Position k holds the extreme iff no key beats it: SelectorWidth == 0. Every such
    # position holds the same value, so the categorical Aggregate is exact.
    n_beating = rasp.SelectorWidth(rasp.Select(sop, sop, beats)).named(f"{name}_n_beating")
    is_extreme = (n_beating == 0).named(f"is_{name}")
    select_extreme = rasp.Select(is_extreme, rasp.indices,
                                 lambda k, q: k).named(f"select_{name}")
    return rasp.Aggregate(select_extreme, sop).named(name)


def make_max(sop: rasp.SOp = rasp.tokens) -> rasp.SOp:
    """The largest value of `sop`, at every position (categorical, exact).

    Example:
        >>> make_max()([1, 3, 0, 3])
        [3, 3, 3, 3]
    """
    return _make_extreme(sop, rasp.Comparison.GT, "max")


def make_min(sop: rasp.SOp = rasp.tokens) -> rasp.SOp:
    """The smallest value of `sop`, at every position (categorical, exact).

    Example:
        >>> make_min()([1, 3, 0, 3])
        [0, 0, 0, 0]
    """
    return _make_extreme(sop, rasp.Comparison.LT, "min")


def make_prefix_sum(sop: rasp.SOp = rasp.tokens, values: Sequence[int] = (0, 1, 2, 3)
                    ) -> rasp.SOp:
    """sop[0] + ... + sop[i] at position i, for `sop` taking values in `values` (causal-safe).

    For each non-zero v, SelectorWidth counts the positions k <= i holding v (the key carries
    (value, index) so the selector needs no composition); categorical SequenceMaps then add
    v * count_v. A value outside `values` is not counted.

    Raises:
        InvalidInput: `values` has no non-zero number.

    Example:
        >>> make_prefix_sum()([1, 2, 0, 3])
        [1, 3, 3, 6]
    """
    nonzero = sorted({v for v in values if v != 0})
    if not nonzero or any(isinstance(v, bool) or not isinstance(v, (int, float))
                          for v in nonzero):
        raise InvalidInput(
            f"make_prefix_sum: values must be numbers with at least one non-zero, got {values!r}")
    value_at = rasp.SequenceMap(lambda x, i: (x, i), sop, rasp.indices).named("prefix_value_at")
    counts = [
        rasp.SelectorWidth(rasp.Select(
            value_at, rasp.indices,
            lambda k, q, v=v: k[0] == v and k[1] <= q).named(f"prefix_has_{v}")
        ).named(f"prefix_count_{v}")
        for v in nonzero]
    total = rasp.Map(lambda c, v=nonzero[0]: v * c, counts[0])
    for v, count in zip(nonzero[1:], counts[1:]):
        total = rasp.SequenceMap(lambda acc, c, v=v: acc + v * c, total, count)
    return total.named("prefix_sum")


def make_majority(sop: rasp.SOp = rasp.tokens) -> rasp.SOp:
    """The most frequent value of `sop` at every position; ties go to the smallest value.

    On a binary vocabulary {0, 1} this is MAJORITY: 1 iff more ones than zeros. Each
    position scores (count, value); the positions no other score beats hold the winner.

    Example:
        >>> make_majority()([0, 1, 1, 2, 2])
        [1, 1, 1, 1, 1]
    """
    hist = rasp.SelectorWidth(rasp.Select(sop, sop, rasp.Comparison.EQ).named(
        "majority_same")).named("majority_hist")
    score = rasp.SequenceMap(lambda h, x: (h, x), hist, sop).named("majority_score")
    beats = rasp.Select(score, score, lambda k, q: k[0] > q[0] or (k[0] == q[0] and k[1] < q[1])
                        ).named("majority_beats")
    n_beating = rasp.SelectorWidth(beats).named("majority_n_beating")
    is_winner = (n_beating == 0).named("majority_is_winner")
    select_winner = rasp.Select(is_winner, rasp.indices,
                                lambda k, q: k).named("select_majority")
    return rasp.Aggregate(select_winner, sop).named("majority")


def make_palindrome(sop: rasp.SOp = rasp.tokens) -> rasp.SOp:
    """True at every position iff `sop` reads the same backwards.

    Example:
        >>> make_palindrome()("abba")
        [True, True, True, True]
        >>> make_palindrome()("abb")
        [False, False, False]
    """
    mismatch = rasp.SequenceMap(lambda x, y: x != y, sop,
                                make_reverse(sop)).named("palindrome_mismatch")
    n_mismatch = rasp.SelectorWidth(rasp.Select(
        mismatch, rasp.indices, lambda k, q: k).named("select_mismatch")
    ).named("palindrome_n_mismatch")
    return (n_mismatch == 0).named("palindrome")


def make_prev_token(sop: rasp.SOp = rasp.tokens) -> rasp.SOp:
    """The previous-token head: position i copies sop[i - 1] (None at position 0).

    Example:
        >>> make_prev_token()("abc")
        [None, 'a', 'b']
    """
    return shift_by(1, sop).named("prev_token")


def make_induction(sop: rasp.SOp = rasp.tokens) -> rasp.SOp:
    """The induction head: at i, the token that followed the latest earlier occurrence of sop[i].

    None where sop[i] has not occurred before. Built causally: `seen` counts occurrences of
    sop[i] at positions <= i; key j carries (sop[j-1], seen[j-1], j > 0) from a previous-token
    head (clamped at position 0, so no key is None), and query i asks for
    (sop[i], seen[i] - 1, True). Exactly one key matches: j - 1 is the latest earlier
    occurrence, and the head copies sop[j].

    Example:
        >>> make_induction()("abcab")
        [None, None, None, 'b', 'c']
    """
    value_at = rasp.SequenceMap(lambda x, i: (x, i), sop,
                                rasp.indices).named("induction_value_at")
    same_before = rasp.Select(value_at, value_at, lambda k, q: k[0] == q[0] and k[1] <= q[1]
                              ).named("induction_same_before")
    seen = rasp.SelectorWidth(same_before).named("induction_seen")
    occurrence = rasp.SequenceMap(lambda x, c: (x, c), sop, seen).named("induction_occurrence")
    select_prev = rasp.Select(rasp.indices, rasp.indices,
                              lambda k, q: k == max(q - 1, 0)).named("induction_select_prev")
    prev_occurrence = rasp.Aggregate(select_prev, occurrence).named("induction_prev_occurrence")
    key = rasp.SequenceMap(lambda p, j: (p[0], p[1], j > 0), prev_occurrence,
                           rasp.indices).named("induction_key")
    query = rasp.Map(lambda o: (o[0], o[1] - 1, True), occurrence).named("induction_query")
    select_next = rasp.Select(key, query, rasp.Comparison.EQ).named("induction_select")
    return rasp.Aggregate(select_next, sop).named("induction")


def _parse_digit_pair(token: str) -> tuple:
    a, b = token.split("+")
    return int(a), int(b)


def addition_tokens(a: int, b: int, *, n_digits: int, base: int = 2) -> list:
    """The input of `make_add` for a + b: n_digits tokens "a_i+b_i", least significant first.

    Raises:
        InvalidInput: a or b is negative or needs more than n_digits digits, or base not in 2..10.

    Example:
        >>> addition_tokens(3, 1, n_digits=3)
        ['1+1', '1+0', '0+0']
    """
    if not 2 <= base <= 10:
        raise InvalidInput(f"addition_tokens: base must be in 2..10, got {base!r}")
    for name, x in (("a", a), ("b", b)):
        if x < 0 or x >= base ** n_digits:
            raise InvalidInput(f"addition_tokens: {name}={x!r} does not fit in {n_digits} "
                               f"base-{base} digits")
    return [f"{a // base ** i % base}+{b // base ** i % base}" for i in range(n_digits)]


def digits_to_int(digits: Sequence[int], *, base: int = 2) -> int:
    """The integer with these digits, least significant first: the inverse of reading make_add.

    Example:
        >>> digits_to_int([0, 0, 1])
        4
    """
    return sum(int(d) * base ** i for i, d in enumerate(digits))


def make_add(sop: rasp.SOp = rasp.tokens, *, base: int = 2) -> rasp.SOp:
    """Multi-digit addition with carries; causal-safe (digit i depends only on digits <= i).

    Input format: token i is the string "a_i+b_i" holding digit i of both addends, least
    significant digit first (see `addition_tokens`). Output i is digit i of a + b, so n
    tokens give (a + b) mod base**n; pad with "0+0" to keep the final carry.

    Construction: the carry into i is 1 iff the latest *decisive* position j < i (digit sum
    != base - 1; sums equal to base - 1 propagate) generates (digit sum >= base). `decisive_
    before[i]` counts decisive positions < i (SelectorWidth); the latest one is the decisive
    key j with decisive_before[j] + 1 == decisive_before[i]. When there is none the query
    selects itself (so the categorical Aggregate never averages or defaults) and the final
    map ignores the value.

    Raises:
        InvalidInput: base is not in 2..10.

    Example:
        >>> digits = make_add()(addition_tokens(3, 1, n_digits=3))
        >>> digits, digits_to_int(digits)
        ([0, 0, 1], 4)
    """
    if isinstance(base, bool) or not isinstance(base, int) or not 2 <= base <= 10:
        raise InvalidInput(f"make_add: base must be an int in 2..10, got {base!r}")

    def digit_sum(token):
        a, b = _parse_digit_pair(token)
        return a + b

    digit_at = rasp.SequenceMap(lambda t, i: (digit_sum(t) != base - 1, i, digit_sum(t)),
                                sop, rasp.indices).named("add_digit_at")
    decisive_before = rasp.SelectorWidth(rasp.Select(
        digit_at, rasp.indices, lambda k, q: k[0] and k[1] < q).named("add_select_decisive")
    ).named("add_decisive_before")
    key = rasp.SequenceMap(lambda d, c: (d[0], c, d[1]), digit_at,
                           decisive_before).named("add_key")
    query = rasp.SequenceMap(lambda d, c: (c, d[1], d[2]), digit_at,
                             decisive_before).named("add_query")
    select_carry = rasp.Select(
        key, query,
        lambda k, q: (k[0] and k[1] + 1 == q[0]) or (q[0] == 0 and k[2] == q[1])
    ).named("add_select_carry")
    generates = rasp.Map(lambda t: digit_sum(t) >= base, sop).named("add_generates")
    carry_source = rasp.Aggregate(select_carry, generates).named("add_carry_source")
    return rasp.SequenceMap(lambda q, g: (q[2] + int(bool(g) and q[0] > 0)) % base,
                            query, carry_source).named("add")
