"""Loops in the RASP language and the reference interpreter (issue 14, item 1): the looped
oracle. Programs are checked against plain Python on every input of a small space, with the
state after every iteration; bad loops are refused with the loop's name and the value."""

from __future__ import annotations

import itertools

import pytest

from theory_kit import rasp
from theory_kit.errors import EvaluationError, InvalidProgram
from theory_kit.rasp.interpreter import loop_trace
from theory_kit.rasp.loops import Loop, LoopVar, loop
from theory_kit.rasp.tree import topological_order, with_children

T, I, C = rasp.tokens, rasp.indices, rasp.Comparison


def inputs(vocab, max_len):
    for n in range(1, max_len + 1):
        yield from (list(xs) for xs in itertools.product(vocab, repeat=n))


# -- programs ------------------------------------------------------------------------------
def odd_even_sort(sop, max_iterations):
    """Odd-even transposition sort: at phase p, positions i and i+1 with (i + p) even swap when
    out of order; halts when every position is <= the next (at most n iterations)."""
    def step(state):
        s, phase = state
        left = rasp.SequenceMap(lambda i, p: (i + p) % 2 == 0, I, phase)
        partner = rasp.SequenceMap(lambda i, is_left: i + 1 if is_left else i - 1, I, left)
        other = rasp.Aggregate(rasp.Select(I, partner, C.EQ), s, default=-1)
        pair = rasp.SequenceMap(lambda a, b: (a, b), s, other)
        new = rasp.SequenceMap(
            lambda ab, is_left: ab[0] if ab[1] == -1 else (min(ab) if is_left else max(ab)),
            pair, left)
        return new, rasp.Map(lambda p: 1 - p, phase)

    def until(state):
        s, _ = state
        after = rasp.Aggregate(rasp.Select(I, rasp.Map(lambda i: i + 1, I), C.EQ), s,
                               default=10 ** 9)
        return rasp.SequenceMap(lambda a, b: a <= b, s, after)

    return loop(step, (sop, rasp.Full(0)), until=until, max_iterations=max_iterations,
                name="odd_even_sort")


def k_hops(k):
    """Pointer chasing: tokens are pointers; after k hops position i holds t^k(i)."""
    return loop(lambda s: rasp.Aggregate(rasp.Select(I, s, C.EQ), T), I,
                until=lambda s: rasp.Full(False), max_iterations=k, name="hops")


def count_to_length():
    return loop(lambda s: rasp.Map(lambda x: x + 1, s), rasp.Full(0),
                until=lambda s: rasp.SequenceMap(lambda x, n: x == n, s, rasp.length),
                max_iterations=8, name="count")


# -- semantics against plain Python -----------------------------------------------------------
def test_odd_even_sort_sorts_every_input_within_n_iterations():
    s, phase = odd_even_sort(T, max_iterations=8)
    xss = list(inputs([0, 1, 2], 5))
    assert rasp.evaluate_batch(s, xss) == [sorted(xs) for xs in xss]
    for xs in xss[::7]:
        trace = loop_trace(s, xs)
        assert trace.halted and trace.iterations <= len(xs), (xs, trace.iterations)
        assert list(trace.states[-1][0]) == sorted(xs)
        assert set(phase(xs)) <= {0, 1}


def test_every_state_in_the_trace_is_one_step_of_the_reference():
    s, _ = odd_even_sort(T, max_iterations=8)
    xs = [2, 0, 1, 2, 0]
    trace = loop_trace(s, xs)
    state, phase = list(xs), 0
    for values, phases in trace.states:
        assert list(values) == state and set(phases) == {phase}
        new = list(state)
        for i in range(len(state) - 1):
            if (i + phase) % 2 == 0:
                new[i], new[i + 1] = min(state[i:i + 2]), max(state[i:i + 2])
        state, phase = new, 1 - phase
    assert trace.iterations == len(trace.states) - 1 > 0


def test_pointer_chasing_follows_k_pointers():
    for k in (1, 2, 3):
        program = k_hops(k)
        for xs in inputs(range(3), 3):
            if max(xs) >= len(xs):
                continue
            want = list(range(len(xs)))
            for _ in range(k):
                want = [xs[p] for p in want]
            assert program(xs) == want
            assert loop_trace(program, xs).iterations == k
            assert not loop_trace(program, xs).halted


