"""Hand-built machines from craft constructors, each with its own reference emulator and the
bounds it relies on (not routed through the RASP compiler).

Modules: `subleq` — Giannou et al. 2023's looped SUBLEQ computer (issue 16); `subleq_rasp` —
the same machine written as a looped RASP program and compiled by `theory_kit.compile`, for the
automatic-vs-hand-built comparison (issue 16, item 6; it is routed through the compiler);
`fleq` — the FLEQ generalisation: matrix-valued memory and function blocks, one of them a
compiled RASP model (issue 16, item 5).
"""

from theory_kit.constructions import fleq, subleq, subleq_rasp

__all__ = ["fleq", "subleq", "subleq_rasp"]
