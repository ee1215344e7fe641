"""format_program: one node per line, selectors inline, functions readable."""

from __future__ import annotations

import pytest

from theory_kit import rasp
from theory_kit.errors import InvalidProgram
from theory_kit.testing import format_program
from theory_kit.testing.functions import NamedFunction


def test_reverse_prints_like_the_paper():
    opp = rasp.Map(NamedFunction("n-1-x", lambda x: x), rasp.length).named("opp_idx")
    opp1 = rasp.Map(NamedFunction("x-1", lambda x: x - 1), opp, simplify=False).named("opp_idx-1")
    reverse = rasp.Aggregate(rasp.Select(rasp.indices, opp1, rasp.Comparison.EQ),
                             rasp.tokens).named("reverse")
    assert format_program(reverse).splitlines() == [
        "opp_idx = Map(n-1-x, length)",
        "opp_idx-1 = Map(x-1, opp_idx)",
        "reverse = Aggregate(Select(indices, opp_idx-1, EQ), tokens)",
    ]


def test_lambdas_print_their_source_and_closure_values():
    k = 3
    prog = rasp.Map(lambda x: x + k, rasp.tokens).named("inc")
    assert format_program(prog) == "inc = Map(lambda x: x + k [k=3], tokens)"


def test_operators_print_readably():
    text = format_program((rasp.tokens + 1).named("t1"))
    assert text.startswith("t1 = Map(lambda x: x + other [other=1], tokens)")


def test_shared_selectors_get_their_own_line_and_numerical_is_marked():
    sel = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LEQ).named("prefix")
    width = rasp.SelectorWidth(sel).named("w")
    frac = rasp.numerical(rasp.Aggregate(sel, rasp.numerical(rasp.Map(lambda x: 1, rasp.tokens)
                                                             .named("one")), default=0)
                          .named("frac"))
    both = rasp.SequenceMap(lambda a, b: a, width, rasp.Map(lambda x: round(x), frac)
                            .named("r")).named("out")
    lines = format_program(both).splitlines()
    assert "prefix = Select(tokens, tokens, LEQ)" in lines
    assert "w = SelectorWidth(prefix)" in lines
    assert "frac = Aggregate(prefix, one, default=0)  # numerical" in lines
    assert lines[-1].startswith("out = SequenceMap(")


def test_every_selector_combinator_and_primitive():
    a = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LT).named("lt")
    b = rasp.Select(rasp.tokens, rasp.length, rasp.Comparison.EQ)
    prog = rasp.SelectorWidth(rasp.SelectorOr(rasp.SelectorNot(a), rasp.SelectorAnd(a, b)))
    assert format_program(prog.named("w")).splitlines() == [
        "lt = Select(indices, indices, LT)",
        "w = SelectorWidth(SelectorOr(SelectorNot(lt), SelectorAnd(lt, "
        "Select(tokens, length, EQ))))",
    ]
    assert format_program(rasp.tokens) == "tokens"
    assert format_program(rasp.Full(2).named("two")) == "two = Full(2)"
    lsm = rasp.numerical(rasp.LinearSequenceMap(rasp.numerical(rasp.Full(1).named("o")),
                                                rasp.numerical(rasp.Full(1).named("p")), 2, -1)
                         .named("l"))
    assert format_program(lsm).splitlines()[-1] == "l = LinearSequenceMap(o, p, 2, -1)  # numerical"


def test_not_a_program():
    with pytest.raises(InvalidProgram, match="expected a RASP expression"):
        format_program("tokens")
