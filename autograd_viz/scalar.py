"""``Value``: the scalar engine, one node per number, for teaching and for drawing small graphs.

>>> a = Value(2.0, name="a"); y = (a * 3 + 1).sigmoid(); y.backward(); round(a.grad, 6)
0.002731
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any

from autograd_viz.errors import DomainError, GraphError, OperandError
from autograd_viz.graph import Node, backward_domain_error, backward_order, make_node
from autograd_viz.ops import OPS, OpDef, ScalarMath

_ADD, _SUB, _MUL, _DIV, _NEG = OPS["add"], OPS["sub"], OPS["mul"], OPS["div"], OPS["neg"]
_POW, _POWC = OPS["pow"], OPS["powc"]
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
    """A scalar in the graph: ``.data`` and ``.grad`` are Python floats (float64).

    ``Value(data, *, name=None, requires_grad=True, role=None)``: everything after ``data`` by keyword.

    How backprop works, to read in two files (this one and ``autograd_viz/ops/elementwise.py``):

    1. **Recording** — ``a * b`` calls :func:`_binary` below, which computes ``a.data * b.data`` with the op's
       forward and makes the result node with :func:`autograd_viz.graph.make_node`: it remembers its op (an
       entry of the one op table, ``OPS["mul"]``) and its inputs ``(a, b)``, in order and with repeats
       (``a * a`` has two edges to ``a``).
    2. **Local derivatives** — each op's backward in ``autograd_viz/ops/elementwise.py``
       (``_mul_backward``: ``return g * b, g * a``) multiplies the upstream adjoint :math:`\\bar{g}` by the
       op's local derivative, once per input edge.
    3. **The reverse loop** — :func:`backpropagate` at the end of this file: nodes consumers first, each op's
       backward called once, each contribution *added* to its input's ``.grad``. No recursion (a
       1,000,000-op chain is fine); intermediates are recomputed on every ``backward()`` and leaves
       accumulate, so calling it again is repeatable after ``zero_grad()``. It is the float fast path of the
       graph core's :func:`autograd_viz.graph.walk_backward`, which drawings read (the tests check they agree).
    """

    __slots__ = ()
    math = ScalarMath
    empty_grad = 0.0
    __array_ufunc__ = None  # ndarray <op> Value raises (via Value's reflected operator) instead of looping

    def __init__(self, data: float, *positional: Any, name: str | None = None, requires_grad: bool = True,
                 role: str | None = None) -> None:
        if positional:
            raise OperandError(f"Value: pass the arguments after data by keyword, e.g. Value({data!r}, name="
                               f"'a', requires_grad=True); got {len(positional)} extra positional argument(s)")
        if isinstance(data, Node):
            raise OperandError(f"Value: expected a number, got a {type(data).__name__} (use .data)")
        make_node(self, _as_float(data, "Value"), requires_grad=requires_grad, name=name, role=role)

    @classmethod
    def _store_adjoints(cls, walk: Iterator[tuple[Node, Any, tuple]]) -> None:
        for node, adjoint, _ in walk:
            if node.op is None:
                node.grad += adjoint  # leaves accumulate across backward() calls
            else:
                node.grad = adjoint  # intermediates hold this walk's adjoint

    # --- operators: each computes the forward and records one node ----------------------------------
    def __add__(self, other: Any) -> Value:
        return _binary(_ADD, self, other if type(other) is Value else _value(other, "add"))

    def __radd__(self, other: Any) -> Value:
        return _binary(_ADD, other if type(other) is Value else _value(other, "add"), self)

    def __sub__(self, other: Any) -> Value:
        return _binary(_SUB, self, other if type(other) is Value else _value(other, "sub"))

    def __rsub__(self, other: Any) -> Value:
        return _binary(_SUB, other if type(other) is Value else _value(other, "sub"), self)

    def __mul__(self, other: Any) -> Value:
        return _binary(_MUL, self, other if type(other) is Value else _value(other, "mul"))

    def __rmul__(self, other: Any) -> Value:
        return _binary(_MUL, other if type(other) is Value else _value(other, "mul"), self)

    def __truediv__(self, other: Any) -> Value:
        return _binary(_DIV, self, other if type(other) is Value else _value(other, "div"))

    def __rtruediv__(self, other: Any) -> Value:
        return _binary(_DIV, other if type(other) is Value else _value(other, "div"), self)

    def __pow__(self, other: Any) -> Value:
        if isinstance(other, Value):
            return _binary(_POW, self, other)
        return _unary(_POWC, self, {"p": _as_float(other, "pow")})

    def __rpow__(self, other: Any) -> Value:
        return _binary(_POW, other if type(other) is Value else _value(other, "pow"), self)

    def __matmul__(self, other: Any) -> Value:
        raise OperandError("matmul: a Value is a scalar; use * (or Tensor for vectors and matrices)")

    __rmatmul__ = __matmul__

    def __neg__(self) -> Value:
        return _unary(_NEG, self)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return _unary(OPS["abs"], self)

    def exp(self) -> Value:
        return _unary(OPS["exp"], self)

    def log(self) -> Value:
        return _unary(OPS["log"], self)

    def sqrt(self) -> Value:
        return _unary(OPS["sqrt"], self)

    def abs(self) -> Value:
        return _unary(OPS["abs"], self)

    def tanh(self) -> Value:
        return _unary(OPS["tanh"], self)

    def sigmoid(self) -> Value:
        return _unary(OPS["sigmoid"], self)

    def relu(self) -> Value:
        return _unary(OPS["relu"], self)

    def leaky_relu(self, alpha: float = 0.01) -> Value:
        return _unary(OPS["leaky_relu"], self, {"alpha": _as_float(alpha, "leaky_relu alpha")})

    def sin(self) -> Value:
        return _unary(OPS["sin"], self)

    def cos(self) -> Value:
        return _unary(OPS["cos"], self)

    def erf(self) -> Value:
        """The error function :math:`\\frac{2}{\\sqrt\\pi}\\int_0^x e^{-t^2}dt`."""
        return _unary(OPS["erf"], self)

    def Phi(self) -> Value:  # the expression language's name (GELU is x·Φ(x))
        """The standard normal CDF :math:`\\Phi(x) = (1 + \\operatorname{erf}(x/\\sqrt2))/2`."""
        return _unary(OPS["Phi"], self)

    normal_cdf = Phi

    def softplus(self) -> Value:
        """:math:`\\log(1 + e^x)`, without overflow; its derivative is :math:`\\sigma(x)`."""
        return _unary(OPS["softplus"], self)

    def step(self) -> Value:
        """The indicator :math:`[x > 0]` (0 at 0, as relu's mask); its derivative is 0."""
        return _unary(OPS["step"], self)

    def sign(self) -> Value:
        """-1, 0 or 1; its derivative is 0 (at 0 too, as in PyTorch)."""
        return _unary(OPS["sign"], self)

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
        backpropagate(self, seed)

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


# --- building nodes -------------------------------------------------------------------------------------------
def _value(other: Any, op: str) -> Value:
    """``other`` as a Value: Values pass through, numbers become new constant leaves."""
    if type(other) is Value:
        return other
    if type(other) is float:
        data = other
    elif isinstance(other, Value):
        return other
    elif isinstance(other, Node):
        raise OperandError(f"{op}: cannot mix a Value with a {type(other).__name__}")
    else:
        data = _as_float(other, op)
    return make_node(_new(Value), data, None, (), None, None, False, None, "const")


def _binary(op: OpDef, a: Value, b: Value) -> Value:
    """``op(a, b)``: the forward on the two numbers, recorded as a node with inputs ``(a, b)``."""
    try:
        data = op.forward(ScalarMath, a.data, b.data)
    except ZeroDivisionError:
        raise DomainError(f"{op.name}: division by zero ({a.data!r} / {b.data!r})") from None
    except OverflowError:
        data = math.inf
    return make_node(_new(Value), data, op, (a, b))


def _unary(op: OpDef, x: Value, attrs: dict | None = None) -> Value:
    """``op(x, **attrs)``: see :func:`_binary`."""
    try:
        data = op.forward(ScalarMath, x.data, **attrs) if attrs else op.forward(ScalarMath, x.data)
    except ZeroDivisionError:
        raise DomainError(f"{op.name}: division by zero at {x.data!r}") from None
    except OverflowError:
        data = math.inf
    return make_node(_new(Value), data, op, (x,), attrs)


def apply_unchecked(op: OpDef, *inputs: Value, **attrs: Any) -> Value:
    """``op(*inputs, **attrs)`` for any scalar op of the table, without operand checks (generic code, tests).

    Public but internal: the operators above are the user-facing way; this is for code that already holds
    ``Value`` inputs and an ``OpDef``.
    """
    if len(inputs) == 2 and not attrs:
        return _binary(op, inputs[0], inputs[1])
    if len(inputs) == 1:
        return _unary(op, inputs[0], attrs or None)
    raise OperandError(f"{op.name}: the scalar engine has no op of {len(inputs)} inputs with attributes")


# --- the reverse loop -------------------------------------------------------------------------------------------
def backpropagate(root: Value, seed: float = 1.0) -> None:
    """Reverse-mode sweep from ``root`` with ``root``'s adjoint :math:`\\bar{L}` = ``seed``, into ``.grad``.

    The chain rule as a loop: visit the op nodes so that every node comes after all the ops that use it
    (newest first), then hand each input its share ``ḡ · ∂out/∂input`` (the op's backward multiplies) and
    *add* it to the input's gradient, because a value used twice (``a * a``, a reused ``h``) collects a
    contribution from every use.
    """
    order = backward_order(root)  # the op nodes, every consumer before its inputs
    for node in order:
        node.grad = 0.0  # intermediates start afresh on every call; leaves keep accumulating
    root.grad = seed if root.op is not None else root.grad + seed
    node = root
    try:
        for node in order:
            parents = node.parents
            if len(parents) == 2:  # unpacked by hand: this loop runs once per node
                a, b = parents
                need_a, need_b = a.requires_grad, b.requires_grad
                ga, gb = node.op.backward(  # type: ignore[union-attr]  # the order holds op nodes only
                    ScalarMath, node.grad, (a.data, b.data), node.data, node.attrs, None, _NEEDS_2[need_a][need_b])
                if need_a:
                    a.grad += ga
                if need_b:
                    b.grad += gb
            else:
                (a,) = parents
                if a.requires_grad:
                    (ga,) = node.op.backward(  # type: ignore[union-attr]  # the order holds op nodes only
                        ScalarMath, node.grad, (a.data,), node.data, node.attrs, None, _NEEDS_1)
                    a.grad += ga
    except (ZeroDivisionError, OverflowError) as exc:
        raise backward_domain_error(node, exc) from None


_NEEDS_1 = (True,)
_NEEDS_2 = (((False, False), (False, True)), ((True, False), (True, True)))  # indexed by two bools: no tuple built
