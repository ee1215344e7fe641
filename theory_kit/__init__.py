"""theory_kit: check claims about transformer constructions instead of trusting them."""

__version__ = "0.1.0"

from theory_kit import errors, rasp  # noqa: E402
from theory_kit.compiler import CompileConfig, compile  # noqa: E402
from theory_kit.model import CompiledModel, load  # noqa: E402

__all__ = ["__version__", "errors", "rasp", "compile", "CompileConfig", "CompiledModel", "load"]
