"""Losses (MSE forms, binary and softmax cross-entropy) and L1/L2 weight penalties, built on the op table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

import autograd_viz.functional as F
from autograd_viz.errors import AutogradVizError, ShapeError
from autograd_viz.tensor import Tensor

_MSE_FORMS = ("mean", "sum", "half_sum", "half_mean")


def _target(pred: Tensor, target: Any) -> np.ndarray:
    t = np.asarray(target.data if isinstance(target, Tensor) else target, dtype=pred.dtype)
    if t.shape != pred.shape:
        raise ShapeError(f"loss: prediction {pred.shape} and target {t.shape} must have the same shape")
    return t


def mse_loss(pred: Tensor, target: Any, form: str = "mean") -> Tensor:
    r"""Squared error: ``mean`` :math:`\frac1N\sum(\hat y-y)^2`, ``sum``, ``half_sum`` :math:`\frac12\sum(\hat y-y)^2`,
    or ``half_mean`` :math:`\frac1{2N}\sum(\hat y-y)^2` (the lecture's :math:`\frac1{2n}\|Y-\hat Y\|^2`)."""
    if form not in _MSE_FORMS:
        raise AutogradVizError(f"mse_loss: form must be one of {', '.join(_MSE_FORMS)}, got {form!r}")
    t = _target(pred, target)
    loss = F.mse_loss(pred, Tensor(t, role="const"), reduction="mean" if form.endswith("mean") else "sum")
    return loss * 0.5 if form.startswith("half") else loss


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "none":
        return losses
    raise AutogradVizError(f"loss: reduction must be mean, sum or none, got {reduction!r}")


def binary_cross_entropy_with_logits(logits: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    r"""BCE from logits, :math:`-[y\log\sigma(z) + (1-y)\log(1-\sigma(z))]`, stable for any :math:`z`.

    Each logit becomes the two-class logit row :math:`(0, z)`, so the fused softmax cross-entropy does the
    work: no overflow, no log of 0, and the gradient is exactly :math:`\sigma(z) - y`.
    """
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
    t = _target(probs, target)
    eps = float(np.finfo(probs.dtype).eps)
    shift = Tensor(np.clip(probs.data, eps, 1.0 - eps) - probs.data, role="const")
    p = probs + shift
    losses = -(p.log() * Tensor(t, role="const") + (1.0 - p).log() * Tensor(1.0 - t, role="const"))
    return _reduce(losses, reduction)


def cross_entropy(logits: Tensor, target: Any, label_smoothing: float = 0.0, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of logits (N, C) against class indices or distributions (``F.cross_entropy``)."""
    return F.cross_entropy(logits, target, label_smoothing=label_smoothing, reduction=reduction)


def l1_penalty(params: Iterable[Tensor], lam: float) -> Tensor:
    r""":math:`\lambda\sum|w|` over the given parameters (drives weights to exactly 0)."""
    terms = [p.abs().sum() for p in params]
    if not terms:
        raise AutogradVizError("l1_penalty: no parameters given")
    return sum(terms[1:], terms[0]) * lam


def l2_penalty(params: Iterable[Tensor], lam: float) -> Tensor:
    r""":math:`\lambda\sum w^2` over the given parameters (the lecture's form; its gradient is :math:`2\lambda w`)."""
    terms = [(p * p).sum() for p in params]
    if not terms:
        raise AutogradVizError("l2_penalty: no parameters given")
    return sum(terms[1:], terms[0]) * lam


class CrossEntropyLoss:
    """Callable softmax cross-entropy with fixed label smoothing, like ``torch.nn.CrossEntropyLoss``."""

    def __init__(self, label_smoothing: float = 0.0, reduction: str = "mean") -> None:
        self.label_smoothing, self.reduction = float(label_smoothing), reduction

    def __call__(self, logits: Tensor, target: Any) -> Tensor:
        return cross_entropy(logits, target, self.label_smoothing, self.reduction)


class MSELoss:
    """Callable squared error in one of the forms of :func:`mse_loss`."""

    def __init__(self, form: str = "mean") -> None:
        self.form = form

    def __call__(self, pred: Tensor, target: Any) -> Tensor:
        return mse_loss(pred, target, self.form)
