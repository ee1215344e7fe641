"""Stage 3: BasisAssignment -> BlockGraph, through the lowering table (node class -> rule).

The table lives here, with the stage that uses it (as cvxpy keeps its canonicalizers in
reductions/ and Tracr its expr -> craft map in compiler/): each rule reads the node's
`NodeBasis` and the `CompileConfig` and *calls* the RASP-free constructors of theory_kit.craft
(craft.mlp, craft.attention), which know only named directions. The derivations of the
constructions are next to the constructors; the constants (ε, β, the off-target mass) are the
sympy expressions of theory_kit.bounds.compiled, lambdified once below.

Conventions every block keeps:
  * ("bos",) is exactly 1 at BOS and 0 elsewhere, ("one",) is 1 everywhere; both are exact.
  * Every MLP is gated at BOS (craft.mlp); attention outputs at BOS are known constants
    (`bos_values`), which readers compensate through their ("bos",) row (craft.attention).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Optional

import numpy as np

from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import BasisAssignment, Block, BlockGraph, LoopBlocks, LoopNodes, NodeBasis
from theory_kit.craft import attention as att
from theory_kit.craft.bases import BOS, ONE, BasisDirection
from theory_kit.craft.loop import SNAP_SLOPE, loop_entry_mlp, loop_update_mlp, snap_tolerance
from theory_kit.craft.blocks import MLP, Embedding
from theory_kit.craft.mlp import added, linear_mlp, lookup_mlp, step_mlp, width_decoder_mlp
from theory_kit.errors import Problem, UnsupportedProgram
from theory_kit.rasp import nodes as rn
from theory_kit.rasp.loops import Loop, LoopVar
from theory_kit.values import is_plain_number, same_value, typed_key

__all__ = ["graph_to_blocks", "choose_epsilon", "resolution_problems", "VALUE_RESOLUTION",
           "LOWERING", "lower_node", "LoweringContext", "derive_beta", "off_target_mass"]

# ---------------------------------------------------------------------------------------------
# Constants: the sympy expressions of bounds.compiled, lambdified once
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _constant_functions() -> tuple[Callable, Callable, Callable]:
    """(ε(tol, N, vmax, gap), β(N, ε), mass(N, β)): the bounds.compiled expressions
    attention_epsilon, attention_beta and attention_offtarget_mass, lambdified once
    (modules="math": plain float arithmetic, bit-identical to the formulas the compiler used
    before they came from bounds/). Imported on first use so `import theory_kit` does not
    pull in sympy."""
    import sympy as sp

    from theory_kit.bounds import compiled as bc

    return (sp.lambdify((bc.tol, bc.N, bc.vmax, bc.gap), bc.attention_epsilon(), modules="math"),
            sp.lambdify((bc.N, bc.eps), bc.attention_beta(), modules="math"),
            sp.lambdify((bc.N, bc.beta), bc.attention_offtarget_mass(), modules="math"))


def _epsilon(tol: float, n: int, vmax: float, gap: float) -> float:
    """ε = min(tol, min(gap, 1/(N+1)²)/(8·vmax)) (bounds.attention_epsilon)."""
    return _constant_functions()[0](tol, n, vmax, gap)


def derive_beta(max_seq_len: int, epsilon: float) -> float:
    """β = 2·ln((N+1)/ε): off-target attention mass (N+1)e^{-β/2} = ε (N = max_seq_len);
    bounds.compiled.attention_beta evaluated."""
    return float(_constant_functions()[1](max_seq_len, epsilon))


def off_target_mass(max_seq_len: int, beta: float) -> float:
    """(N+1)·e^{-β/2}, the off-target mass a head leaves at inverse temperature β;
    bounds.compiled.attention_offtarget_mass evaluated."""
    return float(_constant_functions()[2](max_seq_len, beta))


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
    """node id -> ("exact", None) | ("rational", max denominator) | ("derived", None) |
    ("inexact", None).

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
            if d is not None and b.values is not None and _denominator(b.values) is not None:
                # every mean is a small dyadic (0.5, 0.25, an integer): the interpreter's sum of
                # exact values is exact and its one division correctly rounded, so it is that
                # value exactly (a non-dyadic k/m <= 1/(m*1024) away is no representative)
                out[node_id] = ("exact", None)
            else:
                out[node_id] = ("rational", d * n) if d is not None else ("inexact", None)
        elif isinstance(expr, rn.LinearSequenceMap) and b.encoding == "numerical":
            factors = [expr.fst_fac, expr.snd_fac]
            kinds = [out[c.unique_id] for c in (expr.fst, expr.snd)]
            df = _denominator(factors)
            if exact_denominator(expr.fst, expr.snd, extra=factors) is not None:
                out[node_id] = ("exact", None)
            elif df is not None and all(k[0] in ("exact", "rational") for k in kinds):
                bound = df
                for kind, d in kinds:
                    bound *= d if kind == "rational" else (exact_denominator(
                        expr.fst, expr.snd) or 1)
                out[node_id] = ("rational", bound)
            else:
                out[node_id] = ("inexact", None)
        elif all(out[c.unique_id][0] == "exact" for c in children):
            out[node_id] = ("exact", None)
        elif all(out[c.unique_id][0] != "inexact" for c in children):
            # a function of rational values (e.g. x/2 of a mean of integers): the interpreter
            # applies it to the exact fraction; not probed (exhaustive verification decides)
            out[node_id] = ("derived", None)
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
            if kind in ("exact", "derived") or float(x).is_integer():
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
    smallest gap where a Map of a numerical SOp changes its output.
    bounds.compiled.attention_epsilon evaluated (gap = inf when no Map discretises)."""
    gaps = [min(g) for *_, g in _discretised(assignment) if g]
    return float(_epsilon(config.tolerance, config.max_seq_len, _vmax(assignment),
                          min(gaps) if gaps else math.inf))


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


def graph_to_blocks(assignment: BasisAssignment, config: CompileConfig,
                    loop: Optional[LoopNodes] = None) -> BlockGraph:
    """Lower every node; choose β; return the blocks with their dependencies. With `loop`
    (a looped compile, compiler.looped), add the loop's entry and update MLPs (craft.loop)."""
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
    loop_blocks = _lower_loop(ctx, loop) if loop is not None else None
    keep = set(out_dirs) if loop_blocks is None else \
        {*out_dirs, *loop_blocks.flag, *(d for c in loop_blocks.state for d in c)}
    blocks = _prune(ctx.blocks, keep)
    if loop_blocks is not None:  # the blocks that survived pruning
        ids = {b.id for b in blocks}
        loop_blocks = dataclasses.replace(loop_blocks, body=loop_blocks.body & ids,
                                          epilogue=loop_blocks.epilogue & ids)
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
    # Numbers from the lambdified bounds.compiled expressions; the formula strings name them.
    constants = {
        "beta": beta,
        "beta_formula": "beta = 2*ln((N+1)/eps), N = max_seq_len" if config.beta is None
        else "beta given by the caller",
        "epsilon": epsilon,
        "epsilon_formula": "eps = min(tol(dtype), 1/(8 (N+1)^2 max|value|))",
        "off_target_mass_bound": off_target_mass(config.max_seq_len, beta),
        "off_target_mass_formula": "(N+1)*exp(-beta/2)",
        "mlp_slopes": tuple(ctx.slopes),
        "max_mlp_slope": max([s["slope"] for s in ctx.slopes], default=0.0),
        "slope_formula": "L = 2/gap: exact step for inputs within gap/4 of a value",
    }
    if loop_blocks is not None:
        constants["loop_snap_slope"] = SNAP_SLOPE
        constants["loop_snap_tolerance"] = snap_tolerance(SNAP_SLOPE)
    return BlockGraph(assignment=assignment, blocks=tuple(blocks) + (embed_block,),
                      output_directions=out_dirs, bos_values=dict(ctx.bos_values),
                      constants=constants, loop=loop_blocks)


