"""Stage 5: LayeredModel -> Weights (named directions laid out as array indices, only here)."""

from __future__ import annotations

import numpy as np

from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import LayeredModel
from theory_kit.craft.bases import value_sort_key
from theory_kit.craft.assemble import assemble
from theory_kit.model.weights import Weights

__all__ = ["layers_to_weights", "token_order"]


def token_order(config: CompileConfig) -> tuple:
    """Token ids: BOS is 0, then the vocabulary in a fixed total order."""
    return (config.bos,) + tuple(sorted(config.vocab, key=value_sort_key))


def layers_to_weights(layered: LayeredModel, config: CompileConfig) -> Weights:
    """Lay every block's named-basis matrices into dense arrays of the residual width
    (`theory_kit.craft.assemble`, the assembler hand-built constructions use too)."""
    out_basis = layered.blocks.assignment.nodes[layered.blocks.assignment.graph.output]
    return assemble([(layer.heads, layer.all_mlps) for layer in layered.layers],
                    layered.layout, layered.embedding, tokens=token_order(config),
                    max_seq_len=config.max_seq_len, readout=layered.blocks.output_directions,
                    output_encoding=out_basis.encoding, causal=config.causal,
                    residual_labels=[" / ".join(str(x) for x in slot) for slot in layered.slots],
                    dtype=config.dtype)
