"""The looped FLEQ computer of Giannou et al. built from named craft blocks (issue 16, item 5).

Source: A. Giannou, S. Rajput, J. Sohn, K. Lee, J. D. Lee, D. Papailiopoulos, "Looped
Transformers as Programmable Computers", ICML 2023 (arXiv 2301.13196), its FLEQ section: the
one-instruction computer generalised from SUBLEQ (`subleq`, the paper's Section 5.1) to

    mem[c] = f_m(mem[a], mem[b]);  if mem[flag] <= 0 goto p  (else the next instruction)

with memory entries holding small matrices of reals and f_m one of a library of function
blocks, each a transformer block, run in parallel with the instruction selecting whose output
is written (the paper's arXiv abstract: "a looped, 13-layer transformer"; its ICML abstract: it
emulates "a basic calculator, a basic linear algebra library"). Citations, named by statement:
the FLEQ section's number and the lemma numbers could not be checked (only the paper's
abstracts and the authors' code were readable while this module was written; the description
of FLEQ above is the one issue 16 gives), so none is quoted. Relied on: the ±1 binary position
codes (p_i·p_i = log n, p_i·p_j <= log n - 2 for i != j); the read lemma (attention on
position codes copies the addressed column); the write lemma (the result lands in the
addressed column only); the function-block construction (blocks in parallel, the output
selected by the instruction); the conditional branching lemma with the program-counter
increment. The authors' code (github jysohn1108/Looped-Transformer) implements SUBLEQ only;
the FLEQ blocks below, and the way they are exact, are ours.

Shape letters: B batch of programs, T = n columns, D residual width, L = log n address bits,
k the side of a memory matrix (k² reals per entry), V the RASP block's vocabulary, F function
blocks, D_c the compiled RASP model's residual width.

Semantics (the oracle, `interpret`)
------------------------------------
Instructions are 6-tuples (a, b, c, f, flag, p): a, b, c, flag index `memory` (0..m-1), f names
a function (`FleqMachine.functions`: "add", "sub", "matmul", "transpose" and the RASP block's
program name, e.g. "sort"), p indexes the instructions (len(instructions) = halt). One loop:
mem[c] = f(mem[a], mem[b]); then pc = p if mem[flag][0, 0] <= 0 else pc + 1 (the flag is read
*after* the write, so flag == c tests the new value). Unary functions ignore b. The RASP block
reads the k² entries of mem[a] (row-major) as tokens clip(round(x), 0, V-1) and writes the
compiled program's outputs. The machine is specified on programs whose values stay in [-R, R],
whose RASP operands are within 1/8 of an integer, and whose flags are <= 0 or >= δ (the flag
margin): `interpret` refuses (InvalidInput) a program that leaves this domain, quoting the loop.

The machine (one pass of the looped block = one instruction)
------------------------------------------------------------
Columns: 0 the zero cell Z (memory 0, never written), 1 the sink (the halt instruction writes
there), 2..2+k² the RASP region (BOS and k² token positions of the compiled model), then up to
s the rest of the scratchpad; s..s+m-1 memory; s+m+i instruction i; every column after the last
instruction holds the halt instruction (Z, Z, sink, add, Z, itself): it writes 0 to the sink
and jumps to itself. A memory entry is one column: its k x k reals are the rows
("memory", i·k + j) (how the paper lays a matrix over the punchcard was not checked; one
column per entry keeps every read a single hard attention and the write a single gated MLP). As in `subleq`, every column executes the same instruction on the same
data, so no broadcast is needed and the write is an MLP gated by [position == c].

Layers (attention then ReLU MLP, residual adds, no LayerNorm, no mask), with Lc the compiled
model's layers (3 for "sort"), so 4 + Lc per instruction:

    1. fetch     (head) the command rows of the column whose position code is pc.
                 MLP: pc + 1 (as subleq), dist = Hamming distance of the position code and c.
    2. read      (2 heads) x = mem[a], y = mem[b] (k² reals each).
                 MLP: ỹ = y·s_j with s_j = ±1 the column's parity (for matmul); the RASP
                 region's embedding (tokens from x, positions, BOS) when f is the RASP block.
    3..2+Lc      the compiled model's layers, restricted to the region columns; layer 3's
                 attention also holds the matmul heads.
    3+Lc write   (k² heads) gather the compiled output at the region's token columns.
                 MLP: mem[c] <- f(x, y) for the selected f only (every block gated).
    4+Lc branch  (head) v = mem[flag][0, 0] (after the write).
                 MLP: pc <- p if v <= 0 else pc + 1; every scratch and compiled row cleared.

Why every block runs on every instruction. A transformer layer has no control flow: the blocks
are laid side by side (the paper's parallel function blocks) on disjoint rows and all of them
compute on every pass; the write MLP adds only the selected block's output, through units

    relu(F - G·(off_f + dist)) - relu(-F - G·(off_f + dist)),   F = f(x, y) - mem,

where off_f = 1 - [f selected] (a command row, fetched exactly) and dist is the integer
Hamming distance to column c: when both are 0 the pre-activation is F plus exact zeros, so the
unit pair returns F exactly; otherwise it is <= |F| - G < 0 and both units are exactly 0.
G (`FleqMachine.gate`) exceeds every block's output bound, including the saturated matmul heads'
1.5/ε. Gating the rows (not multiplying by 1 - off_f, whose G·1 - G would round) keeps the
selected value exact. The compiled RASP model is also gated at its *input*: when f is not the
RASP block its tokens are all 0, so it always runs on a valid input, where it was verified.
Depth is therefore 4 + the deepest block's layers, width the sum of the blocks' rows.

Exact reads by underflow. The fetch/read heads score λ·q·p_j with q an exact ±1 code (pc is
rewritten by steps, commands are never written), so the target scores λL and every other
column at most λ(L-2). `derived_lam` is the smallest power of two with e^(-2λ) below half the
dtype's smallest subnormal: the off-target softmax weights round to exactly 0 and a read copies
the target column bit for bit (512 for float64, 64 for float32; a power of two keeps λ·(±1 sums)
exact). The paper's softmax reads have a leak its error correction removes; here there is none.

Matrix product by attention (the one inexact block). Entry C_il = Σ_j x_ij y_jl is a bilinear
form of two rows of the same column, which no ReLU MLP computes exactly; attention does: a head
with query ε·x[i, :] at every column and key ỹ[:, l] = s_j·y[:, l] at column j scores
ε s_j C_il, and with value s_j over n columns (n/2 of each sign)

    Σ_j softmax_j · s_j = (e^z - e^-z)/(e^z + e^-z) = tanh(z),   z = ε C_il.

Two heads at ε and 2ε with output weights 4/(3ε) and -1/(6ε) cancel the cubic term
(Richardson): 4 tanh(εC)/(3ε) - tanh(2εC)/(6ε) = C - (8/15) ε⁴ C⁵ + O(ε⁶C⁷). `matmul_bound`
charges (16/15) ε⁴ R⁵ for the truncation, 2(n+4)u/ε for the rounding of the softmax sums
divided by ε, and (2k+4)uR for the rest; `derived_eps` minimises the first two.

The RASP block. `theory_kit.compile` compiles the library program (e.g. "sort") for vocab
0..V-1 and max_seq_len k²; its layers are embedded unchanged in directions ("rasp_residual", i)
(i its residual index) with one extra query/key coordinate per head: query Λ·one, key
region - one, i.e. logit -Λ on every column outside the region and exactly +0 inside, so the
compiled heads see exactly their T = k² + 1 positions (Λ = 1e6: e^-Λ is 0). The region's
residual is the compiled model's embedding, written by the read layer's MLP (token one-hots by
steps on x, gated by the slot rows), so the region computes the compiled forward pass with the
compiled weights; gather heads (hard, the same mask trick) bring the output scores of each
token position to every column, and the write MLP snaps them (steps at 1/2, exact within 1/4).

Sizes and accuracy. Width `width_formula()` = 13L + 7k² + k²V + 2F + D_c + 7 (149 at n = 32,
k = 2 with "sort"; 224 at k = 3), depth 4 + Lc (7 with "sort" or "reverse", 6 with "min" or
"max") against the 13 layers the paper's arXiv abstract gives its looped computer. Measured
(figures/fig_fleq_newton.py, seed 0, 8 Newton iterations): the machine's inverse is within
2.1e-12 (2x2) and 3.4e-12 (3x3) of numpy's in float64 and 2.3e-5 / 1.3e-5 in float32, against
the derived tolerances (`newton_tolerance`) 5.8e-10 / 8.9e-10 and 5.7e-3 / 8.7e-3: the bound
charges the truncation for |C| = R = 16, the iterates have |C| of order 1.

The runtime's `theory_kit.model.Model` embeds one token per position; a punchcard column is not
a token, so the machine runs its assembled `Weights` with subleq's `_layer` (the runtime's dense
formulas: softmax attention without mask, ReLU MLP, residual adds) on the punchcard.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import sympy as sp

from theory_kit.bounds.precision import mantissa_bits, unit_roundoff
from theory_kit.constructions.subleq import (
    STEP_SLOPE, _check_fields, _check_fit, _check_loops, _code_value, _dirs, _is_dtype,
    _PunchcardMachine, _read_head, _tuples, _Units, address_bits)
from theory_kit.craft.assemble import ReadoutSpec, assemble
from theory_kit.craft.bases import BasisDirection, VectorSpace
from theory_kit.craft.blocks import MLP, AttentionHead, Embedding
from theory_kit.errors import InvalidInput

__all__ = ["Result", "FleqMachine", "build", "run", "interpret", "step_reference", "apply_function",
           "random_program", "newton_inverse_program", "newton_iterates", "newton_tolerance",
           "LINEAR_FUNCTIONS", "RASP_PROGRAMS",
           "derived_lam", "derived_eps", "matmul_bound", "linear_bound", "tolerance",
           "width_formula", "depth_formula", "MASK_LOGIT"]

#: The numerical blocks (the RASP block's name is its program's, appended by the machine).
LINEAR_FUNCTIONS = ("add", "sub", "matmul", "transpose")
#: Library programs usable as the RASP block: categorical outputs in the vocabulary, one per
#: position, non-causal, built from (vocab, max_seq_len).
RASP_PROGRAMS = ("sort", "reverse", "min", "max")
#: The logit a masked key loses (compiled heads outside the region, gather heads): e^-1e6 is 0.
MASK_LOGIT = 1e6
#: How close to an integer a RASP operand entry must be (the embedding steps are exact within
#: 1/4; the rest is the values' own error budget).
RASP_INPUT_SLACK = 0.125

# -- the oracle ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Result:
    """Memory [m, k, k] and pc after the loops; `memories` [loops + 1, m, k, k] and `pcs` after
    every loop (index 0 is the input) when traced, else None. Arrays are read-only."""

    memory: np.ndarray
    pc: int
    memories: Optional[np.ndarray] = None
    pcs: Optional[tuple] = None

    def __post_init__(self):
        for name in ("memory", "memories"):
            a = getattr(self, name)
            if a is not None:
                a = np.array(a, dtype=np.float64)
                a.flags.writeable = False
                object.__setattr__(self, name, a)


@functools.lru_cache(maxsize=8)
def _compiled(name: str, vocab: int, length: int):
    """(program, compiled Weights) of the library program `name` on vocab 0..V-1 and inputs of
    length k² (compiled once per setting; verified by the compiler against the interpreter)."""
    from theory_kit.compiler import compile as compile_program
    from theory_kit.library import PROGRAMS
    spec = PROGRAMS[name]
    settings = {"vocab": tuple(range(vocab)), "max_seq_len": length}
    program = spec.at(**{key: settings[key] for key in spec.settings})
    compiled = compile_program(program, vocab=set(range(vocab)), max_seq_len=length)
    return program, compiled.weights


def _functions(rasp: str) -> tuple:
    return LINEAR_FUNCTIONS + (rasp,)


def _check_params(k, R, rasp, vocab, flag_margin, where) -> list[str]:
    problems = []
    if not (isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= 4):
        problems.append(f"k (matrix side) must be an int in 1..4, got {k!r}")
    if not (isinstance(R, (int, float)) and not isinstance(R, bool) and math.isfinite(R)
            and R >= 1):
        problems.append(f"R (value range) must be a finite number >= 1, got {R!r}")
    if rasp not in RASP_PROGRAMS:
        problems.append(f"rasp must be one of {list(RASP_PROGRAMS)}, got {rasp!r}")
    if not (isinstance(vocab, int) and not isinstance(vocab, bool) and 2 <= vocab <= 8):
        problems.append(f"vocab must be an int in 2..8, got {vocab!r}")
    if not (isinstance(flag_margin, (int, float)) and not isinstance(flag_margin, bool)
            and 0 < flag_margin <= 1):
        problems.append(f"flag_margin must be a number in (0, 1], got {flag_margin!r}")
    return problems


def _check_program(instructions, memory, *, k, R, functions, m=None, capacity=None,
                   where="fleq") -> tuple[tuple, np.ndarray]:
    """Validate a program, every problem at once. Returns (instructions with function indices,
    memory as a float64 array [len(memory), k, k])."""
    problems = []
    instrs = _tuples(instructions, "(a, b, c, f, flag, p) tuples", where)
    try:
        mem = np.array([np.asarray(v, dtype=np.float64) for v in memory], dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(f"{where}: memory must be a sequence of {k}x{k} real matrices, got "
                           f"{memory!r:.80}") from None
    if mem.ndim == 1 and mem.shape[0] == 0:
        mem = mem.reshape(0, k, k)
    if mem.ndim != 3 or mem.shape[1:] != (k, k):
        raise InvalidInput(f"{where}: memory must hold {k}x{k} matrices, got an array of shape "
                           f"{mem.shape}")
    bad = [i for i in range(len(mem)) if not np.all(np.isfinite(mem[i]))
           or np.abs(mem[i]).max(initial=0.0) > R]
    if bad:
        problems.append(f"memory entries {bad[:6]} are not finite or exceed R={R} in absolute "
                        f"value (e.g. {mem[bad[0]].tolist()})")
    _check_fit(len(mem), len(instrs), m, capacity, "entries", problems)
    out = []
    for i, t in enumerate(instrs):
        if len(t) != 6:
            problems.append(f"instruction {i} = {t!r} is not (a, b, c, f, flag, p)")
            continue
        a, b, c, f, flag, p = t
        if f in functions:
            f = functions.index(f)
        elif not (isinstance(f, (int, np.integer)) and not isinstance(f, bool)
                  and 0 <= f < len(functions)):
            problems.append(f"instruction {i}: f = {f!r} is not a function name "
                            f"{list(functions)} or index")
        _check_fields(i, (("a", a, len(mem)), ("b", b, len(mem)), ("c", c, len(mem)),
                          ("flag", flag, len(mem)), ("p", p, len(instrs) + 1)), problems)
        out.append((a, b, c, f, flag, p))
    if problems:
        raise InvalidInput(f"{where}: " + "; ".join(problems))
    return tuple(tuple(int(v) for v in t) for t in out), mem


def apply_function(f: str, x: np.ndarray, y: np.ndarray, *, k: int, rasp: str = "sort",
                   vocab: int = 4) -> np.ndarray:
    """One function block's reference value f(x, y) (float64 numpy; the RASP block by the RASP
    interpreter on tokens clip(round(x), 0, vocab - 1)).

    Raises:
        InvalidInput: an unknown f, or a RASP operand farther than 1/8 from an integer.
    """
    if f not in _functions(rasp):
        raise InvalidInput(f"fleq.apply_function: unknown function {f!r}; known: "
                           f"{list(_functions(rasp))}")
    program = _compiled(rasp, vocab, k * k)[0] if f == rasp else None
    return _apply(f, np.asarray(x, np.float64), np.asarray(y, np.float64),
                  rasp_program=program, vocab=vocab)


def _apply(f: str, x: np.ndarray, y: np.ndarray, *, rasp_program, vocab: int) -> np.ndarray:
    """f(x, y) in exact float64 arithmetic (numpy), the RASP block by the RASP interpreter."""
    if f == "add":
        return x + y
    if f == "sub":
        return x - y
    if f == "matmul":
        return x @ y
    if f == "transpose":
        return x.T.copy()
    from theory_kit import rasp
    flat = x.reshape(-1)
    far = np.abs(flat - np.round(flat)) > RASP_INPUT_SLACK
    if far.any():
        raise InvalidInput(f"the RASP block's operand {flat.tolist()} has entries farther than "
                           f"{RASP_INPUT_SLACK} from an integer")
    tokens = [int(v) for v in np.clip(np.round(flat), 0, vocab - 1)]
    out = rasp.evaluate(rasp_program, tokens)
    if any(v is None for v in out):
        raise InvalidInput(f"the RASP block's program gives no value on {tokens}: {out}")
    return np.array(out, dtype=np.float64).reshape(x.shape)


def step_reference(instruction: tuple, memory: np.ndarray, pc: int, *, n_instructions: int,
                   k: int, R: float, rasp: str = "sort", vocab: int = 4,
                   flag_margin: float = 0.5, where: str = "fleq.step_reference"
                   ) -> tuple[np.ndarray, int]:
    """One FLEQ loop on a validated state: (new memory [m, k, k], new pc). pc ==
    n_instructions is halted (returns the state unchanged); `instruction` is the one at pc
    (function as an index into `_functions(rasp)`).

    Raises:
        InvalidInput: the result leaves [-R, R], the flag lies strictly between 0 and the
            flag margin (an ambiguous branch), or a RASP operand is not near an integer.
    """
    if pc >= n_instructions:
        return memory, pc
    a, b, c, f, flag, p = instruction
    fname = _functions(rasp)[f]
    program = _compiled(rasp, vocab, k * k)[0] if fname == rasp else None
    try:
        out = _apply(fname, memory[a], memory[b], rasp_program=program, vocab=vocab)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: instruction {pc}: {exc}") from None
    if not np.all(np.abs(out) <= R):
        raise InvalidInput(f"{where}: instruction {pc} ({fname}) writes {out.tolist()}, outside "
                           f"[-R, R] with R={R}")
    memory = memory.copy()
    memory[c] = out
    v = memory[flag][0, 0]
    if 0 < v < flag_margin:
        raise InvalidInput(f"{where}: instruction {pc} branches on mem[{flag}][0, 0] = {v!r}, "
                           f"strictly between 0 and the flag margin {flag_margin}")
    return memory, (p if v <= 0 else pc + 1)


def interpret(instructions: Sequence, memory: Sequence, *, loops: int, k: int, R: float = 16.0,
              rasp: str = "sort", vocab: int = 4, flag_margin: float = 0.5,
              trace: bool = False) -> Result:
    """Plain-Python FLEQ, the oracle (module docstring: semantics).

    Args:
        instructions: (a, b, c, f, flag, p) tuples; f a function name or index.
        memory: k x k real matrices.
        loops: instructions to execute (halted loops included).
        k, R, rasp, vocab, flag_margin: the machine's matrix side, value range, RASP block
            program and vocabulary, and flag margin δ.
        trace: also return memory and pc after every loop.

    Raises:
        InvalidInput: a malformed program (every problem listed) or one leaving the machine's
            domain (the loop and value quoted).
    """
    problems = _check_params(k, R, rasp, vocab, flag_margin, "fleq.interpret")
    if problems:
        raise InvalidInput("fleq.interpret: " + "; ".join(problems))
    instrs, mem = _check_program(instructions, memory, k=k, R=R, functions=_functions(rasp),
                                 where="fleq.interpret")
    _check_loops(loops, "fleq.interpret")
    pc = 0
    mems, pcs = [mem], [pc]
    for _ in range(loops):
        mem, pc = step_reference(instrs[pc] if pc < len(instrs) else None, mem, pc,
                                 n_instructions=len(instrs), k=k, R=R, rasp=rasp, vocab=vocab,
                                 flag_margin=flag_margin, where="fleq.interpret")
        if trace:
            mems.append(mem)
            pcs.append(pc)
    return Result(mem, pc, np.stack(mems) if trace else None, tuple(pcs) if trace else None)


# -- bounds (sympy) ------------------------------------------------------------------------------

_n, _k, _R, _u, _eps = sp.symbols("n k R u epsilon", positive=True)


def matmul_bound() -> dict:
    """The error of one matmul entry (module docstring: the tanh heads), sympy in n, k, R, u, ε.

    1. Truncation: with x = εC, (4 tanh x - tanh(2x)/2)/(3ε) = C - (8/15)ε⁴C⁵
       + (68/63)ε⁶C⁷ - (248/135)ε⁸C⁹ + ... (sympy series; tests check it). For |x| <= 1/4
       the error's ratio to (16/15)x⁵ stays <= 1/2 (a 2000-point grid of (0, 1/4] in 30-digit
       mpmath, tests/constructions/test_fleq.py; 2·10⁴ points at 40 digits gave the same), so
       the truncation is at most (16/15) ε⁴ R⁵ while εR <= 1/4 (`build` refuses a larger ε).
    2. Rounding of the softmax: each weight carries a relative error <= (n + 2)u and the signed
       sum of n weights of total 1 an absolute one <= (n + 3)u; the output weights sum to
       4/(3ε) + 1/(6ε) = 1.5/ε, so <= 2(n + 4)u/ε.
    3. The query εx·ỹ of k terms (relative ku of εC), the write mem + (C - mem): (2k + 4)uR.

    Returns:
        {"error": the bound, "eps": the ε minimising terms 1 + 2, "saturation": 1.5/ε (the
        largest output of the heads, whatever the operands)}.
    """
    error = sp.Rational(16, 15) * _eps ** 4 * _R ** 5 + 2 * (_n + 4) * _u / _eps \
        + (2 * _k + 4) * _u * _R
    eps = (sp.Rational(15, 32) * (_n + 4) * _u / _R ** 5) ** sp.Rational(1, 5)
    return {"error": error, "eps": eps, "saturation": sp.Rational(3, 2) / _eps}


def linear_bound() -> sp.Expr:
    """Rounding of add/sub/transpose/RASP writes: F = f - mem (<= 3R, two roundings) then
    mem + F (one): 16uR."""
    return 16 * _u * _R


def _u_of(dtype, where: str = "fleq") -> float:
    """The unit roundoff of float32 or float64 (InvalidInput for any other dtype)."""
    if not (_is_dtype(dtype) and np.dtype(dtype).name in ("float32", "float64")):
        raise InvalidInput(f"{where}: dtype must be float32 or float64, got {dtype!r}")
    return float(unit_roundoff(mantissa_bits(np.dtype(dtype).name)))


def derived_eps(n: int, k: int, R: float, dtype: Any = np.float64) -> float:
    """ε of the matmul heads (`matmul_bound`["eps"]) at (n, R) and the dtype's unit roundoff."""
    subs = {_n: n, _k: k, _R: R, _u: _u_of(dtype, "fleq.derived_eps")}
    return float(matmul_bound()["eps"].subs(subs))


