"""Compilation: what `theory_kit.compile` returns — the program, the compiler's typed
intermediate representations, the constants and the runtime `Model` built from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING as dataclasses_missing
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any, Iterator, Optional, Sequence

from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import BasisAssignment, BlockGraph, LayeredModel, ProgramGraph
from theory_kit.model.compiled import Model
from theory_kit.rasp import nodes as rn

__all__ = ["Compilation", "CompileConstants"]


@dataclass(frozen=True, eq=False)
class CompileConstants(Mapping):
    """The constants one compilation chose, typed and frozen.

    The numbers are the lambdified expressions of `theory_kit.bounds.compiled`, evaluated by
    `compiler.graph_to_blocks` (ε = attention_epsilon, β = attention_beta(N, ε), the
    off-target mass attention_offtarget_mass(N, β), each MLP step's slope
    discretiser_slope(gap)); the claims in theory_kit.claims.compiled check the same
    expressions. The `*_formula` strings name them for people reading a saved model.

    It is also a read-only Mapping with the keys of the dict it replaces
    (`constants["beta"]`, `.get`, `.items()`, `dict(constants)`, == with a dict of the same
    items); `verified_inputs` is a key only once verification has run.

    Attributes:
        beta: the softmax inverse temperature (given by the caller, or derived).
        epsilon: the off-target attention mass each head may leave.
        off_target_mass_bound: (N+1)·e^{-β/2}, at most epsilon when β is derived.
        mlp_slopes: one read-only {"slope", "gap", ...} entry per discretising MLP step.
        max_mlp_slope: the largest slope (0.0 without steps).
        lexicographic_counts: the SelectorWidths split by compiler.order.
        verified_inputs: how many inputs verification checked (None: not verified).
        loop_snap_slope, loop_snap_tolerance: a looped model's state snapping (craft.loop);
            loop_state_max_deviation: the largest distance of a state coordinate from 0 or 1
            after any iteration, over the verified inputs (None: not looped / not verified).
        beta_formula, epsilon_formula, off_target_mass_formula, slope_formula: the formulas.
    """

    beta: float
    epsilon: float
    off_target_mass_bound: float
    mlp_slopes: tuple
    max_mlp_slope: float
    lexicographic_counts: tuple = ()
    verified_inputs: Optional[int] = None
    beta_formula: str = ""
    epsilon_formula: str = ""
    off_target_mass_formula: str = ""
    slope_formula: str = ""
    loop_snap_slope: Optional[float] = None
    loop_snap_tolerance: Optional[float] = None
    loop_state_max_deviation: Optional[float] = None

    def __post_init__(self):
        object.__setattr__(self, "mlp_slopes", tuple(
            MappingProxyType(dict(step)) for step in self.mlp_slopes))
        object.__setattr__(self, "lexicographic_counts", tuple(self.lexicographic_counts))

    @classmethod
    def from_mapping(cls, constants: Mapping) -> "CompileConstants":
        """The typed constants of a compilation's constants dict (`Model.constants`).

        Raises:
            InvalidInput: a constant is missing, or a key is not one of the fields.
        """
        from theory_kit.errors import InvalidInput

        names = {f.name for f in fields(cls)}
        unknown = sorted(set(constants) - names)
        required = [f.name for f in fields(cls) if f.default is dataclasses_missing]
        missing = [k for k in required if k not in constants]
        if unknown or missing:
            raise InvalidInput(f"CompileConstants: unknown keys {unknown}, missing keys "
                               f"{missing} in {sorted(constants)}")
        return cls(**dict(constants))

    # -- the Mapping view (the dict this replaces) ---------------------------------------------
    def __getitem__(self, key: str) -> Any:
        if key in _CONSTANT_FIELDS and not (key in _OPTIONAL and getattr(self, key) is None):
            return getattr(self, key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k in _CONSTANT_FIELDS
                if not (k in _OPTIONAL and getattr(self, k) is None))

    def __len__(self) -> int:
        return sum(1 for _ in self)


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
    def constants(self) -> CompileConstants:
        """The typed constants (a read-only Mapping too: `constants["beta"]` still works)."""
        return CompileConstants.from_mapping(self.model.constants)

    @property
    def verified_inputs(self) -> int | None:
        """How many inputs verification checked (None when compiled with verify=None)."""
        return self.model.constants.get("verified_inputs")

    def block_reference(self, seq: Sequence) -> list[dict]:
        """The block-level oracle on one input: the named residual after each sublayer.

        Returns a list of dicts {direction: array over positions}, index s+1 for sublayer s.

        Raises:
            InvalidInput: a looped model (the block reference runs each layer once; compare
                `loop_traces` with `rasp.loop_traces` instead).
        """
        from theory_kit.compiler.reference import block_apply
        from theory_kit.errors import InvalidInput

        if self.layered.loop_layers is not None:
            raise InvalidInput("block_reference: a looped model; its oracle is the state after "
                               "every iteration: compare model.loop_traces(inputs) with "
                               "rasp.loop_traces(loop, inputs)")

        return block_apply(self.layered, self.config, self.model._check(seq, "block_reference"))


_FIELDS = frozenset(Compilation.__dataclass_fields__)
_CONSTANT_FIELDS = tuple(f.name for f in fields(CompileConstants))
#: Keys present only when set (verification ran; a looped model).
_OPTIONAL = frozenset({"verified_inputs", "loop_snap_slope", "loop_snap_tolerance",
                       "loop_state_max_deviation"})
