"""Stage 3: BasisAssignment -> BlockGraph (every node lowered through the lowering table)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import BasisAssignment, Block, BlockGraph
from theory_kit.craft.bases import BOS, ONE
from theory_kit.craft.blocks import MLP, Embedding
from theory_kit.craft.lowering import LoweringContext, derive_beta, lower_node

__all__ = ["graph_to_blocks", "choose_epsilon"]


def choose_epsilon(assignment: BasisAssignment, config: CompileConfig) -> float:
    """Off-target attention mass each head may leave: the dtype's tolerance, tightened so the
    noise on a numerical value (≤ ε·max|value|) stays below a quarter of the smallest gap a
    discretising MLP must resolve (≥ 1/(N+1)^2 for selector widths and fractions)."""
    n = config.max_seq_len
    vmax = 1.0
    for b in assignment.nodes.values():
        if b.bounds:
            vmax = max(vmax, abs(b.bounds[0]), abs(b.bounds[1]))
    return min(config.tolerance, 1.0 / (8.0 * (n + 1) ** 2 * vmax))


def _restrict(payload, keep: set):
    """The same block writing only the directions in `keep` (unused outputs cost nothing)."""
    cols = [i for i, d in enumerate(payload.writes) if d in keep]
    if len(cols) == len(payload.writes):
        return payload
    writes = tuple(payload.writes[i] for i in cols)
    if isinstance(payload, MLP):
        w_out = payload.w_out[:, cols]
        units = np.flatnonzero(np.abs(w_out).sum(axis=1) > 0)
        return dataclasses.replace(payload, writes=writes, w_in=payload.w_in[:, units],
                                   b_in=payload.b_in[units], w_out=w_out[units])
    w_o = payload.w_o[:, cols]
    rows = np.flatnonzero(np.abs(w_o).sum(axis=1) > 0)
    return dataclasses.replace(payload, writes=writes, w_v=payload.w_v[:, rows], w_o=w_o[rows])


def _prune(blocks: list[Block], needed: set) -> list[Block]:
    """Drop outputs nobody reads, then blocks left with no outputs (e.g. SOps used only by
    constant selectors, or one-hot values a query-independent selector never looks at)."""
    keep = list(blocks)
    while True:
        reads = set(needed)
        for b in keep:
            if b.kind != "embed":
                reads.update(b.payload.reads)
        alive = [dataclasses.replace(b, payload=_restrict(b.payload, reads)) if b.kind != "embed"
                 else b for b in keep]
        alive = [b for b in alive if b.kind == "embed" or b.payload.writes]
        if len(alive) == len(keep) and all(
                a.payload is b.payload for a, b in zip(alive, keep)):
            return keep
        keep = alive


def graph_to_blocks(assignment: BasisAssignment, config: CompileConfig) -> BlockGraph:
    """Lower every node; choose β; return the blocks with their dependencies."""
    epsilon = choose_epsilon(assignment, config)
    beta = float(config.beta) if config.beta is not None else derive_beta(config.max_seq_len, epsilon)
    ctx = LoweringContext(assignment=assignment, config=config, beta=beta)
    ctx.bos_values[BOS] = 1.0
    ctx.bos_values[ONE] = 1.0
    graph = assignment.graph
    for node_id in graph.order:
        lower_node(ctx, graph.node(node_id).expr, assignment.nodes[node_id])
    output = assignment.nodes[graph.output]
    out_dirs = output.directions
    blocks = _prune(ctx.blocks, set(out_dirs))
    reads = set(out_dirs)
    for b in blocks:
        reads.update(b.payload.reads)
    tokens = {config.bos: {BOS: 1.0, ONE: 1.0}}
    for tok in config.vocab:
        tokens[tok] = {ONE: 1.0, **{d: v for d, v in ctx.token_rows.get(tok, {}).items() if d in reads}}
    positions = {p: {d: v for d, v in row.items() if d in reads}
                 for p, row in ctx.position_rows.items()}
    embedding = Embedding(label="embedding", tokens=tokens, positions=positions)
    embed_block = Block(id=len(ctx.blocks), node=graph.output, kind="embed", payload=embedding, deps=())
    n_plus = config.max_seq_len + 1
    constants = {
        "beta": beta,
        "beta_formula": "beta = 2*ln((N+1)/eps), N = max_seq_len" if config.beta is None
        else "beta given by the caller",
        "epsilon": epsilon,
        "epsilon_formula": "eps = min(tol(dtype), 1/(8 (N+1)^2 max|value|))",
        "off_target_mass_bound": n_plus * math.exp(-beta / 2),
        "off_target_mass_formula": "(N+1)*exp(-beta/2)",
        "mlp_slopes": tuple(ctx.slopes),
        "max_mlp_slope": max([s["slope"] for s in ctx.slopes], default=0.0),
        "slope_formula": "L = 2/gap: exact step for inputs within gap/4 of a value",
    }
    return BlockGraph(assignment=assignment, blocks=tuple(blocks) + (embed_block,),
                      output_directions=out_dirs, bos_values=dict(ctx.bos_values),
                      constants=constants)