def test_halting_is_checked_before_each_iteration_and_is_a_fixed_point():
    program = count_to_length()
    for n in range(1, 6):
        xs = [7] * n
        assert program(xs) == [n] * n
        trace = loop_trace(program, xs)
        assert trace.halted and trace.iterations == n
    longer = loop(lambda s: rasp.Map(lambda x: x + 1, s), rasp.Full(0),
                  until=lambda s: rasp.SequenceMap(lambda x, n: x == n, s, rasp.length),
                  max_iterations=24)
    assert all(longer(xs) == program(xs) for xs in inputs([1], 5))


def test_already_halted_state_takes_no_iteration():
    program = loop(lambda s: s + 1, T, until=lambda s: s >= 0, max_iterations=5)
    assert program([3, 4]) == [3, 4]
    assert loop_trace(program, [3, 4]).iterations == 0


def test_max_iterations_stops_a_loop_that_never_halts():
    program = loop(lambda s: s + 1, rasp.Full(0), until=lambda s: rasp.Full(False),
                   max_iterations=4)
    assert program([0, 0, 0]) == [4, 4, 4]
    trace = loop_trace(program, [0])
    assert trace.iterations == 4 and not trace.halted


def test_halting_is_per_sequence_all_positions():
    # position 0 reaches its target first but keeps going until every position is done
    program = loop(lambda s: s + 1, rasp.Full(0),
                   until=lambda s: rasp.SequenceMap(lambda x, i: x >= i, s, I),
                   max_iterations=10)
    assert program([0, 0, 0]) == [2, 2, 2]


def test_loop_inside_a_program_and_a_program_after_the_loop():
    doubled = rasp.Map(lambda x: 2 * x, T)
    s = loop(lambda s: s + 1, doubled, until=lambda s: s >= 6, max_iterations=10)
    after = rasp.SequenceMap(lambda a, b: a - b, s, T)
    for xs in inputs([0, 1, 2, 3, 4], 2):
        k = max(0, *(6 - 2 * x for x in xs))  # every position steps until all are >= 6
        assert after(xs) == [2 * x + k - x for x in xs]


def test_the_body_may_read_sops_computed_before_the_loop():
    rev_index = rasp.SequenceMap(lambda n, i: n - i - 1, rasp.length, I)
    program = loop(lambda s: rasp.Aggregate(rasp.Select(I, rev_index, C.EQ), s), T,
                   until=lambda s: rasp.Full(False), max_iterations=2)
    assert program([1, 2, 3]) == [1, 2, 3]
    once = loop(lambda s: rasp.Aggregate(rasp.Select(I, rev_index, C.EQ), s), T,
                until=lambda s: rasp.Full(False), max_iterations=1)
    assert once([1, 2, 3]) == [3, 2, 1]


def test_nested_loops_see_the_outer_state():
    def outer_step(s):
        inner = loop(lambda t: rasp.SequenceMap(lambda a, b: a + b, t, s), rasp.Full(0),
                     until=lambda t: rasp.Full(False), max_iterations=2, name="inner")
        return inner  # 2 * s

    program = loop(outer_step, rasp.Full(1), until=lambda s: s >= 8, max_iterations=5,
                   name="outer")
    assert program([0, 0]) == [8, 8]
    assert loop_trace(program, [0]).iterations == 3


def test_declared_values_are_checked():
    ok = loop(lambda s: rasp.Map(lambda x: 1 - x, s), rasp.Full(0), until=lambda s: s == 1,
              max_iterations=3, values={0, 1})
    assert ok([9]) == [1]
    bad = loop(lambda s: s + 1, rasp.Full(0), until=lambda s: s == 3, max_iterations=5,
               values=[0, 1, 2], name="grow")
    with pytest.raises(EvaluationError, match=r"loop 'grow'.* is 3 at position 0 after 3 "
                                              r"iterations, outside its declared values"):
        bad([0])


def test_values_distinguish_types():
    bad = loop(lambda s: rasp.Map(lambda x: True, s), rasp.Full(0), until=lambda s: s == 1,
               max_iterations=2, values=[0, 1])
    with pytest.raises(EvaluationError, match="True at position 0"):
        bad([0])


