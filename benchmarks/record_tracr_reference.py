"""Record Tracr's own outputs for its library programs: the reference theory_kit is tested against.

Run from the repository root (with any Python; it re-runs itself in a Tracr virtualenv found by
benchmarks/tracr_env.py):

    /tmp/tracrvenv/bin/python benchmarks/record_tracr_reference.py

Writes
  tests/data/tracr_reference.json           Tracr's interpreter (`rasp.evaluate`) and causal
                                            interpreter (`causal_eval.evaluate`) outputs, and
                                            each program's node structure;
  tests/data/tracr_reference_compiled.json  Tracr's compiled models' decoded outputs on the same
                                            inputs (compile_rasp_to_model(program, vocab,
                                            max_seq_len, compiler_bos="BOS")), with the fraction
                                            that match Tracr's interpreter. Evidence only: no test
                                            asserts anything about it.

`--skip-compiled` records only the interpreter file. Inputs are deterministic (seeded per
program). This script must not import theory_kit: it runs in Tracr's environment.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import random
import shlex
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The scoring rule and JSON conversion of compare_tracr's worker (it runs in the Tracr venv too
# and imports neither theory_kit nor Tracr at module level).
from _tracr_worker import COMPILER_BOS, NUMERIC_TOLERANCE, correct, to_json  # noqa: E402
import _common as C  # noqa: E402  (stdlib + numpy only)

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
INTERPRETER_FILE = DATA / "tracr_reference.json"
COMPILED_FILE = DATA / "tracr_reference_compiled.json"
SEED = 20240601
N_CASES = 60          # inputs per program (fewer only when the whole domain is smaller)
ABC = ["a", "b", "c"]
# name, Python expression over Tracr's lib namespace, vocab, max_seq_len. Must match the
# defaults of theory_kit.library.PROGRAMS (tests/test_library.py checks it).
PROGRAMS = [
    ("length", "make_length()", [1, 2, 3], 5),
    ("reverse", "make_reverse(rasp.tokens)", [1, 2, 3], 5),
    ("pair_balance", 'make_pair_balance(rasp.tokens, "(", ")")', ["(", ")", "a"], 5),
    ("shuffle_dyck", 'make_shuffle_dyck(["()"])', ["(", ")", "a"], 5),
    ("shuffle_dyck2", "make_shuffle_dyck2()", ["(", ")", "{", "}"], 5),
    ("hist", "make_hist()", ABC, 5),
    ("sort_unique", "make_sort_unique(rasp.tokens, rasp.tokens)", [0, 1, 2, 3, 4], 5),
    ("sort", "make_sort(rasp.tokens, rasp.tokens, max_seq_len=5, min_key=1)", [1, 2, 3, 4], 5),
    ("sort_freq", "make_sort_freq(5)", ABC, 5),
    ("frac_prevs", 'make_frac_prevs(rasp.tokens == "a")', ["a", "b"], 5),
    ("shift_by", "shift_by(1, rasp.tokens)", ABC, 5),
    ("detect_pattern", 'detect_pattern(rasp.tokens, "abc")', ABC, 5),
    ("count_less_freq", "make_count_less_freq(2)", ABC, 5),
    ("count", 'make_count(rasp.tokens, "a")', ABC, 5),
    ("nary_sequencemap",
     "make_nary_sequencemap(lambda t, i, n: t + i < n, rasp.tokens, rasp.indices, length)",
     [0, 1, 2], 5),
]
# Not registry defaults: inputs on which theory_kit deliberately differs from Tracr.
#  * argsort with repeated keys makes a categorical Aggregate select different values: Tracr
#    returns their mean, theory_kit raises EvaluationError;
#  * the `length` primitive under causal evaluation: Tracr keeps the full length, theory_kit
#    uses the prefix length (what a causally masked model can compute);
#  * (t + i) % n fails to compile in Tracr: value-set inference gives `length` the value 0.
EXTRA_PROGRAMS = [
    ("nary_sequencemap_mod",
     "make_nary_sequencemap(lambda t, i, n: (t + i) % n, rasp.tokens, rasp.indices, length)",
     [0, 1, 2], 5),
    ("sort_unique_argsort", "make_sort_unique(rasp.indices, rasp.tokens)", [0, 1, 2], 5),
    ("length_primitive", "rasp.Map(lambda n: n, rasp.length)", [0, 1], 5),
]


def ensure_tracr() -> None:
    """Re-execute this script under a Python that has Tracr, if this one does not."""
    try:
        import tracr.compiler.lib  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(REPO / "benchmarks"))
        import tracr_env

        python = tracr_env.find_tracr_python()
        if python is None:
            sys.exit("Tracr is not importable here and no Tracr virtualenv was found; run "
                     "`python benchmarks/tracr_env.py --create` first")
        print(f"re-running under {python}", file=sys.stderr)
        os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def make_inputs(vocab: list, max_seq_len: int, rng: random.Random) -> list[list]:
    """Edge cases first (length 1, all-equal, max length, distinct tokens), then seeded random."""
    cases: list[list] = []
    seen: set = set()

    def add(xs) -> None:
        key = tuple(xs)
        if key not in seen:
            seen.add(key)
            cases.append(list(xs))

    for v in vocab:
        add([v])                                  # length 1
    for v in vocab:
        add([v] * max_seq_len)                    # all equal, at max length
    for n in range(2, max_seq_len):
        add([vocab[0]] * n)                       # all equal, shorter
    add(vocab[:max_seq_len])                      # distinct tokens
    add(list(reversed(vocab))[:max_seq_len])
    domain = sum(len(vocab) ** n for n in range(1, max_seq_len + 1))
    target = min(N_CASES, domain)
    attempts = 0
    while len(cases) < target and attempts < 100_000:
        attempts += 1
        kind = rng.random()
        if kind < 0.5:
            n = max_seq_len                       # half of the random inputs at max length
        else:
            n = rng.randint(1, max_seq_len)
        if kind > 0.85 and n <= len(vocab):
            add(rng.sample(vocab, n))             # distinct tokens (sort_unique's domain)
        else:
            add([rng.choice(vocab) for _ in range(n)])
    return cases


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def structure(program) -> list:
    """Nodes in depth-first pre-order: [class, name, encoding or None, [child indices]]."""
    from tracr.rasp import rasp

    return C.program_structure(program, rasp)


def make_mean_detector():
    """A Tracr evaluator that also notes categorical Aggregates averaging different values.

    theory_kit raises EvaluationError there (no categorical transformer can output a mean);
    Tracr returns the mean. Recording it lets the test expect exactly those inputs to differ.
    """
    from tracr.rasp import rasp

    class MeanDetector(rasp.DefaultRASPEvaluator):
        def __init__(self):
            super().__init__()
            self.averaged: list[str] = []

        def eval_aggregate(self, sop, xs):
            if rasp.is_categorical(sop):
                rows = self.evaluate(sop.selector, xs)
                values = self.evaluate(sop.sop, xs)
                for row in rows:
                    selected = [v for s, v in zip(row, values) if s]
                    if len({(type(v), v) for v in selected}) > 1:
                        self.averaged.append(sop.name)
                        break
            return super().eval_aggregate(sop, xs)

    return MeanDetector


def record_interpreter(namespace: dict) -> dict:
    from tracr.rasp import causal_eval, rasp

    mean_detector = make_mean_detector()
    programs = []
    for name, call, vocab, max_seq_len in PROGRAMS + EXTRA_PROGRAMS:
        program = eval(call, namespace)
        rng = random.Random(f"{SEED}:{name}")
        cases = []
        for xs in make_inputs(vocab, max_seq_len, rng):
            case = {"input": xs}
            try:
                case["output"] = to_json(rasp.evaluate(program, xs))
            except Exception as exc:  # Tracr's own failure is data, not a crash
                case["error"] = describe_error(exc)
            detector = mean_detector()
            try:
                detector.evaluate(program, xs)
            except Exception:
                pass
            case["categorical_mean"] = sorted(set(detector.averaged))
            try:
                case["causal_output"] = to_json(causal_eval.evaluate(program, xs))
            except Exception as exc:
                case["causal_error"] = describe_error(exc)
            cases.append(case)
        programs.append({"name": name, "call": call, "vocab": vocab, "max_seq_len": max_seq_len,
                         "extra": (name, call, vocab, max_seq_len) in EXTRA_PROGRAMS,
                         "structure": structure(program), "cases": cases})
        print(f"{name}: {len(cases)} inputs", file=sys.stderr)
    return {"programs": programs}


def record_compiled(namespace: dict, interpreter: dict) -> dict:
    from tracr.compiler import compiling
    from tracr.rasp import rasp

    by_name = {p["name"]: p for p in interpreter["programs"]}
    programs = []
    for name, call, vocab, max_seq_len in PROGRAMS + EXTRA_PROGRAMS:
        program = eval(call, namespace)
        numerical = rasp.is_numerical(program)
        entry = {"name": name, "call": call, "vocab": vocab, "max_seq_len": max_seq_len,
                 "compiler_bos": COMPILER_BOS, "output_encoding": "numerical" if numerical
                 else "categorical"}
        start = time.perf_counter()
        try:
            model = compiling.compile_rasp_to_model(program, vocab=set(vocab),
                                                    max_seq_len=max_seq_len,
                                                    compiler_bos=COMPILER_BOS)
        except Exception as exc:
            entry["compile_error"] = describe_error(exc)
            entry["compile_traceback_tail"] = traceback.format_exc().strip().splitlines()[-3:]
            programs.append(entry)
            print(f"{name}: compile failed: {entry['compile_error']}", file=sys.stderr)
            continue
        entry["compile_seconds"] = round(time.perf_counter() - start, 3)
        config = model.model_config
        entry["model"] = {"num_layers": config.num_layers, "num_heads": config.num_heads,
                          "mlp_hidden_size": config.mlp_hidden_size,
                          "residual_width": len(model.residual_labels)}
        cases, n_correct, n_exact, n_scored, max_err = [], 0, 0, 0, 0.0
        for ref in by_name[name]["cases"]:
            xs = ref["input"]
            decoded = to_json(model.apply([COMPILER_BOS, *xs]).decoded[1:])
            case = {"input": xs, "decoded": decoded}
            if "output" not in ref:
                case["expected_error"] = ref["error"]
                cases.append(case)
                continue
            expected = ref["output"]
            case["expected"] = expected
            case["correct"] = correct(expected, decoded, numerical)
            case["exact"] = decoded == expected
            if numerical:
                errs = [abs(d - e) for e, d in zip(expected, decoded)
                        if isinstance(e, (int, float)) and isinstance(d, (int, float))]
                max_err = max([max_err, *errs])
            n_scored += 1
            n_correct += case["correct"]
            n_exact += case["exact"]
            cases.append(case)
        entry.update({
            "n_scored": n_scored, "fraction_correct": n_correct / n_scored if n_scored else None,
            "fraction_exact": n_exact / n_scored if n_scored else None,
            "max_abs_error": max_err if numerical else None, "cases": cases})
        print(f"{name}: compiled, {n_correct}/{n_scored} correct", file=sys.stderr)
        programs.append(entry)
    return {"numeric_tolerance": NUMERIC_TOLERANCE,
            "correct_means": "every position equal to Tracr's interpreter output (numerical: "
                             "within numeric_tolerance); positions where the interpreter gives "
                             "None are not scored; 'exact' compares every position with ==",
            "programs": programs}


def _script_path() -> str:
    script = Path(sys.argv[0]).resolve()
    return str(script.relative_to(REPO)) if script.is_relative_to(REPO) else str(script)


def dumps(value, indent: int = 0, width: int = 100) -> str:
    """JSON with short containers on one line (one input case per line), stable key order."""
    flat = json.dumps(value)
    if len(flat) + indent <= width or not isinstance(value, (dict, list)) or not value:
        return flat
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {dumps(v, indent + 1, width)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    items = [inner + dumps(v, indent + 1, width) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + pad + "]"


def header(description: str) -> dict:
    versions = {}
    for package in ("tracr-pypi", "jax", "jaxlib", "dm-haiku", "numpy"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "description": description,
        "generated_by": "benchmarks/record_tracr_reference.py",
        "command": f"cd <repo> && {shlex.join([sys.executable, _script_path(), *sys.argv[1:]])}",
        "python_version": platform.python_version(),
        "package_versions": versions,
        "seed": SEED,
        "cases_per_program": N_CASES,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-compiled", action="store_true",
                        help="do not compile models (only the interpreter file)")
    args = parser.parse_args()
    ensure_tracr()
    from tracr.compiler import lib
    from tracr.rasp import rasp

    namespace = {**vars(lib), "rasp": rasp}
    DATA.mkdir(parents=True, exist_ok=True)
    interpreter = record_interpreter(namespace)
    out = {"header": header("Tracr interpreter outputs (rasp.evaluate and causal_eval.evaluate)"
                            " of tracr.compiler.lib programs"), **interpreter}
    INTERPRETER_FILE.write_text(dumps(out) + "\n")
    print(f"wrote {INTERPRETER_FILE.relative_to(REPO)}", file=sys.stderr)
    if not args.skip_compiled:
        compiled = record_compiled(namespace, interpreter)
        out = {"header": header("Tracr compiled-model decoded outputs (BOS position dropped) "
                                "on the inputs of tracr_reference.json"), **compiled}
        COMPILED_FILE.write_text(dumps(out) + "\n")
        print(f"wrote {COMPILED_FILE.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
