"""theory_kit.paper.figures: the one figure build system, for this repository and for a project."""

from __future__ import annotations

import importlib.util
import io

from theory_kit import paths
from theory_kit.paper import figures


def _repo_build_module():
    spec = importlib.util.spec_from_file_location("repo_figures_build", paths.FIGURES_DIR / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_figures_build_py_is_a_thin_caller_of_the_shared_machinery():
    repo = _repo_build_module()
    for name in ("figure_key", "declared_data_files", "environment_fingerprint", "library_hash",
                 "CACHE_SCHEMA"):
        assert getattr(repo, name) is getattr(figures, name), name
    source = (paths.FIGURES_DIR / "build.py").read_text()
    assert "subprocess" not in source and "flock" not in source  # no second build system


def test_data_files_are_relative_to_the_project_root(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "data").mkdir()
    script = tmp_path / "figures" / "fig_a.py"
    script.write_text('DATA_FILES = ("data/points.csv",)\n')
    data = tmp_path / "data" / "points.csv"
    data.write_text("x\n1\n")
    assert figures.declared_data_files(script, tmp_path) == [data]
    key = figures.figure_key(script, 0, "lib", "env", tmp_path)
    assert figures.figure_key(script, 0, "lib", "env", tmp_path) == key
    data.write_text("x\n2\n")
    assert figures.figure_key(script, 0, "lib", "env", tmp_path) != key
    assert figures.figure_key(script, 1, "lib", "env", tmp_path) != figures.figure_key(script, 0, "lib", "env", tmp_path)


def test_build_refuses_a_missing_scripts_folder_and_bad_jobs(tmp_path, capsys):
    kwargs = dict(out_dir=tmp_path / "out", cache_dir=tmp_path / "cache", stream=io.StringIO())
    assert figures.build(tmp_path / "nope", jobs=1, **kwargs) == 2
    assert f"figure scripts folder {tmp_path / 'nope'} does not exist" in capsys.readouterr().err
    (tmp_path / "figs").mkdir()
    assert figures.build(tmp_path / "figs", jobs=0, **kwargs) == 2
    assert "jobs must be a whole number >= 1, got 0" in capsys.readouterr().err


def test_an_empty_project_builds_nothing_and_succeeds(tmp_path):
    (tmp_path / "figures").mkdir()
    stream = io.StringIO()
    assert figures.build(tmp_path / "figures", jobs=2, out_dir=tmp_path / "out",
                         cache_dir=tmp_path / "cache", stream=stream) == 0
    assert "figures: 0 built, 0 cached, 0 failed" in stream.getvalue()
