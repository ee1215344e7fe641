"""Compiled models: weights as numpy arrays with a residual layout and named readouts, the
batched forward pass (looped weights included), incremental decoding with cached keys and
values (causal weights), save/load."""

from theory_kit.model.compiled import CompiledModel, Model, load
from theory_kit.model.forward import Trace, forward
from theory_kit.model.incremental import FullDecoder, IncrementalDecoder, IncrementalState
from theory_kit.model.weights import LayerWeights, LoopSchedule, Readout, ResidualLayout, Weights

__all__ = ["Model", "CompiledModel", "load", "Trace", "forward", "LayerWeights", "Weights",
           "Readout", "ResidualLayout", "LoopSchedule", "IncrementalState",
           "IncrementalDecoder", "FullDecoder"]
