"""Named-basis linear algebra, transformer blocks and RASP-free constructors of heads and MLPs.

craft knows named directions, never RASP nodes: the table mapping node classes to these
constructors lives in theory_kit.compiler.graph_to_blocks. craft imports only craft.*,
theory_kit.values, theory_kit.errors and numpy. The assembler (named blocks -> dense arrays)
is `theory_kit.craft.assemble.assemble`; it is not re-exported here, so the submodule name
stays the module.
"""

from theory_kit.craft.attention import (
    QKCodes,
    bos_key_logit,
    predicate_codes,
    predicate_matrix,
    select_head,
    with_bos_columns,
)
from theory_kit.craft.bases import BOS, ONE, BasisDirection, VectorSpace
from theory_kit.craft.blocks import MLP, AttentionHead, Embedding
from theory_kit.craft.mlp import (
    MLPBuilder,
    Step,
    linear_mlp,
    lookup_mlp,
    step_mlp,
    width_decoder_mlp,
)

__all__ = ["BasisDirection", "VectorSpace", "BOS", "ONE", "AttentionHead", "MLP", "Embedding",
           "MLPBuilder", "Step", "lookup_mlp", "linear_mlp", "step_mlp", "width_decoder_mlp",
           "QKCodes", "predicate_matrix", "predicate_codes", "bos_key_logit", "with_bos_columns",
           "select_head"]
