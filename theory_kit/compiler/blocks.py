"""Stage 3: BasisAssignment -> BlockGraph (every node lowered through the lowering table)."""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction
from typing import Optional

import numpy as np

from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import BasisAssignment, Block, BlockGraph
from theory_kit.craft.bases import BOS, ONE
from theory_kit.craft.blocks import MLP, Embedding
from theory_kit.craft.lowering import LoweringContext, derive_beta, lower_node
from theory_kit.errors import UnsupportedProgram
from theory_kit.rasp import nodes as rn
from theory_kit.rasp.validate import Problem
from theory_kit.values import same_value

__all__ = ["graph_to_blocks", "choose_epsilon", "resolution_problems", "VALUE_RESOLUTION"]


#: Value sets are computed in floating point, and means and linear combinations are rounded to
#: 12 decimals there (sums in another order than the interpreter's): a reachable value may
#: differ from its representative. How far depends on where it comes from (`_provenance`):
#: "exact" values (tokens, indices, widths, a function of exact values) are the interpreter's
#: own floats; "rational" ones (means of integers, integer combinations of those) are
#: fractions with small denominators, which the representative identifies exactly; "inexact"
#: ones may be anywhere within VALUE_RESOLUTION (relative, absolute below 1) of it. A Map that
#: gives another output at the interpreter's value than at the representative, or that changes
#: within VALUE_RESOLUTION of an inexact value, cannot be discretised exactly.
VALUE_RESOLUTION = 1e-12
#: Rounding error of a representative (12 decimals) plus summation noise.
_REPRESENTATIVE_ERROR = 6e-13
#: The off-target mass ε may not go below this many ulps of 1 (times N+1): beyond, the rounding
#: of the attention sums, not ε, decides what the discretising MLPs see.
_EPSILON_FLOOR_ULPS = 64


def _denominator(values) -> Optional[int]:
    """The lcm of the exact denominators of numeric `values` (floats are dyadic), or None when
    one is not a number or its denominator exceeds 1024 (then sums of them may round)."""
    d = 1
    for v in values:
        if v is None:
            continue
        if not isinstance(v, (int, float)):
            return None
        q = Fraction(v).denominator
        if q > 1024:
            return None
        d = d * q // math.gcd(d, q)
        if d > 1024:
            return None
    return d


def _provenance(assignment: BasisAssignment, config: CompileConfig) -> dict:
    """node id -> ("exact", None) | ("rational", max denominator) | ("inexact", None).

    Exact: the value set holds the interpreter's own floats (tokens, indices, widths,
    functions of exact values, sums of small-denominator, hence dyadic, exact values).
    Rational: a mean of such values, a fraction whose denominator is at most the bound."""
    graph = assignment.graph
    n = config.max_seq_len
    out: dict = {}

    def exact_denominator(*sops, extra=()) -> Optional[int]:
        if any(out.get(c.unique_id, ("inexact",))[0] != "exact" for c in sops):
            return None
        vals = [v for c in sops for v in (assignment.nodes[c.unique_id].values or ())]
        if any(assignment.nodes[c.unique_id].values is None for c in sops):
            return None
        return _denominator(vals + list(extra))

    for node_id in graph.order:
        expr, b = graph.node(node_id).expr, assignment.nodes[node_id]
        if b.encoding is None:
            continue
        children = [c for c in expr.children if assignment.nodes[c.unique_id].encoding]
        if isinstance(expr, rn.Aggregate) and b.encoding == "numerical":
            d = exact_denominator(expr.sop, extra=[expr.default])
            out[node_id] = ("rational", d * n) if d is not None else ("inexact", None)
        elif isinstance(expr, rn.LinearSequenceMap) and b.encoding == "numerical":
            factors = [expr.fst_fac, expr.snd_fac]
            kinds = [out[c.unique_id] for c in (expr.fst, expr.snd)]
            df = _denominator(factors)
            if exact_denominator(expr.fst, expr.snd, extra=factors) is not None:
                out[node_id] = ("exact", None)
            elif df is not None and all(k[0] != "inexact" for k in kinds):
                bound = df
                for kind, d in kinds:
                    bound *= d if kind == "rational" else (exact_denominator(
                        expr.fst, expr.snd) or 1)
                out[node_id] = ("rational", bound)
            else:
                out[node_id] = ("inexact", None)
        elif all(out[c.unique_id][0] == "exact" for c in children):
            out[node_id] = ("exact", None)
        else:
            out[node_id] = ("inexact", None)
    return out


