"""theory_kit: check claims about transformer constructions instead of trusting them.

Only `errors` loads eagerly; everything else (`rasp`, `compile`, `load`, `library`, `bounds`,
`claims`, `landscape`, `testing`, `sweep`, ...) loads on first access, so `import theory_kit`
stays fast.
"""

import importlib

__version__ = "0.1.0"

from theory_kit import errors  # noqa: E402  (a leaf: no numpy)

#: name -> module it lives in; loaded on first access so `import theory_kit` (and the CLI's
#: `--version`) stay fast, and a hand-built model never imports the compiler.
_LAZY_NAMES = {
    "compile": "theory_kit.compiler", "compile_generator": "theory_kit.compiler",
    "CompileConfig": "theory_kit.compiler",
    "Compilation": "theory_kit.compiler", "Model": "theory_kit.model",
    "CompiledModel": "theory_kit.model", "load": "theory_kit.model",
}
_LAZY = ("rasp", "library", "bounds", "claims", "landscape", "testing", "compat", "sweep")

__all__ = ["__version__", "errors", "rasp", "compile", "compile_generator", "CompileConfig",
           "Compilation", "Model",
           "CompiledModel", "load", *_LAZY[1:]]


def __getattr__(name):
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
        globals()[name] = value
        return value
    if name in _LAZY:
        return importlib.import_module(f"theory_kit.{name}")
    raise AttributeError(f"module 'theory_kit' has no attribute {name!r}")
