"""Shared helpers of the benchmark scripts: machine facts, FLOP counts, timing, inputs, output.

Shape letters as in theory_kit.model.forward: T positions (BOS included), D residual width,
H heads, E query/key width, F value width, M MLP hidden units, K unembedding columns.
"""

from __future__ import annotations

import gc
import importlib.metadata
import itertools
import json
import math
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import time
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
RESULTS = BENCH / "results"
README = BENCH / "README.md"

#: Bytes the widest activation [B, T, max(M, D, H*T)] of one forward chunk may take.
CHUNK_BYTES = 256 * 2 ** 20
MAX_CHUNK = 4096


# -- machine -----------------------------------------------------------------------------------


# -- program structure (the recorded Tracr reference and the test that compares ours with it) ----
def program_structure(program, rasp, name: Callable = lambda expr: expr.name) -> list:
    """Nodes in depth-first pre-order: [class, name, encoding or None, [child indices]].

    `rasp` is the language module the program is written in (Tracr's or theory_kit's: both
    have SOp and get_encoding); `name` maps a node to the name recorded."""
    index: dict[int, int] = {}
    rows: list = []

    def visit(expr) -> int:
        if id(expr) in index:
            return index[id(expr)]
        index[id(expr)] = len(rows)
        row = [type(expr).__name__, name(expr),
               rasp.get_encoding(expr).value if isinstance(expr, rasp.SOp) else None, []]
        rows.append(row)
        row[3] = [visit(child) for child in expr.children]
        return index[id(expr)]

    visit(program)
    return rows


# -- why a length sweep stops (the Tracr worker and the theory_kit driver say it the same way) ---
def stop(res: dict, step: dict, reason: str) -> None:
    """Record why the sweep stops at this length: the step's error and the run's stop reason."""
    step["error"] = res["stop_reason"] = reason


def over_budget(what: str, budget: Any, n: int) -> str:
    return f"{what} exceeded the {budget} s budget at max_seq_len {n}"


def failed(what: str, n: int, exc: BaseException, limit: int = 300) -> str:
    return f"{what} failed at max_seq_len {n}: {type(exc).__name__}: {exc}"[:limit]


def projected_over(projected: float, budget: Any, n: int) -> str:
    return f"evaluation projected at {projected:.0f} s > {budget} s budget at max_seq_len {n}"


def oracle_over(budget: Any, n: int) -> str:
    return f"the interpreter (the oracle) would exceed its {budget} s budget at max_seq_len {n}"


def inexact(step: dict, n: int) -> str:
    return f"inexact at max_seq_len {n}: {step['n_correct']}/{step['n_scored']} inputs correct"


def version(package: str) -> Optional[str]:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def nproc() -> int:
    # `nproc` honours OMP_NUM_THREADS, which benchmarks/_threads.py sets: ask without it.
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_THREAD_LIMIT")}
    try:
        return int(subprocess.run(["nproc"], capture_output=True, text=True,
                                  env=env).stdout.strip())
    except (OSError, ValueError):
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def blas() -> str:
    try:
        cfg = np.show_config(mode="dicts")
        lib = cfg.get("Build Dependencies", {}).get("blas", {})
        return f"{lib.get('name', '?')} {lib.get('version', '')}".strip()
    except Exception:  # numpy < 1.25 has no mode="dicts"
        return "unknown"


def machine() -> dict:
    """What the numbers depend on: cores, CPU, load, library versions, thread settings."""
    return {
        "nproc": nproc(),
        "cpu_model": cpu_model(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas(),
        "theory_kit": version("theory_kit"),
        "platform": platform.platform(),
        "thread_env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                   "MKL_NUM_THREADS", "XLA_FLAGS")
                       if k in os.environ},
        "other_processes_cpu_percent": busy_neighbours(),
        "git": git_state(),
    }


