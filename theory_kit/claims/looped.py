"""Claims on looped programs: the iterations each library loop takes are within its formula,
and a compiled loop's error does not grow with the number of iterations.

Importing this module registers one claim per program of `theory_kit.library.looped`:
`<name>_iterations`, the largest number of iterations the interpreter's loop takes over every
input of length n (`rasp.loop_traces`, exhaustive), against the program's sympy bound in n;
and `loop_state_error`: after t iterations of a compiled looped model whose body attends (a
rotation, so every iteration adds the attention's off-target error before the state is
snapped), every state coordinate is within 2^-52 of 0 or 1, for every t up to 256.
"""

from __future__ import annotations

import functools
import itertools

import sympy as sp

from theory_kit.claims.claim import Claim
from theory_kit.claims.registry import register
from theory_kit.library.looped import LOOPED_PROGRAMS, n_sym
from theory_kit.rasp.interpreter import loop_traces
from theory_kit.rasp.loops import Loop
from theory_kit.rasp.tree import topological_order

__all__ = ["max_iterations_at", "DOMAINS", "state_error_after", "rotation_loop"]

#: Lengths checked per program: every input of every length (|V|^n inputs at length n).
DOMAINS = {"parity_loop": 8, "add_loop": 5, "sort_loop": 6, "hops_loop": 4,
           "dyck1_loop": 8, "dyck2_loop": 4}


@functools.lru_cache(maxsize=None)
def max_iterations_at(name: str, n: int) -> int:
    """The most iterations the loop of library program `name` takes on an input of length n
    (its interpreter trace, every input of its vocabulary that meets its precondition)."""
    spec = LOOPED_PROGRAMS[name]
    program = spec.at(max_seq_len=max(n, 1))
    looped = next(x for x in topological_order(program) if isinstance(x, Loop))
    xss = [list(xs) for xs in itertools.product(spec.vocab, repeat=int(n))
           if spec.accepts(list(xs))]
    return max((t.iterations for t in loop_traces(looped, xss)), default=0)


for _name, _spec in LOOPED_PROGRAMS.items():
    register(Claim(
        name=f"{_name}_iterations",
        quantity=functools.partial(lambda name, n: max_iterations_at(name, int(n)), _name),
        bound=_spec.iteration_bound.subs(n_sym, n_sym),
        domain={"n": (1, DOMAINS[_name], "int")},
        relation="<=",
        source=f"theory_kit/library/looped.py ({_spec.doc})",
        description=f"most iterations of the {_name} loop over every input of length n "
                    f"(interpreter trace) vs {_spec.iteration_bound}",
    ))


def rotation_loop(max_iterations: int = 256):
    """A loop that never halts: rotate the state one position and add 1 (mod 3)."""
    from theory_kit import rasp
    from theory_kit.rasp.loops import loop

    def step(s):
        prev = rasp.SequenceMap(lambda i, n: (i - 1) % n, rasp.indices, rasp.length)
        rot = rasp.Aggregate(rasp.Select(rasp.indices, prev, rasp.Comparison.EQ), s, default=0)
        return rasp.Map(lambda v: (v + 1) % 3, rot)
    return loop(step, rasp.tokens, until=lambda s: rasp.Full(False),
                max_iterations=max_iterations, name="rotate")


@functools.lru_cache(maxsize=1)
def _rotation_model():
    import theory_kit as tk

    return tk.compile(rotation_loop(), vocab={0, 1, 2}, max_seq_len=4, verify=None)


def state_error_after(t: int) -> float:
    """The largest distance of a state coordinate from 0 or 1 after exactly t iterations of the
    compiled rotation loop (float64), over every input up to length 4."""
    from theory_kit.model.forward import additive_mask, run_planned

    model = _rotation_model()
    weights = model.weights
    rows = weights.readouts["state"].unembed.any(axis=1)
    worst = 0.0
    for n in range(1, 5):
        xss = [list(xs) for xs in itertools.product((0, 1, 2), repeat=n)]
        ids, mask = model.encode(xss)
        seen = []
        run_planned(weights, ids, additive_mask(mask, False, ids.shape[1], weights.dtype),
                    iterations=int(t), observe=lambda k, x: seen.append(x[rows].copy())
                    if k == int(t) else None)
        v = seen[-1].reshape(-1, n + 1, len(xss))[:, 1:]  # real positions
        worst = max(worst, float(abs(v - v.round()).max()))
    return worst


register(Claim(
    name="loop_state_error",
    quantity=lambda t: state_error_after(int(t)),
    bound=sp.Integer(2) ** -52,
    domain={"t": (1, 256, "int")},
    relation="<=",
    source="theory_kit/craft/loop.py (snapped state update); theory_kit/compiler/looped.py",
    description="largest distance from 0/1 of a compiled loop's state after t iterations "
                "(a rotation through attention, every input up to length 4) vs 2^-52: the "
                "error does not grow with t",
))
