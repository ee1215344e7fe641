"""Test helpers shipped with theory_kit: hypothesis strategies and compile-correctness asserts.

    from theory_kit.testing import assert_compiles_correctly, format_program, strategies
"""

from theory_kit.testing import strategies
from theory_kit.testing.assertions import assert_compiles_correctly, check_model
from theory_kit.testing.formatting import format_program

__all__ = ["strategies", "format_program", "assert_compiles_correctly", "check_model"]
