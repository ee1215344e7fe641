"""compile(): the compiler stages in order, nothing else."""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from theory_kit.compiler.bases import infer_bases
from theory_kit.compiler.budget import check_compile_size, check_input_space, check_verification_size
from theory_kit.compiler.graph_to_blocks import graph_to_blocks
from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.graph import program_to_graph
from theory_kit.compiler.layers import blocks_to_layers
from theory_kit.compiler.order import lexicographic_rewrite
from theory_kit.compiler import looped
from theory_kit.compiler.verify import verification_inputs, verification_plan, verify_model
from theory_kit.compiler.weights import layers_to_weights
from theory_kit.errors import InvalidInput, InvalidProgram, Problem, UnsupportedProgram
from theory_kit.compiler.result import Compilation
from theory_kit.model.compiled import Model
from theory_kit.rasp import nodes as rn
from theory_kit.rasp.validate import validate

__all__ = ["compile"]


class _Unset:
    """The default of `compile`'s settings keywords: "not passed" (CompileConfig's default,
    or the value in `config=`)."""

    def __repr__(self) -> str:
        return "<default>"


_UNSET: Any = _Unset()


def compile(program: rn.SOp, *, vocab: Any = _UNSET, max_seq_len: int = _UNSET,
            causal: bool = _UNSET, bos: Any = _UNSET, dtype: Any = _UNSET,
            verify: Optional[str] = _UNSET, beta: Optional[float] = _UNSET, seed: int = _UNSET,
            exhaustive_limit: int = _UNSET, sample_size: int = _UNSET,
            config: Optional[CompileConfig] = None) -> Compilation:
    """Compile a RASP program to transformer weights that decode exactly like the interpreter.

    A program with a `rasp.loop` compiles to a weight-shared looped model: the body's layers
    are compiled once and applied up to max_iterations times (`model.weights.loop`), and
    verification also compares the state after every iteration with `rasp.loop_traces`
    (theory_kit.compiler.looped). `rasp.unroll(program)` compiles it at fixed depth instead.

    The settings are the fields of `CompileConfig`: pass them as keywords, or pass a
    `config=CompileConfig(...)` (then a keyword may repeat a config value, never change it).

    Args:
        program: the output SOp of a RASP program.
        vocab: the input tokens (a set). Required without `config`.
        max_seq_len: the longest input (BOS excluded). Required without `config`.
        causal: compile a decoder (causal attention mask); compared with the causal
            interpreter. Default False.
        bos: the beginning-of-sequence token (must not be in vocab). Default "BOS".
        dtype: numpy.float64 (default) or numpy.float32.
        verify: "auto" (default) checks every input when there are at most
            `exhaustive_limit`, else `sample_size` seeded samples; "exhaustive", "sample", or
            None to skip. An exhaustive check too large to finish is refused before any work
            (`theory_kit.compiler.budget.check_input_space`).
        beta: override the derived attention inverse temperature (for experiments).
        seed: seed of the verification sample (default 0).
        exhaustive_limit: the most inputs "auto" checks exhaustively (default 100,000).
        sample_size: inputs a sampled verification checks (default 2,000).
        config: all settings at once, instead of (or agreeing with) the keywords.

    Returns:
        A Compilation: the runtime Model (`.run`, `.run_batch`, `.forward`, `.weights`,
        `.save`, ... are delegated to it) with the program and the compiler's IRs;
        `.verified_inputs` is how many inputs verification checked.

    Raises:
        InvalidInput: bad vocab, max_seq_len or settings (every one listed), a keyword that
            conflicts with `config`, or a verification too large to run.
        InvalidProgram: not a RASP program.
        UnsupportedProgram: every reason the program cannot be compiled, listed together
            (for loops also: nested loops, several loops, numerical state, causal=True, a
            state whose values are not declared and do not reach a fixed point).
        CompilationMismatch: verification found an input where model and interpreter differ
            (for a loop: the first input, iteration and state component that differ).
        KeyboardInterrupt: propagates from verification; nothing is returned or kept.

    Example:
        >>> import theory_kit as tk
        >>> from theory_kit import rasp
        >>> m = tk.compile(rasp.Map(lambda x: x + 1, rasp.tokens), vocab={1, 2},
        ...                max_seq_len=3, verify="sample", sample_size=10, seed=1)
        >>> m.verified_inputs
        10
    """
    if not isinstance(program, rn.RASPExpr):
        raise InvalidProgram(f"compile: expected a RASP SOp, got {type(program).__name__} "
                             f"{program!r:.60}")
    config = _settings(config, vocab=vocab, max_seq_len=max_seq_len, causal=causal, bos=bos,
                       dtype=dtype, verify=verify, beta=beta, seed=seed,
                       exhaustive_limit=exhaustive_limit, sample_size=sample_size)
    if config.verify is not None:
        check_input_space(config, *verification_plan(config))
    problems = validate(program, None, None, bos=config.bos)
    if problems:
        raise UnsupportedProgram(
            f"cannot compile {program.label!r}:\n" + "\n".join(f"  - {p}" for p in problems),
            problems)
    loop = looped.find_loop(program)
    if loop is None:
        graph = program_to_graph(program, config)
        infer = infer_bases
    else:  # a weight-shared looped model (compiler.looped)
        if config.causal:
            raise UnsupportedProgram(
                f"cannot compile {program.label!r}: loop {loop.spec.name!r} with causal=True",
                (Problem(loop.spec.name, "a loop's halting reads every position, so a looped "
                         "model is not causal", "compile with causal=False"),))
        body, extra = looped.substitute(program, loop.spec)
        graph = program_to_graph(body, config, source=program, extra_roots=extra)
        infer = lambda g, c: looped.infer_loop_bases(g, c, loop.spec)  # noqa: E731
    assignment = infer(graph, config)
    rewritten = lexicographic_rewrite(graph, assignment, config)
    if rewritten is not None:
        graph = program_to_graph(rewritten[0], config, source=program, extra_roots=rewritten[2])
        assignment = infer(graph, config)
    check_compile_size(assignment, config)
    if config.verify is not None:
        check_verification_size(assignment, config, *verification_plan(config))
    loop_nodes = None if loop is None else looped.loop_nodes(graph, loop.spec)
    block_graph = graph_to_blocks(assignment, config, loop_nodes)
    layered = blocks_to_layers(block_graph)
    weights = layers_to_weights(layered, config)
    out = assignment.nodes[graph.output]
    model = Model(
        weights, vocab=config.vocab, max_seq_len=config.max_seq_len, bos=config.bos,
        constants={**block_graph.constants,
                   "lexicographic_counts": rewritten[1] if rewritten is not None else ()},
        output_value_set=out.values if out.encoding == "numerical" else None)
    compilation = Compilation(program=program, config=config, graph=graph, assignment=assignment,
                              blocks=block_graph, layered=layered, model=model)
    if config.verify is None:
        return compilation
    if loop is None:
        model.constants["verified_inputs"] = verify_model(compilation, program, config)
    else:  # every iteration's state and the output, from one interpreter run
        total, exhaustive = verification_plan(config)
        checked, worst = looped.verify_loop(
            compilation, program, loop, verification_inputs(config), total=total,
            desc=f"verify {'every input' if exhaustive else 'a sample'}, every iteration")
        model.constants["loop_state_max_deviation"] = worst
        model.constants["verified_inputs"] = checked
    return compilation


