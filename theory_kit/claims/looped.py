"""Claims on looped programs: the iterations each library loop takes are within its formula.

Importing this module registers one claim per program of `theory_kit.library.looped`:
`<name>_iterations`, the largest number of iterations the interpreter's loop takes over every
input of length n (`rasp.loop_traces`, exhaustive), against the program's sympy bound in n.
"""

from __future__ import annotations

import functools
import itertools

from theory_kit.claims.claim import Claim
from theory_kit.claims.registry import register
from theory_kit.library.looped import LOOPED_PROGRAMS, n_sym
from theory_kit.rasp.interpreter import loop_traces
from theory_kit.rasp.loops import Loop
from theory_kit.rasp.tree import topological_order

__all__ = ["max_iterations_at", "DOMAINS"]

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
