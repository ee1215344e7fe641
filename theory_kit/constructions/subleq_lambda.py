"""The cell of the SUBLEQ λ sweep (figures/fig_subleq_lambda.py, issue 16 item 4, run through
theory_kit.sweep — issue 18 item 4): how many seeded random programs a SUBLEQ machine of one
size, attention temperature λ and dtype executes exactly (memory and program counter equal to
`subleq.interpret` after every loop).

A sweep cell must be importable by worker processes and take everything it depends on as
parameters, so the figure's settings (programs per cell, loops, the programs' seed) are
parameters here. The sweep's own per-cell `seed` is deliberately unused: every λ and dtype of a
size runs the *same* programs (drawn from `programs_seed`, n and N), which is what makes the
fractions of one curve comparable.
"""

from __future__ import annotations

from typing import Any, List, Sequence, Tuple

import numpy as np

from theory_kit.constructions import subleq

__all__ = ["programs", "exact", "cell"]


def programs(s: int, m: int, n: int, N: int, *, count: int, loops: int,
             seed: int) -> Tuple[List[tuple], List[tuple]]:
    """`count` random programs of the (s, m, n, N) machine, seeded by [seed, n, N], and their
    reference traces (memories, pcs) over `loops` loops."""
    rng = np.random.default_rng([seed, n, N])
    capacity = n - s - m - 1
    progs = [subleq.random_program(rng, m=m, n_instructions=capacity, N=N)
             for _ in range(count)]
    refs = [subleq.interpret(i, mem, loops=loops, N=N, trace=True) for i, mem in progs]
    return progs, [(r.memories, r.pcs) for r in refs]


def exact(s: int, m: int, n: int, N: int, lam: float, dtype: Any, progs: Sequence[tuple],
          refs: Sequence[tuple], loops: int) -> int:
    """How many of `progs` the machine at temperature `lam` runs exactly (every loop)."""
    machine = subleq.build(s=s, m=m, n=n, N=N, lam=float(lam), dtype=dtype)
    got = machine.run_batch(progs, loops=loops, trace=True)
    return sum((r.memories, r.pcs) == ref for r, ref in zip(got, refs))


def cell(s: int, m: int, n: int, N: int, lam: float, dtype: str, programs_per_cell: int,
         loops: int, programs_seed: int, seed: int, kind: str = "grid") -> dict:
    """One sweep cell: {"exact": programs run exactly}. `kind` ("grid" or "derived") only
    tells apart a grid λ and the derived λ when they coincide; `seed` is unused (see above)."""
    progs, refs = programs(s, m, n, N, count=programs_per_cell, loops=loops, seed=programs_seed)
    return {"exact": exact(s, m, n, N, lam, dtype, progs, refs, loops)}
