"""Compiling a causal program as a generator (issue 15, item 2): the model's output at the last
position is the next token, appended and fed back (`Model.generate`, cached keys and values).

`compile_generator` compiles the program causally, refuses it when its output can hold a value
that is not an input token (it could not be fed back), and verifies whole generations, fail
closed: every prompt of length 1..max_seq_len-1 (exhaustive up to `exhaustive_limit` prompts,
else `sample_size` seeded samples) generates until a stop token or max_seq_len, and the
compiled model's tokens (and tool calls) must equal the interpreter's
(`rasp.generate_batch`, the same protocol driver `theory_kit.generation.generate_with`).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Optional

from theory_kit.compiler.compile import compile as compile_program
from theory_kit.compiler.verify import enumerate_inputs, input_space_size, iter_sample_inputs
from theory_kit.errors import (CompilationMismatch, EvaluationError, GenerationError,
                               InvalidInput, Problem, UnsupportedProgram)
from theory_kit.generation import END_RESULT, RESULT, Generation
from theory_kit.progress import chunks
from theory_kit.rasp import nodes as rn
from theory_kit.rasp.generate import generate_batch
from theory_kit.values import identical, typed_key

__all__ = ["compile_generator", "verify_generation", "CHUNK"]

#: Prompts generated per batch during verification.
CHUNK = 500


def compile_generator(program: rn.SOp, *, vocab: Any, max_seq_len: int, stop: Any = None,
                      tools: Optional[Mapping[Any, Callable]] = None,
                      max_new_tokens: Optional[int] = None, verify: Optional[str] = "auto",
                      prompts: Optional[Iterable] = None, **settings: Any):
    """Compile `program` (causal) as a generator and verify whole generations.

    Args:
        program: the next-token program (its causal output at the last position).
        vocab, max_seq_len: as for `compile`; every output value must be in `vocab`.
        stop: stop token(s), as for `rasp.generate`.
        tools: the tool-call protocol's tools (name -> callable); `vocab` must then hold the
            protocol tokens the model reads and writes.
        max_new_tokens: the most tokens generated per prompt during verification (default:
            until max_seq_len).
        verify: "auto", "exhaustive", "sample" or None, over prompts.
        prompts: the prompts to verify on (a program written for one prompt format, e.g.
            bits then "="); default: every prompt of length 1..max_seq_len-1 (or a sample).
        settings: further `compile` settings (dtype, beta, seed, exhaustive_limit,
            sample_size); causal is always True.

    Returns:
        The Compilation (`.generate(prompts, ...)`); `.verified_inputs` counts prompts.

    Raises:
        UnsupportedProgram: the output can hold a value outside `vocab` (with the fix), or the
            interpreter's generation fails on a prompt.
        CompilationMismatch: a prompt whose generation differs, and the first differing step.
        The errors of `compile`.
    """
    if settings.pop("causal", True) is not True:
        raise InvalidInput("compile_generator: a generator is causal (got causal=False)")
    compilation = compile_program(program, vocab=vocab, max_seq_len=max_seq_len, causal=True,
                                  verify=None, **settings)
    _check_outputs_are_tokens(compilation, tools)
    if verify is not None:
        compilation.model.constants["verified_inputs"] = verify_generation(
            compilation, program, mode=verify, stop=stop, tools=tools,
            max_new_tokens=max_new_tokens, prompts=prompts)
    return compilation


def _check_outputs_are_tokens(compilation, tools) -> None:
    node = compilation.assignment.nodes[compilation.graph.output]
    vocab = {typed_key(t) for t in compilation.config.vocab}
    values = node.values if node.values is not None else ()
    if node.encoding == "numerical" and node.typed:
        values = [v for vs in node.typed.values() for v in vs]
    bad = [v for v in values if typed_key(v) not in vocab]
    if node.encoding == "numerical" and node.values is None:
        bad = ["<a number of unknown value set>"]
    if bad:
        label = compilation.program.label
        problem = Problem(label, f"its output can hold {bad[:6]!r:.120}, which are not input "
                          "tokens, so they cannot be fed back as the next token",
                          f"map the output into the vocabulary (e.g. rasp.categorical("
                          f"rasp.Map(lambda v: v if v in VOCAB else STOP, {label}))) or add "
                          "those values to vocab")
        raise UnsupportedProgram(f"cannot compile {label!r} as a generator: {problem}",
                                 (problem,))
    if tools is not None:
        missing = [t for t in (RESULT, END_RESULT) if typed_key(t) not in vocab]
        if missing:
            raise InvalidInput(f"compile_generator: with tools, vocab must contain the result "
                               f"tokens the model reads: missing {missing}")


def _prompts(config, mode: str) -> tuple[Iterable[list], int]:
    longest = config.max_seq_len - 1
    if longest < 1:
        raise InvalidInput("compile_generator: max_seq_len must be at least 2 (a prompt and "
                           "one generated token)")
    total = input_space_size(len(config.vocab), longest)
    exhaustive = mode == "exhaustive" or (mode == "auto" and total <= config.exhaustive_limit)
    if exhaustive:
        return enumerate_inputs(config.vocab, longest), total
    count = min(config.sample_size, total)
    return iter_sample_inputs(config.vocab, longest, count, config.seed), count


def verify_generation(compilation, program: rn.SOp, *, mode: str = "auto", stop: Any = None,
                      tools: Optional[Mapping] = None,
                      max_new_tokens: Optional[int] = None,
                      prompts: Optional[Iterable] = None) -> int:
    """Compare `compilation.generate` with `rasp.generate_batch` on `prompts` (default: the
    verification prompts, module docstring). Returns the number of prompts checked.

    Raises:
        UnsupportedProgram: the interpreter's generation fails on a prompt.
        CompilationMismatch: the first prompt (and step) whose generations differ.
    """
    config = compilation.config
    if prompts is None:
        prompts, total = _prompts(config, mode)
    else:
        prompts = [list(p) for p in prompts]
        total = len(prompts)
    budget = config.max_seq_len if max_new_tokens is None else max_new_tokens
    kw = dict(max_new_tokens=budget, stop=stop, tools=tools, max_len=config.max_seq_len)
    checked = 0
    for block in chunks(prompts, CHUNK, total=total, desc="verify generations", unit="prompt"):
        try:
            want = generate_batch(program, block, vocab=config.vocab, **kw)
        except (EvaluationError, GenerationError) as exc:
            raise UnsupportedProgram(
                f"{exc}; the program does not generate on every prompt up to "
                f"max_seq_len - 1", (Problem(program.label, str(exc)),)) from exc
        got = compilation.model.generate(block, **kw)
        for xs, w, g in zip(block, want, got):
            difference = _difference(w, g)
            if difference is not None:
                raise CompilationMismatch(
                    f"compiled generator disagrees with the interpreter on the prompt "
                    f"{xs!r}: {difference}", input=xs, expected=list(w.tokens),
                    got=list(g.tokens), layer=difference)
        checked += len(block)
    return checked


def _difference(want: Generation, got: Generation) -> Optional[str]:
    for step, (a, b) in enumerate(zip(want.tokens, got.tokens)):
        if not identical(a, b):
            return f"token {step} after the prompt is {b!r}, expected {a!r}"
    if len(want.tokens) != len(got.tokens):
        return f"{len(got.tokens)} tokens generated, expected {len(want.tokens)}"
    if want.stopped != got.stopped or want.reason != got.reason:
        return f"generation ended by {got.reason!r}, expected {want.reason!r}"
    if want.calls != got.calls:
        return "the tool calls differ"
    return None
