"""The looped SUBLEQ computer of Giannou et al. built from named craft blocks (issue 16).

Source: A. Giannou, S. Rajput, J. Sohn, K. Lee, J. D. Lee, D. Papailiopoulos, "Looped
Transformers as Programmable Computers", ICML 2023 (arXiv 2301.13196; its v1 abstract calls the
computer "a looped, 13-layer transformer"). Section: the SUBLEQ construction is the arXiv
paper's Section 5.1. That number comes from the authors' code (github
jysohn1108/Looped-Transformer), not from the paper's text: its README points to "Section 5.1"
for the SUBLEQ variant it implements and its utils.py cites "Step.7 of Sec.5.1" for the
end-of-program command (so the numbered steps are that section's); its programs.py runs one
instruction as Steps 1-6 (read instruction, read memory, subtract memory, write memory,
conditional branching, error correction), and its subleq.py calls the transformer layer the
paper's eq. (1b).

What this module relies on, named by statement: the lemma numbers could not be checked (only
the paper's abstract and the authors' code were readable when these citations were written), so
none is quoted.

- The input "punchcard": commands, memory and scratchpad as columns, with ±1 binary position
  codes, p_i·p_i = log n and p_i·p_j <= log n - 2 for i != j (two ±1 codes differing in a bit
  lose 2 in the product).
- The read lemma (Steps 1 and 2: read instruction, read memory): softmax attention with
  temperature λ on position codes copies the addressed column.
- The subtraction lemma (Step 3): a ReLU MLP computes mem[b] - mem[a] in N-bit two's
  complement.
- The write lemma (Step 4): the result lands in the addressed column only.
- The conditional branching lemma (Step 5), with the program-counter increment: pc <- c if the
  result is <= 0, else pc + 1.
- Error correction (Step 6): the state is rounded back to exact bits and codes after every
  instruction, so errors do not accumulate over loops.
- The SUBLEQ theorem: one instruction per pass of a fixed looped transformer of width
  8 log n + 3N + max(3 log n, 2N) + 1 (`paper_width_formula`).

Shape letters: B batch of programs, T = n columns (positions), D residual width, L = log n
(bits of a column address), N bits of a memory value.

The machine (one pass of the looped block = one SUBLEQ instruction)
--------------------------------------------------------------------
Columns 0..s-1 are the scratchpad columns, s..s+m-1 the memory cells 0..m-1, s+m+i the
instruction i; the column after the last instruction holds the *halt instruction*
(Z, Z, itself) with Z = column 0, whose memory rows are always 0 (mem[Z] -= mem[Z] leaves 0,
0 <= 0 jumps to itself: a fixed point), and so does every further column. Named directions
(rows of the punchcard, the paper's building blocks):

    positions      ("position", k)   ±1 code of the column index (never written)
    commands       ("command_a"/"command_b"/"command_c", k)   ±1 codes of the instruction's
                   a, b, c columns, at instruction columns (never written)
    memory         ("memory", k)     bit k ∈ {0, 1} of the N-bit two's complement value
    program counter ("pc", k)        ±1 code of the current instruction's column, in every
                   column (all columns hold the same value)
    scratchpad     ("scratch_a"/"scratch_b"/"scratch_c", k), ("scratch_mem_a"/"scratch_mem_b",
                   k), ("scratch_result", k), ("scratch_leq0",), ("scratch_dist_b",),
                   ("scratch_pc_next", k): written and cleared inside one pass; 0 between
                   passes.

Width D = 9L + 4N + 2 (`width_formula`) against the paper's 8L + 3N + max(3L, 2N) + 1
(`paper_width_formula`): (n, N) = (32, 8) gives 79 vs 81, (64, 8) 88 vs 91, (128, 12) 113 vs
117; ours is at most the paper's whenever L >= 4.

The paper executes the instruction in one scratchpad column and broadcasts the result with a
further attention layer (whose softmax leakage its error correction then removes). Here every
column executes the same instruction on the same data (its queries are the same program
counter), so the written value is already at every column: the write to mem[b] is an MLP gated
by [position == b], no broadcast head and no "indicator" row are needed, and the "buffer" rows
are the scratchpad rows. The s scratchpad columns are kept (column 0 is the zero cell Z);
SUBLEQ uses no more of them.

Layers of the looped block (attention, then MLP, residual adds, no LayerNorm, no mask):

    1. fetch     (attention) scratch_a/b/c <- command rows of the column whose position code
                 matches pc (read lemma).
                 MLP compare: scratch_dist_b = Hamming distance of the column's position code
                 and scratch_b (the write's address test: [p = b] is bilinear in two residual
                 rows, the distance is a sum of relus of linear forms).
    2. read      (2 heads)   scratch_mem_a <- memory of column scratch_a; scratch_mem_b <- of
                 column scratch_b (read lemma).
                 MLP subtract: scratch_result = bits of mem[b] - mem[a] mod 2^N, scratch_leq0 =
                 [wrapped result <= 0], scratch_pc_next = bits of pc + 1 (subtraction and
                 branching blocks, one layer: every output is a sum of step functions of a
                 linear form of the bits).
    3. write     (no heads). MLP write/branch/error correction: memory <- result where
                 position == scratch_b, every memory bit snapped to {0, 1}; pc <- scratch_c if
                 scratch_leq0 else scratch_pc_next, snapped to ±1; every scratch row cleared.

So the depth is 3 layers per instruction; the paper's Table 1 counts 9 and the authors' code
(github jysohn1108/Looped-Transformer) sets 10 blocks per instruction. We match neither: the
savings come from executing the instruction at every column (no broadcast or write attention),
from computing subtraction, branch condition and increment in one MLP (steps on the integer
values of the bit vectors, below), and from folding error correction into the write MLP
(every unit that writes persistent state is a step, so its output is 0/1 whatever the small
error of its input).

Step functions (the one identity every MLP uses; craft.mlp.step_mlp's). For slope K = 2,

    step_t(z) = relu(K(z - t) + 1/2) - relu(K(z - t) - 1/2)

is exactly [z > t] when |z - t| >= 1/(2K) = 1/4. Every form below takes integer values (or
±1/2-offset ones) at thresholds placed half-way, so inputs may be off by up to 1/4.

Error correction, input independent. The paper's code computes its ε from the current state at
run time; here every persistent bit is rewritten each pass by steps of a fixed slope (the
write MLP's snap), so the state after a pass depends only on which side of 1/2 its inputs were,
and its error is a few roundings whatever the pass number. Which λ keeps every input on the
right side is `derived_lam` (sympy: `lam_bound`). The margin is that of ±1 codes: the target
column is the unique maximiser of q·p_j and every other column scores at least 2λ less; no
read here ties two columns (each query is one code: pc, snapped by the write MLP, or
scratch_a/b, within 2ε of a code, which `lam_bound` charges to the gap as 4Lελ).
Measured (figures/fig_subleq_lambda.py, the same 100 random programs x 20 loops per λ, seed 0):
every program is exact from λ = 3.84 (n, N = 32, 8), 3.88 (64, 8) and 4.59 (128, 10) (bisection
to 0.05; the default figure bisects to 0.1: 3.875, 3.875, 4.625), the same in float64 and
float32, against the derived 5.56, 5.92, 6.94 (float64) and 5.56, 5.93, 7.02 (float32); the
paper's λ = 10 is exact too.

The runtime's `theory_kit.model.Model` embeds one token id per position, but a punchcard column
is not drawn from a small vocabulary (an instruction column is one of n³ triples, a memory column
one of 2^N values), so the machine runs the assembled `Weights` (craft.assemble.assemble, the
toolkit's one assembler) with `_layer` below, the same formulas as the runtime's dense pass
(`theory_kit.model.forward._dense_layer`: softmax attention without mask, then ReLU MLP,
residual adds) applied to the punchcard as the residual.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import sympy as sp

from theory_kit.bounds.precision import mantissa_bits, unit_roundoff
from theory_kit.bounds.softmax import beta_for_offmax_mass, offmax_mass_upper
from theory_kit.craft.assemble import ReadoutSpec, assemble
from theory_kit.craft.bases import BasisDirection, VectorSpace
from theory_kit.craft.blocks import MLP, AttentionHead, Embedding
from theory_kit.errors import InvalidInput

__all__ = ["Result", "SubleqMachine", "build", "run", "interpret", "random_program",
           "derived_lam", "lam_bound", "width_formula", "paper_width_formula", "depth_formula",
           "paper_layers", "address_bits", "wrap", "EXAMPLES", "example", "STEP_SLOPE"]

#: Slope of every step unit (exact for inputs within 1/(2K) = 1/4 of the right side).
STEP_SLOPE = 2.0
#: The paper's layers per instruction: Table 1 (9) and the authors' code (10).
PAPER_LAYERS_TABLE, PAPER_LAYERS_CODE = 9, 10

# -- the SUBLEQ semantics (the oracle) -----------------------------------------------------------


def wrap(v: int, N: int) -> int:
    """v as an N-bit two's complement integer (wrapping)."""
    v &= (1 << N) - 1
    return v - (1 << N) if v >> (N - 1) else v


