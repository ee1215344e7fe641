"""Claim searches and the interval prover show a progress bar (theory_kit.progress) with their
budget as total, only when asked (THEORY_KIT_PROGRESS=1 or a terminal), and are silent
otherwise; the bar is closed however they end."""

from __future__ import annotations

import pytest

from theory_kit.claims import Claim, verify
from theory_kit.claims.prove import prove
from theory_kit.claims.registry import get
from theory_kit.progress import progress


def peak_claim():
    """x exp(-x) <= exp(-1) on [0, 10]: tight at x = 1, so the branch and bound splits boxes."""
    return Claim("peak", "x*exp(-x)", "exp(-1)", {"x": (0.0, 10.0, "real")})


@pytest.fixture
def bar_at_once(monkeypatch):
    monkeypatch.setenv("THEORY_KIT_PROGRESS", "1")
    monkeypatch.setitem(progress.__kwdefaults__, "min_seconds", 0)


def test_the_search_shows_a_bar_with_its_budget(bar_at_once, capsys):
    verify(get("softmax_pmax"), budget=300)
    out, err = capsys.readouterr()
    assert out == "" and "verify softmax_pmax" in err and "/300" in err


def test_the_prover_shows_a_bar_with_its_box_budget(bar_at_once, capsys):
    result = prove(peak_claim(), max_boxes=400, hints=({"x": 1.0},))
    out, err = capsys.readouterr()
    assert result.status == "proved" and result.proof.n_boxes > 1
    assert out == "" and "prove peak" in err and "/400" in err


def test_both_are_silent_without_a_terminal(monkeypatch, capfd):
    monkeypatch.delenv("THEORY_KIT_PROGRESS", raising=False)
    monkeypatch.setitem(progress.__kwdefaults__, "min_seconds", 0)
    verify(get("softmax_pmax"), budget=300)
    prove(peak_claim(), max_boxes=400, hints=({"x": 1.0},))
    assert capfd.readouterr() == ("", "")


def test_the_bar_is_closed_when_the_search_stops_early(bar_at_once, capsys):
    tqdm = pytest.importorskip("tqdm")
    claim = Claim("broken", "x", "x/2", {"x": (1.0, 2.0, "real")})  # x <= x/2 fails everywhere
    verdict = verify(claim, budget=200, stop_on_violation=True)
    assert not verdict.holds and verdict.n_evaluated < 200
    assert len(tqdm.tqdm._instances) == 0