def _lower_loop(ctx: "LoweringContext", loop: LoopNodes) -> LoopBlocks:
    """The loop's entry MLP (state = snap(init), flag = not halted) and update MLP (gated,
    snapped next state; flag), and the entry as a dependency of every block reading the state."""
    nodes = ctx.assignment.nodes
    labels = {b.label for b in nodes.values()}
    flag_label = f"{loop.name}.halted"
    while flag_label in labels:
        flag_label += "'"
    flag = (BasisDirection(flag_label, True), BasisDirection(flag_label, False))
    state = tuple(nodes[v].directions for v in loop.states)
    copies, pairs = [], []
    for var, init, nxt in zip(loop.states, loop.inits, loop.nexts):
        label = nodes[var].label
        have = {typed_key(d.value) for d in nodes[var].directions}
        for d in nodes[init].directions:
            if typed_key(d.value) in have:  # outside declared values: the interpreter raises
                copies.append((d, BasisDirection(label, d.value)))
        nexts = {typed_key(d.value): d for d in nodes[nxt].directions}
        pairs += [(d, nexts.get(typed_key(d.value))) for d in nodes[var].directions]
    halted = next((d for d in nodes[loop.halted].directions if d.value is True), None)
    carried = (*flag, *(d for c in state for d in c))
    entry = ctx.add(nodes[loop.states[0]], "mlp", loop_entry_mlp(
        f"{loop.name}.entry", copies, {flag[1]: 1.0}, carried, bos_values=ctx.bos_values))
    update = ctx.add(nodes[loop.halted], "mlp", loop_update_mlp(
        f"{loop.name}.update", pairs, halted, flag, bos_values=ctx.bos_values))
    carried = set(carried)
    for i, b in enumerate(ctx.blocks):
        if b.id not in (entry, update) and b.kind != "embed" and carried & set(b.payload.reads):
            ctx.blocks[i] = dataclasses.replace(b, deps=tuple(sorted({*b.deps, entry})))
    kinds = {b.id: b.node for b in ctx.blocks}
    return LoopBlocks(
        nodes=loop, entry=entry, update=update,
        body=frozenset(i for i, node in kinds.items() if node in loop.body and i != update),
        epilogue=frozenset(i for i, node in kinds.items() if node in loop.epilogue),
        state=state, flag=flag)


