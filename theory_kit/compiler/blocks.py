"""Stage 3: BasisAssignment -> BlockGraph (every node lowered through the lowering table)."""

from __future__ import annotations

import math

from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import BasisAssignment, Block, BlockGraph
from theory_kit.craft.bases import BOS, ONE
from theory_kit.craft.blocks import Embedding
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


def _prune(blocks: list[Block], needed: set) -> list[Block]:
    """Drop blocks none of whose outputs are read (e.g. SOps used only by constant selectors)."""
    keep = list(blocks)
    while True:
        reads = set(needed)
        for b in keep:
            if b.kind != "embed":
                reads.update(b.payload.reads)
        alive = [b for b in keep if b.kind == "embed" or set(b.payload.writes) & reads]
        if len(alive) == len(keep):
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
