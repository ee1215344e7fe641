"""Compilation is a function of the program: the weights do not depend on PYTHONHASHSEED.

Set and frozenset iteration order (the vocabulary is a frozenset; strings hash differently in
every process) must never reach the residual layout or the order of units. Each check runs
the compile in fresh subprocesses, since the hash seed is fixed when the interpreter starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

#: Compiles every library program (non-causal, and causal where the program allows it) and
#: prints {"name/causal": sha256 of the weight arrays (name, bytes; names sorted)}.
_SCRIPT = r"""
import hashlib, json
import numpy as np
import theory_kit as tk
from theory_kit.library import PROGRAMS

out = {}
for name, spec in sorted(PROGRAMS.items()):
    for causal in ([False, True] if getattr(spec, "causal_safe", False) else [False]):
        try:
            m = tk.compile(spec(), vocab=spec.vocab, max_seq_len=spec.max_seq_len,
                           causal=causal, verify=None)
        except Exception as exc:  # reported by the assertion, not hidden
            out[f"{name}/{causal}"] = f"ERR {type(exc).__name__}: {exc}"
            continue
        h = hashlib.sha256()
        for key, array in sorted(m.weights.arrays().items()):
            h.update(key.encode())
            h.update(np.ascontiguousarray(array).tobytes())
        out[f"{name}/{causal}"] = h.hexdigest()
print(json.dumps(out, sort_keys=True))
"""

SEEDS = ("0", "1", "2")

#: sha256 prefixes of the weights of the programs whose compilation did not depend on the hash
#: seed before issue 12, as compiled at commit 0eb631a: they must stay byte-identical. The
#: programs with categorical lookups (majority, nary_sequencemap, prefix_sum, sort, sum) are
#: pinned as recompiled when lookup units became snapped pairs (craft.mlp.snapped_units);
#: the others are still the weights of 0eb631a.
PINNED = {
    "count/False": "4daf63a5f2bab05f", "count/True": "4daf63a5f2bab05f",
    "length/False": "474206d7ad3c2714", "length/True": "474206d7ad3c2714",
    "majority/False": "6932ce73e72b42c5", "max/False": "a515afe15e3ee584",
    "mean/False": "10d211f8219c62bb", "mean/True": "10d211f8219c62bb",
    "min/False": "182906ef8b493754",
    "nary_sequencemap/False": "5c28225cf4c20fa0", "nary_sequencemap/True": "5c28225cf4c20fa0",
    "prefix_sum/False": "a4480bdcc3860f6b", "prefix_sum/True": "a4480bdcc3860f6b",
    "reverse/False": "b5248a2f07ad4b23", "reverse/True": "b5248a2f07ad4b23",
    "sort/False": "bd0d0d7f5a733298", "sort_unique/False": "84ce06fb11f3e78b",
    "sum/False": "9c2e627ef227b6c8",
}


@pytest.fixture(scope="module")
def hashes_by_seed() -> dict[str, dict[str, str]]:
    procs = {}
    for seed in SEEDS:
        env = dict(os.environ, PYTHONHASHSEED=seed)
        procs[seed] = subprocess.Popen([sys.executable, "-c", _SCRIPT], env=env, text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = {}
    for seed, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=900)
        assert proc.returncode == 0, f"PYTHONHASHSEED={seed}: {stderr[-2000:]}"
        out[seed] = json.loads(stdout.strip().splitlines()[-1])
    return out


def test_library_compiles_without_errors(hashes_by_seed):
    errors = {k: v for k, v in hashes_by_seed[SEEDS[0]].items() if v.startswith("ERR")}
    assert not errors


def test_weights_do_not_depend_on_the_hash_seed(hashes_by_seed):
    first = hashes_by_seed[SEEDS[0]]
    for seed in SEEDS[1:]:
        other = hashes_by_seed[seed]
        assert other.keys() == first.keys()
        differ = sorted(k for k in first if first[k] != other[k])
        assert not differ, f"weights differ between PYTHONHASHSEED={SEEDS[0]} and {seed}: {differ}"


def test_seed_independent_programs_keep_their_weights(hashes_by_seed):
    got = hashes_by_seed[SEEDS[0]]
    changed = sorted(k for k, h in PINNED.items() if not got.get(k, "").startswith(h))
    assert not changed, f"weights changed against their pins: {changed}"
