"""The lowering table: RASP node class -> constructor of named-basis blocks (stage 3).

Conventions every block keeps (the derivations the constructions rely on):
  * ("bos",) is exactly 1 at BOS and 0 elsewhere, ("one",) is 1 everywhere; both are exact.
  * Every MLP is *gated* at BOS: each hidden pre-activation gets -M·bos with M above its
    largest value, so MLP outputs are exactly 0 at BOS. Attention outputs at BOS are known
    constants (`bos_values`): a BOS query attends to BOS with logit β (others 0), and readers
    subtract the known BOS value through their `bos` row ("BOS compensation").
  * Attention (the BOS half-logit trick): logit β for selected keys, c for the BOS key, 0 for
    the rest, with c = β/2 for Aggregate and c = β for SelectorWidth. Softmax-to-hardmax:
    the off-target mass is at most (N+1)·e^{-β/2} (gap β/2 against at most N+1 positions),
    which β = 2·ln((N+1)/ε) makes ≤ ε.
  * Discretising steps: u = relu(L(x-t)+1/2) - relu(L(x-t)-1/2) is exactly [x > t] when
    |x - t| ≥ 1/(2L); with L = 2/gap the step tolerates input noise up to gap/4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.ir import BasisAssignment, Block, NodeBasis
from theory_kit.craft.bases import BOS, ONE, BasisDirection, is_plain_number, typed_key
from theory_kit.values import same_value
from theory_kit.craft.blocks import MLP, AttentionHead
from theory_kit.errors import UnsupportedProgram
from theory_kit.rasp import nodes as rn
from theory_kit.rasp.validate import Problem

__all__ = ["LOWERING", "lower_node", "LoweringContext", "derive_beta"]


def derive_beta(max_seq_len: int, epsilon: float) -> float:
    """β = 2·ln((N+1)/ε): off-target attention mass (N+1)e^{-β/2} = ε (N = max_seq_len)."""
    return 2.0 * math.log((max_seq_len + 1) / epsilon)


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


# ---------------------------------------------------------------------------------------------
# Reading SOps (possibly fused Maps) as linear functions of materialised directions
# ---------------------------------------------------------------------------------------------


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


def _bos_vector(ctx, dirs) -> np.ndarray:
    return np.array([ctx.bos_values.get(d, 0.0) for d in dirs])


def _rows(dirs: list, *extra: BasisDirection) -> tuple[BasisDirection, ...]:
    return tuple(dirs) + tuple(extra)


# ---------------------------------------------------------------------------------------------
# Embedding-level nodes
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# MLPs
# ---------------------------------------------------------------------------------------------


class _MLPBuilder:
    """Accumulates hidden units: pre = Σ w·x + b - gate·bos; out += relu(pre) · w_out."""

    def __init__(self, reads: list, writes: list):
        self.reads = list(reads) + ([BOS] if BOS not in reads else [])
        self.writes = list(writes)
        self.r = {d: i for i, d in enumerate(self.reads)}
        self.w = {d: i for i, d in enumerate(self.writes)}
        self.cols_in, self.bias, self.cols_out = [], [], []

    def unit(self, w_in: dict, b: float, w_out: dict, gate: float) -> None:
        col = np.zeros(len(self.reads))
        for d, c in w_in.items():
            col[self.r[d]] += c
        col[self.r[BOS]] -= gate
        out = np.zeros(len(self.writes))
        for d, c in w_out.items():
            out[self.w[d]] += c
        self.cols_in.append(col)
        self.bias.append(b)
        self.cols_out.append(out)

    def build(self, label: str, note: str) -> MLP:
        h = len(self.cols_in)
        w_in = np.stack(self.cols_in, axis=1) if h else np.zeros((len(self.reads), 0))
        w_out = np.stack(self.cols_out, axis=0) if h else np.zeros((0, len(self.writes)))
        return MLP(label=label, reads=tuple(self.reads), writes=tuple(self.writes), w_in=w_in,
                   b_in=np.array(self.bias, dtype=float), w_out=w_out, note=note)


def _out_vector(node: NodeBasis, value) -> dict:
    """What writing `value` to `node` adds: a one-hot or a number."""
    if value is None:
        return {}
    if node.encoding == "numerical":
        return {BasisDirection(node.label): float(value)}
    return {BasisDirection(node.label, value): 1.0}


def _scaled(vec: dict, c: float) -> dict:
    return {d: c * v for d, v in vec.items()}


def _add(a: dict, b: dict, c: float = 1.0) -> dict:
    out = dict(a)
    for d, v in b.items():
        out[d] = out.get(d, 0.0) + c * v
    return out


def _lookup_mlp(ctx, node: NodeBasis, groups: list[tuple[dict, float, Any]], reads, note):
    """Units relu(Σ x - offset - 2·bos), one per (input pattern -> output value) group."""
    mlp = _MLPBuilder(reads, node.directions)
    for w_in, offset, value in groups:
        out = _out_vector(node, value)
        if out:
            mlp.unit(w_in, -offset, out, gate=2.0 + offset)
    return mlp.build(node.label, note)


def lower_map(ctx: LoweringContext, expr: rn.Map, node: NodeBasis) -> None:
    if node.virtual:
        return
    base, fn = _resolve(ctx, expr.inner)
    if base.encoding == "categorical":
        dirs = list(base.directions)
        outs = [_apply_total(fn, expr.f, d.value) for d in dirs]
        if node.encoding == "categorical":
            # relu(Σ_{v: f(v)=y} x_v): x is one-hot, so the sum is [f(x) = y]; one unit per y.
            by_value: dict = {}  # typed_key(y) -> (y, {direction: 1})
            for d, y in zip(dirs, outs):
                if y is not None:
                    by_value.setdefault(typed_key(y), (y, {}))[1][d] = 1.0
            groups = [(w, 0.0, y) for y, w in by_value.values()]
            payload = _lookup_mlp(ctx, node, groups, dirs, "categorical lookup")
        else:
            # f is linear in the one-hot: z = Σ f(v) x_v = relu(z) - relu(-z).
            z = {d: float(y) for d, y in zip(dirs, outs) if y is not None}
            payload = _linear_mlp(node, z, dirs, bound=max([abs(v) for v in z.values()] + [0.0]))
        ctx.add(node, "mlp", payload)
        return
    _discretising_map(ctx, expr, node, base, fn)


def _apply_total(inner_fn, f, v):
    w = inner_fn(v)
    return None if w is None else f(w)


def _linear_mlp(node: NodeBasis, z: dict, reads, bound: float) -> MLP:
    """Exact linear map z (numerical output) as relu(z) - relu(-z), gated at BOS."""
    out = BasisDirection(node.label)
    mlp = _MLPBuilder(reads, [out])
    gate = bound + 1.0
    mlp.unit(z, 0.0, {out: 1.0}, gate=gate)
    mlp.unit(_scaled(z, -1.0), 0.0, {out: -1.0}, gate=gate)
    return mlp.build(node.label, "linear: relu(z) - relu(-z)")


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
        ctx.add(node, "mlp", _linear_mlp(node, {x_dir: c}, [x_dir], bound))
        return
    ctx.add(node, "mlp", _steps(ctx, node, {x_dir: 1.0}, xs, ys, "discretising steps at midpoints"))


def _steps(ctx, node: NodeBasis, z: dict, xs: list, ys: list, note: str, offset: float = 0.0,
           present: Optional[dict] = None) -> MLP:
    """MLP writing ys[j] where the affine form z = Σ c·x_d + offset equals xs[j] (xs sorted,
    distinct): the constant ys[0], then a ReLU pair of slope 2/gap at each midpoint where the
    output changes (exactly 0 or 1 whenever z is within a quarter gap of a value in xs).

    `present` (the one-hots of two operands that may be all zero, e.g. an empty categorical
    aggregate) gates the constant by relu(Σ present - 1), 1 only when both hold a value; the
    caller's offset then puts z far below xs[0] otherwise."""
    mlp = _MLPBuilder(list(z), node.directions)
    first = _out_vector(node, ys[0])
    if first and present is None:
        # Constant term f(x_0), gated: relu(1 - 2·bos) is 1 off BOS and 0 at BOS.
        mlp.unit({}, 1.0, first, gate=2.0)
    elif first:
        mlp.unit(present, -1.0, first, gate=2.0)
    xmax = max(abs(x) for x in xs) + abs(offset)
    for j in range(len(xs) - 1):
        if same_value(ys[j], ys[j + 1]):
            continue  # f does not change here: no threshold needed
        gap = xs[j + 1] - xs[j]
        t = (xs[j] + xs[j + 1]) / 2
        slope = 2.0 / gap
        ctx.slopes.append({"node": node.label, "slope": slope, "gap": gap, "threshold": t})
        delta = _add(_out_vector(node, ys[j + 1]), _out_vector(node, ys[j]), -1.0)
        gate = slope * (xmax + abs(t)) + 1.0
        w_in = _scaled(z, slope)
        b = slope * (offset - t)
        mlp.unit(w_in, b + 0.5, delta, gate=gate)
        mlp.unit(w_in, b - 0.5, _scaled(delta, -1.0), gate=gate)
    return mlp.build(node.label, note)


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
    eps = (ctx.config.max_seq_len + 1) * math.exp(-ctx.beta / 2)
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
            z = _add(z, {d: c * float(v) + k for d, v in zip(ydirs, yvals)})
            present = {**{d: 1.0 for d in xdirs}, **{d: 1.0 for d in ydirs}}
            return (z, xs, [table[x] for x in xs], f"steps on x {'+' if c > 0 else '-'} y",
                    -2.0 * k, present)
    return None


