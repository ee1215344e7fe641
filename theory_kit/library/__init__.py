"""A library of named RASP programs: Tracr's `compiler/lib.py` plus programs theory papers use.

`tracr` is the port of Tracr's programs (same names, signatures, node structure, names and
encodings, so a Tracr user writes `from theory_kit import library as lib` and compiled sizes are
comparable); `theory` holds programs theory papers use; `registry` maps a name to a
`ProgramSpec`: a builder plus the metadata the CLI, compiler tests, benchmarks, figures and
bounds need (a one-line doc, a default vocabulary and max_seq_len small enough for exhaustive
verification, whether the program is causal-safe, an optional input precondition and a plain
Python reference implementation). `PROGRAMS[name]()` builds a program with its defaults,
`PROGRAMS[name].at(vocab=..., max_seq_len=...)` for another domain. `looped` holds programs
with a loop (`LOOPED_PROGRAMS`), `cot` chain-of-thought generators (`COT_PROGRAMS`: prompt
format, reference, and the number of tokens written as a sympy formula).
"""

from __future__ import annotations

from theory_kit.library import registry as _registry
from theory_kit.library.cot import (
    COT_PROGRAMS, CotSpec, arithmetic_spec, make_arithmetic_cot, make_circuit_cot, make_hops_cot,
    make_parity_cot)
from theory_kit.library.looped import (
    LOOPED_PROGRAMS, LoopedSpec, make_add_loop, make_dyck_loop, make_hops_loop, make_parity_loop,
    make_sort_loop)
from theory_kit.library.registry import PROGRAMS, ProgramSpec
from theory_kit.library.theory import (
    addition_tokens, digits_to_int, make_add, make_induction, make_majority, make_max, make_mean,
    make_min, make_palindrome, make_prefix_sum, make_prev_token, make_sum)
from theory_kit.library.tracr import (
    detect_pattern, length, make_count, make_count_less_freq, make_frac_prevs, make_hist,
    make_length, make_nary_sequencemap, make_pair_balance, make_reverse, make_shuffle_dyck,
    make_shuffle_dyck2, make_sort, make_sort_freq, make_sort_unique, shift_by)

__all__ = [
    # Tracr's compiler/lib.py
    "make_length", "length", "make_reverse", "make_pair_balance", "make_shuffle_dyck",
    "make_shuffle_dyck2", "make_hist", "make_sort_unique", "make_sort", "make_sort_freq",
    "make_frac_prevs", "shift_by", "detect_pattern", "make_count_less_freq", "make_count",
    "make_nary_sequencemap",
    # programs theory papers use
    "make_sum", "make_mean", "make_max", "make_min", "make_prefix_sum", "make_majority",
    "make_palindrome", "make_prev_token", "make_induction", "make_add",
    "addition_tokens", "digits_to_int",
    # looped programs (rasp.loop)
    "make_parity_loop", "make_add_loop", "make_sort_loop", "make_hops_loop", "make_dyck_loop",
    # chain-of-thought generators (rasp.generate, compile_generator)
    "make_parity_cot", "make_arithmetic_cot", "make_circuit_cot", "make_hops_cot",
    "arithmetic_spec",
    # registry
    "ProgramSpec", "PROGRAMS", "SIZE_PROGRAMS", "LoopedSpec", "LOOPED_PROGRAMS", "CotSpec",
    "COT_PROGRAMS",
]


def __getattr__(name: str):
    if name == "SIZE_PROGRAMS":  # built on first access (needs sympy through bounds)
        return _registry.SIZE_PROGRAMS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
