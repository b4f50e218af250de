"""``Value``: the scalar engine, one node per number, for teaching and for drawing small graphs.

>>> a = Value(2.0, name="a"); y = (a * 3 + 1).sigmoid(); y.backward(); round(a.grad, 6)
0.002731
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from autograd_viz.errors import DomainError, GraphError, OperandError
from autograd_viz.graph import Node, run_backward
from autograd_viz.ops import OPS, OpDef, ScalarMath

_ADD, _SUB, _MUL, _DIV, _NEG = OPS["add"], OPS["sub"], OPS["mul"], OPS["div"], OPS["neg"]
_POW, _POWC = OPS["pow"], OPS["powc"]


def _as_float(data: Any, where: str) -> float:
    if isinstance(data, bool) or not isinstance(data, numbers.Real):
        raise OperandError(f"{where}: expected a real number, got {type(data).__name__} {data!r}")
    return float(data)


class Value(Node):
    """A scalar in the graph: ``.data`` and ``.grad`` are Python floats (float64)."""

    __slots__ = ()
    math = ScalarMath

    def __init__(self, data: float, name: str | None = None, requires_grad: bool = True,
                 role: str | None = None) -> None:
        if isinstance(data, Node):
            raise OperandError(f"Value: expected a number, got a {type(data).__name__} (use .data)")
        self._init_node(_as_float(data, "Value"), name, requires_grad, role)

    # --- engine hooks ---------------------------------------------------------------------------
    def _zero_grad_value(self) -> float:
        return 0.0

    def _accumulate(self, grad: float) -> None:
        self.grad += grad

    def _fit_grad(self, grad: float) -> float:
        return grad

    # --- building ---------------------------------------------------------------------------------
    @staticmethod
    def _lift(other: Any, op: str) -> Value:
        if isinstance(other, Value):
            return other
        if isinstance(other, Node):
            raise OperandError(f"{op}: cannot mix a Value with a {type(other).__name__}")
        return Value(_as_float(other, op), requires_grad=False, role="const")

    @staticmethod
    def _apply(op: OpDef, *parents: Value, **attrs: Any) -> Value:
        try:
            data = op.forward(ScalarMath, *(p.data for p in parents), **attrs)
        except ZeroDivisionError:
            raise DomainError(f"{op.name}: division by zero") from None
        except OverflowError:
            data = math.inf
        out = Value.__new__(Value)
        out._init_node(data, None, False, None)
        out._record(op, parents, attrs or None, None)
        return out

    def __add__(self, other: Any) -> Value:
        return Value._apply(_ADD, self, Value._lift(other, "add"))

    def __radd__(self, other: Any) -> Value:
        return Value._apply(_ADD, Value._lift(other, "add"), self)

    def __sub__(self, other: Any) -> Value:
        return Value._apply(_SUB, self, Value._lift(other, "sub"))

    def __rsub__(self, other: Any) -> Value:
        return Value._apply(_SUB, Value._lift(other, "sub"), self)

    def __mul__(self, other: Any) -> Value:
        return Value._apply(_MUL, self, Value._lift(other, "mul"))

    def __rmul__(self, other: Any) -> Value:
        return Value._apply(_MUL, Value._lift(other, "mul"), self)

    def __truediv__(self, other: Any) -> Value:
        return Value._apply(_DIV, self, Value._lift(other, "div"))

    def __rtruediv__(self, other: Any) -> Value:
        return Value._apply(_DIV, Value._lift(other, "div"), self)

    def __pow__(self, other: Any) -> Value:
        if isinstance(other, Value):
            return Value._apply(_POW, self, other)
        return Value._apply(_POWC, self, p=_as_float(other, "pow"))

    def __rpow__(self, other: Any) -> Value:
        return Value._apply(_POW, Value._lift(other, "pow"), self)

    def __neg__(self) -> Value:
        return Value._apply(_NEG, self)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return Value._apply(OPS["abs"], self)

    def exp(self) -> Value:
        return Value._apply(OPS["exp"], self)

    def log(self) -> Value:
        return Value._apply(OPS["log"], self)

    def sqrt(self) -> Value:
        return Value._apply(OPS["sqrt"], self)

    def abs(self) -> Value:
        return Value._apply(OPS["abs"], self)

    def tanh(self) -> Value:
        return Value._apply(OPS["tanh"], self)

    def sigmoid(self) -> Value:
        return Value._apply(OPS["sigmoid"], self)

    def relu(self) -> Value:
        return Value._apply(OPS["relu"], self)

    def leaky_relu(self, alpha: float = 0.01) -> Value:
        return Value._apply(OPS["leaky_relu"], self, alpha=_as_float(alpha, "leaky_relu alpha"))

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
