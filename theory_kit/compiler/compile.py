"""compile(): the compiler stages in order, nothing else."""

from __future__ import annotations

from typing import Any, Iterable, Optional

import numpy as np

from theory_kit.compiler.bases import infer_bases
from theory_kit.compiler.budget import check_compile_size, check_verification_size
from theory_kit.compiler.graph_to_blocks import graph_to_blocks
from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.graph import program_to_graph
from theory_kit.compiler.layers import blocks_to_layers
from theory_kit.compiler.order import lexicographic_rewrite
from theory_kit.compiler.verify import verification_plan, verify_model
from theory_kit.compiler.weights import layers_to_weights
from theory_kit.errors import InvalidInput, InvalidProgram, UnsupportedProgram
from theory_kit.compiler.result import Compilation
from theory_kit.model.compiled import Model
from theory_kit.rasp import nodes as rn
from theory_kit.rasp.validate import check_max_seq_len, check_vocab, validate

__all__ = ["compile"]


def compile(program: rn.SOp, *, vocab: Any, max_seq_len: int, causal: bool = False,
            bos: Any = "BOS", dtype: Any = np.float64, verify: Optional[str] = "auto",
            beta: Optional[float] = None, seed: int = 0) -> Compilation:
    """Compile a RASP program to transformer weights that decode exactly like the interpreter.

    Args:
        program: the output SOp of a RASP program.
        vocab: the input tokens (a set).
        max_seq_len: the longest input (BOS excluded).
        causal: compile a decoder (causal attention mask); compared with the causal interpreter.
        bos: the beginning-of-sequence token (must not be in vocab).
        dtype: numpy.float64 or numpy.float32.
        verify: "auto" checks every input when there are at most 100,000, else 2,000 seeded
            samples; "exhaustive", "sample", or None to skip.
        beta: override the derived attention inverse temperature (for experiments).
        seed: seed of the verification sample.

    Returns:
        A Compilation: the runtime Model (`.run`, `.run_batch`, `.forward`, `.weights`,
        `.save`, ... are delegated to it) with the program and the compiler's IRs.

    Raises:
        InvalidInput: bad vocab, max_seq_len or settings. InvalidProgram: not a RASP program.
        UnsupportedProgram: every reason the program cannot be compiled, listed together.
        CompilationMismatch: verification found an input where model and interpreter differ.
    """
    if not isinstance(program, rn.RASPExpr):
        raise InvalidProgram(f"compile: expected a RASP SOp, got {type(program).__name__} "
                             f"{program!r:.60}")
    if not isinstance(vocab, (str, bytes)) and isinstance(vocab, Iterable) and not isinstance(
            vocab, (set, frozenset, list, tuple, range)):
        vocab = list(vocab)  # a generator or other one-shot iterable: read it once
    setting_problems = check_vocab(vocab, bos=bos) + check_max_seq_len(max_seq_len)
    if setting_problems:
        raise InvalidInput("compile: " + "; ".join(str(p) for p in setting_problems))
    config = CompileConfig(vocab=frozenset(vocab), max_seq_len=max_seq_len, causal=causal,
                           bos=bos, dtype=dtype, beta=beta, verify=verify, seed=seed)
    problems = validate(program, None, None, bos=bos)
    if problems:
        raise UnsupportedProgram(
            f"cannot compile {program.label!r}:\n" + "\n".join(f"  - {p}" for p in problems),
            problems)
    graph = program_to_graph(program, config)
    assignment = infer_bases(graph, config)
    rewritten = lexicographic_rewrite(graph, assignment, config)
    if rewritten is not None:
        graph = program_to_graph(rewritten[0], config, source=program)
        assignment = infer_bases(graph, config)
    check_compile_size(assignment, config)
    if verify is not None:
        check_verification_size(assignment, config, *verification_plan(config))
    block_graph = graph_to_blocks(assignment, config)
    layered = blocks_to_layers(block_graph)
    weights = layers_to_weights(layered, config)
    out = assignment.nodes[graph.output]
    model = Model(
        weights, vocab=config.vocab, max_seq_len=max_seq_len, bos=bos,
        constants={**block_graph.constants,
                   "lexicographic_counts": rewritten[1] if rewritten is not None else ()},
        output_value_set=out.values if out.encoding == "numerical" else None)
    compilation = Compilation(program=program, config=config, graph=graph, assignment=assignment,
                              blocks=block_graph, layered=layered, model=model)
    if verify is not None:
        model.constants["verified_inputs"] = verify_model(compilation, program, config)
    return compilation
