"""Tensor-only ops: matmul, reductions, shape ops and indexing (NumPy backend only).

For these the drawing text is the vector-Jacobian product itself, with ``ḡ`` the upstream gradient.
"""

from __future__ import annotations

import numpy as np

from autograd_viz.ops.base import OpDef


def _swap(a: np.ndarray) -> np.ndarray:
    return a.swapaxes(-1, -2)


def _matmul_backward(m, g, n):
    a_node, b_node = n.parents
    a, b = a_node.data, b_node.data
    if a.ndim == 2 and b.ndim == 2:  # the training hot path
        ga = g @ b.T if a_node.requires_grad else None
        gb = a.T @ g if b_node.requires_grad else None
        return ga, gb
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


def _expand_reduced(g: np.ndarray, shape: tuple, axis, keepdims: bool) -> np.ndarray:
    """Re-insert the reduced axes of ``g`` so it broadcasts against the input ``shape``."""
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, shape)


def _reduced_count(shape: tuple, axis) -> int:
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


def _sum_backward(m, g, n):
    x = n.parents[0].data
    return (_expand_reduced(g, x.shape, n.attrs["axis"], n.attrs["keepdims"]),)


def _mean_backward(m, g, n):
    x = n.parents[0].data
    count = _reduced_count(x.shape, n.attrs["axis"])
    return (_expand_reduced(g / count, x.shape, n.attrs["axis"], n.attrs["keepdims"]),)


def _max_forward(m, x, axis, keepdims):
    out = x.max(axis=axis, keepdims=True)
    # Ties share the gradient equally (the subgradient that keeps gradcheck symmetric).
    mask = x == out
    share = mask / mask.sum(axis=axis, keepdims=True)
    if not keepdims:
        out = out.reshape(()) if axis is None else np.squeeze(out, axis=axis)
    return out, share.astype(x.dtype, copy=False)


def _max_backward(m, g, n):
    x = n.parents[0].data
    return (_expand_reduced(g, x.shape, n.attrs["axis"], n.attrs["keepdims"]) * n.saved,)


def _transpose_backward(m, g, n):
    axes = n.attrs["axes"]
    if axes is None:
        return (g.transpose(),)
    return (g.transpose(np.argsort(axes)),)


def _is_basic_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis for p in parts)


def _getitem_backward(m, g, n):
    x = n.parents[0].data
    index = n.attrs["index"]
    out = np.zeros_like(x)
    if _is_basic_index(index):
        out[index] = g
    else:
        np.add.at(out, index, g)  # repeated indices accumulate
    return (out,)


TENSOR_OPS: tuple[OpDef, ...] = (
    OpDef(
        name="matmul", symbol="@", arity=2, elementwise=False,
        forward=lambda m, a, b: a @ b,
        backward=_matmul_backward,
        sympy=None,
        derivatives=("ḡ @ {x1}ᵀ", "{x0}ᵀ @ ḡ"),
        doc=r"$A B$; $\bar A = \bar G B^\top$, $\bar B = A^\top \bar G$",
    ),
    OpDef(
        name="sum", symbol="Σ", arity=1, elementwise=False,
        forward=lambda m, x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims),
        backward=_sum_backward,
        sympy=None,
        derivatives=("broadcast ḡ",),
        attr_names=("axis", "keepdims"),
        doc=r"$\sum_i x_i$; the gradient is broadcast back",
    ),
    OpDef(
        name="mean", symbol="mean", arity=1, elementwise=False,
        forward=lambda m, x, axis, keepdims: x.mean(axis=axis, keepdims=keepdims),
        backward=_mean_backward,
        sympy=None,
        derivatives=("broadcast ḡ / n",),
        attr_names=("axis", "keepdims"),
        doc=r"$\frac1n\sum_i x_i$",
    ),
    OpDef(
        name="max", symbol="max", arity=1, elementwise=False, saves=True,
        forward=_max_forward,
        backward=_max_backward,
        sympy=None,
        derivatives=("ḡ at the argmax",),
        attr_names=("axis", "keepdims"),
        doc=r"$\max_i x_i$; ties share the gradient",
    ),
    OpDef(
        name="reshape", symbol="reshape", arity=1, elementwise=False,
        forward=lambda m, x, shape: x.reshape(shape),
        backward=lambda m, g, n: (g.reshape(n.parents[0].data.shape),),
        sympy=None,
        derivatives=("reshape ḡ back",),
        attr_names=("shape",),
    ),
    OpDef(
        name="transpose", symbol="ᵀ", arity=1, elementwise=False,
        forward=lambda m, x, axes: x.transpose(axes),
        backward=_transpose_backward,
        sympy=None,
        derivatives=("ḡᵀ",),
        attr_names=("axes",),
    ),
    OpDef(
        name="getitem", symbol="[]", arity=1, elementwise=False,
        forward=lambda m, x, index: x[index],
        backward=_getitem_backward,
        sympy=None,
        derivatives=("scatter ḡ into zeros",),
        attr_names=("index",),
    ),
)