def git_state() -> dict:
    """The commit measured, and whether theory_kit/ had uncommitted changes."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"head": git("rev-parse", "HEAD") or None,
            "theory_kit_dirty": bool(git("status", "--porcelain", "theory_kit"))}


def busy_neighbours(threshold: float = 20.0) -> list:
    """Other processes using more than `threshold` % CPU now (from `ps`): the load our timings
    share the machine with."""
    try:
        out = subprocess.run(["ps", "-eo", "pid,pcpu,comm", "--sort=-pcpu"], capture_output=True,
                             text=True, timeout=10).stdout.splitlines()[1:]
    except (OSError, subprocess.SubprocessError):
        return []
    me = {os.getpid(), os.getppid()}
    rows = []
    for line in out:
        parts = line.split(None, 2)
        if len(parts) == 3 and int(parts[0]) not in me and float(parts[1]) >= threshold:
            rows.append({"pid": int(parts[0]), "cpu_percent": float(parts[1]), "comm": parts[2]})
    return rows


def command_line() -> str:
    script = Path(sys.argv[0]).resolve()
    rel = script.relative_to(REPO) if script.is_relative_to(REPO) else script
    return shlex.join([".venv/bin/python", str(rel), *sys.argv[1:]])


# -- FLOPs -------------------------------------------------------------------------------------


def forward_flops(weights, n: int) -> dict:
    """Multiply-adds (x2 = FLOPs) of theory_kit's forward pass on one input of length n.

    Counted from the weight shapes, T = n + 1 (BOS): embedding T*D adds (a gather, not a
    matmul); per layer Q, K, V projections 2*T*D*H*(2E + F), QK^T 2*H*T*T*E, softmax-V
    2*H*T*T*F, output projection 2*T*H*F*D, MLP 2*T*(D*M + M*D); unembedding 2*T*D*K.
    Softmax exponentials, ReLUs, biases and residual adds are left out (O(T*(H*T + M + D))).
    """
    t = n + 1
    d = weights.residual_width
    out = {"embed": t * d, "qkv": 0, "qk": 0, "softmax_v": 0, "o": 0, "mlp": 0}
    for lw in weights.layers:
        h, _, e = lw.W_Q.shape
        f = lw.W_V.shape[2]
        m = lw.W_in.shape[1]
        out["qkv"] += 2 * t * d * h * (2 * e + f)
        out["qk"] += 2 * h * t * t * e
        out["softmax_v"] += 2 * h * t * t * f
        out["o"] += 2 * t * h * f * d
        out["mlp"] += 2 * t * 2 * d * m
    out["unembed"] = 2 * t * d * weights.unembed.shape[1]
    out["total"] = sum(out.values())
    return out


def planned_flops(weights, n: int) -> dict:
    """Multiply-adds (x2) the planned forward pass (`run_batch`) executes on one input of
    length n: as `forward_flops`, but each projection counted on its compact block (the
    residual rows it reads x the rows it writes; stored nonzeros for a block run as a sparse
    matrix), MLP hidden units that write nothing dropped, layers that write nothing skipped."""
    from theory_kit.model.forward import execution_plan

    def lin(block) -> int:
        c, r = block.shape
        return 2 * t * (block.matrix.nnz if block.sparse else c * r)

    t = n + 1
    plan = execution_plan(weights)
    out = {"embed": t * weights.residual_width, "qkv": 0, "qk": 0, "softmax_v": 0, "o": 0,
           "mlp": 0}
    for att, mlp in plan.layers:
        if att is not None:
            out["qkv"] += lin(att.qkv)
            out["qk"] += 2 * att.heads * t * t * att.e
            out["softmax_v"] += 2 * att.heads * t * t * att.f
            out["o"] += lin(att.out)
        if mlp is not None:
            out["mlp"] += lin(mlp.w_in) + lin(mlp.w_out)
    out["unembed"] = 2 * t * plan.unembed_t.size
    out["total"] = sum(out.values())
    return out


def widest_matmul(weights) -> tuple[int, int]:
    """(inner, outer) of the largest weight matmul of a layer: D x max(M, H*E, H*F, D)."""
    d = weights.residual_width
    cols = d
    for lw in weights.layers:
        h, _, e = lw.W_Q.shape
        cols = max(cols, lw.W_in.shape[1], h * e, h * lw.W_V.shape[2])
    return d, cols


def matmul_gflops(rows: int, inner: int, cols: int, dtype=np.float64,
                  min_seconds: float = 0.15, seed: int = 0) -> float:
    """Best measured GFLOP/s of a dense [rows, inner] @ [inner, cols] matmul on this machine."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((max(rows, 1), max(inner, 1))).astype(dtype)
    b = rng.standard_normal((max(inner, 1), max(cols, 1))).astype(dtype)
    flops = 2.0 * a.shape[0] * a.shape[1] * b.shape[1]
    a @ b  # warm-up (thread pool start)
    best, spent = math.inf, 0.0
    while spent < min_seconds or best == math.inf:
        start = time.perf_counter()
        a @ b
        dt = time.perf_counter() - start
        best, spent = min(best, dt), spent + dt
    return flops / best / 1e9


