"""Autoregressive generation with tool calls, and machines over an external tape: the one
implementation of both protocols, shared by every decoder (the interpreter oracle
`theory_kit.rasp.InterpreterDecoder`, a compiled model with a key/value cache).

The driver never computes a token itself. It talks to a *decoder* (see `Decoder`):
`start(prompts)` returns the next token of each prompt, `extend(rows, appended)` appends tokens
to some of those sequences and returns each one's next token.

Generation (`generate_with`)
----------------------------
Per sequence: take the decoder's next token and append it; the sequence ends when the token is
a `stop` token (kept in the output), when the model has written `max_new_tokens` tokens, or when
the whole sequence (prompt included) has `max_len` tokens. Only the tokens the model writes
count toward `max_new_tokens`; the runtime's tool-result tokens do not (they count toward
`max_len`). An END that is the model's last allowed token still runs its call. Sequences of a
batch end independently; a finished one is no longer extended.

Tool calls (enabled by passing `tools`, a mapping name -> callable; with tools=None the four
protocol tokens are ordinary tokens). The model calls a tool by writing

    <call> NAME ARG_1 ... ARG_k </call>                  (CALL, a name, arguments, END)

When the driver reads END it parses back to the last CALL (not past an earlier END or
END_RESULT: that CALL was answered already, so the END has no CALL), calls
`tools[NAME](ARG_1, ..., ARG_k)` and appends

    <result> R_1 ... R_m </result>                       (RESULT, result tokens, END_RESULT)

then asks the decoder for the next token once (one `extend` with all appended tokens). A tool
returns one token, or a *list* of tokens (a tuple is one token: tuples are RASP values). The
call may start in the prompt. Example, tools={"add": lambda a, b: a + b}, prompt [3, "*", 2, "="]:

    model:    <call> add 0 3 </call>
    runtime:  <result> 3 </result>
    model:    <call> add 3 3 </call>
    runtime:  <result> 6 </result>
    model:    6 .                                        (stop=".")

Errors (`ToolCallError`, a `GenerationError`, carrying .row, .position, .value): END without
CALL, a call without a name, an unknown tool, a tool that raised (chained), a result token that
is unhashable, None, not finite, a protocol token, or outside `vocab`. A decoder token that is
not a valid token, or outside `vocab`, is a `GenerationError`. On any error nothing partial is
returned: the call raises and the caller's prompts are untouched.

External memory (`run_machine`, Schuurmans 2023, "Memory augmented large language models are
computationally universal"): the context does not grow. At every step the runtime builds a
fresh prompt from the machine's state and the symbol under the head, by default ONE token

    [(state, symbol)]

(`encode=` changes it), asks the decoder for one token, and parses it as a transition
`(write, move, next_state)` with move in {-1, 0, +1} or {"L", "N", "R"}. It writes the symbol,
moves the head (the tape grows with `blank` on demand, in both directions) and repeats until a
`halt` state or `steps` steps. `simulate_machine` runs a transition table directly: the
reference the protocol is tested against.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence as SequenceABC
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Iterable, Optional, Protocol, runtime_checkable

from theory_kit.errors import (GenerationError, InvalidInput, MachineError, Problem,
                               ToolCallError)
from theory_kit.values import check_vocab, typed_key

__all__ = ["CALL", "END", "RESULT", "END_RESULT", "PROTOCOL_TOKENS", "MOVES", "Decoder",
           "ToolCall", "Generation", "generate_with", "MachineStep", "MachineRun",
           "run_machine", "run_machines", "simulate_machine"]

#: The tool-call protocol's tokens (see the module docstring).
CALL = "<call>"
END = "</call>"
RESULT = "<result>"
END_RESULT = "</result>"
PROTOCOL_TOKENS = (CALL, END, RESULT, END_RESULT)
#: The moves a transition may name, and the head displacement of each.
MOVES = MappingProxyType({-1: -1, 0: 0, 1: 1, "L": -1, "N": 0, "R": 1})
_MOVE_KEYS = {typed_key(k): v for k, v in MOVES.items()}  # 1.0 and True are not moves
_REASONS = ("stop", "max_new_tokens", "max_len")
_CALL, _END, _END_RESULT = typed_key(CALL), typed_key(END), typed_key(END_RESULT)
_PROTOCOL_KEYS = frozenset(map(typed_key, PROTOCOL_TOKENS))


@runtime_checkable
class Decoder(Protocol):
    """What the driver needs from a model: next tokens of a batch of growing sequences.

    `start(prompts)` forgets earlier sequences and returns, for each prompt, its next token
    (the model's output at its last position). `extend(rows, appended)` appends
    `appended[j]` (a list of tokens) to sequence `rows[j]` (an index into the `start` list)
    and returns each extended sequence's next token, in the order of `rows`.
    """

    def start(self, prompts: list[list]) -> list: ...

    def extend(self, rows: list[int], appended: list[list]) -> list: ...


# -- values -----------------------------------------------------------------------------------
def _token_problem(tok: Any) -> Optional[str]:
    """Why `tok` cannot be a token (None if it can)."""
    try:
        hash(tok)
    except TypeError:
        return f"{tok!r:.60} is unhashable ({type(tok).__name__})"
    if tok is None:
        return "None is not a token (None means 'no value' in RASP)"
    if isinstance(tok, float) and not math.isfinite(tok):
        return f"{tok!r} is not finite"
    return None


def _as_key_set(value: Any, what: str, problems: list) -> frozenset:
    """`value` as typed keys: None -> empty; a set, frozenset or list -> its members; anything
    else (a tuple or str included) -> one token."""
    if value is None:
        return frozenset()
    items = list(value) if isinstance(value, (set, frozenset, list)) else [value]
    keys = set()
    for item in items:
        why = _token_problem(item)
        if why:
            problems.append(Problem(what, why, "pass a token or a set of tokens"))
        else:
            keys.add(typed_key(item))
    return frozenset(keys)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _raise_problems(where: str, problems: list) -> None:
    if problems:
        raise InvalidInput(f"{where}: " + "; ".join(str(p) for p in problems))


def _check_answers(answers: Any, n: int, where: str) -> list:
    if isinstance(answers, (str, bytes)) or not hasattr(answers, "__len__") \
            or not hasattr(answers, "__iter__") or len(answers) != n:
        raise GenerationError(
            f"{where}: the decoder must return a list of {n} next token(s), got "
            f"{type(answers).__name__} {answers!r:.80}", value=answers)
    return list(answers)


# -- generation -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ToolCall:
    """One tool call: `tools[name](*args)` returned `result`.

    `start` and `position` are the indices of its CALL and END tokens in the whole sequence
    (prompt + tokens); the result block follows END: RESULT at position + 1.
    """

    name: Any
    args: tuple
    result: tuple
    start: int
    position: int

    def __post_init__(self):
        if not (isinstance(self.args, tuple) and isinstance(self.result, tuple)):
            raise InvalidInput(f"ToolCall: args and result must be tuples, got {self.args!r:.60} "
                               f"and {self.result!r:.60}")
        if not (_is_count(self.start) and _is_count(self.position) and self.start < self.position):
            raise InvalidInput(f"ToolCall: need 0 <= start < position, got start={self.start!r} "
                               f"position={self.position!r}")


@dataclass(frozen=True)
class Generation:
    """One generated sequence.

    Attributes:
        prompt: the prompt, as a tuple.
        tokens: everything appended after it, in order: model tokens and tool-result blocks.
        generated: one bool per token of `tokens`: True where the model wrote it.
        stopped: the model wrote a stop token (the last token).
        calls: the tool calls, in order.
        reason: why generation ended: "stop", "max_new_tokens" or "max_len".
    """

    prompt: tuple
    tokens: tuple
    generated: tuple
    stopped: bool
    calls: tuple = ()
    reason: str = "max_new_tokens"

    def __post_init__(self):
        problems = []
        for name in ("prompt", "tokens", "generated", "calls"):
            if not isinstance(getattr(self, name), tuple):
                problems.append(f"{name} must be a tuple, got "
                                f"{type(getattr(self, name)).__name__}")
        if not problems:
            if len(self.generated) != len(self.tokens):
                problems.append(f"generated has {len(self.generated)} flags for "
                                f"{len(self.tokens)} tokens")
            elif not all(isinstance(g, bool) for g in self.generated):
                problems.append(f"generated must hold bools, got {self.generated!r:.60}")
            if not all(isinstance(c, ToolCall) for c in self.calls):
                problems.append("calls must hold ToolCall records")
        if self.reason not in _REASONS:
            problems.append(f"reason must be one of {_REASONS}, got {self.reason!r}")
        elif self.stopped is not (self.reason == "stop"):
            problems.append(f"stopped={self.stopped!r} contradicts reason={self.reason!r}")
        if problems:
            raise InvalidInput("Generation: " + "; ".join(problems))

    @property
    def sequence(self) -> tuple:
        """The whole sequence: prompt + tokens."""
        return self.prompt + self.tokens

    @property
    def model_tokens(self) -> tuple:
        """The tokens the model wrote (tool results left out)."""
        return tuple(t for t, g in zip(self.tokens, self.generated) if g)


@dataclass(frozen=True)
class _Settings:
    max_new_tokens: int
    stop: frozenset
    tools: Optional[dict]  # typed_key(name) -> (name, callable)
    vocab: Optional[frozenset]  # typed keys
    max_len: Optional[int]


class _Row:
    """One sequence being generated (mutable; becomes a frozen Generation at the end)."""

    def __init__(self, index: int, prompt: list):
        self.index = index
        self.prompt = tuple(prompt)
        self.tokens: list = []
        self.generated: list[bool] = []
        self.calls: list[ToolCall] = []
        self.written = 0
        self.reason: Optional[str] = None

    def length(self) -> int:
        return len(self.prompt) + len(self.tokens)

    def take(self, tok: Any, cfg: _Settings) -> list:
        """Append the model's token `tok` (and a tool result); return what was appended."""
        pos = self.length()
        why = _token_problem(tok)
        if why:
            raise GenerationError(f"generation: sequence {self.index}: the decoder's next token "
                                  f"at position {pos} is invalid: {why}", row=self.index,
                                  position=pos, value=tok)
        key = typed_key(tok)
        if cfg.vocab is not None and key not in cfg.vocab:
            raise GenerationError(f"generation: sequence {self.index}: the decoder's next token "
                                  f"{tok!r:.60} at position {pos} is not in the vocabulary",
                                  row=self.index, position=pos, value=tok)
        self.tokens.append(tok)
        self.generated.append(True)
        self.written += 1
        appended = [tok]
        if key in cfg.stop:
            self.reason = "stop"
            return appended
        if cfg.tools is not None and key == _END:
            appended += self._call(pos, cfg)
        if self.written >= cfg.max_new_tokens:
            self.reason = "max_new_tokens"
        elif cfg.max_len is not None and self.length() >= cfg.max_len:
            self.reason = "max_len"
        return appended

    def _call(self, end: int, cfg: _Settings) -> list:
        """Run the call closed by the END at `end`; append and return its result block."""
        seq = self.prompt + tuple(self.tokens)
        where = f"generation: sequence {self.index}, END at position {end}"
        start = None
        for i in range(end - 1, -1, -1):
            key = typed_key(seq[i])
            if key == _CALL:
                start = i
                break
            if key in (_END, _END_RESULT):
                break
        if start is None:
            raise ToolCallError(f"{where}: END {END!r} without a CALL {CALL!r} before it (since "
                                "the last answered call)", row=self.index, position=end,
                                value=END)
        body = seq[start + 1:end]
        if not body:
            raise ToolCallError(f"{where}: malformed call {list(seq[start:end + 1])!r:.80}: no "
                                f"tool name between CALL at position {start} and END",
                                row=self.index, position=end, value=list(seq[start:end + 1]))
        name, args = body[0], tuple(body[1:])
        entry = cfg.tools.get(typed_key(name))
        if entry is None:
            known = sorted(repr(n) for n, _ in cfg.tools.values())
            raise ToolCallError(f"{where}: unknown tool {name!r:.60} (known: "
                                f"{', '.join(known) or 'none'})", row=self.index,
                                position=start + 1, value=name)
        try:
            out = entry[1](*args)
        except Exception as exc:
            raise ToolCallError(f"{where}: tool {name!r} raised {type(exc).__name__}({exc}) on "
                                f"arguments {args!r:.80}", row=self.index, position=end,
                                value=args) from exc
        result = tuple(out) if isinstance(out, list) else (out,)
        for j, tok in enumerate(result):
            pos = end + 2 + j
            why = _token_problem(tok)
            if why is None and typed_key(tok) in _PROTOCOL_KEYS:
                why = f"{tok!r} is a tool-call protocol token"
            if why is None and cfg.vocab is not None and typed_key(tok) not in cfg.vocab:
                why = f"{tok!r:.60} is not in the vocabulary"
            if why:
                raise ToolCallError(f"{where}: tool {name!r} on {args!r:.60} returned "
                                    f"{out!r:.80}, whose token at position {pos} is invalid: "
                                    f"{why}", row=self.index, position=pos, value=tok)
        block = [RESULT, *result, END_RESULT]
        if cfg.max_len is not None and self.length() + len(block) > cfg.max_len:
            raise ToolCallError(f"{where}: the result block {block!r:.80} does not fit in "
                                f"max_len={cfg.max_len} (the sequence has {self.length()} "
                                "tokens)", row=self.index, position=end + 1, value=block)
        self.calls.append(ToolCall(name, args, result, start, end))
        self.tokens += block
        self.generated += [False] * len(block)
        return block

    def record(self) -> Generation:
        return Generation(self.prompt, tuple(self.tokens), tuple(self.generated),
                          self.reason == "stop", tuple(self.calls), self.reason)


def _checked_settings(prompts, max_new_tokens, stop, tools, vocab, max_len,
                      where: str) -> tuple[list, _Settings]:
    problems: list[Problem] = []
    checked = []
    if isinstance(prompts, (str, bytes)) or not isinstance(prompts, (list, tuple)):
        problems.append(Problem("prompts", f"must be a list of token sequences, got "
                                f"{type(prompts).__name__} {prompts!r:.60}"))
        prompts = []
    for i, p in enumerate(prompts):
        if isinstance(p, (bytes, bytearray)) or not isinstance(p, (SequenceABC, range)):
            problems.append(Problem(f"prompts[{i}]", f"must be a sequence of tokens, got "
                                    f"{type(p).__name__} {p!r:.60}"))
            continue
        p = list(p)
        if not p:
            problems.append(Problem(f"prompts[{i}]", "is empty; the next token is the output "
                                    "at the last position, so a prompt needs one token"))
        for pos, tok in enumerate(p):
            why = _token_problem(tok)
            if why:
                problems.append(Problem(f"prompts[{i}][{pos}]", why))
        checked.append(p)
    if not _is_count(max_new_tokens):
        problems.append(Problem("max_new_tokens", f"must be an int >= 0, got {max_new_tokens!r}"))
    if max_len is not None and not (_is_count(max_len) and max_len >= 1):
        problems.append(Problem("max_len", f"must be None or an int >= 1, got {max_len!r}"))
    elif max_len is not None:
        for i, p in enumerate(checked):
            if len(p) > max_len:
                problems.append(Problem(f"prompts[{i}]", f"has {len(p)} tokens, more than "
                                        f"max_len={max_len}"))
    stop_keys = _as_key_set(stop, "stop", problems)
    table = None
    if tools is not None:
        if not isinstance(tools, Mapping):
            problems.append(Problem("tools", f"must be a mapping name -> callable, got "
                                    f"{type(tools).__name__} {tools!r:.60}",
                                    'e.g. tools={"add": operator.add}'))
        else:
            table = {}
            for name, fn in tools.items():
                why = _token_problem(name)
                if why:
                    problems.append(Problem("tools", f"name {why}"))
                elif not callable(fn):
                    problems.append(Problem(f"tools[{name!r}]", f"is not callable: {fn!r:.60}"))
                else:
                    table[typed_key(name)] = (name, fn)
    vocab_keys = None
    if vocab is not None:
        vocab_problems = check_vocab(vocab, bos=None)
        problems += vocab_problems
        if not vocab_problems:
            vocab_keys = frozenset(map(typed_key, vocab))
            for i, p in enumerate(checked):
                outside = [t for t in p if _token_problem(t) is None
                           and typed_key(t) not in vocab_keys]
                if outside:
                    problems.append(Problem(f"prompts[{i}]", f"tokens {outside!r:.80} are not "
                                            "in the vocabulary"))
            if tools is not None:
                missing = [t for t in (RESULT, END_RESULT) if typed_key(t) not in vocab_keys]
                if missing:
                    problems.append(Problem("vocab", f"lacks the result tokens {missing!r} the "
                                            "runtime appends after a tool call",
                                            "add theory_kit.generation.PROTOCOL_TOKENS"))
    _raise_problems(where, problems)
    return checked, _Settings(max_new_tokens, stop_keys, table, vocab_keys, max_len)


def generate_with(decoder: Decoder, prompts: Iterable[Iterable], *, max_new_tokens: int,
                  stop: Any = None, tools: Optional[Mapping[Any, Callable]] = None,
                  vocab: Optional[Iterable] = None, max_len: Optional[int] = None
                  ) -> list[Generation]:
    """Generate from a batch of prompts with `decoder` (see the module docstring).

    Args:
        decoder: a `Decoder` (start / extend).
        prompts: a list of non-empty token sequences (lengths may differ).
        max_new_tokens: the most tokens the model writes per sequence (tool results excluded).
        stop: a stop token, or a set, frozenset or list of them (a tuple is one token); the
            stop token is kept. Tokens are compared with their types (1, 1.0, True differ).
        tools: name -> callable; enables the tool-call protocol. None disables it.
        vocab: if given, every prompt token, model token and result token must be in it (and,
            with tools, RESULT and END_RESULT).
        max_len: if given, the most tokens a whole sequence (prompt included) may have;
            generation of a sequence ends when it reaches max_len.

    Returns:
        One `Generation` per prompt, in order.

    Raises:
        InvalidInput: bad arguments (every problem listed at once), before any decoding.
        GenerationError: the decoder broke the contract or left the vocabulary.
        ToolCallError: a malformed or failing tool call (with .row, .position, .value).
        Whatever the decoder raises (e.g. EvaluationError) propagates unchanged.
    """
    where = "generate_with"
    if not isinstance(decoder, Decoder):
        raise InvalidInput(f"{where}: decoder must have start(prompts) and extend(rows, "
                           f"appended) methods, got {type(decoder).__name__} {decoder!r:.60}")
    checked, cfg = _checked_settings(prompts, max_new_tokens, stop, tools, vocab, max_len, where)
    rows = [_Row(i, p) for i, p in enumerate(checked)]
    for row in rows:
        if cfg.max_new_tokens == 0:
            row.reason = "max_new_tokens"
        elif cfg.max_len is not None and row.length() >= cfg.max_len:
            row.reason = "max_len"
    active = [row for row in rows if row.reason is None]
    ids = {row.index: j for j, row in enumerate(active)}  # the decoder's names of the rows
    if active:
        nexts = _check_answers(decoder.start([list(r.prompt) for r in active]), len(active),
                               f"{where}: decoder.start")
    while active:
        still, appended = [], []
        for row, tok in zip(active, nexts):
            added = row.take(tok, cfg)
            if row.reason is None:
                still.append(row)
                appended.append(added)
        active = still
        if active:
            nexts = _check_answers(decoder.extend([ids[r.index] for r in active], appended),
                                   len(active), f"{where}: decoder.extend")
    return [row.record() for row in rows]


# -- external memory ----------------------------------------------------------------------------
@dataclass(frozen=True)
class MachineStep:
    """One step of a machine: in `state` at head `position`, it read `read`, wrote `write`,
    moved by `move` (-1, 0 or +1) and went to `next_state`. Positions count from the first
    cell of the initial tape (0), negative to its left."""

    step: int
    state: Any
    position: int
    read: Any
    write: Any
    move: int
    next_state: Any


@dataclass(frozen=True)
class MachineRun:
    """A machine's final configuration.

    Attributes:
        tape: every cell from the leftmost to the rightmost one that existed (the initial
            tape, grown by `blank` wherever the head went), as a tuple.
        origin: the index in `tape` of the initial tape's first cell.
        head: the index in `tape` of the cell under the head.
        state: the final state.
        steps: the number of steps run.
        halted: the final state is a halt state.
        trace: with trace=True, one `MachineStep` per step; else None.
    """

    tape: tuple
    origin: int
    head: int
    state: Any
    steps: int
    halted: bool
    trace: Optional[tuple] = None

    def __post_init__(self):
        problems = []
        if not isinstance(self.tape, tuple) or not self.tape:
            problems.append(f"tape must be a non-empty tuple, got {self.tape!r:.60}")
        else:
            for name in ("origin", "head"):
                value = getattr(self, name)
                if not (_is_count(value) and value < len(self.tape)):
                    problems.append(f"{name}={value!r} is not an index of the tape "
                                    f"(length {len(self.tape)})")
        if not _is_count(self.steps):
            problems.append(f"steps must be an int >= 0, got {self.steps!r}")
        elif self.trace is not None and (not isinstance(self.trace, tuple)
                                         or len(self.trace) != self.steps):
            problems.append(f"trace must be a tuple of {self.steps} steps, got "
                            f"{self.trace!r:.60}")
        if problems:
            raise InvalidInput("MachineRun: " + "; ".join(problems))

    @property
    def position(self) -> int:
        """The head's position counted from the initial tape's first cell."""
        return self.head - self.origin


class _Tape:
    """A tape growing on demand in both directions (cells keyed by position)."""

    def __init__(self, symbols: list, head: int, blank: Any):
        symbols = symbols or [blank]  # cell 0 always exists
        self.cells = dict(enumerate(symbols))
        self.blank = blank
        self.head = head
        self.lo = min(0, head)
        self.hi = max(len(symbols) - 1, head)

    def read(self) -> Any:
        return self.cells.get(self.head, self.blank)

    def write_and_move(self, symbol: Any, move: int) -> None:
        self.cells[self.head] = symbol
        self.head += move
        self.lo = min(self.lo, self.head)
        self.hi = max(self.hi, self.head)

    def run(self, state, steps, halted, trace) -> MachineRun:
        tape = tuple(self.cells.get(p, self.blank) for p in range(self.lo, self.hi + 1))
        return MachineRun(tape, -self.lo, self.head - self.lo, state, steps, halted,
                          None if trace is None else tuple(trace))


def _parse_transition(token: Any, alphabet: Optional[frozenset], where: str, **at) -> tuple:
    """`token` as (write, displacement, next_state), or MachineError."""
    if not (isinstance(token, tuple) and len(token) == 3):
        raise MachineError(f"{where}: output {token!r:.80} is not a transition (write, move, "
                           "next_state)", value=token, **at)
    write, move, next_state = token
    why = _token_problem(write)
    if why is None and alphabet is not None and typed_key(write) not in alphabet:
        why = "it is not in the alphabet"
    if why:
        raise MachineError(f"{where}: transition {token!r:.80} writes symbol {write!r:.60}: "
                           f"{why}", value=write, **at)
    try:
        shift = _MOVE_KEYS.get(typed_key(move))
    except TypeError:
        shift = None
    if shift is None:
        raise MachineError(f"{where}: transition {token!r:.80} has move {move!r:.60}, not one "
                           f"of {list(MOVES)}", value=move, **at)
    why = _token_problem(next_state)
    if why:
        raise MachineError(f"{where}: transition {token!r:.80} has next state {why}",
                           value=next_state, **at)
    return write, shift, next_state


def _checked_machine_args(tapes, state, steps, alphabet, halt, blank, head, where):
    problems: list[Problem] = []
    alpha = None
    if alphabet is not None:
        alpha_problems = check_vocab(alphabet, bos=None)
        problems += [Problem("alphabet", p.reason) for p in alpha_problems]
        if not alpha_problems:
            alpha = frozenset(map(typed_key, alphabet))
    why = _token_problem(blank)
    if why:
        problems.append(Problem("blank", why))
    elif alpha is not None and typed_key(blank) not in alpha:
        problems.append(Problem("blank", f"{blank!r} is not in the alphabet"))
    why = _token_problem(state)
    if why:
        problems.append(Problem("state", why))
    if not _is_count(steps):
        problems.append(Problem("steps", f"must be an int >= 0, got {steps!r}"))
    if not isinstance(head, int) or isinstance(head, bool):
        problems.append(Problem("head", f"must be an int, got {head!r}"))
    halt_keys = _as_key_set(halt, "halt", problems)
    checked = []
    for i, tape in enumerate(tapes):
        label = f"tapes[{i}]" if len(tapes) > 1 else "tape"
        if isinstance(tape, (bytes, bytearray)) or not isinstance(tape, (SequenceABC, range)):
            problems.append(Problem(label, f"must be a sequence of symbols, got "
                                    f"{type(tape).__name__} {tape!r:.60}"))
            continue
        tape = list(tape)
        for pos, sym in enumerate(tape):
            why = _token_problem(sym)
            if why is None and alpha is not None and typed_key(sym) not in alpha:
                why = f"symbol {sym!r:.60} is not in the alphabet"
            if why:
                problems.append(Problem(f"{label}[{pos}]", why))
        checked.append(tape)
    _raise_problems(where, problems)
    return checked, alpha, halt_keys


def run_machines(decoder_or_step: Any, tapes: Iterable[Iterable], *, state: Any, steps: int,
                 alphabet: Iterable, halt: Any = None, blank: Any = 0, head: int = 0,
                 trace: bool = False, encode: Optional[Callable[[Any, Any], list]] = None
                 ) -> list[MachineRun]:
    """Run several machines at once, one decoder call per step for all of them (see
    `run_machine`; every machine starts in `state` with its head at `head`)."""
    where = "run_machine"
    if callable(getattr(decoder_or_step, "start", None)):
        def ask(prompts):
            return decoder_or_step.start(prompts)
    elif callable(decoder_or_step):
        def ask(prompts):
            return [decoder_or_step(p) for p in prompts]
    else:
        raise InvalidInput(f"{where}: expected a Decoder or a callable prompt -> token, got "
                           f"{type(decoder_or_step).__name__} {decoder_or_step!r:.60}")
    if isinstance(tapes, (str, bytes)) or not isinstance(tapes, (list, tuple)):
        raise InvalidInput(f"{where}: tapes must be a list of tapes, got "
                           f"{type(tapes).__name__} {tapes!r:.60}")
    if not isinstance(trace, bool):
        raise InvalidInput(f"{where}: trace must be True or False, got {trace!r}")
    if encode is not None and not callable(encode):
        raise InvalidInput(f"{where}: encode must be a callable (state, symbol) -> prompt, got "
                           f"{encode!r:.60}")
    checked, alpha, halt_keys = _checked_machine_args(tapes, state, steps, alphabet, halt,
                                                      blank, head, where)
    encode = encode or (lambda s, symbol: [(s, symbol)])
    machines = [_Tape(t, head, blank) for t in checked]
    states = [state] * len(machines)
    counts = [0] * len(machines)
    traces = [[] if trace else None for _ in machines]
    active = [m for m in range(len(machines)) if typed_key(state) not in halt_keys] \
        if steps > 0 else []
    while active:
        reads = [machines[m].read() for m in active]
        answers = _check_answers(ask([list(encode(states[m], r)) for m, r in zip(active, reads)]),
                                 len(active), f"{where}: the decoder")
        still = []
        for m, read, token in zip(active, reads, answers):
            tape = machines[m]
            at = {"row": m, "position": tape.head, "step": counts[m]}
            label = f"{where}: " + (f"machine {m}, " if len(machines) > 1 else "") + \
                f"step {counts[m]} (state {states[m]!r:.40}, head {tape.head}, read {read!r:.40})"
            write, shift, nxt = _parse_transition(token, alpha, label, **at)
            if trace:
                traces[m].append(MachineStep(counts[m], states[m], tape.head, read, write,
                                             shift, nxt))
            tape.write_and_move(write, shift)
            states[m] = nxt
            counts[m] += 1
            if counts[m] < steps and typed_key(nxt) not in halt_keys:
                still.append(m)
        active = still
    return [tape.run(s, c, typed_key(s) in halt_keys, t)
            for tape, s, c, t in zip(machines, states, counts, traces)]


def run_machine(decoder_or_step: Any, tape: Iterable, *, state: Any, steps: int,
                alphabet: Iterable, halt: Any = None, blank: Any = 0, head: int = 0,
                trace: bool = False, encode: Optional[Callable[[Any, Any], list]] = None
                ) -> MachineRun:
    """Run a machine whose transition function is a decoder, over an external tape.

    Each step the runtime prompts the decoder with `encode(state, symbol)` (default: the one
    token `[(state, symbol)]`, the symbol under the head), takes ONE output token, and parses
    it as `(write, move, next_state)`, move in {-1, 0, 1, "L", "N", "R"}. It writes, moves
    (the tape grows with `blank` on demand, both ways), and stops in a `halt` state or after
    `steps` steps. A machine that starts in a halt state runs no step.

    Args:
        decoder_or_step: a `Decoder` (its `start` is called on the batch of prompts each step;
            the context never grows) or a callable prompt -> token.
        tape: the initial symbols; the head starts on cell `head` (default 0, the first).
        state: the initial state. steps: the most steps to run.
        alphabet: the tape symbols; every initial, blank and written symbol must be in it.
        halt: a halt state, or a set, frozenset or list of them (a tuple is one state).
        blank: the symbol of new cells (default 0).
        trace: record one `MachineStep` per step.
        encode: (state, symbol) -> prompt (a list of tokens).

    Returns:
        A `MachineRun`.

    Raises:
        InvalidInput: bad arguments, all listed at once (e.g. a tape symbol outside the
            alphabet), before any step.
        MachineError: an output that is not a transition, a move outside MOVES, or a written
            symbol outside the alphabet (with .row, .step, .position, .value).
    """
    return run_machines(decoder_or_step, [tape], state=state, steps=steps, alphabet=alphabet,
                        halt=halt, blank=blank, head=head, trace=trace, encode=encode)[0]


def simulate_machine(table: Mapping, tape: Iterable, *, state: Any, steps: int,
                     blank: Any = 0, halt: Any = None, head: int = 0,
                     trace: bool = False) -> MachineRun:
    """Run a Turing machine from its table directly: the reference for `run_machine`.

    Args:
        table: (state, symbol) -> (write, move, next_state), move in MOVES.
        The others as in `run_machine` (no alphabet: the table defines it).

    Returns:
        A `MachineRun`, equal to `run_machine`'s for a decoder that computes `table`.

    Raises:
        InvalidInput: bad arguments. MachineError: no transition for (state, symbol), or a
            transition that does not parse.
    """
    where = "simulate_machine"
    if not isinstance(table, Mapping):
        raise InvalidInput(f"{where}: table must be a mapping (state, symbol) -> (write, move, "
                           f"next_state), got {type(table).__name__} {table!r:.60}")
    (cells,), _, halt_keys = _checked_machine_args([tape], state, steps, None, halt, blank,
                                                   head, where)
    # An independent implementation on purpose: a list that grows at either end.
    cells = cells or [blank]
    origin = 0
    while head < 0:
        cells.insert(0, blank)
        origin += 1
        head += 1
    while head >= len(cells):
        cells.append(blank)
    records = [] if trace else None
    count = 0
    while count < steps and typed_key(state) not in halt_keys:
        read = cells[head]
        label = (f"{where}: step {count} (state {state!r:.40}, head {head - origin}, "
                 f"read {read!r:.40})")
        at = {"row": 0, "position": head - origin, "step": count}
        if (state, read) not in table:
            raise MachineError(f"{label}: no transition for {(state, read)!r:.80}",
                               value=(state, read), **at)
        write, shift, nxt = _parse_transition(table[(state, read)], None, label, **at)
        if trace:
            records.append(MachineStep(count, state, head - origin, read, write, shift, nxt))
        cells[head] = write
        head += shift
        if head < 0:
            cells.insert(0, blank)
            origin += 1
            head = 0
        elif head == len(cells):
            cells.append(blank)
        state = nxt
        count += 1
    return MachineRun(tuple(cells), origin, head, state, count, typed_key(state) in halt_keys,
                      None if records is None else tuple(records))
