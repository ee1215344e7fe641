"""Looped library programs (issue 14, item 4): each equals its plain-Python reference on every
input, takes exactly the iterations its reference count says, within the sympy bound (attained),
and compiles exactly after rasp.unroll."""

from __future__ import annotations

import itertools

import pytest

import theory_kit as tk
from theory_kit import rasp
from theory_kit.library.looped import LOOPED_PROGRAMS, n_sym
from theory_kit.rasp.loops import Loop
from theory_kit.rasp.tree import topological_order

#: Longest length checked on every input in the default run (the spaces grow as |V|^n).
EXHAUSTIVE = {"parity_loop": 8, "add_loop": 5, "sort_loop": 6, "hops_loop": 4,
              "dyck1_loop": 8, "dyck2_loop": 4}


def _inputs(spec, max_len):
    for n in range(1, max_len + 1):
        for xs in itertools.product(spec.vocab, repeat=n):
            if spec.accepts(list(xs)):
                yield list(xs)


def _loop_of(program):
    return next(x for x in topological_order(program) if isinstance(x, Loop))


def test_every_looped_program_is_checked():
    assert set(EXHAUSTIVE) == set(LOOPED_PROGRAMS)


@pytest.mark.parametrize("name", sorted(LOOPED_PROGRAMS))
def test_output_equals_the_reference_on_every_input(name):
    spec = LOOPED_PROGRAMS[name]
    xss = list(_inputs(spec, EXHAUSTIVE[name]))
    program = spec.at(max_seq_len=EXHAUSTIVE[name])
    assert rasp.evaluate_batch(program, xss) == [list(spec.reference(xs)) for xs in xss]


@pytest.mark.parametrize("name", sorted(LOOPED_PROGRAMS))
def test_iterations_match_the_count_and_the_bound_is_attained(name):
    spec = LOOPED_PROGRAMS[name]
    top = EXHAUSTIVE[name]
    looped = _loop_of(spec.at(max_seq_len=top))
    for n in range(1, top + 1):
        xss = [xs for xs in _inputs(spec, n) if len(xs) == n]
        counts = [spec.iterations(xs) for xs in xss]
        bound = spec.bound_at(n)
        assert max(counts) <= bound, (n, max(counts), bound)
        if not (name == "sort_loop" and n == 2) and n > 1:
            assert max(counts) == bound, f"{name}: bound {spec.iteration_bound} not attained at n={n}"
        for xs in xss[::max(1, len(xss) // 12)]:  # the interpreter's trace agrees
            trace = rasp.loop_trace(looped, xs)
            assert trace.halted and trace.iterations == spec.iterations(xs), xs


def test_bounds_are_sympy_formulas_in_n():
    for spec in LOOPED_PROGRAMS.values():
        assert spec.iteration_bound.free_symbols <= {n_sym}


@pytest.mark.parametrize("name", sorted(LOOPED_PROGRAMS))
def test_unrolled_program_compiles_exactly(name):
    spec = LOOPED_PROGRAMS[name]
    model = tk.compile(rasp.unroll(spec.at(max_seq_len=4)), vocab=set(spec.vocab),
                       max_seq_len=4)  # verified on every input against the unrolled program
    for xs in _inputs(spec, 4):
        assert model.run(xs) == list(spec.reference(xs)), xs
