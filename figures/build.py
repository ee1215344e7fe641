"""`make figures`: build every figures/fig_<name>.py, in parallel, rebuilding only what changed.

Each figure script runs in its own process (`python figures/fig_<name>.py --out-dir ... --seed
... --manifest ...`), at most --jobs at a time. A figure is skipped ("cached") when its cache
entry in figures/.cache/entries/<name>.json matches the current key and every output it
recorded is still in place with the recorded hash. The key hashes

  * the script's source,
  * the library version: every theory_kit/**/*.py (path and bytes),
  * the inputs: the seed, any data files the script lists in a module-level
    `DATA_FILES = ("relative/path", ...)`, and the versions of Python and of the numeric
    packages that shape the output (numpy, scipy, sympy, matplotlib, cvxpy, clarabel).

Interruption never leaves a half-written figure: scripts write into a staging folder and
os.replace finished files into the output folder (theory_kit.plotting.save_figure); a cache
entry is written only after the script exited 0 and all its outputs are verified. On Ctrl-C or
SIGTERM this process stops its workers (SIGTERM, then SIGKILL after 5 s), removes their
staging folders and exits 130/143. If this process is SIGKILLed, its workers are killed too
(Linux PR_SET_PDEATHSIG) and leave only staging folders, which the next build removes.

Exit status: 0 when every figure is built or cached, 1 when any failed (each failure printed
with the tail of its traceback; full logs in figures/.cache/logs/), 130/143 when interrupted.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script

from theory_kit import paths  # noqa: E402

CACHE_SCHEMA = 1
_VERSIONED = ("numpy", "scipy", "sympy", "matplotlib", "cvxpy", "clarabel")
_TRACEBACK_TAIL = 12  # lines of a failed figure's stderr shown in the summary


_stop_requested: list[int] = []  # signals received; the build loop polls it


def _request_stop(signum, frame):
    # Only record the signal: raising here could land between Popen and bookkeeping and
    # orphan a worker. The loop below notices within one poll interval.
    _stop_requested.append(signum)


# ---------------------------------------------------------------------------------------------
# Cache keys


def _sha256(*chunks: bytes) -> str:
    h = hashlib.sha256()
    for c in chunks:
        h.update(len(c).to_bytes(8, "little"))
        h.update(c)
    return h.hexdigest()


library_hash = paths.library_hash


def environment_fingerprint() -> str:
    parts = [f"python={sys.version_info[:3]}"]
    for dist in _VERSIONED:
        try:
            parts.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist}=absent")
    return ";".join(parts)


def declared_data_files(script: Path) -> list[Path]:
    """The script's module-level DATA_FILES tuple (paths relative to the repo root), if any."""
    tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "DATA_FILES" for t in node.targets
        ):
            return [paths.REPO_ROOT / p for p in ast.literal_eval(node.value)]
    return []


def figure_key(script: Path, seed: int, lib_hash: str, env: str) -> str:
    chunks = [
        f"schema={CACHE_SCHEMA}".encode(),
        script.read_bytes(),
        lib_hash.encode(),
        f"seed={seed}".encode(),
        env.encode(),
    ]
    for data in declared_data_files(script):
        chunks += [data.relative_to(paths.REPO_ROOT).as_posix().encode(), data.read_bytes()]
    return _sha256(*chunks)


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Cache entries


@dataclass
class Figure:
    name: str
    script: Path
    key: str
    previous_seconds: float = 0.0
    cached: bool = False


def _entry_path(cache_dir: Path, name: str) -> Path:
    return cache_dir / "entries" / f"{name}.json"


