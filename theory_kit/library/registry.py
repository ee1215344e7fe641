"""The registry of library programs: name -> ProgramSpec (a builder plus the metadata to check it).

`PROGRAMS[name]()` builds the program with its default arguments; `PROGRAMS[name].at(vocab=...,
max_seq_len=...)` builds it for another domain (programs whose construction depends on the
vocabulary or the maximum length get them; the others ignore them). The CLI, compiler tests,
benchmarks, figures and bounds/sizes.py all build library programs through this one place.
"""

from __future__ import annotations

import inspect
import itertools
import json
from collections import Counter
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

from theory_kit.errors import InvalidInput
from theory_kit.library.theory import (
    _parse_digit_pair, make_add, make_induction, make_majority, make_max, make_mean, make_min,
    make_palindrome, make_prefix_sum, make_prev_token, make_sum)
from theory_kit.library.tracr import (
    detect_pattern, length, make_count, make_count_less_freq, make_frac_prevs, make_hist,
    make_length, make_nary_sequencemap, make_pair_balance, make_reverse, make_shuffle_dyck,
    make_shuffle_dyck2, make_sort, make_sort_freq, make_sort_unique, shift_by)
from theory_kit.rasp import nodes as rasp
from theory_kit.values import check_vocab, typed_unique, value_sort_key

__all__ = ["ProgramSpec", "PROGRAMS"]

#: The settings a builder may take, as keyword-only arguments.
SETTINGS = ("vocab", "max_seq_len")
SOURCES = ("tracr", "theory_kit")


