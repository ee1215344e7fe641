"""Small next-token models in JAX: a decoder-only transformer and an MLP baseline.

Shapes: T positions, V vocabulary, D width, H heads, F = 4D hidden units of an MLP block.
A model maps token ids [T] to next-token logits [T, V]: row t predicts the token at t + 1 from
the tokens at positions <= t (causal; the MLP baseline masks the future the same way). Params
are a dict pytree of float32 arrays, so `jax.vmap` over a leading axis trains many models at
once (`training.train`).

transformer   pre-LayerNorm decoder: token + learned position embeddings, `layers` blocks of
              causal multi-head attention and a GELU MLP, final LayerNorm, untied unembedding.
mlp           the baseline: position t reads the one-hot tokens at positions <= t (the rest
              zeroed) and a one-hot of t, through `layers` GELU hidden layers of width F.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from theory_kit.errors import InvalidInput

__all__ = ["ModelConfig", "init_params", "apply", "param_count", "MODEL_KINDS"]

#: The model families.
MODEL_KINDS = ("transformer", "mlp")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """The architecture (everything but the weights).

    Attributes:
        kind: one of MODEL_KINDS.
        vocab: V, the number of token ids.
        length: T, the longest sequence the position embedding covers.
        width: D (transformer residual width; the MLP's hidden width is 4D).
        layers: transformer blocks, or MLP hidden layers.
        heads: H attention heads (D divisible by H).
    """

    kind: str = "transformer"
    vocab: int
    length: int
    width: int = 32
    layers: int = 2
    heads: int = 2

    def __post_init__(self):
        problems = []
        if self.kind not in MODEL_KINDS:
            problems.append(f"kind {self.kind!r} is not one of {MODEL_KINDS}")
        for name in ("vocab", "length", "width", "layers", "heads"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                problems.append(f"{name} must be an int >= 1, got {value!r}")
        if not problems and self.width % self.heads:
            problems.append(f"width {self.width} is not divisible by heads {self.heads}")
        if problems:
            raise InvalidInput("ModelConfig: " + "; ".join(problems))


def _dense(key, fan_in: int, fan_out: int) -> dict:
    return {"w": jax.random.normal(key, (fan_in, fan_out), jnp.float32) / jnp.sqrt(fan_in),
            "b": jnp.zeros((fan_out,), jnp.float32)}


def _norm(d: int) -> dict:
    return {"scale": jnp.ones((d,), jnp.float32), "bias": jnp.zeros((d,), jnp.float32)}


def init_params(config: ModelConfig, key: jax.Array) -> dict:
    """Random initial weights (normal, variance 1/fan-in; embeddings variance 1)."""
    d, f = config.width, 4 * config.width
    keys = iter(jax.random.split(key, 4 + 4 * config.layers))
    if config.kind == "mlp":
        fan = config.length * config.vocab + config.length
        hidden = [_dense(next(keys), fan if i == 0 else f, f) for i in range(config.layers)]
        return {"hidden": hidden, "out": _dense(next(keys), f, config.vocab)}
    blocks = [{"ln1": _norm(d), "qkv": _dense(next(keys), d, 3 * d),
               "proj": _dense(next(keys), d, d), "ln2": _norm(d),
               "up": _dense(next(keys), d, f), "down": _dense(next(keys), f, d)}
              for _ in range(config.layers)]
    return {"tok": jax.random.normal(next(keys), (config.vocab, d), jnp.float32),
            "pos": jax.random.normal(next(keys), (config.length, d), jnp.float32),
            "blocks": blocks, "ln_f": _norm(d), "out": _dense(next(keys), d, config.vocab)}


def _layer_norm(p: dict, x: jax.Array) -> jax.Array:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) * jax.lax.rsqrt(var + 1e-5) * p["scale"] + p["bias"]


def _linear(p: dict, x: jax.Array) -> jax.Array:
    return x @ p["w"] + p["b"]


def _attention(config: ModelConfig, p: dict, x: jax.Array) -> jax.Array:
    t, d = x.shape
    h = config.heads
    q, k, v = jnp.split(_linear(p["qkv"], x), 3, axis=-1)          # [T, D] each
    q, k, v = (a.reshape(t, h, d // h).transpose(1, 0, 2) for a in (q, k, v))  # [H, T, D/H]
    scores = q @ k.transpose(0, 2, 1) / jnp.sqrt(d // h)            # [H, T, T]
    causal = jnp.tril(jnp.ones((t, t), bool))
    weights = jax.nn.softmax(jnp.where(causal, scores, -1e9), axis=-1)
    return _linear(p["proj"], (weights @ v).transpose(1, 0, 2).reshape(t, d))


def apply(config: ModelConfig, params: dict, tokens: jax.Array) -> jax.Array:
    """Next-token logits [T, V] of token ids [T] (T <= config.length)."""
    t = tokens.shape[0]
    if config.kind == "mlp":
        onehot = jax.nn.one_hot(tokens, config.vocab)                        # [T, V]
        seen = jnp.tril(jnp.ones((t, t)))                                   # [T(query), T]
        prefix = (seen[:, :, None] * onehot[None, :, :]).reshape(t, t * config.vocab)
        pad = (config.length - t) * config.vocab
        x = jnp.concatenate([prefix, jnp.zeros((t, pad)),
                             jax.nn.one_hot(jnp.arange(t), config.length)], axis=-1)
        for layer in params["hidden"]:
            x = jax.nn.gelu(_linear(layer, x))
        return _linear(params["out"], x)
    x = params["tok"][tokens] + params["pos"][:t]
    for block in params["blocks"]:
        x = x + _attention(config, block, _layer_norm(block["ln1"], x))
        x = x + _linear(block["down"], jax.nn.gelu(_linear(block["up"],
                                                           _layer_norm(block["ln2"], x))))
    return _linear(params["out"], _layer_norm(params["ln_f"], x))


def param_count(params: dict) -> int:
    """The number of scalars in one model's params."""
    return int(sum(a.size for a in jax.tree_util.tree_leaves(params)))