@dataclass(frozen=True)
class Result:
    """Memory and program counter after the loops; `memories`/`pcs` after every loop (loop 0
    is the input) when traced, else None."""

    memory: tuple
    pc: int
    memories: Optional[tuple] = None
    pcs: Optional[tuple] = None


def _tuples(instructions: Any, what: str, where: str) -> list:
    """`instructions` as a list of tuples, or InvalidInput naming what they must be."""
    try:
        return [tuple(t) for t in instructions]
    except TypeError:
        raise InvalidInput(f"{where}: instructions must be a sequence of {what}, got "
                           f"{instructions!r:.80}") from None


def _check_fields(i: int, fields: Sequence, problems: list) -> None:
    """Append a problem for every (name, value, top) of instruction i whose value is not an
    int in 0..top-1."""
    for name, v, top in fields:
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            problems.append(f"instruction {i}: {name} = {v!r} is not an int")
        elif not 0 <= v < top:
            problems.append(f"instruction {i}: {name} = {v} out of range 0..{top - 1}")


def _check_fit(cells: int, instructions: int, m: Optional[int], capacity: Optional[int],
               noun: str, problems: list) -> None:
    """Append a problem when a program has more memory `noun` than m or more instructions
    than the capacity (None: not checked)."""
    if m is not None and cells > m:
        problems.append(f"memory has {cells} {noun}, the machine m={m}")
    if capacity is not None and instructions > capacity:
        problems.append(f"{instructions} instructions, the machine holds at most {capacity} "
                        f"(n - s - m - 1)")


def _check_program(instructions, memory, N, *, m: Optional[int] = None,
                   capacity: Optional[int] = None, where: str = "subleq") -> tuple:
    """Validate a program; every problem at once. Returns (instructions, memory) as tuples."""
    problems = []
    instrs = _tuples(instructions, "(a, b, c) triples", where)
    try:
        mem = list(memory)
    except TypeError:
        raise InvalidInput(f"{where}: memory must be a sequence of ints, got {memory!r:.80}") \
            from None
    if not (isinstance(N, int) and N >= 2):
        raise InvalidInput(f"{where}: N (bits) must be an int >= 2, got {N!r}")
    lo, hi = -(1 << (N - 1)), (1 << (N - 1)) - 1
    for i, v in enumerate(mem):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            problems.append(f"memory[{i}] = {v!r} is not an int")
        elif not lo <= v <= hi:
            problems.append(f"memory[{i}] = {v} is not representable in N={N} bits "
                            f"(range {lo}..{hi})")
    _check_fit(len(mem), len(instrs), m, capacity, "cells", problems)
    for i, t in enumerate(instrs):
        if len(t) != 3:
            problems.append(f"instruction {i} = {t!r} is not a triple (a, b, c)")
            continue
        _check_fields(i, (("a", t[0], len(mem)), ("b", t[1], len(mem)),
                          ("c", t[2], len(instrs) + 1)), problems)
    if problems:
        raise InvalidInput(f"{where}: " + "; ".join(problems))
    return (tuple(tuple(int(v) for v in t) for t in instrs), tuple(int(v) for v in mem))


def _check_loops(loops, where):
    if not isinstance(loops, (int, np.integer)) or isinstance(loops, bool) or loops < 0:
        raise InvalidInput(f"{where}: loops must be an int >= 0, got {loops!r}")