# ---------------------------------------------------------------------------------------------
# The lowering table
# ---------------------------------------------------------------------------------------------


@dataclass
class LoweringContext:
    """Mutable scratchpad of one lowering pass (not shared outside `graph_to_blocks`)."""

    assignment: BasisAssignment
    config: CompileConfig
    beta: float
    bos_values: dict = field(default_factory=dict)
    producer: dict = field(default_factory=dict)  # direction -> block id
    blocks: list = field(default_factory=list)
    slopes: list = field(default_factory=list)
    token_rows: dict = field(default_factory=dict)
    position_rows: dict = field(default_factory=dict)

    def basis(self, expr: rn.RASPExpr) -> NodeBasis:
        return self.assignment.nodes[expr.unique_id]

    def add(self, node: NodeBasis, kind: str, payload, extra_deps=()) -> int:
        reads = payload.reads if kind != "embed" else ()
        deps = sorted({self.producer[d] for d in reads if d in self.producer} | set(extra_deps))
        block = Block(id=len(self.blocks), node=node.id, kind=kind, payload=payload,
                      deps=tuple(deps))
        self.blocks.append(block)
        for d in payload.writes:
            self.producer.setdefault(d, block.id)
        return block.id

    def add_steps(self, steps) -> None:
        self.slopes.extend(s.as_dict() for s in steps)


# -- Reading SOps (possibly fused Maps) as linear functions of materialised directions ---------


def _resolve(ctx: LoweringContext, expr: rn.SOp) -> tuple[NodeBasis, Callable[[Any], Any]]:
    """(materialised basis, fn from its values to `expr`'s values)."""
    b = ctx.basis(expr)
    if b.virtual:
        return ctx.assignment.nodes[b.base], b.fn
    return b, (lambda v: v)


def _categorical_read(ctx, expr) -> tuple[list[BasisDirection], list]:
    """Directions of the materialised base and `expr`'s value for each of them."""
    base, fn = _resolve(ctx, expr)
    dirs = list(base.directions)
    return dirs, [fn(d.value) for d in dirs]


def _out_vector(node: NodeBasis, value) -> dict:
    """What writing `value` to `node` adds: a one-hot or a number."""
    if value is None:
        return {}
    if node.encoding == "numerical":
        return {BasisDirection(node.label): float(value)}
    return {BasisDirection(node.label, value): 1.0}