@dataclass(frozen=True, kw_only=True)
class ProgramSpec:
    """A library program: a builder, its default domain and the metadata to compile and check it.

    Calling the spec builds the program with its defaults: `PROGRAMS["sort"]()` is an SOp;
    `PROGRAMS["sort"].at(max_seq_len=8)` is the program for inputs up to length 8.

    Attributes:
        name: registry key.
        build: builds a fresh program. Its parameters are keyword-only and among `vocab`
            (a sorted tuple of tokens) and `max_seq_len` (an int): exactly the settings the
            program's construction depends on (`settings` lists them).
        doc: one line saying what the program computes.
        vocab: default vocabulary (a sorted tuple), at most 5 tokens.
        max_seq_len: default maximum input length, at most 5.
        causal_safe: evaluating with a causal mask gives, at every position q, the program's
            output on the prefix xs[:q + 1] at q, for every valid input of the default domain
            (a decoder computes the program token by token). Checked exhaustively by tests.
        source: "tracr" (a program of Tracr's lib.py, default arguments as recorded in
            tests/data/tracr_reference.json) or "theory_kit".
        call: the Python expression building the default program from the library's names,
            for display (never evaluated by the library; a test checks it matches `build`).
        call_for: for a program with settings, the same expression for other settings: takes
            the keyword-only arguments `build` takes (`call_at` calls it; the benchmarks send
            it to Tracr, which builds the program from its own lib.py).
        reference: plain-Python function computing the intended output on a valid input of
            the default domain.
        precondition: predicate on inputs; inputs failing it are outside the program's domain.
        precondition_doc: what the precondition requires, for error messages.
        settings: derived from `build`'s signature: the settings the program depends on.
    """

    name: str
    build: Callable[..., rasp.SOp]
    doc: str
    vocab: tuple
    max_seq_len: int
    causal_safe: bool
    source: str
    call: str
    reference: Callable[[Sequence], list]
    precondition: Optional[Callable[[Sequence], bool]] = field(default=None, compare=False)
    precondition_doc: str = ""
    call_for: Optional[Callable[..., str]] = field(default=None, compare=False)
    settings: frozenset = field(init=False, compare=False)

    def __post_init__(self) -> None:
        params = inspect.signature(self.build).parameters.values()
        bad = [p.name for p in params
               if p.kind is not inspect.Parameter.KEYWORD_ONLY or p.name not in SETTINGS]
        if bad:
            raise InvalidInput(f"ProgramSpec {self.name!r}: build may only take the keyword-only "
                               f"settings {SETTINGS}, got parameters {bad}")
        if self.source not in SOURCES:
            raise InvalidInput(f"ProgramSpec {self.name!r}: source must be one of {SOURCES}, "
                               f"got {self.source!r}")
        if not isinstance(self.vocab, tuple) or self.vocab != _sorted_vocab(self.vocab):
            raise InvalidInput(f"ProgramSpec {self.name!r}: vocab must be a sorted tuple of "
                               f"distinct tokens, got {self.vocab!r}")
        _check_max_seq_len(self.max_seq_len, where=f"ProgramSpec {self.name!r}")
        settings = frozenset(p.name for p in params)
        object.__setattr__(self, "settings", settings)
        if settings and self.call_for is None:
            raise InvalidInput(f"ProgramSpec {self.name!r}: build takes {sorted(settings)}, so "
                               f"call_for must say the call at other settings")
        if self.call_for is not None:
            shown = {p.name for p in inspect.signature(self.call_for).parameters.values()
                     if p.kind is inspect.Parameter.KEYWORD_ONLY}
            if shown != settings or self.call_at() != self.call:
                raise InvalidInput(f"ProgramSpec {self.name!r}: call_for must take the "
                                   f"settings {sorted(settings)} and give call={self.call!r} at "
                                   f"the defaults")

    @property
    def factory(self) -> Callable[[], rasp.SOp]:
        """Zero-argument function building the program with its default arguments."""
        return self.at

    def __call__(self) -> rasp.SOp:
        return self.at()

    def at(self, *, vocab: Optional[Iterable] = None,
           max_seq_len: Optional[int] = None) -> rasp.SOp:
        """A fresh program for inputs over `vocab` of length up to `max_seq_len`.

        A setting left as None takes the spec's default. Only the settings in `self.settings`
        reach the builder (e.g. make_sort's tie-breaking divides by max_seq_len, and
        make_count counts the first token of the vocabulary); a program that depends on
        neither is the same at every domain. Programs built on named tokens choose them by
        position in the sorted vocabulary, so the defaults rebuild the recorded programs.

        Raises:
            InvalidInput: `vocab` is not a non-empty collection of hashable tokens, or
                `max_seq_len` is not a positive int (the builder may refuse a vocabulary
                too, e.g. prefix_sum's tokens must be numbers).

        Example:
            >>> PROGRAMS["sort"].at(max_seq_len=8)([2, 2, 2, 2, 2, 2, 2, 1])
            [1, 2, 2, 2, 2, 2, 2, 2]
            >>> PROGRAMS["count"].at(vocab=[0, 1])([0, 1, 0])
            [2, 2, 2]
        """
        return self.build(**self._settings(vocab, max_seq_len, where="at"))

    def call_at(self, *, vocab: Optional[Iterable] = None,
                max_seq_len: Optional[int] = None) -> str:
        """The Python expression (over the library's names and `rasp`) that `at` builds: what
        a Tracr user writes with Tracr's lib.py for the same program. Display only here.

        Raises:
            InvalidInput: as `at`.

        Example:
            >>> PROGRAMS["sort"].call_at(max_seq_len=8)
            'make_sort(rasp.tokens, rasp.tokens, max_seq_len=8, min_key=1)'
        """
        if self.call_for is None:
            self._settings(vocab, max_seq_len, where="call_at")  # validate all the same
            return self.call
        return self.call_for(**self._settings(vocab, max_seq_len, where="call_at"))

    def _settings(self, vocab, max_seq_len, *, where: str) -> dict:
        """The validated settings the builder takes, defaults filled in."""
        where = f"PROGRAMS[{self.name!r}].{where}"
        if vocab is not None:
            problems = check_vocab(vocab, bos=None)
            if problems:
                raise InvalidInput(f"{where}: " + "; ".join(str(p) for p in problems))
            vocab = _sorted_vocab(vocab)
        if max_seq_len is not None:
            _check_max_seq_len(max_seq_len, where=where)
        given = {"vocab": self.vocab if vocab is None else vocab,
                 "max_seq_len": self.max_seq_len if max_seq_len is None else max_seq_len}
        return {k: v for k, v in given.items() if k in self.settings}

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


def _sorted_vocab(vocab: Iterable) -> tuple:
    return tuple(sorted(typed_unique(vocab), key=value_sort_key))


def _check_max_seq_len(max_seq_len: Any, *, where: str) -> None:
    if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len < 1:
        raise InvalidInput(f"{where}: max_seq_len must be an int >= 1, got {max_seq_len!r}")