def interpret(instructions: Sequence, memory: Sequence[int], *, loops: int, N: int,
              trace: bool = False) -> Result:
    """Plain-Python SUBLEQ, the oracle: each loop runs memory[b] -= memory[a] (N-bit two's
    complement, wrapping), then jumps to c if the result is <= 0, else to the next instruction;
    pc == len(instructions) is halted (nothing changes).

    Args:
        instructions: (a, b, c) triples; a, b index `memory`, c in 0..len(instructions).
        memory: N-bit signed ints.
        loops: instructions to execute (halted loops included).
        N: bits.
        trace: also return memory and pc after every loop.

    Raises:
        InvalidInput: listing every out-of-range address, unrepresentable value or bad shape.
    """
    instrs, mem = _check_program(instructions, memory, N, where="subleq.interpret")
    _check_loops(loops, "subleq.interpret")
    mem = list(mem)
    pc = 0
    mems, pcs = [tuple(mem)], [pc]
    for _ in range(loops):
        if pc < len(instrs):
            a, b, c = instrs[pc]
            mem[b] = wrap(mem[b] - mem[a], N)
            pc = c if mem[b] <= 0 else pc + 1
        if trace:
            mems.append(tuple(mem))
            pcs.append(pc)
    return Result(tuple(mem), pc, tuple(mems) if trace else None,
                  tuple(pcs) if trace else None)


def random_program(rng: np.random.Generator, *, m: int, n_instructions: int, N: int
                   ) -> tuple[tuple, tuple]:
    """A random program: a, b uniform in 0..m-1, c uniform in 0..n_instructions (so a jump
    to the halt address occurs), memory uniform over N-bit signed values.

    Returns:
        (instructions, memory) with len(memory) == m.
    """
    if not (isinstance(m, int) and m >= 1 and isinstance(n_instructions, int)
            and n_instructions >= 0 and isinstance(N, int) and N >= 2):
        raise InvalidInput(f"random_program: need m >= 1, n_instructions >= 0, N >= 2; got "
                           f"m={m!r}, n_instructions={n_instructions!r}, N={N!r}")
    ab = rng.integers(0, m, size=(n_instructions, 2))
    c = rng.integers(0, n_instructions + 1, size=n_instructions)
    instrs = tuple((int(a), int(b), int(cc)) for (a, b), cc in zip(ab, c))
    mem = tuple(int(v) for v in rng.integers(-(1 << (N - 1)), 1 << (N - 1), size=m))
    return instrs, mem


# -- bounds (sympy) ------------------------------------------------------------------------------

_n, _N, _L, _u, _lam = sp.symbols("n N L u lambda", positive=True)


def address_bits(n: int) -> int:
    """L = ceil(log2 n), the bits of a column address (>= 1)."""
    return max(1, math.ceil(math.log2(n)))


def lam_bound() -> dict:
    """The sympy derivation of λ (symbols n columns, N bits, L = log n, u = 2^-p of the dtype).

    1. Read error. Positions and pc are exact ±1 codes of L bits: the logit λ·p_j·q is λL on
       the target column and at most λ(L - 2) on the n - 1 others (two codes differ in a bit).
       A query read by the fetch head (scratch_a/b) is off by at most 2ε per bit (its target
       value is ±1, the others in [-1, 1]), which shrinks the gap to λ(2 - 4Lε). The mass off
       the target is then at most ε = offmax_mass_upper(n, λ, 2 - 4Lε) and a bit read is off
       by at most ε (bits in [0, 1]) or 2ε (codes).
    2. Tolerance. The subtract MLP reads forms Σ_j 2^j (b_j - a_j) whose coefficients sum to at
       most 2^N - 1 in absolute value, so their error is below 2^(N+1)·(ε + γ) with γ a
       rounding budget per bit read (2(n + 2N)·u: a softmax sum of n terms and a form of 2N
       terms, first order). The steps are exact within 1/4, so ε_target = 2^-(N+3) - γ.
       Every other step input (the code comparisons of the write, the branch select) has a
       larger margin: 1/2 - 2Lε - γ >= 1/4.
    3. λ = beta_for_offmax_mass(n, ε_target, 2 - 4L·ε_target) = ln((n-1)(1-ε)/ε)/(2 - 4Lε).
       With it the mass is at most ε_target, consistent with the gap used.

    Returns:
        {"eps_target", "gap", "lam", "mass"} sympy expressions in n, N, L, u (λ for "mass").
    """
    gamma = 2 * (_n + 2 * _N) * _u
    eps = sp.Integer(2) ** (-(_N + 3)) - gamma
    gap = 2 - 4 * _L * eps
    return {"eps_target": eps, "gap": gap, "lam": beta_for_offmax_mass(_n, eps, gap),
            "mass": offmax_mass_upper(_n, _lam, gap)}


def derived_lam(n: int, N: int, dtype: Any = np.float64) -> float:
    """λ from `lam_bound` at (n, N) and the dtype's unit roundoff: every read is exact after the
    step functions, for any number of loops (the error does not grow with the loops: each pass
    rewrites the state by steps).

    Raises:
        InvalidInput: n < 2, N < 2, an unknown dtype, or N too large for the dtype
            (ε_target <= 0: 2^(N+1) rounding errors of a bit read exceed the step tolerance).
    """
    problems = []
    if not (isinstance(n, int) and n >= 2):
        problems.append(f"n must be an int >= 2, got {n!r}")
    if not (isinstance(N, int) and N >= 2):
        problems.append(f"N must be an int >= 2, got {N!r}")
    name = np.dtype(dtype).name if _is_dtype(dtype) else str(dtype)
    if name not in ("float32", "float64"):
        problems.append(f"dtype must be float32 or float64, got {dtype!r}")
    if problems:
        raise InvalidInput("subleq.derived_lam: " + "; ".join(problems))
    bound = lam_bound()
    subs = {_n: n, _N: N, _L: address_bits(n), _u: unit_roundoff(mantissa_bits(name))}
    eps = bound["eps_target"].subs(subs)
    if eps <= 0 or bound["gap"].subs(subs) <= 0:
        raise InvalidInput(f"subleq.derived_lam: N={N} bits at n={n} are too many for {name} "
                           f"(error budget {float(eps):.3g} <= 0)")
    return float(sp.N(bound["lam"].subs(subs), 30))


def _is_dtype(dtype) -> bool:
    try:
        np.dtype(dtype)
        return True
    except TypeError:
        return False


def width_formula() -> sp.Expr:
    """Residual width D = 9L + 4N + 2 (L = log n): positions L, commands 3L, pc L, memory N;
    scratch: a/b/c codes 3L, mem[a] and mem[b] 2N, result N, the branch flag 1, the distance
    to address b 1, pc + 1 L. It is <= the paper's when max(3L, 2N) >= L + N + 2 (every size
    with L >= 4 and N >= 2, e.g. (n, N) = (32, 8): 79 vs 81)."""
    return 9 * _L + 4 * _N + 2


