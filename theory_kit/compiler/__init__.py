"""The RASP-to-weights compiler: pure stages between frozen IRs (see compile.py)."""

from theory_kit.compiler.compile import compile
from theory_kit.compiler.config import CompileConfig
from theory_kit.compiler.generation import compile_generator
from theory_kit.compiler.result import Compilation

__all__ = ["compile", "compile_generator", "CompileConfig", "Compilation"]
