"""autograd_viz: see and check backprop.

Scalar (`Value`) and NumPy (`Tensor`) reverse-mode autograd on one op table, Graphviz drawings of the
forward and adjoint graphs, a SymPy derivation checker, and vectorised MNIST training.

Importing the package is cheap: only the exception types load here. Every other top-level name (``Value``,
``Tensor``, ``draw``, ``to_sympy``, ...) is imported on first use by the module ``__getattr__`` below, so
``import autograd_viz`` (and the CLI's ``--help``) never pays for NumPy, Graphviz, SymPy or matplotlib.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from autograd_viz.errors import (
    AutogradVizError,
    DomainError,
    GradcheckError,
    GraphError,
    OperandError,
    ShapeError,
)

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and editors
    from autograd_viz.explain import explain
    from autograd_viz.gradcheck import gradcheck
    from autograd_viz.graph import is_grad_enabled, no_grad, topological_order
    from autograd_viz.scalar import Value
    from autograd_viz.symbolic import to_sympy
    from autograd_viz.tensor import Tensor
    from autograd_viz.viz import draw

__version__ = "0.1.0"

#: top-level name -> the module that defines it (imported when the name is first read)
_LAZY: dict[str, str] = {
    "Tensor": "autograd_viz.tensor",
    "Value": "autograd_viz.scalar",
    "draw": "autograd_viz.viz",
    "explain": "autograd_viz.explain",
    "gradcheck": "autograd_viz.gradcheck",
    "is_grad_enabled": "autograd_viz.graph",
    "no_grad": "autograd_viz.graph",
    "to_sympy": "autograd_viz.symbolic",
    "topological_order": "autograd_viz.graph",
}

#: submodules readable as attributes without importing them first (``autograd_viz.nn.Linear``), as the old
#: eager imports made the engine modules and ``viz`` reachable
_SUBMODULES = frozenset({"check", "data", "expr", "functional", "graph", "io", "nn", "ops", "optim", "scalar",
                         "steps", "symbolic", "tensor", "train", "viz"})

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
    "explain",
    "gradcheck",
    "is_grad_enabled",
    "no_grad",
    "to_sympy",
    "topological_order",
]


def __getattr__(name: str) -> Any:
    """Import a lazy top-level name (or a submodule, as ``autograd_viz.nn``) on first access."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later reads skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*__all__, *_SUBMODULES, "errors", "__version__"})


class _Package(types.ModuleType):
    """Keeps the function ``autograd_viz.gradcheck`` from being replaced by the submodule of the same name.

    Importing a submodule sets it as an attribute of its package; ``import autograd_viz.gradcheck`` (done by
    anything that needs ``numerical_grad``) would then turn ``autograd_viz.gradcheck`` into the module. The
    eager imports of old did not have this problem because the function was bound after the submodule loaded.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and name in _LAZY and value.__name__ == _LAZY[name]:
            return  # the submodule stays reachable as sys.modules["autograd_viz.<name>"]
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
