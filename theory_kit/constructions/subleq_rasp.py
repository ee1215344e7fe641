"""SUBLEQ as a looped RASP program, compiled by the loop compiler (issue 16, item 6), and its
comparison with the hand-built construction `theory_kit.constructions.subleq`.

The program (`make_subleq_loop`)
--------------------------------
The input is the program itself, one token per position, length m + k:

    positions 0..m-1      memory cells: an int, the cell's N-bit two's complement value
    positions m..m+k-1    instruction i = position m + i: a triple (a, b, c)

(`encode` writes it). The loop state is two per-position SOps: `mem` (the cell's value at a
memory position, 0 elsewhere) and `pc` (the program counter, the same at every position). One
iteration executes one instruction, as `subleq.interpret` does:

    instr   = tokens at position m + pc            (Aggregate: a one-hot select on indices)
    a, b, c = the fields of instr                  (Maps)
    va, vb  = mem at a, mem at b                   (two Aggregates)
    r       = wrap(vb - va, N)                     (SequenceMap)
    mem'    = r at position b, else mem            (SequenceMaps: [i == b], then a select)
    pc'     = c if r <= 0 else pc + 1              (SequenceMaps)

and the loop halts when pc == k (at every position; all positions hold the same pc). The
output (`make_subleq_loop`'s SOp) is (mem, pc) per position; `decode` reads the memory from
positions 0..m-1 and the pc from position 0. max_iterations = `loops`: a program that has not
halted by then stops there, as `subleq.interpret(..., loops=loops)` does.

Every step is total (a malformed input, e.g. a triple at a memory position or a short
sequence, gives some well-defined result), because compile's sampled verification draws token
sequences from the whole vocabulary, not only well-formed programs.

Both machines take the program in their input and keep their weights fixed; the differences
are in how the instruction's data flow is laid out. The compiled one gives every categorical
value its own one-hot direction (memory values: 2^N directions, not N bits; a SequenceMap is an
MLP with one hidden unit per input pair), so its width grows with 2^N and with the
vocabulary (2^N + 1 + m·m·(k+1) token kinds), where the hand-built one uses N bits and log n
address bits. The compiler lays the body out as 5 layers per instruction (fetch head; decode
a, b, c; the two read heads; subtract and the write/branch maps, which form a chain of MLPs),
against the hand-built 3 (which folds subtraction, branch condition and increment into one MLP
and the write, branch and error correction into another); the compiled model adds 2 prelude
layers (initial state) and 1 epilogue layer (the (mem, pc) output).

Measured (benchmarks/subleq_automatic_vs_hand.py, 500 random programs, 2k instructions, one
BLAS thread; both exact on every program), compiled vs hand-built at (m, k, N) = (4, 4, 3):
width 231 vs 50, layers 8 (5 per instruction) vs 3, parameters 398,356 (4,386 non-zero) vs
19,151 (586); at (4, 6, 4): width 341 vs 54, 979,672 (9,602) vs 23,229 (701) parameters;
programs/s compiled / hand 0.66..0.97 (about 40% of the hand-built run at these sizes is its
Python punchcard encoder; the compiled runtime also stops a batch once every program halted).
"""

from __future__ import annotations

import time
from typing import Any, Optional, Sequence

import numpy as np

from theory_kit.constructions import subleq
from theory_kit.errors import InvalidInput
from theory_kit.rasp import nodes as rasp
from theory_kit.rasp.loops import loop

__all__ = ["make_subleq_loop", "HALT", "encode", "decode", "vocab", "compile_subleq",
           "run_compiled", "compare"]

_I, _T = rasp.indices, rasp.tokens
_EQ = rasp.Comparison.EQ
#: What `subleq_write` holds away from address b (never a memory value).
_KEEP = "keep"
#: The token of a padding instruction (halts without changing memory).
HALT = "HALT"


def _check(m: int, k: int, N: int, loops: int, where: str) -> None:
    problems = [f"{name} must be an int >= {low}, got {v!r}"
                for name, v, low in (("m", m, 1), ("k", k, 1), ("N", N, 2), ("loops", loops, 1))
                if isinstance(v, bool) or not isinstance(v, int) or v < low]
    if problems:
        raise InvalidInput(f"{where}: " + "; ".join(problems))


def vocab(m: int, k: int, N: int) -> set:
    """The input tokens: every N-bit value, every triple (a, b, c) with a, b < m, c <= k, and
    HALT."""
    _check(m, k, N, 1, "subleq_rasp.vocab")
    values = set(range(-(1 << (N - 1)), 1 << (N - 1)))
    return values | {HALT} | {(a, b, c) for a in range(m) for b in range(m) for c in range(k + 1)}


