"""theory_kit: check claims about transformer constructions instead of trusting them."""

__version__ = "0.1.0"