def chunk_size(t: int, width: int, itemsize: int = 8, cap: int = MAX_CHUNK) -> int:
    """Inputs per forward chunk so a [B, t, width] activation fits in CHUNK_BYTES."""
    b = CHUNK_BYTES // max(1, t * width * itemsize)
    return int(max(1, min(cap, b)))


def even_chunk(n_items: int, cap: int) -> int:
    """The chunk size splitting n_items into equal chunks of at most `cap`."""
    if n_items <= 0:
        return 1
    pieces = -(-n_items // max(1, cap))
    return -(-n_items // pieces)


def activation_width(weights, t: int) -> int:
    d, cols = widest_matmul(weights)
    heads = max((lw.n_heads for lw in weights.layers), default=0)
    return max(cols, d, heads * t)


def timed(fn: Callable[[], Any], min_seconds: float, max_runs: int = 100) -> tuple[Any, float, int]:
    """Run fn until min_seconds have passed (at least 3 runs unless one run already takes
    min_seconds): (first result, median seconds per run, runs). Median: robust to load spikes."""
    times: list[float] = []
    first = None
    while True:
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
        if first is None:
            first = out
        total = sum(times)
        if (total >= min_seconds and (len(times) >= 3 or times[0] >= min_seconds)) \
                or len(times) >= max_runs:
            break
    return first, float(np.median(times)), len(times)


@contextmanager
def no_gc() -> Iterator[None]:
    """Collect, then pause Python's cyclic garbage collector for a measurement (as `timeit`
    does): otherwise a full collection of the benchmark's own accumulated results lands inside
    whichever timing it happens to interrupt (seen: a 2 ms compile timed at 1.5 s). Both
    sides use it."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def score(expected: list, got: list, inputs: list, match: Callable[[Any, Any], bool],
          show: Callable[[Any], Any] = lambda g: g) -> dict:
    """Inputs whose output `match`es the expected one (inputs the interpreter rejected, None,
    are not scored), and the shortest failing input (its output passed through `show`).
    Shared by both sides: compare_tracr.py and _tracr_worker.py."""
    n_scored = n_ok = 0
    first_bad = None
    for xs, e, g in zip(inputs, expected, got):
        if e is None:
            continue
        n_scored += 1
        if match(e, g):
            n_ok += 1
        elif first_bad is None or len(xs) < len(first_bad["input"]):
            first_bad = {"input": xs, "expected": e, "got": show(g)}
    return {"n_scored": n_scored, "n_correct": n_ok,
            "fraction_correct": n_ok / n_scored if n_scored else None, "first_failure": first_bad}


# -- time budgets ------------------------------------------------------------------------------


class BudgetExceeded(Exception):
    pass


@contextmanager
def time_budget(seconds: Optional[float]) -> Iterator[None]:
    """Raise BudgetExceeded in this (main) thread after `seconds` (None or 0: no limit).

    SIGALRM interrupts Python code between bytecodes; a long single numpy call finishes first.
    """
    if not seconds:
        yield
        return

    def _raise(signum, frame):
        raise BudgetExceeded()

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# -- inputs ------------------------------------------------------------------------------------


def stable_seed(*parts: Any) -> int:
    return zlib.crc32(repr(parts).encode())


def domain_size(vocab_size: int, max_seq_len: int, distinct: bool) -> int:
    if distinct:
        return sum(math.perm(vocab_size, k) for k in range(1, min(vocab_size, max_seq_len) + 1))
    return sum(vocab_size ** k for k in range(1, max_seq_len + 1))


def enumerate_domain(vocab: Sequence, max_seq_len: int, distinct: bool) -> list[list]:
    """Every input of length 1..max_seq_len, shortest first (distinct tokens if `distinct`)."""
    out = []
    for k in range(1, max_seq_len + 1):
        it = (itertools.permutations(vocab, k) if distinct
              else itertools.product(vocab, repeat=k))
        out.extend(list(xs) for xs in it)
    return out


def balanced(rng: np.random.Generator, n: int, pairs: Sequence[str], filler: Sequence) -> list:
    """A random length-n sequence whose every pair type is balanced (filler tokens around)."""
    out: list = []
    stack: list = []
    while len(out) < n:
        room = n - len(out)
        if stack and (room <= len(stack) or rng.random() < 0.45):
            out.append(stack.pop())
        elif filler and (room - len(stack) < 2 or rng.random() < 0.15):
            out.append(filler[int(rng.integers(len(filler)))])
        else:
            pair = pairs[int(rng.integers(len(pairs)))]
            out.append(pair[0])
            stack.append(pair[1])
    return out


def random_inputs(vocab: Sequence, max_seq_len: int, count: int, seed: int, *,
                  distinct: bool = False, full_fraction: float = 0.0,
                  edge_cases: bool = False, dyck_pairs: Sequence[str] = ()) -> list[list]:
    """A seeded sample. Lengths uniform in 1..max_seq_len except `full_fraction` of them at
    max_seq_len; edge cases (every token repeated max_seq_len times) first; for Dyck
    programs a third of the inputs are balanced (random ones almost never are)."""
    rng = np.random.default_rng(seed)
    toks = list(vocab)
    out: list[list] = []
    if edge_cases and not distinct:
        out.extend([t] * max_seq_len for t in toks)
    filler = [t for t in toks if all(t not in p for p in dyck_pairs)]
    while len(out) < count:
        n = max_seq_len if rng.random() < full_fraction else int(rng.integers(1, max_seq_len + 1))
        if distinct:
            n = min(n, len(toks))
            out.append([toks[i] for i in rng.choice(len(toks), size=n, replace=False)])
        elif dyck_pairs and n % 2 == 0 and rng.random() < 1 / 3:
            out.append(balanced(rng, n, dyck_pairs, filler if n > 2 else []))
        else:
            out.append([toks[i] for i in rng.integers(0, len(toks), size=n)])
    return out[:count]


# -- output ------------------------------------------------------------------------------------


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=_json_default) + "\n")
    os.replace(tmp, path)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return repr(o)


def replace_between_markers(path: Path, name: str, body: str, title: str = "") -> None:
    """Put `body` between <!-- BEGIN name --> and <!-- END name --> in `path` (appending the
    section, with `title`, when the markers are missing)."""
    begin, end = f"<!-- BEGIN {name} (generated; do not edit by hand) -->", f"<!-- END {name} -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + (f"{title}\n\n" if title else "") + block + "\n"
    path.write_text(text)


def finish(result: dict, start: float, out: Path, markdown: Callable[[dict], str], *,
           readme: bool, section: str, title: str) -> None:
    """End a benchmark run: stamp `result` (wall time since `start`, finish time), write it
    as JSON to `out`, print its markdown table and (with `readme`) put the table in the
    benchmarks README between the markers of `section`."""
    result["wall_s"] = time.perf_counter() - start
    result["finished"] = time.strftime("%Y-%m-%d %H:%M")
    write_json(out, result)
    text = markdown(result)
    print(text)
    progress(f"wrote {out}")
    if readme:
        replace_between_markers(README, section, text, title)
        progress(f"updated {README.relative_to(REPO)}")


def output_arguments(parser: Any, out: Path, *, seed: bool = True) -> None:
    """The options every benchmark script shares: --seed (unless `seed` is False), --threads
    (BLAS threads), --out (its JSON, default `out`) and --no-readme."""
    if seed:
        parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads (default 1; 0 = numpy's default)")
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--no-readme", action="store_true")


def measured_line(result: dict) -> str:
    """The first line of a benchmark's README section: when, how long, on what machine, with
    which BLAS threads (`result["settings"]["threads"]`) and command."""
    m = result["machine"]
    return (f"Measured {result['finished']} in {result['wall_s']:.0f} s: `nproc` = {m['nproc']}, "
            f"{m['cpu_model']}, load average {', '.join(f'{x:.1f}' for x in m['load_average'])}; "
            f"Python {m['python']}, numpy {m['numpy']} ({m['blas']}); BLAS threads: "
            f"{result['settings']['threads'] or 'default'}. Command: `{result['command']}`.")


def fmt(x: Any, digits: int = 3) -> str:
    """Short human number: 3 significant digits, thousands separators for big ones."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if not math.isfinite(x):
            return str(x)
        if x == 0:
            return "0"
        if abs(x) >= 10 ** digits:
            return f"{x:,.0f}"
        return f"{x:.{digits}g}"
    return str(x)


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
