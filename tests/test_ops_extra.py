"""The functions of issue 12 (sin cos erf Phi softplus step sign, ops of the table; ops/extra.py keeps their old
names), checked through those names:
the numeric forward against SymPy, the VJP against SymPy's derivative and against central finite differences,
on floats (Value) and arrays (Tensor, float64 and float32)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from autograd_viz.ops import EXPR_FUNCTIONS, ArrayMath, ScalarMath
from autograd_viz.ops.extra import EXTRA_OPS
from autograd_viz.scalar import Value
from autograd_viz.scalar import apply_unchecked as scalar_apply
from autograd_viz.tensor import Tensor
from autograd_viz.tensor import apply_unchecked as tensor_apply

POINTS = [-3.1, -1.2, -0.35, 0.4, 0.9, 2.7]  # away from the kinks of step and sign
NAMES = [op.name for op in EXTRA_OPS]


def test_registered_as_functions_of_the_formula_language():
    assert set(NAMES) == {"sin", "cos", "erf", "Phi", "softplus", "step", "sign"}
    for op in EXTRA_OPS:
        assert EXPR_FUNCTIONS[op.expr_name] is op
        assert op.display and op.latex and op.derivatives and op.sympy is not None
        assert "{x0}" in op.latex and op.latex_text(["z"]).count("z") == 1  # a valid template


@pytest.mark.parametrize("op", EXTRA_OPS, ids=NAMES)
def test_forward_matches_sympy_on_floats_and_arrays(op):
    x = sp.Symbol("x", real=True)
    f = op.sympy(x)
    arr = op.forward(ArrayMath, np.array(POINTS))
    for k, v in enumerate(POINTS):
        want = float(f.subs(x, sp.Rational(str(v))).evalf(30))
        assert math.isclose(op.forward(ScalarMath, v), want, rel_tol=1e-12, abs_tol=1e-14)
        assert math.isclose(float(arr[k]), want, rel_tol=1e-12, abs_tol=1e-14)


@pytest.mark.parametrize("op", EXTRA_OPS, ids=NAMES)
def test_vjp_matches_sympy_and_finite_differences(op):
    x = sp.Symbol("x", real=True)
    d = sp.diff(op.sympy(x), x)
    for v in POINTS:
        a = Value(v, requires_grad=True)
        out = scalar_apply(op, a)
        out.backward()
        want = float(d.subs(x, sp.Rational(str(v))).evalf(30))
        h = 1e-6
        fd = (op.forward(ScalarMath, v + h) - op.forward(ScalarMath, v - h)) / (2 * h)
        assert math.isclose(a.grad, want, rel_tol=1e-10, abs_tol=1e-12), (op.name, v)
        assert math.isclose(a.grad, fd, rel_tol=1e-6, abs_tol=1e-8), (op.name, v)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("op", EXTRA_OPS, ids=NAMES)
def test_tensor_backward_and_dtype(op, dtype):
    data = np.array(POINTS, dtype=dtype)
    t = Tensor(data, requires_grad=True)
    out = tensor_apply(op, t)
    assert out.data.dtype == dtype
    out.sum().backward()
    x = sp.Symbol("x", real=True)
    d = sp.lambdify(x, sp.diff(op.sympy(x), x), modules=["math", "sympy"])
    want = np.array([float(d(v)) for v in POINTS])
    tol = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(t.grad.astype(np.float64), want, rtol=tol, atol=tol)


def test_softplus_does_not_overflow():
    op = EXPR_FUNCTIONS["softplus"]
    assert op.forward(ScalarMath, 1000.0) == 1000.0
    assert op.forward(ScalarMath, -1000.0) == 0.0
    assert np.all(np.isfinite(op.forward(ArrayMath, np.array([-1e4, 1e4]))))


def test_step_and_sign_at_zero_follow_relu():
    step, sign = EXPR_FUNCTIONS["step"], EXPR_FUNCTIONS["sign"]
    assert step.forward(ScalarMath, 0.0) == 0.0 and sign.forward(ScalarMath, 0.0) == 0.0
    x = sp.Symbol("x", real=True)
    relu = EXPR_FUNCTIONS["relu"].sympy(x)
    assert all(sp.diff(relu, x).subs(x, v) == step.sympy(x).subs(x, v) for v in (-2, 0, 3))