def paper_width_formula() -> sp.Expr:
    """The paper's width d = 8 log n + 3N + max(3 log n, 2N) + 1 (its SUBLEQ theorem; the
    theorem's number is not quoted: see the module docstring)."""
    return 8 * _L + 3 * _N + sp.Max(3 * _L, 2 * _N) + 1


def depth_formula() -> sp.Expr:
    """Layers (attention + MLP) per instruction: 3 (module docstring: why not 9 or 10)."""
    return sp.Integer(3)


def paper_layers() -> dict:
    """Layers per instruction: the paper's Table 1 and the authors' code."""
    return {"table_1": PAPER_LAYERS_TABLE, "code": PAPER_LAYERS_CODE}


# -- the construction ----------------------------------------------------------------------------


def _dirs(label: str, k: int) -> tuple:
    return tuple(BasisDirection(label, j) for j in range(k))


class _Units:
    """Accumulates ReLU units relu(Σ w_in·x + b)·w_out and lays them out as a craft `MLP`
    (like craft.mlp.MLPBuilder, without its BOS gate: the punchcard has no BOS column)."""

    def __init__(self):
        self.units = []

    def unit(self, w_in: dict, b: float, w_out: dict) -> None:
        self.units.append((dict(w_in), float(b), dict(w_out)))

    def step(self, form: dict, offset: float, t: float, out: dict) -> None:
        """step_t(z)·out for z = Σ form·x + offset: relu(K(z-t)+1/2) - relu(K(z-t)-1/2)."""
        k = STEP_SLOPE
        w = {d: k * c for d, c in form.items()}
        self.unit(w, k * (offset - t) + 0.5, out)
        self.unit(w, k * (offset - t) - 0.5, {d: -c for d, c in out.items()})

    def minus(self, d: BasisDirection) -> None:
        """-x_d exactly: -relu(x) + relu(-x) (one of the two is exactly 0)."""
        self.unit({d: 1.0}, 0.0, {d: -1.0})
        self.unit({d: -1.0}, 0.0, {d: 1.0})

    def build(self, label: str, note: str) -> MLP:
        reads = tuple(dict.fromkeys(d for w, _, _ in self.units for d in w))
        writes = tuple(dict.fromkeys(d for _, _, o in self.units for d in o))
        r = {d: i for i, d in enumerate(reads)}
        w_ = {d: i for i, d in enumerate(writes)}
        w_in = np.zeros((len(reads), len(self.units)))
        w_out = np.zeros((len(self.units), len(writes)))
        for h, (wi, _, wo) in enumerate(self.units):
            for d, c in wi.items():
                w_in[r[d], h] += c
            for d, c in wo.items():
                w_out[h, w_[d]] += c
        return MLP(label=label, reads=reads, writes=writes, w_in=w_in,
                   b_in=np.array([b for _, b, _ in self.units]), w_out=w_out, note=note)


def _read_head(label: str, query: tuple, keys: tuple, values: tuple, writes: tuple,
               lam: float, note: str) -> AttentionHead:
    """The read lemma as a head: logits λ·q·p_j, value = the target column's `values` rows."""
    return AttentionHead(label=label, reads_q=query, reads_k=keys, reads_v=values,
                         writes=writes, w_q=lam * np.eye(len(query)), w_k=np.eye(len(keys)),
                         w_v=np.eye(len(values)), w_o=np.eye(len(values)), note=note)


def _signed_form(bits: tuple, sign: float) -> dict:
    """sign·(two's complement value of `bits`): Σ_{j<N-1} 2^j x_j - 2^(N-1) x_(N-1)."""
    n = len(bits)
    return {d: sign * (-(2.0 ** j) if j == n - 1 else 2.0 ** j) for j, d in enumerate(bits)}


def _code_value(code: tuple) -> tuple[dict, float]:
    """The integer Σ_j 2^j (x_j + 1)/2 of a ±1 code, as (form, offset)."""
    return ({d: 2.0 ** (j - 1) for j, d in enumerate(code)},
            sum(2.0 ** (j - 1) for j in range(len(code))))


class _PunchcardMachine:
    """Sizes and the compact layers of a machine over punchcard columns (`SubleqMachine`,
    fleq's `FleqMachine`): needs the fields n, s, m, dtype, space, weights and `_decode`."""

    @property
    def width(self) -> int:
        return self.weights.residual_width

    @property
    def depth(self) -> int:
        return len(self.weights.layers)

    @property
    def capacity(self) -> int:
        """Most instructions a program may have (one column stays for the halt instruction)."""
        return self.n - self.s - self.m - 1

    @functools.cached_property
    def _compact(self) -> tuple:
        return tuple(_CompactLayer.of(lw) for lw in self.weights.layers)

    # -- forward
    def step(self, x: np.ndarray) -> np.ndarray:
        """One pass of the looped block (one instruction) on punchcards x [B, n, D] or [n, D].

        Raises:
            InvalidInput: x is not a finite array of punchcards of this machine's shape.
        """
        x = self._punchcards(x, "step", batched=True)
        squeeze = x.ndim == 2
        x = np.array(x[None] if squeeze else x, dtype=self.dtype)
        for c in self._compact:
            x = _layer(c, x)
        return x[0] if squeeze else x

    def _punchcards(self, x: Any, where: str, *, batched: bool) -> np.ndarray:
        """x as a float array of punchcards [n, D] (or [B, n, D] when `batched`)."""
        x = np.asarray(x)
        shapes = ((self.n, self.space.dim),) + (((None, self.n, self.space.dim),) if batched
                                                else ())
        ok = x.dtype.kind in "fiub" and any(
            x.ndim == len(sh) and all(a is None or a == b for a, b in zip(sh, x.shape))
            for sh in shapes)
        if not ok or not np.all(np.isfinite(x)):
            want = " or ".join(str(sh).replace("None", "B") for sh in shapes)
            raise InvalidInput(f"{type(self).__name__}.{where}: expected finite punchcards of "
                               f"shape {want}, got {x.dtype} array of shape {x.shape}")
        return x

    @staticmethod
    def _pairs(programs: Sequence, loops: int, where: str) -> list:
        """`programs` as a list of (instructions, memory) pairs, `loops` checked."""
        _check_loops(loops, where)
        programs = list(programs)
        bad = [k for k, p in enumerate(programs)
               if not (isinstance(p, (tuple, list)) and len(p) == 2)]
        if bad:
            raise InvalidInput(f"{where}: each program is a pair (instructions, memory); "
                               f"program(s) {bad[:6]} are not, e.g. {programs[bad[0]]!r:.60}")
        return programs

    def _passes(self, x: np.ndarray, loops: int, trace: bool, cells: int) -> tuple:
        """Run `loops` passes on punchcards x [B, n, D]: (memory, pc) decoded at the end, and
        the lists of them after every loop (loop 0 first) when `trace` (else empty)."""
        mems, pcs = [], []
        if trace:
            mem, pc = self._decode(x, cells)
            mems.append(mem)
            pcs.append(pc)
        for _ in range(loops):
            for c in self._compact:
                x = _layer(c, x)
            if trace:
                mem, pc = self._decode(x, cells)
                mems.append(mem)
                pcs.append(pc)
        mem, pc = self._decode(x, cells)
        return mem, pc, mems, pcs

    def run(self, instructions: Sequence, memory: Sequence, *, loops: int,
            trace: bool = False) -> Any:
        """Run one program for `loops` passes (see `run_batch`)."""
        return self.run_batch([(instructions, memory)], loops=loops, trace=trace)[0]


