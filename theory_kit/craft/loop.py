"""RASP-free constructors for looped models: the MLP that writes a loop's initial state and the
MLP that ends every iteration (gated state update, halting flag).

A looped model applies the same layers again and again. For that to be exact at every
iteration, three things hold at the start of each iteration, and these MLPs keep them:

  * the loop-carried state sits in the same directions, as an *exact* one-hot (0 or 1 in
    every coordinate, up to one rounding of the last write);
  * once a sequence has halted, its state no longer changes (the update is gated by the flag);
  * every other direction the body writes is zero again (the compiler's cleaners erase them).

Snapping. A body computes the next state as an approximate one-hot n (attention leaves an
off-target mass ε, lookups add such errors), so copying n into the state would carry ε into
the next iteration, where it could grow. Instead each coordinate is *snapped*:

    snap(z) = relu(k(z - 1/2) + 1/2) - relu(k(z - 1/2) - 1/2)

is exactly 0 for z ≤ 1/2 - 1/(2k) and exactly 1 for z ≥ 1/2 + 1/(2k) (the step identity of
craft.mlp.step_mlp). With slope k = SNAP_SLOPE = 4 every input within 3/8 of 0 or 1 is mapped
to 0 or 1 exactly, so the error of the state after an iteration does not depend on the error
before it: it is the rounding of one subtraction, whatever the iteration count.

The update. With h the halting flag of this iteration (1 when the sequence halts: its state
must stay), s the state and n the body's next state, the new state coordinate is

    s' = snap(n - h) + snap(s + h - 1)

(n - h is 1 only for n = 1, h = 0; s + h - 1 is 1 only for s = 1, h = 1; each argument is
within 2ε of -1, 0 or 1), written as the delta s' - s (s read exactly as relu(s) - relu(-s)).
A state coordinate n does not have (a value outside the next state's values) counts as n = 0.
Every unit is gated at BOS (craft.mlp.MLPBuilder), so the state is 0 at BOS throughout.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from theory_kit.craft.bases import BasisDirection
from theory_kit.craft.blocks import MLP
from theory_kit.craft.mlp import MLPBuilder, scaled

__all__ = ["SNAP_SLOPE", "snap_tolerance", "loop_entry_mlp", "loop_update_mlp"]

#: Slope k of the snapping units: inputs within 1/2 - 1/(2k) = 3/8 of 0 or 1 snap exactly.
SNAP_SLOPE = 4.0


def snap_tolerance(slope: float = SNAP_SLOPE) -> float:
    """How far from 0 or 1 an input may be and still snap exactly: 1/2 - 1/(2k)."""
    return 0.5 - 0.5 / slope


def _at_bos(form: Mapping[BasisDirection, float], bos_values: Mapping) -> float:
    return sum(c * bos_values.get(d, 0.0) for d, c in form.items())


def _snap(mlp: MLPBuilder, form: Mapping[BasisDirection, float], offset: float,
          out: Mapping[BasisDirection, float], bos_values: Mapping, slope: float) -> None:
    """Add snap(Σ form·x + offset)·out (two units), gated at BOS."""
    z_bos = _at_bos(form, bos_values) + offset
    for c, sign in ((0.5, 1.0), (-0.5, -1.0)):
        b = slope * (offset - 0.5) + c
        gate = max(slope * (z_bos - offset) + b, 0.0) + 1.0
        mlp.unit(scaled(form, slope), b, scaled(out, sign), gate=gate)


def _minus(mlp: MLPBuilder, d: BasisDirection, bos_values: Mapping) -> None:
    """Add -x_d exactly (relu(x) - relu(-x)), gated at BOS."""
    gate = abs(bos_values.get(d, 0.0)) + 1.0
    mlp.unit({d: 1.0}, 0.0, {d: -1.0}, gate=gate)
    mlp.unit({d: -1.0}, 0.0, {d: 1.0}, gate=gate)


def loop_entry_mlp(label: str, copies: Sequence[tuple[BasisDirection, BasisDirection]],
                   constants: Mapping[BasisDirection, float],
                   writes: Sequence[BasisDirection] = (), *,
                   bos_values: Mapping = {}, slope: float = SNAP_SLOPE) -> MLP:
    """Write the initial state: target = snap(source) for each (source, target) pair, plus the
    constant vector `constants` (e.g. the flag "not halted" = 1); 0 at BOS.

    Args:
        label: the MLP's label.
        copies: (source direction, state direction) pairs (one per initial value).
        constants: directions written with a constant value at every position but BOS.
        writes: further directions it writes (0): every state value and flag direction, so
            the layout treats the whole state as live from the entry on.
        bos_values: the value of each read direction at BOS (default 0), for the gates.
        slope: the snapping slope (SNAP_SLOPE).
    """
    reads = list(dict.fromkeys(src for src, _ in copies))
    writes = list(dict.fromkeys([t for _, t in copies] + list(constants) + list(writes)))
    mlp = MLPBuilder(reads, writes)
    for src, target in copies:
        _snap(mlp, {src: 1.0}, 0.0, {target: 1.0}, bos_values, slope)
    for d, c in constants.items():
        mlp.unit({}, 1.0, {d: c}, gate=2.0)
    return mlp.build(label, "loop entry: state = snap(initial value)")


def loop_update_mlp(label: str, state: Sequence[tuple[BasisDirection, Optional[BasisDirection]]],
                    halted: Optional[BasisDirection], flag: tuple[BasisDirection, BasisDirection],
                    *, bos_values: Mapping = {}, slope: float = SNAP_SLOPE) -> MLP:
    """End one iteration: for each (s, n) pair, s += snap(n - h) + snap(s + h - 1) - s (the next
    state where the sequence has not halted, the old one where it has; n None counts as 0);
    the flag directions become (snap(h), snap(1 - h)).

    Args:
        label: the MLP's label.
        state: (state direction, next-state direction or None) per state value.
        halted: the direction that is 1 where the sequence halts this iteration (None: it
            never halts, h = 0).
        flag: the persistent (halted, not halted) directions.
        bos_values: the value of each read direction at BOS (default 0), for the gates.
        slope: the snapping slope (SNAP_SLOPE).
    """
    h = {halted: 1.0} if halted is not None else {}
    reads = list(dict.fromkeys([s for s, _ in state] + [n for _, n in state if n is not None]
                               + list(h) + list(flag)))
    mlp = MLPBuilder(reads, list(dict.fromkeys([s for s, _ in state] + list(flag))))
    for s, n in state:
        if n is not None:
            _snap(mlp, {n: 1.0, **scaled(h, -1.0)}, 0.0, {s: 1.0}, bos_values, slope)
        _snap(mlp, {s: 1.0, **h}, -1.0, {s: 1.0}, bos_values, slope)
        _minus(mlp, s, bos_values)
    on, off = flag
    _snap(mlp, h, 0.0, {on: 1.0}, bos_values, slope)
    _snap(mlp, scaled(h, -1.0), 1.0, {off: 1.0}, bos_values, slope)
    _minus(mlp, on, bos_values)
    _minus(mlp, off, bos_values)
    return mlp.build(label, "loop update: state = snap(next - halted) + snap(state + halted - 1)")