def derived_lam(dtype: Any = np.float64) -> float:
    """The read heads' λ: the smallest power of two with e^(-2λ) below half the dtype's smallest
    subnormal, so every off-target softmax weight is exactly 0 (module docstring)."""
    _u_of(dtype, "fleq.derived_lam")
    tiny = float(np.finfo(np.dtype(dtype)).smallest_subnormal)
    need = (-math.log(tiny) + math.log(2.0)) / 2
    return float(2.0 ** math.ceil(math.log2(need)))


def tolerance(f: str, *, n: int, k: int, R: float, dtype: Any = np.float64,
              eps: Optional[float] = None) -> float:
    """The error one instruction of function f may add to the value it writes (given exact
    operands): `matmul_bound` for "matmul", `linear_bound` for the rest."""
    u = _u_of(dtype, "fleq.tolerance")
    if f not in LINEAR_FUNCTIONS + RASP_PROGRAMS:
        raise InvalidInput(f"fleq.tolerance: unknown function {f!r}; known: "
                           f"{list(LINEAR_FUNCTIONS + RASP_PROGRAMS)}")
    if f == "matmul":
        e = derived_eps(n, k, R, dtype) if eps is None else eps
        return float(matmul_bound()["error"].subs({_n: n, _k: k, _R: R, _u: u, _eps: e}))
    return float(linear_bound().subs({_u: u, _R: R}))


