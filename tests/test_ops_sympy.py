"""Every scalar op's backward against SymPy's derivative of its own SymPy forward.

The test iterates over the op table, so a new elementwise op is covered as soon as it is added; points are
random and kept away from kinks (abs, relu, leaky_relu at 0) and poles (log, div, negative powers at 0).
"""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pytest
import sympy

from autograd_viz import Tensor, Value, to_sympy
from autograd_viz.ops import OPS, SCALAR_OPS, OpDef
from autograd_viz.scalar import apply_unchecked as apply_scalar
from autograd_viz.tensor import apply_unchecked as apply_tensor

#: Ops whose inputs must be positive (domain), by input position.
POSITIVE = {"log": {0}, "sqrt": {0}, "pow": {0}}
#: Random values for op attributes, by attribute name.
ATTRS = {"p": [2.0, 3.0, -1.0, 0.5, 1.5, -2.5, 0.25], "alpha": [0.01, 0.2, 0.7]}


def _point(name: str, arity: int, rng: random.Random) -> list[float]:
    out = []
    for i in range(arity):
        magnitude = rng.uniform(0.3, 2.5)
        out.append(magnitude if i in POSITIVE.get(name, ()) else rng.choice([-1.0, 1.0]) * magnitude)
    return out


def _attrs(name: str, rng: random.Random) -> dict:
    missing = [a for a in OPS[name].attr_names if a not in ATTRS]
    assert not missing, f"op {name}: add sample values for attributes {missing} to ATTRS"
    return {a: rng.choice(ATTRS[a]) for a in OPS[name].attr_names}


def _cases(name: str, count: int = 6):
    rng = random.Random(f"sympy-{name}")
    for _ in range(count):
        attrs = _attrs(name, rng)
        point = _point(name, OPS[name].arity, rng)
        if name == "powc" and not float(attrs["p"]).is_integer():
            point = [abs(point[0])]
        yield point, attrs


def test_every_scalar_op_has_a_sympy_form():
    assert SCALAR_OPS, "the op table has no scalar ops"
    for name in SCALAR_OPS:
        assert OPS[name].sympy is not None, f"op {name} has no SymPy forward"
        assert len(OPS[name].derivatives) == OPS[name].arity, f"op {name}: one derivative text per input"


def _sympy_mismatches(op: OpDef) -> list[str]:
    """Where ``op``'s forward or backward on ``Value`` disagrees with SymPy (empty when all agree)."""
    symbols = sympy.symbols(f"x0:{op.arity}", real=True)
    problems = []
    for point, attrs in _cases(op.name):
        expr = op.sympy(*symbols, **attrs)
        inputs = [Value(x, name=f"x{i}") for i, x in enumerate(point)]
        out = apply_scalar(op, *inputs, **attrs)
        out.backward()
        subs = dict(zip(symbols, point, strict=True))
        if not math.isclose(out.data, float(expr.subs(subs)), rel_tol=1e-12, abs_tol=1e-12):
            problems.append(f"{op.name} forward at {point} {attrs}: {out.data} vs SymPy {float(expr.subs(subs))}")
        for i, (sym, x) in enumerate(zip(symbols, inputs, strict=True)):
            expected = float(sympy.diff(expr, sym).subs(subs))
            if not math.isclose(x.grad, expected, rel_tol=1e-10, abs_tol=1e-12):
                problems.append(f"{op.name} d/dx{i} at {point} {attrs}: backward {x.grad} vs SymPy {expected}")
    return problems


@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
def test_scalar_backward_matches_sympy_derivative(name):
    assert _sympy_mismatches(OPS[name]) == []


@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
def test_tensor_backward_matches_sympy_derivative(name):
    """The same ops on arrays (the NumPy backend) agree with SymPy at every element."""
    op = OPS[name]
    symbols = sympy.symbols(f"x0:{op.arity}", real=True)
    for point, attrs in _cases(name, count=1):
        rng = random.Random(name)
        columns = [[p * rng.uniform(0.8, 1.2) for _ in range(5)] for p in point]
        inputs = [Tensor(np.array(c), requires_grad=True) for c in columns]
        apply_tensor(op, *inputs, **attrs).sum().backward()
        expr = op.sympy(*symbols, **attrs)
        for i, sym in enumerate(symbols):
            # "sympy" after "math": sign's derivative is 2·DiracDelta(x), which math has no name for
            derivative = sympy.lambdify(symbols, sympy.diff(expr, sym), ["math", "sympy"])
            expected = [float(derivative(*row)) for row in zip(*columns, strict=True)]
            np.testing.assert_allclose(inputs[i].grad, expected, rtol=1e-10, atol=1e-12, err_msg=f"{name} d/dx{i}")


def test_to_sympy_rebuilds_a_graph_whose_gradient_matches_backward():
    a, b = Value(0.7, name="a"), Value(-1.3, name="b")
    y = (a * b + a.exp()).tanh() / (b**2 + 1) + (a - 3).relu().sigmoid()
    y.backward()
    expr = to_sympy(y)
    sa, sb = sympy.Symbol("a", real=True), sympy.Symbol("b", real=True)
    subs = {sa: 0.7, sb: -1.3}
    assert math.isclose(float(expr.subs(subs)), y.data, rel_tol=1e-12)
    assert math.isclose(float(sympy.diff(expr, sa).subs(subs)), a.grad, rel_tol=1e-10)
    assert math.isclose(float(sympy.diff(expr, sb).subs(subs)), b.grad, rel_tol=1e-10)


def test_sympy_check_detects_a_wrong_derivative():
    """The comparison can fail: tanh with the derivative 1 + tanh² instead of 1 − tanh² is caught."""
    def wrong_tanh_backward(m, g, x, out, attrs, saved, needs):
        return (g * (1.0 + out * out),)

    broken = dataclasses.replace(OPS["tanh"], backward=wrong_tanh_backward)
    problems = _sympy_mismatches(broken)
    assert problems and all("tanh d/dx0" in p for p in problems)