def _discretised(assignment: BasisAssignment):
    """Every Map that thresholds a numerical input: (node, xs, ys, changing gaps), where xs is
    the input's value set, ys the Map's value on each, and a gap is one between neighbours of
    xs where the output changes (the MLP must resolve it)."""
    graph = assignment.graph
    for node_id in graph.order:
        expr = graph.node(node_id).expr
        node = assignment.nodes[node_id]
        if not isinstance(expr, rn.Map) or node.virtual:
            continue
        inner = assignment.nodes[expr.inner.unique_id]
        if inner.encoding != "numerical" or not inner.values:
            continue
        xs = list(inner.values)
        numerical = node.encoding == "numerical"
        ys = []
        for x in xs:  # f on every Python value the interpreter may hold at x (0, 0.0, False)
            outs = [expr.f(v) for v in (inner.typed or {}).get(x, (x,))]
            if not all(_same_output(outs[0], o, numerical) for o in outs[1:]):
                raise UnsupportedProgram(
                    f"cannot compile {node.label!r}: its function gives {outs!r:.80} on the "
                    f"values {(inner.typed or {}).get(x)!r:.60} of {expr.inner.label!r}, which "
                    "are one number in the residual stream", (Problem(
                        node.label, f"gives different outputs {outs!r:.60} on "
                        f"{(inner.typed or {}).get(x)!r:.60}, which the numerical SOp "
                        f"{expr.inner.label!r} can hold as one number",
                        "make the function depend on the number only (e.g. float(x)), or make "
                        f"{expr.inner.label!r} categorical"),))
            ys.append(outs[0])
        gaps = [b - a for a, b, ya, yb in zip(xs, xs[1:], ys, ys[1:])
                if not _same_output(ya, yb, numerical)]
        yield expr, node, xs, ys, gaps


def _same_output(a, b, numerical: bool) -> bool:
    if numerical and a is not None and b is not None:
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return same_value(a, b)


def resolution_problems(assignment: BasisAssignment, config: CompileConfig) -> list[Problem]:
    """Discretising Maps the model cannot compute exactly in `config.dtype`: the function
    changes within VALUE_RESOLUTION of a reachable value (so which side of its threshold the
    interpreter's float lands on is decided by rounding), or two values it must tell apart are
    so close that the off-target attention mass needed to resolve them is below the dtype's
    rounding floor. Each problem says "precision"."""
    problems = []
    floor = _EPSILON_FLOOR_ULPS * float(np.finfo(config.dtype).eps) * (config.max_seq_len + 1)
    vmax = _vmax(assignment)
    provenance = _provenance(assignment, config)
    for expr, node, xs, ys, gaps in _discretised(assignment):
        numerical = node.encoding == "numerical"
        kind, denominator = provenance[expr.inner.unique_id]
        if kind == "rational" and 2.0 * denominator ** 2 * _REPRESENTATIVE_ERROR >= 1.0:
            kind = "inexact"  # denominators too large to identify the fraction
        for x, y in zip(xs, ys):
            if kind == "exact" or float(x).is_integer():
                continue
            if kind == "rational":
                true = float(Fraction(x).limit_denominator(denominator))
                near, what = [true], f"the interpreter's value {true!r}"
            else:
                r = VALUE_RESOLUTION * max(1.0, abs(x))
                near, what = [x - r, x + r], f"x ∓ {r:.1g}"
            try:
                outs = [expr.f(z) for z in near]
            except Exception:  # noqa: BLE001 — f need not be defined off the value set
                continue
            if not all(_same_output(y, z, numerical) for z in outs):
                problems.append(Problem(
                    node.label, f"precision: its function changes at the reachable value {x!r} "
                    f"of {expr.inner.label!r} ({y!r} there, {outs!r:.60} at {what}); the "
                    "interpreter's float and the model's differ by rounding at that scale, so "
                    "no threshold separates them reliably",
                    "move the threshold away from the values the input can take, or compute "
                    "the condition on categorical values"))
                break
        if gaps and min(gaps) / (8.0 * vmax) < floor:
            problems.append(Problem(
                node.label, f"precision: it must tell apart values of {expr.inner.label!r} only "
                f"{min(gaps):.3g} apart, which needs an off-target attention mass below "
                f"{min(gaps) / (8.0 * vmax):.3g}: under the rounding floor {floor:.3g} of "
                f"{np.dtype(config.dtype).name} at max_seq_len {config.max_seq_len}",
                "use dtype=numpy.float64, or make the values further apart"))
    return problems


def _vmax(assignment: BasisAssignment) -> float:
    vmax = 1.0
    for b in assignment.nodes.values():
        if b.bounds:
            vmax = max(vmax, abs(b.bounds[0]), abs(b.bounds[1]))
    return vmax


def choose_epsilon(assignment: BasisAssignment, config: CompileConfig) -> float:
    """Off-target attention mass each head may leave: the dtype's tolerance, tightened so the
    noise on a numerical value (≤ ε·max|value|) stays below an eighth of the smallest gap a
    discretising MLP must resolve: ≥ 1/(N+1)^2 for selector widths and fractions, and the
    smallest gap where a Map of a numerical SOp changes its output."""
    n = config.max_seq_len
    vmax = _vmax(assignment)
    gaps = [min(g) for *_, g in _discretised(assignment) if g]
    smallest = min(gaps + [1.0 / (n + 1) ** 2])
    return min(config.tolerance, smallest / (8.0 * vmax))


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
    problems = resolution_problems(assignment, config)
    if problems:
        raise UnsupportedProgram("cannot compile (precision): " + "; ".join(map(str, problems)),
                                 problems)
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
    tokens = {}
    for tok in config.vocab:
        tokens[tok] = {ONE: 1.0, **{d: v for d, v in ctx.token_rows.get(tok, {}).items() if d in reads}}
    positions = {p: {d: v for d, v in row.items() if d in reads}
                 for p, row in ctx.position_rows.items()}
    embedding = Embedding(label="embedding", tokens=tokens, positions=positions,
                          bos={BOS: 1.0, ONE: 1.0})
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