def width_formula() -> sp.Expr:
    """Residual width in L (address bits), k, F (functions), V (RASP vocabulary) and D_c (the
    compiled model's width): fixed rows one/even/odd/region 4, slots k² + 1, off-slots k²;
    codes of L rows: position, pc, next, and a, b, c, flag, p in commands and in scratch (13L);
    command and scratch function rows 2F; memory k²; dist 1; x, y, ỹ, product 4k²; gathered
    RASP scores k²V; flag value 1; compiled rows D_c."""
    L, k, F, V, Dc = sp.symbols("L k F V D_c", positive=True)
    return 13 * L + 7 * k ** 2 + k ** 2 * V + 2 * F + Dc + 7


def depth_formula() -> sp.Expr:
    """Layers per instruction: fetch, read, the compiled model's Lc, write, branch."""
    return 4 + sp.Symbol("L_c", positive=True)


# -- the construction ----------------------------------------------------------------------------


def _gated(units: _Units, form: dict, gate: dict, out: BasisDirection, big: float) -> None:
    """out += form exactly where every gate row is 0, else += 0 exactly (|form| < big):
    relu(form - big·Σgate) - relu(-form - big·Σgate)."""
    g = {d: -big * c for d, c in gate.items()}
    units.unit({**g, **form}, 0.0, {out: 1.0})
    units.unit({**g, **{d: -c for d, c in form.items()}}, 0.0, {out: -1.0})


