"""``Tensor``: the NumPy engine, one node per array op, for training; gradients are broadcasting-aware.

Float64 by default (exact checks); pass ``dtype=np.float32`` (or a float32 array) for training speed.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np

from autograd_viz.errors import DomainError, GraphError, OperandError, ShapeError
from autograd_viz.graph import Node, make_node, run_backward
from autograd_viz.ops import OPS, ArrayMath, OpDef

_ADD, _SUB, _MUL, _DIV, _NEG = OPS["add"], OPS["sub"], OPS["mul"], OPS["div"], OPS["neg"]
_new = object.__new__


def _to_array(data: Any, dtype: Any, where: str) -> np.ndarray:
    if isinstance(data, Node):
        raise OperandError(f"{where}: expected array data, got a {type(data).__name__} (use .data)")
    try:
        array = np.asarray(data, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise OperandError(f"{where}: cannot make a float array from {type(data).__name__}: {exc}") from None
    if dtype is None and array.dtype.kind != "f":
        if array.dtype.kind not in "biu":
            raise OperandError(f"{where}: expected numbers, got an array of dtype {array.dtype}")
        array = array.astype(np.float64)
    return array


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes broadcasting added or stretched, so it has ``shape``."""
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    elif extra < 0:
        return np.broadcast_to(grad, shape)
    stretched = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def _normalize_axis(axis: Any, ndim: int, op: str, shape: tuple) -> int | tuple[int, ...] | None:
    if axis is None:
        return None
    axes = axis if isinstance(axis, tuple | list) else (axis,)
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, numbers.Integral) or not -ndim <= int(a) < ndim:
            raise ShapeError(f"{op}: axis {a!r} is out of range for shape {shape}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis!r}")
    return out[0] if not isinstance(axis, tuple | list) else tuple(sorted(out))


