"""RASP-free MLP constructors: named directions and numbers in, a gated ReLU `MLP` out.

Conventions every constructor keeps (and the derivations it relies on):
  * ("bos",) is exactly 1 at BOS and 0 elsewhere, ("one",) is 1 everywhere (the embedding
    writes both exactly).
  * Every MLP is *gated* at BOS: each hidden pre-activation gets -gate·bos with the gate above
    the unit's largest pre-activation there, so every output is exactly 0 at BOS.
  * Inputs are one-hots (categorical values, possibly all zero for "no value") or numbers; the
    constructors never know which RASP node produced them.

Shape letters: R read directions, W written directions, H hidden units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Mapping, Optional, Sequence

import numpy as np

from theory_kit.craft.bases import BOS, BasisDirection
from theory_kit.craft.blocks import MLP

__all__ = ["MLPBuilder", "Step", "LOOKUP_SLOPE", "snapped_units", "lookup_mlp", "linear_mlp",
           "step_mlp", "width_decoder_mlp", "scaled", "added"]

Vector = Mapping[BasisDirection, float]


def scaled(vec: Vector, c: float) -> dict:
    """c·vec, as {direction: coefficient}."""
    return {d: c * v for d, v in vec.items()}


def added(a: Vector, b: Vector, c: float = 1.0) -> dict:
    """a + c·b, as {direction: coefficient} (a's directions first, then b's new ones)."""
    out = dict(a)
    for d, v in b.items():
        out[d] = out.get(d, 0.0) + c * v
    return out


@dataclass(frozen=True)
class Step:
    """One discretising threshold: a ReLU pair of `slope` at `threshold`, between two input
    values `gap` apart (the compiler records these as its MLP slopes)."""

    label: str
    slope: float
    gap: float
    threshold: float

    def as_dict(self) -> dict:
        return {"node": self.label, "slope": self.slope, "gap": self.gap,
                "threshold": self.threshold}


class MLPBuilder:
    """Accumulates gated ReLU units, then lays them out as an `MLP`.

    A unit is pre = Σ_d w_in[d]·x_d + b - gate·x_bos; it adds relu(pre)·w_out to the written
    directions. ("bos",) is always read (appended when not among `reads`), so `gate` above the
    unit's largest pre-activation at BOS switches it off exactly there.

    Args:
        reads: directions the MLP reads (rows of w_in, in this order; BOS appended if absent).
        writes: directions it writes (columns of w_out, in this order).
    """

    def __init__(self, reads: Sequence[BasisDirection], writes: Sequence[BasisDirection]):
        self.reads = list(reads) + ([BOS] if BOS not in reads else [])
        self.writes = list(writes)
        self.r = {d: i for i, d in enumerate(self.reads)}
        self.w = {d: i for i, d in enumerate(self.writes)}
        self.cols_in, self.bias, self.cols_out = [], [], []

    def unit(self, w_in: Vector, b: float, w_out: Vector, gate: float) -> None:
        """Add the unit relu(Σ w_in·x + b - gate·bos) · w_out.

        Raises:
            KeyError: when w_in reads, or w_out writes, a direction the builder does not have.
        """
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

    @property
    def hidden(self) -> int:
        return len(self.cols_in)

    def build(self, label: str, note: str) -> MLP:
        """The MLP of the units added so far (w_in [R, H], b_in [H], w_out [H, W])."""
        h = len(self.cols_in)
        w_in = np.stack(self.cols_in, axis=1) if h else np.zeros((len(self.reads), 0))
        w_out = np.stack(self.cols_out, axis=0) if h else np.zeros((0, len(self.writes)))
        return MLP(label=label, reads=tuple(self.reads), writes=tuple(self.writes), w_in=w_in,
                   b_in=np.array(self.bias, dtype=float), w_out=w_out, note=note)


#: Slope k of the snapped lookup units (as craft.loop.SNAP_SLOPE): a pattern sum within
#: 1/2 - 1/(2k) = 3/8 of an integer gives an exact 0 or 1.
LOOKUP_SLOPE = 4.0

#: The largest pattern sum a lookup unit sees at BOS: at most two one-hots are read, each at
#: most one-hot there (an Aggregate's default), so Σ_{d ∈ pattern} x_d ≤ 2.
LOOKUP_BOS_SUM = 2.0


def snapped_units(mlp: MLPBuilder, w_in: Vector, offset: float, out: Vector, *,
                  slope: float = LOOKUP_SLOPE, bos_sum: float = LOOKUP_BOS_SUM) -> None:
    """Add [Σ w_in·x > offset + 1/2]·out as a snapped ReLU pair, gated at BOS.

    Identity: with z = Σ w_in·x - offset - 1/2,

        relu(k·z + 1/2) - relu(k·z - 1/2)

    is exactly 0 for z ≤ -1/(2k) and exactly 1 for z ≥ 1/(2k) (the step identity of
    `step_mlp`; craft.loop snaps the loop state the same way). For one-hot inputs the pattern
    sum is an integer up to the inputs' errors, so it is exact while those errors move the sum
    by less than 1/2 - 1/(2k) (3/8 for k = 4): the output no longer carries the input error,
    and errors cannot compound through chains of lookups and Selects reading them.
    Gate k·(bos_sum - offset) + 1 (at least 1): above k·(bos_sum - offset - 1/2) + 1/2, the
    larger pre-activation at BOS, so both units are 0 there.
    """
    gate = max(slope * (bos_sum - offset), 0.0) + 1.0
    w = scaled(w_in, slope)
    b = -slope * (offset + 0.5)
    mlp.unit(w, b + 0.5, out, gate=gate)
    mlp.unit(w, b - 0.5, scaled(out, -1.0), gate=gate)


def lookup_mlp(label: str, reads: Sequence[BasisDirection], writes: Sequence[BasisDirection],
               groups: Sequence[tuple[Vector, float, Vector]], note: str) -> MLP:
    """A table lookup on one-hot inputs: one snapped ReLU pair per (pattern, offset, output)
    group.

    Identity: group g adds [Σ_{d ∈ pattern_g} x_d > offset_g + 1/2]·output_g (`snapped_units`,
    two units); with one-hot inputs the sum counts how many of the pattern's directions are on.
    A pattern over one one-hot (offset 0) gives [x ∈ pattern] ∈ {0, 1}; a pattern of one
    direction of x plus directions of y (offset 1) gives [x = a and y ∈ pattern] (x_a + Σ y_b
    ≤ 2). The MLP writes Σ_g [pattern g matches]·output_g.

    Exactness. Each indicator is exactly 0 or 1 while the inputs' errors move its pattern sum
    by less than 3/8, whatever they are below that (a plain relu(Σ x_d - offset) would pass
    the input error on linearly, and a Select reading the output multiplies it by β: errors
    grew geometrically along deep programs).
    Several groups writing the same direction stay exact: each adds an exact 0 or 1 times its
    output, and for a one-hot input at most one group per output value matches (groups of one
    one-hot partition its values; pair groups for x = a differ in a), so a categorical output
    is an exact one-hot (or exactly 0: no group matches) up to the rounding of the sums.
    At BOS the pattern sum is at most 2 (`LOOKUP_BOS_SUM`), below every unit's gate.

    Args:
        label: the MLP's label.
        reads: the one-hot directions patterns may use (BOS is appended).
        writes: the directions outputs may write.
        groups: (pattern {direction: weight}, offset, output {direction: value}); groups with
            an empty output are skipped (they would write nothing).
        note: the MLP's note.

    Returns:
        The MLP (H = 2 × the number of groups with a non-empty output).
    """
    mlp = MLPBuilder(reads, writes)
    for w_in, offset, out in groups:
        if out:
            snapped_units(mlp, w_in, offset, out)
    return mlp.build(label, note)


def linear_mlp(label: str, out: BasisDirection, form: Vector, reads: Sequence[BasisDirection],
               bound: float, note: str = "linear: relu(z) - relu(-z)") -> MLP:
    """An exact linear map z = Σ c_d·x_d written to one numerical direction `out`.

    Identity: z = relu(z) - relu(-z) for every real z (two units). Gated at BOS with
    gate = bound + 1, where `bound` ≥ |z| at BOS, so both units are 0 there.

    Args:
        label: the MLP's label.
        out: the numerical direction written.
        form: the coefficients {direction: c_d} of z.
        reads: the directions read (must include every direction of `form`; BOS appended).
        bound: an upper bound on |z| wherever the MLP runs (BOS included).
        note: the MLP's note.

    Returns:
        The two-unit MLP.
    """
    mlp = MLPBuilder(reads, [out])
    gate = bound + 1.0
    mlp.unit(form, 0.0, {out: 1.0}, gate=gate)
    mlp.unit(scaled(form, -1.0), 0.0, {out: -1.0}, gate=gate)
    return mlp.build(label, note)


def step_mlp(label: str, form: Vector, xs: Sequence[float], outputs: Sequence[Vector],
             writes: Sequence[BasisDirection], *, note: str = "discretising steps at midpoints",
             offset: float = 0.0, present: Optional[Vector] = None,
             levels: Optional[Sequence[Hashable]] = None) -> tuple[MLP, tuple[Step, ...]]:
    """Write outputs[j] where the affine form z = Σ c_d·x_d + offset equals xs[j].

    Construction: the constant outputs[0], then at each midpoint t between neighbours xs[j],
    xs[j+1] where the output changes, a ReLU pair of slope L = 2/gap (gap = xs[j+1] - xs[j])
    adding outputs[j+1] - outputs[j]:

        u = relu(L(z-t) + 1/2) - relu(L(z-t) - 1/2)  is exactly [z > t] when |z - t| ≥ 1/(2L).

    With L = 2/gap every value of xs is gap/2 from t, so each step is exact for z within
    gap/4 of a value in xs (bounds.relu_exact_slope(gap, rho=1/4) = 2/gap). Gated at BOS with
    gate = L·(max|xs| + |offset| + |t|) + 1 ≥ the pair's pre-activations there.

    `present` (directions of one-hots that may be all zero, e.g. two operands that may hold
    no value) replaces the constant unit by the snapped pair [Σ present > 3/2]
    (`snapped_units`, exact 0 or 1 like the steps): 1 only when both one-hots hold a value. The caller's offset then puts z far below xs[0] when one is missing, so no
    step fires and the MLP writes nothing.

    Args:
        label: the MLP's label.
        form: the coefficients {direction: c_d} of z (its directions are the reads).
        xs: the values z takes, sorted ascending and distinct.
        outputs: the vector to write at each xs[j] ({} for "no value").
        writes: every direction an output may write.
        note: the MLP's note.
        offset: the constant term of z.
        present: see above; None for the ungated constant relu(1 - 2·bos).
        levels: optional identity of each output level; a step is placed between j and j+1 iff
            levels[j] != levels[j+1] (default: iff the output vectors differ). Lets a caller
            keep steps between values that write the same vector (1 and 1.0).

    Returns:
        (the MLP, the steps it placed).
    """
    keys = list(levels) if levels is not None else [dict(o) for o in outputs]
    mlp = MLPBuilder(list(form), writes)
    steps = []
    first = outputs[0]
    if first and present is None:
        # Constant term outputs[0], gated: relu(1 - 2·bos) is 1 off BOS and 0 at BOS.
        mlp.unit({}, 1.0, first, gate=2.0)
    elif first:
        snapped_units(mlp, present, 1.0, first)
    xmax = max(abs(x) for x in xs) + abs(offset)
    for j in range(len(xs) - 1):
        if keys[j] == keys[j + 1]:
            continue  # the output does not change here: no threshold needed
        gap = xs[j + 1] - xs[j]
        t = (xs[j] + xs[j + 1]) / 2
        slope = 2.0 / gap
        steps.append(Step(label, slope, gap, t))
        delta = added(outputs[j + 1], outputs[j], -1.0)
        gate = slope * (xmax + abs(t)) + 1.0
        w_in = scaled(form, slope)
        b = slope * (offset - t)
        mlp.unit(w_in, b + 0.5, delta, gate=gate)
        mlp.unit(w_in, b - 0.5, scaled(delta, -1.0), gate=gate)
    return mlp.build(label, note), tuple(steps)


def width_decoder_mlp(label: str, weight: BasisDirection, widths: Sequence[int],
                      outputs: Sequence[Vector], writes: Sequence[BasisDirection],
                      note: str = "decode 1/(w+1) into w by steps") -> tuple[MLP, tuple[Step, ...]]:
    """Decode a = 1/(w+1) (the attention a head pays to BOS when BOS is selected alongside w
    keys, read from the scratch direction `weight`) into outputs[j] for w = widths[j].

    Construction: the constant outputs[0], then for each neighbouring pair a_hi = 1/(w_j+1) >
    a_lo = 1/(w_{j+1}+1) a ReLU pair of slope L = 2/gap (gap = a_hi - a_lo) on -a at the
    midpoint t: u = [a < t] means w > w_j and moves the output from outputs[j] to
    outputs[j+1] (the step identity of `step_mlp`, exact for a within gap/4 of 1/(w+1)). For
    widths 0..N the smallest gap is 1/(N(N+1)) ≥ 1/(N+1)². A last ungated unit
    relu(a)·(-1) clears `weight` (a ≥ 0 everywhere, BOS included) so it can be reused.

    Args:
        label: the MLP's label.
        weight: the scratch direction holding a (also written, to clear it).
        widths: the possible widths, sorted ascending and distinct.
        outputs: the vector to write for each width.
        writes: every direction an output may write (`weight` is appended).
        note: the MLP's note.

    Returns:
        (the MLP, its steps).
    """
    mlp = MLPBuilder([weight], tuple(writes) + (weight,))
    steps = []
    mlp.unit({}, 1.0, outputs[0], gate=2.0)
    for j in range(len(widths) - 1):
        a_hi, a_lo = 1.0 / (widths[j] + 1), 1.0 / (widths[j + 1] + 1)
        gap = a_hi - a_lo
        t = (a_hi + a_lo) / 2
        slope = 2.0 / gap
        steps.append(Step(label, slope, gap, t))
        delta = added(outputs[j + 1], outputs[j], -1.0)
        gate = slope + 1.0
        mlp.unit({weight: -slope}, slope * t + 0.5, delta, gate=gate)
        mlp.unit({weight: -slope}, slope * t - 0.5, scaled(delta, -1.0), gate=gate)
    mlp.unit({weight: 1.0, BOS: 0.0}, 0.0, {weight: -1.0}, gate=0.0)
    return mlp.build(label, note), tuple(steps)