def _gated_step(units: _Units, form: dict, offset: float, t: float, gate: dict, out: dict,
                big: float) -> None:
    """step_t(Σ form·x + offset)·out where every gate row is 0, exactly 0 elsewhere (big >
    the pre-activations' size): the step pair of `_Units.step` with -big·Σgate added."""
    k = STEP_SLOPE
    w = {d: k * c for d, c in form.items()}
    for d, c in gate.items():
        w[d] = w.get(d, 0.0) - big * c
    units.unit(w, k * (offset - t) + 0.5, out)
    units.unit(w, k * (offset - t) - 0.5, {d: -c for d, c in out.items()})


def _head(label, reads_q, w_q, reads_k, w_k, reads_v, w_v, writes, w_o, note) -> AttentionHead:
    return AttentionHead(label=label, reads_q=tuple(reads_q), reads_k=tuple(reads_k),
                         reads_v=tuple(reads_v), writes=tuple(writes),
                         w_q=np.asarray(w_q, float), w_k=np.asarray(w_k, float),
                         w_v=np.asarray(w_v, float), w_o=np.asarray(w_o, float), note=note)


@dataclass(frozen=True, eq=False)
class FleqMachine(_PunchcardMachine):
    """The built looped FLEQ transformer: named blocks, layout and assembled `Weights` (the same
    for every program), with the punchcard codec.

    Attributes:
        s, m, n, k, R, rasp, vocab, flag_margin, lam, eps, dtype: the parameters.
        L: address bits. functions: the function names (index = f).
        gate: G, the gated units' switch-off constant. space: the residual layout.
        layers: per layer (heads, MLPs), the named craft blocks. weights: the `Weights`.
        compiled_layers: the compiled RASP model's layer count Lc.
    """

    s: int
    m: int
    n: int
    k: int
    R: float
    rasp: str
    vocab: int
    flag_margin: float
    lam: float
    eps: float
    dtype: Any
    L: int
    functions: tuple
    gate: float
    space: VectorSpace
    layers: tuple
    weights: Any
    compiled_layers: int

    def tolerance(self, f: str) -> float:
        """`tolerance(f)` at this machine's n, k, R, dtype and ε."""
        return tolerance(f, n=self.n, k=self.k, R=self.R, dtype=self.dtype, eps=self.eps)

    # -- codec
    def _ix(self, label: str, count: int) -> np.ndarray:
        return self.space.indices_of(_dirs(label, count))

    def _encode(self, instrs: tuple, mem: np.ndarray) -> np.ndarray:
        s, m, n, L, k = self.s, self.m, self.n, self.L, self.k
        F, kk = len(self.functions), k * k
        x = np.zeros((n, self.space.dim), dtype=self.dtype)
        cols = np.arange(n)
        code = 2.0 * ((cols[:, None] >> np.arange(L)) & 1) - 1.0
        ix = self.space.indices_of
        x[:, ix([BasisDirection("one")])] = 1.0
        x[:, ix([BasisDirection("even")])] = (cols % 2 == 0)[:, None]
        x[:, ix([BasisDirection("odd")])] = (cols % 2 == 1)[:, None]
        region = np.arange(2, 3 + kk)
        x[region, ix([BasisDirection("region")])] = 1.0
        for t, col in enumerate(region):
            x[col, ix([BasisDirection("slot", t)])] = 1.0
        for t in range(1, kk + 1):
            x[:, ix([BasisDirection("off_slot", t)])] = (cols != region[t])[:, None]
        x[:, self._ix("position", L)] = code
        x[:, self._ix("pc", L)] = code[s + m]
        halt = s + m + len(instrs)
        rows = [(s + a, s + b, s + c, f, s + fl, s + m + p) for a, b, c, f, fl, p in instrs]
        rows += [(0, 0, 1, 0, 0, col) for col in range(halt, n)]
        for i, (a, b, c, f, fl, p) in enumerate(rows):
            col = s + m + i
            for label, v in (("command_a", a), ("command_b", b), ("command_c", c),
                             ("command_flag", fl), ("command_p", p)):
                x[col, self._ix(label, L)] = code[v]
            off = np.ones(F)
            off[f] = 0.0
            x[col, self._ix("command_off", F)] = off
        x[s:s + len(mem), self._ix("memory", kk)] = mem.reshape(len(mem), kk)
        return x

    def _decode(self, x: np.ndarray, cells: int) -> tuple[np.ndarray, np.ndarray]:
        s, k = self.s, self.k
        mem = x[:, s:s + cells][..., self._ix("memory", k * k)].astype(np.float64)
        pcbits = x[:, 0][..., self._ix("pc", self.L)] > 0
        col = (pcbits.astype(np.int64) << np.arange(self.L)).sum(-1)
        return mem.reshape(x.shape[0], cells, k, k), col - s - self.m

    def encode(self, instructions: Sequence, memory: Sequence) -> np.ndarray:
        """The punchcard [n, D] of a program (validated first, every problem at once)."""
        instrs, mem = self._check(instructions, memory, "fleq.encode")
        return self._encode(instrs, mem)

    def _check(self, instructions, memory, where):
        return _check_program(instructions, memory, k=self.k, R=self.R,
                              functions=self.functions, m=self.m, capacity=self.capacity,
                              where=where)

    # -- forward
    def run_batch(self, programs: Sequence[tuple], *, loops: int, trace: bool = False
                  ) -> list[Result]:
        """Run many (instructions, memory) programs at once, one shared set of weights
        (`step`, `run` and the pass loop are subleq's `_PunchcardMachine`'s)."""
        checked = [self._check(i, mem, f"fleq.run (program {j})")
                   for j, (i, mem) in enumerate(self._pairs(programs, loops, "fleq.run"))]
        if not checked:
            return []
        cells = max(len(mem) for _, mem in checked)
        mem, pc, mems, pcs = self._passes(
            np.stack([self._encode(i, mem) for i, mem in checked]), loops, trace, cells)
        return [Result(mem[j, :len(m_j)], int(pc[j]),
                       np.stack([mm[j, :len(m_j)] for mm in mems]) if trace else None,
                       tuple(int(p[j]) for p in pcs) if trace else None)
                for j, (_, m_j) in enumerate(checked)]