class Tensor(Node):
    """An array in the graph: ``.data`` is an ndarray, ``.grad`` an ndarray of the same shape or ``None``."""

    __slots__ = ()
    math = ArrayMath
    empty_grad = None
    fits_grads = True
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data: Any, *positional: Any, requires_grad: bool = False, name: str | None = None,
                 dtype: Any = None, role: str | None = None) -> None:
        if positional:
            raise OperandError(f"Tensor: pass the arguments after data by keyword, e.g. Tensor(x, requires_grad="
                               f"True, name='w'); got {len(positional)} extra positional argument(s)")
        array = _to_array(data, dtype, "Tensor")
        if requires_grad and array.dtype.kind != "f":
            raise OperandError(f"Tensor: only float tensors can require grad, got dtype {array.dtype}")
        make_node(self, array, requires_grad=bool(requires_grad), name=name, role=role)

    # --- engine hooks ---------------------------------------------------------------------------

    def _fit_grad(self, grad: Any) -> np.ndarray:
        data = self.data
        if type(grad) is not np.ndarray or grad.dtype != data.dtype:
            grad = np.asarray(grad, dtype=data.dtype)
        if grad.shape != data.shape:
            grad = _unbroadcast(grad, data.shape)
        return grad

    @classmethod
    def _store_adjoints(cls, walk: Iterator[tuple[Node, Any, tuple]]) -> None:
        held: set[int] = set()  # arrays another node (or the caller's seed) holds: a leaf must not alias them
        for node, adjoint, _ in walk:
            if not held:
                held.add(id(adjoint))  # the seed
            if node.op is not None:
                node.grad = adjoint  # intermediates hold this walk's adjoint (it may be shared: read only)
                held.add(id(adjoint))
            elif node.grad is None:  # a leaf owns its gradient array (optimizers update it in place)
                owned = (id(adjoint) not in held and adjoint.dtype == node.data.dtype and adjoint.flags.owndata
                         and adjoint.flags.writeable)
                node.grad = adjoint if owned else np.array(adjoint, dtype=node.data.dtype)
                held.add(id(node.grad))
            else:
                node.grad = node.grad + adjoint  # leaves accumulate across backward() calls

    # --- properties -------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def __len__(self) -> int:
        return len(self.data)

    # --- building ---------------------------------------------------------------------------------
    def _lift(self, other: Any, op: str) -> Tensor:
        if isinstance(other, Tensor):
            return other
        if isinstance(other, Node):
            raise OperandError(f"{op}: cannot mix a Tensor with a {type(other).__name__}")
        if isinstance(other, numbers.Real) and not isinstance(other, bool):
            return Tensor(np.asarray(other, dtype=self.data.dtype), role="const")
        if isinstance(other, np.ndarray):
            if other.dtype.kind in "biuf" and self.data.dtype.kind == "f":
                other = other.astype(self.data.dtype, copy=False)  # a constant never upcasts a float32 graph
            return Tensor(other, role="const")
        raise OperandError(f"{op}: unsupported operand type {type(other).__name__}")

    def _binary(self, op: OpDef, other: Any, reflected: bool = False) -> Tensor:
        other = self._lift(other, op.name)
        a, b = (other, self) if reflected else (self, other)
        try:
            return apply_unchecked(op, a, b)
        except ValueError:  # checked only on failure: the shape test costs as much as a small op
            try:
                np.broadcast_shapes(a.data.shape, b.data.shape)
            except ValueError:
                raise ShapeError(f"{op.name}: shapes {a.data.shape} and {b.data.shape} do not broadcast") from None
            raise

    def __add__(self, other: Any) -> Tensor:
        return self._binary(_ADD, other)

    def __radd__(self, other: Any) -> Tensor:
        return self._binary(_ADD, other, reflected=True)

    def __sub__(self, other: Any) -> Tensor:
        return self._binary(_SUB, other)

    def __rsub__(self, other: Any) -> Tensor:
        return self._binary(_SUB, other, reflected=True)

    def __mul__(self, other: Any) -> Tensor:
        return self._binary(_MUL, other)

    def __rmul__(self, other: Any) -> Tensor:
        return self._binary(_MUL, other, reflected=True)

    def __truediv__(self, other: Any) -> Tensor:
        return self._binary(_DIV, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return self._binary(_DIV, other, reflected=True)

    def __pow__(self, other: Any) -> Tensor:
        if isinstance(other, numbers.Real) and not isinstance(other, bool):
            return apply_unchecked(OPS["powc"], self, p=float(other))
        return self._binary(OPS["pow"], other)

    def __rpow__(self, other: Any) -> Tensor:
        return self._binary(OPS["pow"], other, reflected=True)

    def __neg__(self) -> Tensor:
        return apply_unchecked(_NEG, self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return apply_unchecked(OPS["abs"], self)

    def __matmul__(self, other: Any) -> Tensor:
        return self._matmul(self._lift(other, "matmul"))

    def __rmatmul__(self, other: Any) -> Tensor:
        return self._lift(other, "matmul")._matmul(self)

    def _matmul(self, other: Tensor) -> Tensor:
        a, b = self.data.shape, other.data.shape
        if not a or not b:
            raise ShapeError(f"matmul: {a} @ {b}: operands must have at least one dimension")
        k_left, k_right = a[-1], (b[-2] if len(b) >= 2 else b[0])
        if k_left != k_right:
            raise ShapeError(f"matmul: {a} @ {b}: {k_left} != {k_right}")
        if len(a) > 2 or len(b) > 2:
            try:
                np.broadcast_shapes(a[:-2], b[:-2])
            except ValueError:
                raise ShapeError(f"matmul: {a} @ {b}: batch dimensions do not broadcast") from None
        return apply_unchecked(OPS["matmul"], self, other)

    # --- elementwise functions ----------------------------------------------------------------------
    def exp(self) -> Tensor:
        return apply_unchecked(OPS["exp"], self)

    def log(self) -> Tensor:
        return apply_unchecked(OPS["log"], self)

    def sqrt(self) -> Tensor:
        return apply_unchecked(OPS["sqrt"], self)

    def abs(self) -> Tensor:
        return apply_unchecked(OPS["abs"], self)

    def tanh(self) -> Tensor:
        return apply_unchecked(OPS["tanh"], self)

    def sigmoid(self) -> Tensor:
        return apply_unchecked(OPS["sigmoid"], self)

    def relu(self) -> Tensor:
        return apply_unchecked(OPS["relu"], self)

    def leaky_relu(self, alpha: float = 0.01) -> Tensor:
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
            raise OperandError(f"leaky_relu: alpha must be a real number, got {type(alpha).__name__} {alpha!r}")
        return apply_unchecked(OPS["leaky_relu"], self, alpha=float(alpha))

    def sin(self) -> Tensor:
        return apply_unchecked(OPS["sin"], self)

    def cos(self) -> Tensor:
        return apply_unchecked(OPS["cos"], self)

    def erf(self) -> Tensor:
        """The error function, elementwise (float64-accurate; NumPy has none: ``autograd_viz.ops.special``)."""
        return apply_unchecked(OPS["erf"], self)

    def Phi(self) -> Tensor:  # the expression language's name (GELU is x·Φ(x))
        """The standard normal CDF :math:`\\Phi(x) = (1 + \\operatorname{erf}(x/\\sqrt2))/2`, elementwise."""
        return apply_unchecked(OPS["Phi"], self)

    normal_cdf = Phi

    def softplus(self) -> Tensor:
        """:math:`\\log(1 + e^x)` elementwise, without overflow; its derivative is :math:`\\sigma(x)`."""
        return apply_unchecked(OPS["softplus"], self)

    def step(self) -> Tensor:
        """The indicator :math:`[x > 0]` elementwise (0 at 0, as relu's mask); its derivative is 0."""
        return apply_unchecked(OPS["step"], self)

    def sign(self) -> Tensor:
        """-1, 0 or 1 elementwise; its derivative is 0 (at 0 too, as in PyTorch)."""
        return apply_unchecked(OPS["sign"], self)

    def softmax(self, axis: int = -1) -> Tensor:
        return apply_unchecked(OPS["softmax"], self, axis=_normalize_axis(axis, self.ndim, "softmax", self.shape))

    def log_softmax(self, axis: int = -1) -> Tensor:
        return apply_unchecked(OPS["log_softmax"], self,
                               axis=_normalize_axis(axis, self.ndim, "log_softmax", self.shape))

    # --- reductions and shapes ----------------------------------------------------------------------
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        axis = _normalize_axis(axis, self.ndim, "sum", self.shape)
        return apply_unchecked(OPS["sum"], self, axis=axis, keepdims=bool(keepdims))

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        axis = _normalize_axis(axis, self.ndim, "mean", self.shape)
        if self.size == 0:
            raise ShapeError(f"mean: empty tensor of shape {self.shape}")
        return apply_unchecked(OPS["mean"], self, axis=axis, keepdims=bool(keepdims))

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        axis = _normalize_axis(axis, self.ndim, "max", self.shape)
        if self.size == 0:
            raise ShapeError(f"max: empty tensor of shape {self.shape}")
        return apply_unchecked(OPS["max"], self, axis=axis, keepdims=bool(keepdims))

    def reshape(self, *shape: Any) -> Tensor:
        target = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        try:
            np.empty(self.shape, dtype=np.bool_).reshape(target)  # validate without touching data
        except (ValueError, TypeError):
            raise ShapeError(f"reshape: cannot reshape {self.shape} into {target}") from None
        return apply_unchecked(OPS["reshape"], self, shape=target)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute the axes (reverse them when none are given); each axis in ``-ndim..ndim-1``, like NumPy."""
        order = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], tuple | list) else axes
        if not order:
            return apply_unchecked(OPS["transpose"], self, axes=None)
        ndim = self.ndim
        for a in order:  # no modulo: transpose(2, 3) on a 2-D tensor is an error, as in NumPy
            if isinstance(a, bool) or not isinstance(a, numbers.Integral) or not -ndim <= int(a) < ndim:
                raise ShapeError(f"transpose: axis {a!r} is out of range for shape {self.shape}")
        normalized = tuple(int(a) % ndim for a in order)
        if sorted(normalized) != list(range(ndim)):
            raise ShapeError(f"transpose: axes {order} do not permute the {ndim} axes of {self.shape}")
        return apply_unchecked(OPS["transpose"], self, axes=normalized)

    def __getitem__(self, index: Any) -> Tensor:
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        try:
            self.data[index]
        except IndexError as exc:
            raise ShapeError(f"getitem: {exc} (tensor shape {self.shape})") from None
        return apply_unchecked(OPS["getitem"], self, index=index)

    # --- gradients ----------------------------------------------------------------------------------
    def backward(self, grad: Any = None) -> None:
        """Backpropagate from this tensor; ``grad`` (:math:`\\bar{L}`) defaults to 1 for one-element tensors.

        Intermediate gradients are recomputed on every call; leaf gradients accumulate (call ``zero_grad``).
        """
        if not self.requires_grad:
            raise GraphError("backward: this Tensor does not require grad (no input had requires_grad=True, "
                             "or it was built under no_grad)")
        if grad is None:
            if self.size != 1:
                raise GraphError(f"backward: the output has shape {self.shape}; reduce it to a scalar "
                                 "(e.g. .sum()) or pass grad= of that shape")
            if not np.isfinite(self.data).all():
                raise DomainError(f"backward: the output is {self.data.reshape(-1)[0]} (not finite)")
            seed = np.ones_like(self.data)
        else:
            seed = _to_array(grad.data if isinstance(grad, Tensor) else grad, self.dtype, "backward grad")
            if seed.shape != self.shape:
                raise ShapeError(f"backward: grad has shape {seed.shape} but the output has shape {self.shape}")
        run_backward(self, seed)

    def detach(self) -> Tensor:
        """A new leaf sharing the same array, with no history and no grad."""
        return Tensor(self.data, name=self.name)

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        if self.size != 1:
            raise ShapeError(f"item: tensor of shape {self.shape} has more than one element")
        return float(self.data.reshape(-1)[0])

    def astype(self, dtype: Any) -> Tensor:
        """A copy in another dtype (a new leaf; use it to switch float32/float64 before building)."""
        return Tensor(self.data.astype(dtype), requires_grad=self.requires_grad and self.op is None,
                      name=self.name, role=self.role)

    def __repr__(self) -> str:
        name = f", name={self.name!r}" if self.name is not None else ""
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor(shape={self.shape}, dtype={self.dtype}{grad}{name})"


def apply_unchecked(op: OpDef, *inputs: Tensor, **attrs: Any) -> Tensor:
    """``op(*inputs, **attrs)`` as a new node, with no shape, dtype or operand checks.

    Public but internal: the fast path for library code that has validated its operands already (``nn``
    layers, the training loop, ``functional``); users call the operators and methods, which check first.
    The node is recorded when grad mode is on and an input requires grad (:func:`autograd_viz.graph.make_node`).
    """
    data = op.forward(ArrayMath, *[p.data for p in inputs], **attrs)
    saved = None
    if op.saves:
        data, saved = data
    if type(data) is not np.ndarray:
        data = np.asarray(data)
    return make_node(_new(Tensor), data, op, inputs, attrs or None, saved)
