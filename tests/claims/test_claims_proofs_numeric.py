"""proofs_numeric: the check scripts write reproducible .tex, refuse to write on violation, and
run_all reports every script."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

from theory_kit.claims import Claim, get, names, register, unregister

ROOT = Path(__file__).resolve().parents[2]
PROOFS = ROOT / "proofs_numeric"


@pytest.fixture(scope="module")
def common():
    sys.path.insert(0, str(PROOFS))
    try:
        spec = importlib.util.spec_from_file_location("_common", PROOFS / "_common.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.path.remove(str(PROOFS))


def test_every_registered_claim_has_a_check_script():
    scripts = {p.stem[len("check_"):] for p in PROOFS.glob("check_*.py")}
    assert set(names()) <= scripts


def run(script, out_dir, *extra):
    return subprocess.run([sys.executable, str(PROOFS / script), "--out-dir", str(out_dir), *extra],
                          capture_output=True, text=True, cwd="/")


def test_check_script_output_is_byte_for_byte_reproducible(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        proc = run("check_softmax_tied_each.py", out, "--budget", "300")
        assert proc.returncode == 0, proc.stderr
    text = (a / "softmax_tied_each.tex").read_bytes()
    assert text == (b / "softmax_tied_each.tex").read_bytes()
    macros = re.findall(rb"\\newcommand\{\\([^}]*)\}", text)
    assert macros and all(re.fullmatch(rb"[A-Za-z]+", m) for m in macros)
    assert rb"\newcommand{\tkSoftmaxTiedEachWorstRatio}" in text
    assert list(a.iterdir()) == [a / "softmax_tied_each.tex"]  # no temporary files left


def test_layer_norm_hash_check_records_breakpoints(tmp_path):
    proc = run("check_layer_norm_hash_gap.py", tmp_path, "--budget", "100")
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "layer_norm_hash_gap.tex").read_text()
    assert r"\newcommand{\tkLayerNormHashGapDoubleDirectFirstGapViolation}{1345}" in text
    assert r"\newcommand{\tkLayerNormHashGapSingleDirectFirstCollision}{51}" in text
    assert r"\newcommand{\tkLayerNormHashGapHalfDirectFirstDegenerate}{181}" in text


def test_violated_claim_exits_1_and_removes_stale_output(common, tmp_path, capsys):
    x = sp.Symbol("x")
    register(Claim("planted_false_for_proofs", lambda x: x, x / 2, {"x": (0.5, 1.0, "real")}))
    try:
        stale = tmp_path / "planted_false_for_proofs.tex"
        stale.write_text("stale numbers")
        rc = common.run_check("planted_false_for_proofs", ["--out-dir", str(tmp_path), "--budget", "50"])
        assert rc == 1 and not stale.exists()
        assert "planted_false_for_proofs: VIOLATED at x=" in capsys.readouterr().out
    finally:
        unregister("planted_false_for_proofs")


def test_helpers(common, tmp_path):
    assert common.camel("layer_norm_hash_gap") == "LayerNormHashGap"
    assert common.camel("float16") == "FloatOneSix"
    assert common.tex_number(1.23456789e-7) == r"\ensuremath{1.23457\times 10^{-7}}"
    assert common.tex_number(0.000123456789) == "0.000123457"
    assert common.tex_number(2.0) == "2" and common.tex_number(7) == "7"
    assert common.tex_number(float("inf")) == r"\ensuremath{\infty}"
    target = tmp_path / "sub" / "x.tex"
    common.write_atomic(target, "a\n")
    common.write_atomic(target, "b\n")
    assert target.read_text() == "b\n" and [p.name for p in target.parent.iterdir()] == ["x.tex"]


def test_macro_collisions_are_refused(common):
    from theory_kit.claims import verify

    c = get("bipolar_address_codes")
    v = verify(c, budget=10)
    with pytest.raises(Exception, match="collide"):
        common.render_tex(c, v, extra_macros={"holds": "x"})


@pytest.mark.slow
def test_run_all_reports_every_script(tmp_path):
    proc = subprocess.run([sys.executable, str(PROOFS / "run_all.py"), "--out-dir", str(tmp_path), "--budget", "200"],
                          capture_output=True, text=True, cwd="/")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    n = len(list(PROOFS.glob("check_*.py")))
    assert [l.split(" ", 1)[0] for l in lines[:-1]] == [f"[{k}/{n}]" for k in range(1, n + 1)]
    assert lines[-1] == f"{n} passed, 0 failed"
    assert len(list(tmp_path.glob("*.tex"))) == n
