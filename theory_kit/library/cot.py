"""Chain-of-thought programs: causal next-token RASP programs that write a scratchpad and an
answer after a prompt, with the number of tokens they write as a sympy formula.

Each program is a generator (`rasp.generate`, `theory_kit.compile_generator`): its causal output
at the last position is the next token. Given a prompt of its format it writes the chain of
thought, the answer and the stop token "."; `CotSpec.reference` is the same in plain Python and
`CotSpec.cot_length` counts those tokens (stop included) as a formula in the problem size n
(`n_sym`), checked as the claims `<name>_cot_length` (theory_kit.claims.cot).

Every program is constant depth: one program serves every size, and its number of layers does
not depend on n (what grows with n is the number of tokens written). Each token is a function of
a few tokens the program finds by position: the prompt's digits or gates, and earlier scratchpad
tokens.

Programs (what is written after the prompt; the number of tokens, stop included, in the size n):
    parity                  the running parities p_1..p_n of n bits, "."                    n + 1
    add_plain               the n+1 digits of a + b (n digits each), most significant
                            first, ".": no scratchpad, so each digit looks ahead over the
                            whole carry chain (the carry into digit k is the generate bit
                            of the highest digit below k whose digit sum is not base - 1,
                            found in constant depth)                                    n + 2
    add_plain_carries       the carries c_1..c_n (least significant first), ";", then
                            the sum most significant first, "." (each digit reads one
                            carry)                                                     2n + 3
    add_reversed            the sum least significant digit first, "." (Lee et al. 2024,
                            "Teaching arithmetic to small transformers"): the carry into
                            digit k follows from the digit s_{k-1} written last          n + 2
    add_reversed_carries    s_0 c_1 s_1 c_2 ... s_{n-1} c_n, "." (each sum digit, then the
                            carry out of it; c_n is the top digit)                     2n + 1
    mul_reversed            a (n digits) times one digit b, least significant first      n + 2
    mul_reversed_carries    as add_reversed_carries (carries 0..base-2)                2n + 1
    mul_plain_carries       as add_plain_carries                                       2n + 3
    circuit                 the value of each of the n gates in order, "." (Li, Liu, Zhou,
                            Ma 2024, "Chain of thought empowers transformers to solve
                            inherently serial problems"); the last is the circuit's     n + 1
    hops                    f(x), f(f(x)), ..., f^n(x), "." (n-hop pointer chasing in a
                            table f: one token per hop, where a model without a chain of
                            thought composes the hops in its layers)                     n + 1

Prompt formats (tokens; digits are the ints 0..base-1, numbers most significant digit first):
    parity:     b_1 ... b_n "="                                    (bits 0/1)
    add_*:      a_{n-1} ... a_0 "+" b_{n-1} ... b_0 "="            (zero-padded to n digits)
    mul_*:      a_{n-1} ... a_0 "*" b "="
    circuit:    g_0 ... g_{n-1} "=", gate g_i one token: ("IN", 0), ("IN", 1), ("NOT", j),
                ("AND", j, k) or ("OR", j, k) with j, k < i (inputs are earlier gates)
    hops:       f(0) ... f(m-1) x "=" "?" ... "?"                  (n question marks)

The functions of every Map and SequenceMap are total on the value sets compile infers (which
over-approximate: a function may be called on a position and a token that never meet), returning
a sentinel there, so every program compiles (tests/compiler/test_cot_compile.py lists what is
compiled and verified).
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Iterator, Mapping, Sequence

import sympy as sp

from theory_kit.errors import InvalidInput
from theory_kit.rasp import nodes as rasp

__all__ = ["make_parity_cot", "make_arithmetic_cot", "make_circuit_cot", "make_hops_cot",
           "arithmetic_spec", "circuit_gates", "CotSpec", "COT_PROGRAMS", "STOP",
           "ARITHMETIC_FORMATS"]

_I, _T = rasp.indices, rasp.tokens
_EQ = rasp.Comparison.EQ
#: The problem-size symbol of the formulas (bits, digits per operand, gates, hops).
n_sym = sp.Symbol("n", positive=True, integer=True)
#: The stop token every program writes last.
STOP = "."
#: The output formats of the arithmetic programs (`make_arithmetic_cot`).
ARITHMETIC_FORMATS = ("plain", "plain_carries", "reversed", "reversed_carries")
#: A value no reachable token takes (functions return it on unreachable arguments).
_NONE = "_"


# -- shared pieces ------------------------------------------------------------------------------
def _position_of(marker: str, name: str) -> rasp.SOp:
    """The position of the `marker` token (it occurs once per prompt); -1 before it."""
    select = rasp.Select(_T, _T, lambda k, q: k == marker).named(f"{name}_select")
    return rasp.categorical(rasp.Aggregate(select, _I, default=-1)).named(name)


def _written(eq: rasp.SOp, name: str) -> rasp.SOp:
    """j = tokens written so far after the prompt, which ends with the token at `eq`: the
    last position q writes token number j = q - eq (0-based); -1 inside the prompt."""
    return rasp.categorical(rasp.SequenceMap(lambda i, e: i - e if e >= 0 else -1, _I,
                                             eq)).named(name)


def _read(sop: rasp.SOp, position: rasp.SOp, default: Any, name: str) -> rasp.SOp:
    """`sop` at the position `position` holds (one attention head; `default` where that
    position does not exist or is in the future)."""
    select = rasp.Select(_I, position, _EQ).named(f"{name}_select")
    return rasp.categorical(rasp.Aggregate(select, sop, default=default)).named(name)


def _is_digit(t: Any, base: int) -> bool:
    return type(t) is int and 0 <= t < base


def _digits_of(base: int, name: str) -> rasp.SOp:
    """Every token as a digit: the digit itself, 0 for any other token (so reading an
    operator, "=" or a missing digit reads 0)."""
    return rasp.categorical(rasp.Map(lambda t: t if _is_digit(t, base) else 0, _T,
                                     simplify=False)).named(name)


# -- parity ---------------------------------------------------------------------------------------
def make_parity_cot() -> rasp.SOp:
    """Parity with a running-parity scratchpad: after bits b_1..b_n and "=", write
    p_1, ..., p_n (p_i = b_1 XOR ... XOR b_i; p_n is the answer), then ".".

    Token j (0-based, at the last position q = eq + j) is p_{j+1} = p_j XOR b_{j+1}: the last
    token (p_j, or "=" when j = 0, read as p_0 = 0) and the bit at position j; "." once j = n.

    Example:
        >>> from theory_kit import rasp
        >>> rasp.generate(make_parity_cot(), [1, 0, 1, "="], max_new_tokens=9, stop=".").tokens
        (1, 1, 0, '.')
    """
    eq = _position_of("=", "parity_eq")
    j = _written(eq, "parity_written")
    bits = _digits_of(2, "parity_bits")
    bit = _read(bits, j, 0, "parity_bit")            # b_{j+1} sits at position j
    phase = rasp.categorical(rasp.SequenceMap(
        lambda j, e: "bit" if 0 <= j < e else STOP, j, eq)).named("parity_phase")
    step = rasp.categorical(rasp.SequenceMap(lambda p, b: p ^ b, bits, bit)).named("parity_xor")
    return rasp.categorical(rasp.SequenceMap(
        lambda ph, x: x if ph == "bit" else STOP, phase, step)).named("parity_cot")


def _parity_reference(prompt: Sequence) -> list:
    out, p = [], 0
    for b in prompt[:-1]:
        p ^= b
        out.append(p)
    return out + [STOP]


# -- arithmetic ---------------------------------------------------------------------------------
def _check_base(base: Any, where: str) -> int:
    if isinstance(base, bool) or not isinstance(base, int) or not 2 <= base <= 10:
        raise InvalidInput(f"{where}: base must be an int in 2..10, got {base!r}")
    return base


def make_arithmetic_cot(op: str = "+", fmt: str = "reversed", *, base: int = 10) -> rasp.SOp:
    """Multi-digit addition (op "+") or multiplication by a one-digit number (op "*"), written
    in one of the `ARITHMETIC_FORMATS` (module docstring), for any digit count d.

    Prompt: a_{d-1} .. a_0, op, b_{d-1} .. b_0 (one digit b for "*"), "=". The op's position P
    is d. Every format writes digit k of the result as s_k = (x_k + c_k) mod base and carries
    c_{k+1} = (x_k + c_k) div base, with x_k = a_k + b_k (or a_k * b) read from the prompt by
    position (a_k at P-1-k, b_k at 2P-k, the one digit b at P+1) and c_k from where the format
    keeps it:

    * reversed: from the digit written last, s_{k-1}: x_{k-1} + c_{k-1} lies in
      [x_{k-1}, x_{k-1} + cmax] with cmax = 1 for "+" and base - 2 for "*" (both < base), a
      window of at most base values, so it is x_{k-1} + ((s_{k-1} - x_{k-1}) mod base) and
      c_k is its div base;
    * reversed_carries / plain_carries: c_k is a scratchpad token at a known position
      (eq + 2k, resp. eq + k; for k = 0 that position holds "=", read as 0);
    * plain (op "+" only): c_k = the generate bit (x_m >= base) of the highest digit m < k
      that is decisive (x_m != base - 1; digits with x_m = base - 1 propagate), 0 if none.
      With cnt(i) = the number of decisive b-digits at positions <= i (one SelectorWidth),
      that digit is the decisive one whose count is cnt(position of b_k) + 1 (one head).

    Raises:
        InvalidInput: an unknown op or format, plain with "*", base outside 2..10.

    Example:
        >>> from theory_kit import rasp
        >>> add = make_arithmetic_cot("+", "plain")
        >>> rasp.generate(add, [4, 7, "+", 5, 8, "="], max_new_tokens=9, stop=".").tokens
        (1, 0, 5, '.')
    """
    where = "make_arithmetic_cot"
    base = _check_base(base, where)
    if op not in ("+", "*"):
        raise InvalidInput(f"{where}: op must be '+' or '*', got {op!r}")
    if fmt not in ARITHMETIC_FORMATS:
        raise InvalidInput(f"{where}: fmt must be one of {ARITHMETIC_FORMATS}, got {fmt!r}")
    if fmt == "plain" and op == "*":
        raise InvalidInput(f"{where}: the plain format without a scratchpad is built for '+' "
                           "(its carries are 0/1); use plain_carries for '*'")
    name = f"{'add' if op == '+' else 'mul'}_{fmt}"
    if fmt == "plain":
        return _make_add_plain(base, name)

    P = _position_of(op, f"{name}_op")
    eq = _position_of("=", f"{name}_eq")
    j = _written(eq, f"{name}_written")
    digits = _digits_of(base, f"{name}_digits")

    # plan: what token j is, (kind, k) with kind "sum" (s_k), "carry" (c_{k+1}), ";" or "."
    def plan(j, d):
        if j < 0 or d < 1:
            return (STOP, -1)
        if fmt == "reversed":
            return ("sum", j) if j <= d else (STOP, -1)
        if fmt == "reversed_carries":
            return (("sum" if j % 2 == 0 else "carry"), j // 2) if j < 2 * d else (STOP, -1)
        if j < d:                                      # plain_carries: c_1 .. c_d
            return ("carry", j)
        if j == d:
            return (";", -1)
        return ("sum", 2 * d + 1 - j) if j <= 2 * d + 1 else (STOP, -1)

    def planned(f, label):
        """f(kind, k, d) as an SOp: a function of the token number j and d = P (one MLP)."""
        return rasp.categorical(rasp.SequenceMap(lambda j, d: f(*plan(j, d), d), j, P)).named(
            f"{name}_{label}")

    def a_at(k, d):                                    # a_k at P - 1 - k, 0 <= k < d
        return d - 1 - k if 0 <= k < d else -1

    def b_at(k, d):                                    # b_k at 2P - k ("+"), b at P + 1 ("*")
        if op == "*":
            return d + 1 if d >= 1 else -1
        return 2 * d - k if 0 <= k < d else -1

    kind = planned(lambda kind, k, d: kind, "kind")
    a = _read(digits, planned(lambda kind, k, d: a_at(k, d), "a_at"), 0, f"{name}_a")
    b = _read(digits, planned(lambda kind, k, d: b_at(k, d), "b_at"), 0, f"{name}_b")
    x = rasp.categorical(rasp.SequenceMap((lambda a, b: a + b) if op == "+" else
                                          (lambda a, b: a * b), a, b)).named(f"{name}_x")
    if fmt == "reversed":
        # x_{k-1} and the digit s_{k-1} written last (k = 0: x_{-1} reads the op / "=" as 0,
        # and the last token is "=": no carry)
        a1 = _read(digits, planned(lambda kind, k, d: d - k if 0 <= k <= d else -1, "a1_at"),
                   0, f"{name}_a1")
        b1 = _read(digits, planned(lambda kind, k, d: b_at(k - 1, d) if k >= 1 else -1,
                                   "b1_at"), 0, f"{name}_b1")
        x1 = rasp.categorical(rasp.SequenceMap((lambda a, b: a + b) if op == "+" else
                                               (lambda a, b: a * b), a1, b1)).named(
            f"{name}_x1")
        carry = rasp.categorical(rasp.SequenceMap(
            lambda x, s: (x + (s - x) % base) // base if _is_digit(s, base) else 0,
            x1, _T)).named(f"{name}_carry")
    else:
        gap = 2 if fmt == "reversed_carries" else 1   # c_k at eq + gap * k
        k = planned(lambda kind, k, d: k, "k")
        c_at = rasp.categorical(rasp.SequenceMap(lambda k, e: e + gap * k if k >= 0 and e >= 0
                                                 else -1, k, eq)).named(f"{name}_c_at")
        carry = _read(digits, c_at, 0, f"{name}_carry")
    total = rasp.categorical(rasp.SequenceMap(lambda x, c: x + c, x, carry)).named(
        f"{name}_total")

    def emit(kind, v):
        if kind == "sum":
            return v % base
        if kind == "carry":
            return v // base
        return kind                                    # ";" or "."
    return rasp.categorical(rasp.SequenceMap(emit, kind, total)).named(name)


def _make_add_plain(base: int, name: str) -> rasp.SOp:
    """add_plain: the sum most significant digit first, no scratchpad (make_arithmetic_cot)."""
    P = _position_of("+", f"{name}_op")
    eq = _position_of("=", f"{name}_eq")
    digits = _digits_of(base, f"{name}_digits")
    # At b_m's position i (P < i < eq, m = 2P - i): a_m sits at i - P - 1.
    a_at = rasp.categorical(rasp.SequenceMap(lambda i, d: i - d - 1 if 0 <= d < i else -1,
                                             _I, P)).named(f"{name}_a_at")
    a_at = rasp.categorical(rasp.SequenceMap(lambda t, e: t if e < 0 else -1, a_at,
                                             eq)).named(f"{name}_a_at_b")
    a = _read(digits, a_at, 0, f"{name}_a")
    # x_m = a_m + b_m at b-positions, -1 elsewhere
    bdigit = rasp.categorical(rasp.SequenceMap(lambda t, d: d if t >= 0 else -1, a_at,
                                               digits)).named(f"{name}_b")
    x = rasp.categorical(rasp.SequenceMap(lambda a, b: a + b if b >= 0 else -1, a,
                                          bdigit)).named(f"{name}_x")
    decisive = rasp.categorical(rasp.Map(lambda x: x >= 0 and x != base - 1, x)).named(
        f"{name}_decisive")
    generates = rasp.categorical(rasp.Map(lambda x: 1 if x >= base else 0, x)).named(
        f"{name}_generates")
    # count(i) = decisive b-digits at positions <= i (the causal mask bounds the keys). The
    # highest decisive digit below k is the first decisive position after b_k's, the one with
    # count(b_k's position) + 1: counts rise by one at every decisive position, so exactly
    # one key matches, or none (no decisive digit below k: no carry, the default 0).
    count = rasp.SelectorWidth(rasp.Select(decisive, decisive, lambda k, q: k).named(
        f"{name}_select_decisive")).named(f"{name}_count")
    key = rasp.categorical(rasp.SequenceMap(lambda dec, c: (dec, c), decisive, count)).named(
        f"{name}_key")
    # Token j (0 <= j <= d) is s_k for k = d - j; b_k sits at P + j (j = 0: the "+", x = -1
    # read as 0 and count 0, so s_d = c_d).
    j = _written(eq, f"{name}_written")
    here = rasp.categorical(rasp.SequenceMap(lambda j, d: d + j if 0 <= j <= d else -1, j,
                                             P)).named(f"{name}_here")
    x_here = _read(x, here, -1, f"{name}_x_here")
    count_here = _read(count, here, 0, f"{name}_count_here")
    carry = rasp.categorical(rasp.Aggregate(rasp.Select(
        key, count_here, lambda k, q: k[0] and k[1] == q + 1).named(f"{name}_select_carry"),
        generates, default=0)).named(f"{name}_carry")
    total = rasp.categorical(rasp.SequenceMap(lambda x, c: max(x, 0) + c, x_here, carry)).named(
        f"{name}_total")
    phase = rasp.categorical(rasp.SequenceMap(lambda j, d: "sum" if 0 <= j <= d else STOP, j,
                                              P)).named(f"{name}_phase")
    return rasp.categorical(rasp.SequenceMap(lambda ph, v: v % base if ph == "sum" else STOP,
                                             phase, total)).named(name)


def _arith_parse(prompt: Sequence, op: str) -> tuple[Sequence, Sequence, int]:
    """(digits of a, digits of b, d) of an arithmetic prompt (most significant first)."""
    d = list(prompt).index(op)
    a_digits, b_digits = prompt[:d], prompt[d + 1:-1]
    return a_digits, b_digits, d


def _to_int(digits: Sequence[int], base: int) -> int:
    value = 0
    for x in digits:
        value = value * base + x
    return value


def _arith_reference(prompt: Sequence, *, op: str, fmt: str, base: int) -> list:
    """The tokens `make_arithmetic_cot(op, fmt, base=base)` writes after `prompt`."""
    a_digits, b_digits, d = _arith_parse(prompt, op)
    a = list(reversed(a_digits))                       # least significant first
    b = list(reversed(b_digits)) if op == "+" else [b_digits[0]] * d
    sums, carries, c = [], [0], 0
    for k in range(d):
        v = a[k] + b[k] if op == "+" else a[k] * b[k]
        v += c
        sums.append(v % base)
        c = v // base
        carries.append(c)
    sums.append(c)                                     # the top digit: the last carry
    if fmt == "plain":
        return sums[::-1] + [STOP]
    if fmt == "reversed":
        return sums + [STOP]
    if fmt == "reversed_carries":
        return [t for k in range(d) for t in (sums[k], carries[k + 1])] + [STOP]
    return carries[1:] + [";"] + sums[::-1] + [STOP]   # plain_carries


def _arith_answer(prompt: Sequence, *, op: str, base: int) -> int:
    a_digits, b_digits, _ = _arith_parse(prompt, op)
    a, b = _to_int(a_digits, base), _to_int(b_digits, base)
    return a + b if op == "+" else a * b


def _arith_read(prompt: Sequence, written: Sequence, *, fmt: str, base: int) -> int:
    """The number a generation of format `fmt` states (its digits, without the scratchpad)."""
    body = list(written[:-1])
    if fmt == "plain":
        return _to_int(body, base)
    if fmt == "reversed":
        return _to_int(body[::-1], base)
    if fmt == "reversed_carries":                      # s_0 c_1 s_1 c_2 ... s_{d-1} c_d
        return _to_int((body[0::2] + body[-1:])[::-1], base)
    return _to_int(body[body.index(";") + 1:], base)   # plain_carries


# -- circuit evaluation ---------------------------------------------------------------------------
def circuit_gates(i: int) -> tuple:
    """Every gate token gate i of a circuit may be: an input ("IN", 0/1) or a gate over earlier
    gates ("NOT", j), ("AND", j, k), ("OR", j, k) with j, k < i."""
    return (("IN", 0), ("IN", 1), *(("NOT", j) for j in range(i)),
            *((g, j, k) for g in ("AND", "OR") for j in range(i) for k in range(i)))


def _gate_kind(g: Any) -> str:
    if g == "=":
        return STOP                                    # every gate written: stop
    if isinstance(g, tuple) and len(g) >= 2:
        if g[0] == "IN" and g[1] in (0, 1) and type(g[1]) is int:
            return f"IN{g[1]}"
        if g[0] in ("NOT", "AND", "OR"):
            return g[0]
    return _NONE


def _gate_input(g: Any, which: int) -> int:
    """The index of input `which` (0, 1) of gate token g; NOT's second input is its first."""
    if _gate_kind(g) == "NOT":
        return g[1]
    if _gate_kind(g) in ("AND", "OR"):
        return g[1 + which]
    return -1