def _read_entry(cache_dir: Path, name: str) -> dict | None:
    try:
        return json.loads(_entry_path(cache_dir, name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _is_fresh(entry: dict | None, key: str, out_dir: Path) -> bool:
    if not entry or entry.get("key") != key or entry.get("out_dir") != str(out_dir):
        return False
    try:
        return all(_file_hash(out_dir / rel) == digest for rel, digest in entry["outputs"].items())
    except (OSError, KeyError, TypeError):
        return False


def _write_entry(cache_dir: Path, name: str, entry: dict) -> None:
    path = _entry_path(cache_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(entry, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def _remove_stale_staging(cache_dir: Path, out_dir: Path) -> None:
    """Remove staging folders of processes that no longer exist (left by a killed build)."""
    roots = [cache_dir / "staging", out_dir.parent / f".{out_dir.name}.staging"]
    for root in roots:
        if not root.is_dir():
            continue
        for d in root.iterdir():
            pid = _pid_of_staging(d.name)
            if pid is None or not _pid_alive(pid):
                shutil.rmtree(d, ignore_errors=True)


def _pid_of_staging(dirname: str) -> int | None:
    # theory_kit.plotting.atomic_outputs names them "<figure>-<pid>-<random>".
    parts = dirname.rsplit("-", 2)
    try:
        return int(parts[1]) if len(parts) == 3 else None
    except ValueError:
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------------------------------
# Running


@dataclass
class Running:
    fig: Figure
    proc: subprocess.Popen
    started: float
    log_path: Path
    manifest: Path
    log_file: object = field(repr=False, default=None)


def _child_env(out_dir: Path, cache_dir: Path, jobs: int) -> dict[str, str]:
    env = dict(os.environ)
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    env.update(
        THEORY_KIT_FIGURES_OUT=str(out_dir),
        THEORY_KIT_FIGURES_CACHE=str(cache_dir),
        MPLBACKEND="agg",
        PYTHONHASHSEED="0",
        SOURCE_DATE_EPOCH="0",
    )
    # One BLAS/solver thread pool per worker, not one per core per worker.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
        env.setdefault(var, threads)
    # Pytest runs with warnings as errors; figure builds follow the same rule.
    env.setdefault("PYTHONWARNINGS", "error")
    return env


def _die_with_parent() -> None:
    """In the worker, before exec: ask Linux to SIGKILL it if the build process dies.

    Workers stay in our process group, so Ctrl-C reaches them too (they abort, discarding
    their staging folder); PDEATHSIG covers the build being SIGKILLed, which would otherwise
    orphan workers that keep writing after the caller thinks the build is over.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: workers may outlive a killed build
        pass


def _start(fig: Figure, *, out_dir: Path, cache_dir: Path, seed: int, env: dict) -> Running:
    logs = cache_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    manifests = cache_dir / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    manifest = manifests / f"{fig.name}.json"
    manifest.unlink(missing_ok=True)
    log_path = logs / f"{fig.name}.log"
    log_file = open(log_path, "wb")
    cmd = [sys.executable, str(fig.script), "--out-dir", str(out_dir), "--seed", str(seed),
           "--manifest", str(manifest)]
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env,
                            cwd=paths.REPO_ROOT, preexec_fn=_die_with_parent)
    return Running(fig, proc, time.monotonic(), log_path, manifest, log_file)


def _traceback_tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").rstrip().splitlines()
    except OSError:
        return "    (no log)"
    return "\n".join("    " + line for line in lines[-_TRACEBACK_TAIL:])


def _finish(run: Running, *, out_dir: Path, cache_dir: Path) -> tuple[bool, str]:
    """Verify a finished worker's outputs and record its cache entry. Returns (ok, message)."""
    run.log_file.close()
    if run.proc.returncode != 0:
        return False, f"exit status {run.proc.returncode}"
    try:
        written = [Path(p) for p in json.loads(run.manifest.read_text(encoding="utf-8"))]
    except (OSError, ValueError) as exc:
        return False, f"no manifest ({exc})"
    outputs = {}
    for p in written:
        try:
            rel = p.resolve().relative_to(out_dir)
        except ValueError:
            return False, f"wrote {p} outside the output folder {out_dir}"
        if not p.is_file():
            return False, f"reported output {p} is missing"
        outputs[rel.as_posix()] = _file_hash(p)
    if not any(r.endswith(".pdf") for r in outputs):
        return False, "no PDF among its outputs"
    _write_entry(cache_dir, run.fig.name, {
        "key": run.fig.key,
        "out_dir": str(out_dir),
        "outputs": outputs,
        "seconds": round(time.monotonic() - run.started, 3),
    })
    run.manifest.unlink(missing_ok=True)
    return True, ""


def _stop(running: list[Running], cache_dir: Path, out_dir: Path) -> None:
    """Terminate workers (their whole sessions), then drop their staging folders."""
    for run in running:
        if run.proc.poll() is None:
            run.proc.terminate()
    deadline = time.monotonic() + 5.0
    for run in running:
        try:
            run.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            run.proc.kill()
            run.proc.wait()
        run.log_file.close()
    _remove_stale_staging(cache_dir, out_dir)


def build(
    *,
    jobs: int,
    out_dir: Path,
    cache_dir: Path,
    seed: int = 0,
    force: bool = False,
    only: list[str] | None = None,
    scripts_dir: Path | None = None,
    stream=sys.stdout,
) -> int:
    """Build the figures; returns the process exit status (see module docstring)."""
    t0 = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    out_dir, cache_dir = out_dir.resolve(), cache_dir.resolve()
    _remove_stale_staging(cache_dir, out_dir)

    scripts = sorted((scripts_dir or paths.FIGURES_DIR).glob("fig_*.py"))
    if only:
        unknown = sorted(set(only) - {s.stem for s in scripts})
        if unknown:
            print(f"unknown figure(s): {', '.join(unknown)}; known: "
                  f"{', '.join(s.stem for s in scripts)}", file=sys.stderr)
            return 2
        scripts = [s for s in scripts if s.stem in only]
    lib, env_fp = library_hash(), environment_fingerprint()
    figs = []
    for s in scripts:
        entry = _read_entry(cache_dir, s.stem)
        key = figure_key(s, seed, lib, env_fp)
        figs.append(Figure(s.stem, s, key, float((entry or {}).get("seconds", 0.0)),
                           cached=not force and _is_fresh(entry, key, out_dir)))
    total = len(figs)
    done = 0

    def report(name: str, status: str) -> None:
        nonlocal done
        done += 1
        print(f"[{done}/{total}] {name} ... {status}", file=stream, flush=True)

    for fig in figs:
        if fig.cached:
            report(fig.name, "cached")
    # Longest first (from the last recorded build time) packs the pool best.
    queue = sorted((f for f in figs if not f.cached), key=lambda f: -f.previous_seconds)
    env = _child_env(out_dir, cache_dir, jobs)
    running: list[Running] = []
    failures: list[tuple[str, str, Path]] = []
    built = 0

    _stop_requested.clear()
    old = {s: signal.signal(s, _request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while (queue or running) and not _stop_requested:
            while queue and len(running) < jobs:
                running.append(_start(queue.pop(0), out_dir=out_dir, cache_dir=cache_dir,
                                      seed=seed, env=env))
            time.sleep(0.05)
            for run in [r for r in running if r.proc.poll() is not None]:
                running.remove(run)
                ok, why = _finish(run, out_dir=out_dir, cache_dir=cache_dir)
                secs = time.monotonic() - run.started
                if ok:
                    built += 1
                    report(run.fig.name, f"done ({secs:.1f} s)")
                else:
                    failures.append((run.fig.name, why, run.log_path))
                    report(run.fig.name, f"FAILED ({secs:.1f} s): {why}")
        if _stop_requested:
            signum = _stop_requested[0]
            print(f"\ninterrupted ({signal.Signals(signum).name}); stopping {len(running)} "
                  "worker(s); no partial outputs kept", file=stream, flush=True)
            _stop(running, cache_dir, out_dir)
            return 128 + signum
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)

    elapsed = time.monotonic() - t0
    cached = sum(f.cached for f in figs)
    print(f"figures: {built} built, {cached} cached, {len(failures)} failed in {elapsed:.1f} s "
          f"-> {out_dir}", file=stream, flush=True)
    for name, why, log in failures:
        print(f"\n{name} failed: {why}\n{_traceback_tail(log)}\n    (full log: {log})",
              file=stream, flush=True)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1,
                        help="figures built in parallel (default: number of cores)")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="output folder (default figures/out, env THEORY_KIT_FIGURES_OUT)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="cache folder (default figures/.cache, env THEORY_KIT_FIGURES_CACHE)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scripts-dir", type=Path, default=None,
                        help="folder of fig_*.py scripts (default figures/; tests use their own)")
    parser.add_argument("--force", action="store_true", help="ignore the cache")
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    parser.add_argument("only", nargs="*", help="build only these figures (fig_<name>)")
    args = parser.parse_args(argv)
    if args.list:
        for s in sorted((args.scripts_dir or paths.FIGURES_DIR).glob("fig_*.py")):
            print(s.stem)
        return 0
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    return build(
        jobs=args.jobs,
        out_dir=args.out_dir or paths.figures_out_dir(),
        cache_dir=args.cache_dir or paths.figures_cache_dir(),
        seed=args.seed,
        force=args.force,
        only=args.only or None,
        scripts_dir=args.scripts_dir,
    )


if __name__ == "__main__":
    raise SystemExit(main())