def encode(instructions: Sequence, memory: Sequence[int], *, m: int, k: int) -> list:
    """The token sequence of a program: memory (padded with 0 to m cells), then the
    instructions, padded to k with the HALT token (an instruction that changes no memory and
    sets pc = k); a jump to len(instructions) (halt) becomes a jump to k."""
    instrs = [tuple(int(x) for x in t) for t in instructions]
    mem = [int(v) for v in memory]
    if len(mem) > m or len(instrs) > k:
        raise InvalidInput(f"subleq_rasp.encode: {len(mem)} cells and {len(instrs)} "
                           f"instructions do not fit m={m}, k={k}")
    instrs = [(a, b, k if c == len(instrs) else c) for a, b, c in instrs]
    return mem + [0] * (m - len(mem)) + instrs + [HALT] * (k - len(instrs))


def decode(output: Sequence, *, m: int, n_instructions: Optional[int] = None
           ) -> tuple[tuple, int]:
    """(memory, pc) from the program's output (a (mem, pc) pair per position); with
    `n_instructions` (a program shorter than k) the halt address k is reported as
    n_instructions, as `subleq.interpret` does."""
    pc = output[0][1]
    if n_instructions is not None and pc == len(output) - m:
        pc = n_instructions
    return tuple(v for v, _ in output[:m]), pc


