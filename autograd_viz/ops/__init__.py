"""The one op table: every primitive op of both engines, by name.

>>> OPS["sigmoid"].local_derivative(0, ["z"])
'σ(z)(1−σ(z))'
"""

from __future__ import annotations

from autograd_viz.ops.base import ArrayMath, OpDef, ScalarMath
from autograd_viz.ops.elementwise import ELEMENTWISE
from autograd_viz.ops.losses import LOSS_OPS
from autograd_viz.ops.tensor_ops import TENSOR_OPS

OPS: dict[str, OpDef] = {op.name: op for op in (*ELEMENTWISE, *TENSOR_OPS, *LOSS_OPS)}

#: Ops the scalar ``Value`` engine supports (those with a SymPy forward).
SCALAR_OPS: frozenset[str] = frozenset(op.name for op in ELEMENTWISE)

#: The functions of the expression language (``sigmoid(z)``), by name: the whitelist the parser, the checker and
#: the worked solutions read, so adding an op with an ``expr_name`` adds it everywhere.
EXPR_FUNCTIONS: dict[str, OpDef] = {op.expr_name: op for op in OPS.values() if op.expr_name is not None}

__all__ = ["EXPR_FUNCTIONS", "OPS", "SCALAR_OPS", "OpDef", "ScalarMath", "ArrayMath"]
