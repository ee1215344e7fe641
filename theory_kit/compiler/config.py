"""The one configuration object every compiler stage receives."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Iterable, Optional

import numpy as np

from theory_kit.errors import InvalidInput
from theory_kit.rasp.validate import check_max_seq_len
from theory_kit.values import check_vocab

__all__ = ["CompileConfig", "TOLERANCE", "VERIFY_MODES"]

#: Target off-target attention mass per dtype: the softmax-to-hardmax error each head may add.
TOLERANCE = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}

#: The values of `CompileConfig.verify`.
VERIFY_MODES = ("auto", "exhaustive", "sample", None)


@dataclass(frozen=True)
class CompileConfig:
    """Settings shared by all stages (never threaded to some stages only).

    Every field is checked when the config is made, and every problem is reported at once
    (InvalidInput quoting each offending value).

    Attributes:
        vocab: the input tokens (any collection; stored as a frozenset).
        max_seq_len: longest input, BOS excluded.
        causal: decoder-style masking; selectors see keys k <= q only.
        bos: the beginning-of-sequence token prepended by the model.
        dtype: numpy float dtype of the weights and the forward pass.
        beta: attention inverse temperature; None derives it from max_seq_len and dtype.
        verify: "auto" (exhaustive up to `exhaustive_limit` inputs, else `sample_size` sampled),
            "exhaustive", "sample" or None.
        seed: seed of the verification sample.
        exhaustive_limit: the most inputs "auto" verifies exhaustively (an int >= 0).
        sample_size: how many inputs a sampled verification checks (an int >= 1; fewer when
            the whole input space is smaller).
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
        vocab = self.vocab
        if (not isinstance(vocab, (str, bytes, set, frozenset, list, tuple, range))
                and isinstance(vocab, Iterable)):
            vocab = tuple(vocab)  # a generator or other one-shot iterable: read it once
        try:
            hash(self.bos)
        except TypeError:
            problems.append(f"bos must be hashable, got {self.bos!r:.60}")
            vocab_problems = check_vocab(vocab, bos=None)
        else:
            vocab_problems = check_vocab(vocab, bos=self.bos)
        problems += [str(p) for p in vocab_problems]
        if not vocab_problems:
            object.__setattr__(self, "vocab", frozenset(vocab))
        problems += [str(p) for p in check_max_seq_len(self.max_seq_len)]
        try:
            dt = np.dtype(self.dtype)
        except TypeError:
            dt = None
        if dt not in TOLERANCE:
            problems.append(f"dtype must be numpy.float64 or numpy.float32, got {self.dtype!r}")
        else:
            object.__setattr__(self, "dtype", dt)
        if not any(self.verify is m or (isinstance(self.verify, str) and self.verify == m)
                   for m in VERIFY_MODES):
            problems.append(f"verify must be 'auto', 'exhaustive', 'sample' or None, got "
                            f"{self.verify!r:.60}")
        if self.beta is not None and (isinstance(self.beta, bool) or not isinstance(self.beta, (int, float))
                                      or not np.isfinite(self.beta) or self.beta <= 0):
            problems.append(f"beta must be a positive finite number or None, got {self.beta!r}")
        for name, low in (("seed", 0), ("exhaustive_limit", 0), ("sample_size", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                kind = "a non-negative int" if low == 0 else "a positive int"
                problems.append(f"{name} must be {kind}, got {value!r:.60}")
            else:
                object.__setattr__(self, name, int(value))
        if not isinstance(self.causal, bool):
            problems.append(f"causal must be True or False, got {self.causal!r}")
        if problems:
            raise InvalidInput("invalid compile settings: " + "; ".join(problems))

    @property
    def tolerance(self) -> float:
        return TOLERANCE[self.dtype]


#: Field names of CompileConfig, in order (the keywords `compile` accepts besides `config`).
FIELDS = tuple(f.name for f in fields(CompileConfig))