def _same(a: Any, b: Any) -> bool:
    """The same setting: equal, and not a bool standing for a number (True is not 1)."""
    if a is b:
        return True
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - a value that cannot be compared is not the same
        return False


def _settings(config: Optional[CompileConfig], **keywords: Any) -> CompileConfig:
    """The CompileConfig of a `compile` call: from the keywords, or `config` (every keyword
    passed must agree with it)."""
    passed = {k: v for k, v in keywords.items() if v is not _UNSET}
    if config is None:
        missing = [k for k in ("vocab", "max_seq_len") if k not in passed]
        if missing:
            raise InvalidInput(f"compile: {' and '.join(missing)} required (or pass "
                               "config=CompileConfig(...))")
        return CompileConfig(**passed)
    if not isinstance(config, CompileConfig):
        raise InvalidInput(f"compile: config must be a CompileConfig, got "
                           f"{type(config).__name__} {config!r:.60}")
    conflicts = []
    for name, value in passed.items():
        have = getattr(config, name)
        if name == "vocab":
            try:
                agree = CompileConfig(vocab=value, max_seq_len=1, bos=config.bos).vocab == have
            except InvalidInput:
                agree = False
        elif name == "dtype":
            try:
                agree = np.dtype(value) == have
            except TypeError:
                agree = False
        else:
            agree = _same(value, have)
        if not agree:
            conflicts.append(f"{name}={value!r:.60} (config has {name}={have!r:.60})")
    if conflicts:
        raise InvalidInput("compile: keywords conflict with config=: " + "; ".join(conflicts)
                           + "; pass each setting once (e.g. dataclasses.replace(config, ...))")
    return config
