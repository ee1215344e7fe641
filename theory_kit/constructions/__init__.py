"""Hand-built machines from craft constructors, each with its own reference emulator and the
bounds it relies on (not routed through the RASP compiler).

Modules: `subleq` — Giannou et al. 2023's looped SUBLEQ computer (issue 16).
"""

from theory_kit.constructions import subleq

__all__ = ["subleq"]