def test_structure_children_and_rewrites():
    s, phase = odd_even_sort(T, max_iterations=4)
    assert isinstance(s, Loop) and s.spec is phase.spec and (s.index, phase.index) == (0, 1)
    assert s.children == (T, s.inits[1]) and s.label == "odd_even_sort[0]"
    order = topological_order(s)
    assert order[-1] is s and any(x is T for x in order)
    assert not any(isinstance(x, LoopVar) for x in order)  # the body is its own scope
    full2 = rasp.Full(0)
    rebuilt = with_children(s, (T, full2))
    assert rebuilt.unique_id == s.unique_id and rebuilt.children == (T, full2)
    assert rebuilt([2, 1]) == [1, 2]


# -- refusals ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    (dict(max_iterations=0), "max_iterations must be a positive int, got int 0"),
    (dict(max_iterations=True), "max_iterations must be a positive int, got bool"),
    (dict(max_iterations=2.0), "max_iterations must be a positive int, got float"),
    (dict(max_iterations=2, name=""), "name must be a non-empty string"),
    (dict(max_iterations=2, values=[]), "value set of component 0 is empty"),
    (dict(max_iterations=2, values="ab"), "must be a collection of values, got str"),
    (dict(max_iterations=2, values=[[1]]), "must be hashable"),
])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(InvalidProgram, match=match):
        loop(lambda s: s, T, until=lambda s: s == 0, **kwargs)


def test_step_and_until_must_give_sops_of_the_state_s_shape():
    with pytest.raises(InvalidProgram, match="step must give SOps, got a Selector"):
        loop(lambda s: rasp.Select(s, s, C.EQ), T, until=lambda s: s == 0, max_iterations=2)
    with pytest.raises(InvalidProgram, match="until must give SOps, got int 3"):
        loop(lambda s: s, T, until=lambda s: 3, max_iterations=2)
    with pytest.raises(InvalidProgram, match=r"step must return a tuple of 2 SOps"):
        loop(lambda s: s[0], (T, I), until=lambda s: s[0] == 0, max_iterations=2)
    with pytest.raises(InvalidProgram, match="init must give SOps, got int"):
        loop(lambda s: s, 5, until=lambda s: s == 0, max_iterations=2)
    with pytest.raises(InvalidProgram, match=r"init must be an SOp or a non-empty tuple"):
        loop(lambda s: s, (), until=lambda s: s == 0, max_iterations=2)
    with pytest.raises(InvalidProgram, match="step must be a function"):
        loop(3, T, until=lambda s: s == 0, max_iterations=2)


def test_halting_condition_must_be_boolean():
    program = loop(lambda s: s + 1, rasp.Full(0), until=lambda s: s, max_iterations=3,
                   name="numeric_halt")
    with pytest.raises(EvaluationError, match=r"loop 'numeric_halt': its halting condition .* "
                                              r"is 0 at position 0 after 0 iterations"):
        program([1])


def test_the_state_placeholder_has_no_value_outside_its_loop():
    leaked = []
    loop(lambda s: leaked.append(s) or s, T, until=lambda s: s == 0, max_iterations=2)
    with pytest.raises(InvalidProgram, match="has a value only inside that loop's body"):
        rasp.evaluate(rasp.Map(lambda x: x, leaked[0]), [1])


def test_loops_are_not_evaluated_causally():
    program = loop(lambda s: s + 1, T, until=lambda s: s >= 3, max_iterations=4, name="c")
    with pytest.raises(InvalidProgram, match="loop 'c': .* evaluated with causal=False"):
        rasp.evaluate(rasp.Map(lambda x: x, program), [1], causal=True)


def test_loop_trace_wants_a_loop():
    with pytest.raises(InvalidProgram, match="expected an SOp returned by rasp.loop"):
        loop_trace(T, [1])