def _check_sizes(s, m, n, k, R, lam, eps, dtype) -> list[str]:
    problems = []
    for name, v, low in (("s", s, 1), ("m", m, 1), ("n", n, 2)):
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            problems.append(f"{name} must be an int >= {low}, got {v!r}")
    if not problems and isinstance(k, int):
        if s < k * k + 3:
            problems.append(f"s={s} scratchpad columns cannot hold Z, the sink and the RASP "
                            f"region of k² + 1 = {k * k + 1} columns (need s >= {k * k + 3})")
        if n < s + m + 1:
            problems.append(f"n={n} columns cannot hold s={s}, m={m} and the halt instruction "
                            f"(need n >= {s + m + 1})")
        if n % 2:
            problems.append(f"n={n} must be even (the matmul heads need as many even as odd "
                            f"columns)")
    for name, v in (("lam", lam), ("eps", eps)):
        if v is not None and not (isinstance(v, (int, float)) and not isinstance(v, bool)
                                  and math.isfinite(v) and v > 0):
            problems.append(f"{name} must be a positive finite number, got {v!r}")
    if isinstance(eps, (int, float)) and isinstance(R, (int, float)) and eps * R > 0.25:
        problems.append(f"eps={eps} with R={R}: the matmul bound needs eps·R <= 1/4")
    if not (_is_dtype(dtype) and np.dtype(dtype).name in ("float32", "float64")):
        problems.append(f"dtype must be float32 or float64, got {dtype!r}")
    return problems


