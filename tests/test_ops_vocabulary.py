"""Issue 12 end to end: sin, cos, erf, Phi, softplus, step and sign are ops of the one table, so named steps,
``autograd-viz graph`` (values, gradients, the derivative on every edge of the drawing), ``autograd-viz explain``
and ``ops/extra.py``'s old names all take them. Numbers are checked against closed forms written here and
against central differences, never against the code under test."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from click.testing import CliRunner

from autograd_viz import Tensor, Value, draw
from autograd_viz.cli import main
from autograd_viz.explain import explain
from autograd_viz.ops import EXPR_FUNCTIONS, OPS, SCALAR_OPS
from autograd_viz.ops.extra import EXTRA_NAMES, EXTRA_OPS, EXTRA_OPS_BY_NAME
from autograd_viz.steps import build_steps

SQRT_2PI = math.sqrt(2 * math.pi)

#: name -> (value, derivative) written out here, independently of the op table.
CLOSED_FORMS = {
    "sin": (math.sin, math.cos),
    "cos": (math.cos, lambda x: -math.sin(x)),
    "erf": (math.erf, lambda x: 2 / math.sqrt(math.pi) * math.exp(-x * x)),
    "Phi": (lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2))), lambda x: math.exp(-x * x / 2) / SQRT_2PI),
    "softplus": (lambda x: math.log1p(math.exp(x)), lambda x: 1 / (1 + math.exp(-x))),
    "step": (lambda x: float(x > 0), lambda x: 0.0),
    "sign": (lambda x: float(x > 0) - float(x < 0), lambda x: 0.0),
}


def test_one_definition_per_function():
    """The old module's names are views of the one table: the same objects, nothing defined twice."""
    assert set(EXTRA_NAMES) == set(CLOSED_FORMS) == set(EXTRA_OPS_BY_NAME)
    for op in EXTRA_OPS:
        assert OPS[op.name] is op and EXPR_FUNCTIONS[op.expr_name] is op and op.name in SCALAR_OPS


def graph(*args: str):
    return CliRunner().invoke(main, ["graph", *args])