def make_circuit_cot() -> rasp.SOp:
    """Boolean circuit evaluation with one chain-of-thought token per gate (Li, Liu, Zhou, Ma
    2024): after gates g_0..g_{n-1} and "=", write v_0, ..., v_{n-1} (the gates' values; v_{n-1}
    is the circuit's value), then ".".

    Three attention layers whatever n: token j (at q = eq + j, eq found first) reads gate g_j at
    position j, then the values of its inputs u, w at positions eq + 1 + u and eq + 1 + w
    (written earlier: u, w < j), and an MLP applies the gate. At j = n position j holds "=":
    stop.

    Example:
        >>> from theory_kit import rasp
        >>> prompt = [("IN", 1), ("IN", 0), ("OR", 0, 1), ("NOT", 2), "="]
        >>> rasp.generate(make_circuit_cot(), prompt, max_new_tokens=9, stop=".").tokens
        (1, 0, 1, 0, '.')
    """
    eq = _position_of("=", "circuit_eq")
    j = _written(eq, "circuit_written")
    gate = _read(_T, j, _NONE, "circuit_gate")
    kind = rasp.categorical(rasp.Map(_gate_kind, gate)).named("circuit_kind")
    bits = rasp.categorical(rasp.Map(lambda t: t if t in (0, 1) and type(t) is int else _NONE,
                                     _T)).named("circuit_bits")
    values = []
    for which in (0, 1):
        index = rasp.categorical(rasp.Map(lambda g, w=which: _gate_input(g, w), gate)).named(
            f"circuit_input{which}")
        at = rasp.categorical(rasp.SequenceMap(lambda u, e: e + 1 + u if u >= 0 and e >= 0
                                               else -1, index, eq)).named(
            f"circuit_input{which}_at")
        values.append(_read(bits, at, 0, f"circuit_value{which}"))
    pair = rasp.categorical(rasp.SequenceMap(lambda u, w: (u, w), *values)).named("circuit_pair")

    def apply(kind, uw):
        u, w = uw
        if kind in ("IN0", "IN1"):
            return int(kind[2])
        if kind in ("NOT", "AND", "OR") and u in (0, 1) and w in (0, 1):
            return {"NOT": 1 - u, "AND": u & w, "OR": u | w}[kind]
        return STOP                                    # "=" reached (or unreachable)
    return rasp.categorical(rasp.SequenceMap(apply, kind, pair)).named("circuit_cot")


