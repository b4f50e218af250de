r"""Softmax family and losses as fused, numerically stable ops.

``cross_entropy`` fuses log-softmax and the negative log-likelihood so its backward is the classic
:math:`\partial L/\partial l_j = (p_j - y_j)/N` with no division by a probability.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_viz.ops.base import OpDef


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _softmax_forward(m, x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _softmax_backward(m, g, x, out, attrs, saved, needs):
    p = out  # x̄ = p ⊙ (ḡ − Σ ḡ⊙p): the softmax Jacobian diag(p) − p pᵀ applied to ḡ
    return (p * (g - (g * p).sum(axis=attrs["axis"], keepdims=True)),)


def _log_softmax_forward(m, x, axis):
    out = _log_softmax(x, axis)
    return out, np.exp(out)


def _log_softmax_backward(m, g, x, out, attrs, saved, needs):
    p = saved  # x̄ = ḡ − p Σ ḡ, with p = softmax(x) saved by the forward
    return (g - p * g.sum(axis=attrs["axis"], keepdims=True),)


def smoothed_targets(target: np.ndarray, num_classes: int, label_smoothing: float, dtype: Any) -> np.ndarray:
    """Target distribution :math:`(1-s)\\,y + s/C` as a dense (N, C) array, from class indices or rows."""
    if target.ndim == 1:
        dense = np.zeros((target.size, num_classes), dtype=dtype)
        dense[np.arange(target.size), target] = 1.0
    else:
        dense = target.astype(dtype, copy=False)
    if label_smoothing:
        dense = (1.0 - label_smoothing) * dense + label_smoothing / num_classes
    return dense


def _cross_entropy_forward(m, logits, target, label_smoothing, reduction):
    """``logits`` is (N, C); ``target`` is int class indices (N,) or a float distribution (N, C)."""
    logp = _log_softmax(logits, axis=1)
    n, c = logits.shape
    if target.ndim == 1:
        picked = logp[np.arange(n), target]
        losses = -picked
        if label_smoothing:
            losses = (1.0 - label_smoothing) * losses - (label_smoothing / c) * logp.sum(axis=1)
    else:
        losses = -(smoothed_targets(target, c, label_smoothing, logits.dtype) * logp).sum(axis=1)
    if reduction == "mean":
        out = losses.sum() / n  # what .mean() computes, without its Python-level overhead
    elif reduction == "sum":
        out = losses.sum()
    else:
        out = losses
    return np.asarray(out, dtype=logits.dtype), np.exp(logp)


def _cross_entropy_backward(m, g, x, out, attrs, saved, needs):
    target, smoothing, reduction = attrs["target"], attrs["label_smoothing"], attrs["reduction"]
    p = saved  # x̄ = (p − y) ḡ / N, with p = softmax(logits) saved by the forward
    rows, classes = p.shape
    if target.ndim == 1 and not smoothing:
        grad = p.copy()
        grad[np.arange(rows), target] -= 1.0
    else:
        y = smoothed_targets(target, classes, smoothing, p.dtype)
        grad = p * y.sum(axis=1, keepdims=True) - y  # general targets need not sum to one
    if reduction == "mean":
        grad *= g / rows
    elif reduction == "sum":
        grad *= g
    else:
        grad *= np.reshape(g, (-1, 1))
    return (grad,)


def _mse_forward(m, pred, target, reduction):
    diff = pred - target
    sq = diff * diff
    if reduction == "mean":
        return sq.mean(), diff
    if reduction == "sum":
        return sq.sum(), diff
    return sq, diff


def _mse_backward(m, g, x, out, attrs, saved, needs):
    diff = saved  # pred − target, saved by the forward; x̄₀ = 2(pred − target) ḡ / N, x̄₁ = −x̄₀
    scale = 2.0 / diff.size if attrs["reduction"] == "mean" else 2.0
    grad = diff * (g * scale)
    return grad, -grad


LOSS_OPS: tuple[OpDef, ...] = (
    OpDef(
        name="softmax", symbol="softmax", arity=1, elementwise=False,
        forward=_softmax_forward,
        backward=_softmax_backward,
        sympy=None,
        derivatives=("p ⊙ (ḡ − Σ ḡ⊙p)",),
        derivative_latex=(r"p \odot \left(\bar{{g}} - \textstyle\sum \bar{{g}} \odot p\right)",),
        attr_names=("axis",),
        display="softmax({x0}, axis={axis})",
        latex=r"\operatorname{{softmax}}\left({x0}\right)",
        nonzero_derivative=True,
    ),
    OpDef(
        name="log_softmax", symbol="log_softmax", arity=1, elementwise=False, saves=True,
        forward=_log_softmax_forward,
        backward=_log_softmax_backward,
        sympy=None,
        derivatives=("ḡ − p Σ ḡ",),
        derivative_latex=(r"\bar{{g}} - p \textstyle\sum \bar{{g}}",),
        attr_names=("axis",),
        display="log_softmax({x0}, axis={axis})",
        latex=r"\log\operatorname{{softmax}}\left({x0}\right)",
        nonzero_derivative=True,
    ),
    OpDef(
        name="cross_entropy", symbol="CE", arity=1, elementwise=False, saves=True,
        forward=_cross_entropy_forward,
        backward=_cross_entropy_backward,
        sympy=None,
        derivatives=("(p − y) ḡ / N",),
        derivative_latex=(r"\frac{{(p - y)\,\bar{{g}}}}{{N}}",),
        attr_names=("target", "label_smoothing", "reduction"),
        display="CE({x0})",
        latex=r"\operatorname{{CE}}\left({x0}\right)",
    ),
    OpDef(
        name="mse_loss", symbol="MSE", arity=2, elementwise=False, saves=True,
        forward=_mse_forward,
        backward=_mse_backward,
        sympy=None,
        derivatives=("2({x0} − {x1}) ḡ / N", "−2({x0} − {x1}) ḡ / N"),
        derivative_latex=(r"\frac{{2({x0} - {x1})\,\bar{{g}}}}{{N}}", r"-\frac{{2({x0} - {x1})\,\bar{{g}}}}{{N}}"),
        attr_names=("reduction",),
        display="MSE({x0}, {x1})",
        latex=r"\operatorname{{MSE}}\left({x0}, {x1}\right)",
    ),
)