@dataclass(frozen=True, eq=False)
class SubleqMachine(_PunchcardMachine):
    """The built looped SUBLEQ transformer at (s, m, n, N, λ, dtype): its named blocks, layout
    and assembled `Weights` (the same for every program), with the punchcard codec.

    Attributes:
        s, m, n, N, lam, dtype: the parameters.
        L: address bits.
        space: the residual layout (VectorSpace of named directions).
        layers: per layer (heads, MLPs), the named craft blocks.
        weights: the assembled `theory_kit.model.Weights` (its "output" readout lists the
            memory bit rows; decode a punchcard with `decode`).
    """

    s: int
    m: int
    n: int
    N: int
    lam: float
    dtype: Any
    L: int
    space: VectorSpace
    layers: tuple
    weights: Any

    # -- codec
    def encode(self, instructions: Sequence, memory: Sequence[int]) -> np.ndarray:
        """The punchcard [n, D] of a program (validated first, every problem at once).

        Raises:
            InvalidInput: an address out of range, a value not representable in N bits, too
                many instructions or memory cells, a malformed instruction.
        """
        instrs, mem = _check_program(instructions, memory, self.N, m=self.m,
                                     capacity=self.capacity, where="subleq.encode")
        return self._encode(instrs, mem)

    def _encode(self, instrs: tuple, mem: tuple) -> np.ndarray:
        s, m, n, L, N = self.s, self.m, self.n, self.L, self.N
        x = np.zeros((n, self.space.dim), dtype=self.dtype)
        cols = np.arange(n)
        code = 2.0 * ((cols[:, None] >> np.arange(L)) & 1) - 1.0  # [n, L] ±1
        ix = self.space.indices_of
        x[:, ix(_dirs("position", L))] = code
        x[:, ix(_dirs("pc", L))] = code[s + m]
        halt_col = s + m + len(instrs)
        triples = [(s + a, s + b, s + m + c) for a, b, c in instrs]
        for col in range(halt_col, n):
            triples.append((0, 0, col))
        for i, (a, b, c) in enumerate(triples):
            col = s + m + i
            for label, v in (("command_a", a), ("command_b", b), ("command_c", c)):
                x[col, ix(_dirs(label, L))] = code[v]
        for i, v in enumerate(mem):
            bits = (v & ((1 << N) - 1)) >> np.arange(N) & 1
            x[s + i, ix(_dirs("memory", N))] = bits
        return x

    def decode(self, x: np.ndarray, cells: Optional[int] = None) -> tuple[tuple, int]:
        """(memory of the first `cells` cells (default m) as signed ints, pc) of a residual
        [n, D] (bits: > 1/2; pc code: > 0)."""
        x = self._punchcards(x, "decode", batched=False)
        if cells is not None and not (isinstance(cells, int) and 0 <= cells <= self.m):
            raise InvalidInput(f"SubleqMachine.decode: cells must be an int in 0..{self.m}, "
                               f"got {cells!r}")
        mem, pc = self._decode(x[None], self.m if cells is None else cells)
        return tuple(int(v) for v in mem[0]), int(pc[0])

    def _decode(self, x: np.ndarray, cells: int) -> tuple[np.ndarray, np.ndarray]:
        s, N = self.s, self.N
        bits = x[:, s:s + cells][..., self.space.indices_of(_dirs("memory", N))] > 0.5
        unsigned = (bits.astype(np.int64) << np.arange(N)).sum(-1)
        signed = np.where(unsigned >> (N - 1), unsigned - (1 << N), unsigned)
        pcbits = x[:, 0][..., self.space.indices_of(_dirs("pc", self.L))] > 0
        col = (pcbits.astype(np.int64) << np.arange(self.L)).sum(-1)
        return signed, col - s - self.m

    def run_batch(self, programs: Sequence[tuple], *, loops: int, trace: bool = False
                  ) -> list[Result]:
        """Run many (instructions, memory) programs at once, one shared set of weights."""
        checked = [_check_program(i, mem, self.N, m=self.m, capacity=self.capacity,
                                  where=f"subleq.run (program {k})")
                   for k, (i, mem) in enumerate(self._pairs(programs, loops, "subleq.run"))]
        if not checked:
            return []
        cells = max(len(mem) for _, mem in checked)
        mem, pc, mems, pcs = self._passes(
            np.stack([self._encode(i, mem) for i, mem in checked]), loops, trace, cells)
        out = []
        for k, (_, m_k) in enumerate(checked):
            c = len(m_k)
            out.append(Result(
                tuple(int(v) for v in mem[k, :c]), int(pc[k]),
                tuple(tuple(int(v) for v in mm[k, :c]) for mm in mems) if trace else None,
                tuple(int(p[k]) for p in pcs) if trace else None))
        return out



