"""Training and evaluating many small models at once (jax.vmap over models, optax Adam).

Shapes: M models, N pool rows, T positions, E held-out rows, B batch, V vocabulary.

`train` trains M models in one compiled computation: model m starts from the weights its seed
draws and sees the first `sizes[m]` rows of its own pool (`pools[m]`), for a fixed number of
Adam steps. A training set no larger than the batch is used whole at every step (full-batch
gradient descent); a larger one is sampled uniformly with replacement, B rows a step, from
keys its seed derives. Models differ only in data (pools, sizes, seeds), never in shape, so one
compilation serves every training-set size, seed and search round of an experiment (the size
is a traced value, not a shape). The loss is the mean cross-entropy of the target tokens (the
answer, and the chain of thought when the dataset holds it; `Dataset.target_mask`).

Reproducible: the same configs, pools, sizes and seeds give bitwise-identical weights on the
same machine (tests/learning/test_training.py).

`evaluate` decodes greedily: from the prompt, each written position gets the argmax of the
model's next-token logits given everything before it (its own chain of thought included), and
an example counts as correct when every answer token matches (exact match).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from theory_kit.errors import InvalidInput
from theory_kit.learning.models import ModelConfig, apply, init_params

__all__ = ["TrainConfig", "Trained", "Evaluation", "train", "evaluate", "model_for"]


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """The optimisation: Adam with a fixed step count.

    Attributes:
        steps: optimiser steps.
        batch: B, rows per step (sets of at most B rows are used whole).
        learning_rate: Adam's step size (constant after `warmup` linear steps).
        warmup: linear warm-up steps.
        weight_decay: decoupled weight decay (AdamW); 0 is plain Adam.
    """

    steps: int = 300
    batch: int = 64
    learning_rate: float = 3e-3
    warmup: int = 20
    weight_decay: float = 0.0

    def __post_init__(self):
        problems = [f"{k} must be an int >= 1, got {getattr(self, k)!r}"
                    for k in ("steps", "batch") if not (isinstance(getattr(self, k), int)
                                                       and getattr(self, k) >= 1)]
        if not (isinstance(self.warmup, int) and 0 <= self.warmup):
            problems.append(f"warmup must be an int >= 0, got {self.warmup!r}")
        if not self.learning_rate > 0 or not self.weight_decay >= 0:
            problems.append(f"learning_rate {self.learning_rate!r} must be > 0 and "
                            f"weight_decay {self.weight_decay!r} >= 0")
        if problems:
            raise InvalidInput("TrainConfig: " + "; ".join(problems))

    def optimizer(self) -> optax.GradientTransformation:
        schedule = optax.linear_schedule(0.0, self.learning_rate, max(self.warmup, 1))
        return optax.adamw(schedule, weight_decay=self.weight_decay)


@dataclass(frozen=True)
class Trained:
    """M trained models: `params` with a leading model axis, and each model's mean target
    loss on its training set over the last step's batch (`final_loss` [M])."""

    model: ModelConfig
    params: Any
    final_loss: np.ndarray


@dataclass(frozen=True)
class Evaluation:
    """Per model [M]: exact-match accuracy of the answer under greedy decoding, and the mean
    teacher-forced cross-entropy of the answer tokens and of all target tokens."""

    accuracy: np.ndarray
    answer_loss: np.ndarray
    target_loss: np.ndarray


def model_for(dataset, **overrides) -> ModelConfig:
    """A ModelConfig sized for a dataset's vocabulary and sequence length (`overrides` set
    kind, width, layers, heads or a longer length)."""
    settings = {"vocab": len(dataset.task.vocab), "length": dataset.length, **overrides}
    return ModelConfig(**settings)


def _token_losses(model: ModelConfig, params, rows: jax.Array) -> jax.Array:
    """Cross-entropy [B, T-1] of the token at t+1 given positions <= t."""
    logits = jax.vmap(lambda r: apply(model, params, r))(rows)[:, :-1]
    return optax.softmax_cross_entropy_with_integer_labels(logits, rows[:, 1:])


@functools.lru_cache(maxsize=None)
def _trainer(model: ModelConfig, config: TrainConfig):
    opt = config.optimizer()

    def one(pool, size, seed, mask):
        key_init, key_data = jax.random.split(jax.random.PRNGKey(seed))
        params = init_params(model, key_init)
        weights_t = mask[1:].astype(jnp.float32)

        def batch_rows(step):
            full = jnp.arange(config.batch) % jnp.maximum(size, 1)
            sampled = jax.random.randint(jax.random.fold_in(key_data, step), (config.batch,),
                                         0, jnp.maximum(size, 1))
            whole = size <= config.batch
            idx = jnp.where(whole, full, sampled)
            w = jnp.where(whole, (jnp.arange(config.batch) < size), True).astype(jnp.float32)
            return pool[idx], w

        def loss_fn(p, rows, w):
            ce = _token_losses(model, p, rows)
            cell = w[:, None] * weights_t[None, :]
            return (ce * cell).sum() / jnp.maximum(cell.sum(), 1.0)

        def step(carry, i):
            p, state = carry
            rows, w = batch_rows(i)
            loss, grads = jax.value_and_grad(loss_fn)(p, rows, w)
            updates, state = opt.update(grads, state, p)
            return (optax.apply_updates(p, updates), state), loss

        (params, _), losses = jax.lax.scan(step, (params, opt.init(params)),
                                           jnp.arange(config.steps))
        return params, losses[-1]

    return jax.jit(jax.vmap(one))


