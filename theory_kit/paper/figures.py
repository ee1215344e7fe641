"""Figure builds: run every fig_<name>.py of a folder, in parallel, rebuilding only what changed.

This is the one figure build system: `make figures` in this repository (figures/build.py is a
thin caller) and in a paper project made by `theory-kit init` (`python -m theory_kit.paper
figures`) both run `build`.

Each figure script runs in its own process (`python <scripts>/fig_<name>.py --out-dir ...
--seed ... --manifest ...`, the flags of `theory_kit.plotting.run_cli`), at most `jobs` at a
time, with the project root as working directory, SOURCE_DATE_EPOCH=0, PYTHONHASHSEED=0 and the
agg backend. A figure is skipped ("cached") when its cache entry in <cache>/entries/<name>.json
matches the current key and every output it recorded is still in place with the recorded hash.
The key hashes

  * the script's source,
  * the library version: every theory_kit/**/*.py (path and bytes),
  * the inputs: the seed, any data files the script lists in a module-level
    `DATA_FILES = ("relative/path", ...)` (relative to the project root), and the versions of
    Python and of the numeric packages that shape the output (numpy, scipy, sympy,
    matplotlib, cvxpy, clarabel).

Interruption never leaves a half-written figure: scripts write into a staging folder and
os.replace finished files into the output folder (theory_kit.plotting.save_figure); a cache
entry is written only after the script exited 0 and all its outputs are verified. On Ctrl-C or
SIGTERM this process stops its workers (SIGTERM, then SIGKILL after 5 s), removes their
staging folders and exits 130/143. If this process is SIGKILLed, its workers are killed too
(Linux PR_SET_PDEATHSIG) and leave only staging folders, which the next build removes.

The cache is only ever a hint. An entry that cannot be read or does not have the shape this
module writes (hand-edited, truncated, a folder where the file belongs, ...) is a cache miss:
the figure is rebuilt and the entry overwritten; the same holds for every other file or folder
of the cache (logs/, manifests/, staging/, lock). One build at a time uses a cache folder: a
second build with the same cache waits on an exclusive lock (flock on <cache>/lock, printing
"waiting for another figure build (pid N) to finish") and then finds the figures cached.

Progress: one line per figure ("[k/N] name ... done (s)") on the given stream, and a bar with
an ETA on stderr when stderr is a terminal (theory_kit.progress, one tick per figure).

Exit status: 0 when every figure is built or cached, 1 when any failed (each failure printed
with the tail of its traceback; full logs in <cache>/logs/), 2 on bad usage, 130/143 when
interrupted.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import fcntl
import hashlib
import json
import math
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath

from theory_kit import paths
from theory_kit.progress import progress

__all__ = ["build", "main", "figure_key", "declared_data_files", "environment_fingerprint",
           "library_hash", "CACHE_SCHEMA"]

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


def declared_data_files(script: Path, root: Path | None = None) -> list[Path]:
    """The script's module-level DATA_FILES tuple (paths relative to `root`, default the
    repository root), if any."""
    root = paths.REPO_ROOT if root is None else root
    tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "DATA_FILES" for t in node.targets
        ):
            return [root / p for p in ast.literal_eval(node.value)]
    return []


def figure_key(script: Path, seed: int, lib_hash: str, env: str, root: Path | None = None) -> str:
    """The cache key of `script` (see the module docstring); `root` as in declared_data_files."""
    root = paths.REPO_ROOT if root is None else root
    chunks = [
        f"schema={CACHE_SCHEMA}".encode(),
        script.read_bytes(),
        lib_hash.encode(),
        f"seed={seed}".encode(),
        env.encode(),
    ]
    for data in declared_data_files(script, root):
        chunks += [data.relative_to(root).as_posix().encode(), data.read_bytes()]
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


def _read_json(path: Path):
    """The JSON value stored in the regular file `path`; ValueError/OSError when there is none.

    Anything else in its place (a folder, a FIFO that would block the read forever, a socket)
    counts as unreadable.
    """
    if not stat.S_ISREG(path.stat().st_mode):
        raise ValueError(f"{path} is not a regular file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except RecursionError as exc:  # absurdly nested JSON
        raise ValueError(f"{path}: nested too deeply") from exc


def _is_plain_relative(rel: str) -> bool:
    """A path inside the output folder: relative, no '..', not empty."""
    p = PurePosixPath(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and "\x00" not in rel


def _valid_entry(entry: object) -> bool:
    """True when `entry` has exactly the shape _finish records (see _write_entry)."""
    if not isinstance(entry, dict):
        return False
    if not isinstance(entry.get("key"), str) or not isinstance(entry.get("out_dir"), str):
        return False
    outputs, seconds = entry.get("outputs"), entry.get("seconds")
    if not isinstance(outputs, dict) or not outputs:
        return False
    if not all(isinstance(rel, str) and _is_plain_relative(rel) and isinstance(digest, str)
               for rel, digest in outputs.items()):
        return False
    return (isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
            and math.isfinite(seconds) and seconds >= 0)


def _read_entry(cache_dir: Path, name: str) -> dict | None:
    """The cache entry of `name`; None (a miss) when it is missing, unreadable or ill-shaped."""
    try:
        entry = _read_json(_entry_path(cache_dir, name))
    except (OSError, ValueError):
        return None
    return entry if _valid_entry(entry) else None


def _is_fresh(entry: dict | None, key: str, out_dir: Path) -> bool:
    if entry is None or entry["key"] != key or entry["out_dir"] != str(out_dir):
        return False
    try:
        return all(_file_hash(out_dir / rel) == digest for rel, digest in entry["outputs"].items())
    except OSError:  # missing, a folder, unreadable
        return False


def _ensure_dir(path: Path) -> Path:
    """`path` as a folder of the cache: a file or dangling link in its place is removed first."""
    if not path.is_dir():
        if path.is_symlink() or path.exists():
            path.unlink()
        path.mkdir(parents=True, exist_ok=True)
    return path


def _clear_for_file(path: Path) -> None:
    """Remove a folder (or a link to one) standing where the cache wants to write a file."""
    if path.is_symlink():
        if path.is_dir():
            path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _write_entry(cache_dir: Path, name: str, entry: dict) -> None:
    path = _entry_path(cache_dir, name)
    _ensure_dir(path.parent)
    _clear_for_file(path)
    paths.write_atomic(path, json.dumps(entry, indent=1, sort_keys=True))


# Staging folders: theory_kit.plotting.atomic_outputs stages a figure in <cache>/staging/ when
# that is on the output folder's filesystem, else in hidden <out>/.staging-<figure>-<pid>-*
# folders (older versions used a sibling <out>/../.<out>.staging/). A folder whose process is
# gone was left by a killed worker. (Not imported from plotting: that would load matplotlib.)
_OUT_STAGING_PREFIX = ".staging-"  # == theory_kit.plotting.OUT_STAGING_PREFIX


def _remove_stale_staging(cache_dir: Path, out_dir: Path) -> None:
    """Remove staging folders of processes that no longer exist (left by a killed build)."""
    cache_staging = cache_dir / "staging"
    if cache_staging.is_symlink() or (cache_staging.exists() and not cache_staging.is_dir()):
        with contextlib.suppress(OSError):  # else plotting stages inside out_dir instead
            cache_staging.unlink()
    candidates = []
    for root in (cache_staging, out_dir.parent / f".{out_dir.name}.staging"):
        if root.is_dir():
            candidates += [(d, d.name) for d in root.iterdir()]
    if out_dir.is_dir():
        candidates += [(d, d.name[len(_OUT_STAGING_PREFIX):]) for d in out_dir.iterdir()
                       if d.name.startswith(_OUT_STAGING_PREFIX)]
    for d, name in candidates:
        pid = _pid_of_staging(name)
        if pid is None or not _pid_alive(pid):
            if d.is_dir() and not d.is_symlink():
                shutil.rmtree(d, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    d.unlink()


def _pid_of_staging(dirname: str) -> int | None:
    # theory_kit.plotting.atomic_outputs names them "<figure>-<pid>-<random>".
    parts = dirname.rsplit("-", 2)
    try:
        return int(parts[1]) if len(parts) == 3 else None
    except ValueError:
        return None


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` is running. A zombie is not: a killed worker whose parent died
    stays a zombie until PID 1 reaps it, and some init processes (containers, VMs) never do."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): trust kill(pid, 0)
    state = stat.rsplit(")", 1)[-1].split()[:1]  # the name in parentheses may hold spaces
    return state not in (["Z"], ["X"])


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


def _start(fig: Figure, *, out_dir: Path, cache_dir: Path, seed: int, env: dict,
           root: Path) -> Running:
    logs = _ensure_dir(cache_dir / "logs")
    manifests = _ensure_dir(cache_dir / "manifests")
    manifest = manifests / f"{fig.name}.json"
    _clear_for_file(manifest)
    manifest.unlink(missing_ok=True)
    log_path = logs / f"{fig.name}.log"
    _clear_for_file(log_path)
    log_file = open(log_path, "wb")
    cmd = [sys.executable, str(fig.script), "--out-dir", str(out_dir), "--seed", str(seed),
           "--manifest", str(manifest)]
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env,
                            cwd=root, preexec_fn=_die_with_parent)
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
        listed = _read_json(run.manifest)
    except (OSError, ValueError) as exc:
        return False, f"no manifest ({exc})"
    if not isinstance(listed, list) or not all(isinstance(p, str) and p for p in listed):
        return False, f"malformed manifest {run.manifest} (not a JSON list of paths)"
    written = [Path(p) for p in listed]
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
    try:
        _write_entry(cache_dir, run.fig.name, {
            "key": run.fig.key,
            "out_dir": str(out_dir),
            "outputs": outputs,
            "seconds": round(time.monotonic() - run.started, 3),
        })
        run.manifest.unlink(missing_ok=True)
    except OSError as exc:
        return False, f"built, but its cache entry could not be written ({exc})"
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


def _lock_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return text if text.isdigit() else "unknown"


@contextlib.contextmanager
def _exclusive(cache_dir: Path):
    """Hold the cache folder's build lock (flock on <cache>/lock) for the duration of the block.

    Builds sharing a cache share manifests/, logs/, entries/ (all keyed by figure name) and in
    practice the output folder, so they run one after the other; the waiting one says so on
    stderr. The lock dies with its process, so a killed build never leaves it held.
    """
    path = cache_dir / "lock"
    while True:
        _clear_for_file(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"waiting for another figure build (pid {_lock_holder(fd)}) to finish",
                      file=sys.stderr, flush=True)
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:  # the file we locked must still be the one at `path` (not removed meanwhile)
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except OSError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except BaseException:
            os.close(fd)
            raise
        break
    try:
        yield
    finally:
        os.close(fd)  # releases the lock


def _usable_dir(path: Path, what: str) -> str | None:
    """Create `path` as a folder; the reason it cannot be one, or None."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"{what} {path} cannot be used as a folder ({exc.strerror or exc})"
    return None