def test_errors_in_the_body_name_the_node_and_value():
    program = loop(lambda s: rasp.Map(lambda x: 1 // (x - 2), s), T,
                   until=lambda s: rasp.Full(False), max_iterations=3)
    with pytest.raises(EvaluationError, match=r"ZeroDivisionError.* on value 2"):
        program([2])


# -- unroll: the loop as a single-pass program --------------------------------------------------
def _has_loops(program):
    return any(isinstance(x, (Loop, LoopVar)) for x in topological_order(program))


@pytest.mark.parametrize("build, vocab, max_len", [
    (lambda: odd_even_sort(T, max_iterations=5)[0], [0, 1, 2], 5),
    (lambda: odd_even_sort(T, max_iterations=2)[0], [0, 1, 2], 4),  # stops before sorted
    (lambda: odd_even_sort(T, max_iterations=3)[1], [0, 1], 4),     # the phase component
    (lambda: k_hops(2), [0, 1, 2], 3),
    (count_to_length, [5], 6),
])
def test_unrolled_program_equals_the_loop_on_every_input(build, vocab, max_len):
    program = build()
    flat = rasp.unroll(program)
    assert not _has_loops(flat) and flat.label == program.label
    for xs in inputs(vocab, max_len):
        try:
            want = program(xs)
        except EvaluationError:  # pointers out of range select nothing: None, then a bad key
            with pytest.raises(EvaluationError):
                flat(xs)
            continue
        assert flat(xs) == want, xs


def test_unroll_shares_what_does_not_depend_on_the_state_and_nests():
    rev_index = rasp.SequenceMap(lambda n, i: n - i - 1, rasp.length, I).named("rev_index")
    program = loop(lambda s: rasp.Aggregate(rasp.Select(I, rev_index, C.EQ), s), T,
                   until=lambda s: rasp.Full(False), max_iterations=3, name="flip")
    flat = rasp.unroll(program)
    labels = [x.label for x in topological_order(flat)]
    assert labels.count("rev_index") == 1  # computed once, read by every copy
    assert flat([1, 2, 3]) == [3, 2, 1]

    def outer_step(s):
        return loop(lambda t: rasp.SequenceMap(lambda a, b: a + b, t, s), rasp.Full(0),
                    until=lambda t: rasp.Full(False), max_iterations=2, name="inner")
    nested = loop(outer_step, rasp.Full(1), until=lambda s: s >= 8, max_iterations=4,
                  name="outer")
    flat = rasp.unroll(nested)
    assert not _has_loops(flat)
    assert flat([0, 0]) == nested([0, 0]) == [8, 8]
    labels = [x.label for x in topological_order(flat)]
    assert len(labels) == len(set(labels)), "every copy has its own name"


def test_unroll_keeps_declared_values_and_the_boolean_halting_check():
    bad = loop(lambda s: s + 1, rasp.Full(0), until=lambda s: s == 3, max_iterations=5,
               values=[0, 1, 2], name="grow")
    with pytest.raises(EvaluationError, match="outside its declared values"):
        rasp.unroll(bad)([0])
    numeric_halt = loop(lambda s: s + 1, rasp.Full(0), until=lambda s: s, max_iterations=3)
    with pytest.raises(EvaluationError, match="must be True or False, got 0"):
        rasp.unroll(numeric_halt)([1])


def test_unroll_refuses_numerical_state():
    program = loop(lambda s: s + 1, rasp.numerical(rasp.Full(0)), until=lambda s: s >= 2,
                   max_iterations=3, name="num")
    with pytest.raises(InvalidProgram, match="loop 'num': unroll needs categorical state"):
        rasp.unroll(program)


def test_compile_builds_a_weight_shared_loop():
    import theory_kit as tk

    program = k_hops(2)
    model = tk.compile(program, vocab={0, 1, 2}, max_seq_len=3)  # every input, every iteration
    assert model.weights.loop is not None and model.weights.loop.max_iterations == 2
    assert model.run([1, 2, 0]) == program([1, 2, 0])


def test_unrolled_loops_compile_exactly():
    import theory_kit as tk

    s, _ = odd_even_sort(T, max_iterations=4)
    model = tk.compile(rasp.unroll(s), vocab={0, 1, 2}, max_seq_len=4)  # verified exhaustively
    assert model.verified_inputs == 3 + 9 + 27 + 81
    for xs in inputs([0, 1, 2], 4):
        assert model.run(xs) == sorted(xs)


def test_format_program_shows_the_body():
    from theory_kit.testing import format_program

    text = format_program(k_hops(2))
    assert text.startswith("hops = Loop(indices, max_iterations=2)[0] with state hops.state:")
    assert "    # until" in text and "    # next" in text and "hops.state" in text


def test_the_step_is_not_evaluated_once_halted():
    program = loop(lambda s: rasp.Map(lambda x: 1 // (x - 3), s), T, until=lambda s: s == 3,
                   max_iterations=2)
    assert program([3, 3]) == [3, 3]
    assert loop_trace(program, [3]).iterations == 0