def _check_models(pools, sizes, seeds, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pools = np.asarray(pools)
    sizes = np.asarray(sizes)
    seeds = np.asarray(seeds)
    if pools.ndim != 3 or not np.issubdtype(pools.dtype, np.integer):
        raise InvalidInput(f"{where}: pools must be int [M, N, T], got {pools.dtype} "
                           f"{pools.shape}")
    m, n = pools.shape[:2]
    if sizes.shape != (m,) or seeds.shape != (m,):
        raise InvalidInput(f"{where}: sizes {sizes.shape} and seeds {seeds.shape} must be "
                           f"[{m}] (one per pool)")
    if m and (sizes.min() < 1 or sizes.max() > n):
        raise InvalidInput(f"{where}: training-set sizes must lie in 1..{n} (the pool), got "
                           f"{sizes.min()}..{sizes.max()}")
    if m and (seeds.min() < 0 or seeds.max() >= 2**31):
        raise InvalidInput(f"{where}: seeds must lie in 0..2**31-1, got {seeds.tolist()}")
    return pools.astype(np.int32), sizes.astype(np.int32), seeds.astype(np.uint32)


def train(model: ModelConfig, config: TrainConfig, pools: Any, sizes: Sequence[int],
          seeds: Sequence[int], target_mask: Any) -> Trained:
    """Train M models at once.

    Args:
        model, config: the architecture and the optimisation (shared by the M models).
        pools: int [M, N, T] token ids; model m trains on pools[m, :sizes[m]].
        sizes: [M] training-set sizes, each in 1..N.
        seeds: [M] seeds (initial weights and batch sampling), 0..2**31-1.
        target_mask: bool [T] or [M, T]: the positions whose tokens are trained on (per
            model, so models of different tasks or layouts padded to one T train together).

    Returns:
        Trained (params with a leading axis of M).

    Raises:
        InvalidInput: shapes or values that do not fit (each quoted)."""
    pools, sizes, seeds = _check_models(pools, sizes, seeds, "train")
    m, _, t = pools.shape
    mask = np.asarray(target_mask, dtype=bool)
    if mask.ndim == 1:
        mask = np.broadcast_to(mask, (m,) + mask.shape)
    if mask.shape != (m, t) or (m and not mask[:, 1:].any(axis=1).all()):
        raise InvalidInput(f"train: target_mask must be bool [{t}] or [{m}, {t}] with a target "
                           f"after position 0 in every row, got shape {mask.shape}")
    if pools.shape[2] > model.length or (pools.size and pools.max() >= model.vocab):
        raise InvalidInput(f"train: sequences of length {pools.shape[2]} / ids up to "
                           f"{pools.max()} do not fit {model}")
    params, losses = _trainer(model, config)(pools, sizes, seeds, mask)
    return Trained(model=model, params=params, final_loss=np.asarray(losses))


@functools.lru_cache(maxsize=None)
def _evaluator(model: ModelConfig):
    def one(params, rows, target_mask, answer_mask):
        length = rows.shape[1]

        def write(t, seq):
            logits = jax.vmap(lambda r: apply(model, params, r))(seq)      # [E, T, V]
            guess = jnp.argmax(logits[:, t - 1], axis=-1).astype(seq.dtype)
            return seq.at[:, t].set(jnp.where(target_mask[t], guess, seq[:, t]))

        decoded = jax.lax.fori_loop(1, length, write, rows)
        correct = jnp.where(answer_mask[None, :], decoded == rows, True).all(axis=1)
        ce = _token_losses(model, params, rows)                            # [E, T-1]
        answer = answer_mask[1:].astype(jnp.float32)
        target = target_mask[1:].astype(jnp.float32)
        return (correct.mean(), (ce * answer).sum(1).mean() / answer.sum(),
                (ce * target).sum(1).mean() / target.sum())

    return jax.jit(jax.vmap(one))


def evaluate(trained: Trained, rows: Any, target_mask: Any, answer_mask: Any) -> Evaluation:
    """Exact-match accuracy and losses of each of the M models on its held-out rows.

    Args:
        trained: M models.
        rows: int [M, E, T] held-out sequences (model m's own rows), or [E, T] for all.
        target_mask, answer_mask: bool [T] or [M, T] (`Dataset.target_mask`, `answer_mask`):
            the positions decoded greedily, and those that must match.

    Raises:
        InvalidInput: arrays whose shapes do not fit (quoted)."""
    rows = np.asarray(rows)
    m = np.asarray(trained.final_loss).shape[0]
    if rows.ndim == 2:
        rows = np.broadcast_to(rows, (m,) + rows.shape)
    if rows.ndim != 3 or rows.shape[0] != m:
        raise InvalidInput(f"evaluate: rows must be [{m}, E, T] or [E, T], got {rows.shape}")
    masks = []
    for name, mask in (("target_mask", target_mask), ("answer_mask", answer_mask)):
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim == 1:
            mask = np.broadcast_to(mask, (m,) + mask.shape)
        if mask.shape != (m, rows.shape[2]) or (m and not mask.any(axis=1).all()):
            raise InvalidInput(f"evaluate: {name} must be bool [T] or [{m}, T] (T = "
                               f"{rows.shape[2]}) with a position set in every row, got shape "
                               f"{mask.shape}")
        masks.append(mask)
    acc, answer_loss, target_loss = _evaluator(trained.model)(
        trained.params, rows.astype(np.int32), *masks)
    return Evaluation(accuracy=np.asarray(acc), answer_loss=np.asarray(answer_loss),
                      target_loss=np.asarray(target_loss))
