"""Where a compiled model first departs from the interpreter, node by node: the one oracle
lives in `theory_kit.compiler.verify` (`node_divergence`); this module keeps the testing-side
names."""

from __future__ import annotations

from theory_kit.compiler.verify import Divergence, node_divergence, sublayer_name

__all__ = ["Divergence", "first_divergence", "sublayer_name"]

#: The earliest (sublayer, node) where the block reference or the weights leave the
#: interpreter (`theory_kit.compiler.verify.node_divergence`).
first_divergence = node_divergence
