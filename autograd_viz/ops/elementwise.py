"""Elementwise ops, shared by the scalar and tensor engines: the calculus of the library lives here.

Each backward is the vector-Jacobian product :math:`\\bar{x}_i = \\bar{g}\\,\\partial f/\\partial x_i`,
written against the backend ``m`` so it runs on floats and on arrays alike.
"""

from __future__ import annotations

from autograd_viz.ops.base import OpDef


def _sympy():
    import sympy

    return sympy


def _needs(node, i: int) -> bool:
    return node.parents[i].requires_grad


def _pow_backward(m, g, n):
    x, y = n.parents[0].data, n.parents[1].data
    gx = g * y * m.power(x, y - 1) if _needs(n, 0) else None
    # d/dy x^y = x^y ln x, taken as 0 where x <= 0 (the limit at 0+ for y > 0; undefined below 0).
    gy = g * n.data * m.log(m.where(x > 0, x, 1.0)) if _needs(n, 1) else None
    return gx, gy


def _powc_placeholders(attrs: dict) -> dict:
    """``p·x^(p−1)`` written as a person would: ``2·x`` for p = 2, ``0.5·x^-0.5`` for p = 0.5."""
    p = attrs["p"]
    power = p - 1
    if power == 0:
        return {"p_times": f"{p:g}", "x0": "", "p_minus_1": ""}
    return {
        "p_times": "" if p == 1 else f"{p:g}·",
        "p_minus_1": "" if power == 1 else f"^{power:g}" if power >= 0 else f"^({power:g})",
    }


def _sympy_sigmoid(x):
    sp = _sympy()
    return 1 / (1 + sp.exp(-x))


def _sympy_relu(x):
    sp = _sympy()
    return sp.Piecewise((x, x > 0), (0, True))


def _sympy_leaky_relu(x, alpha):
    sp = _sympy()
    return sp.Piecewise((x, x > 0), (sp.nsimplify(alpha) * x, True))


def _sympy_number(value):
    sp = _sympy()
    if isinstance(value, float) and value.is_integer():
        return sp.Integer(int(value))
    return sp.Rational(repr(value)) if isinstance(value, float) else sp.sympify(value)


