"""The functions issue 12 added to the expression language: sin, cos, erf, the standard normal CDF Phi, softplus,
step (the indicator of x > 0) and sign.

They are ops of the one table now, defined once in :mod:`autograd_viz.ops.elementwise` (``OPS["sin"]``,
``Value.sin()``, ``Tensor.erf()``, drawings, worked solutions, the PyTorch bridge); this module keeps the names
it exported for code that imported them from here.
"""

from __future__ import annotations

from autograd_viz.ops.base import OpDef
from autograd_viz.ops.elementwise import ELEMENTWISE, INV_SQRT_2PI, SQRT2, TWO_OVER_SQRT_PI

#: The names of the functions this module used to define.
EXTRA_NAMES: tuple[str, ...] = ("sin", "cos", "erf", "Phi", "softplus", "step", "sign")

EXTRA_OPS: tuple[OpDef, ...] = tuple(op for op in ELEMENTWISE if op.name in EXTRA_NAMES)

#: The same ops by name (each is ``OPS[name]``).
EXTRA_OPS_BY_NAME: dict[str, OpDef] = {op.name: op for op in EXTRA_OPS}

__all__ = ["EXTRA_NAMES", "EXTRA_OPS", "EXTRA_OPS_BY_NAME", "INV_SQRT_2PI", "SQRT2", "TWO_OVER_SQRT_PI"]