def _circuit_values(prompt: Sequence) -> list:
    values: list[int] = []
    for g in prompt[:-1]:
        kind = g[0]
        if kind == "IN":
            values.append(g[1])
        elif kind == "NOT":
            values.append(1 - values[g[1]])
        elif kind == "AND":
            values.append(values[g[1]] & values[g[2]])
        else:
            values.append(values[g[1]] | values[g[2]])
    return values


# -- k-hop pointer chasing ------------------------------------------------------------------------
def make_hops_cot() -> rasp.SOp:
    """k-hop pointer chasing with one chain-of-thought token per hop: after f(0)..f(m-1), x,
    "=" and k question marks, write f(x), f(f(x)), ..., f^k(x), then ".".

    Three attention layers whatever k (eq and k, then x, then f(y)): the token written at the
    last position q = eq + j is f(y), y the last token (for the first hop the last token is the
    k-th "?" and y is x, read at eq - 1), one head reading position y of the table; it writes
    "." once it has written k answers (k = the number of "?", a SelectorWidth): it writes
    answers while k <= j < 2k.

    Example:
        >>> from theory_kit import rasp
        >>> rasp.generate(make_hops_cot(), [1, 2, 0, 0, "=", "?", "?"], max_new_tokens=9,
        ...               stop=".").tokens
        (1, 2, '.')
    """
    eq = _position_of("=", "hops_eq")
    marks = rasp.SelectorWidth(rasp.Select(_T, _T, lambda k, q: k == "?").named(
        "hops_select_marks")).named("hops_marks")
    j = _written(eq, "hops_after_eq")   # after "=" come the k marks, then the answers
    ints = rasp.categorical(rasp.Map(lambda t: t if type(t) is int else -1, _T)).named(
        "hops_ints")
    x = _read(ints, rasp.categorical(rasp.Map(lambda e: e - 1 if e >= 1 else -1, eq)).named(
        "hops_x_at"), -1, "hops_x")
    # the pointer to follow: the last token (the previous answer), or x for the first hop
    # (the last token is then the k-th "?")
    y = rasp.categorical(rasp.SequenceMap(lambda t, x: t if t >= 0 else x, ints, x)).named(
        "hops_pointer")
    fy = _read(ints, y, -1, "hops_f")
    # the last position is eq + j: it writes answer j - k + 1 of k while k <= j < 2k
    going = rasp.categorical(rasp.SequenceMap(lambda j, k: k <= j < 2 * k, j, marks)).named(
        "hops_going")
    return rasp.categorical(rasp.SequenceMap(lambda go, v: v if go and v >= 0 else STOP,
                                             going, fy)).named("hops_cot")


