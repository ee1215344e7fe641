"""The batched forward pass over `Weights` (no Python loop over inputs or positions).

Shape letters: B batch, T positions (BOS at 0), D residual width, H heads, E/F head widths,
M MLP hidden units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from theory_kit.model.weights import Weights

__all__ = ["Trace", "forward"]


@dataclass(frozen=True, eq=False)
class Trace:
    """What a forward pass computed.

    residuals[0] is the embedding; residuals[2l+1] follows layer l's attention and
    residuals[2l+2] its MLP, each [B, T, D]. attention[l] is [B, H, T, T] (query, key).
    `key_mask` [B, T] marks real (non-padding) positions.
    """

    residuals: tuple
    attention: tuple
    key_mask: np.ndarray
    residual_labels: tuple

    @property
    def output(self) -> np.ndarray:
        return self.residuals[-1]


def _attention(x, lw, mask):
    b, t, d = x.shape
    h, _, e = lw.W_Q.shape
    f = lw.W_V.shape[2]
    # One 2-D matmul for all heads (BLAS), then split heads: [B*T, D] @ [D, H*E].
    x2 = x.reshape(b * t, d)
    q = (x2 @ lw.W_Q.transpose(1, 0, 2).reshape(d, h * e)).reshape(b, t, h, e)
    k = (x2 @ lw.W_K.transpose(1, 0, 2).reshape(d, h * e)).reshape(b, t, h, e)
    v = (x2 @ lw.W_V.transpose(1, 0, 2).reshape(d, h * f)).reshape(b, t, h, f)
    logits = np.matmul(q.transpose(0, 2, 1, 3), k.transpose(0, 2, 3, 1))
    logits = np.where(mask, logits, -np.inf)
    logits -= logits.max(axis=-1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=-1, keepdims=True)
    mixed = np.matmul(logits, v.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3).reshape(b * t, h * f)
    return (mixed @ lw.W_O.reshape(h * f, d)).reshape(b, t, d), logits


def forward(weights: Weights, token_ids: np.ndarray, key_mask: Optional[np.ndarray] = None,
            *, record: bool = True) -> Trace:
    """Run the model on token ids [B, T] (column 0 must be BOS, id 0).

    Args:
        weights: the compiled weights.
        token_ids: int array [B, T].
        key_mask: bool [B, T], False at padding positions (never attended to).
        record: keep every intermediate residual and attention pattern (else only the last).
    """
    ids = np.asarray(token_ids)
    b, t = ids.shape
    if key_mask is None:
        key_mask = np.ones((b, t), dtype=bool)
    x = weights.token_embed[ids] + weights.pos_embed[:t][None]
    mask = key_mask[:, None, None, :]
    if weights.causal:
        mask = mask & np.tril(np.ones((t, t), dtype=bool))[None, None]
    residuals, patterns = [x], []
    for lw in weights.layers:
        if lw.n_heads:
            out, attn = _attention(x, lw, mask)
            x = x + out
            if record:
                patterns.append(attn)
        elif record:
            patterns.append(np.zeros((b, 0, t, t), dtype=x.dtype))
        if record:
            residuals.append(x)
        if lw.mlp_hidden:
            x2 = x.reshape(b * t, -1)
            hidden = np.maximum(x2 @ lw.W_in + lw.b_in, 0)
            x = x + (hidden @ lw.W_out + lw.b_out).reshape(b, t, -1)
        if record:
            residuals.append(x)
    if not record:
        residuals = [x]
    return Trace(tuple(residuals), tuple(patterns), key_mask, weights.residual_labels)