@dataclass(frozen=True, eq=False)
class _CompactLayer:
    """One layer's nonzero blocks: the rows each sublayer reads and the columns it writes
    (only exact zeros are dropped, so it computes the same function as the dense arrays)."""

    a_rows: np.ndarray
    w_qkv: np.ndarray   # [R, H*(E+E+F)]
    w_o: np.ndarray     # [H*F, C]
    a_cols: np.ndarray
    heads: int
    e: int
    f: int
    m_rows: np.ndarray
    w_in: np.ndarray
    b_in: np.ndarray
    w_out: np.ndarray
    m_cols: np.ndarray

    @classmethod
    def of(cls, lw) -> "_CompactLayer":
        h, d, e = lw.W_Q.shape
        f = lw.W_V.shape[2]
        qkv = np.concatenate([lw.W_Q.transpose(1, 0, 2).reshape(d, h * e),
                              lw.W_K.transpose(1, 0, 2).reshape(d, h * e),
                              lw.W_V.transpose(1, 0, 2).reshape(d, h * f)], axis=1)
        wo = lw.W_O.reshape(h * f, d)
        a_rows, a_cols = np.flatnonzero(qkv.any(1)), np.flatnonzero(wo.any(0))
        keep = lw.W_out.any(1)
        w_in, w_out = lw.W_in[:, keep], lw.W_out[keep]
        m_rows, m_cols = np.flatnonzero(w_in.any(1)), np.flatnonzero(w_out.any(0))
        return cls(a_rows, qkv[a_rows], wo[:, a_cols], a_cols, h, e, f, m_rows,
                   w_in[m_rows], lw.b_in[keep], w_out[:, m_cols], m_cols)


def _layer(c: _CompactLayer, x: np.ndarray) -> np.ndarray:
    """One layer on x [B, T, D], in place: softmax attention without a mask, then the ReLU
    MLP, residual adds — the formulas of theory_kit.model.forward's dense pass, on the nonzero
    blocks of the weights."""
    b, t, d = x.shape
    if c.heads:
        h, e, f = c.heads, c.e, c.f
        qkv = x.reshape(b * t, d)[:, c.a_rows] @ c.w_qkv
        q = qkv[:, :h * e].reshape(b, t, h, e).transpose(0, 2, 1, 3)
        k = qkv[:, h * e:2 * h * e].reshape(b, t, h, e).transpose(0, 2, 3, 1)
        v = qkv[:, 2 * h * e:].reshape(b, t, h, f).transpose(0, 2, 1, 3)
        logits = np.matmul(q, k)
        logits -= logits.max(axis=-1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=-1, keepdims=True)
        mixed = np.matmul(logits, v).transpose(0, 2, 1, 3).reshape(b * t, h * f)
        x[..., c.a_cols] += (mixed @ c.w_o).reshape(b, t, -1)
    if c.w_in.shape[1]:
        hidden = np.maximum(x.reshape(b * t, d)[:, c.m_rows] @ c.w_in + c.b_in, 0)
        x[..., c.m_cols] += (hidden @ c.w_out).reshape(b, t, -1)
    return x


def _check_sizes(s, m, n, N, lam, dtype, where) -> list[str]:
    problems = []
    for name, v, low in (("s", s, 1), ("m", m, 1), ("n", n, 2), ("N", N, 2)):
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            problems.append(f"{name} must be an int >= {low}, got {v!r}")
    if not problems and n < s + m + 1:
        problems.append(f"n={n} columns cannot hold s={s} scratchpad, m={m} memory columns "
                        f"and the halt instruction (need n >= s + m + 1 = {s + m + 1})")
    if lam is not None and not (isinstance(lam, (int, float, np.integer, np.floating))
                                and not isinstance(lam, bool) and math.isfinite(lam)
                                and lam > 0):
        problems.append(f"lam must be a positive finite number, got {lam!r}")
    if not (_is_dtype(dtype) and np.dtype(dtype).name in ("float32", "float64")):
        problems.append(f"dtype must be float32 or float64, got {dtype!r}")
    return problems


def build(*, s: int, m: int, n: int, N: int, lam: Optional[float] = None,
          dtype: Any = np.float64) -> SubleqMachine:
    """Build the looped SUBLEQ transformer (input-independent weights; λ = `derived_lam` when
    None).

    Raises:
        InvalidInput: listing every bad parameter.
    """
    problems = _check_sizes(s, m, n, N, lam, dtype, "subleq.build")
    if problems:
        raise InvalidInput("subleq.build: " + "; ".join(problems))
    return _build(s, m, n, N, float(derived_lam(n, N, np.dtype(dtype).name) if lam is None
                                    else lam), np.dtype(dtype).name)


def run(instructions: Sequence, memory: Sequence[int], *, loops: int, s: int, m: int, n: int,
        N: int, lam: Optional[float] = None, dtype: Any = np.float64,
        trace: bool = False) -> Result:
    """Run a SUBLEQ program on the looped transformer (built once per parameters).

    Args:
        instructions: (a, b, c) triples: a, b index `memory` (0..len(memory)-1), c indexes
            `instructions` (len(instructions) = halt).
        memory: N-bit two's complement ints, at most m of them.
        loops: passes of the looped block (one instruction each; halted passes change
            nothing).
        s, m, n, N: scratchpad, memory and total columns, bits.
        lam: attention temperature λ (None: `derived_lam(n, N, dtype)`).
        dtype: float64 or float32.
        trace: also return memory and pc after every loop.

    Returns:
        Result(memory, pc[, memories, pcs]) decoded from the residual.

    Raises:
        InvalidInput: bad parameters, or a program that does not fit or is malformed (every
            problem listed).
    """
    machine = build(s=s, m=m, n=n, N=N, lam=lam, dtype=dtype)
    return machine.run(instructions, memory, loops=loops, trace=trace)


