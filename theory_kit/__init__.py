"""theory_kit: check claims about transformer constructions instead of trusting them.

`rasp`, `compile`, `load` and `errors` load eagerly; the heavier parts (`library`, `bounds`,
`claims`, `landscape`, `testing`) load on first access, so `import theory_kit` stays fast.
"""

import importlib

__version__ = "0.1.0"

from theory_kit import errors, rasp  # noqa: E402
from theory_kit.compiler import CompileConfig, compile  # noqa: E402
from theory_kit.model import CompiledModel, load  # noqa: E402

_LAZY = ("library", "bounds", "claims", "landscape", "testing", "compat")

__all__ = ["__version__", "errors", "rasp", "compile", "CompileConfig", "CompiledModel", "load",
           *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"theory_kit.{name}")
    raise AttributeError(f"module 'theory_kit' has no attribute {name!r}")
