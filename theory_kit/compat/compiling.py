"""`compiling.compile_rasp_to_model` with Tracr's signature, backed by theory_kit.compile."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from theory_kit.compiler.compile import compile as _compile
from theory_kit.errors import InvalidInput
from theory_kit.model.compiled import Model
from theory_kit.model.forward import Trace

__all__ = ["compile_rasp_to_model", "AssembledModel", "AssembledTransformerModelOutput"]


@dataclass(frozen=True)
class AssembledTransformerModelOutput:
    """What Tracr's `model.apply` returns: `decoded` keeps the BOS token at position 0."""

    decoded: list
    trace: Trace

    @property
    def residuals(self) -> tuple:
        return self.trace.residuals


class AssembledModel:
    """Tracr's AssembledModel interface (`apply`) over a theory_kit Model or Compilation."""

    def __init__(self, model: Model):
        self.model = model

    def apply(self, tokens: Sequence[Any]) -> AssembledTransformerModelOutput:
        """Run on ["BOS", x_1, ..., x_n] as Tracr does; returns decoded ["BOS", y_1, ...]."""
        tokens = list(tokens)
        if not tokens or tokens[0] != self.model.bos:
            raise InvalidInput(f"apply: the input must start with the BOS token "
                               f"{self.model.bos!r}, got {tokens[:1]!r}")
        xs = tokens[1:]
        ids, mask = self.model.encode([xs])
        trace = self.model.forward(ids, mask)
        decoded = self.model.decode(trace.output, [len(xs)])[0]
        return AssembledTransformerModelOutput([self.model.bos] + decoded, trace)


def compile_rasp_to_model(program, vocab, max_seq_len: int, causal: bool = False,
                          compiler_bos: Any = "BOS", compiler_pad: Any = "PAD",
                          mlp_exactness: int = 100) -> AssembledModel:
    """Tracr's signature. `compiler_pad` and `mlp_exactness` are accepted and ignored:
    theory_kit masks padding instead of embedding a pad token, and derives MLP slopes from
    the value sets (no fixed exactness constant)."""
    del compiler_pad, mlp_exactness
    return AssembledModel(_compile(program, vocab=set(vocab), max_seq_len=max_seq_len,
                                   causal=causal, bos=compiler_bos))