def build(*, s: int, m: int, n: int, k: int = 2, R: float = 16.0, rasp: str = "sort",
          vocab: int = 4, flag_margin: float = 0.5, lam: Optional[float] = None,
          eps: Optional[float] = None, dtype: Any = np.float64) -> FleqMachine:
    """Build the looped FLEQ transformer (input-independent weights).

    Args:
        s, m, n: scratchpad, memory and total columns (n even, s >= k² + 3).
        k: memory entries are k x k matrices.
        R: the value range the machine is specified on (gates and ε are derived from it).
        rasp, vocab: the RASP block's library program and vocabulary 0..vocab-1 (compiled by
            `theory_kit.compile` at max_seq_len k²).
        flag_margin: δ: branch values are <= 0 or >= δ.
        lam: read heads' λ (None: `derived_lam(dtype)`); eps: matmul ε (None: `derived_eps`).
        dtype: float64 or float32.

    Raises:
        InvalidInput: listing every bad parameter.
    """
    problems = _check_params(k, R, rasp, vocab, flag_margin, "fleq.build") \
        + _check_sizes(s, m, n, k, R, lam, eps, dtype)
    if problems:
        raise InvalidInput("fleq.build: " + "; ".join(problems))
    name = np.dtype(dtype).name
    return _build(s, m, n, k, float(R), rasp, vocab, float(flag_margin),
                  float(derived_lam(name) if lam is None else lam),
                  float(derived_eps(n, k, R, name) if eps is None else eps), name)


def run(instructions: Sequence, memory: Sequence, *, loops: int, s: int, m: int, n: int,
        k: int = 2, R: float = 16.0, rasp: str = "sort", vocab: int = 4,
        flag_margin: float = 0.5, lam: Optional[float] = None, eps: Optional[float] = None,
        dtype: Any = np.float64, trace: bool = False) -> Result:
    """Run a FLEQ program on the looped transformer (built once per parameters).

    Args:
        instructions: (a, b, c, f, flag, p) tuples (module docstring: semantics).
        memory: k x k real matrices, at most m of them, entries in [-R, R] (a float32
            machine holds them rounded to float32).
        loops: passes of the looped block (one instruction each).
        s, m, n, k, R, rasp, vocab, flag_margin, lam, eps, dtype: see `build`.
        trace: also return memory and pc after every loop.

    Returns:
        Result(memory, pc[, memories, pcs]) decoded from the residual.

    Raises:
        InvalidInput: bad parameters or a malformed program (every problem listed).
    """
    machine = build(s=s, m=m, n=n, k=k, R=R, rasp=rasp, vocab=vocab, flag_margin=flag_margin,
                    lam=lam, eps=eps, dtype=dtype)
    return machine.run(instructions, memory, loops=loops, trace=trace)


def _compiled_blocks(cw, rdir: tuple, one, region) -> list:
    """The compiled model's layers as craft blocks on the "rasp_residual" rows: each head gets
    the mask coordinate (query MASK_LOGIT·one, key region - one); MLPs unchanged."""
    out = []
    for li, lw in enumerate(cw.layers):
        heads = []
        for h in range(lw.n_heads):
            e = lw.W_Q.shape[2]
            w_q = np.zeros((len(rdir) + 1, e + 1))
            w_q[:-1, :e] = lw.W_Q[h]
            w_q[-1, e] = MASK_LOGIT
            w_k = np.zeros((len(rdir) + 2, e + 1))
            w_k[:-2, :e] = lw.W_K[h]
            w_k[-2, e], w_k[-1, e] = 1.0, -1.0
            heads.append(_head(f"rasp_l{li}_h{h}", rdir + (one,), w_q, rdir + (region, one), w_k,
                               rdir, lw.W_V[h], rdir, lw.W_O[h],
                               "compiled head, masked to the region (logit -Λ outside)"))
        mlps = []
        if lw.mlp_hidden:
            if np.any(lw.b_out):
                raise InvalidInput("fleq: the compiled model has an MLP output bias, which the "
                                   "craft MLP block cannot carry")
            mlps.append(MLP(label=f"rasp_l{li}_mlp", reads=rdir, writes=rdir, w_in=lw.W_in,
                            b_in=lw.b_in, w_out=lw.W_out, note="compiled MLP"))
        out.append((heads, mlps))
    return out


