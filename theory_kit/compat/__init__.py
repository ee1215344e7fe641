"""Tracr-compatible entry points: port a Tracr script by changing only its imports.

    from tracr.rasp import rasp            ->  from theory_kit import rasp
    from tracr.compiler import lib         ->  from theory_kit import library as lib
    from tracr.compiler import compiling   ->  from theory_kit.compat import compiling
"""

from theory_kit.compat import compiling

__all__ = ["compiling"]
