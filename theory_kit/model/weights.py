"""Weights: the compiled transformer as plain numpy arrays plus the names of its dimensions.

Shape letters: V token ids (BOS first), P positions (BOS at 0), D residual width, H heads,
E query/key width, F value width, M MLP hidden units, K output columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LayerWeights", "Weights"]


def _frozen(a, dtype) -> np.ndarray:
    a = np.ascontiguousarray(np.asarray(a, dtype=dtype))
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class LayerWeights:
    """One layer: W_Q, W_K [H, D, E]; W_V [H, D, F]; W_O [H, F, D]; W_in [D, M]; b_in [M];
    W_out [M, D]; b_out [D]."""

    W_Q: np.ndarray
    W_K: np.ndarray
    W_V: np.ndarray
    W_O: np.ndarray
    W_in: np.ndarray
    b_in: np.ndarray
    W_out: np.ndarray
    b_out: np.ndarray

    ARRAYS = ("W_Q", "W_K", "W_V", "W_O", "W_in", "b_in", "W_out", "b_out")

    def __post_init__(self):
        dtype = self.W_in.dtype if hasattr(self.W_in, "dtype") else np.float64
        for name in self.ARRAYS:
            object.__setattr__(self, name, _frozen(getattr(self, name), dtype))
        h, d, e = self.W_Q.shape
        f = self.W_V.shape[2]
        m = self.W_in.shape[1]
        expected = {"W_K": (h, d, e), "W_V": (h, d, f), "W_O": (h, f, d), "W_in": (d, m),
                    "b_in": (m,), "W_out": (m, d), "b_out": (d,)}
        bad = {k: getattr(self, k).shape for k, v in expected.items() if getattr(self, k).shape != v}
        if bad:
            raise ValueError(f"LayerWeights: inconsistent shapes {bad} (expected {expected})")

    @property
    def n_heads(self) -> int:
        return self.W_Q.shape[0]

    @property
    def mlp_hidden(self) -> int:
        return self.W_in.shape[1]


@dataclass(frozen=True, eq=False)
class Weights:
    """token_embed [V, D]; pos_embed [P, D]; layers; unembed [D, K] over `output_values`."""

    token_embed: np.ndarray
    pos_embed: np.ndarray
    layers: tuple[LayerWeights, ...]
    unembed: np.ndarray
    tokens: tuple            # token of each token id; tokens[0] is BOS
    residual_labels: tuple[str, ...]
    output_values: tuple     # categorical: value of each unembedding column; numerical: ()
    output_encoding: str
    causal: bool

    def __post_init__(self):
        dtype = self.token_embed.dtype
        for name in ("token_embed", "pos_embed", "unembed"):
            object.__setattr__(self, name, _frozen(getattr(self, name), dtype))
        d = self.token_embed.shape[1]
        problems = []
        if self.pos_embed.shape[1] != d:
            problems.append(f"pos_embed width {self.pos_embed.shape[1]} != {d}")
        if self.unembed.shape[0] != d:
            problems.append(f"unembed rows {self.unembed.shape[0]} != {d}")
        if len(self.residual_labels) != d:
            problems.append(f"{len(self.residual_labels)} residual labels for width {d}")
        if len(self.tokens) != self.token_embed.shape[0]:
            problems.append(f"{len(self.tokens)} tokens for {self.token_embed.shape[0]} rows")
        for i, layer in enumerate(self.layers):
            if layer.W_in.shape[0] != d or layer.W_Q.shape[1] != d:
                problems.append(f"layer {i} width differs from {d}")
        if self.output_encoding not in ("categorical", "numerical"):
            problems.append(f"output_encoding {self.output_encoding!r}")
        if problems:
            raise ValueError("Weights: " + "; ".join(problems))

    @property
    def dtype(self) -> np.dtype:
        return self.token_embed.dtype

    @property
    def residual_width(self) -> int:
        return self.token_embed.shape[1]

    @property
    def max_seq_len(self) -> int:
        return self.pos_embed.shape[0] - 1

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array by a flat name (what `save` writes)."""
        out = {"token_embed": self.token_embed, "pos_embed": self.pos_embed, "unembed": self.unembed}
        for i, layer in enumerate(self.layers):
            for name in LayerWeights.ARRAYS:
                out[f"layer{i}.{name}"] = getattr(layer, name)
        return out

    def astype(self, dtype: Any) -> "Weights":
        cast = lambda a: np.asarray(a, dtype=dtype)  # noqa: E731
        layers = tuple(LayerWeights(*(cast(getattr(l, n)) for n in LayerWeights.ARRAYS))
                       for l in self.layers)
        return Weights(cast(self.token_embed), cast(self.pos_embed), layers, cast(self.unembed),
                       self.tokens, self.residual_labels, self.output_values,
                       self.output_encoding, self.causal)