def test_graph_command_draws_gelu_with_named_steps(tmp_path):
    out = tmp_path / "g.svg"
    result = graph("y = x*Phi(x)", "--at", "x=0.5", "-o", str(out))
    assert result.exit_code == 0, result.output
    svg = out.read_text()
    phi, dphi = CLOSED_FORMS["Phi"]
    assert "Φ(x)" in svg and "exp(−x²/2)/√(2π)" in svg  # the forward and the local derivative
    assert f"{dphi(0.5):.4g}" in svg
    result = graph("y = x*Phi(x)", "--at", "x=0.5", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["value"] == pytest.approx(0.5 * phi(0.5), rel=1e-14)
    assert data["inputs"][0]["grad"] == pytest.approx(phi(0.5) + 0.5 * dphi(0.5), rel=1e-14)


def test_graph_command_takes_every_new_function():
    text = "y = sin(x)*w + step(x) + sign(x)*cos(x) + erf(x) + softplus(x) + Phi(w)"
    result = graph(text, "--at", "x=1,w=2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    x, w = 1.0, 2.0
    f = {k: v[0] for k, v in CLOSED_FORMS.items()}
    d = {k: v[1] for k, v in CLOSED_FORMS.items()}
    value = f["sin"](x) * w + 1 + f["cos"](x) + f["erf"](x) + f["softplus"](x) + f["Phi"](w)
    grads = {"x": d["sin"](x) * w + d["cos"](x) + d["erf"](x) + d["softplus"](x), "w": f["sin"](x) + d["Phi"](w)}
    assert data["value"] == pytest.approx(value, rel=1e-14)
    assert {r["name"]: r["grad"] for r in data["inputs"]} == pytest.approx(grads, rel=1e-14)


def test_a_wrong_call_is_one_clear_error():
    result = graph("y = Phi(x, 2)", "--at", "x=0.5")
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert result.output.strip() == "error: step 1 (y): Phi() takes 1 argument(s), got 2 (column 1)"


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_every_edge_of_the_drawing_carries_the_right_derivative(name):
    """``y = f(x) * x``: the backward edge x → f(x) shows the op table's text and the closed-form number."""
    root, _ = build_steps(f"u = {name}(x); y = u*x", {"x": -0.8})
    labels = set(re.findall(r"label=<(∂[^>]*)>", draw(root, kind="both").source))
    f, df = CLOSED_FORMS[name]
    text = OPS[name].local_derivative(0, ["x"])
    shown = f"{df(-0.8):.4g}" if df(-0.8) else None
    expected = {f"∂u/∂x = {text}" + (f" = {shown}" if shown and text != shown else ""),
                f"∂y/∂u = x = {-0.8:.4g}", f"∂y/∂x = u = {f(-0.8):.4g}"}
    assert labels == expected


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_explain_writes_and_checks_each_new_function(name):
    root, inputs = build_steps(f"g = x*{name}(x) + {name}(x*x)", {"x": 0.6})
    out = explain(root, format="json")
    f, df = CLOSED_FORMS[name]
    expected = f(0.6) + 0.6 * df(0.6) + 2 * 0.6 * df(0.36)
    assert out["gradients"]["x"]["value"] == pytest.approx(expected, rel=1e-12)
    assert OPS[name].display_text(["x"]) in {row["formula"] for row in out["forward"]}


def test_explain_command_on_gelu():
    result = CliRunner().invoke(main, ["explain", "g = x*Phi(x)", "--at", "x=0.5"])
    assert result.exit_code == 0, result.output
    phi, dphi = CLOSED_FORMS["Phi"]
    assert "\\Phi\\left(x\\right)" in result.output and "\\sqrt{2 \\cdot \\pi}" in result.output
    assert f"{phi(0.5) + 0.5 * dphi(0.5):.6g}" in result.output
    assert "Checked: equals sympy.diff" in result.output


def test_the_op_table_says_which_derivatives_are_never_zero():
    """Drawings tell a saturated unit (an adjoint that underflowed to 0) from an exact 0 by the op table's
    ``nonzero_derivative``: Φ(−40)'s derivative e^(−800)/√(2π) underflows; step's is exactly 0."""
    from autograd_viz.viz.style import SMOOTH_OPS

    assert SMOOTH_OPS == {"sigmoid", "tanh", "exp", "log", "sqrt", "softmax", "log_softmax",  # before issue 12
                          "sin", "erf", "Phi", "softplus"}  # cos'(0) = −sin 0 = 0 and step' = sign' = 0: not these
    for name, via in (("Phi", "vanishing"), ("step", "exactly zero")):
        root, _ = build_steps(f"y = {name}(x)*w", {"x": -40.0, "w": 2.0})
        x_box = next(line for line in draw(root, kind="backward").source.splitlines() if "<O>x</O>" in line)
        assert via in x_box and ({"vanishing", "exactly zero"} - {via}).pop() not in x_box, x_box


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_never_overflows(dtype):
    x = np.array([1000.0, -1000.0, 1e4, -1e4, 88.0, 89.0, 0.0], dtype=dtype)  # e^89 overflows float32
    t = Tensor(x, requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = t.softplus()
        out.sum().backward()
    assert out.dtype == dtype and t.grad.dtype == dtype
    np.testing.assert_allclose(out.data, [1000, 0, 1e4, 0, 88, 89, math.log(2)], rtol=1e-7 if dtype == np.float32
                               else 1e-15)
    np.testing.assert_allclose(t.grad, [1, 0, 1, 0, 1, 1, 0.5], rtol=1e-7)
    assert Value(1000.0).softplus().data == 1000.0 and Value(-1000.0).softplus().data == 0.0


def test_tensor_graph_with_every_new_function_is_explained_unrolled_too():
    """A tensor graph: explain (tensor rules) and explain --unroll (one Value per element) agree with the closed
    form; the engine's backward agrees with both."""
    xs = np.array([0.3, -1.2])
    x = Tensor(xs, requires_grad=True, name="x")
    y = (x * x.Phi() + x.sin().erf() + x.softplus() * x.sign() + x.cos() * x.step()).sum()
    f = {k: v[0] for k, v in CLOSED_FORMS.items()}
    d = {k: v[1] for k, v in CLOSED_FORMS.items()}
    want = [f["Phi"](v) + v * d["Phi"](v) + d["erf"](math.sin(v)) * math.cos(v) + d["softplus"](v) * f["sign"](v)
            - math.sin(v) * f["step"](v) for v in xs]
    for unroll in (False, True):
        out = explain(y, format="json", unroll=unroll)
        np.testing.assert_allclose(out["gradients"]["x"]["value"], want, rtol=1e-13)
    x.zero_grad()
    y.backward()
    np.testing.assert_allclose(x.grad, want, rtol=1e-13)


def test_normal_cdf_is_phi_under_its_python_name():
    import autograd_viz.functional as F

    assert Value(0.3).normal_cdf().op is OPS["Phi"]
    assert Tensor(np.ones(2), requires_grad=True).normal_cdf().op is OPS["Phi"]
    phi = CLOSED_FORMS["Phi"][0]
    assert F.normal_cdf(Value(0.3)).data == F.Phi(Value(0.3)).data == pytest.approx(phi(0.3), rel=1e-15)
