"""The one oracle: enumerate or sample verification inputs, compare a compiled model with the
reference interpreter on them (in bounded chunks), and locate the first divergence.

Every comparison in theory_kit goes through `values_match`; every verification input comes
from `enumerate_inputs` (shortest first, then lexicographic in `value_sort_key` order) or
`sample_inputs` (seeded, drawn by index without materialising the space, smallest first);
`check_outputs` streams them through interpreter and model in chunks of `CHUNK` inputs, so
memory stays bounded on any input space. `compile(verify=...)` and
`theory_kit.testing.assert_compiles_correctly` both use these functions.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional

import numpy as np

from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import EMBEDDING, Sublayer
from theory_kit.values import is_plain_number, same_value, typed_key, value_sort_key
from theory_kit.errors import (CompilationMismatch, EvaluationError, InvalidInput,
                               UnsupportedProgram)
from theory_kit.progress import chunks
from theory_kit.rasp import nodes as rn
from theory_kit.rasp.interpreter import evaluate, evaluate_all, evaluate_batch
from theory_kit.rasp.vectorised import evaluate_vectorised
from theory_kit.rasp.validate import Problem

__all__ = ["input_space_size", "enumerate_inputs", "sample_inputs", "iter_sample_inputs",
           "decode_index", "outputs_match", "values_match", "verification_inputs",
           "verification_plan", "check_outputs", "Checked", "verify_model", "NUMERIC_ATOL",
           "CHUNK", "Divergence", "LEVELS", "node_divergence", "sublayer_name"]

#: Absolute tolerance (relative above 1) for numerical outputs, per dtype.
NUMERIC_ATOL = {np.dtype(np.float64): 1e-6, np.dtype(np.float32): 1e-3}

#: Inputs run through the interpreter and the model at a time: verification holds one chunk
#: of inputs, expected and decoded outputs in memory, whatever the size of the input space.
CHUNK = 4096


def input_space_size(vocab_size: int, max_seq_len: int, min_len: int = 1) -> int:
    """sum_{L=min_len..max_seq_len} vocab_size^L: the inputs `enumerate_inputs` yields (in
    closed form: one power, fast at any max_seq_len)."""
    if max_seq_len < min_len:
        return 0
    if vocab_size == 1:
        return max_seq_len - min_len + 1
    return (vocab_size ** (max_seq_len + 1) - vocab_size ** min_len) // (vocab_size - 1)


def enumerate_inputs(vocab, max_seq_len: int, min_len: int = 1) -> Iterator[list]:
    """Every sequence of length min_len..max_seq_len, shortest first, then lexicographic in
    the tokens' `value_sort_key` order (so the first failure found is the smallest). A
    generator: nothing but the current input is held."""
    toks = sorted(vocab, key=value_sort_key)
    for n in range(min_len, max_seq_len + 1):
        for seq in itertools.product(toks, repeat=n):
            yield list(seq)


def decode_index(index: int, tokens: list, length: int) -> list:
    """The `index`-th sequence of `length` in `enumerate_inputs` order over the sorted
    `tokens` (index in base len(tokens), most significant digit first)."""
    v = len(tokens)
    out = [tokens[0]] * length
    for p in range(length - 1, -1, -1):
        index, digit = divmod(index, v)
        out[p] = tokens[digit]
    return out


def _sample_indices(rng: np.random.Generator, v: int, length: int, k: int,
                    forced: list[int]) -> list[int]:
    """k distinct indices in [0, v^length), `forced` first, the rest uniform (drawn digit by
    digit, so spaces beyond int64 work), sorted. Holds only the k chosen indices."""
    size = v ** length
    chosen = set(forced[:k])
    small = size < 2 ** 62
    powers = np.array([v ** (length - 1 - p) for p in range(length)], dtype=np.int64) \
        if small else None
    while len(chosen) < k:
        need = k - len(chosen)
        digits = rng.integers(0, v, size=(need + need // 8 + 8, length))
        if small:
            draws = (digits @ powers).tolist()
        else:
            draws = [functools.reduce(lambda a, d: a * v + d, row, 0)
                     for row in digits.tolist()]
        for i in draws:
            chosen.add(i)
            if len(chosen) == k:
                break
    return sorted(chosen)


def sample_plan(vocab_size: int, max_seq_len: int, count: int) -> list[int]:
    """How many inputs `iter_sample_inputs` takes of each length 1..max_seq_len: all of a
    length when they fit in its share of what is left (the short lengths are checked
    exhaustively), else its share; min(count, input_space_size) in total."""
    budget, out = count, []
    size = 1  # vocab_size ** length, capped above count (no huge powers at long lengths)
    for length in range(1, max_seq_len + 1):
        size = min(size * vocab_size, count + 1)
        share = -(-budget // (max_seq_len - length + 1))  # ceil: the remainder goes early
        take = min(size, share)
        out.append(take)
        budget -= take
    return out


def iter_sample_inputs(vocab, max_seq_len: int, count: int, seed: int) -> Iterator[list]:
    """A seeded sample of min(count, input space) distinct inputs, smallest first.

    Lengths whose inputs all fit in their share are taken whole; longer lengths get `count`
    shared out evenly and draw that many distinct inputs by index (uniform, without building
    the space); the full-length input repeating each token is always included (edge cases).
    Deterministic for a fixed (vocab, max_seq_len, count, seed). A generator: one length's
    chosen indices are held at a time.
    """
    toks = sorted(vocab, key=value_sort_key)
    v = len(toks)
    rng = np.random.default_rng(seed)
    for length, take in zip(range(1, max_seq_len + 1), sample_plan(v, max_seq_len, count)):
        size = v ** length
        if take == size:
            yield from (list(seq) for seq in itertools.product(toks, repeat=length))
            continue
        # the repeated-token inputs [t] * max_seq_len: index t * (1 + v + ... + v^(L-1))
        forced = ([t * ((size - 1) // (v - 1) if v > 1 else 1) for t in range(v)]
                  if length == max_seq_len else [])
        for index in _sample_indices(rng, v, length, take, forced):
            yield decode_index(index, toks, length)


def sample_inputs(vocab, max_seq_len: int, count: int, seed: int) -> list[list]:
    """`iter_sample_inputs` as a list (a sample is `count` inputs, not the space)."""
    return list(iter_sample_inputs(vocab, max_seq_len, count, seed))


def verification_plan(config: CompileConfig, mode: Optional[str] = None) -> tuple[int, bool]:
    """(number of inputs, exhaustive?) that `verification_inputs` will yield."""
    mode = mode or config.verify
    size = input_space_size(len(config.vocab), config.max_seq_len)
    if mode == "exhaustive" or (mode == "auto" and size <= config.exhaustive_limit):
        return size, True
    return min(config.sample_size, size), False


def verification_inputs(config: CompileConfig, mode: Optional[str] = None) -> Iterator[list]:
    """The inputs of `verification_plan`, streamed (every input, or the seeded sample)."""
    if verification_plan(config, mode)[1]:
        return enumerate_inputs(config.vocab, config.max_seq_len)
    return iter_sample_inputs(config.vocab, config.max_seq_len, config.sample_size, config.seed)


def values_match(e: Any, g: Any, *, numerical: Optional[bool] = None, atol: float = 1e-6) -> bool:
    """One decoded value against the interpreter's: the one comparison rule of theory_kit.

    Categorical values compare exactly, type included (10_000_001 is not 10_000_000, True is
    not 1, None only matches None). Numerical values match within `atol`, absolute below 1
    and relative above. `numerical=None` decides per value: numbers of which at least one is
    a float (and neither a bool) compare numerically, everything else exactly.
    """
    if e is None or g is None:
        return e is None and g is None
    if numerical is None:
        numerical = (is_plain_number(e) and is_plain_number(g)
                     and (isinstance(e, float) or isinstance(g, float)))
    if numerical:
        try:
            fe, fg = float(e), float(g)
        except (TypeError, ValueError):
            return False
        return math.isfinite(fg) and math.isclose(fe, fg, rel_tol=atol, abs_tol=atol)
    return same_value(e, g)


def outputs_match(expected: list, got: list, atol: float = 1e-6, *,
                  numerical: Optional[bool] = None) -> bool:
    """Decoded outputs agree position by position under `values_match`."""
    if got is None or len(expected) != len(got):
        return False
    if numerical is False:  # values_match is same_value, i.e. equal typed keys: compare at once
        return list(map(typed_key, expected)) == list(map(typed_key, got))
    return all(values_match(e, g, numerical=numerical, atol=atol)
               for e, g in zip(expected, got))


# -- streaming comparison: interpreter vs model, one chunk at a time -----------------------
@dataclass(frozen=True)
class Checked:
    """What `check_outputs` found: how many inputs it checked, how many failed, and the first
    `keep` failures (input, expected, got) in input order (the smallest, for the orders of
    `enumerate_inputs` and `sample_inputs`)."""

    n_checked: int
    n_failures: int
    failures: tuple


def _failing_input(program, chunk: list, causal: bool):
    for xs in chunk:
        try:
            evaluate_batch(program, [xs], causal=causal)
        except EvaluationError as exc:
            return xs, exc
    return None, None


def check_outputs(model: Any, program: rn.SOp, inputs: Iterable[list], *, causal: bool,
                  numerical: Optional[bool], atol: float, total: Optional[int] = None,
                  expected: Optional[Iterable[list]] = None, keep: int = 4,
                  chunk: int = CHUNK, desc: str = "verify") -> Checked:
    """Compare `model.run_batch` with the interpreter on `inputs`, `chunk` inputs at a time.

    `inputs` may be a generator of any length: only one chunk of inputs and outputs is held.
    `expected` (parallel to `inputs`) reuses an interpreter run. A progress bar (theory_kit.
    progress, `total` for the ETA) is drawn on stderr when enabled.

    Raises:
        EvaluationError: the interpreter fails on an input (`.input` holds it; the message
            names it); nothing is compared past it.
        KeyboardInterrupt: propagates; the bar is closed and nothing is kept.
    """
    items = iter(inputs) if expected is None else zip(inputs, expected)
    n_checked = n_failures = 0
    failures: list = []
    for block in chunks(items, chunk, total=total, desc=desc, unit="input"):
        if expected is None:
            xs_block = block
            try:  # the vectorised oracle: evaluate_batch's results and errors, faster
                want = evaluate_vectorised(program, xs_block, causal=causal)
            except EvaluationError as exc:
                bad, first = _failing_input(program, xs_block, causal)
                err = EvaluationError(f"the interpreter fails on the input {bad!r}: "
                                      f"{first or exc}")
                err.input = bad
                raise err from exc
        else:
            xs_block = [xs for xs, _ in block]
            want = [e for _, e in block]
        got = model.run_batch(xs_block)
        for xs, e, g in zip(xs_block, want, got):
            if not outputs_match(e, g, atol, numerical=numerical):
                n_failures += 1
                if len(failures) < keep:
                    failures.append((xs, e, g))
        n_checked += len(xs_block)
    return Checked(n_checked, n_failures, tuple(failures))


def diagnose(model, program, xs: list) -> str:
    """Where the failing input first goes wrong: the weights against the block-level reference
    (raw residual directions), else the first node where a level leaves the interpreter."""
    from theory_kit.compiler.reference import first_divergence

    layered, config = getattr(model, "layered", None), getattr(model, "config", None)
    if layered is None:
        return "no block-level reference available"
    if getattr(model.weights, "loop", None) is not None:  # the block reference has no loops
        return ("a looped model whose state matched the interpreter after every iteration "
                "(compiler.looped.verify_loop): the epilogue or the output decoding differs")
    reference = model.block_reference(xs)
    ids, mask = model.encode([xs])
    trace = model.forward(ids, mask)
    atol = 1e-6 if model.dtype == np.float64 else 1e-3
    div = first_divergence(layered, reference, trace.residuals, atol)
    if div is not None:
        return (f"the weights diverge from the block-level reference first at {div['where']} "
                f"(direction {div['direction']}, |diff| = {div['max_abs_diff']:.3g})")
    found = node_divergence(model, program, xs, causal=config.causal,
                            atol=NUMERIC_ATOL[model.dtype])
    if found is not None:
        return f"weights match the block-level reference; first divergence: {found}"
    return "weights match the block-level reference; the output decoding differs"


def verify_model(model, program, config: CompileConfig, mode: Optional[str] = None) -> int:
    """Compare `model.run_batch` with the interpreter (`evaluate_vectorised`, equal to
    `evaluate_batch`) on the verification inputs, streamed
    in chunks of `CHUNK` (bounded memory on any input space), with a progress bar.

    Returns:
        The number of inputs checked.

    Raises:
        UnsupportedProgram: the interpreter itself fails on some input (the program is not
            defined everywhere, so no model can match it).
        CompilationMismatch: with the smallest failing input and the first diverging layer.
    """
    total, exhaustive = verification_plan(config, mode)
    try:
        found = check_outputs(model, program, verification_inputs(config, mode),
                              causal=config.causal, atol=NUMERIC_ATOL[config.dtype],
                              numerical=model.weights.output_encoding == "numerical",
                              total=total,
                              desc=f"verify {'every input' if exhaustive else 'a sample'}")
    except EvaluationError as exc:
        raise UnsupportedProgram(
            f"{exc}; the program is not defined on every input up to max_seq_len",
            (Problem(getattr(program, "label", "program"), str(exc)),)) from exc
    if found.n_failures:
        xs, e, g = found.failures[0]
        where = diagnose(model, program, xs)
        raise CompilationMismatch(
            f"compiled model disagrees with the interpreter on {found.n_failures} of "
            f"{found.n_checked} inputs; smallest: {xs!r} -> expected {e!r}, got {g!r}; {where}",
            input=xs, expected=e, got=g, layer=where)
    return found.n_checked


# -- node by node: the first sublayer where a compiled level leaves the interpreter --------
#: The levels a Divergence can be found at, in the order they are checked at one sublayer:
#: the named-basis blocks' own apply, the weight forward pass decoded from the layout, and
#: the model's decoded output (`run_batch`).
LEVELS = ("blocks", "weights", "run")
_LEVEL_TEXT = {"blocks": "block apply", "weights": "weight forward", "run": "model run"}


@dataclass(frozen=True)
class Divergence:
    """The first disagreement with the interpreter: where (`at`, a Sublayer), at which
    `level` (one of LEVELS), the node label, the position (1-based after BOS; None for the
    whole output), and expected/got values."""

    at: Sublayer
    level: str
    label: str
    position: Optional[int]
    expected: Any
    got: Any

    def __post_init__(self):
        if not isinstance(self.at, Sublayer):
            raise InvalidInput(f"Divergence.at must be a Sublayer, got {self.at!r}")
        if self.level not in LEVELS:
            raise InvalidInput(f"Divergence.level must be one of {LEVELS}, got {self.level!r}")

    @property
    def sublayer(self) -> int:
        """The flat sublayer number (`Sublayer.index`: -1 embedding, 2l attention, 2l+1 MLP)."""
        return self.at.index

    def __str__(self) -> str:
        pos = "" if self.position is None else f" at position {self.position - 1}"
        return (f"{self.at} ({_LEVEL_TEXT[self.level]}): node {self.label!r}{pos}: expected "
                f"{self.expected!r}, got {self.got!r}")


def sublayer_name(s: int) -> str:
    """`embedding`, `layer 0 attention`, `layer 0 MLP`, ... for flat sublayer index s."""
    return str(Sublayer.from_index(s))


def _decode_node(residual: np.ndarray, dims: list, values: list, numerical: bool) -> list:
    """Decode one node from a residual [T, D] (rows 1.. are the tokens)."""
    if numerical:
        return [float(v) for v in residual[1:, dims[0]]]
    mat = residual[1:][:, dims]
    out = []
    for row in mat:
        j = int(row.argmax())
        out.append(values[j] if row[j] >= 0.5 else None)
    return out


def _first_difference(want: list, got: list, numerical: Optional[bool], atol: float):
    """(1-based position, expected, got) of the first disagreeing position, or None."""
    for p, (e, g) in enumerate(zip(want, got)):
        if not values_match(e, g, numerical=numerical, atol=atol):
            return p + 1, e, g
    if len(want) != len(got):
        return None, want, got
    return None


def node_divergence(model: Any, program: rn.SOp, xs: list, *, causal: Optional[bool] = None,
                    atol: float = 1e-6) -> Optional[Divergence]:
    """The earliest (sublayer, level) where the compiled model leaves the interpreter on `xs`;
    None when every level agrees.

    Every node of the compiled program (the graph after rewrites, so nodes a rewrite
    introduced are compared too) is decoded from the block-level reference ("blocks") and
    from the weight forward pass ("weights") right after the sublayer that writes it; when all
    agree, the decoded output of `model.run_batch` is compared with `program`'s ("run", at
    the last sublayer). Needs a model compiled in this session (a loaded one has weights only).

    Raises:
        InvalidInput: the model carries no compiled blocks.
    """
    layered = getattr(model, "layered", None)
    if layered is None:
        raise InvalidInput("the model has no compiled blocks (was it loaded from a file?)")
    config = getattr(model, "config", None)
    if causal is None:
        causal = bool(getattr(config, "causal", False))
    assignment = layered.blocks.assignment
    graph = assignment.graph
    expected = evaluate_all(graph.program, xs, causal=causal)
    written_at: dict[int, Sublayer] = {}
    for b in layered.blocks.blocks:
        if b.kind != "embed":
            at = layered.sublayer(b.id)
            written_at[b.node] = max(written_at.get(b.node, at), at)

    reference = model.block_reference(xs)
    ids, mask = model.encode([xs])
    trace = model.forward(ids, mask)

    found: list[Divergence] = []
    for node_id, basis in assignment.nodes.items():
        # Directions nobody reads may be pruned from the layout: compare what exists.
        dirs = [d for d in basis.directions if d in layered.layout]
        if not dirs or node_id not in expected:
            continue
        at = written_at.get(node_id, EMBEDDING)
        want = expected[node_id]
        numerical = basis.encoding == "numerical"
        label = graph.node(node_id).label if node_id in graph.order else basis.label
        values = [d.value for d in dirs]
        ref = reference[at.index + 1]  # residual trace index: sublayer index + 1
        if all(d in ref for d in dirs):
            got_ref = _decode_node(np.stack([ref[d] for d in dirs], axis=1),
                                   list(range(len(dirs))), values, numerical)
            diff = _first_difference(want, got_ref, numerical, atol)
            if diff is not None:
                found.append(Divergence(at, "blocks", label, *diff))
        # The weight forward pass, decoded from the dimensions the layout gave this node,
        # right after the sublayer that writes it (a dimension may be reused later).
        residual = trace.residuals[at.index + 1][0]
        got_w = _decode_node(residual, [layered.layout[d] for d in dirs], values, numerical)
        diff = _first_difference(want, got_w, numerical, atol)
        if diff is not None:
            found.append(Divergence(at, "weights", label, *diff))
    if found:
        return min(found, key=lambda d: (d.at, LEVELS.index(d.level)))
    want = evaluate(program, xs, causal=causal)
    got = model.run_batch([xs])[0]
    weights = getattr(model, "weights", None)
    numerical = (None if weights is None
                 else getattr(weights, "output_encoding", None) == "numerical")
    diff = _first_difference(want, got, numerical, atol)
    if diff is None:
        return None
    last = (Sublayer.from_index(2 * len(layered.layers) - 1) if layered.layers else EMBEDDING)
    return Divergence(last, "run", program.label, *diff)
