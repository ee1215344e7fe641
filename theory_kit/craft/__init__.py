"""Named-basis linear algebra and transformer blocks, plus the lowering table."""

from theory_kit.craft.bases import BOS, ONE, BasisDirection, VectorSpace
from theory_kit.craft.blocks import MLP, AttentionHead, Embedding

__all__ = ["BasisDirection", "VectorSpace", "BOS", "ONE", "AttentionHead", "MLP", "Embedding"]
