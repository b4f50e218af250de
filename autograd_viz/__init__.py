"""autograd_viz: see and check backprop.

Scalar (`Value`) and NumPy (`Tensor`) reverse-mode autograd on one op table, Graphviz drawings of the
forward and adjoint graphs, a SymPy derivation checker, and vectorised MNIST training.
"""

from autograd_viz.viz import draw
from autograd_viz.errors import (
    AutogradVizError,
    DomainError,
    GradcheckError,
    GraphError,
    OperandError,
    ShapeError,
)
from autograd_viz.gradcheck import gradcheck
from autograd_viz.graph import is_grad_enabled, no_grad, topological_order
from autograd_viz.scalar import Value
from autograd_viz.symbolic import to_sympy
from autograd_viz.tensor import Tensor

__version__ = "0.1.0"

__all__ = [
    "AutogradVizError",
    "DomainError",
    "GradcheckError",
    "GraphError",
    "OperandError",
    "ShapeError",
    "Tensor",
    "Value",
    "draw",
    "gradcheck",
    "is_grad_enabled",
    "no_grad",
    "to_sympy",
    "topological_order",
]