@functools.lru_cache(maxsize=32)
def _build(s: int, m: int, n: int, N: int, lam: float, dtype: str) -> SubleqMachine:
    L = address_bits(n)
    pos, pc = _dirs("position", L), _dirs("pc", L)
    cmd = {x: _dirs(f"command_{x}", L) for x in "abc"}
    mem = _dirs("memory", N)
    sa, sb, sc = (_dirs(f"scratch_{x}", L) for x in "abc")
    va, vb = _dirs("scratch_mem_a", N), _dirs("scratch_mem_b", N)
    res = _dirs("scratch_result", N)
    leq = BasisDirection("scratch_leq0")
    nxt = _dirs("scratch_pc_next", L)
    dist = BasisDirection("scratch_dist_b")
    space = VectorSpace.of(pos + cmd["a"] + cmd["b"] + cmd["c"] + pc + mem
                           + sa + sb + sc + va + vb + res + (leq, dist) + nxt)

    fetch = _read_head(
        "fetch", pc, pos, cmd["a"] + cmd["b"] + cmd["c"], sa + sb + sc, lam,
        "read lemma: logit λ·pc·p_j is λL at the instruction column and <= λ(L-2) elsewhere "
        "(±1 codes differ in a bit), so the command rows arrive with off-target mass <= "
        "(n-1)e^(-2λ) (lam_bound)")
    read_a = _read_head(
        "read_a", sa, pos, mem, va, lam,
        "read lemma, mem[a]: query scratch_a is within 2ε of a ±1 code per bit, the gap "
        "λ(2 - 4Lε) (lam_bound)")
    read_b = _read_head("read_b", sb, pos, mem, vb, lam, "read lemma, mem[b], as read_a")

    cmp_ = _Units()
    # The write's address test. [p_j = b] is bilinear in two residual rows, which one MLP
    # cannot compute; the Hamming distance is linear in relus: for ±1 codes
    #     dist = Σ_k (relu(p_k - b_k) + relu(b_k - p_k)) / 2 ∈ {0, 1, ..., L},
    # 0 exactly at column b (p exact, scratch_b within 2ε of ±1: dist off by <= Lε).
    for p_k, b_k in zip(pos, sb):
        cmp_.unit({p_k: 1.0, b_k: -1.0}, 0.0, {dist: 0.5})
        cmp_.unit({p_k: -1.0, b_k: 1.0}, 0.0, {dist: 0.5})
    compare = cmp_.build("compare", "Hamming distance of the position code and scratch_b")

    sub = _Units()
    # Subtraction block: bit k of (v_b - v_a) mod 2^N: with F_k = Σ_{j<=k} 2^j (b_j - a_j)
    # ∈ (-2^(k+1), 2^(k+1)), F_k mod 2^(k+1) = (v_b - v_a) mod 2^(k+1) and
    #     r_k = [F_k mod 2^(k+1) >= 2^k] = [F_k >= 2^k] + [F_k >= -2^k] - [F_k >= 0]
    # (F_k >= 0: the first term; F_k < 0: F_k + 2^(k+1) >= 2^k iff F_k >= -2^k). Each [F >= c]
    # is a step at c - 1/2 of an integer form (exact within 1/4).
    for k in range(N):
        form = {}
        for j in range(k + 1):
            form[vb[j]] = 2.0 ** j
            form[va[j]] = -(2.0 ** j)
        for c, sign in ((2.0 ** k, 1.0), (-(2.0 ** k), 1.0), (0.0, -1.0)):
            sub.step(form, 0.0, c - 0.5, {res[k]: sign})
    # Branch condition: with D = v_b - v_a (two's complement values) in
    # [-2^N + 1, 2^N - 1], the wrapped result is <= 0 iff D ∈ [-2^(N-1), 0] or D >= 2^(N-1):
    #     leq0 = [D >= -2^(N-1)] - [D >= 1] + [D >= 2^(N-1)].
    dform = {**_signed_form(vb, 1.0), **_signed_form(va, -1.0)}
    half = 2.0 ** (N - 1)
    for c, sign in ((-half, 1.0), (1.0, -1.0), (half, 1.0)):
        sub.step(dform, 0.0, c - 0.5, {leq: sign})
    # Program-counter increment: P = Σ_{j<=k} 2^j (pc_j + 1)/2 + 1 ∈ [1, 2^(k+1)], bit k of
    # pc + 1 (mod 2^L) is [P >= 2^k] - [P >= 2^(k+1)]. pc is exact (written by steps), so no margin
    # is spent here.
    for k in range(L):
        form, off = _code_value(pc[:k + 1])
        for c, sign in ((2.0 ** k, 1.0), (2.0 ** (k + 1), -1.0)):
            sub.step(form, off + 1.0, c - 0.5, {nxt[k]: sign})
    subtract = sub.build("subtract", "subtraction, branch condition and increment in one layer: "
                                     "result bits, [result <= 0], pc + 1, each a sum of steps "
                                     "of an integer form")

    wr = _Units()
    # Write memory (a gated MLP, not attention: every column holds the result) and error
    # correction. With dist the Hamming distance of the column's position code and scratch_b
    # (0 at column b, >= 1 elsewhere, off by <= Lε; written by the `compare` MLP of layer 1):
    #     mem_k' = [dist = 0 and r_k = 1] + [mem_k = 1] - [dist = 0 and mem_k = 1]
    #            = step_0(r_k - dist - 1/2) + step_{1/2}(mem_k) - step_0(mem_k - dist - 1/2),
    # written as the delta mem_k' - mem_k (-mem_k exactly by `minus`). Every term is a step,
    # so mem_k' is 0/1 up to roundings whatever the input's small error: the error correction.
    for k in range(N):
        wr.step({res[k]: 1.0, dist: -1.0}, -0.5, 0.0, {mem[k]: 1.0})
        wr.step({mem[k]: 1.0}, 0.0, 0.5, {mem[k]: 1.0})
        wr.step({mem[k]: 1.0, dist: -1.0}, -0.5, 0.0, {mem[k]: -1.0})
        wr.minus(mem[k])
    # Conditional branching: pc_k' = 2·(step(c_k + F - 3/2) + step(next_k - F - 1/2)) - 1 with
    # c_k = (scratch_c_k + 1)/2: c_k if F = 1, next_k if F = 0; delta pc_k' - pc_k.
    for k in range(L):
        wr.step({sc[k]: 0.5, leq: 1.0}, 0.5, 1.5, {pc[k]: 2.0})
        wr.step({nxt[k]: 1.0, leq: -1.0}, 0.0, 0.5, {pc[k]: 2.0})
        wr.minus(pc[k])
    wr.unit({}, 1.0, {p: -1.0 for p in pc})
    # Clear the scratchpad: x + (-x) = 0 exactly (one of relu(x), relu(-x) is exactly 0).
    for d in sa + sb + sc + va + vb + res + (leq, dist) + nxt:
        wr.minus(d)
    write = wr.build("write", "mem[b] <- result (gated by position == b), pc <- c or pc + 1, "
                              "state snapped by steps, scratch cleared")

    layers = (((fetch,), (compare,)), ((read_a, read_b), (subtract,)), ((), (write,)))
    layout = {d: i for i, d in enumerate(space.basis)}
    weights = assemble(
        [(list(h), list(ms)) for h, ms in layers], layout, Embedding("punchcard"),
        tokens=("punchcard",), max_seq_len=n,
        readouts={"output": ReadoutSpec(mem, "categorical")}, dtype=np.dtype(dtype))
    return SubleqMachine(s=s, m=m, n=n, N=N, lam=lam, dtype=np.dtype(dtype), L=L, space=space,
                         layers=layers, weights=weights)


# -- example programs, written in SUBLEQ ---------------------------------------------------------


