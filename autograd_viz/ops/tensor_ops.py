"""Tensor-only ops: matmul, reductions, shape ops and indexing (NumPy backend only).

For these the drawing text is the vector-Jacobian product itself, with ``ḡ`` the upstream gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_viz.ops.base import OpDef


def _swap(a: np.ndarray) -> np.ndarray:
    return a.swapaxes(-1, -2)


def _matmul_backward(m, g, x, out, attrs, saved, needs):
    a, b = x  # Ā = Ḡ Bᵀ, B̄ = Aᵀ Ḡ
    if a.ndim == 2 and b.ndim == 2:  # the training hot path
        return (g @ b.T if needs[0] else None), (a.T @ g if needs[1] else None)
    if a.ndim == 1 and b.ndim == 1:
        return g * b, g * a
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = g[..., None, :] if a.ndim == 1 else g
    g2 = g2[..., None] if b.ndim == 1 else g2
    ga = g2 @ _swap(b2)
    gb = _swap(a2) @ g2
    if a.ndim == 1:
        ga = ga[..., 0, :]
    if b.ndim == 1:
        gb = gb[..., 0]
    return ga, gb  # leading batch dimensions are summed away by the engine's unbroadcast


def _expand_reduced(g: np.ndarray, shape: tuple, axis: int | tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
    """Re-insert the reduced axes of ``g`` so it broadcasts against the input ``shape``."""
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, shape)


def _reduced_count(shape: tuple, axis: int | tuple[int, ...] | None) -> int:
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


def _sum_backward(m, g, x, out, attrs, saved, needs):
    return (_expand_reduced(g, x[0].shape, attrs["axis"], attrs["keepdims"]),)  # every summand gets ḡ


def _mean_backward(m, g, x, out, attrs, saved, needs):
    count = _reduced_count(x[0].shape, attrs["axis"])  # every averaged entry gets ḡ / n
    return (_expand_reduced(g / count, x[0].shape, attrs["axis"], attrs["keepdims"]),)


def _max_forward(m, x, axis, keepdims):
    out = x.max(axis=axis, keepdims=True)
    # Ties share the gradient equally (the subgradient that keeps gradcheck symmetric).
    mask = x == out
    share = mask / mask.sum(axis=axis, keepdims=True)
    if not keepdims:
        out = out.reshape(()) if axis is None else np.squeeze(out, axis=axis)
    return out, share.astype(x.dtype, copy=False)


def _max_backward(m, g, x, out, attrs, saved, needs):
    share = saved  # 1 at the argmax (1/k for a k-way tie), 0 elsewhere
    return (_expand_reduced(g, x[0].shape, attrs["axis"], attrs["keepdims"]) * share,)


def _reshape_backward(m, g, x, out, attrs, saved, needs):
    return (g.reshape(x[0].shape),)


def _transpose_backward(m, g, x, out, attrs, saved, needs):
    axes = attrs["axes"]
    if axes is None:
        return (g.transpose(),)
    return (g.transpose(np.argsort(axes)),)


def _is_basic_index(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts)


def _getitem_backward(m, g, x, out, attrs, saved, needs):
    index = attrs["index"]
    grad = np.zeros_like(x[0])
    if _is_basic_index(index):
        grad[index] = g
    else:
        np.add.at(grad, index, g)  # repeated indices accumulate
    return (grad,)


def _reduction_args(values: dict) -> dict:
    """``, axis=1`` in a reduction's display when it reduces along an axis (nothing for all axes)."""
    axis = values.get("axis")
    return {"axis_arg": "" if axis is None else f", axis={axis}"}


TENSOR_OPS: tuple[OpDef, ...] = (
    OpDef(
        name="matmul", symbol="@", arity=2, elementwise=False,
        forward=lambda m, a, b: a @ b,
        backward=_matmul_backward,
        sympy=None,
        derivatives=("ḡ @ {x1}ᵀ", "{x0}ᵀ @ ḡ"),
        derivative_latex=(r"\bar{{g}}\,{x1}^\top", r"{x0}^\top\,\bar{{g}}"),
        display="{x0} @ {x1}",
        latex=r"{x0} {x1}",
    ),
    OpDef(
        name="sum", symbol="Σ", arity=1, elementwise=False,
        forward=lambda m, x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims),
        backward=_sum_backward,
        sympy=None,
        derivatives=("broadcast ḡ",),
        derivative_latex=(r"\operatorname{{broadcast}}\left(\bar{{g}}\right)",),
        attr_names=("axis", "keepdims"),
        placeholders=_reduction_args,
        display="Σ({x0}{axis_arg})",
        latex=r"\sum {x0}",
    ),
    OpDef(
        name="mean", symbol="mean", arity=1, elementwise=False,
        forward=lambda m, x, axis, keepdims: x.mean(axis=axis, keepdims=keepdims),
        backward=_mean_backward,
        sympy=None,
        derivatives=("broadcast ḡ / n",),
        derivative_latex=(r"\frac{{1}}{{n}}\operatorname{{broadcast}}\left(\bar{{g}}\right)",),
        attr_names=("axis", "keepdims"),
        placeholders=_reduction_args,
        display="mean({x0}{axis_arg})",
        latex=r"\operatorname{{mean}}\left({x0}\right)",
    ),
    OpDef(
        name="max", symbol="max", arity=1, elementwise=False, saves=True,
        forward=_max_forward,
        backward=_max_backward,
        sympy=None,
        derivatives=("ḡ at the argmax",),
        derivative_latex=(r"\bar{{g}} \text{{ at the argmax}}",),
        attr_names=("axis", "keepdims"),
        placeholders=_reduction_args,
        display="max({x0}{axis_arg})",
        latex=r"\max {x0}",
    ),
    OpDef(
        name="reshape", symbol="reshape", arity=1, elementwise=False,
        forward=lambda m, x, shape: x.reshape(shape),
        backward=_reshape_backward,
        sympy=None,
        derivatives=("reshape ḡ back",),
        derivative_latex=(r"\operatorname{{reshape}}\left(\bar{{g}}\right)",),
        attr_names=("shape",),
        display="reshape({x0}, shape={shape})",
        latex=r"\operatorname{{reshape}}\left({x0}\right)",
    ),
    OpDef(
        name="transpose", symbol="ᵀ", arity=1, elementwise=False,
        forward=lambda m, x, axes: x.transpose(axes),
        backward=_transpose_backward,
        sympy=None,
        derivatives=("ḡᵀ",),
        derivative_latex=(r"\bar{{g}}^\top",),
        attr_names=("axes",),
        display="{x0}ᵀ",
        latex=r"{x0}^\top",
    ),
    OpDef(
        name="getitem", symbol="[]", arity=1, elementwise=False,
        forward=lambda m, x, index: x[index],
        backward=_getitem_backward,
        sympy=None,
        derivatives=("scatter ḡ into zeros",),
        derivative_latex=(r"\operatorname{{scatter}}\left(\bar{{g}}\right)",),
        attr_names=("index",),
        display="{x0}[…]",
        latex=r"{x0}\left[\ldots\right]",
    ),
)
