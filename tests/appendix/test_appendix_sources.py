"""paper_appendix: every macro appendix.tex uses is generated, every figure it includes is built."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

from theory_kit import paths


def _load_build():
    spec = importlib.util.spec_from_file_location("appendix_build", paths.APPENDIX_DIR / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


appendix_build = _load_build()


def _run(*cmd, env=None, timeout=600):
    proc = subprocess.run([sys.executable, *map(str, cmd)], cwd=paths.REPO_ROOT, capture_output=True,
                          text=True, env=env, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Run every generator into temporary folders: proofs (small budget), tables, and the
    figures appendix.tex includes (every figure script is built by its own tests and by the
    slow full-build test)."""
    root = tmp_path_factory.mktemp("appendix")
    gen, figs, cache = root / "generated", root / "figures", root / "cache"
    _run(paths.PROOFS_DIR / "run_all.py", "--out-dir", gen, "--budget", "64")
    _run(paths.APPENDIX_DIR / "make_tables.py", "--out-dir", gen)
    env = dict(os.environ, THEORY_KIT_FIGURES_CACHE=str(cache))
    _run(paths.FIGURES_DIR / "build.py", "--out-dir", figs, "--cache-dir", cache, "--jobs", "2",
         *appendix_build.figures_used(), env=env)
    return root, gen, figs


def test_every_macro_is_generated_and_every_figure_exists(generated):
    _, gen, figs = generated
    problems = appendix_build.check_sources(generated_dir=gen, figures_dir=figs)
    assert problems == []
    used = appendix_build.macros_used(appendix_build.TEX_SOURCE.read_text(encoding="utf-8"))
    assert len(used) >= 5  # the check is not vacuous: appendix.tex quotes generated numbers


def test_generated_claim_tables_are_in_the_summary(generated):
    _, gen, _ = generated
    summary = (gen / "tk_claims.tex").read_text(encoding="utf-8")
    for script in paths.PROOFS_DIR.glob("check_*.py"):
        assert script.stem[len("check_"):].replace("_", r"\_") in summary


def test_appendix_typesets(generated):
    root, gen, figs = generated
    engine = appendix_build.find_engine()
    if engine is None:
        pytest.skip("no LaTeX engine installed; run .ci/install_latex.sh")
    build = root / "build"
    rc = appendix_build.typeset(generated_dir=gen, figures_dir=figs, build_dir=build, engine=engine)
    assert rc == 0, (build / "appendix.log").read_text(errors="replace")[-3000:]
    pdf = (build / "appendix.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    log = (build / "appendix.log").read_text(errors="replace")
    assert "Undefined control sequence" not in log and "There were undefined references" not in log


def test_figures_used_reads_every_kind_of_inclusion(tmp_path):
    tex = tmp_path / "a.tex"
    tex.write_text("\\fig{fig_a}{cap}\n\\figwide{fig_b}{cap}\n\\includegraphics[width=1in]{fig_c.pdf}\n"
                   "% \\fig{fig_commented}{cap}\n\\includegraphics{#1.pdf}\n", encoding="utf-8")
    assert appendix_build.figures_used(tex) == ["fig_a", "fig_b", "fig_c"]
    assert "fig_compiled_program" in appendix_build.figures_used()  # a \\figwide of appendix.tex


def test_check_sources_reports_each_kind_of_problem(tmp_path):
    gen, figs = tmp_path / "gen", tmp_path / "figs"
    gen.mkdir()
    figs.mkdir()
    (gen / "tk_a.tex").write_text("\\newcommand{\\tkAlpha}{1}\n\\newcommand{\\tkTable}{\\tkBeta}\n")
    (figs / "fig_here.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    tex = tmp_path / "appendix.tex"
    tex.write_text(
        "\\newcommand{\\tkTyped}{3}\n"
        "\\input{tk_a.tex}\\input{tk_missing.tex}\n"
        "% \\tkInComment is ignored\n"
        "\\tkAlpha{} \\tkGamma{} \\tkTable\n"
        "\\includegraphics[width=1in]{fig_here.pdf}\\includegraphics{fig_gone}\n"
    )
    problems = "\n".join(appendix_build.check_sources(tex, generated_dir=gen, figures_dir=figs))
    assert "defines \\tkTyped by hand" in problems
    assert "tk_missing.tex" in problems
    assert "\\tkGamma (used in appendix.tex)" in problems
    assert "\\tkBeta (used in tk_a.tex)" in problems
    assert "fig_gone.pdf is missing" in problems
    assert "tkAlpha" not in problems and "tkInComment" not in problems and "fig_here" not in problems


def test_missing_engine_is_reported_clearly(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert appendix_build.find_engine() is None