class _Asm:
    """A tiny SUBLEQ assembler: named cells, labels, and the usual macros (T and Z are the
    temporary and the zero cell every program declares)."""

    def __init__(self):
        self.cells: dict = {}
        self.values: list = []
        self.code: list = []
        self.labels: dict = {}

    def cell(self, name: str, value: int = 0) -> str:
        self.cells[name] = len(self.values)
        self.values.append(value)
        return name

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def subleq(self, a: str, b: str, c: Optional[str] = None) -> None:
        """mem[b] -= mem[a]; if mem[b] <= 0 goto c (None: the next instruction)."""
        self.code.append((a, b, c))

    def clr(self, x):
        self.subleq(x, x)

    def mov(self, dst, src):          # dst = src (4 instructions)
        self.clr(dst)
        self.clr("T")
        self.subleq(src, "T")
        self.subleq("T", dst)

    def add(self, dst, src):          # dst += src (3 instructions)
        self.clr("T")
        self.subleq(src, "T")
        self.subleq("T", dst)

    def jmp(self, target):            # mem[Z] = 0 - 0 <= 0: always jumps
        self.subleq("Z", "Z", target)

    def program(self) -> tuple[tuple, tuple]:
        end = len(self.code)
        labels = {**self.labels, "halt": end}
        instrs = tuple((self.cells[a], self.cells[b],
                        i + 1 if c is None else labels[c]) for i, (a, b, c) in
                       enumerate(self.code))
        return instrs, tuple(self.values)


@dataclass(frozen=True)
class Example:
    """A SUBLEQ example program: its code and initial memory, which cells hold the answer and
    what they must hold once it halted."""

    name: str
    instructions: tuple
    memory: tuple
    outputs: tuple
    expected: tuple


def _factorial(k: int) -> Example:
    a = _Asm()
    for name, v in (("R", 1), ("I", k), ("J", 0), ("ACC", 0), ("ONE", 1), ("T", 0), ("Z", 0)):
        a.cell(name, v)
    a.label("loop")
    a.subleq("Z", "I", "halt")        # while I > 0:
    a.clr("ACC")                      #   ACC = R * I by repeated addition
    a.mov("J", "I")
    a.label("inner")
    a.add("ACC", "R")
    a.subleq("ONE", "J", "after")
    a.jmp("inner")
    a.label("after")
    a.mov("R", "ACC")                 #   R = ACC; I -= 1
    a.subleq("ONE", "I", "loop")
    a.jmp("loop")
    instrs, mem = a.program()
    return Example(f"factorial({k})", instrs, mem, (a.cells["R"],), (math.factorial(k),))


def _reverse(xs: Sequence[int]) -> Example:
    a = _Asm()
    for i, v in enumerate(xs):
        a.cell(f"x{i}", v)
    for name in ("T", "T2", "Z"):
        a.cell(name)
    k = len(xs)
    for i in range(k // 2):           # swap x_i and x_(k-1-i) through T2
        a.mov("T2", f"x{i}")
        a.mov(f"x{i}", f"x{k - 1 - i}")
        a.mov(f"x{k - 1 - i}", "T2")
    instrs, mem = a.program()
    return Example(f"reverse({list(xs)})", instrs, mem, tuple(range(k)), tuple(reversed(xs)))


def _search(xs: Sequence[int], target: int) -> Example:
    a = _Asm()
    for i, v in enumerate(xs):
        a.cell(f"x{i}", v)
    for name, v in (("target", target), ("found", -1), ("t", 0), ("u", 0), ("T", 0), ("Z", 0)):
        a.cell(name, v)
    for i in range(len(xs)):
        a.cell(f"C{i}", i)
    for i in range(len(xs)):          # t = x_i - target; found = i if t <= 0 and -t <= 0
        a.mov("t", f"x{i}")
        a.subleq("target", "t", f"maybe{i}")
        a.jmp(f"next{i}")
        a.label(f"maybe{i}")
        a.clr("u")
        a.subleq("t", "u", f"found{i}")
        a.jmp(f"next{i}")
        a.label(f"found{i}")
        a.mov("found", f"C{i}")
        a.jmp("halt")
        a.label(f"next{i}")
    instrs, mem = a.program()
    expected = list(xs).index(target) if target in xs else -1
    return Example(f"search({list(xs)}, {target})", instrs, mem, (a.cells["found"],),
                   (expected,))


def _sort(xs: Sequence[int]) -> Example:
    a = _Asm()
    for i, v in enumerate(xs):
        a.cell(f"x{i}", v)
    for name in ("t", "T", "T2", "Z"):
        a.cell(name)
    k, n_swap = len(xs), 0
    for p in range(k - 1):            # bubble-sort network of compare-exchanges
        for i in range(k - 1 - p):
            x, y, tag = f"x{i}", f"x{i + 1}", n_swap
            n_swap += 1
            a.mov("t", y)
            a.subleq(x, "t", f"swap{tag}")   # t = y - x <= 0: exchange
            a.jmp(f"end{tag}")
            a.label(f"swap{tag}")
            a.mov("T2", x)
            a.mov(x, y)
            a.mov(y, "T2")
            a.label(f"end{tag}")
    instrs, mem = a.program()
    return Example(f"sort({list(xs)})", instrs, mem, tuple(range(k)), tuple(sorted(xs)))


def example(name: str, *args) -> Example:
    """An example program: "factorial" (k), "reverse" (xs), "search" (xs, target), "sort" (xs).

    Raises:
        InvalidInput: an unknown name (quoted with the known ones).
    """
    table = {"factorial": _factorial, "reverse": _reverse, "search": _search, "sort": _sort}
    if name not in table:
        raise InvalidInput(f"subleq.example: unknown example {name!r}; known: {sorted(table)}")
    return table[name](*args)


#: The examples the tests run (values fit N = 8 bits; differences too).
EXAMPLES = (
    ("factorial", 5), ("reverse", (3, -7, 12, 0, 5)), ("search", (4, -2, 9, 9, 1), 9),
    ("search", (4, -2, 9, 9, 1), 3), ("sort", (7, -3, 5, 0)),
)


def steps_to_halt(instructions: Sequence, memory: Sequence[int], *, N: int,
                  limit: int = 100_000) -> int:
    """Loops until the program halts (the interpreter; `limit` if it does not)."""
    instrs, mem = _check_program(instructions, memory, N, where="subleq.steps_to_halt")
    r = interpret(instrs, mem, loops=limit, N=N, trace=True)
    return next((i for i, pc in enumerate(r.pcs) if pc == len(instrs)), limit)
