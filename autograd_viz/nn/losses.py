r"""Losses (MSE, binary and softmax cross-entropy) and L1/L2 weight penalties, built on the op table.

``mse_loss`` and ``cross_entropy`` are the functions of :mod:`autograd_viz.functional` (one implementation, one
set of keywords: ``reduction="mean" | "sum" | "none"``); the lecture's :math:`\frac1{2n}\|Y-\hat Y\|^2` is
``0.5 * mse_loss(pred, target)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

import autograd_viz.functional as F
from autograd_viz.errors import DomainError, ModelError, ShapeError
from autograd_viz.functional import cross_entropy, mse_loss
from autograd_viz.tensor import Tensor

__all__ = ["CrossEntropyLoss", "MSELoss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
           "l1_penalty", "l2_penalty", "mse_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _target(pred: Tensor, target: Any) -> np.ndarray:
    t = np.asarray(target.data if isinstance(target, Tensor) else target, dtype=pred.dtype)
    if t.shape != pred.shape:
        raise ShapeError(f"loss: prediction {pred.shape} and target {t.shape} must have the same shape")
    return t


def _check_reduction(reduction: str, fn: str) -> None:
    if reduction not in _REDUCTIONS:
        raise DomainError(f"{fn}: reduction must be one of {', '.join(_REDUCTIONS)}, got {reduction!r}")


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def binary_cross_entropy_with_logits(logits: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    r"""BCE from logits, :math:`-[y\log\sigma(z) + (1-y)\log(1-\sigma(z))]`, stable for any :math:`z`.

    Each logit becomes the two-class logit row :math:`(0, z)`, so the fused softmax cross-entropy does the
    work: no overflow, no log of 0, and the gradient is exactly :math:`\sigma(z) - y`.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    t = _target(logits, target).reshape(-1, 1)
    pair = Tensor(np.array([[0.0, 1.0]], dtype=logits.dtype), role="const")
    rows = logits.reshape(-1, 1) @ pair
    dist = np.concatenate([1.0 - t, t], axis=1)
    if reduction == "none":
        return F.cross_entropy(rows, dist, reduction="none").reshape(logits.shape)
    return F.cross_entropy(rows, dist, reduction=reduction)


def binary_cross_entropy(probs: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    r"""BCE from probabilities, :math:`-[y\log p + (1-y)\log(1-p)]`; p is clipped into [ε, 1-ε] for the value
    (ε the dtype's resolution) while the gradient passes through, so p = 0 or 1 gives a large finite loss."""
    _check_reduction(reduction, "binary_cross_entropy")
    t = _target(probs, target)
    eps = float(np.finfo(probs.dtype).eps)
    shift = Tensor(np.clip(probs.data, eps, 1.0 - eps) - probs.data, role="const")
    p = probs + shift
    losses = -(p.log() * Tensor(t, role="const") + (1.0 - p).log() * Tensor(1.0 - t, role="const"))
    return _reduce(losses, reduction)


def l1_penalty(params: Iterable[Tensor], lam: float) -> Tensor:
    r""":math:`\lambda\sum|w|` over the given parameters (drives weights to exactly 0)."""
    terms = [p.abs().sum() for p in params]
    if not terms:
        raise ModelError("l1_penalty: got no parameters (pass model.parameters())")
    return sum(terms[1:], terms[0]) * lam


def l2_penalty(params: Iterable[Tensor], lam: float) -> Tensor:
    r""":math:`\lambda\sum w^2` over the given parameters (the lecture's form; its gradient is :math:`2\lambda w`)."""
    terms = [(p * p).sum() for p in params]
    if not terms:
        raise ModelError("l2_penalty: got no parameters (pass model.parameters())")
    return sum(terms[1:], terms[0]) * lam


class CrossEntropyLoss:
    """Callable softmax cross-entropy with fixed label smoothing, like ``torch.nn.CrossEntropyLoss``."""

    def __init__(self, label_smoothing: float = 0.0, reduction: str = "mean") -> None:
        self.label_smoothing, self.reduction = float(label_smoothing), reduction

    def __call__(self, logits: Tensor, target: Any) -> Tensor:
        return cross_entropy(logits, target, label_smoothing=self.label_smoothing, reduction=self.reduction)


class MSELoss:
    """Callable squared error with a fixed ``reduction``, like ``torch.nn.MSELoss``."""

    def __init__(self, reduction: str = "mean") -> None:
        _check_reduction(reduction, "MSELoss")
        self.reduction = reduction

    def __call__(self, pred: Tensor, target: Any) -> Tensor:
        return mse_loss(pred, target, reduction=self.reduction)
