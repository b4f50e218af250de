"""Functions over ``Value`` and ``Tensor``: activations, softmax family and losses.

``import autograd_viz.functional as F`` then ``F.cross_entropy(x @ W, targets)``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from autograd_viz.errors import DomainError, OperandError, ShapeError
from autograd_viz.ops import OPS
from autograd_viz.scalar import Value
from autograd_viz.tensor import Tensor, apply_unchecked

_REDUCTIONS = ("mean", "sum", "none")


def _node(x: Any, fn: str) -> Value | Tensor:
    if isinstance(x, Value | Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor(x)
    raise OperandError(f"{fn}: expected a Value or Tensor, got {type(x).__name__}")


def _tensor(x: Any, fn: str, what: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, Value):
        raise OperandError(f"{fn}: {what} must be a Tensor, got a Value")
    return Tensor(x)


def sigmoid(x: Any) -> Any:
    r"""Logistic function :math:`\sigma(x) = 1/(1+e^{-x})`, stable for large :math:`|x|`."""
    return _node(x, "sigmoid").sigmoid()


def tanh(x: Any) -> Any:
    """Hyperbolic tangent."""
    return _node(x, "tanh").tanh()


def relu(x: Any) -> Any:
    r""":math:`\max(x, 0)`."""
    return _node(x, "relu").relu()


def leaky_relu(x: Any, alpha: float = 0.01) -> Any:
    r""":math:`x` for :math:`x>0`, else :math:`\alpha x`."""
    return _node(x, "leaky_relu").leaky_relu(alpha)


def exp(x: Any) -> Any:
    return _node(x, "exp").exp()


def log(x: Any) -> Any:
    return _node(x, "log").log()


def sqrt(x: Any) -> Any:
    return _node(x, "sqrt").sqrt()


def sin(x: Any) -> Any:
    return _node(x, "sin").sin()


def cos(x: Any) -> Any:
    return _node(x, "cos").cos()


def erf(x: Any) -> Any:
    r"""The error function :math:`\frac{2}{\sqrt\pi}\int_0^x e^{-t^2}\,dt`."""
    return _node(x, "erf").erf()


def Phi(x: Any) -> Any:  # the expression language's name
    r"""The standard normal CDF :math:`\Phi(x) = (1 + \operatorname{erf}(x/\sqrt2))/2`."""
    return _node(x, "Phi").Phi()


normal_cdf = Phi


def softplus(x: Any) -> Any:
    r""":math:`\log(1 + e^x)`, computed without overflow; its derivative is :math:`\sigma(x)`."""
    return _node(x, "softplus").softplus()


def gelu(x: Any) -> Any:
    r"""GELU :math:`x\,\Phi(x)` (exact, PyTorch's ``approximate="none"``): two ops of the table, ``Phi`` and ``mul``."""
    x = _node(x, "gelu")
    return x * x.Phi()


def step(x: Any) -> Any:
    r"""The indicator :math:`[x > 0]`; derivative 0."""
    return _node(x, "step").step()


def sign(x: Any) -> Any:
    """-1, 0 or 1; derivative 0."""
    return _node(x, "sign").sign()


def softmax(x: Any, axis: int = -1) -> Tensor:
    r""":math:`p_j = e^{x_j} / \sum_k e^{x_k}` along ``axis`` (max-shifted, so it never overflows)."""
    return _tensor(x, "softmax", "input").softmax(axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    r""":math:`x_j - \log\sum_k e^{x_k}` along ``axis``, computed stably."""
    return _tensor(x, "log_softmax", "input").log_softmax(axis)


def _check_reduction(reduction: str, fn: str) -> None:
    if reduction not in _REDUCTIONS:
        raise DomainError(f"{fn}: reduction must be one of {', '.join(_REDUCTIONS)}, got {reduction!r}")


def cross_entropy(logits: Any, target: Any, label_smoothing: float = 0.0, reduction: str = "mean") -> Tensor:
    r"""Softmax cross-entropy :math:`-\frac1N\sum_i\sum_j y_{ij}\log p_{ij}` of logits (N, C) or (C,).

    ``target`` is class indices (N,) (integers) or target distributions (N, C), e.g. one-hot rows.
    ``label_smoothing`` :math:`s` replaces :math:`y` by :math:`(1-s)y + s/C`.
    """
    _check_reduction(reduction, "cross_entropy")
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real):
        raise OperandError(f"cross_entropy: label_smoothing must be a number, got {type(label_smoothing).__name__}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise DomainError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    logits = _tensor(logits, "cross_entropy", "logits")
    single = logits.ndim == 1
    if single:
        logits = logits.reshape(1, -1)
    if logits.ndim != 2:
        raise ShapeError(f"cross_entropy: logits must be (N, C) or (C,), got {logits.shape}")
    n, c = logits.shape
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if single:
        t = t.reshape(1, -1) if t.ndim == 1 else t.reshape(1)
    if t.dtype.kind not in "fiub":
        raise OperandError(f"cross_entropy: target must be class indices (integers) or probabilities (floats), "
                           f"got dtype {t.dtype}")
    if t.ndim == 1 and t.dtype.kind == "f":
        if not np.all(t == np.round(t)):
            bad = t[t != np.round(t)][0]
            raise DomainError(f"cross_entropy: class-index targets must be whole numbers, got {bad}")
        t = t.astype(np.int64)
    if t.ndim == 1 and t.dtype.kind in "iub":
        if t.shape != (n,):
            raise ShapeError(f"cross_entropy: logits {logits.shape} and target {t.shape} do not fit: "
                             f"expected ({n},) class indices or ({n}, {c}) probabilities")
        if n and (t.min() < 0 or t.max() >= c):
            bad = t[(t < 0) | (t >= c)][0]
            raise DomainError(f"cross_entropy: target class {bad} is out of range for {c} classes")
        t = t.astype(np.intp, copy=False)
    elif t.shape != (n, c):
        raise ShapeError(f"cross_entropy: logits {logits.shape} and target {t.shape} do not fit: "
                         f"expected ({n},) class indices or ({n}, {c}) probabilities")
    out = apply_unchecked(OPS["cross_entropy"], logits, target=t, label_smoothing=float(label_smoothing),
                          reduction=reduction)
    if single and reduction == "none":
        out = out.reshape(())
    return out


def mse_loss(pred: Any, target: Any, reduction: str = "mean") -> Any:
    r"""Mean squared error :math:`\frac1N\sum_i(\hat y_i - y_i)^2` (``reduction="sum"``: the plain sum)."""
    _check_reduction(reduction, "mse_loss")
    if isinstance(pred, Value):
        diff = pred - target
        return diff * diff
    pred = _tensor(pred, "mse_loss", "pred")
    target = pred._lift(target, "mse_loss")
    if pred.shape != target.shape:
        raise ShapeError(f"mse_loss: pred {pred.shape} and target {target.shape} must have the same shape")
    return apply_unchecked(OPS["mse_loss"], pred, target, reduction=reduction)