def _py(value) -> str:
    """A token as Python source, strings in double quotes (as the recorded Tracr calls)."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _pattern(vocab: tuple, length_: int = 3):
    """The first tokens of the vocabulary as a detect_pattern pattern: a string when they are
    one-character strings (Tracr's form, so the default is detect_pattern(tokens, "abc")),
    otherwise a list."""
    head = vocab[:length_]
    if all(isinstance(t, str) and len(t) == 1 for t in head):
        return "".join(head)
    return list(head)


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
_T = rasp.tokens

_SPECS = (
    # -- Tracr's lib.py, default arguments as recorded in tests/data/tracr_reference.json
    ProgramSpec(
        name="length", source="tracr", call="make_length()",
        build=lambda: make_length(),
        doc="the input length at every position",
        vocab=(1, 2, 3), max_seq_len=5, causal_safe=True,
        reference=lambda xs: [len(xs)] * len(xs)),
    ProgramSpec(
        name="reverse", source="tracr", call="make_reverse(rasp.tokens)",
        build=lambda: make_reverse(_T),
        doc="the tokens in reverse order",
        vocab=(1, 2, 3), max_seq_len=5, causal_safe=True,
        reference=lambda xs: list(xs)[::-1]),
    ProgramSpec(
        name="pair_balance", source="tracr", call='make_pair_balance(rasp.tokens, "(", ")")',
        # The first two tokens open and close ("(" and ")" in the default vocabulary).
        build=lambda *, vocab: make_pair_balance(_T, vocab[0], vocab[1]),
        call_for=lambda *, vocab: (f"make_pair_balance(rasp.tokens, {_py(vocab[0])}, "
                                   f"{_py(vocab[1])})"),
        doc="fraction of '(' minus fraction of ')' in each prefix (numerical)",
        vocab=("(", ")", "a"), max_seq_len=5, causal_safe=True,
        reference=_ref_pair_balance),
    ProgramSpec(
        name="shuffle_dyck", source="tracr", call='make_shuffle_dyck(["()"])',
        build=lambda: make_shuffle_dyck(["()"]),
        doc="True iff the parentheses '()' are balanced",
        vocab=("(", ")", "a"), max_seq_len=5, causal_safe=True,
        reference=lambda xs: _ref_shuffle_dyck(xs, ["()"])),
    ProgramSpec(
        name="shuffle_dyck2", source="tracr", call="make_shuffle_dyck2()",
        build=lambda: make_shuffle_dyck2(),
        doc="True iff '()' and '{}' are each balanced (shuffle-Dyck-2)",
        vocab=("(", ")", "{", "}"), max_seq_len=5, causal_safe=True,
        reference=lambda xs: _ref_shuffle_dyck(xs, ["()", "{}"])),
    ProgramSpec(
        name="hist", source="tracr", call="make_hist()",
        build=lambda: make_hist(),
        doc="how often each position's token occurs in the input",
        vocab=_ABC, max_seq_len=5, causal_safe=True,
        reference=lambda xs: [list(xs).count(x) for x in xs]),
    ProgramSpec(
        name="sort_unique", source="tracr", call="make_sort_unique(rasp.tokens, rasp.tokens)",
        build=lambda: make_sort_unique(_T, _T),
        doc="the tokens sorted ascending (tokens must be distinct)",
        vocab=(0, 1, 2, 3, 4), max_seq_len=5, causal_safe=False,
        reference=lambda xs: sorted(xs),
        precondition=_distinct, precondition_doc="tokens must be distinct"),
    ProgramSpec(
        name="sort", source="tracr",
        call="make_sort(rasp.tokens, rasp.tokens, max_seq_len=5, min_key=1)",
        # Ties are broken by index / max_seq_len: the program depends on the maximum length.
        build=lambda *, max_seq_len: make_sort(_T, _T, max_seq_len=max_seq_len, min_key=1),
        call_for=lambda *, max_seq_len: (f"make_sort(rasp.tokens, rasp.tokens, "
                                         f"max_seq_len={max_seq_len}, min_key=1)"),
        doc="the tokens sorted ascending (repeats allowed)",
        vocab=(1, 2, 3, 4), max_seq_len=5, causal_safe=False,
        reference=lambda xs: sorted(xs)),
    ProgramSpec(
        name="sort_freq", source="tracr", call="make_sort_freq(5)",
        build=lambda *, max_seq_len: make_sort_freq(max_seq_len),
        call_for=lambda *, max_seq_len: f"make_sort_freq({max_seq_len})",
        doc="the tokens sorted by decreasing frequency (stable)",
        vocab=_ABC, max_seq_len=5, causal_safe=False,
        reference=lambda xs: sorted(xs, key=lambda x: -list(xs).count(x))),
    ProgramSpec(
        name="frac_prevs", source="tracr", call='make_frac_prevs(rasp.tokens == "a")',
        # Counts the first token of the vocabulary ("a" by default).
        build=lambda *, vocab: make_frac_prevs(_T == vocab[0]),
        call_for=lambda *, vocab: f"make_frac_prevs(rasp.tokens == {_py(vocab[0])})",
        doc="fraction of 'a' tokens in each prefix (numerical)",
        vocab=("a", "b"), max_seq_len=5, causal_safe=True,
        reference=lambda xs: [xs[:i + 1].count("a") / (i + 1) for i in range(len(xs))]),
    ProgramSpec(
        name="shift_by", source="tracr", call="shift_by(1, rasp.tokens)",
        build=lambda: shift_by(1, _T),
        doc="the tokens shifted right by one (None first)",
        vocab=_ABC, max_seq_len=5, causal_safe=True,
        reference=lambda xs: [None] + list(xs[:-1])),
    ProgramSpec(
        name="detect_pattern", source="tracr", call='detect_pattern(rasp.tokens, "abc")',
        # The pattern is the first three tokens of the vocabulary ("abc" by default).
        build=lambda *, vocab: detect_pattern(_T, _pattern(vocab)),
        call_for=lambda *, vocab: f"detect_pattern(rasp.tokens, {_py(_pattern(vocab))})",
        doc="True where the pattern 'abc' ends (None before position 2)",
        vocab=_ABC, max_seq_len=5, causal_safe=True,
        reference=lambda xs: _ref_detect_pattern(xs, "abc")),
    ProgramSpec(
        name="count_less_freq", source="tracr", call="make_count_less_freq(2)",
        build=lambda: make_count_less_freq(2),
        doc="number of positions whose token occurs at most twice",
        vocab=_ABC, max_seq_len=5, causal_safe=False,
        reference=lambda xs: _ref_count_less_freq(xs, 2)),
    ProgramSpec(
        name="count", source="tracr", call='make_count(rasp.tokens, "a")',
        # Counts the first token of the vocabulary ("a" by default).
        build=lambda *, vocab: make_count(_T, vocab[0]),
        call_for=lambda *, vocab: f"make_count(rasp.tokens, {_py(vocab[0])})",
        doc="how many 'a' tokens the input has",
        vocab=_ABC, max_seq_len=5, causal_safe=True,
        reference=lambda xs: [list(xs).count("a")] * len(xs)),
    ProgramSpec(
        name="nary_sequencemap", source="tracr",
        call="make_nary_sequencemap(lambda t, i, n: t + i < n, rasp.tokens, rasp.indices, length)",
        build=lambda: make_nary_sequencemap(lambda t, i, n: t + i < n, _T, rasp.indices, length),
        doc="whether token + index < length, via a 3-ary SequenceMap",
        vocab=(0, 1, 2), max_seq_len=5, causal_safe=True,
        reference=lambda xs: [t + i < len(xs) for i, t in enumerate(xs)]),
    # -- theory_kit programs
    ProgramSpec(
        name="sum", source="theory_kit", call="make_sum(rasp.tokens)",
        build=lambda: make_sum(_T),
        doc="the sum of the tokens at every position (numerical)",
        vocab=(0, 1, 2, 3), max_seq_len=5, causal_safe=False,
        reference=lambda xs: [sum(xs)] * len(xs)),
    ProgramSpec(
        name="mean", source="theory_kit", call="make_mean(rasp.tokens)",
        build=lambda: make_mean(_T),
        doc="the mean of the tokens at every position (numerical)",
        vocab=(0, 1, 2, 3), max_seq_len=5, causal_safe=True,
        reference=lambda xs: [sum(xs) / len(xs)] * len(xs)),
    ProgramSpec(
        name="max", source="theory_kit", call="make_max(rasp.tokens)",
        build=lambda: make_max(_T),
        doc="the largest token at every position",
        vocab=(0, 1, 2, 3), max_seq_len=5, causal_safe=False,
        reference=lambda xs: [max(xs)] * len(xs)),
    ProgramSpec(
        name="min", source="theory_kit", call="make_min(rasp.tokens)",
        build=lambda: make_min(_T),
        doc="the smallest token at every position",
        vocab=(0, 1, 2, 3), max_seq_len=5, causal_safe=False,
        reference=lambda xs: [min(xs)] * len(xs)),
    ProgramSpec(
        name="prefix_sum", source="theory_kit",
        call="make_prefix_sum(rasp.tokens, values=(0, 1, 2, 3))",
        # One count per non-zero token value: the program depends on the vocabulary.
        build=lambda *, vocab: make_prefix_sum(_T, values=vocab),
        call_for=lambda *, vocab: f"make_prefix_sum(rasp.tokens, values={vocab!r})",
        doc="the running sum of the tokens",
        vocab=(0, 1, 2, 3), max_seq_len=5, causal_safe=True,
        reference=lambda xs: list(itertools.accumulate(xs))),
    ProgramSpec(
        name="majority", source="theory_kit", call="make_majority(rasp.tokens)",
        build=lambda: make_majority(_T),
        doc="the most frequent token at every position (ties: smallest)",
        vocab=(0, 1, 2), max_seq_len=5, causal_safe=False,
        reference=_ref_majority),
    ProgramSpec(
        name="palindrome", source="theory_kit", call="make_palindrome(rasp.tokens)",
        build=lambda: make_palindrome(_T),
        doc="True iff the input is a palindrome",
        vocab=("a", "b"), max_seq_len=5, causal_safe=False,
        reference=lambda xs: [list(xs) == list(xs)[::-1]] * len(xs)),
    ProgramSpec(
        name="prev_token", source="theory_kit", call="make_prev_token(rasp.tokens)",
        build=lambda: make_prev_token(_T),
        doc="previous-token head: copies the previous token (None first)",
        vocab=_ABC, max_seq_len=5, causal_safe=True,
        reference=lambda xs: [None] + list(xs[:-1])),
    ProgramSpec(
        name="induction", source="theory_kit", call="make_induction(rasp.tokens)",
        build=lambda: make_induction(_T),
        doc="induction head: the token after the latest earlier occurrence of the current token",
        vocab=_ABC, max_seq_len=5, causal_safe=True,
        reference=_ref_induction),
    ProgramSpec(
        name="add", source="theory_kit", call="make_add(rasp.tokens, base=2)",
        build=lambda: make_add(_T, base=2),
        doc="binary addition with carries; token 'a+b' per digit, least significant first",
        vocab=("0+0", "0+1", "1+0", "1+1"), max_seq_len=5, causal_safe=True,
        reference=_ref_add),
)

#: name -> ProgramSpec; `PROGRAMS[name]()` builds the program with its default arguments,
#: `PROGRAMS[name].at(vocab=..., max_seq_len=...)` for another domain.
PROGRAMS: Mapping[str, ProgramSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})


def _size_factory(name: str):
    """factory(V, N) -> (program, vocab) for the size-formula program `name`."""
    from theory_kit.bounds import sizes

    def factory(v: int, n: int) -> tuple:
        vocab = sizes.size_vocab(name, v)
        return PROGRAMS[sizes.PROGRAM_NAMES[name]].at(vocab=vocab, max_seq_len=n), vocab

    factory.__name__ = factory.__qualname__ = f"{name}_factory"
    return factory


def _size_programs() -> dict:
    from theory_kit.bounds.sizes import SIZE_NAMES

    return {name: _size_factory(name) for name in SIZE_NAMES}


def __getattr__(name: str):
    # SIZE_PROGRAMS: formula key (theory_kit.bounds.sizes.SIZE_NAMES) -> factory(V, N) ->
    # (program, vocab), the program its size formulas count at vocabulary size V and
    # max_seq_len N. Built on first access: it needs bounds (sympy), the registry does not.
    if name == "SIZE_PROGRAMS":
        value = globals()["SIZE_PROGRAMS"] = _size_programs()
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
