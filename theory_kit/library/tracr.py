"""Tracr's `compiler/lib.py`, ported: same names, signatures, node structure, names and encodings.

A Tracr user writes `from theory_kit import library as lib`, and compiled sizes are comparable
with Tracr's. Arguments Tracr rejects with ValueError/AssertionError raise `InvalidInput` (a
ValueError subclass) here.
"""

from __future__ import annotations

from typing import Callable, List, Sequence

from theory_kit.errors import InvalidInput
from theory_kit.rasp import nodes as rasp

__all__ = [
    "make_length", "length", "make_reverse", "make_pair_balance", "make_shuffle_dyck",
    "make_shuffle_dyck2", "make_hist", "make_sort_unique", "make_sort", "make_sort_freq",
    "make_frac_prevs", "shift_by", "detect_pattern", "make_count_less_freq", "make_count",
    "make_nary_sequencemap",
]


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
