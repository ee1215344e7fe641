"""theory_kit.paper.appendix: a project's claims, with their verdicts, into its appendix."""

from __future__ import annotations

import shutil

import pytest

from theory_kit.paper import appendix
from theory_kit.paper.project import init

REFUTED = '''\
from theory_kit.claims import Claim

CLAIMS = [
    Claim(name="square_below_half", quantity=lambda x: x * x, bound="x/2", domain="x=0..3:real"),
    Claim(name="linear_holds", quantity="x/4", bound="x/2", domain="x=0..3:real"),
]
'''


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "paper"
    init(root)
    (root / "claims" / "claims.py").write_text(REFUTED)
    return root


def test_a_refuted_claim_is_in_the_table_with_its_counterexample_and_fails_the_build(project, capsys):
    assert appendix.build(project, budget=32, typeset=False) == 1
    out, err = capsys.readouterr()
    assert "claim square_below_half: refuted (searched 32 points) at x=3.0: quantity 9.0, bound 1.5" in out
    assert "claim linear_holds: proved (certificate:" in out
    assert "1 claim(s) refuted: square_below_half" in err
    table = (project / "appendix" / "generated" / "claims_table.tex").read_text()
    assert (r"{\def\_{\textunderscore\allowbreak}\texttt{square\_below\_half}} & $\mathtt{quantity} \leq \frac{x}{2}$ & "
            r"$x \in [0, 3]$ (real) & refuted at $x = 3$: quantity 9, bound 1.5 (searched 32 points) \\") in table
    macros = (project / "appendix" / "generated" / "claims_macros.tex").read_text().splitlines()
    assert r"\newcommand{\tkClaimsRefuted}{1}" in macros and r"\newcommand{\tkClaimsProved}{1}" in macros
    assert r"\newcommand{\tkSquareBelowHalfLabel}{refuted}" in macros


def test_without_tex_the_tex_is_written_and_the_message_says_so(project, capsys, monkeypatch):
    (project / "claims" / "claims.py").write_text(REFUTED.replace(
        '    Claim(name="square_below_half", quantity=lambda x: x * x, bound="x/2", domain="x=0..3:real"),\n', ""))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert appendix.build(project, budget=16) == 0
    err = capsys.readouterr().err
    assert "no LaTeX engine found (pdflatex is not on PATH)" in err
    assert "appendix/appendix.tex was not typeset" in err
    assert (project / "appendix" / "generated" / "claims_table.tex").is_file()
    assert not (project / "appendix" / "build").exists()


@pytest.mark.parametrize("text,message", [
    ("x = 1\n", "define CLAIMS = [Claim(...), ...] (a list of theory_kit.claims.Claim), got NoneType"),
    ("CLAIMS = [3]\n", "CLAIMS[0] is int 3, not a theory_kit.claims.Claim"),
    ("raise RuntimeError('no data')\n", "running it failed: RuntimeError: no data"),
    ("from theory_kit.claims import Claim\nCLAIMS = [Claim('c', 'x', 'y', 'x=0..1:real')]\n",
     "name 'y' is not a domain parameter"),
])
def test_a_bad_claims_file_is_a_usage_error_naming_the_file(project, capsys, text, message):
    (project / "claims" / "extra.py").write_text(text)
    assert appendix.build(project, budget=8, typeset=False) == 2
    err = capsys.readouterr().err
    assert message in err and "extra.py" in err, err
    assert not (project / "appendix" / "generated").exists()


def test_duplicate_claim_names_across_files_are_refused(project, capsys):
    (project / "claims" / "again.py").write_text(REFUTED)
    assert appendix.build(project, budget=8, typeset=False) == 2
    assert "claim name 'square_below_half' is used twice" in capsys.readouterr().err
