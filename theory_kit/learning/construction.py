"""The landscape link (issue 19, item 6): the compiled construction of a task's program next to
models trained on the task's data.

The construction is `compile_generator(task.program)`: its output readout scores [K] at each
position are exactly one-hot on the next token's value where it is correct (the compiled
categorical MLPs and hardmax attention write 1 on the right direction, 0 elsewhere), so read as
logits at a scale beta its next-token cross-entropy on a correct position is exactly
log(1 + (K - 1) e^{-beta}): zero error at every scale, loss -> 0 as beta grows. A trained
model with mean target loss L is matched by the construction at the margin
beta* = log((K - 1) / (e^L - 1)) (the construction with a larger scale has lower loss).

`compare` measures, on the same training set: the construction's exact match and loss (by
running its weights, not by the formula: the formula is checked against them), and each
trained model's training loss and exact match on its training set and on held-out prompts —
whether training from random initialisation reaches zero error where the construction exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from theory_kit.errors import InvalidInput
from theory_kit.learning.tasks import Dataset

__all__ = ["ConstructionLoss", "construction_loss", "matching_scale"]


@dataclass(frozen=True)
class ConstructionLoss:
    """The compiled construction on a dataset's target tokens (teacher forced).

    Attributes:
        exact_match: fraction of examples whose every target token is the construction's
            argmax.
        scales: the logit scales beta.
        losses: mean target cross-entropy at each scale (from the construction's scores).
        values: K, the number of values of the output readout.
        layers: the construction's layers; width: its residual width.
    """

    exact_match: float
    scales: tuple
    losses: tuple
    values: int
    layers: int
    width: int


def construction_loss(data: Dataset, *, scales: Sequence[float] = (1.0, 5.0, 10.0, 20.0)
                      ) -> ConstructionLoss:
    """Compile the task's program and score it on `data` (which must hold the chain of
    thought: the program writes it).

    Raises:
        InvalidInput: a dataset without the chain of thought of a task that has one."""
    from theory_kit.compiler import compile_generator

    task = data.task
    if task.cot_length and not data.cot:
        raise InvalidInput(f"construction_loss: the program of {task.name} writes a chain of "
                           f"thought; pass a dataset built with cot=True")
    seqs = [list(p) + list(c) + list(a) for p, c, a in zip(data.prompts, data.cots,
                                                            data.answers)]
    comp = compile_generator(task.program, vocab=set(task.vocab) | {"."},
                             max_seq_len=data.length + 1, verify=None)
    model = comp.model
    ids, _ = model.encode(seqs)                              # [B, T+1], BOS first
    final = model.forward(ids).residuals[-1]
    readout = model.readouts["output"]
    scores = final @ readout.unembed                        # [B, T+1, K]
    column = {v: k for k, v in enumerate(readout.values)}
    targets = np.flatnonzero(data.target_mask)              # token t predicted at column t
    want = np.array([[column[s[t]] for t in targets] for s in seqs])
    got = scores[:, targets]                                # [B, P, K]
    exact = float((got.argmax(-1) == want).all(axis=1).mean())
    losses = []
    for beta in scales:
        z = beta * got
        logp = z - (np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True))
                    + z.max(-1, keepdims=True))
        losses.append(float(-np.take_along_axis(logp, want[..., None], -1).mean()))
    return ConstructionLoss(exact, tuple(float(b) for b in scales), tuple(losses),
                            len(readout.values), model.summary().get("layers", -1),
                            int(final.shape[-1]))


def matching_scale(loss: float, values: int) -> float:
    """beta* with log(1 + (values - 1) e^{-beta*}) = loss: the logit scale at which the exact
    construction's loss equals a trained model's (inf for loss 0).

    Raises:
        InvalidInput: loss < 0 or values < 2."""
    if loss < 0 or values < 2:
        raise InvalidInput(f"matching_scale: loss {loss!r} must be >= 0 and values {values!r} "
                           f">= 2")
    return math.inf if loss == 0 else math.log((values - 1) / math.expm1(loss))
