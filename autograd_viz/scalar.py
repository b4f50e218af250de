"""``Value``: the scalar engine, one node per number, for teaching and for drawing small graphs.

>>> a = Value(2.0, name="a"); y = (a * 3 + 1).sigmoid(); y.backward(); round(a.grad, 6)
0.002731
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from autograd_viz import graph as _graph
from autograd_viz.errors import DomainError, GraphError, OperandError
from autograd_viz.graph import Node, run_backward
from autograd_viz.ops import OPS, OpDef, ScalarMath

_ADD, _SUB, _MUL, _DIV, _NEG = OPS["add"], OPS["sub"], OPS["mul"], OPS["div"], OPS["neg"]
_POW, _POWC = OPS["pow"], OPS["powc"]
_OP = OPS
_next_index = _graph._creation_counter.__next__
_new = object.__new__


def _as_float(data: Any, where: str) -> float:
    if type(data) is float:  # the common case, before the slower ABC check
        return data
    if isinstance(data, bool) or not isinstance(data, numbers.Real):
        raise OperandError(f"{where}: expected a real number, got {type(data).__name__} {data!r}")
    try:
        return float(data)
    except OverflowError:
        raise DomainError(f"{where}: {repr(data)[:12]}... is too large for a float") from None


class Value(Node):
    """A scalar in the graph: ``.data`` and ``.grad`` are Python floats (float64)."""

    __slots__ = ()
    math = ScalarMath
    float_grads = True
    __array_ufunc__ = None  # ndarray <op> Value raises (via Value's reflected operator) instead of looping

    def __init__(self, data: float, name: str | None = None, requires_grad: bool = True,
                 role: str | None = None) -> None:
        if isinstance(data, Node):
            raise OperandError(f"Value: expected a number, got a {type(data).__name__} (use .data)")
        self._init_node(_as_float(data, "Value"), name, requires_grad, role)

    # --- engine hooks ---------------------------------------------------------------------------
    def _zero_grad_value(self) -> float:
        return 0.0

    def _accumulate(self, grad: float, owned: bool = False) -> None:
        self.grad += grad

    def _fit_grad(self, grad: float) -> float:
        return grad

    # --- building ---------------------------------------------------------------------------------
    @staticmethod
    def _lift(other: Any, op: str) -> Value:
        return other if isinstance(other, Value) else _lift(other, op)

    @staticmethod
    def _apply(op: OpDef, *parents: Value, **attrs: Any) -> Value:
        """``op(*parents, **attrs)`` as a new node, for any scalar op of the table (used by generic code/tests)."""
        if len(parents) == 2 and not attrs:
            return _binary(op, parents[0], parents[1])
        if len(parents) == 1:
            return _unary(op, parents[0], attrs or None)
        raise OperandError(f"{op.name}: the scalar engine has no op of {len(parents)} inputs with attributes")

    def __add__(self, other: Any) -> Value:
        return _binary(_ADD, self, other if type(other) is Value else _lift(other, "add"))

    def __radd__(self, other: Any) -> Value:
        return _binary(_ADD, other if type(other) is Value else _lift(other, "add"), self)

    def __sub__(self, other: Any) -> Value:
        return _binary(_SUB, self, other if type(other) is Value else _lift(other, "sub"))

    def __rsub__(self, other: Any) -> Value:
        return _binary(_SUB, other if type(other) is Value else _lift(other, "sub"), self)

    def __mul__(self, other: Any) -> Value:
        return _binary(_MUL, self, other if type(other) is Value else _lift(other, "mul"))

    def __rmul__(self, other: Any) -> Value:
        return _binary(_MUL, other if type(other) is Value else _lift(other, "mul"), self)

    def __truediv__(self, other: Any) -> Value:
        return _binary(_DIV, self, other if type(other) is Value else _lift(other, "div"))

    def __rtruediv__(self, other: Any) -> Value:
        return _binary(_DIV, other if type(other) is Value else _lift(other, "div"), self)

    def __pow__(self, other: Any) -> Value:
        if isinstance(other, Value):
            return _binary(_POW, self, other)
        return _unary(_POWC, self, {"p": _as_float(other, "pow")})

    def __rpow__(self, other: Any) -> Value:
        return _binary(_POW, _lift(other, "pow"), self)

    def __matmul__(self, other: Any) -> Value:
        raise OperandError("matmul: a Value is a scalar; use * (or Tensor for vectors and matrices)")

    __rmatmul__ = __matmul__

    def __neg__(self) -> Value:
        return _unary(_NEG, self)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return _unary(_OP["abs"], self)

    def exp(self) -> Value:
        return _unary(_OP["exp"], self)

    def log(self) -> Value:
        return _unary(_OP["log"], self)

    def sqrt(self) -> Value:
        return _unary(_OP["sqrt"], self)

    def abs(self) -> Value:
        return _unary(_OP["abs"], self)

    def tanh(self) -> Value:
        return _unary(_OP["tanh"], self)

    def sigmoid(self) -> Value:
        return _unary(_OP["sigmoid"], self)

    def relu(self) -> Value:
        return _unary(_OP["relu"], self)

    def leaky_relu(self, alpha: float = 0.01) -> Value:
        return _unary(_OP["leaky_relu"], self, {"alpha": _as_float(alpha, "leaky_relu alpha")})

    # --- gradients ----------------------------------------------------------------------------------
    def backward(self, grad: float = 1.0) -> None:
        """Backpropagate from this value with :math:`\\bar{L}` = ``grad`` (1 by default).

        Intermediate gradients are recomputed on every call; leaf gradients accumulate (call ``zero_grad``).
        """
        if not self.requires_grad:
            raise GraphError("backward: this Value does not require grad (it was built from constants or "
                             "under no_grad)")
        seed = _as_float(grad, "backward grad")
        if not math.isfinite(self.data):
            raise DomainError(f"backward: the output is {self.data} (not finite)")
        run_backward(self, seed)

    def detach(self) -> Value:
        """A new leaf with the same number and no history."""
        return Value(self.data, name=self.name, requires_grad=False)

    def item(self) -> float:
        return self.data

    def __float__(self) -> float:
        return self.data

    def __repr__(self) -> str:
        name = f", name={self.name!r}" if self.name is not None else ""
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{name})"


# --- the hot path: plain functions with the node's fields set inline (no per-node closures or dicts) --------
def _lift(other: Any, op: str) -> Value:
    """``other`` as a Value: Values pass through, numbers become new constant leaves."""
    if type(other) is float:
        data = other
    elif isinstance(other, Value):
        return other
    elif isinstance(other, Node):
        raise OperandError(f"{op}: cannot mix a Value with a {type(other).__name__}")
    else:
        data = _as_float(other, op)
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    out.op = None
    out.parents = ()
    out.attrs = None
    out.saved = None
    out.name = None
    out.index = _next_index()
    out.requires_grad = False
    out.role = "const"
    return out


def _binary(op: OpDef, a: Value, b: Value) -> Value:
    """``op(a, b)`` as a new node; recorded when an input requires grad and grad mode is on."""
    try:
        data = op.forward(ScalarMath, a.data, b.data)
    except ZeroDivisionError:
        raise DomainError(f"{op.name}: division by zero ({a.data!r} / {b.data!r})") from None
    except OverflowError:
        data = math.inf
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    out.attrs = None
    out.saved = None
    out.name = None
    out.index = _next_index()
    out.role = None
    if (a.requires_grad or b.requires_grad) and _graph._grad_enabled:
        out.op = op
        out.parents = (a, b)
        out.requires_grad = True
    else:
        out.op = None
        out.parents = ()
        out.requires_grad = False
    return out


def _unary(op: OpDef, x: Value, attrs: dict | None = None) -> Value:
    """``op(x, **attrs)`` as a new node; see :func:`_binary`."""
    try:
        data = op.forward(ScalarMath, x.data, **attrs) if attrs else op.forward(ScalarMath, x.data)
    except ZeroDivisionError:
        raise DomainError(f"{op.name}: division by zero at {x.data!r}") from None
    except OverflowError:
        data = math.inf
    out = _new(Value)
    out.data = data
    out.grad = 0.0
    out.saved = None
    out.name = None
    out.index = _next_index()
    out.role = None
    if x.requires_grad and _graph._grad_enabled:
        out.op = op
        out.parents = (x,)
        out.attrs = attrs
        out.requires_grad = True
    else:
        out.op = None
        out.parents = ()
        out.attrs = None
        out.requires_grad = False
    return out