ELEMENTWISE: tuple[OpDef, ...] = (
    OpDef(
        name="add", symbol="+", arity=2,
        forward=lambda m, x, y: x + y,
        backward=lambda m, g, n: (g, g),
        sympy=lambda x, y: x + y,
        derivatives=("1", "1"),
        doc=r"$x_0 + x_1$",
        expr_name=None, display='{x0} + {x1}',
        latex=r"{x0} + {x1}",
    ),
    OpDef(
        name="sub", symbol="−", arity=2,
        forward=lambda m, x, y: x - y,
        backward=lambda m, g, n: (g, -g),
        sympy=lambda x, y: x - y,
        derivatives=("1", "−1"),
        doc=r"$x_0 - x_1$",
        expr_name=None, display='{x0} − {x1}',
        latex=r"{x0} - {x1}",
    ),
    OpDef(
        name="neg", symbol="−", arity=1,
        forward=lambda m, x: -x,
        backward=lambda m, g, n: (-g,),
        sympy=lambda x: -x,
        derivatives=("−1",),
        doc=r"$-x$",
        expr_name=None, display='−{x0}',
        latex=r"-{x0}",
    ),
    OpDef(
        name="mul", symbol="×", arity=2,
        forward=lambda m, x, y: x * y,
        backward=lambda m, g, n: (g * n.parents[1].data, g * n.parents[0].data),
        sympy=lambda x, y: x * y,
        derivatives=("{x1}", "{x0}"),
        doc=r"$x_0 x_1$",
        expr_name=None, display='{x0} × {x1}',
        latex=r"{x0} \cdot {x1}",
    ),
    OpDef(
        name="div", symbol="÷", arity=2,
        forward=lambda m, x, y: x / y,
        backward=lambda m, g, n: (g / n.parents[1].data, -g * n.data / n.parents[1].data),
        sympy=lambda x, y: x / y,
        derivatives=("1/{x1}", "−{x0}/{x1}²"),
        doc=r"$x_0 / x_1$",
        expr_name=None, display='{x0} ÷ {x1}',
        latex=r"\frac{{{x0}}}{{{x1}}}",
    ),
    OpDef(
        name="pow", symbol="^", arity=2,
        forward=lambda m, x, y: m.power(x, y),
        backward=_pow_backward,
        sympy=lambda x, y: x**y,
        derivatives=("{x1}·{x0}^({x1}−1)", "{x0}^{x1}·ln {x0}"),
        doc=r"$x_0^{x_1}$ (variable exponent)",
        expr_name=None, display='{x0}^{x1}',
        latex=r"{{{x0}}}^{{{x1}}}",
    ),
    OpDef(
        name="powc", symbol="^", arity=1,
        forward=lambda m, x, p: m.power(x, p),
        backward=lambda m, g, n: (g * n.attrs["p"] * m.power(n.parents[0].data, n.attrs["p"] - 1),),
        sympy=lambda x, p: x ** _sympy_number(p),
        derivatives=("{p_times}{x0}{p_minus_1}",),
        placeholders=_powc_placeholders,
        attr_names=("p",),
        doc=r"$x^p$ (constant exponent)",
        expr_name=None, display='{x0}^{p}',
        latex=r"{{{x0}}}^{{{p}}}",
    ),
    OpDef(
        name="exp", symbol="exp", arity=1,
        forward=lambda m, x: m.exp_safe(x),
        backward=lambda m, g, n: (g * n.data,),
        sympy=lambda x: _sympy().exp(x),
        derivatives=("exp({x0})",),
        doc=r"$e^x$",
        expr_name='exp', display='exp({x0})',
        latex=r"e^{{{x0}}}",
    ),
    OpDef(
        name="log", symbol="log", arity=1,
        forward=lambda m, x: m.log(x),
        backward=lambda m, g, n: (g / n.parents[0].data,),
        sympy=lambda x: _sympy().log(x),
        derivatives=("1/{x0}",),
        doc=r"$\ln x$",
        expr_name='log', display='log({x0})',
        latex=r"\ln\left({x0}\right)",
    ),
    OpDef(
        name="sqrt", symbol="√", arity=1,
        forward=lambda m, x: m.sqrt(x),
        backward=lambda m, g, n: (g * 0.5 / n.data,),
        sympy=lambda x: _sympy().sqrt(x),
        derivatives=("1/(2√{x0})",),
        doc=r"$\sqrt{x}$",
        expr_name='sqrt', display='√({x0})',
        latex=r"\sqrt{{{x0}}}",
    ),
    OpDef(
        name="abs", symbol="|·|", arity=1,
        forward=lambda m, x: m.fabs(x),
        backward=lambda m, g, n: (g * m.sign(n.parents[0].data),),
        sympy=lambda x: _sympy().Abs(x),
        derivatives=("sign({x0})",),
        doc=r"$|x|$",
        expr_name='abs', display='|{x0}|',
        latex=r"\left|{x0}\right|",
    ),
    OpDef(
        name="tanh", symbol="tanh", arity=1,
        forward=lambda m, x: m.tanh(x),
        backward=lambda m, g, n: (g * (1.0 - n.data * n.data),),
        sympy=lambda x: _sympy().tanh(x),
        derivatives=("1−tanh²({x0})",),
        doc=r"$\tanh x$",
        expr_name='tanh', display='tanh({x0})',
        latex=r"\tanh\left({x0}\right)",
    ),
    OpDef(
        name="sigmoid", symbol="σ", arity=1,
        forward=lambda m, x: m.sigmoid(x),
        backward=lambda m, g, n: (g * n.data * (1.0 - n.data),),
        sympy=_sympy_sigmoid,
        derivatives=("σ({x0})(1−σ({x0}))",),
        doc=r"$\sigma(x) = 1/(1+e^{-x})$",
        expr_name='sigmoid', display='σ({x0})',
        latex=r"\sigma\left({x0}\right)",
    ),
    OpDef(
        name="relu", symbol="relu", arity=1,
        forward=lambda m, x: m.maximum(x, 0.0),
        backward=lambda m, g, n: (g * (n.parents[0].data > 0),),
        sympy=_sympy_relu,
        derivatives=("[{x0} > 0]",),
        doc=r"$\max(x, 0)$",
        expr_name='relu', display='relu({x0})',
        latex=r"\operatorname{{relu}}\left({x0}\right)",
    ),
    OpDef(
        name="leaky_relu", symbol="leaky_relu", arity=1,
        forward=lambda m, x, alpha: m.where(x > 0, x, alpha * x),
        backward=lambda m, g, n: (m.where(n.parents[0].data > 0, g, g * n.attrs["alpha"]),),
        sympy=_sympy_leaky_relu,
        derivatives=("1 if {x0} > 0 else {alpha}",),
        attr_names=("alpha",),
        doc=r"$x$ if $x>0$ else $\alpha x$",
        expr_name='leaky_relu', display='leaky_relu({x0}, α={alpha})',
        latex=r"\operatorname{{leaky}}_{{{alpha}}}\left({x0}\right)",
    ),
)