# -- Embedding-level nodes ---------------------------------------------------------------------


def lower_tokens(ctx: LoweringContext, expr, node: NodeBasis) -> None:
    for tok in ctx.config.vocab:
        entry = ctx.token_rows.setdefault(tok, {})
        if node.encoding == "numerical":
            entry[BasisDirection(node.label)] = float(tok)
        else:
            entry[BasisDirection(node.label, tok)] = 1.0


def _position_sop(ctx: LoweringContext, node: NodeBasis, value_at: Callable[[int], Any]) -> None:
    for p in range(1, ctx.config.max_seq_len + 1):
        entry = ctx.position_rows.setdefault(p, {})
        v = value_at(p)
        if node.encoding == "numerical":
            entry[BasisDirection(node.label)] = float(v)
        else:
            entry[BasisDirection(node.label, v)] = 1.0


def lower_indices(ctx, expr, node):
    _position_sop(ctx, node, lambda p: p - 1)


def lower_length(ctx, expr, node):
    # Only reached in causal mode (graph.rewrite replaces non-causal length): prefix length.
    _position_sop(ctx, node, lambda p: p)


def lower_full(ctx, expr, node):
    _position_sop(ctx, node, lambda p: expr.fill)


# -- MLPs --------------------------------------------------------------------------------------


def _lookup(node: NodeBasis, groups: list[tuple[dict, float, Any]], reads, note) -> MLP:
    """craft.mlp.lookup_mlp with each group's output value written to `node`."""
    return lookup_mlp(node.label, reads, node.directions,
                      [(w_in, offset, _out_vector(node, value)) for w_in, offset, value in groups],
                      note)


def _steps(ctx, node: NodeBasis, z: dict, xs: list, ys: list, note: str, offset: float = 0.0,
           present: Optional[dict] = None) -> MLP:
    """craft.mlp.step_mlp writing ys[j] to `node` where z equals xs[j]; a step wherever the
    RASP value changes (type-aware: 1 -> 1.0 too); records the slopes."""
    mlp, steps = step_mlp(node.label, z, xs, [_out_vector(node, y) for y in ys], node.directions,
                          note=note, offset=offset, present=present,
                          levels=[typed_key(y) for y in ys])
    ctx.add_steps(steps)
    return mlp


def _linear(node: NodeBasis, z: dict, reads, bound: float) -> MLP:
    return linear_mlp(node.label, BasisDirection(node.label), z, reads, bound)


def lower_map(ctx: LoweringContext, expr: rn.Map, node: NodeBasis) -> None:
    if node.virtual:
        return
    base, fn = _resolve(ctx, expr.inner)
    if base.encoding == "categorical":
        dirs = list(base.directions)
        outs = [_apply_total(fn, expr.f, d.value) for d in dirs]
        if node.encoding == "categorical":
            # [Σ_{v: f(v)=y} x_v > 1/2]: x is one-hot, so the sum is [f(x) = y]; one snapped
            # pair per y (craft.mlp.snapped_units: exact 0/1 even for inexact inputs).
            by_value: dict = {}  # typed_key(y) -> (y, {direction: 1})
            for d, y in zip(dirs, outs):
                if y is not None:
                    by_value.setdefault(typed_key(y), (y, {}))[1][d] = 1.0
            groups = [(w, 0.0, y) for y, w in by_value.values()]
            payload = _lookup(node, groups, dirs, "categorical lookup")
        else:
            # f is linear in the one-hot: z = Σ f(v) x_v = relu(z) - relu(-z).
            z = {d: float(y) for d, y in zip(dirs, outs) if y is not None}
            payload = _linear(node, z, dirs, bound=max([abs(v) for v in z.values()] + [0.0]))
        ctx.add(node, "mlp", payload)
        return
    _discretising_map(ctx, expr, node, base, fn)


def _apply_total(inner_fn, f, v):
    w = inner_fn(v)
    return None if w is None else f(w)