def build(
    scripts_dir: Path | None = None,
    *,
    jobs: int,
    out_dir: Path,
    cache_dir: Path,
    seed: int = 0,
    force: bool = False,
    only: list[str] | None = None,
    root: Path | None = None,
    stream=None,
) -> int:
    """Build the fig_*.py scripts of `scripts_dir`; returns the exit status (module docstring).

    Args:
        scripts_dir: the folder of fig_<name>.py scripts (default: this repository's figures/).
        jobs: figures built in parallel (>= 1).
        out_dir: where the figures go (created if missing).
        cache_dir: the build cache (entries, logs, manifests, staging, lock).
        seed: passed to every script (--seed); part of the cache key.
        force: rebuild even what the cache says is fresh.
        only: build only these figure names (fig_<name>); an unknown name is an error (exit 2).
        root: the project root: the workers' working directory and the folder DATA_FILES are
            relative to (default: the parent of `scripts_dir`).
        stream: where the per-figure lines and the summary go (default sys.stdout).
    """
    stream = sys.stdout if stream is None else stream
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        print(f"jobs must be a whole number >= 1, got {jobs!r}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    scripts_dir = Path(paths.FIGURES_DIR if scripts_dir is None else scripts_dir)
    if not scripts_dir.is_dir():
        print(f"figure scripts folder {scripts_dir} does not exist (or is not a folder)",
              file=sys.stderr)
        return 2
    scripts_dir = scripts_dir.resolve()
    root = scripts_dir.parent if root is None else Path(root).resolve()
    out_dir, cache_dir = Path(out_dir), Path(cache_dir)
    for folder, what in ((out_dir, "output folder"), (cache_dir, "cache folder")):
        problem = _usable_dir(folder, what)
        if problem:
            print(problem, file=sys.stderr)
            return 2
    out_dir, cache_dir = out_dir.resolve(), cache_dir.resolve()
    try:
        with _exclusive(cache_dir):
            return _build_locked(jobs=jobs, out_dir=out_dir, cache_dir=cache_dir, seed=seed,
                                 force=force, only=only, scripts_dir=scripts_dir, root=root,
                                 stream=stream, t0=t0)
    except KeyboardInterrupt:  # Ctrl-C before the workers' signal handling is set up
        print("\ninterrupted (SIGINT)", file=stream, flush=True)
        return 128 + signal.SIGINT


def _build_locked(*, jobs: int, out_dir: Path, cache_dir: Path, seed: int, force: bool,
                  only: list[str] | None, scripts_dir: Path, root: Path, stream,
                  t0: float) -> int:
    _remove_stale_staging(cache_dir, out_dir)

    # Absolute: workers run with the project root as their working directory.
    scripts = sorted(scripts_dir.glob("fig_*.py"))
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
        key = figure_key(s, seed, lib, env_fp, root)
        figs.append(Figure(s.stem, s, key, float(entry["seconds"]) if entry else 0.0,
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

    def finished_figures():
        """Run the pool; yield once per figure that finished (built or failed)."""
        nonlocal built
        while (queue or running) and not _stop_requested:
            while queue and len(running) < jobs:
                running.append(_start(queue.pop(0), out_dir=out_dir, cache_dir=cache_dir,
                                      seed=seed, env=env, root=root))
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
                yield run.fig.name

    _stop_requested.clear()
    old = {s: signal.signal(s, _request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for _ in progress(finished_figures(), total=len(queue), desc="figures", unit="fig"):
            pass
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


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (--jobs, --budget), else a usage error naming it."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def main(argv: list[str] | None = None, *, scripts_dir: Path, out_dir: Path, cache_dir: Path,
         root: Path | None = None, prog: str | None = None, defaults_note: str = "") -> int:
    """The figure-build command line over the given default folders; returns the exit status.

    Args:
        argv: the arguments (default sys.argv[1:]).
        scripts_dir, out_dir, cache_dir, root: the defaults of --scripts-dir, --out-dir,
            --cache-dir and the project root (see `build`).
        prog: the program name shown in --help.
        defaults_note: appended to the help of --out-dir/--cache-dir (e.g. environment
            variables the caller honours).
    """
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", "-j", type=positive_int, default=os.cpu_count() or 1,
                        help="figures built in parallel (default: number of cores)")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help=f"output folder (default {out_dir}{defaults_note})")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help=f"cache folder (default {cache_dir}{defaults_note})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scripts-dir", type=Path, default=None,
                        help=f"folder of fig_*.py scripts (default {scripts_dir})")
    parser.add_argument("--force", action="store_true", help="ignore the cache")
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    parser.add_argument("only", nargs="*", help="build only these figures (fig_<name>)")
    args = parser.parse_args(argv)
    if args.list:
        for s in sorted((args.scripts_dir or scripts_dir).glob("fig_*.py")):
            print(s.stem)
        return 0
    return build(
        args.scripts_dir or scripts_dir,
        jobs=args.jobs,
        out_dir=args.out_dir or out_dir,
        cache_dir=args.cache_dir or cache_dir,
        seed=args.seed,
        force=args.force,
        only=args.only or None,
        root=root,
    )