def _n_steps(ys: list) -> int:
    """Hidden units `_steps` uses for outputs ys."""
    changes = sum(1 for a, b in zip(ys, ys[1:]) if not same_value(a, b))
    return (ys[0] is not None) + 2 * changes


def lower_sequence_map(ctx: LoweringContext, expr: rn.SequenceMap, node: NodeBasis) -> None:
    if isinstance(expr, rn.LinearSequenceMap) and node.encoding == "numerical":
        a, b = ctx.basis(expr.fst), ctx.basis(expr.snd)
        z = {}
        z = _add(z, {BasisDirection(a.label): expr.fst_fac})
        z = _add(z, {BasisDirection(b.label): expr.snd_fac})
        bound = (abs(expr.fst_fac) * max(map(abs, a.bounds))
                 + abs(expr.snd_fac) * max(map(abs, b.bounds)))
        reads = list(dict.fromkeys([BasisDirection(a.label), BasisDirection(b.label)]))
        ctx.add(node, "mlp", _linear_mlp(node, z, reads, bound))
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
        payload = _lookup_mlp(ctx, node, [(w, 0.0, z) for z, w in groups.values()], xdirs,
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

    # relu(x_a + Σ_{b: f(a,b)=z} y_b - 1) = [x = a and f(a, y) = z]; iterate over the side
    # that needs fewer units.
    by_x = table(xdirs, xvals, ydirs, yvals, swap=False)
    by_y = table(ydirs, yvals, xdirs, xvals, swap=True)
    units = by_x if len(by_x) <= len(by_y) else by_y
    # Steps on x ± y when they need fewer units; not for two-valued outputs, whose readers
    # often look at one value only (pruning then leaves ~|x| table units, fewer than 5 steps).
    summed = _through_sum(ctx, fv, xdirs, xvals, ydirs, yvals) if len(node.values) > 2 else None
    if summed is not None and _n_steps(summed[2]) < sum(1 for *_, z in units
                                                        if _out_vector(node, z)):
        ctx.add(node, "mlp", _steps(ctx, node, *summed))
        return
    payload = _lookup_mlp(ctx, node, units, xdirs + ydirs, "pair lookup grouped by output")
    ctx.add(node, "mlp", payload)


# ---------------------------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------------------------


def _predicate_matrix(ctx, sel: rn.Select):
    qdirs, qvals = _categorical_read(ctx, sel.queries)
    kdirs, kvals = _categorical_read(ctx, sel.keys)
    P = np.zeros((len(qdirs), len(kdirs)), dtype=bool)
    for i, q in enumerate(qvals):
        for j, k in enumerate(kvals):
            if q is None or k is None:
                continue
            try:
                P[i, j] = bool(sel.predicate(k, q))
            except Exception as exc:
                raise UnsupportedProgram(
                    f"{sel.label}: predicate raises {type(exc).__name__}({exc}) on key {k!r}, "
                    f"query {q!r}", (Problem(sel.label, f"predicate raises on key {k!r}, "
                                             f"query {q!r}"),)) from exc
    return qdirs, kdirs, P


def _group(rows: np.ndarray) -> list[list[int]]:
    groups: dict = {}
    for i, row in enumerate(rows):
        groups.setdefault(row.tobytes(), []).append(i)
    return list(groups.values())


def _conjuncts(sel: rn.Selector) -> list[rn.Select]:
    """The Select leaves of a conjunction (graph.rewrite leaves only Selects and ANDs here)."""
    if isinstance(sel, rn.SelectorAnd):
        return _conjuncts(sel.fst) + _conjuncts(sel.snd)
    return [sel]


def _qk_codes(ctx, sel: rn.Selector, bos_offset: float):
    """W_q, W_k (rows: read directions) for a Select or a conjunction of k Selects.

    Logit(q, key) = β·Σ_i P_i(key, q), so a key selected by all k leaves scores kβ and any
    other at most (k-1)β: the conjunction is the argmax set with gap β, one head and no
    tuple SOps. The BOS key scores c = (k - bos_offset)·β (offset 1/2 for Aggregate, 0 for
    SelectorWidth); a BOS query scores β on the BOS key and 0 elsewhere.
    """
    beta = ctx.beta
    leaves = _conjuncts(sel)
    q_cols: list[dict] = []  # each code coordinate as {direction: weight}
    k_cols: list[dict] = []
    for leaf in leaves:
        _leaf_codes(ctx, leaf, q_cols, k_cols)
    bos_key_logit = (len(leaves) - bos_offset) * beta
    real = {ONE: 1.0, BOS: -1.0}  # 1 at every real position, 0 at BOS
    return _finish_codes(ctx, q_cols, k_cols, bos_key_logit, real)


def _leaf_codes(ctx, sel: rn.Select, q_cols: list, k_cols: list) -> None:
    """Append the code coordinates of one Select: Σ_coords q·k = β·P(key, query)."""
    beta = ctx.beta
    qdirs, kdirs, P = _predicate_matrix(ctx, sel)
    real = {ONE: 1.0, BOS: -1.0}
    if P.size and P.all():
        q_cols.append(dict(real))
        k_cols.append(_scaled(real, beta))
    elif P.any():
        row_groups = _group(P)
        col_groups = _group(P.T)
        if len(row_groups) == 1:  # predicate ignores the query
            q_cols.append(dict(real))
            k_cols.append({kdirs[j]: beta for j in np.flatnonzero(P[0])})
        elif len(col_groups) == 1:  # predicate ignores the key
            q_cols.append({qdirs[i]: 1.0 for i in np.flatnonzero(P[:, 0])})
            k_cols.append(_scaled(real, beta))
        elif len(row_groups) <= len(col_groups):
            for g in row_groups:
                q_cols.append({qdirs[i]: 1.0 for i in g})
                k_cols.append({kdirs[j]: beta for j in np.flatnonzero(P[g[0]])})
        else:
            for g in col_groups:
                k_cols.append({kdirs[j]: beta for j in g})
                q_cols.append({qdirs[i]: 1.0 for i in np.flatnonzero(P[:, g[0]])})


def _finish_codes(ctx, q_cols, k_cols, bos_key_logit, real):
    beta = ctx.beta
    # BOS compensation: the query/key codes must vanish at BOS, whatever BOS holds there.
    for cols in (q_cols, k_cols):
        for col in cols:
            at_bos = sum(w * ctx.bos_values.get(d, 0.0) for d, w in col.items() if d not in (ONE, BOS))
            if at_bos:
                col[BOS] = col.get(BOS, 0.0) - at_bos
    # Extra coordinates: real query x BOS key = c; BOS query x BOS key = β.
    q_cols.append(dict(real))
    k_cols.append({BOS: bos_key_logit})
    q_cols.append({BOS: 1.0})
    k_cols.append({BOS: beta})
    q_index = {d: i for i, d in enumerate(dict.fromkeys(d for col in q_cols for d in col))}
    k_index = {d: i for i, d in enumerate(dict.fromkeys(d for col in k_cols for d in col))}
    w_q = np.zeros((len(q_index), len(q_cols)))
    w_k = np.zeros((len(k_index), len(k_cols)))
    for c, col in enumerate(q_cols):
        for d, w in col.items():
            w_q[q_index[d], c] += w
    for c, col in enumerate(k_cols):
        for d, w in col.items():
            w_k[k_index[d], c] += w
    return tuple(q_index), tuple(k_index), w_q, w_k


def lower_aggregate(ctx: LoweringContext, expr: rn.Aggregate, node: NodeBasis) -> None:
    sel = expr.selector
    q_reads, k_reads, w_q, w_k = _qk_codes(ctx, sel, bos_offset=0.5)
    writes = list(node.directions)
    if node.encoding == "categorical":
        vdirs, vvals = _categorical_read(ctx, expr.sop)
        w_v = np.zeros((len(vdirs) + 1, len(writes)))
        index = {typed_key(d.value): i for i, d in enumerate(writes)}
        for r, v in enumerate(vvals):
            if v is not None:
                w_v[r, index[typed_key(v)]] = 1.0
        default = np.zeros(len(writes))
        if expr.default is not None:
            default[index[typed_key(expr.default)]] = 1.0
    else:
        sop_basis, fn = _resolve(ctx, expr.sop)
        if sop_basis.encoding == "numerical":
            vdirs, weights = [BasisDirection(sop_basis.label)], [1.0]
        else:
            vdirs = list(sop_basis.directions)
            weights = [0.0 if fn(d.value) is None else float(fn(d.value)) for d in vdirs]
        w_v = np.zeros((len(vdirs) + 1, 1))
        w_v[:len(vdirs), 0] = weights
        default = np.array([float(expr.default)])
    # BOS row: the value BOS contributes is the default, whatever the SOp holds at BOS.
    w_v[-1] = default - _bos_vector(ctx, vdirs) @ w_v[:-1]
    head = AttentionHead(
        label=node.label, reads_q=q_reads, reads_k=k_reads, reads_v=_rows(vdirs, BOS),
        writes=tuple(writes), w_q=w_q, w_k=w_k, w_v=w_v, w_o=np.eye(len(writes)),
        note="select: logit β·P(k,q), BOS key β/2; value = selected, default at BOS")
    ctx.add(node, "attn", head)
    for d, v in zip(writes, default):
        ctx.bos_values[d] = float(v)


def lower_selector_width(ctx: LoweringContext, expr: rn.SelectorWidth, node: NodeBasis) -> None:
    scratch = BasisDirection(f"{node.label}.bos_weight", internal=True)
    q_reads, k_reads, w_q, w_k = _qk_codes(ctx, expr.selector, bos_offset=0.0)
    head = AttentionHead(
        label=node.label, reads_q=q_reads, reads_k=k_reads, reads_v=(BOS,), writes=(scratch,),
        w_q=w_q, w_k=w_k, w_v=np.ones((1, 1)), w_o=np.ones((1, 1)),
        note="BOS selected alongside the selection: attention on BOS = 1/(w+1)")
    attn_id = ctx.add(node, "attn", head)
    ctx.bos_values[scratch] = 1.0
    widths = list(node.values)
    mlp = _MLPBuilder([scratch], node.directions + (scratch,))
    first = _out_vector(node, widths[0])
    mlp.unit({}, 1.0, first, gate=2.0)
    for j in range(len(widths) - 1):
        a_hi, a_lo = 1.0 / (widths[j] + 1), 1.0 / (widths[j + 1] + 1)
        gap = a_hi - a_lo
        t = (a_hi + a_lo) / 2
        slope = 2.0 / gap
        ctx.slopes.append({"node": node.label, "slope": slope, "gap": gap, "threshold": t})
        # u = [a < t] means width > widths[j]; it moves the one-hot from w_j to w_{j+1}.
        delta = _add(_out_vector(node, widths[j + 1]), _out_vector(node, widths[j]), -1.0)
        gate = slope + 1.0
        mlp.unit({scratch: -slope}, slope * t + 0.5, delta, gate=gate)
        mlp.unit({scratch: -slope}, slope * t - 0.5, _scaled(delta, -1.0), gate=gate)
    # Clean the scratch dimension (a >= 0 everywhere, BOS included) so it can be reused.
    mlp.unit({scratch: 1.0, BOS: 0.0}, 0.0, {scratch: -1.0}, gate=0.0)
    ctx.add(node, "mlp", mlp.build(node.label, "decode 1/(w+1) into w by steps"), (attn_id,))


def _no_block(ctx, expr, node) -> None:
    """Selectors are realised inside the attention heads of their readers."""


#: node class -> lowering function (cvxpy-style canonicalisation table).
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
}


def lower_node(ctx: LoweringContext, expr: rn.RASPExpr, node: NodeBasis) -> None:
    try:
        rule = LOWERING[type(expr)]
    except KeyError:
        raise UnsupportedProgram(f"{node.label}: no lowering for {type(expr).__name__}", (
            Problem(node.label, f"node class {type(expr).__name__} has no lowering"),)) from None
    rule(ctx, expr, node)