def _discretising_map(ctx, expr, node: NodeBasis, base: NodeBasis, fn) -> None:
    xs = base.values
    x_dir = BasisDirection(base.label)
    # f on the Python value the interpreter holds at x (an int 0, not 0.0: str sees the type)
    ys = [_apply_total(fn, expr.f, base.typed_value(x)) for x in xs]
    if node.encoding == "numerical" and any(y is None for y in ys):
        raise UnsupportedProgram(f"{node.label}: numerical Map returns None", (
            Problem(node.label, "numerical Map returns None on some value"),))
    if node.encoding == "numerical" and all(
            math.isclose(float(y), float(ys[-1]) / xs[-1] * x, abs_tol=1e-12) if xs[-1] else False
            for x, y in zip(xs, ys)) and len(xs) > 1:
        c = float(ys[-1]) / xs[-1]
        bound = max(abs(c * x) for x in xs)
        ctx.add(node, "mlp", _linear(node, {x_dir: c}, [x_dir], bound))
        return
    ctx.add(node, "mlp", _steps(ctx, node, {x_dir: 1.0}, xs, ys, "discretising steps at midpoints"))


def _through_sum(ctx, fv: dict, xdirs, xvals, ydirs, yvals) -> Optional[tuple]:
    """f(x, y) = g(x + c·y), c = ±1, on numeric categorical values: discretise the linear form
    Σ x·onehot_x + c·Σ y·onehot_y (2 units per change of g) instead of a pair table.

    Either one-hot may be all zero (an operand with no value: the output has none either), so
    each value's weight is shifted by K and the form by -2K: exact when both are present,
    below every threshold by more than K/2 when one is missing. Only used when the one-hots'
    deviation — at most the off-target attention mass ε each — moves the form by less than a
    quarter of the smallest gap between its values. `fv` maps (x, y) to f(x, y). Returns the
    arguments of `_steps`."""
    if not all(is_plain_number(v) for v in (*xvals, *yvals)):
        return None
    eps = off_target_mass(ctx.config.max_seq_len, ctx.beta)
    for c in (1, -1):
        table: dict = {}
        for xv in xvals:
            for yv in yvals:
                s, z = xv + c * yv, fv[typed_key(xv), typed_key(yv)]
                if s in table and not same_value(table[s], z):
                    break
                table[s] = z
            else:
                continue
            break
        else:
            xs = sorted(table)
            gaps = [b - a for a, b in zip(xs, xs[1:])]
            span = max(map(abs, xvals)) + max(map(abs, yvals))
            k = 2.0 * (span + 1.0)
            noise = 2 * eps * (span + 2 * k)
            if not gaps or noise >= min(gaps) / 4:
                return None
            z = {d: float(v) + k for d, v in zip(xdirs, xvals)}
            z = added(z, {d: c * float(v) + k for d, v in zip(ydirs, yvals)})
            present = {**{d: 1.0 for d in xdirs}, **{d: 1.0 for d in ydirs}}
            return (z, xs, [table[x] for x in xs], f"steps on x {'+' if c > 0 else '-'} y",
                    -2.0 * k, present)
    return None


def _n_steps(ys: list) -> int:
    """Hidden units `_steps` uses for outputs ys with `present` (as `_through_sum` passes it:
    the first output is a snapped pair, 2 units)."""
    changes = sum(1 for a, b in zip(ys, ys[1:]) if not same_value(a, b))
    return 2 * (ys[0] is not None) + 2 * changes


