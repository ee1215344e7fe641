"""Tool-using programs (issue 15, item 4): a causal next-token RASP program that multiplies two
n-digit numbers by calling an `add` tool, through the protocol of `theory_kit.generation`.

The model never adds or multiplies: every token it writes is a copy of ONE token it finds by
position (a digit of the prompt, a digit of the tool's last result, or its own last state
token) or a constant, chosen by a small lookup on its position and its state. Its depth is
fixed (three attention layers, 7 compiled layers for every n and base, `make_mul_with_add`
below) while the product's top digit depends on
all 2n input digits through carry chains of length up to 2n; the adder does the carrying.

Format (base B, n digits per operand, W = 2n, numbers most significant digit first, zero
padded):

    prompt:   a_{n-1} .. a_0 "*" b_{n-1} .. b_0 "="                            (2n + 2 tokens)
    then T periods of P = 3W + 6 tokens, period for digit k of b, repetition j:
              (k, j) <call> add X_{W-1} .. X_0 Y_{W-1} .. Y_0 </call>          (model: 2W + 4)
              <result> S_{W-1} .. S_0 </result>                                 (runtime: W + 2)
    then      S_{W-1} .. S_0 "."                                                (model: W + 1)

X is the accumulator (0 in the first call, else the last result S), Y = a * B^k when j >= 1 and
Y = 0 when j = 0 (a digit b_k = 0 still takes one period, with a zero addend, so that every
period has the same length and the model finds every token it reads at a fixed offset). Digit
k takes max(b_k, 1) periods, j = 1..b_k (or j = 0 once when b_k = 0), k = 0..n-1, so

    calls T = sum_k max(b_k, 1)          (n <= T <= (B - 1) n),
    tokens after the prompt = T (3W + 6) + W + 1,   of which the model writes T (2W + 4) + W + 1,

`MulWithAddSpec.calls` / `.tokens` / `.model_tokens` (sympy, in n and the digits b_k;
`.tokens_in_calls` in n and T). In base 2 this is shift-and-add: T = n.

The state token (k, j) is a tuple (one token). The next state follows from the last state
(k, j) (read P - 1 positions back) and the digits b_k, b_{k+1} (read from the prompt at the
position k names): (k, j + 1) while j < b_k, else (k + 1, min(b_{k+1}, 1)), else the answer.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import sympy as sp

from theory_kit.errors import InvalidInput
from theory_kit.generation import CALL, END, END_RESULT, RESULT
from theory_kit.rasp import nodes as rasp

__all__ = ["make_mul_with_add", "make_add_tool", "mul_with_add_spec", "MulWithAddSpec",
           "mul_with_add_reference", "ADD", "STOP", "n_sym", "calls_sym"]

#: The tool's name (a token) and the stop token.
ADD = "add"
STOP = "."
#: The number of digits per operand, and the number of tool calls.
n_sym = sp.Symbol("n", positive=True, integer=True)
calls_sym = sp.Symbol("T", positive=True, integer=True)
_k = sp.Symbol("k", integer=True, nonnegative=True)
#: The digits of b, least significant first: b[0] .. b[n-1].
b_digits = sp.IndexedBase("b")
_NONE = "_"          # a value no reachable token takes
_I, _T = rasp.indices, rasp.tokens


def _check(n: Any, base: Any, where: str) -> tuple[int, int]:
    problems = []
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        problems.append(f"n must be an int >= 1, got {n!r}")
    if isinstance(base, bool) or not isinstance(base, int) or not 2 <= base <= 10:
        problems.append(f"base must be an int in 2..10, got {base!r}")
    if problems:
        raise InvalidInput(f"{where}: " + "; ".join(problems))
    return n, base


def make_add_tool(base: int = 10) -> Callable[..., list]:
    """The `add` tool: called with 2W digits (two W-digit numbers, most significant first)
    it returns the W digits of their sum. Raises ValueError (a ToolCallError in generation)
    on an odd number of arguments, an argument that is not a digit, or a sum that needs more
    than W digits."""
    _check(1, base, "make_add_tool")

    def add(*digits):
        if not digits or len(digits) % 2:
            raise ValueError(f"add takes two numbers of the same digit count, got "
                             f"{len(digits)} argument(s) {digits!r:.80}")
        bad = [d for d in digits if type(d) is not int or not 0 <= d < base]
        if bad:
            raise ValueError(f"add: {bad[0]!r} is not a base-{base} digit")
        w = len(digits) // 2
        x, y = _to_int(digits[:w], base), _to_int(digits[w:], base)
        if x + y >= base ** w:
            raise ValueError(f"add: {x} + {y} = {x + y} does not fit in {w} digits")
        return _to_digits(x + y, w, base)
    add.__name__ = f"add_base{base}"
    return add


def _to_int(digits: Sequence[int], base: int) -> int:
    value = 0
    for d in digits:
        value = value * base + d
    return value


def _to_digits(value: int, width: int, base: int) -> list:
    out = []
    for _ in range(width):
        value, d = divmod(value, base)
        out.append(d)
    return out[::-1]


def make_mul_with_add(n: int, base: int = 10) -> rasp.SOp:
    """The next-token program of n-digit multiplication by calls to `add` (module docstring).

    One program per n (the prompt's layout is fixed: "*" at position n, "=" at 2n + 1, so every
    position the program reads is a function of its own position, or of its position and its
    state). Three attention layers: (1) the anchor token (the state at the start of the current
    period, or of the previous one when a period starts), the accumulator digit (W + 3 back)
    and the answer digit (W back); (2) the digits b_k, b_{k+1} at positions the anchor's state
    names; (3) the addend digit of a (its position a function of the state and the offset).

    Raises:
        InvalidInput: n < 1 or base outside 2..10.

    Example:
        >>> from theory_kit import rasp
        >>> tools = {"add": make_add_tool(10)}
        >>> g = rasp.generate(make_mul_with_add(1), [3, "*", 2, "="], max_new_tokens=99,
        ...                   stop=".", tools=tools)
        >>> g.model_tokens[-3:], len(g.calls)
        ((0, 6, '.'), 2)
    """
    n, base = _check(n, base, "make_mul_with_add")
    W = 2 * n
    P = 3 * W + 6
    eq = 2 * n + 1
    name = f"mul_with_add_n{n}" + ("" if base == 10 else f"_base{base}")

    def period(q):
        """(c, r) of the token written at the last position q: period c, offset r."""
        return divmod(q - eq, P) if q >= eq else (-1, -1)

    def anchor_at(q):
        c, r = period(q)
        if c < 0 or (c == 0 and r == 0):
            return -1
        return q + 1 - (P if r == 0 else r)

    def is_digit(t):
        return type(t) is int and 0 <= t < base

    def is_state(t):
        return (isinstance(t, tuple) and len(t) == 2 and all(type(v) is int for v in t)
                and 0 <= t[0] < n and 0 <= t[1] < base)

    digits = rasp.categorical(rasp.Map(lambda t: t if is_digit(t) else 0, _T,
                                       simplify=False)).named(f"{name}_digits")
    offset = rasp.categorical(rasp.Map(lambda q: period(q)[1], _I)).named(f"{name}_offset")

    def read_at(where: Callable[[int], int], sop, default, label):
        select = rasp.Select(_I, _I, lambda k, q: k == where(q)).named(f"{name}_{label}_select")
        return rasp.categorical(rasp.Aggregate(select, sop, default=default)).named(
            f"{name}_{label}")

    # layer 1
    anchor = read_at(anchor_at, _T, _NONE, "anchor")
    acc = read_at(lambda q: q - 3 - W if q - 3 - W > eq else -1, digits, 0, "acc")
    ans = read_at(lambda q: q - W if q - W > eq else -1, digits, 0, "ans")
    # the state the anchor holds: (k, j), "start" (no state yet: the first period), "answer"
    # (the anchor is an answer digit), or _NONE
    state = rasp.categorical(rasp.SequenceMap(
        lambda a, r: a if is_state(a) else ("start" if r == 0 and a == _NONE else
                                            ("answer" if is_digit(a) and r > 0 else _NONE)),
        anchor, offset)).named(f"{name}_state")

    # layer 2: b_k, b_{k+1} (b_k at 2n - k; k = -1 at the start), a's digit for the addend
    def k_of(s):
        return s[0] if isinstance(s, tuple) else (-1 if s == "start" else None)

    def b_at(s, plus):
        k = k_of(s)
        return 2 * n - k - plus if k is not None and 0 <= k + plus < n else -1

    def read_by_state(where, label):
        select = rasp.Select(_I, state, lambda key, s: key == where(s)).named(
            f"{name}_{label}_select")
        return rasp.categorical(rasp.Aggregate(select, digits, default=0)).named(
            f"{name}_{label}")
    bk = read_by_state(lambda s: b_at(s, 0), "bk")
    bk1 = read_by_state(lambda s: b_at(s, 1), "bk1")

    def a_at(s, r):
        """The position of the digit of a * B^k at addend offset r (-1: a zero digit)."""
        if not (isinstance(s, tuple) and s[1] >= 1 and 3 + W <= r < 3 + 2 * W):
            return -1
        m = (W - 1 - (r - 3 - W)) - s[0]             # place p minus k: digit a_m
        return n - 1 - m if 0 <= m < n else -1
    a_pos = rasp.categorical(rasp.SequenceMap(a_at, state, offset)).named(f"{name}_a_at")
    addend = _read_at(a_pos, digits, f"{name}_addend")

    # the token: a lookup on the offset and the state, then the digit it names
    def kind(s, r):
        if r < 0:
            return STOP                               # inside the prompt (never asked)
        if s == "answer":
            return "ans" if r < W else STOP
        if r == 0:
            return "state" if s == "start" or isinstance(s, tuple) else STOP
        if not isinstance(s, tuple):
            return STOP
        if r == 1:
            return CALL
        if r == 2:
            return ADD
        if r < 3 + W:
            return "acc"
        if r < 3 + 2 * W:
            return "addend"
        return END if r == 3 + W * 2 else STOP        # beyond END: the runtime's result block
    what = rasp.categorical(rasp.SequenceMap(kind, state, offset)).named(f"{name}_kind")

    def advance(s, b):
        """(state, b_k) -> the next state, ("next", k) (on to digit k + 1) or "ans"."""
        if s == "start":
            return ("next", -1)
        if not isinstance(s, tuple):
            return _NONE
        k, j = s
        if j < b:
            return (k, j + 1)
        return ("next", k) if k + 1 < n else "ans"
    step = rasp.categorical(rasp.SequenceMap(advance, state, bk)).named(f"{name}_advance")

    def next_state(st, b1):
        if isinstance(st, tuple) and st[0] == "next":
            return (st[1] + 1, min(b1, 1))
        return st
    new_state = rasp.categorical(rasp.SequenceMap(next_state, step, bk1)).named(
        f"{name}_next_state")

    def choose(w, s):
        if w == "state":
            return "ans" if s == "ans" else (s if is_state(s) else STOP)
        return w
    token = rasp.categorical(rasp.SequenceMap(choose, what, new_state)).named(f"{name}_plan")
    token = rasp.categorical(rasp.SequenceMap(lambda w, d: d if w == "acc" else w, token,
                                              acc)).named(f"{name}_with_acc")
    token = rasp.categorical(rasp.SequenceMap(lambda w, d: d if w == "ans" else w, token,
                                              ans)).named(f"{name}_with_ans")

    def final(w, d):
        if w == "addend":
            return d
        if is_digit(w) or is_state(w) or w in (CALL, ADD, END, STOP):
            return w
        return STOP
    return rasp.categorical(rasp.SequenceMap(final, token, addend)).named(name)


def _read_at(position: rasp.SOp, sop: rasp.SOp, name: str, default: Any = 0) -> rasp.SOp:
    """`sop` at the position `position` holds (one head; `default` where there is none)."""
    select = rasp.Select(_I, position, rasp.Comparison.EQ).named(f"{name}_select")
    return rasp.categorical(rasp.Aggregate(select, sop, default=default)).named(name)


# -- reference ----------------------------------------------------------------------------------
def _parse(prompt: Sequence, n: int, base: int) -> tuple[list, list]:
    """(a's digits, b's digits), most significant first; InvalidInput if not a prompt."""
    ok = (len(prompt) == 2 * n + 2 and prompt[n] == "*" and prompt[-1] == "="
          and all(type(d) is int and 0 <= d < base for i, d in enumerate(prompt[:-1])
                  if i != n))
    if not ok:
        raise InvalidInput(f"not a {n}-digit base-{base} multiplication prompt "
                           f"(a_(n-1)..a_0 '*' b_(n-1)..b_0 '='): {list(prompt)!r:.120}")
    return list(prompt[:n]), list(prompt[n + 1:2 * n + 1])


def mul_with_add_reference(prompt: Sequence, *, n: int, base: int = 10) -> list:
    """Every token after `prompt` (the model's and the runtime's) in plain Python."""
    a_digits, b_digits = _parse(prompt, n, base)
    W = 2 * n
    a = _to_int(a_digits, base)
    out, acc = [], 0
    for k, bk in enumerate(reversed(b_digits)):
        for j in (range(1, bk + 1) if bk else [0]):
            y = a * base ** k if j else 0
            out += [(k, j), CALL, ADD, *_to_digits(acc, W, base), *_to_digits(y, W, base), END]
            acc += y
            out += [RESULT, *_to_digits(acc, W, base), END_RESULT]
    return out + _to_digits(acc, W, base) + [STOP]


@dataclass(frozen=True)
class MulWithAddSpec:
    """n-digit multiplication with an add tool: program, tools, prompts, reference, formulas.

    Attributes:
        n, base: digits per operand, base.
        calls: sympy, the number of tool calls: Sum(Max(b[k], 1), (k, 0, n - 1)).
        tokens_in_calls: sympy in n and T (`calls_sym`): every token after the prompt.
        model_tokens_in_calls: sympy in n and T: the tokens the model writes.
    """

    n: int
    base: int = 10

    def __post_init__(self):
        _check(self.n, self.base, "MulWithAddSpec")

    name = property(lambda self: f"mul_with_add_n{self.n}"
                    + ("" if self.base == 10 else f"_base{self.base}"))
    calls = property(lambda self: sp.Sum(sp.Max(b_digits[_k], 1), (_k, 0, n_sym - 1)))
    tokens_in_calls = property(lambda self: calls_sym * (6 * n_sym + 6) + 2 * n_sym + 1)
    model_tokens_in_calls = property(lambda self: calls_sym * (4 * n_sym + 4) + 2 * n_sym + 1)
    prompt_length = property(lambda self: 2 * n_sym + 2)

    def build(self) -> rasp.SOp:
        return make_mul_with_add(self.n, self.base)

    def tools(self) -> dict:
        return {ADD: make_add_tool(self.base)}

    def _b(self, prompt: Sequence) -> list:
        return list(reversed(_parse(prompt, self.n, self.base)[1]))

    def calls_at(self, prompt: Sequence) -> int:
        """The formula `calls` at the digits of `prompt`."""
        b = self._b(prompt)
        return int(self.calls.subs(n_sym, self.n).doit().subs(
            {b_digits[k]: b[k] for k in range(self.n)}))

    def tokens_at(self, prompt: Sequence, *, model_only: bool = False) -> int:
        """The formula for the tokens after `prompt` (or only the model's)."""
        expr = self.model_tokens_in_calls if model_only else self.tokens_in_calls
        return int(expr.subs({n_sym: self.n, calls_sym: self.calls_at(prompt)}))

    @property
    def max_calls(self) -> int:
        return self.n * (self.base - 1)

    @property
    def max_seq_len(self) -> int:
        """The longest sequence: prompt and every token after it, with the most calls."""
        return int((self.prompt_length + self.tokens_in_calls).subs(
            {n_sym: self.n, calls_sym: self.max_calls}))

    @property
    def max_new_tokens(self) -> int:
        """The most tokens the model writes on a prompt."""
        return int(self.model_tokens_in_calls.subs({n_sym: self.n, calls_sym: self.max_calls}))

    def vocab(self) -> tuple:
        """The prompt tokens, the protocol's, the tool's name and the state tokens."""
        states = [(k, j) for k in range(self.n) for j in range(self.base)]
        return (*range(self.base), "*", "=", STOP, ADD, CALL, END, RESULT, END_RESULT, *states)

    def reference(self, prompt: Sequence) -> list:
        return mul_with_add_reference(prompt, n=self.n, base=self.base)

    def answer(self, prompt: Sequence) -> int:
        a, b = _parse(prompt, self.n, self.base)
        return _to_int(a, self.base) * _to_int(b, self.base)

    def read_answer(self, model_tokens: Sequence) -> int:
        """The number the generation states: the W digits before the stop token."""
        return _to_int(model_tokens[-1 - 2 * self.n:-1], self.base)

    def count(self) -> int:
        return self.base ** (2 * self.n)

    def prompts(self) -> Iterator[list]:
        digits = range(self.base)
        for a in itertools.product(digits, repeat=self.n):
            for b in itertools.product(digits, repeat=self.n):
                yield [*a, "*", *b, "="]

    def sample(self, k: int, *, seed: int = 0) -> list:
        rng = random.Random(seed)
        return [[*(rng.randrange(self.base) for _ in range(self.n)), "*",
                 *(rng.randrange(self.base) for _ in range(self.n)), "="] for _ in range(k)]


def mul_with_add_spec(n: int, base: int = 10) -> MulWithAddSpec:
    """The `MulWithAddSpec` of `make_mul_with_add(n, base)`."""
    return MulWithAddSpec(n, base)
