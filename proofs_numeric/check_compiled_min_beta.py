"""Check claim compiled_min_beta: the smallest beta at which compiled make_hist (vocab {0, 1}) is
exact on every input is at most the compiler's beta = 2 ln((N+1)/eps), for N = 2..6.

Besides the verifier's summary, records the measured minimal beta and the compiler's beta at each
N (macros \\tkCompiledMinBetaMinN<k> and \\tkCompiledMinBetaCompilerN<k>).
Writes paper_appendix/generated/compiled_min_beta.tex; exits 1 if a counterexample is found.
"""

import sys

from _common import camel, run_check, tex_number

from theory_kit.claims import compiled  # noqa: E402  (registers the claim until claims/__init__ does)


def per_n():
    macros, rows = {}, []
    lo, hi = compiled.MIN_BETA_N_RANGE
    for n in range(lo, hi + 1):
        b_min, b_comp = compiled.min_exact_beta(n), compiled.compiler_beta(n)
        macros["MinN" + camel(str(n))] = tex_number(b_min)
        macros["CompilerN" + camel(str(n))] = tex_number(b_comp)
        rows.append((f"$N = {n}$", f"min exact $\\beta$ {tex_number(b_min)}, compiler $\\beta$ {tex_number(b_comp)}"))
    return macros, rows


if __name__ == "__main__":
    sys.exit(run_check("compiled_min_beta", extra=per_n))
