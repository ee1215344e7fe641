"""figures/build.py and theory_kit.plotting: reproducible bytes, caching, failures, interruption."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from theory_kit import paths, plotting
from theory_kit.paper.loading import load_file

from figures_support import BUILD, build_env, incomplete_files, png_is_complete, run_build

FAST_FIGURE = "fig_softmax_hardmax"


def _load(name: str):
    return load_file(paths.FIGURES_DIR / f"{name}.py")


def test_every_figure_script_has_main_and_cli():
    scripts = paths.figure_scripts()
    assert scripts, "no figures/fig_*.py scripts"
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        assert "def main(out_dir" in text and "seed" in text, script.name
        assert 'if __name__ == "__main__":' in text, script.name
        assert "pyplot" not in text, f"{script.name}: use plotting.new_figure, not pyplot"


def test_same_seed_gives_byte_identical_outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("THEORY_KIT_FIGURES_CACHE", str(tmp_path / "cache"))
    fig = _load(FAST_FIGURE)
    a = fig.main(out_dir=tmp_path / "a", seed=0)
    b = fig.main(out_dir=tmp_path / "b", seed=0)
    assert [p.name for p in a] == [p.name for p in b]
    assert {p.suffix for p in a} >= {".pdf", ".png", ".csv"}
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), f"{pa.name} differs between two builds"
    pdf = (tmp_path / "a" / f"{FAST_FIGURE}.pdf").read_bytes()
    assert b"CreationDate" not in pdf and b"Matplotlib" not in pdf  # fixed metadata
    assert png_is_complete((tmp_path / "a" / f"{FAST_FIGURE}.png").read_bytes())


def test_different_seed_changes_the_data(tmp_path, monkeypatch):
    monkeypatch.setenv("THEORY_KIT_FIGURES_CACHE", str(tmp_path / "cache"))
    fig = _load(FAST_FIGURE)
    fig.main(out_dir=tmp_path / "a", seed=0)
    fig.main(out_dir=tmp_path / "b", seed=1)
    name = f"{FAST_FIGURE}.csv"
    assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "b" / name).read_bytes()


def test_atomic_outputs_moves_nothing_on_error(tmp_path, monkeypatch):
    monkeypatch.setenv("THEORY_KIT_FIGURES_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with plotting.atomic_outputs(out, "fig_x") as stage:
            (stage / "fig_x.csv").write_text("a\n1\n")
            raise RuntimeError("interrupted mid-figure")
    assert list(out.iterdir()) == []
    assert list((tmp_path / "cache" / "staging").iterdir()) == []


def test_build_then_cached_then_rebuilt_on_seed_change(dirs):
    out, cache = dirs
    first = run_build(out, cache, "--jobs", "1", FAST_FIGURE)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"[1/1] {FAST_FIGURE} ... done" in first.stdout
    assert not incomplete_files(out)
    second = run_build(out, cache, "--jobs", "1", FAST_FIGURE)
    assert f"[1/1] {FAST_FIGURE} ... cached" in second.stdout, second.stdout
    (out / f"{FAST_FIGURE}.png").unlink()  # a missing output invalidates the entry
    third = run_build(out, cache, "--jobs", "1", FAST_FIGURE)
    assert f"{FAST_FIGURE} ... done" in third.stdout, third.stdout
    fourth = run_build(out, cache, "--jobs", "1", "--seed", "3", FAST_FIGURE)
    assert f"{FAST_FIGURE} ... done" in fourth.stdout, fourth.stdout


def test_failing_figure_exits_nonzero_with_traceback(tmp_path, dirs):
    out, cache = dirs
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "fig_broken.py").write_text(
        "def main(out_dir=None, seed=0):\n"
        "    raise ValueError('the data disagrees with the bound')\n"
        "if __name__ == '__main__':\n"
        "    main()\n"
    )
    proc = run_build(out, cache, "--scripts-dir", str(scripts))
    assert proc.returncode == 1
    assert "fig_broken ... FAILED" in proc.stdout
    assert "ValueError: the data disagrees with the bound" in proc.stdout
    assert not (cache / "entries" / "fig_broken.json").exists()


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_interrupted_build_leaves_no_partial_file(dirs, how):
    out, cache = dirs
    cmd = [sys.executable, str(BUILD), "--out-dir", str(out), "--cache-dir", str(cache), "--jobs", "2"]
    proc = subprocess.Popen(cmd, env=build_env(out, cache), stdout=subprocess.PIPE, text=True,
                            cwd=paths.REPO_ROOT)
    # Kill "midway": right after the first figure finishes, while others are being built.
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if " ... done" in line or not line:
            break
    time.sleep(0.3)
    proc.send_signal(getattr(signal, how))
    rest, _ = proc.communicate(timeout=60)
    if how == "SIGKILL":
        assert proc.returncode == -signal.SIGKILL
        time.sleep(0.5)  # workers get PDEATHSIG=SIGKILL; let the kernel reap them
    else:
        assert proc.returncode == 128 + getattr(signal, how), "".join(lines) + rest
        assert "interrupted" in rest
    assert out.is_dir() and incomplete_files(out) == []
    entries = list((cache / "entries").glob("*.json")) if (cache / "entries").exists() else []
    for entry in entries:  # every cached figure has all its outputs
        assert (out / f"{entry.stem}.pdf").is_file()
    # The next build removes the dead workers' staging folders and completes.
    again = run_build(out, cache, "--jobs", "1", FAST_FIGURE)
    assert again.returncode == 0, again.stdout + again.stderr
    assert incomplete_files(out) == []
    staging = cache / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []


@pytest.mark.slow
def test_full_build_twice_is_byte_identical(tmp_path):
    outs = []
    for k in range(2):
        out, cache = tmp_path / f"out{k}", tmp_path / f"cache{k}"
        # every figure, at 2 jobs: 365-374 s on a quiet 2-core machine with the learning figures
        proc = run_build(out, cache, "--jobs", "2", timeout=1800)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outs.append(out)
    names = sorted(p.name for p in outs[0].iterdir())
    assert names == sorted(p.name for p in outs[1].iterdir())
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_a_zombie_worker_counts_as_gone():
    # A worker killed with its build stays a zombie when PID 1 does not reap orphans (as on the
    # CI machines); its staging folder must still be removed by the next build.
    from theory_kit.paper.figures import _pid_alive

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while _pid_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pid_alive(child.pid)  # exited, not yet reaped: a zombie
    child.wait()
    assert _pid_alive(os.getpid())
