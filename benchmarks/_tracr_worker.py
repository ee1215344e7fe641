"""Tracr's half of benchmarks/compare_tracr.py: compile, size, time and check Tracr models.

Runs inside the Tracr virtualenv (.venv-tracr, see benchmarks/setup_tracr_venv.py) and must not
import theory_kit. The parent starts it once and talks to it in JSON lines:

    stdin   one request per line: {"id": ..., "kind": "table" | "sweep", ...}
    stdout  one reply per request, a line starting with REPLY_PREFIX (anything else on stdout,
            e.g. a library's print, is ignored by the parent); progress goes to stderr.

The first reply (id "hello") carries versions and the JAX warm-up time. Requests:

  table  {"program", "call", "vocab", "max_seq_len", "inputs", "apply_max_inputs",
          "apply_budget_s", "max_batch", "chunk_bytes", "compile_budget_s", "return_expected"}:
          compile twice (first and repeated), sizes, Tracr's interpreter on every input, the
          jitted batched forward on every input, `model.apply(["BOS", *x])` on a few inputs, fraction correct.
  sweep  {"program", "steps": [{"max_seq_len", "call", "vocab", "inputs"}], "compile_budget_s",
          "eval_budget_s", "max_batch", "chunk_bytes"}: walk up the lengths; stop at the first
          inexact length, a compile over budget, a projected evaluation over budget, or an error.

Correct means: every position equal to Tracr's interpreter (`rasp.evaluate`), numerical outputs
within NUMERIC_TOLERANCE (Tracr runs in float32), positions where the interpreter gives None not
scored (a Tracr model always outputs some value). Same rule as record_tracr_reference.py.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import signal
import statistics
import sys
import time
import traceback

import _common as C  # stdlib + numpy only: importable in the Tracr venv

REPLY_PREFIX = "@@TRACR_REPLY "
NUMERIC_TOLERANCE = 1e-3
COMPILER_BOS = "BOS"


class Budget(Exception):
    """A step ran past its time budget (raised from SIGALRM)."""


def _alarm(signum, frame):
    raise Budget()


def log(msg: str) -> None:
    print(f"  [tracr] {msg}", file=sys.stderr, flush=True)


def reply(obj: dict) -> None:
    sys.stdout.write(REPLY_PREFIX + json.dumps(obj) + "\n")
    sys.stdout.flush()


def to_json(value):
    if hasattr(value, "item") and not isinstance(value, (list, tuple, str)):
        value = value.item()
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


def versions() -> dict:
    out = {}
    for package in ("tracr-pypi", "jax", "jaxlib", "dm-haiku", "numpy"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = None
    return out


def correct(expected: list, got: list, numerical: bool) -> bool:
    if len(expected) != len(got):
        return False
    for e, g in zip(expected, got):
        if e is None:
            continue
        if numerical:
            if not (isinstance(g, (int, float)) and isinstance(e, (int, float))
                    and abs(g - e) <= NUMERIC_TOLERANCE):
                return False
        elif g != e:
            return False
    return True


# -- Tracr ---------------------------------------------------------------------------------


def build(call: str):
    from tracr.compiler import lib
    from tracr.rasp import rasp

    return eval(call, {**vars(lib), "rasp": rasp})


def compile_model(call: str, vocab: list, max_seq_len: int):
    from tracr.compiler import compiling

    return compiling.compile_rasp_to_model(build(call), vocab=set(vocab), max_seq_len=max_seq_len,
                                           compiler_bos=COMPILER_BOS)


def sizes(model) -> dict:
    import numpy as np

    cfg = model.model_config
    leaves = [np.asarray(a) for mod in model.params.values() for a in mod.values()]
    width = len(model.residual_labels)
    # The unembedding is a closure in Tracr's haiku model, not a parameter: count it as a
    # [D, K] projection (K one-hot output columns, or 1 for a numerical output) with K nonzeros.
    k = len(model.output_encoder.encoding_map) if hasattr(model.output_encoder,
                                                           "encoding_map") else 1
    used = 0
    for layer in range(cfg.num_layers):
        q = np.asarray(model.params[f"transformer/layer_{layer}/attn/query"]["w"])
        q = q.reshape(q.shape[0], cfg.num_heads, cfg.key_size)
        used += int(sum(np.any(q[:, h] != 0) for h in range(cfg.num_heads)))
    return {
        "layers": cfg.num_layers,
        "heads": cfg.num_layers * cfg.num_heads,       # as laid out (every layer has num_heads)
        "heads_used": used,                            # heads with a nonzero query matrix
        "heads_per_layer": cfg.num_heads,
        "key_size": cfg.key_size,
        "mlp_hidden": cfg.mlp_hidden_size,
        "residual_width": width,
        "params": int(sum(a.size for a in leaves) + width * k),
        "params_nonzero": int(sum(np.count_nonzero(a) for a in leaves) + k),
        "dtype": str(leaves[0].dtype) if leaves else None,
    }


def batched_forward(model):
    """jit of Tracr's own haiku forward on a padded batch [B, T], PAD keys masked.

    `model.forward` is `hk.transform(...).apply` of a CompiledTransformerModel built with
    pad_token=None (no mask). We build the same modules with `model.get_compiled_model()` (so
    the parameter names match `model.params`) and set pad_token to Tracr's compiler_pad id, so
    padded keys are masked exactly as Tracr's model supports; padded query rows are dropped.
    """
    import haiku as hk
    import jax

    pad_id = model.input_encoder.encoding_map["compiler_pad"]

    @hk.without_apply_rng
    @hk.transform
    def forward(tokens):
        compiled = model.get_compiled_model()
        compiled.pad_token = pad_id
        return compiled(tokens, use_dropout=False).unembedded_output

    apply = jax.jit(forward.apply)
    return lambda tokens: apply(model.params, tokens)


def batch_size(model, t: int, n_inputs: int, max_batch: int, chunk_bytes: int) -> int:
    """Same rule as theory_kit's side (benchmarks/_common.py chunk_size + even_chunk): the
    widest activation [B, t, max(M, D, H*t)] within chunk_bytes (float32 here), at most
    max_batch, split into equal chunks."""
    cfg = model.model_config
    width = max(cfg.mlp_hidden_size, len(model.residual_labels), cfg.num_heads * t,
                cfg.num_heads * cfg.key_size)
    cap = max(1, min(max_batch, chunk_bytes // (t * width * 4)))
    pieces = -(-max(n_inputs, 1) // cap)
    return -(-max(n_inputs, 1) // pieces)


class TracrRunner:
    """Encodes, runs in fixed [batch_size, max_seq_len + 1] chunks (one jit shape; the last
    chunk is padded with PAD rows), decodes."""

    def __init__(self, model, max_seq_len: int, n_inputs: int, req: dict):
        import numpy as np

        self.model = model
        self.t = max_seq_len + 1
        self.batch_size = batch_size(model, self.t, n_inputs, req["max_batch"],
                                     req["chunk_bytes"])
        self.fn = batched_forward(model)
        self.enc = model.input_encoder.encoding_map
        self.pad = self.enc["compiler_pad"]
        self.categorical = hasattr(model.output_encoder, "encoding_map")
        self.np = np

    def encode(self, chunk):
        np = self.np
        ids = np.full((self.batch_size, self.t), self.pad, dtype=np.int32)
        for i, xs in enumerate(chunk):
            ids[i, :len(xs) + 1] = [self.enc[COMPILER_BOS]] + [self.enc[x] for x in xs]
        return ids

    def run_chunk(self, chunk):
        out = self.np.asarray(self.fn(self.encode(chunk)))
        rows = []
        for i, xs in enumerate(chunk):
            vals = out[i, 1:len(xs) + 1].tolist()
            rows.append(self.model.output_encoder.decode(vals) if self.categorical
                        else [float(v) for v in vals])
        return rows

    def chunks(self, inputs):
        return [inputs[i:i + self.batch_size] for i in range(0, len(inputs), self.batch_size)]


def interpret(call: str, inputs: list, budget_s: float = math.inf) -> tuple[list, list, float]:
    """Tracr's rasp.evaluate on each input; (outputs, errors, seconds). Raises Budget when
    every tenth input, evaluated first, projects the whole past budget_s."""
    from tracr.rasp import rasp

    program = build(call)
    outs: list = [None] * len(inputs)
    errors = []
    # Every tenth input first (the edge cases come first and are all full-length).
    order = list(range(0, len(inputs), 10)) + [i for i in range(len(inputs)) if i % 10]
    probe = len(range(0, len(inputs), 10))
    start = time.perf_counter()
    for k, i in enumerate(order):
        xs = inputs[i]
        if k == probe and (time.perf_counter() - start) * len(inputs) / probe > budget_s:
            raise Budget()
        try:
            outs[i] = to_json(rasp.evaluate(program, xs))
        except Exception as exc:  # Tracr's own failure is data, not a crash
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
    return outs, errors, time.perf_counter() - start


def score(expected: list, got: list, inputs: list, numerical: bool) -> dict:
    return C.score(expected, got, inputs, lambda e, g: correct(e, g, numerical), show=to_json)


def do_table(req: dict) -> dict:
    import jax
    import numpy as np
    from tracr.rasp import rasp

    call, vocab, n, inputs = req["call"], req["vocab"], req["max_seq_len"], req["inputs"]
    res: dict = {"call": call, "vocab": vocab, "max_seq_len": n, "n_inputs": len(inputs)}
    signal.alarm(int(req.get("compile_budget_s", 0)))
    try:
        # "First" = as in a fresh session after JAX start-up: without this, a program whose
        # model has the same shapes as an earlier one reuses the earlier XLA executables.
        jax.clear_caches()
        start = time.perf_counter()
        model = compile_model(call, vocab, n)
        res["compile_first_s"] = time.perf_counter() - start
        if res["compile_first_s"] <= req.get("repeat_below_s", math.inf):
            start = time.perf_counter()
            model = compile_model(call, vocab, n)
            res["compile_repeated_s"] = time.perf_counter() - start
    except Budget:
        res["error"] = f"compile exceeded {req.get('compile_budget_s')} s"
        return res
    except Exception as exc:
        res["error"] = f"compile failed: {type(exc).__name__}: {exc}"[:300]
        return res
    finally:
        signal.alarm(0)
    res["sizes"] = sizes(model)
    numerical = rasp.is_numerical(build(call))
    res["output_encoding"] = "numerical" if numerical else "categorical"

    expected, errors, t_interp = interpret(call, inputs)
    res["interpreter_s"] = t_interp
    res["interpreter_errors"] = len(errors)
    if errors:
        res["interpreter_error_example"] = errors[0]

    # Jitted batched forward: the jit compile is warm-up, timed separately.
    runner = TracrRunner(model, n, len(inputs), req)
    chunks = runner.chunks(inputs)
    start = time.perf_counter()
    runner.fn(runner.encode(chunks[0])).block_until_ready()
    res["jit_warmup_s"] = time.perf_counter() - start
    times: list = []
    while True:   # repeat for min_time_s (at least 3 passes) and take the median, like ours
        start = time.perf_counter()
        rows = [row for chunk in chunks for row in runner.run_chunk(chunk)]
        times.append(time.perf_counter() - start)
        if len(times) == 1:
            got = rows
        if (sum(times) >= req["min_time_s"] and (len(times) >= 3 or times[0] >= req["min_time_s"])
                or len(times) >= 100):
            break
    res["jit_s"] = statistics.median(times)
    res["jit_repeats"] = len(times)
    res["jit_batch_size"] = runner.batch_size
    res["jit"] = score(expected, got, inputs, numerical)

    # model.apply, Tracr's documented API, one input at a time. XLA compiles every op anew for
    # each new input length, so: one warm-up call (timed separately), then the steady-state rate
    # on inputs of that same length (the longest in the set). Generous to Tracr.
    longest = max(len(xs) for xs in inputs)
    pool = [i for i, xs in enumerate(inputs) if len(xs) == longest]
    picks = [pool[int(j)] for j in np.linspace(0, len(pool) - 1,
                                               min(len(pool), req["apply_max_inputs"] + 1))]
    start = time.perf_counter()
    model.apply([COMPILER_BOS, *inputs[picks[0]]])
    res["apply_warmup_s"] = time.perf_counter() - start
    timed, agree, t_apply = 0, 0, 0.0
    for i in picks[1:] or picks:
        start = time.perf_counter()
        decoded = model.apply([COMPILER_BOS, *inputs[i]]).decoded[1:]
        t_apply += time.perf_counter() - start
        timed += 1
        agree += correct(to_json(got[i]), to_json(decoded), numerical) or (
            to_json(decoded) == to_json(got[i]))
        if t_apply > req["apply_budget_s"]:
            break
    res["apply_n"] = timed
    res["apply_s"] = t_apply
    res["apply_input_length"] = longest
    res["apply_agrees_with_jit"] = agree
    if req.get("return_expected"):
        res["expected"] = expected
    return res


def do_sweep(req: dict) -> dict:
    from tracr.rasp import rasp

    steps_out = []
    res: dict = {"steps": steps_out, "longest_exact": None, "stop_reason": "all lengths exact"}
    for step in req["steps"]:
        n, call, vocab, inputs = step["max_seq_len"], step["call"], step["vocab"], step["inputs"]
        out: dict = {"max_seq_len": n, "n_inputs": len(inputs)}
        steps_out.append(out)
        log(f"sweep {req['program']} max_seq_len={n}: compiling")
        signal.alarm(int(req["compile_budget_s"]))
        try:
            start = time.perf_counter()
            model = compile_model(call, vocab, n)
            out["compile_s"] = time.perf_counter() - start
        except Budget:
            C.stop(res, out, C.over_budget("compile", req["compile_budget_s"], n))
            break
        except Exception as exc:
            C.stop(res, out, C.failed("compile", n, exc))
            break
        finally:
            signal.alarm(0)
        out["residual_width"] = len(model.residual_labels)
        numerical = rasp.is_numerical(build(call))
        runner = TracrRunner(model, n, len(inputs), req)
        chunks = runner.chunks(inputs)
        try:
            start = time.perf_counter()
            signal.alarm(int(req["compile_budget_s"]))
            try:
                runner.fn(runner.encode(chunks[0])).block_until_ready()
            finally:
                signal.alarm(0)
            out["jit_warmup_s"] = time.perf_counter() - start
            start = time.perf_counter()
            got = runner.run_chunk(chunks[0])
            projected = (time.perf_counter() - start) * len(chunks)
            if projected > req["eval_budget_s"]:
                C.stop(res, out, C.projected_over(projected, req["eval_budget_s"], n))
                break
            for chunk in chunks[1:]:
                got.extend(runner.run_chunk(chunk))
            out["eval_s"] = time.perf_counter() - start
        except Budget:
            C.stop(res, out, C.over_budget("jit compile of the forward",
                                           req["compile_budget_s"], n))
            break
        except Exception as exc:
            C.stop(res, out, C.failed("forward", n, exc))
            break
        budget = req.get("interpreter_budget_s", req["eval_budget_s"])
        signal.alarm(int(budget))
        try:
            expected, errors, out["interpreter_s"] = interpret(call, inputs, budget)
        except Budget:
            C.stop(res, out, C.oracle_over(budget, n))
            break
        finally:
            signal.alarm(0)
        out.update(score(expected, got, inputs, numerical))
        if out["n_correct"] < out["n_scored"]:
            res["stop_reason"] = C.inexact(out, n)
            break
        res["longest_exact"] = n
    return res


def main() -> int:
    signal.signal(signal.SIGALRM, _alarm)
    start = time.perf_counter()
    import jax

    # Warm-up outside any timing: JAX backend start-up and the first XLA compiles of a tiny model.
    model = compile_model("make_length()", [1], 2)
    model.apply([COMPILER_BOS, 1])
    reply({"id": "hello", "versions": versions(), "python": sys.version.split()[0],
           "jax_devices": [str(d) for d in jax.devices()], "warmup_s": time.perf_counter() - start,
           "x64": bool(jax.config.read("jax_enable_x64")), "pid": os.getpid()})
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        t0 = time.perf_counter()
        try:
            if req["kind"] == "table":
                with C.no_gc():  # no cyclic collection inside the timings, as on our side
                    res = do_table(req)
            else:
                res = do_sweep(req)
        except Exception as exc:
            res = {"error": f"worker error: {type(exc).__name__}: {exc}"[:300],
                   "traceback": traceback.format_exc()[-1500:]}
        res["id"] = req["id"]
        res["wall_s"] = time.perf_counter() - t0
        reply(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