def _hops_reference(prompt: Sequence) -> list:
    eq = list(prompt).index("=")
    f, x, k = prompt[:eq - 1], prompt[eq - 1], len(prompt) - eq - 1
    out = []
    for _ in range(k):
        x = f[x]
        out.append(x)
    return out + [STOP]


# -- registry -------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class CotSpec:
    """A chain-of-thought program with its prompt format, reference and length formula.

    A prompt of size n is a product: token i is one of `choices(n)[i]` (so the prompts of size
    n are enumerated or sampled without building them all).

    Attributes:
        name: registry key.
        build: builds the program (one program serves every size).
        doc: one line.
        size: what the size n counts (e.g. "digits per operand").
        choices: n -> one tuple of possible tokens per prompt position.
        reference: prompt -> every token the program writes after it (scratchpad, answer, ".").
        answer: prompt -> the answer, computed directly (not from the chain of thought).
        read_answer: (prompt, written tokens) -> the answer the tokens state.
        cot_length: sympy expression in `n_sym`: the number of tokens written (stop included)
            on every prompt of size n.
        prompt_length: sympy expression in `n_sym`: the prompt's length.
        written: the tokens the program writes that prompts need not hold (stop included).
        sizes: the sizes checked by default, smallest first (tests, claims).
        stop: the stop token.
    """

    name: str
    build: Callable[[], rasp.SOp]
    doc: str
    size: str
    choices: Callable[[int], tuple]
    reference: Callable[[Sequence], list]
    answer: Callable[[Sequence], Any]
    read_answer: Callable[[Sequence, Sequence], Any]
    cot_length: sp.Expr
    prompt_length: sp.Expr
    written: tuple
    sizes: tuple
    stop: Any = STOP

    def __call__(self) -> rasp.SOp:
        return self.build()

    def cot_length_at(self, n: int) -> int:
        """The number of tokens written after a prompt of size n, as an int."""
        return int(self.cot_length.subs(n_sym, n))

    def max_seq_len(self, n: int) -> int:
        """The longest sequence at size n: prompt and everything written."""
        return int(self.prompt_length.subs(n_sym, n)) + self.cot_length_at(n)

    def vocab(self, n: int) -> tuple:
        """Every token of the prompts of sizes 1..n and of what the program writes (sorted by
        repr)."""
        tokens = {t for m in range(1, n + 1) for options in self.choices(m) for t in options}
        return tuple(sorted(tokens | set(self.written), key=repr))

    def count(self, n: int) -> int:
        """The number of prompts of size n."""
        return math.prod(len(options) for options in self.choices(n))

    def prompts(self, n: int) -> Iterator[list]:
        """Every prompt of size n, in a fixed order."""
        return (list(p) for p in itertools.product(*self.choices(n)))

    def sample(self, n: int, k: int, *, seed: int = 0) -> list:
        """k prompts of size n drawn uniformly (seeded; repeats possible)."""
        rng = random.Random(seed)
        choices = self.choices(n)
        return [[rng.choice(options) for options in choices] for _ in range(k)]