@functools.lru_cache(maxsize=16)
def _build(s, m, n, k, R, rasp, vocab, flag_margin, lam, eps, dtype) -> FleqMachine:
    L, kk = address_bits(n), k * k
    functions = _functions(rasp)
    F = len(functions)
    program, cw = _compiled(rasp, vocab, kk)
    problems = []
    if cw.causal:
        problems.append("the compiled model is causal")
    if cw.output.encoding != "categorical" or \
            not all(isinstance(v, int) and 0 <= v < vocab for v in cw.output_values):
        problems.append(f"its output values {cw.output_values} are not ints in 0..{vocab - 1}")
    if problems:
        raise InvalidInput(f"fleq.build: rasp={rasp!r} cannot be a block: " + "; ".join(problems))
    Dc, V = cw.residual_width, len(cw.output_values)
    Lc = len(cw.layers)

    one, even, odd, region = (BasisDirection(x) for x in ("one", "even", "odd", "region"))
    slot = tuple(BasisDirection("slot", t) for t in range(kk + 1))
    off_slot = {t: BasisDirection("off_slot", t) for t in range(1, kk + 1)}
    pos, pc, nxt = _dirs("position", L), _dirs("pc", L), _dirs("scratch_next", L)
    names = ("a", "b", "c", "flag", "p")
    cmd = {x: _dirs(f"command_{x}", L) for x in names}
    scr = {x: _dirs(f"scratch_{x}", L) for x in names}
    cmd_off, scr_off = _dirs("command_off", F), _dirs("scratch_off", F)
    mem = _dirs("memory", kk)
    xs, ys, yt, prod = (_dirs(f"scratch_{x}", kk) for x in ("x", "y", "ysigned", "prod"))
    dist, fval = BasisDirection("scratch_dist"), BasisDirection("scratch_flagval")
    gathered = {(t, v): BasisDirection("scratch_rasp", (t, v))
                for t in range(1, kk + 1) for v in range(V)}
    rdir = _dirs("rasp_residual", Dc)
    space = VectorSpace.of((one, even, odd, region) + slot + tuple(off_slot.values()) + pos
                           + sum((cmd[x] for x in names), ()) + cmd_off + pc + mem
                           + sum((scr[x] for x in names), ()) + scr_off + nxt + (dist,)
                           + xs + ys + yt + prod + tuple(gathered.values()) + (fval,) + rdir)

    # Constants. K = STEP_SLOPE. Every gated unit's pre-activation is at most (in absolute
    # value) 3R (a linear F), 1.5/ε + R (a saturated matmul), K(R + V) + 1 (an embedding step)
    # or K·(max gathered score) + 1 <= K + 2 (a snap: the compiled model always runs on a
    # valid input, where its scores are within 1/4 of 0 or 1 — measured 2e-11 for every block
    # program on all 256 inputs, asserted by the tests), so G = 4(3R + 1.5/ε + K(R + V) + 4)
    # switches them all off. H does it for the branch steps (K_f|v| <= K_f R).
    gate = 4.0 * (3 * R + 1.5 / eps + STEP_SLOPE * (R + V) + 4.0)
    k_flag = 4.0 / flag_margin
    theta = flag_margin / 2
    big_h = 2.0 * (k_flag * (R + flag_margin) + 2.0)
    f_index = {f: i for i, f in enumerate(functions)}

    # -- layer 1: fetch; pc + 1 and the Hamming distance to c.
    cmd_rows = sum((cmd[x] for x in names), ()) + cmd_off
    scr_rows = sum((scr[x] for x in names), ()) + scr_off
    fetch = _read_head("fetch", pc, pos, cmd_rows, scr_rows, lam,
                       "read lemma, exact: pc is an exact ±1 code, so the target column scores "
                       "λL, the others <= λ(L-2), and e^(-2λ) underflows to 0 (derived_lam)")
    u1 = _Units()
    for k_ in range(L):
        form, off = _code_value(pc[:k_ + 1])
        for c, sign in ((2.0 ** k_, 1.0), (2.0 ** (k_ + 1), -1.0)):
            u1.step(form, off + 1.0, c - 0.5, {nxt[k_]: sign})
    # dist = Σ (relu(p - c) + relu(c - p))/2: an exact integer (both codes exact ±1).
    for p_k, c_k in zip(pos, scr["c"]):
        u1.unit({p_k: 1.0, c_k: -1.0}, 0.0, {dist: 0.5})
        u1.unit({p_k: -1.0, c_k: 1.0}, 0.0, {dist: 0.5})
    mlp1 = u1.build("next_and_dist", "pc + 1 (steps, as subleq) and the Hamming distance of "
                                     "the position code to c (an exact integer)")

    # -- layer 2: read mem[a], mem[b]; signed copy of y; the RASP region's embedding.
    read_a = _read_head("read_a", scr["a"], pos, mem, xs, lam, "read lemma, exact (as fetch)")
    read_b = _read_head("read_b", scr["b"], pos, mem, ys, lam, "read lemma, exact (as fetch)")
    u2 = _Units()
    for e in range(kk):
        # ỹ = y·s: y at even columns, -y at odd ones, by rows gated off exactly (|y| <= R).
        _gated(u2, {ys[e]: 1.0}, {odd: 1.0}, yt[e], gate)
        _gated(u2, {ys[e]: -1.0}, {even: 1.0}, yt[e], gate)
    ids = {v: cw.tokens.index(v) for v in cw.tokens[1:]}
    tok, posemb = cw.token_embed, cw.pos_embed

    def vec(a: np.ndarray) -> dict:
        return {rdir[i]: float(a[i]) for i in np.flatnonzero(a)}

    # BOS column: token BOS + position 0; token column t: position t + token 0, plus one
    # step per further token value on x_(t-1), gated by off_slot t and by "the RASP block
    # is not selected" (then the tokens are all 0: a valid input).
    u2.unit({slot[0]: 1.0}, 0.0, vec(tok[0] + posemb[0]))
    rasp_off = scr_off[f_index[rasp]]
    for t in range(1, kk + 1):
        u2.unit({slot[t]: 1.0}, 0.0, vec(posemb[t] + tok[ids[0]]))
        for v in range(1, vocab):
            _gated_step(u2, {xs[t - 1]: 1.0}, 0.0, v - 0.5, {off_slot[t]: 1.0, rasp_off: 1.0},
                        vec(tok[ids[v]] - tok[ids[v - 1]]), gate)
    mlp2 = u2.build("signed_copy_and_embed", "ỹ = y·(±1 parity) for the matmul heads; the "
                                             "compiled model's embedding in the RASP region")

    # -- matmul heads (in the first compiled layer's attention).
    mm_heads = []
    for i in range(k):
        for l_ in range(k):
            for scale, coef in ((eps, 4.0 / (3.0 * eps)), (2.0 * eps, -1.0 / (6.0 * eps))):
                mm_heads.append(_head(
                    f"matmul_{i}{l_}_{'1' if scale == eps else '2'}",
                    [xs[i * k + j] for j in range(k)], scale * np.eye(k),
                    [yt[j * k + l_] for j in range(k)], np.eye(k),
                    (even, odd), [[1.0], [-1.0]], (prod[i * k + l_],), [[coef]],
                    "softmax over ±C logits is tanh(εC); two scales cancel the cubic term "
                    "(matmul_bound)"))

    compiled = _compiled_blocks(cw, rdir, one, region)

    # -- write layer: gather the compiled scores; write the selected block's value at c.
    unembed = cw.output.unembed  # [Dc, V]
    gather = [_head(f"gather_{t}", (one,), [[MASK_LOGIT]], (slot[t], one), [[1.0], [-1.0]],
                    rdir, unembed, [gathered[t, v] for v in range(V)], np.eye(V),
                    "hard: logit -Λ off slot t") for t in range(1, kk + 1)]
    uw = _Units()
    for e in range(kk):
        i, j = divmod(e, k)
        forms = {"add": {xs[e]: 1.0, ys[e]: 1.0}, "sub": {xs[e]: 1.0, ys[e]: -1.0},
                 "matmul": {prod[e]: 1.0}, "transpose": {xs[j * k + i]: 1.0}}
        for f, form in forms.items():
            g = {scr_off[f_index[f]]: 1.0, dist: 1.0}
            _gated(uw, {**form, mem[e]: form.get(mem[e], 0.0) - 1.0}, g, mem[e], gate)
        g = {scr_off[f_index[rasp]]: 1.0, dist: 1.0}
        _gated(uw, {mem[e]: -1.0}, g, mem[e], gate)
        for v in range(1, V):
            _gated_step(uw, {gathered[e + 1, v]: 1.0}, 0.0, 0.5, g, {mem[e]: float(v)}, gate)
    write = uw.build("write", "mem[c] <- f(x, y) for the selected f only: rows gated off "
                              "exactly (module docstring)")

    # -- branch layer: v = mem[flag][0, 0]; pc <- p if v <= 0 else pc + 1; clear.
    read_flag = _read_head("read_flag", scr["flag"], pos, (mem[0],), (fval,), lam,
                           "read lemma, exact, after the write")
    ub = _Units()
    # [p_j = 1 and v <= 0]: z = K_f(θ - v) + H((p_j + 1)/2 - 1); with K_f = 4/δ, θ = δ/2,
    # z >= 1/2 when p_j = 1 and v <= 3δ/8, z <= -1/2 when v >= 5δ/8 or p_j = -1 (H > K_f(R+δ)).
    # [next_j = 1 and v > 0] likewise with next_j ∈ {0, 1}. pc_j' = 2(both) - 1.
    for j in range(L):
        ub.step({fval: -k_flag, scr["p"][j]: big_h / 2}, k_flag * theta - big_h / 2, 0.0,
                {pc[j]: 2.0})
        ub.step({fval: k_flag, nxt[j]: big_h}, -k_flag * theta - big_h, 0.0, {pc[j]: 2.0})
        ub.minus(pc[j])
    ub.unit({}, 1.0, {p: -1.0 for p in pc})
    for d in (scr_rows + nxt + (dist,) + xs + ys + yt + prod + tuple(gathered.values())
              + (fval,) + rdir):
        ub.minus(d)
    branch = ub.build("branch", "conditional branching on mem[flag][0,0] (steps), pc snapped "
                                "to ±1; every scratch and compiled row cleared")

    layers = [((fetch,), (mlp1,)), ((read_a, read_b), (mlp2,))]
    for li, (heads, mlps) in enumerate(compiled):
        layers.append((tuple(heads) + (tuple(mm_heads) if li == 0 else ()), tuple(mlps)))
    layers += [(tuple(gather), (write,)), ((read_flag,), (branch,))]
    layout = {d: i for i, d in enumerate(space.basis)}
    weights = assemble([(list(h), list(ms)) for h, ms in layers], layout, Embedding("punchcard"),
                       tokens=("punchcard",), max_seq_len=n,
                       readouts={"output": ReadoutSpec(mem, "numerical" if kk == 1
                                                       else "categorical")},
                       dtype=np.dtype(dtype))
    return FleqMachine(s=s, m=m, n=n, k=k, R=R, rasp=rasp, vocab=vocab,
                       flag_margin=flag_margin, lam=lam, eps=eps, dtype=np.dtype(dtype), L=L,
                       functions=functions, gate=gate, space=space, layers=tuple(layers),
                       weights=weights, compiled_layers=Lc)


