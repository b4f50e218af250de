"""Every error path: the library's own exception type and a one-line message naming what and where.

Policy for non-finite numbers: ``Value`` ops raise ``DomainError`` outside their domain; ``Tensor`` ops follow
NumPy (nan/inf propagate, with NumPy's warning), and ``backward()`` refuses a non-finite output.
"""

from __future__ import annotations

import numpy as np
import pytest

import autograd_viz.functional as F
from autograd_viz import (
    AutogradVizError,
    DomainError,
    GradcheckError,
    GraphError,
    OperandError,
    ShapeError,
    Tensor,
    Value,
    gradcheck,
    to_sympy,
)

M = Tensor(np.ones((2, 3)), requires_grad=True)


def _t(*shape):
    return Tensor(np.ones(shape), requires_grad=True)


CASES = [
    # shapes: the op and both shapes are named
    ("matmul", lambda: _t(64, 784) @ _t(100, 128), ShapeError, r"^matmul: \(64, 784\) @ \(100, 128\): 784 != 100$"),
    ("matmul-vec", lambda: _t(3) @ _t(4, 2), ShapeError, r"matmul: \(3,\) @ \(4, 2\): 3 != 4"),
    ("matmul-batch", lambda: _t(2, 3, 4) @ _t(5, 4, 2), ShapeError, r"matmul: .*batch dimensions do not broadcast"),
    ("matmul-0d", lambda: M @ 2.0, ShapeError, r"matmul: \(2, 3\) @ \(\): operands must have at least one"),
    ("add", lambda: _t(2, 3) + _t(4), ShapeError, r"^add: shapes \(2, 3\) and \(4,\) do not broadcast$"),
    ("mul-reflected", lambda: np.ones((5,)) * M, ShapeError, r"^mul: shapes \(5,\) and \(2, 3\) do not broadcast$"),
    ("sum-axis", lambda: M.sum(axis=2), ShapeError, r"sum: axis 2 is out of range for shape \(2, 3\)"),
    ("mean-axis", lambda: M.mean(axis=(0, 0)), ShapeError, r"mean: repeated axis"),
    ("max-empty", lambda: Tensor(np.ones((0, 2))).max(), ShapeError, r"max: empty tensor of shape \(0, 2\)"),
    ("reshape", lambda: M.reshape(4, 2), ShapeError, r"reshape: cannot reshape \(2, 3\) into \(4, 2\)"),
    ("transpose", lambda: M.transpose(0, 0), ShapeError, r"transpose: axes \(0, 0\) do not permute"),
    ("getitem", lambda: M[5], ShapeError, r"getitem: .*index 5 is out of bounds.*\(tensor shape \(2, 3\)\)"),
    ("softmax-axis", lambda: F.softmax(M, axis=3), ShapeError, r"softmax: axis 3 is out of range"),
    ("ce-shape", lambda: F.cross_entropy(M, np.array([0, 1, 2])), ShapeError,
     r"cross_entropy: logits \(2, 3\) and target \(3,\) do not fit"),
    ("ce-3d", lambda: F.cross_entropy(_t(2, 2, 2), np.array([0, 1])), ShapeError, r"logits must be \(N, C\)"),
    ("mse-shape", lambda: F.mse_loss(M, np.ones(3)), ShapeError, r"mse_loss: pred \(2, 3\) and target \(3,\)"),
    ("backward-grad-shape", lambda: (M * 2).backward(np.ones(3)), ShapeError,
     r"backward: grad has shape \(3,\) but the output has shape \(2, 3\)"),
    # operand types
    ("value-str", lambda: Value(1.0) + "a", OperandError, r"^add: expected a real number, got str 'a'$"),
    ("str-value", lambda: "a" * Value(1.0), OperandError, r"^mul: expected a real number, got str"),
    ("value-none", lambda: Value(1.0) - None, OperandError, r"sub: expected a real number, got NoneType"),
    ("value-huge-int", lambda: Value(1.0) * 10**400, DomainError, r"mul: 1000.* is too large for a float"),
    ("value-bool", lambda: Value(True), OperandError, r"Value: expected a real number, got bool"),
    ("value-array", lambda: np.ones(3) + Value(1.0), OperandError, r"add: expected a real number, got ndarray"),
    ("value-tensor", lambda: Value(1.0) + M, OperandError, r"add: cannot mix a Value with a Tensor"),
    ("tensor-value", lambda: M * Value(1.0), OperandError, r"mul: cannot mix a Tensor with a Value"),
    ("value-matmul", lambda: Value(1.0) @ Value(2.0), OperandError, r"matmul: a Value is a scalar"),
    ("tensor-list", lambda: M + [1, 2, 3], OperandError, r"add: unsupported operand type list"),
    ("tensor-pow-str", lambda: M ** "2", OperandError, r"pow: unsupported operand type str"),
    ("tensor-data", lambda: Tensor(["a", "b"]), OperandError, r"Tensor: expected numbers, got an array of dtype <U1"),
    ("tensor-ragged", lambda: Tensor([[1, 2], [3]]), OperandError, r"Tensor: cannot make a float array from list"),
    ("tensor-int-grad", lambda: Tensor(np.arange(3), requires_grad=True, dtype=np.int64), OperandError,
     r"only float tensors can require grad"),
    ("leaky-alpha", lambda: M.leaky_relu("a"), OperandError, r"leaky_relu: alpha must be a real number"),
    ("leaky-alpha-value", lambda: Value(1.0).leaky_relu(None), OperandError, r"leaky_relu alpha: expected a real"),
    ("F-str", lambda: F.relu("x"), OperandError, r"relu: expected a Value or Tensor, got str"),
    ("softmax-value", lambda: F.softmax(Value(1.0)), OperandError, r"softmax: input must be a Tensor, got a Value"),
    ("ce-target-str", lambda: F.cross_entropy(M, np.array(["a", "b"])), OperandError, r"target must be class indices"),
    ("backward-grad-str", lambda: Value(1.0).exp().backward("x"), OperandError, r"backward grad: expected a real"),
    ("to_sympy-tensor", lambda: to_sympy(M), OperandError, r"to_sympy: expected a scalar Value graph, got Tensor"),
    ("gradcheck-float32", lambda: gradcheck(lambda x: x.sum(), Tensor(np.ones(2, np.float32), requires_grad=True)),
     OperandError, r"gradcheck: input 0 \(v\d+\) is float32; use float64"),
    ("gradcheck-output", lambda: gradcheck(lambda x: 1.0, Value(1.0)), OperandError, r"fn must return a Value"),
    # values outside a domain, non-finite values, bad options
    ("log-neg", lambda: Value(-2.0).log(), DomainError, r"^log: input -2.0 is outside the domain \(x > 0\)$"),
    ("sqrt-neg", lambda: Value(-1.0).sqrt(), DomainError, r"sqrt: input -1.0 is outside the domain"),
    ("div-zero", lambda: Value(1.0) / 0, DomainError, r"^div: division by zero \(1.0 / 0.0\)$"),
    ("rdiv-zero", lambda: 1 / Value(0.0), DomainError, r"div: division by zero"),
    ("pow-zero", lambda: Value(0.0) ** -1, DomainError, r"pow: 0 raised to the negative power -1.0"),
    ("pow-neg", lambda: Value(-1.0) ** 0.5, DomainError, r"pow: negative base -1.0 raised to the non-integer"),
    ("backward-inf", lambda: Value(1000.0).exp().backward(), DomainError, r"backward: the output is inf"),
    ("backward-pole", lambda: Value(0.0).sqrt().exp().backward(), DomainError,
     r"backward: the derivative of sqrt at node v\d+ is not finite \(inputs \[0.0\]\)"),
    ("tensor-backward-nan", lambda: (_t(2) * np.nan).sum().backward(), DomainError, r"backward: the output is nan"),
    ("ce-class", lambda: F.cross_entropy(M, np.array([0, 3])), DomainError, r"target class 3 is out of range for 3"),
    ("ce-fraction", lambda: F.cross_entropy(M, np.array([0.5, 1.0])), DomainError, r"whole numbers, got 0.5"),
    ("ce-reduction", lambda: F.cross_entropy(M, np.array([0, 1]), reduction="avg"), DomainError,
     r"cross_entropy: reduction must be one of mean, sum, none, got 'avg'"),
    ("ce-smoothing", lambda: F.cross_entropy(M, np.array([0, 1]), label_smoothing=2), DomainError,
     r"label_smoothing must be in \[0, 1\], got 2"),
    ("mse-reduction", lambda: F.mse_loss(M, M, reduction="max"), DomainError, r"mse_loss: reduction must be"),
    # graph misuse
    ("backward-nonscalar", lambda: (M * 2).backward(), GraphError,
     r"backward: the output has shape \(2, 3\); reduce it to a scalar"),
    ("backward-no-grad-value", lambda: (Value(1.0, requires_grad=False) * 2).backward(), GraphError,
     r"does not require grad"),
    ("backward-no-grad-tensor", lambda: Tensor(np.ones(1)).exp().backward(), GraphError, r"does not require grad"),
    ("item", lambda: M.item(), ShapeError, r"item: tensor of shape \(2, 3\) has more than one element"),
]


@pytest.mark.parametrize(("fn", "kind", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_type_and_message(fn, kind, pattern):
    with pytest.raises(kind, match=pattern) as info:
        fn()
    assert isinstance(info.value, AutogradVizError)
    assert "\n" not in str(info.value)


def test_errors_keep_their_builtin_bases():
    """Callers may catch the usual built-in types too."""
    assert issubclass(ShapeError, ValueError) and issubclass(DomainError, ValueError)
    assert issubclass(OperandError, TypeError) and issubclass(GraphError, RuntimeError)
    assert issubclass(GradcheckError, AssertionError)


def test_tensor_non_finite_values_propagate_like_numpy_then_backward_refuses():
    x = Tensor(np.array([-1.0, 4.0]), requires_grad=True)
    with np.errstate(invalid="ignore"):
        y = x.log()
    assert np.isnan(y.data[0]) and y.data[1] == pytest.approx(np.log(4.0))
    with pytest.raises(DomainError, match="not finite"):
        y.sum().backward()


def test_failed_ops_leave_no_partial_state():
    a = Value(2.0)
    with pytest.raises(DomainError):
        a / 0
    (a * 3).backward()
    assert a.grad == 3.0
