"""appendix.tex and make_tables say what the toolkit measured (issue 13): proved vs searched claims,
rounding-aware verdicts, and the layer-norm hash breakpoints per accumulation precision."""

from __future__ import annotations

import importlib.util

from theory_kit import paths


def _make_tables():
    spec = importlib.util.spec_from_file_location("make_tables", paths.APPENDIX_DIR / "make_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_appendix_words_the_hash_lemma_correctly():
    tex = (paths.APPENDIX_DIR / "appendix.tex").read_text(encoding="utf-8")
    assert "holds in exact arithmetic" in tex
    assert "floating-point" in tex and "evaluation of its inequality" in tex
    assert r"\tkHashBoundFailsFloatOneSixAccFloatThreeTwo" in tex
    assert r"\tkClaimsProved" in tex and "rounding-aware" in tex


def test_precision_table_has_both_float16_accumulations(tmp_path):
    mt = _make_tables()
    f = mt.precision_table(tmp_path)
    text = f.text()
    assert "tkHashBoundFailsFloatOneSixAccFloatThreeTwo}{8}" in text
    assert "tkHashBoundFailsFloatOneSix}{6}" in text
    assert "accumulate float32" in text


def test_claims_summary_table_has_a_status_column(tmp_path):
    import subprocess
    import sys

    for name in ("softmax_linear_below_exact", "softmax_pmax"):
        proc = subprocess.run([sys.executable, str(paths.PROOFS_DIR / f"check_{name}.py"), "--out-dir", str(tmp_path),
                               "--budget", "64"], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (tmp_path / "softmax_linear_below_exact.tex").read_text()
    assert "Status}{proved (certificate:" in text
    assert "Status}{searched (64 points, worst ratio" in (tmp_path / "softmax_pmax.tex").read_text()
    table = _make_tables().claims_table(tmp_path).text()
    assert "claim & holds & status & worst ratio" in table and r"\tkSoftmaxLinearBelowExactStatus" in table