def _digit_choices(base: int, op: str) -> Callable[[int], tuple]:
    digits = tuple(range(base))

    def choices(d: int) -> tuple:
        second = (digits,) * (d if op == "+" else 1)
        return (digits,) * d + ((op,),) + second + (("=",),)
    return choices


def arithmetic_spec(op: str = "+", fmt: str = "reversed", *, base: int = 10) -> CotSpec:
    """The CotSpec of `make_arithmetic_cot(op, fmt, base=base)` (registered at base 10 as
    add_<fmt> / mul_<fmt>; other bases are named <name>_base<b>).

    Raises:
        InvalidInput: as make_arithmetic_cot.
    """
    make_arithmetic_cot(op, fmt, base=base)  # checks the arguments
    d = n_sym
    length = {"plain": d + 2, "reversed": d + 2, "reversed_carries": 2 * d + 1,
              "plain_carries": 2 * d + 3}[fmt]
    what = {"plain": "most significant digit first, no scratchpad (lookahead)",
            "plain_carries": "carries, then the result most significant first",
            "reversed": "least significant digit first (Lee et al. 2024)",
            "reversed_carries": "least significant first, each digit then its carry"}[fmt]
    name = f"{'add' if op == '+' else 'mul'}_{fmt}" + ("" if base == 10 else f"_base{base}")
    return CotSpec(
        name=name,
        build=lambda: make_arithmetic_cot(op, fmt, base=base),
        doc=("d-digit addition" if op == "+" else "d-digit by one-digit product")
        + f", base {base}, {what}",
        size="digits per operand" if op == "+" else "digits of the multiplicand",
        choices=_digit_choices(base, op),
        reference=lambda p: _arith_reference(p, op=op, fmt=fmt, base=base),
        answer=lambda p: _arith_answer(p, op=op, base=base),
        read_answer=lambda p, w: _arith_read(p, w, fmt=fmt, base=base),
        cot_length=length,
        prompt_length=(2 * d + 2) if op == "+" else (d + 3),
        written=(";", STOP) if fmt == "plain_carries" else (STOP,), sizes=(1, 2, 3),
    )