def lower_sequence_map(ctx: LoweringContext, expr: rn.SequenceMap, node: NodeBasis) -> None:
    if isinstance(expr, rn.LinearSequenceMap) and node.encoding == "numerical":
        a, b = ctx.basis(expr.fst), ctx.basis(expr.snd)
        z = {}
        z = added(z, {BasisDirection(a.label): expr.fst_fac})
        z = added(z, {BasisDirection(b.label): expr.snd_fac})
        bound = (abs(expr.fst_fac) * max(map(abs, a.bounds))
                 + abs(expr.snd_fac) * max(map(abs, b.bounds)))
        reads = list(dict.fromkeys([BasisDirection(a.label), BasisDirection(b.label)]))
        ctx.add(node, "mlp", _linear(node, z, reads, bound))
        return
    xdirs, xvals = _categorical_read(ctx, expr.fst)
    ydirs, yvals = _categorical_read(ctx, expr.snd)
    if xdirs == ydirs:
        # Both arguments read the same one-hot: a lookup over single values.
        groups: dict = {}  # typed_key(z) -> (z, {direction: 1})
        for d, xv, yv in zip(xdirs, xvals, yvals):
            z = None if xv is None or yv is None else expr.f(xv, yv)
            if z is not None:
                groups.setdefault(typed_key(z), (z, {}))[1][d] = 1.0
        payload = _lookup(node, [(w, 0.0, z) for z, w in groups.values()], xdirs,
                          "lookup on a shared argument")
        ctx.add(node, "mlp", payload)
        return

    # f on every pair of values, once (both tables and the x ± y check read it)
    # (keyed by type-aware keys: 1 and True are different arguments)
    fv = {(typed_key(xv), typed_key(yv)): expr.f(xv, yv) for xv in xvals if xv is not None
          for yv in yvals if yv is not None}

    def table(outer_dirs, outer_vals, inner_dirs, inner_vals, swap):
        units = []
        for od, ov in zip(outer_dirs, outer_vals):
            by_z: dict = {}  # typed_key(z) -> (z, {direction: 1})
            for idr, iv in zip(inner_dirs, inner_vals):
                if ov is None or iv is None:
                    continue
                ko, ki = typed_key(ov), typed_key(iv)
                z = fv[ki, ko] if swap else fv[ko, ki]
                if z is not None:
                    by_z.setdefault(typed_key(z), (z, {}))[1][idr] = 1.0
            for z, w in by_z.values():
                units.append(({od: 1.0, **w}, 1.0, z))
        return units

    # [x_a + Σ_{b: f(a,b)=z} y_b > 3/2] = [x = a and f(a, y) = z] (a snapped pair per group);
    # iterate over the side that needs fewer units.
    by_x = table(xdirs, xvals, ydirs, yvals, swap=False)
    by_y = table(ydirs, yvals, xdirs, xvals, swap=True)
    units = by_x if len(by_x) <= len(by_y) else by_y
    # Steps on x ± y when they need fewer units; not for two-valued outputs, whose readers
    # often look at one value only (pruning then leaves ~2|x| table units: a snapped pair
    # per group).
    summed = _through_sum(ctx, fv, xdirs, xvals, ydirs, yvals) if len(node.values) > 2 else None
    if summed is not None and _n_steps(summed[2]) < sum(2 for *_, z in units
                                                        if _out_vector(node, z)):
        ctx.add(node, "mlp", _steps(ctx, node, *summed))
        return
    payload = _lookup(node, units, xdirs + ydirs, "pair lookup grouped by output")
    ctx.add(node, "mlp", payload)


# -- Attention ---------------------------------------------------------------------------------


def _conjuncts(sel: rn.Selector) -> list[rn.Select]:
    """The Select leaves of a conjunction (graph.rewrite leaves only Selects and ANDs here)."""
    if isinstance(sel, rn.SelectorAnd):
        return _conjuncts(sel.fst) + _conjuncts(sel.snd)
    return [sel]


def _qk_codes(ctx, sel: rn.Selector, *, average: bool) -> att.QKCodes:
    """Query/key codes of a Select or a conjunction of k Selects: the leaves' predicate codes
    summed (one head, gap β, see craft.attention), plus the BOS columns."""
    q_cols: list[dict] = []
    k_cols: list[dict] = []
    leaves = _conjuncts(sel)
    for leaf in leaves:
        qdirs, qvals = _categorical_read(ctx, leaf.queries)
        kdirs, kvals = _categorical_read(ctx, leaf.keys)
        q, k = att.predicate_codes(qdirs, qvals, kdirs, kvals, leaf.predicate, ctx.beta,
                                   label=leaf.label)
        q_cols += q
        k_cols += k
    return att.with_bos_columns(
        q_cols, k_cols, beta=ctx.beta,
        bos_key_logit=att.bos_key_logit(len(leaves), ctx.beta, average=average),
        bos_values=ctx.bos_values)


