"""Compilation: what `theory_kit.compile` returns — the program, the compiler's typed
intermediate representations, the constants and the runtime `Model` built from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import BasisAssignment, BlockGraph, LayeredModel, ProgramGraph
from theory_kit.model.compiled import Model
from theory_kit.rasp import nodes as rn

__all__ = ["Compilation"]


@dataclass(eq=False)
class Compilation:
    """A compiled RASP program.

    Everything a user does with a model (`run`, `run_batch`, `forward`, `encode`, `decode`,
    `weights`, `summary()`, `constants`, `save`, ...) is delegated to `model`, the
    program-agnostic runtime (`theory_kit.model.Model`) that `theory_kit.load` also returns.
    The compiler's own state is public here, not hidden in the runtime.

    Attributes:
        program: the RASP program the user passed.
        config: the one CompileConfig every stage received.
        graph, assignment, blocks, layered: the stages' outputs (graph of the possibly
            rewritten program; value sets and encodings; named-basis blocks; layers and the
            residual layout).
        model: the runtime Model (weights + token codec + output decoding).
    """

    program: rn.SOp
    config: CompileConfig
    graph: ProgramGraph
    assignment: BasisAssignment
    blocks: BlockGraph
    layered: LayeredModel
    model: Model

    def __setattr__(self, name: str, value: Any) -> None:
        # fields are set once (by __init__); any other name belongs to the runtime model, so
        # patching `compilation.x` (e.g. with pytest's monkeypatch) patches what runs
        if name in _FIELDS:
            if name in self.__dict__:
                raise AttributeError(f"Compilation.{name} is read-only")
            object.__setattr__(self, name, value)
        else:
            setattr(self.model, name, value)

    def __delattr__(self, name: str) -> None:
        if name in _FIELDS:
            raise AttributeError(f"Compilation.{name} is read-only")
        delattr(self.model, name)

    def __getattr__(self, name: str) -> Any:
        # only reached for names that are not fields: the runtime's attributes and methods
        model = self.__dict__.get("model")
        if model is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(model, name)

    def __repr__(self) -> str:
        return repr(self.model)

    @property
    def constants(self) -> dict:
        return self.model.constants

    @property
    def verified_inputs(self) -> int | None:
        """How many inputs verification checked (None when compiled with verify=None)."""
        return self.model.constants.get("verified_inputs")

    def block_reference(self, seq: Sequence) -> list[dict]:
        """The block-level oracle on one input: the named residual after each sublayer.

        Returns a list of dicts {direction: array over positions}, index s+1 for sublayer s.
        """
        from theory_kit.compiler.reference import block_apply

        return block_apply(self.layered, self.config, self.model._check(seq, "block_reference"))


_FIELDS = frozenset(Compilation.__dataclass_fields__)