# -- programs ------------------------------------------------------------------------------------


def newton_inverse_program(A: np.ndarray, *, iterations: int) -> tuple[tuple, list, dict]:
    """Newton's iteration for the matrix inverse, X <- X(2I - AX) = 2X - X(AX), as a FLEQ
    program, from X0 = Aᵀ/(‖A‖₁‖A‖∞) (for which ‖I - X0 A‖₂ < 1: Pan and Schreiber 1991).

    The scalar 1/(‖A‖₁‖A‖∞) is input preparation (stored as c·I in memory); the machine does
    every matrix operation and the loop control (a counter decremented by 1 per iteration).

    Returns:
        (instructions, memory, cells): cells names the memory indices ("A", "X", ...).
    """
    A = np.asarray(A, dtype=np.float64)
    k = A.shape[0]
    if A.ndim != 2 or A.shape != (k, k) or not np.all(np.isfinite(A)):
        raise InvalidInput(f"newton_inverse_program: A must be a finite square matrix, got "
                           f"shape {A.shape}")
    if not (isinstance(iterations, int) and iterations >= 1):
        raise InvalidInput(f"newton_inverse_program: iterations must be an int >= 1, got "
                           f"{iterations!r}")
    names = ("A", "X", "T", "U", "X2", "cnt", "one", "cI", "Z", "junk")
    cells = {name: i for i, name in enumerate(names)}
    e00 = np.zeros((k, k))
    e00[0, 0] = 1.0
    c = 1.0 / (np.abs(A).sum(0).max() * np.abs(A).sum(1).max())
    memory = [A, np.zeros((k, k)), np.zeros((k, k)), np.zeros((k, k)), np.zeros((k, k)),
              iterations * e00, e00, c * np.eye(k), np.zeros((k, k)), np.zeros((k, k))]
    C = cells
    halt = 8
    instructions = (
        (C["A"], C["A"], C["X"], "transpose", C["one"], 0),      # X = Aᵀ
        (C["X"], C["cI"], C["X"], "matmul", C["one"], 0),        # X = c Aᵀ
        (C["A"], C["X"], C["T"], "matmul", C["one"], 0),         # loop: T = A X
        (C["X"], C["T"], C["U"], "matmul", C["one"], 0),         # U = X A X
        (C["X"], C["X"], C["X2"], "add", C["one"], 0),           # X2 = 2X
        (C["X2"], C["U"], C["X"], "sub", C["one"], 0),           # X = 2X - XAX
        (C["cnt"], C["one"], C["cnt"], "sub", C["cnt"], halt),   # cnt -= 1; done: halt
        (C["Z"], C["Z"], C["junk"], "add", C["Z"], 2),           # goto loop
    )
    return instructions, memory, cells


def newton_iterates(memories: np.ndarray, cells: dict, iterations: int) -> np.ndarray:
    """X after 0..iterations Newton iterations [iterations + 1, k, k], from a trace of
    `newton_inverse_program` (X0 is ready after loop 2, iteration j writes X at loop 6j + 2)."""
    return np.stack([memories[6 * j + 2][cells["X"]] for j in range(iterations + 1)])


def newton_tolerance(A: np.ndarray, machine: "FleqMachine") -> float:
    """How far the machine's Newton inverse may be from numpy's (max-entry), and why.

    Near the fixed point one iteration maps X = A⁻¹ + e to A⁻¹ - eAe + E, with E the machine's
    error in one iteration: U = X(AX) costs two matmuls (|E| <= (k·|X|max + 1)·η_mm, with
    |X|max <= 1.1·|A⁻¹|max near the fixed point) and 2X - U two linear writes (2·η_lin); the
    error settles at |E| (|eAe| is quadratically small), so 2|E| bounds it with room for the
    last quadratic term; numpy's own inverse differs from the exact one by about κ(A)·u64
    (charged 100·κ(A)·u64).
    """
    A = np.asarray(A, dtype=np.float64)
    k = machine.k
    step = (k * 1.1 * np.abs(np.linalg.inv(A)).max() + 1) * machine.tolerance("matmul") \
        + 2 * machine.tolerance("sub")
    return float(2 * step + 100 * np.linalg.cond(A) * np.finfo(np.float64).eps / 2)


def random_program(rng: np.random.Generator, *, m: int, n_instructions: int, k: int,
                   functions: Sequence[str], values: Sequence[int] = (-1, 0, 1, 2)
                   ) -> tuple[tuple, list]:
    """A random program: a, b, c, flag uniform in 0..m-1, f uniform over `functions`, p uniform
    in 0..n_instructions (so halting occurs), memory entries with entries drawn from `values`
    (integers: the RASP block's operands are then exact and flags are <= 0 or >= 1).

    Returns:
        (instructions, memory); a program may leave [-R, R] — `interpret` says so.
    """
    if not (isinstance(m, int) and m >= 1 and isinstance(n_instructions, int)
            and n_instructions >= 0 and isinstance(k, int) and k >= 1 and len(functions)):
        raise InvalidInput(f"fleq.random_program: need m >= 1, n_instructions >= 0, k >= 1 "
                           f"and functions; got m={m!r}, n_instructions={n_instructions!r}, "
                           f"k={k!r}, functions={functions!r}")
    cells = rng.integers(0, m, size=(n_instructions, 4))
    fs = rng.integers(0, len(functions), size=n_instructions)
    ps = rng.integers(0, n_instructions + 1, size=n_instructions)
    instrs = tuple((int(a), int(b), int(c), functions[int(f)], int(fl), int(p))
                   for (a, b, c, fl), f, p in zip(cells, fs, ps))
    mem = [rng.choice(np.asarray(values, dtype=np.float64), size=(k, k)) for _ in range(m)]
    return instrs, mem