def make_subleq_loop(*, m: int, k: int, N: int, loops: int) -> rasp.SOp:
    """The looped RASP SUBLEQ machine for m memory cells, k instructions, N-bit values, at most
    `loops` instructions executed (see the module docstring).

    Returns:
        The output SOp: (memory value, pc) at every position (memory value 0 at instruction
        positions).

    Example:
        >>> prog = make_subleq_loop(m=2, k=1, N=3, loops=2)
        >>> decode(prog(encode([(0, 1, 1)], [1, 3], m=2, k=1)), m=2)
        ((1, 2), 1)
    """
    _check(m, k, N, loops, "make_subleq_loop")
    # Aggregate defaults are scalars, so the fetched instruction is the int code
    # (a·m + b)·(k + 1) + c of its triple; anything but a triple (the HALT token, a value, or
    # no position at all: pc past the input) is the code `halt`, whose a and b are -1 (no
    # position: both reads give 0 and nothing is written) and c = k: 0 - 0 <= 0 jumps to k.
    halt = m * m * (k + 1)

    def code(t):
        return (t[0] * m + t[1]) * (k + 1) + t[2] if isinstance(t, tuple) else halt

    def step(state):
        mem, pc = state
        fetched = rasp.Aggregate(
            rasp.Select(_I, pc, lambda key, query: key == query + m),
            rasp.Map(code, _T).named("subleq_code"),
            default=halt).named("subleq_instruction")
        a = rasp.Map(lambda t: -1 if t == halt else t // (k + 1) // m, fetched).named("subleq_a")
        b = rasp.Map(lambda t: -1 if t == halt else t // (k + 1) % m, fetched).named("subleq_b")
        c = rasp.Map(lambda t: k if t == halt else t % (k + 1), fetched).named("subleq_c")
        va = rasp.Aggregate(rasp.Select(_I, a, _EQ), mem, default=0).named("subleq_mem_a")
        vb = rasp.Aggregate(rasp.Select(_I, b, _EQ), mem, default=0).named("subleq_mem_b")
        r = rasp.SequenceMap(lambda x, y: subleq.wrap(y - x, N), va, vb).named("subleq_result")
        at_b = rasp.SequenceMap(lambda i, bb: i == bb, _I, b).named("subleq_at_b")
        write = rasp.SequenceMap(lambda here, v: v if here else _KEEP, at_b, r)\
            .named("subleq_write")
        new_mem = rasp.SequenceMap(lambda w, old: old if w == _KEEP else w, write, mem)\
            .named("subleq_mem_next")
        target = rasp.SequenceMap(lambda v, cc: cc if v <= 0 else -1, r, c)\
            .named("subleq_jump")
        new_pc = rasp.SequenceMap(lambda t, p: t if t >= 0 else min(p + 1, k), target, pc)\
            .named("subleq_pc_next")
        return new_mem, new_pc

    def until(state):
        return rasp.Map(lambda p: p == k, state[1]).named("subleq_halted")

    mem0 = rasp.Map(lambda t: t if isinstance(t, int) else 0, _T).named("subleq_mem0")
    pc0 = rasp.Full(0).named("subleq_pc0")
    values = (range(-(1 << (N - 1)), 1 << (N - 1)), range(k + 1))
    mem, pc = loop(step, (mem0, pc0), until=until, max_iterations=loops, values=values,
                   name="subleq")
    return rasp.SequenceMap(lambda v, p: (v, p), mem, pc).named("subleq_out")


# -- compile and run -----------------------------------------------------------------------------


def compile_subleq(*, m: int, k: int, N: int, loops: int, dtype: Any = np.float64,
                   verify: Optional[str] = "sample", sample_size: int = 200, seed: int = 0):
    """`theory_kit.compile` of `make_subleq_loop` (a weight-shared looped model: the body's
    layers once, applied up to `loops` times), vocabulary `vocab(m, k, N)`, max_seq_len m + k.
    verify="sample" checks `sample_size` seeded token sequences from the whole vocabulary
    (mostly malformed programs; the well-formed ones are checked by the tests), every
    iteration's state against the interpreter."""
    import theory_kit as tk

    program = make_subleq_loop(m=m, k=k, N=N, loops=loops)
    return tk.compile(program, vocab=vocab(m, k, N), max_seq_len=m + k, dtype=dtype,
                      verify=verify, sample_size=sample_size, seed=seed)


def run_compiled(model, programs: Sequence[tuple], *, m: int, k: int) -> list[tuple]:
    """(memory, pc) of each (instructions, memory) program on a compiled model."""
    outs = model.run_batch([encode(i, mem, m=m, k=k) for i, mem in programs])
    return [decode(o, m=m) for o in outs]


def _sizes_compiled(model) -> dict:
    s = model.summary()
    loop_ = s["loop"]
    return {"width": s["residual_width"], "layers": s["layers"],
            "layers_per_instruction": len(loop_["looped_layers"]),
            "heads_per_instruction": int(sum(s["heads"][i] for i in loop_["looped_layers"])),
            "params": s["params"], "params_nonzero": s["params_nonzero"]}


def _sizes_hand(machine) -> dict:
    arrays = list(machine.weights.arrays().values())
    return {"width": machine.width, "layers": machine.depth,
            "layers_per_instruction": machine.depth,
            "heads_per_instruction": int(sum(lw.n_heads for lw in machine.weights.layers)),
            "params": int(sum(a.size for a in arrays)),
            "params_nonzero": int(sum(np.count_nonzero(a) for a in arrays))}




def compare(*, m: int = 4, k: int = 4, N: int = 3, loops: Optional[int] = None,
            programs: int = 200, seed: int = 0, dtype: Any = np.float64,
            min_time: float = 0.5, verify: Optional[str] = "sample") -> list[dict]:
    """The compiled looped RASP SUBLEQ against the hand-built `subleq.build` at the same
    (m cells, k instructions, N bits): one row per machine with width, layers (in all and per
    instruction), heads per instruction, parameters (dense and non-zero), exactness (fraction
    of `programs` seeded random programs whose memory and pc after `loops` instructions
    (default 2k) equal `subleq.interpret`), and programs/second of a batch run of them (median
    of repeated runs, timed alternately, >= `min_time` s each) plus the compile/build time.
    The hand-built machine uses s = 1 scratchpad column and n = s + m + k + 1 columns (the
    fewest that hold the program and the halt instruction), λ derived.

    Returns:
        [row_compiled, row_hand], dicts with "machine" naming the row.
    """
    _check(m, k, N, 1 if loops is None else loops, "subleq_rasp.compare")
    loops = 2 * k if loops is None else loops
    rng = np.random.default_rng(seed)
    progs = [subleq.random_program(rng, m=m, n_instructions=k, N=N) for _ in range(programs)]
    want = [(tuple(r.memory), r.pc) for r in
            (subleq.interpret(i, mem, loops=loops, N=N) for i, mem in progs)]

    start = time.perf_counter()
    model = compile_subleq(m=m, k=k, N=N, loops=loops, dtype=dtype, verify=verify, seed=seed)
    compile_s = time.perf_counter() - start
    s = 1
    start = time.perf_counter()
    machine = subleq.build(s=s, m=m, n=s + m + k + 1, N=N, dtype=dtype)
    build_s = time.perf_counter() - start

    def run_auto():
        return run_compiled(model, progs, m=m, k=k)

    def run_hand():
        return [(tuple(r.memory), r.pc) for r in machine.run_batch(progs, loops=loops)]

    got_auto, got_hand = run_auto(), run_hand()
    times: dict = {"auto": [], "hand": []}
    while min(len(v) for v in times.values()) < 3 or \
            min(sum(v) for v in times.values()) < min_time:
        for key, fn in (("auto", run_auto), ("hand", run_hand)):
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
        if len(times["auto"]) >= 50:
            break
    t_auto, t_hand = (float(np.median(times[key])) for key in ("auto", "hand"))
    common = {"m": m, "k": k, "N": N, "loops": loops, "programs": programs,
              "dtype": np.dtype(dtype).name}
    return [
        {"machine": "compiled looped RASP", **common, **_sizes_compiled(model),
         "exact": sum(g == w for g, w in zip(got_auto, want)) / programs,
         "programs_per_s": programs / t_auto, "seconds": t_auto, "make_s": compile_s},
        {"machine": "hand-built (subleq.build)", **common, **_sizes_hand(machine),
         "exact": sum(g == w for g, w in zip(got_hand, want)) / programs,
         "programs_per_s": programs / t_hand, "seconds": t_hand, "make_s": build_s,
         "n_columns": machine.n, "lam": machine.lam},
    ]
