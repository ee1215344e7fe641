"""A library of named RASP programs: Tracr's `compiler/lib.py` plus programs theory papers use.

The Tracr programs keep Tracr's names, signatures, node structure, names and encodings, so a
Tracr user writes `from theory_kit import library as lib` and compiled sizes are comparable.
The other programs use only what the compiler accepts (see `theory_kit.rasp.validate`):
categorical Selects, categorical (Sequence)Maps, numerical Aggregates with default 0,
SelectorWidth, LinearSequenceMap, and categorical Aggregates that select one value.

`PROGRAMS` maps a name to a `ProgramSpec`: a zero-argument factory (call it to build the
program with its default arguments) plus the metadata the CLI, compiler tests, benchmarks and
figures need: a one-line doc, a default vocabulary and max_seq_len small enough for exhaustive
verification, whether the program is causal-safe, an optional input precondition and a plain
Python reference implementation of what the program is meant to compute.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Iterator, List, Mapping, Optional, Sequence

from theory_kit.errors import InvalidInput
from theory_kit.rasp import nodes as rasp

__all__ = [
    # Tracr's compiler/lib.py
    "make_length", "length", "make_reverse", "make_pair_balance", "make_shuffle_dyck",
    "make_shuffle_dyck2", "make_hist", "make_sort_unique", "make_sort", "make_sort_freq",
    "make_frac_prevs", "shift_by", "detect_pattern", "make_count_less_freq", "make_count",
    "make_nary_sequencemap",
    # programs theory papers use
    "make_sum", "make_mean", "make_max", "make_min", "make_prefix_sum", "make_majority",
    "make_palindrome", "make_prev_token", "make_induction", "make_add",
    "addition_tokens", "digits_to_int",
    # registry
    "ProgramSpec", "PROGRAMS",
]


# ==========================================================================================
# Tracr's programs (tracr/compiler/lib.py): same names, arguments, node structure and names.
# ==========================================================================================

# -- Programs that work only under non-causal evaluation (Tracr's grouping) -----------------


def make_length() -> rasp.SOp:
    """The length of the input at every position, as SelectorWidth of an all-true selector.

    Example:
        >>> make_length()("abcde")
        [5, 5, 5, 5, 5]
    """
    all_true_selector = rasp.Select(
        rasp.tokens, rasp.tokens, rasp.Comparison.TRUE).named("all_true_selector")
    return rasp.SelectorWidth(all_true_selector).named("length")


#: Tracr's module-level `length` (the compiler has no `length` primitive of its own in Tracr).
length = make_length()


def make_reverse(sop: rasp.SOp) -> rasp.SOp:
    """`sop` in reverse order: position i reads position length - i - 1.

    Example:
        >>> make_reverse(rasp.tokens)("Hello")
        ['o', 'l', 'l', 'e', 'H']
    """
    opp_idx = (length - rasp.indices).named("opp_idx")
    opp_idx = (opp_idx - 1).named("opp_idx-1")
    reverse_selector = rasp.Select(
        rasp.indices, opp_idx, rasp.Comparison.EQ).named("reverse_selector")
    return rasp.Aggregate(reverse_selector, sop).named("reverse")


def make_pair_balance(sop: rasp.SOp, open_token: str, close_token: str) -> rasp.SOp:
    """Fraction of open tokens minus fraction of close tokens in each prefix (RASP paper).

    The input has balanced parentheses iff every output is >= 0 and the last one is 0.

    Example:
        >>> make_pair_balance(rasp.tokens, "(", ")")("(()")
        [1.0, 1.0, 0.3333333333333333]
    """
    bools_open = rasp.numerical(sop == open_token).named("bools_open")
    opens = rasp.numerical(make_frac_prevs(bools_open)).named("opens")

    bools_close = rasp.numerical(sop == close_token).named("bools_close")
    closes = rasp.numerical(make_frac_prevs(bools_close)).named("closes")

    pair_balance = rasp.numerical(rasp.LinearSequenceMap(opens, closes, 1, -1))
    return pair_balance.named("pair_balance")


def make_shuffle_dyck(pairs: List[str]) -> rasp.SOp:
    """True at every position iff each pair type of parentheses is balanced (RASP paper).

    Args:
        pairs: two-character strings "<open><close>", e.g. ["()", "{}"]; other tokens are
            ignored.

    Raises:
        InvalidInput: `pairs` is empty or an entry is not two characters long.

    Example:
        >>> make_shuffle_dyck(["()", "{}"])("({)}")
        [True, True, True, True]
        >>> make_shuffle_dyck(["()", "{}"])("(){)}")
        [False, False, False, False, False]
    """
    if len(pairs) < 1:
        raise InvalidInput(f"make_shuffle_dyck: pairs must not be empty, got {pairs!r}")
    balances = []
    for pair in pairs:
        if len(pair) != 2:
            raise InvalidInput(
                f"make_shuffle_dyck: each pair must be two tokens '<open><close>', got {pair!r}")
        open_token, close_token = pair
        balance = make_pair_balance(
            rasp.tokens, open_token=open_token, close_token=close_token).named(f"balance_{pair}")
        balances.append(balance)

    # A negative balance anywhere means a close came before its open.
    any_negative = balances[0] < 0
    for balance in balances[1:]:
        any_negative = any_negative | (balance < 0)
    any_negative = rasp.numerical(rasp.Map(lambda x: x, any_negative)).named("any_negative")
    select_all = rasp.Select(rasp.indices, rasp.indices,
                             rasp.Comparison.TRUE).named("select_all")
    has_neg = rasp.numerical(rasp.Aggregate(select_all, any_negative,
                                            default=0)).named("has_neg")

    # Every balance must be 0 at the last position.
    all_zero = balances[0] == 0
    for balance in balances[1:]:
        all_zero = all_zero & (balance == 0)
    select_last = rasp.Select(rasp.indices, length - 1, rasp.Comparison.EQ).named("select_last")
    last_zero = rasp.Aggregate(select_last, all_zero).named("last_zero")

    not_has_neg = (~has_neg).named("not_has_neg")
    return (last_zero & not_has_neg).named("shuffle_dyck")


def make_shuffle_dyck2() -> rasp.SOp:
    """Shuffle-Dyck over the two pair types "()" and "{}".

    Example:
        >>> make_shuffle_dyck2()("{(})")
        [True, True, True, True]
    """
    return make_shuffle_dyck(pairs=["()", "{}"]).named("shuffle_dyck2")


def make_hist() -> rasp.SOp:
    """How often each position's token occurs in the whole input (RASP paper).

    Example:
        >>> make_hist()("abac")
        [2, 1, 2, 1]
    """
    same_tok = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ).named("same_tok")
    return rasp.SelectorWidth(same_tok).named("hist")


def make_sort_unique(vals: rasp.SOp, keys: rasp.SOp) -> rasp.SOp:
    """`vals` sorted by `keys`; the keys must be pairwise distinct.

    Position p reads the value whose key has exactly p smaller keys. With repeated keys a
    position selects several values (an EvaluationError when they differ; Tracr averages).

    Example:
        >>> make_sort_unique(rasp.tokens, rasp.tokens)([2, 4, 3, 1])
        [1, 2, 3, 4]
    """
    smaller = rasp.Select(keys, keys, rasp.Comparison.LT).named("smaller")
    target_pos = rasp.SelectorWidth(smaller).named("target_pos")
    sel_new = rasp.Select(target_pos, rasp.indices, rasp.Comparison.EQ)
    return rasp.Aggregate(sel_new, vals).named("sort")


def make_sort(vals: rasp.SOp, keys: rasp.SOp, *, max_seq_len: int, min_key: float) -> rasp.SOp:
    """`vals` stably sorted by numerical `keys`, which may repeat.

    Ties are broken by making keys unique: key + min_key * index / max_seq_len, which keeps
    the order of distinct keys when they differ by at least `min_key` (Tracr's trick; it
    avoids composite selectors).

    Example:
        >>> make_sort(rasp.tokens, rasp.tokens, max_seq_len=5, min_key=1)([2, 4, 1, 2])
        [1, 2, 2, 4]
    """
    keys = rasp.SequenceMap(lambda x, i: x + min_key * i / max_seq_len, keys, rasp.indices)
    return make_sort_unique(vals, keys)


def make_sort_freq(max_seq_len: int) -> rasp.SOp:
    """Tokens sorted by decreasing frequency; equally frequent tokens keep input order.

    Example:
        >>> make_sort_freq(5)([2, 4, 2, 1])
        [2, 2, 4, 1]
    """
    hist = -1 * make_hist().named("hist")
    return make_sort(rasp.tokens, hist, max_seq_len=max_seq_len, min_key=1).named("sort_freq")


# -- Programs that work under both causal and regular evaluation (Tracr's grouping) ---------


def make_frac_prevs(bools: rasp.SOp) -> rasp.SOp:
    """Numerical: the fraction of positions up to and including each one where `bools` holds.

    Example:
        >>> make_frac_prevs(rasp.tokens == "l")("hello")
        [0.0, 0.0, 0.3333333333333333, 0.5, 0.4]
    """
    bools = rasp.numerical(bools)
    prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
    return rasp.numerical(rasp.Aggregate(prevs, bools, default=0)).named("frac_prevs")


def shift_by(offset: int, /, sop: rasp.SOp) -> rasp.SOp:
    """`sop` shifted right by `offset` positions, padded with None.

    Example:
        >>> shift_by(2, rasp.tokens)("abcd")
        [None, None, 'a', 'b']
    """
    select_off_by_offset = rasp.Select(rasp.indices, rasp.indices,
                                       lambda k, q: q == k + offset)
    out = rasp.Aggregate(select_off_by_offset, sop, default=None)
    return out.named(f"shift_by({offset})")


def detect_pattern(sop: rasp.SOp, pattern: Sequence[rasp.Value]) -> rasp.SOp:
    """True where `pattern` ends, False elsewhere; the first len(pattern) - 1 positions are None.

    Raises:
        InvalidInput: `pattern` is empty.

    Example:
        >>> detect_pattern(rasp.tokens, "abc")("abcabc")
        [None, None, True, False, False, True]
    """
    if len(pattern) < 1:
        raise InvalidInput(f"detect_pattern: the pattern must have at least one element, "
                           f"got {pattern!r}")
    # detectors[i] is True at position j iff the i-th element from the end matched at j - i.
    detectors = []
    for i, element in enumerate(reversed(pattern)):
        detector = sop == element
        if i != 0:
            detector = shift_by(i, detector)
        detectors.append(detector)
    pattern_detected = detectors.pop()
    while detectors:
        pattern_detected = pattern_detected & detectors.pop()
    return pattern_detected.named(f"detect_pattern({pattern})")


def make_count_less_freq(n: int) -> rasp.SOp:
    """At every position: the number of positions whose token occurs at most `n` times.

    Example:
        >>> make_count_less_freq(2)(["a", "a", "a", "b", "b", "c"])
        [3, 3, 3, 3, 3, 3]
    """
    hist = make_hist().named("hist")
    select_less = rasp.Select(hist, hist, lambda x, y: x <= n).named("select_less")
    return rasp.SelectorWidth(select_less).named("count_less_freq")


def make_count(sop: rasp.SOp, token: rasp.Value) -> rasp.SOp:
    """At every position: how many times `token` occurs in `sop`.

    Example:
        >>> make_count(rasp.tokens, "a")(["c", "a", "b", "a"])
        [2, 2, 2, 2]
    """
    return rasp.SelectorWidth(rasp.Select(
        sop, sop, lambda k, q: k == token)).named(f"count_{token}")


def make_nary_sequencemap(f: Callable, *sops: rasp.SOp) -> rasp.SOp:
    """An n-ary SequenceMap: f(*values) elementwise, built from binary SequenceMaps of tuples.

    The intermediate tuple-valued SOps are categorical and grow multiplicatively, so compiled
    models get large quickly.

    Example:
        >>> make_nary_sequencemap(lambda x, y, z: x + y + z,
        ...                       rasp.tokens, rasp.indices, rasp.tokens)([10, 20])
        [20, 41]
    """
    values, *rest = sops
    for sop in rest:
        # x is a plain value in the first step and a tuple afterwards.
        values = rasp.SequenceMap(
            lambda x, y: (*x, y) if isinstance(x, tuple) else (x, y), values, sop)
    return rasp.Map(lambda args: f(*args), values)


# ==========================================================================================
# Programs theory papers use that Tracr's library lacks.
# ==========================================================================================


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


# ==========================================================================================
# Registry
# ==========================================================================================


@dataclass(frozen=True)
class ProgramSpec:
    """A library program with default arguments and the metadata to compile and check it.

    Calling the spec builds the program: `PROGRAMS["sort"]()` is an SOp.

    Attributes:
        name: registry key.
        factory: zero-argument function building the program with default arguments.
        doc: one line saying what the program computes.
        vocab: default vocabulary (a sorted tuple), at most 5 tokens.
        max_seq_len: default maximum input length, at most 5.
        causal_safe: evaluating with a causal mask gives, at every position q, the program's
            output on the prefix xs[:q + 1] at q, for every valid input of the default domain
            (a decoder computes the program token by token). Checked exhaustively by tests.
        source: "tracr" (a program of Tracr's lib.py, default arguments as recorded in
            tests/data/tracr_reference.json) or "theory_kit".
        call: the Python expression building the program from this module's names.
        reference: plain-Python function computing the intended output on a valid input.
        precondition: predicate on inputs; inputs failing it are outside the program's domain.
        precondition_doc: what the precondition requires, for error messages.
    """

    name: str
    factory: Callable[[], rasp.SOp]
    doc: str
    vocab: tuple
    max_seq_len: int
    causal_safe: bool
    source: str
    call: str
    reference: Callable[[Sequence], list]
    precondition: Optional[Callable[[Sequence], bool]] = field(default=None, compare=False)
    precondition_doc: str = ""

    def __call__(self) -> rasp.SOp:
        return self.factory()

    def accepts(self, xs: Sequence) -> bool:
        """True iff `xs` is in the default domain: tokens from vocab, length 1..max_seq_len,
        precondition met."""
        return (1 <= len(xs) <= self.max_seq_len and all(x in self.vocab for x in xs)
                and (self.precondition is None or bool(self.precondition(xs))))

    def inputs(self, max_seq_len: Optional[int] = None) -> Iterator[tuple]:
        """Every valid input of length 1..max_seq_len (default: the spec's), shortest first."""
        top = self.max_seq_len if max_seq_len is None else max_seq_len
        for n in range(1, top + 1):
            for xs in itertools.product(self.vocab, repeat=n):
                if self.precondition is None or self.precondition(xs):
                    yield xs


# -- reference implementations (what each program is meant to compute) ----------------------


def _ref_pair_balance(xs, open_token="(", close_token=")"):
    out = []
    for i in range(len(xs)):
        prefix = xs[:i + 1]
        # Same float operations as the program: two fractions, then their difference.
        out.append(prefix.count(open_token) / (i + 1) - prefix.count(close_token) / (i + 1))
    return out


def _ref_shuffle_dyck(xs, pairs):
    balanced = True
    for open_token, close_token in pairs:
        depth = 0
        for x in xs:
            depth += (x == open_token) - (x == close_token)
            balanced &= depth >= 0
        balanced &= depth == 0
    return [balanced] * len(xs)


def _ref_count_less_freq(xs, n):
    counts = Counter(xs)
    return [sum(1 for x in xs if counts[x] <= n)] * len(xs)


def _ref_induction(xs):
    out = []
    for q, x in enumerate(xs):
        earlier = [k for k in range(q) if xs[k] == x]
        out.append(xs[earlier[-1] + 1] if earlier else None)
    return out


def _ref_majority(xs):
    counts = Counter(xs)
    best = min(counts, key=lambda v: (-counts[v], v))
    return [best] * len(xs)


def _ref_add(xs, base=2):
    pairs = [_parse_digit_pair(t) for t in xs]
    total = sum((a + b) * base ** i for i, (a, b) in enumerate(pairs))
    return [total // base ** i % base for i in range(len(xs))]


def _ref_detect_pattern(xs, pattern):
    m = len(pattern)
    return [None if i < m - 1 else list(xs[i - m + 1:i + 1]) == list(pattern)
            for i in range(len(xs))]


def _distinct(xs) -> bool:
    return len(set(xs)) == len(xs)


_ABC = ("a", "b", "c")
_SPECS = [
    # name, call, doc, vocab, max_seq_len, causal_safe, reference, precondition, precondition doc
    ("length", "make_length()", "the input length at every position",
     (1, 2, 3), 5, True, lambda xs: [len(xs)] * len(xs), None, ""),
    ("reverse", "make_reverse(rasp.tokens)", "the tokens in reverse order",
     (1, 2, 3), 5, True, lambda xs: list(xs)[::-1], None, ""),
    ("pair_balance", 'make_pair_balance(rasp.tokens, "(", ")")',
     "fraction of '(' minus fraction of ')' in each prefix (numerical)",
     ("(", ")", "a"), 5, True, _ref_pair_balance, None, ""),
    ("shuffle_dyck", 'make_shuffle_dyck(["()"])', "True iff the parentheses '()' are balanced",
     ("(", ")", "a"), 5, True, lambda xs: _ref_shuffle_dyck(xs, ["()"]), None, ""),
    ("shuffle_dyck2", "make_shuffle_dyck2()",
     "True iff '()' and '{}' are each balanced (shuffle-Dyck-2)",
     ("(", ")", "{", "}"), 5, True, lambda xs: _ref_shuffle_dyck(xs, ["()", "{}"]), None, ""),
    ("hist", "make_hist()", "how often each position's token occurs in the input",
     _ABC, 5, True, lambda xs: [list(xs).count(x) for x in xs], None, ""),
    ("sort_unique", "make_sort_unique(rasp.tokens, rasp.tokens)",
     "the tokens sorted ascending (tokens must be distinct)",
     (0, 1, 2, 3, 4), 5, False, lambda xs: sorted(xs), _distinct, "tokens must be distinct"),
    ("sort", "make_sort(rasp.tokens, rasp.tokens, max_seq_len=5, min_key=1)",
     "the tokens sorted ascending (repeats allowed)",
     (1, 2, 3, 4), 5, False, lambda xs: sorted(xs), None, ""),
    ("sort_freq", "make_sort_freq(5)", "the tokens sorted by decreasing frequency (stable)",
     _ABC, 5, False, lambda xs: sorted(xs, key=lambda x: -list(xs).count(x)), None, ""),
    ("frac_prevs", 'make_frac_prevs(rasp.tokens == "a")',
     "fraction of 'a' tokens in each prefix (numerical)",
     ("a", "b"), 5, True,
     lambda xs: [xs[:i + 1].count("a") / (i + 1) for i in range(len(xs))], None, ""),
    ("shift_by", "shift_by(1, rasp.tokens)", "the tokens shifted right by one (None first)",
     _ABC, 5, True, lambda xs: [None] + list(xs[:-1]), None, ""),
    ("detect_pattern", 'detect_pattern(rasp.tokens, "abc")',
     "True where the pattern 'abc' ends (None before position 2)",
     _ABC, 5, True, lambda xs: _ref_detect_pattern(xs, "abc"), None, ""),
    ("count_less_freq", "make_count_less_freq(2)",
     "number of positions whose token occurs at most twice",
     _ABC, 5, False, lambda xs: _ref_count_less_freq(xs, 2), None, ""),
    ("count", 'make_count(rasp.tokens, "a")', "how many 'a' tokens the input has",
     _ABC, 5, True, lambda xs: [list(xs).count("a")] * len(xs), None, ""),
    ("nary_sequencemap",
     "make_nary_sequencemap(lambda t, i, n: t + i < n, rasp.tokens, rasp.indices, length)",
     "whether token + index < length, via a 3-ary SequenceMap",
     (0, 1, 2), 5, True, lambda xs: [t + i < len(xs) for i, t in enumerate(xs)], None, ""),
    # -- theory_kit programs
    ("sum", "make_sum(rasp.tokens)", "the sum of the tokens at every position (numerical)",
     (0, 1, 2, 3), 5, False, lambda xs: [sum(xs)] * len(xs), None, ""),
    ("mean", "make_mean(rasp.tokens)", "the mean of the tokens at every position (numerical)",
     (0, 1, 2, 3), 5, True, lambda xs: [sum(xs) / len(xs)] * len(xs), None, ""),
    ("max", "make_max(rasp.tokens)", "the largest token at every position",
     (0, 1, 2, 3), 5, False, lambda xs: [max(xs)] * len(xs), None, ""),
    ("min", "make_min(rasp.tokens)", "the smallest token at every position",
     (0, 1, 2, 3), 5, False, lambda xs: [min(xs)] * len(xs), None, ""),
    ("prefix_sum", "make_prefix_sum(rasp.tokens, values=(0, 1, 2, 3))",
     "the running sum of the tokens",
     (0, 1, 2, 3), 5, True, lambda xs: list(itertools.accumulate(xs)), None, ""),
    ("majority", "make_majority(rasp.tokens)",
     "the most frequent token at every position (ties: smallest)",
     (0, 1, 2), 5, False, _ref_majority, None, ""),
    ("palindrome", "make_palindrome(rasp.tokens)", "True iff the input is a palindrome",
     ("a", "b"), 5, False, lambda xs: [list(xs) == list(xs)[::-1]] * len(xs), None, ""),
    ("prev_token", "make_prev_token(rasp.tokens)",
     "previous-token head: copies the previous token (None first)",
     _ABC, 5, True, lambda xs: [None] + list(xs[:-1]), None, ""),
    ("induction", "make_induction(rasp.tokens)",
     "induction head: the token after the latest earlier occurrence of the current token",
     _ABC, 5, True, _ref_induction, None, ""),
    ("add", "make_add(rasp.tokens, base=2)",
     "binary addition with carries; token 'a+b' per digit, least significant first",
     ("0+0", "0+1", "1+0", "1+1"), 5, True, _ref_add, None, ""),
]

_TRACR_NAMES = frozenset({
    "length", "reverse", "pair_balance", "shuffle_dyck", "shuffle_dyck2", "hist",
    "sort_unique", "sort", "sort_freq", "frac_prevs", "shift_by", "detect_pattern",
    "count_less_freq", "count", "nary_sequencemap"})


def _factory(call: str) -> Callable[[], rasp.SOp]:
    code = compile(call, f"<library program {call}>", "eval")

    def build() -> rasp.SOp:
        return eval(code, {"rasp": rasp, **{k: globals()[k] for k in __all__ if k in globals()}})

    build.__doc__ = f"Build `{call}`."
    return build


def _build_registry() -> Mapping[str, ProgramSpec]:
    specs = {}
    for (name, call, doc, vocab, max_seq_len, causal_safe, reference, precondition,
         precondition_doc) in _SPECS:
        specs[name] = ProgramSpec(
            name=name, factory=_factory(call), doc=doc, vocab=tuple(sorted(vocab)),
            max_seq_len=max_seq_len, causal_safe=causal_safe,
            source="tracr" if name in _TRACR_NAMES else "theory_kit", call=call,
            reference=reference, precondition=precondition, precondition_doc=precondition_doc)
    return MappingProxyType(specs)


#: name -> ProgramSpec; `PROGRAMS[name]()` builds the program with its default arguments.
PROGRAMS: Mapping[str, ProgramSpec] = _build_registry()
