"""Figure: a compiled program drawn the way researchers draw it.

The library program `hist` (count of each token) compiled at max_seq_len 4: left, the head's
query-key matrix W_Q W_K^T over the residual stream's named basis (rows: query directions,
columns: key directions, labelled with model.residual_labels, e.g. "tokens:a"); middle, its
OV matrix W_V W_O; right, the attention pattern of that head on an example input
(model.forward(...).attention), BOS included as position 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from theory_kit import plotting
from theory_kit.compiler import compile as tk_compile
from theory_kit.library import PROGRAMS

NAME = "fig_compiled_program"
PROGRAM = "hist"
MAX_SEQ_LEN = 4


def _label(lbl) -> str:
    if isinstance(lbl, tuple):
        return ":".join(str(x) for x in lbl)
    return str(lbl)


def main(out_dir: Path | None = None, seed: int = 0) -> list[Path]:
    spec = PROGRAMS[PROGRAM]
    model = tk_compile(spec.at(max_seq_len=MAX_SEQ_LEN), vocab=set(spec.vocab), max_seq_len=MAX_SEQ_LEN,
                       seed=seed)
    labels = [_label(lbl) for lbl in model.residual_labels]
    layer, head = next((k, 0) for k, lw in enumerate(model.weights.layers) if lw.n_heads > 0)
    lw = model.weights.layers[layer]
    qk = lw.W_Q[head] @ lw.W_K[head].T  # [D, D]
    ov = lw.W_V[head] @ lw.W_O[head]  # [D, D]
    rng = np.random.default_rng(seed)
    example = [spec.vocab[i] for i in rng.integers(0, len(spec.vocab), size=MAX_SEQ_LEN)]
    ids, mask = model.encode([example])
    attn = np.asarray(model.forward(ids, mask).attention[layer])[0, head]  # [T, T]

    fig, axes = plotting.new_figure(width="double", height=2.6, ncols=3,
                                    gridspec_kw={"width_ratios": [1, 1, 0.55]})
    d = len(labels)
    for ax, mat, title in ((axes[0], qk, r"$W_Q W_K^\top$ (query $\times$ key)"),
                           (axes[1], ov, r"$W_V W_O$ (read $\times$ write)")):
        lim = float(np.max(np.abs(mat))) or 1.0
        ax.imshow(mat, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_xticks(range(d), labels, rotation=90, fontsize=4)
        ax.set_yticks(range(d), labels, fontsize=4)
        ax.set_title(f"layer {layer}, head {head}: {title}", fontsize=6)
        ax.grid(False)
    toks = ["BOS", *map(str, example)]
    im = axes[2].imshow(attn, cmap="cividis", vmin=0, vmax=1, interpolation="nearest")
    axes[2].set_xticks(range(len(toks)), toks, fontsize=5)
    axes[2].set_yticks(range(len(toks)), toks, fontsize=5)
    axes[2].set_xlabel("key")
    axes[2].set_ylabel("query")
    axes[2].set_title(f"attention on {''.join(map(str, example))}", fontsize=6)
    axes[2].grid(False)
    fig.colorbar(im, ax=axes[2], shrink=0.6)
    rows = [("qk", labels[i], labels[j], qk[i, j]) for i in range(d) for j in range(d) if qk[i, j] != 0]
    rows += [("ov", labels[i], labels[j], ov[i, j]) for i in range(d) for j in range(d) if ov[i, j] != 0]
    rows += [("attention", toks[i], f"{j}:{toks[j]}", attn[i, j]) for i in range(len(toks)) for j in range(len(toks))]
    return plotting.save_figure(fig, NAME, out_dir, data=(("matrix", "row", "column", "value"), rows))


if __name__ == "__main__":
    raise SystemExit(plotting.run_cli(main))
