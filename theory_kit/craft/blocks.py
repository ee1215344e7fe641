"""Transformer blocks in named bases, each with its own numpy `apply` (the block-level oracle).

Shape letters: B batch, T positions (BOS first), D residual width, E head width, H hidden units.
A block reads some named directions and adds its output to other named directions; `apply`
takes a residual laid out in a `VectorSpace` and returns the update in the same layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from theory_kit.craft.bases import BasisDirection, VectorSpace

__all__ = ["AttentionHead", "MLP", "Embedding", "softmax_attention"]


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a


def softmax_attention(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row softmax of logits [..., T, T] with boolean mask (False = not attended)."""
    z = np.where(mask, logits, -np.inf)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True, eq=False)
class AttentionHead:
    """One attention head: logits = (x W_q)(x W_k)^T, output = softmax · (x W_v) W_o.

    `label` is the RASP node it implements; `reads_q/k/v` and `writes` are named directions.
    """

    label: str
    reads_q: tuple[BasisDirection, ...]
    reads_k: tuple[BasisDirection, ...]
    reads_v: tuple[BasisDirection, ...]
    writes: tuple[BasisDirection, ...]
    w_q: np.ndarray  # [len(reads_q), E]
    w_k: np.ndarray  # [len(reads_k), E]
    w_v: np.ndarray  # [len(reads_v), F]
    w_o: np.ndarray  # [F, len(writes)]
    note: str = ""

    def __post_init__(self):
        for name in ("w_q", "w_k", "w_v", "w_o"):
            object.__setattr__(self, name, _readonly(getattr(self, name)))
        checks = [
            (self.w_q.shape[0] == len(self.reads_q), "w_q rows != reads_q"),
            (self.w_k.shape[0] == len(self.reads_k), "w_k rows != reads_k"),
            (self.w_q.shape[1] == self.w_k.shape[1], "w_q and w_k widths differ"),
            (self.w_v.shape[0] == len(self.reads_v), "w_v rows != reads_v"),
            (self.w_o.shape == (self.w_v.shape[1], len(self.writes)), "w_o shape"),
        ]
        bad = [msg for ok, msg in checks if not ok]
        if bad:
            raise ValueError(f"AttentionHead {self.label!r}: {', '.join(bad)}")

    @property
    def reads(self) -> tuple[BasisDirection, ...]:
        return tuple(dict.fromkeys(self.reads_q + self.reads_k + self.reads_v))

    def apply(self, x: np.ndarray, space: VectorSpace, mask: np.ndarray) -> np.ndarray:
        """Update [B, T, D] for residual x [B, T, D] laid out in `space`; mask [B, T, T]."""
        q = x[..., space.indices_of(self.reads_q)] @ self.w_q
        k = x[..., space.indices_of(self.reads_k)] @ self.w_k
        v = x[..., space.indices_of(self.reads_v)] @ self.w_v
        attn = softmax_attention(q @ np.swapaxes(k, -1, -2), mask)
        out = np.zeros_like(x)
        out[..., space.indices_of(self.writes)] = (attn @ v) @ self.w_o
        return out


@dataclass(frozen=True, eq=False)
class MLP:
    """A ReLU MLP: out = relu(x W_in + b_in) W_out, reading and writing named directions."""

    label: str
    reads: tuple[BasisDirection, ...]
    writes: tuple[BasisDirection, ...]
    w_in: np.ndarray   # [len(reads), H]
    b_in: np.ndarray   # [H]
    w_out: np.ndarray  # [H, len(writes)]
    note: str = ""

    def __post_init__(self):
        for name in ("w_in", "b_in", "w_out"):
            object.__setattr__(self, name, _readonly(getattr(self, name)))
        h = self.w_in.shape[1]
        ok = (self.w_in.shape[0] == len(self.reads) and self.b_in.shape == (h,)
              and self.w_out.shape == (h, len(self.writes)))
        if not ok:
            raise ValueError(
                f"MLP {self.label!r}: shapes w_in {self.w_in.shape}, b_in {self.b_in.shape}, "
                f"w_out {self.w_out.shape} do not fit {len(self.reads)} reads and "
                f"{len(self.writes)} writes")

    @property
    def hidden(self) -> int:
        return self.w_in.shape[1]

    def apply(self, x: np.ndarray, space: VectorSpace) -> np.ndarray:
        h = np.maximum(x[..., space.indices_of(self.reads)] @ self.w_in + self.b_in, 0.0)
        out = np.zeros_like(x)
        out[..., space.indices_of(self.writes)] = h @ self.w_out
        return out


@dataclass(frozen=True, eq=False)
class Embedding:
    """What the token embedding and the position embedding write, per named direction.

    `tokens[token]` and `positions[p]` map to {direction: value}; position 0 is BOS, whose
    token row is `bos` (kept apart from `tokens`, so a BOS token that Python calls equal to a
    vocabulary token, such as bos=True beside the token 1, keeps its own row).
    """

    label: str
    tokens: Mapping[Any, Mapping[BasisDirection, float]] = field(default_factory=dict)
    positions: Mapping[int, Mapping[BasisDirection, float]] = field(default_factory=dict)
    bos: Mapping[BasisDirection, float] = field(default_factory=dict)

    @property
    def writes(self) -> tuple[BasisDirection, ...]:
        dirs = dict.fromkeys(self.bos)
        for table in (self.tokens, self.positions):
            for entry in table.values():
                dirs.update(dict.fromkeys(entry))
        return tuple(dirs)
