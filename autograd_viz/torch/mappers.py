"""The table from PyTorch backward functions to our ops (:data:`MAPPERS`): how each one is rebuilt with the public
``Tensor``/``Value`` API, or refused (:class:`_Unmappable`) so it is drawn as an unknown function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_viz.torch.errors import require_torch

torch: Any = require_torch("autograd_viz.torch.trace_torch")

import autograd_viz.functional as F  # noqa: E402
from autograd_viz.graph import Node  # noqa: E402
from autograd_viz.tensor import Tensor  # noqa: E402
from autograd_viz.torch.walk import _LEAF, SAVED_INPUTS, _dim, _key, _numpy, _saved  # noqa: E402

if TYPE_CHECKING:
    from autograd_viz.torch.build import _Builder


class _Unmappable(Exception):
    """This function cannot be rebuilt with our ops here (it becomes an opaque node)."""

Mapper = Callable[["_Builder", Any], tuple[Node, tuple[str, ...]]]


def _alpha_one(fn: Any) -> None:
    alpha = _saved(fn, "_saved_alpha")
    if alpha is not None and float(alpha) != 1.0:
        raise _Unmappable(f"alpha={alpha} (only alpha=1 has a counterpart)")


def _add_sub(sign: int) -> Mapper:
    def mapper(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
        _alpha_one(fn)
        nexts = fn.next_functions
        x: list[Any] = [b.nodes[_key(n, nr)] if n is not None else None for n, nr in nexts]
        if x[0] is None or x[1] is None:
            k = 0 if x[0] is None else 1
            other = x[1 - k]
            out = b.out_value(fn)
            if sign > 0:
                solved = out - other.data
                x[k] = b.reconstructed(np.asarray(solved), lambda c: (other.data + c) if k else (c + other.data), out)
            elif k == 1:
                x[k] = b.reconstructed(np.asarray(other.data - out), lambda c: other.data - c, out)
            else:
                x[k] = b.reconstructed(np.asarray(out + other.data), lambda c: c - other.data, out)
        node = x[0] + x[1] if sign > 0 else x[0] - x[1]
        return node, ("add" if sign > 0 else "sub",)
    return mapper


def _rsub(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    """``c - x`` for a number ``c`` (``RsubBackward1``): ``c`` is solved from the output."""
    _alpha_one(fn)
    x = b.operand(fn, 0)
    out = b.out_value(fn)
    c = b.reconstructed(np.asarray(out + x.data), lambda c: c - x.data, out)
    return c - x, ("sub",)


def _binary(op: str, combine: Callable[[Any, Any], Node]) -> Mapper:
    def mapper(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
        attrs = SAVED_INPUTS.get(type(fn).__name__, {})
        inv = {v: k for k, v in attrs.items()}
        return combine(b.operand(fn, 0, inv.get(0)), b.operand(fn, 1, inv.get(1))), (op,)
    return mapper


def _mul1(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    return b.operand(fn, 0) * float(_saved(fn, "_saved_other")), ("mul",)


def _div1(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    return b.operand(fn, 0) / float(_saved(fn, "_saved_other")), ("div",)


def _unary(method: str, op: str | None = None) -> Mapper:
    def mapper(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
        return getattr(b.operand(fn, 0), method)(), (op or method,)
    return mapper


def _add_number(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    """``x + c`` for a number ``c`` (``AddBackward1``: inside composites, ``special.ndtr`` is
    ``0.5·(1 + erf(x/√2))``): ``c`` is solved from the output, known when the composite's result is (its ``·0.5``
    undone exactly by :func:`_observed_values`) or recorded."""
    _alpha_one(fn)
    x = b.operand(fn, 0)
    out = b.out_value(fn)
    c = b.reconstructed(np.asarray(out - x.data), lambda c: x.data + c, out)
    return x + c, ("add",)


def _softplus(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    """``softplus(x, beta, threshold)``: ``softplus`` for beta = 1, ``softplus(beta·x)/beta`` otherwise; refused
    where some ``beta·x`` passes the threshold (PyTorch returns ``x`` itself there, ours the exact value)."""
    x = b.operand(fn, 0, "_saved_self")
    beta, threshold = float(_saved(fn, "_saved_beta")), float(_saved(fn, "_saved_threshold"))
    if np.any(np.asarray(x.data) * beta > threshold):
        raise _Unmappable(f"an input above threshold={threshold:g}/beta, where PyTorch's softplus is the identity")
    if beta == 1.0:
        return x.softplus(), ("softplus",)
    return (x * beta).softplus() / beta, ("mul", "softplus", "div")


def _gelu(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    """Exact GELU ``x·Φ(x)`` (``approximate="none"``) as ``Phi`` then ``mul``."""
    approximate = _saved(fn, "_saved_approximate")
    if approximate not in (None, "none"):
        raise _Unmappable(f"approximate={approximate!r} (only the exact x·Φ(x) has a counterpart)")
    x = b.operand(fn, 0, "_saved_self")
    return x * x.Phi(), ("Phi", "mul")


def _pow0(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    p = _saved(fn, "_saved_exponent")
    if isinstance(p, torch.Tensor) or isinstance(p, complex):
        raise _Unmappable("tensor exponent")
    return b.operand(fn, 0) ** float(p), ("powc",)


def _pow1(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    return b.operand(fn, 0, "_saved_self") ** b.operand(fn, 1, "_saved_exponent"), ("pow",)


def _pow2(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    base = _saved(fn, "_saved_self")
    x: Any = b.operand(fn, 0)
    if not isinstance(x, Node):
        raise _Unmappable("no input")
    number: Any = float(base)
    return number ** x, ("pow",)


def _reciprocal(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    return 1.0 / b.operand(fn, 0), ("div",)


def _leaky(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    return b.operand(fn, 0).leaky_relu(float(_saved(fn, "_saved_negative_slope"))), ("leaky_relu",)


def _matmul(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    attrs = {v: k for k, v in SAVED_INPUTS[type(fn).__name__].items()}
    return b.operand(fn, 0, attrs[0]) @ b.operand(fn, 1, attrs[1]), ("matmul",)


def _addmm(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    """``beta·bias + alpha·(mat1 @ mat2)`` with alpha = beta = 1: ``matmul`` then ``add`` (nn.Linear)."""
    for attr in ("_saved_alpha", "_saved_beta"):
        v = _saved(fn, attr)
        if v is not None and float(v) != 1.0:
            raise _Unmappable(f"{attr[7:]}={v} (only 1 has a counterpart)")
    prod = b.operand(fn, 1, "_saved_mat1") @ b.operand(fn, 2, "_saved_mat2")
    bias = b.operand(fn, 0)
    return prod + bias, ("matmul", "add")


def _transpose_perm(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    x = b.operand(fn, 0)
    name = type(fn).__name__
    if name == "TBackward0":
        return (x.transpose() if x.ndim > 1 else x.reshape(x.shape)), ("transpose",)
    if name == "PermuteBackward0":
        return x.transpose(tuple(_dim(d, x.ndim) for d in _saved(fn, "_saved_dims"))), ("transpose",)
    d0, d1 = _dim(_saved(fn, "_saved_dim0"), x.ndim), _dim(_saved(fn, "_saved_dim1"), x.ndim)
    perm = list(range(x.ndim))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return x.transpose(tuple(perm)), ("transpose",)


def _reduce(method: str) -> Mapper:
    def mapper(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
        x = b.operand(fn, 0)
        dims = _saved(fn, "_saved_dim")
        keep = bool(_saved(fn, "_saved_keepdim") or False)
        if dims is None:
            return getattr(x, method)(), (method,)
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        if not dims:
            raise _Unmappable("an empty dim list")
        axis = tuple(_dim(d, x.ndim) for d in dims)
        return getattr(x, method)(axis=axis if len(axis) > 1 else axis[0], keepdims=keep), (method,)
    return mapper


def _reshape(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    shape = tuple(fn._input_metadata[0].shape)
    return b.operand(fn, 0).reshape(shape), ("reshape",)


def _slice(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    x = b.operand(fn, 0)
    d = _dim(_saved(fn, "_saved_dim"), x.ndim)
    start, end, step = (_saved(fn, a) for a in ("_saved_start", "_saved_end", "_saved_step"))
    index = (slice(None),) * d + (slice(start, end, step),)
    return x[index], ("getitem",)


def _select(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    x = b.operand(fn, 0)
    d = _dim(_saved(fn, "_saved_dim"), x.ndim)
    index = int(_saved(fn, "_saved_index"))
    return x[(slice(None),) * d + (index,)], ("getitem",)


def _index(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    x = b.operand(fn, 0)
    parts: list[Any] = []
    for t in _saved(fn, "_saved_indices"):
        if t is None:
            parts.append(slice(None))
        elif t.dtype == torch.bool:
            raise _Unmappable("a boolean mask index")
        else:
            parts.append(_numpy(t))
    return x[tuple(parts) if len(parts) > 1 else parts[0]], ("getitem",)


def _softmax(method: str) -> Mapper:
    def mapper(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
        x = b.operand(fn, 0)
        if not isinstance(x, Tensor):
            raise _Unmappable("a scalar")
        return getattr(F, method)(x, axis=_dim(_saved(fn, "_saved_dim"), x.ndim)), (method,)
    return mapper


_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _nll(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    """``nll_loss(log_softmax(x))`` (what ``F.cross_entropy`` records) as our fused ``cross_entropy``."""
    ls = b.fused.get(fn)
    if ls is None:
        raise _Unmappable("nll_loss without the log_softmax before it (our op table fuses the two)")
    logits = b.operand(ls, 0)
    target = _numpy(_saved(fn, "_saved_target"))
    return F.cross_entropy(logits, target, reduction=_REDUCTIONS[int(_saved(fn, "_saved_reduction"))]), \
        ("cross_entropy",)


def _mse(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    pred = b.operand(fn, 0, "_saved_self")
    target = b.operand(fn, 1, "_saved_target")
    if not isinstance(pred, Tensor):
        raise _Unmappable("a scalar prediction")
    return F.mse_loss(pred, target, reduction=_REDUCTIONS[int(_saved(fn, "_saved_reduction"))]), ("mse_loss",)


#: PyTorch backward function -> how it is rebuilt with our ops. Anything else is drawn as an unknown function.
MAPPERS: dict[str, Mapper] = {
    "AddBackward0": _add_sub(+1),
    "SubBackward0": _add_sub(-1),
    "RsubBackward1": _rsub,
    "MulBackward0": _binary("mul", lambda a, c: a * c),
    "MulBackward1": _mul1,
    "DivBackward0": _binary("div", lambda a, c: a / c),
    "DivBackward1": _div1,
    "ReciprocalBackward0": _reciprocal,
    "NegBackward0": lambda b, fn: (-b.operand(fn, 0), ("neg",)),
    "PowBackward0": _pow0,
    "PowBackward1": _pow1,
    "PowBackward2": _pow2,
    "ExpBackward0": _unary("exp"),
    "LogBackward0": _unary("log"),
    "SqrtBackward0": _unary("sqrt"),
    "AbsBackward0": _unary("abs"),
    "TanhBackward0": _unary("tanh"),
    "SigmoidBackward0": _unary("sigmoid"),
    "ReluBackward0": _unary("relu"),
    "LeakyReluBackward0": _leaky,
    "SinBackward0": _unary("sin"),
    "CosBackward0": _unary("cos"),
    "ErfBackward0": _unary("erf"),
    "SignBackward0": _unary("sign"),
    "SoftplusBackward0": _softplus,
    "GeluBackward0": _gelu,
    "AddBackward1": _add_number,
    "MmBackward0": _matmul,
    "MvBackward0": _matmul,
    "DotBackward0": _matmul,
    "BmmBackward0": _matmul,
    "AddmmBackward0": _addmm,
    "TBackward0": _transpose_perm,
    "PermuteBackward0": _transpose_perm,
    "TransposeBackward0": _transpose_perm,
    "SumBackward0": _reduce("sum"),
    "SumBackward1": _reduce("sum"),
    "MeanBackward0": _reduce("mean"),
    "MeanBackward1": _reduce("mean"),
    "AmaxBackward0": _reduce("max"),
    "MaxBackward0": _reduce("max"),
    "MaxBackward1": _reduce("max"),
    "ViewBackward0": _reshape,
    "ReshapeAliasBackward0": _reshape,
    "UnsafeViewBackward0": _reshape,
    "SqueezeBackward0": _reshape,
    "SqueezeBackward1": _reshape,
    "SqueezeBackward2": _reshape,
    "UnsqueezeBackward0": _reshape,
    "SliceBackward0": _slice,
    "SelectBackward0": _select,
    "IndexBackward0": _index,
    "SoftmaxBackward0": _softmax("softmax"),
    "LogSoftmaxBackward0": _softmax("log_softmax"),
    "NllLossBackward0": _nll,
    "MseLossBackward0": _mse,
}

#: Functions the scalar engine (``Value``) can rebuild: a graph of 0-d tensors with only these is drawn with Values.
SCALAR_FUNCTIONS = frozenset({
    "AddBackward0", "SubBackward0", "RsubBackward1", "MulBackward0", "MulBackward1", "DivBackward0", "DivBackward1",
    "ReciprocalBackward0", "NegBackward0", "PowBackward0", "PowBackward1", "PowBackward2", "ExpBackward0",
    "LogBackward0", "SqrtBackward0", "AbsBackward0", "TanhBackward0", "SigmoidBackward0", "ReluBackward0",
    "LeakyReluBackward0", "SinBackward0", "CosBackward0", "ErfBackward0", "SignBackward0", "SoftplusBackward0",
    "GeluBackward0", "AddBackward1", _LEAF,
})
