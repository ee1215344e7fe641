"""Built-in formula claims are proved (not only searched); the CLI and proofs_numeric say so."""

import pytest

from theory_kit.claims import get, verify
from theory_kit.claims.builtin import FORMULA_CLAIMS
from theory_kit.claims.cli import main
from theory_kit.claims.prove import check_proof


@pytest.mark.parametrize("name", FORMULA_CLAIMS)
def test_builtin_formula_claim_is_proved_with_a_checked_certificate(name):
    claim = get(name)
    assert claim.quantity_expr is not None
    v = verify(claim, method="prove", budget=200)
    assert v.status == "proved" and v.holds and v.n_violations == 0
    assert check_proof(claim, v.proof)


def test_every_registered_formula_claim_is_listed():
    from theory_kit.claims import names

    formula = {n for n in names() if get(n).quantity_expr is not None}
    assert formula == set(FORMULA_CLAIMS)


def test_cli_prove_and_strict(capsys):
    assert main(["verify", "softmax_linear_below_exact", "--prove", "--budget", "100"]) == 0
    out = capsys.readouterr().out
    assert "PROVED" in out and "proof" in out
    rc = main(["verify", "--quantity", "x*exp(-x)", "--bound", "exp(-1)", "--domain", "x=0..10", "--prove",
               "--budget", "200"])
    out = capsys.readouterr().out
    assert rc == 0 and "certificate:" in out and "boxes" in out
    rc = main(["verify", "--quantity", "x*exp(-x)", "--bound", "exp(-1)*(1-1/10**6)", "--domain", "x=0..10",
               "--prove", "--budget", "200"])
    assert rc == 1 and "REFUTED" in capsys.readouterr().out


def test_cli_prints_the_rounding_rule_and_near_misses(capsys):
    assert main(["verify", "layer_norm_hash_gap_squared", "--budget", "200"]) == 0
    out = capsys.readouterr().out
    assert "rounding-aware" in out and "near miss" in out
    main(["verify", "layer_norm_hash_gap_squared", "--budget", "50", "--strict"])
    assert "strict: floats compared exactly" in capsys.readouterr().out
