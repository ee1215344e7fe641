"""Compiled models: weights as numpy arrays with a residual layout and named readouts, the
batched forward pass, save/load."""

from theory_kit.model.compiled import CompiledModel, Model, load
from theory_kit.model.forward import Trace, forward
from theory_kit.model.weights import LayerWeights, Readout, ResidualLayout, Weights

__all__ = ["Model", "CompiledModel", "load", "Trace", "forward", "LayerWeights", "Weights",
           "Readout", "ResidualLayout"]