_HOPS_TABLE = 3  # the pointer table's size m in the registered hops program


def _hops_answer(prompt: Sequence) -> int:
    """f^k(x) by composing f with itself k times (k = the number of "?")."""
    f = prompt[:_HOPS_TABLE]
    fk = tuple(range(_HOPS_TABLE))
    for _ in range(prompt.count("?")):
        fk = tuple(f[y] for y in fk)
    return fk[prompt[_HOPS_TABLE]]


def _hops_choices(k: int) -> tuple:
    table = tuple(range(_HOPS_TABLE))
    return (table,) * _HOPS_TABLE + (table, ("=",)) + (("?",),) * k


_SPECS = (
    CotSpec(
        name="parity", doc="parity of n bits with a running-parity scratchpad",
        build=make_parity_cot, size="bits",
        choices=lambda n: ((0, 1),) * n + (("=",),),
        reference=_parity_reference, answer=lambda p: sum(p[:-1]) % 2,
        read_answer=lambda p, w: w[-2], cot_length=n_sym + 1, prompt_length=n_sym + 1,
        written=(STOP,), sizes=(1, 2, 3, 4, 5, 6, 7, 8)),
    *(arithmetic_spec("+", fmt) for fmt in ARITHMETIC_FORMATS),
    *(arithmetic_spec("*", fmt) for fmt in ("reversed", "reversed_carries", "plain_carries")),
    CotSpec(
        name="circuit", doc="boolean circuit evaluation, one token per gate (Li et al. 2024)",
        build=make_circuit_cot, size="gates",
        choices=lambda n: tuple(circuit_gates(i) for i in range(n)) + (("=",),),
        reference=lambda p: _circuit_values(p) + [STOP],
        answer=lambda p: _circuit_values(p)[-1], read_answer=lambda p, w: w[-2],
        cot_length=n_sym + 1, prompt_length=n_sym + 1, written=(0, 1, STOP),
        sizes=(1, 2, 3, 4)),
    CotSpec(
        name="hops", doc=f"k-hop pointer chasing in a table of {_HOPS_TABLE}, one token per hop",
        build=make_hops_cot, size="hops",
        choices=_hops_choices, reference=_hops_reference, answer=_hops_answer,
        read_answer=lambda p, w: w[-2], cot_length=n_sym + 1,
        prompt_length=n_sym + _HOPS_TABLE + 2, written=(STOP,), sizes=(1, 2, 3, 4)),
)

#: name -> CotSpec.
COT_PROGRAMS: Mapping[str, CotSpec] = MappingProxyType({s.name: s for s in _SPECS})
