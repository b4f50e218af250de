"""``gradcheck``: compare backprop with central finite differences in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograd_viz.errors import GradcheckError, OperandError
from autograd_viz.graph import Node, no_grad
from autograd_viz.scalar import Value
from autograd_viz.tensor import Tensor


def _scalar_of(out: Any, projection: dict) -> float:
    """The output as one float; non-scalar outputs are projected on fixed random weights."""
    if isinstance(out, Value):
        return out.data
    if isinstance(out, Tensor):
        data = out.data
        if data.size == 1:
            return float(data.reshape(-1)[0])
        if "w" not in projection:
            projection["w"] = np.random.default_rng(1234).standard_normal(data.shape)
        return float((data * projection["w"]).sum())
    raise OperandError(f"gradcheck: fn must return a Value or Tensor, got {type(out).__name__}")


def gradcheck(fn: Callable[..., Any], *inputs: Node, eps: float = 1e-6, atol: float = 1e-6,
              rtol: float = 1e-5) -> bool:
    r"""Check ``fn``'s backprop gradients against central differences :math:`(f(x+h)-f(x-h))/2h`.

    Inputs that require grad are checked entry by entry; they must be float64. Non-scalar outputs are
    reduced with fixed random weights. Returns True, or raises :class:`GradcheckError` naming the input,
    the index and both numbers. Input gradients are restored afterwards.
    """
    checked = [(i, x) for i, x in enumerate(inputs) if isinstance(x, Node) and x.requires_grad]
    for i, x in checked:
        if isinstance(x, Tensor) and x.dtype != np.float64:
            raise OperandError(f"gradcheck: input {i} ({x.label()}) is {x.dtype}; use float64")
    saved_grads = [x.grad for _, x in checked]
    projection: dict = {}
    try:
        for _, x in checked:
            x.zero_grad()
        out = fn(*inputs)
        _scalar_of(out, projection)
        if isinstance(out, Tensor) and out.size != 1:
            out.backward(projection["w"])
        else:
            out.backward()
        for i, x in checked:
            analytic = np.zeros(np.shape(x.data)) if x.grad is None else np.asarray(x.grad, dtype=np.float64)
            _compare(fn, inputs, i, x, analytic, eps, atol, rtol, projection)
    finally:
        for (_, x), grad in zip(checked, saved_grads, strict=True):
            x.grad = grad
    return True


def _compare(fn: Callable[..., Any], inputs: Sequence[Any], i: int, x: Node, analytic: Any, eps: float, atol: float,
             rtol: float, projection: Any) -> None:
    def f() -> float:
        with no_grad():
            return _scalar_of(fn(*inputs), projection)

    if isinstance(x, Value):
        original = x.data
        x.data = original + eps
        plus = f()
        x.data = original - eps
        minus = f()
        x.data = original
        _report(i, x, (), float(analytic), (plus - minus) / (2 * eps), atol, rtol)
        return
    data = x.data
    for index in np.ndindex(data.shape):
        original = data[index]
        data[index] = original + eps
        plus = f()
        data[index] = original - eps
        minus = f()
        data[index] = original
        _report(i, x, index, float(analytic[index]), (plus - minus) / (2 * eps), atol, rtol)


def _report(i: int, x: Node, index: tuple, analytic: float, numeric: float, atol: float, rtol: float) -> None:
    if not (abs(analytic - numeric) <= atol + rtol * abs(numeric)):
        where = f"index {index}" if index else "(scalar)"
        raise GradcheckError(f"gradcheck: input {i} ({x.label()}) {where}: analytic {analytic:.10g} vs "
                             f"numeric {numeric:.10g}")