def lower_aggregate(ctx: LoweringContext, expr: rn.Aggregate, node: NodeBasis) -> None:
    codes = _qk_codes(ctx, expr.selector, average=True)
    writes = list(node.directions)
    if node.encoding == "categorical":
        vdirs, vvals = _categorical_read(ctx, expr.sop)
        w_v = np.zeros((len(vdirs), len(writes)))
        index = {typed_key(d.value): i for i, d in enumerate(writes)}
        for r, v in enumerate(vvals):
            # a value missing from the output's set is never selected (bases: never_selects)
            if v is not None and typed_key(v) in index:
                w_v[r, index[typed_key(v)]] = 1.0
        default = np.zeros(len(writes))
        if expr.default is not None and typed_key(expr.default) in index:
            default[index[typed_key(expr.default)]] = 1.0  # absent: the selector is never empty
    else:
        sop_basis, fn = _resolve(ctx, expr.sop)
        if sop_basis.encoding == "numerical":
            vdirs, weights = [BasisDirection(sop_basis.label)], [1.0]
        else:
            vdirs = list(sop_basis.directions)
            weights = [0.0 if fn(d.value) is None else float(fn(d.value)) for d in vdirs]
        w_v = np.zeros((len(vdirs), 1))
        w_v[:, 0] = weights
        default = np.array([float(expr.default)])
    head = att.select_head(
        node.label, codes, vdirs, w_v, writes, default=default, bos_values=ctx.bos_values,
        note="select: logit β·P(k,q), BOS key β/2; value = selected, default at BOS")
    ctx.add(node, "attn", head)
    for d, v in zip(writes, default):
        ctx.bos_values[d] = float(v)


def lower_selector_width(ctx: LoweringContext, expr: rn.SelectorWidth, node: NodeBasis) -> None:
    scratch = BasisDirection(f"{node.label}.bos_weight", internal=True)
    codes = _qk_codes(ctx, expr.selector, average=False)
    # No value reads, default 1: the head writes the attention on BOS, 1/(w+1).
    head = att.select_head(
        node.label, codes, (), np.zeros((0, 1)), (scratch,), default=[1.0],
        bos_values=ctx.bos_values,
        note="BOS selected alongside the selection: attention on BOS = 1/(w+1)")
    attn_id = ctx.add(node, "attn", head)
    ctx.bos_values[scratch] = 1.0
    widths = list(node.values)
    mlp, steps = width_decoder_mlp(node.label, scratch, widths,
                                   [_out_vector(node, w) for w in widths], node.directions)
    ctx.add_steps(steps)
    ctx.add(node, "mlp", mlp, (attn_id,))


def _no_block(ctx, expr, node) -> None:
    """Selectors are realised inside the attention heads of their readers; a loop's state
    (LoopVar) is written by the loop's entry and update MLPs (`_lower_loop`)."""


def _loop_node(ctx, expr, node) -> None:
    """A Loop node never reaches lowering: compiler.looped reads its final state from the
    state's directions (the LoopVar's)."""
    raise UnsupportedProgram(f"{node.label}: a loop must be compiled by theory_kit.compile, "
                             "which replaces it by its state", (
                                 Problem(node.label, "a Loop node reached lowering"),))


#: node class -> lowering rule (cvxpy-style canonicalisation table).
LOWERING = {
    rn.TokensType: lower_tokens,
    rn.IndicesType: lower_indices,
    rn.LengthType: lower_length,
    rn.Full: lower_full,
    rn.Map: lower_map,
    rn.SequenceMap: lower_sequence_map,
    rn.LinearSequenceMap: lower_sequence_map,
    rn.Aggregate: lower_aggregate,
    rn.SelectorWidth: lower_selector_width,
    rn.Select: _no_block,
    rn.SelectorAnd: _no_block,
    rn.SelectorOr: _no_block,
    rn.SelectorNot: _no_block,
    LoopVar: _no_block,
    Loop: _loop_node,
}


def lower_node(ctx: LoweringContext, expr: rn.RASPExpr, node: NodeBasis) -> None:
    """Lower one node through LOWERING.

    Raises:
        UnsupportedProgram: for a node class without a rule, naming the node.
    """
    try:
        rule = LOWERING[type(expr)]
    except KeyError:
        raise UnsupportedProgram(f"{node.label}: no lowering for {type(expr).__name__}", (
            Problem(node.label, f"node class {type(expr).__name__} has no lowering"),)) from None
    rule(ctx, expr, node)
