r"""Small graphs worth drawing, shared by the examples, the golden tests and the docs.

``notes_example`` is the lecture notes' :math:`L = \tfrac12(\sigma(a x_0 + b) - y_0)^2` with named steps
``z``, ``y`` and ``L``; ``a`` and ``b`` are parameters, ``x_0`` and ``y_0`` data (no gradient), as in the notes.
"""

from __future__ import annotations

import numpy as np

from autograd_viz.scalar import Value
from autograd_viz.tensor import Tensor


def notes_example(a: float = 0.5, b: float = -1.0, x0: float = 2.0, y0: float = 1.0) -> Value:
    """The notes' loss; its backward graph has :math:`\\bar z = (y - y_0)\\sigma'(z)`, :math:`\\bar a = \\bar z x_0`."""
    pa, pb = Value(a, name="a", role="param"), Value(b, name="b", role="param")
    px = Value(x0, name="x0", role="input", requires_grad=False)
    py = Value(y0, name="y0", role="input", requires_grad=False)
    z = pa * px + pb
    z.name = "z"
    y = z.sigmoid()
    y.name = "y"
    loss = 0.5 * (y - py) ** 2
    loss.name = "L"
    return loss


def tensor_example(seed: int = 0) -> Tensor:
    """A tiny layer ``relu(x @ W + b)`` summed: shows shapes, statistics and the bias's broadcast reduction."""
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((4, 3)), name="x", role="input")
    w = Tensor(rng.standard_normal((3, 2)), requires_grad=True, name="fc1.weight", role="param")
    b = Tensor(np.zeros(2), requires_grad=True, name="fc1.bias", role="param")
    loss = (x @ w + b).relu().sum()
    loss.name = "L"
    return loss
