"""The one configuration object every compiler stage receives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from theory_kit.errors import InvalidInput

__all__ = ["CompileConfig", "TOLERANCE"]

#: Target off-target attention mass per dtype: the softmax-to-hardmax error each head may add.
TOLERANCE = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}


@dataclass(frozen=True)
class CompileConfig:
    """Settings shared by all stages (never threaded to some stages only).

    Attributes:
        vocab: the input tokens (frozenset).
        max_seq_len: longest input, BOS excluded.
        causal: decoder-style masking; selectors see keys k <= q only.
        bos: the beginning-of-sequence token prepended by the model.
        dtype: numpy float dtype of the weights and the forward pass.
        beta: attention inverse temperature; None derives it from max_seq_len and dtype.
        verify: "auto" (exhaustive up to `exhaustive_limit` inputs, else `sample_size` sampled),
            "exhaustive", "sample" or None.
        seed: seed of the verification sample.
    """

    vocab: frozenset
    max_seq_len: int
    causal: bool = False
    bos: Any = "BOS"
    dtype: Any = np.float64
    beta: Optional[float] = None
    verify: Optional[str] = "auto"
    seed: int = 0
    exhaustive_limit: int = 100_000
    sample_size: int = 2_000

    def __post_init__(self):
        problems = []
        try:
            dt = np.dtype(self.dtype)
        except TypeError:
            dt = None
        if dt not in TOLERANCE:
            problems.append(f"dtype must be numpy.float64 or numpy.float32, got {self.dtype!r}")
        else:
            object.__setattr__(self, "dtype", dt)
        if self.verify not in ("auto", "exhaustive", "sample", None):
            problems.append(f"verify must be 'auto', 'exhaustive', 'sample' or None, got {self.verify!r}")
        if self.beta is not None and (isinstance(self.beta, bool) or not isinstance(self.beta, (int, float))
                                      or not np.isfinite(self.beta) or self.beta <= 0):
            problems.append(f"beta must be a positive finite number or None, got {self.beta!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            problems.append(f"seed must be a non-negative int, got {self.seed!r}")
        if not isinstance(self.causal, bool):
            problems.append(f"causal must be True or False, got {self.causal!r}")
        try:
            hash(self.bos)
        except TypeError:
            problems.append(f"bos must be hashable, got {self.bos!r}")
        if problems:
            raise InvalidInput("invalid compile settings: " + "; ".join(problems))

    @property
    def tolerance(self) -> float:
        return TOLERANCE[self.dtype]
