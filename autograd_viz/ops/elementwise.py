"""Elementwise ops, shared by the scalar and tensor engines: the calculus of the library lives here.

Each backward is the vector-Jacobian product :math:`\\bar{x}_i = \\bar{g}\\,\\partial f/\\partial x_i`,
written against the backend ``m`` so it runs on floats and on arrays alike. Every backward has the signature
``(m, g, x, out, attrs, saved, needs)``: the backend, the upstream adjoint :math:`\\bar{g}`, the input values
``x``, the output value, the op's attributes, its saved values and which inputs need a gradient.
"""

from __future__ import annotations

import math

from autograd_viz.ops.base import OpDef

SQRT2 = math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _sympy():
    import sympy

    return sympy


def _pow_backward(m, g, x, out, attrs, saved, needs):
    base, exponent = x
    d_base = g * exponent * m.power(base, exponent - 1) if needs[0] else None
    # d/dy x^y = x^y ln x: 0 at x = 0 (the limit from the right), undefined for x < 0 (see ``m.log_of_base``).
    d_exponent = g * out * m.log_of_base(base) if needs[1] else None
    return d_base, d_exponent


def _powc_placeholders(values: dict) -> dict:
    """``p·x^(p−1)`` written as a person would: ``2·x`` for p = 2, ``0.5·x^(-0.5)`` for p = 0.5, ``1`` for p = 1;
    the forward as ``x²`` (superscript for whole powers, ``x^0.5`` otherwise)."""
    p = float(values["p"])
    power = p - 1
    base = values["x0"]  # the input's label (plain text or LaTeX, whichever is being filled)
    whole = p.is_integer() and abs(p) < 1e15
    out = {"p_superscript": str(int(p)).translate(_SUPERSCRIPTS) if whole else f"^{p:g}"}
    if power == 0:
        return {**out, "p_times": f"{p:g}", "base": "", "p_minus_1": "",
                "p_times_latex": f"{p:g}", "base_latex": "", "p_minus_1_latex": ""}
    return {
        **out,
        "p_times": "" if p == 1 else f"{p:g}·",
        "base": base,
        "p_minus_1": "" if power == 1 else f"^{power:g}" if power >= 0 else f"^({power:g})",
        "p_times_latex": "" if p == 1 else f"{p:g} \\cdot ",
        "base_latex": base if power == 1 else f"{{{base}}}",
        "p_minus_1_latex": "" if power == 1 else f"^{{{power:g}}}",
    }


_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _sympy_sigmoid(x):
    sp = _sympy()
    return 1 / (1 + sp.exp(-x))


def _sympy_relu(x):
    sp = _sympy()
    return sp.Piecewise((x, x > 0), (0, True))


def _sympy_leaky_relu(x, alpha):
    sp = _sympy()
    return sp.Piecewise((x, x > 0), (sp.nsimplify(alpha) * x, True))


def _sympy_phi(x):
    sp = _sympy()
    return (1 + sp.erf(x / sp.sqrt(2))) / 2


def _sympy_step(x):
    sp = _sympy()
    return sp.Piecewise((1, x > 0), (0, True))  # relu's derivative, the same convention at 0


def _phi(m, x):
    """Φ(x) = (1 + erf(x/√2))/2, computed as erfc(−x/√2)/2 so that the left tail keeps its digits
    (Φ(−10) = 7.6e−24, where 1 + erf(−7.07) would round to 0)."""
    return 0.5 * m.erfc(-x / SQRT2)


def _sympy_number(value):
    sp = _sympy()
    if isinstance(value, float) and value.is_integer():
        return sp.Integer(int(value))
    return sp.Rational(repr(value)) if isinstance(value, float) else sp.sympify(value)



# --- local derivatives: each returns one contribution per input, ḡ times ∂out/∂x_i ------------------------
def _add_backward(m, g, x, out, attrs, saved, needs):
    return g, g  # ∂(a + b)/∂a = 1, ∂(a + b)/∂b = 1


def _sub_backward(m, g, x, out, attrs, saved, needs):
    return g, -g  # ∂(a − b)/∂a = 1, ∂(a − b)/∂b = −1


def _neg_backward(m, g, x, out, attrs, saved, needs):
    return (-g,)  # ∂(−a)/∂a = −1


def _mul_backward(m, g, x, out, attrs, saved, needs):
    a, b = x
    return g * b, g * a  # ∂(ab)/∂a = b, ∂(ab)/∂b = a


def _div_backward(m, g, x, out, attrs, saved, needs):
    a, b = x
    return g / b, -g * out / b  # ∂(a/b)/∂a = 1/b, ∂(a/b)/∂b = −a/b² = −out/b


def _powc_backward(m, g, x, out, attrs, saved, needs):
    (a,) = x
    p = attrs["p"]
    return (g * p * m.power(a, p - 1),)  # the power rule: ∂(a^p)/∂a = p·a^(p−1)


def _exp_backward(m, g, x, out, attrs, saved, needs):
    return (g * out,)  # ∂e^a/∂a = e^a = out


def _log_backward(m, g, x, out, attrs, saved, needs):
    return (g / x[0],)  # ∂ln a/∂a = 1/a


def _sqrt_backward(m, g, x, out, attrs, saved, needs):
    return (g * 0.5 / out,)  # ∂√a/∂a = 1/(2√a) = 1/(2·out)


def _abs_backward(m, g, x, out, attrs, saved, needs):
    return (g * m.sign(x[0]),)  # ∂|a|/∂a = sign(a) (0 at the kink)


def _tanh_backward(m, g, x, out, attrs, saved, needs):
    return (g * (1.0 - out * out),)  # ∂tanh a/∂a = 1 − tanh² a = 1 − out²


def _sigmoid_backward(m, g, x, out, attrs, saved, needs):
    return (g * out * (1.0 - out),)  # ∂σ(a)/∂a = σ(a)(1 − σ(a)) = out(1 − out)


def _relu_backward(m, g, x, out, attrs, saved, needs):
    return (g * (x[0] > 0),)  # ∂max(a, 0)/∂a = [a > 0]


def _leaky_relu_backward(m, g, x, out, attrs, saved, needs):
    return (m.where(x[0] > 0, g, g * attrs["alpha"]),)  # 1 where a > 0, else α


def _sin_backward(m, g, x, out, attrs, saved, needs):
    return (g * m.cos(x[0]),)  # ∂sin a/∂a = cos a


def _cos_backward(m, g, x, out, attrs, saved, needs):
    return (-g * m.sin(x[0]),)  # ∂cos a/∂a = −sin a


def _erf_backward(m, g, x, out, attrs, saved, needs):
    return (g * TWO_OVER_SQRT_PI * m.exp(-x[0] * x[0]),)  # ∂erf a/∂a = (2/√π)·e^(−a²)


def _phi_backward(m, g, x, out, attrs, saved, needs):
    return (g * INV_SQRT_2PI * m.exp(-0.5 * x[0] * x[0]),)  # ∂Φ(a)/∂a = e^(−a²/2)/√(2π), the normal density


def _softplus_backward(m, g, x, out, attrs, saved, needs):
    return (g * m.sigmoid(x[0]),)  # ∂log(1 + e^a)/∂a = e^a/(1 + e^a) = σ(a)


def _zero_backward(m, g, x, out, attrs, saved, needs):
    # step and sign are piecewise constant: 0 away from the jump, and 0 *at* the jump by convention (as relu's
    # mask [a > 0] is 0 at a = 0, and as PyTorch's sign backward); an exact 0, even for an infinite ḡ.
    return (m.zeros_like(g),)


ELEMENTWISE: tuple[OpDef, ...] = (
    OpDef(
        name="add", symbol="+", arity=2,
        forward=lambda m, x, y: x + y,
        backward=_add_backward,
        sympy=lambda x, y: x + y,
        derivatives=("1", "1"),
        derivative_latex=("1", "1"),
        expr_name=None, display="{x0} + {x1}",
        latex=r"{x0} + {x1}",
    ),
    OpDef(
        name="sub", symbol="−", arity=2,
        forward=lambda m, x, y: x - y,
        backward=_sub_backward,
        sympy=lambda x, y: x - y,
        derivatives=("1", "−1"),
        derivative_latex=("1", "-1"),
        expr_name=None, display="{x0} − {x1}",
        latex=r"{x0} - {x1}",
    ),
    OpDef(
        name="neg", symbol="−", arity=1,
        forward=lambda m, x: -x,
        backward=_neg_backward,
        sympy=lambda x: -x,
        derivatives=("−1",),
        derivative_latex=("-1",),
        expr_name=None, display="−{x0}",
        latex=r"-{x0}",
    ),
    OpDef(
        name="mul", symbol="×", arity=2,
        forward=lambda m, x, y: x * y,
        backward=_mul_backward,
        sympy=lambda x, y: x * y,
        derivatives=("{x1}", "{x0}"),
        derivative_latex=("{x1}", "{x0}"),
        expr_name=None, display="{x0} × {x1}",
        latex=r"{x0} \cdot {x1}",
    ),
    OpDef(
        name="div", symbol="÷", arity=2,
        forward=lambda m, x, y: x / y,
        backward=_div_backward,
        sympy=lambda x, y: x / y,
        derivatives=("1/{x1}", "−{x0}/{x1}²"),
        derivative_latex=(r"\frac{{1}}{{{x1}}}", r"-\frac{{{x0}}}{{{x1}^{{2}}}}"),
        expr_name=None, display="{x0} ÷ {x1}",
        latex=r"\frac{{{x0}}}{{{x1}}}",
    ),
    OpDef(
        name="pow", symbol="^", arity=2,
        forward=lambda m, x, y: m.power(x, y),
        backward=_pow_backward,
        sympy=lambda x, y: x**y,
        derivatives=("{x1}·{x0}^({x1}−1)", "{x0}^{x1}·ln {x0}"),
        derivative_latex=(r"{x1} \cdot {{{x0}}}^{{{x1} - 1}}", r"{{{x0}}}^{{{x1}}} \cdot \ln\left({x0}\right)"),
        expr_name=None, display="{x0}^{x1}",
        latex=r"{{{x0}}}^{{{x1}}}",
    ),
    OpDef(
        name="powc", symbol="^", arity=1,
        forward=lambda m, x, p: m.power(x, p),
        backward=_powc_backward,
        sympy=lambda x, p: x ** _sympy_number(p),
        derivatives=("{p_times}{base}{p_minus_1}",),
        derivative_latex=("{p_times_latex}{base_latex}{p_minus_1_latex}",),
        placeholders=_powc_placeholders,
        attr_names=("p",),
        expr_name=None, display="{x0}{p_superscript}",
        latex=r"{{{x0}}}^{{{p}}}",
    ),
    OpDef(
        name="exp", symbol="exp", arity=1,
        forward=lambda m, x: m.exp_safe(x),
        backward=_exp_backward,
        sympy=lambda x: _sympy().exp(x),
        derivatives=("exp({x0})",),
        derivative_latex=(r"e^{{{x0}}}",),
        expr_name="exp", display="exp({x0})",
        latex=r"e^{{{x0}}}",
        nonzero_derivative=True,
    ),
    OpDef(
        name="log", symbol="log", arity=1,
        forward=lambda m, x: m.log(x),
        backward=_log_backward,
        sympy=lambda x: _sympy().log(x),
        derivatives=("1/{x0}",),
        derivative_latex=(r"\frac{{1}}{{{x0}}}",),
        expr_name="log", display="log({x0})",
        latex=r"\ln\left({x0}\right)",
        nonzero_derivative=True,
    ),
    OpDef(
        name="sqrt", symbol="√", arity=1,
        forward=lambda m, x: m.sqrt(x),
        backward=_sqrt_backward,
        sympy=lambda x: _sympy().sqrt(x),
        derivatives=("1/(2√{x0})",),
        derivative_latex=(r"\frac{{1}}{{2\sqrt{{{x0}}}}}",),
        expr_name="sqrt", display="√({x0})",
        latex=r"\sqrt{{{x0}}}",
        nonzero_derivative=True,
    ),
    OpDef(
        name="abs", symbol="|·|", arity=1,
        forward=lambda m, x: m.fabs(x),
        backward=_abs_backward,
        sympy=lambda x: _sympy().Abs(x),
        derivatives=("sign({x0})",),
        derivative_latex=(r"\operatorname{{sign}}\left({x0}\right)",),
        expr_name="abs", display="|{x0}|",
        latex=r"\left|{x0}\right|",
    ),
    OpDef(
        name="tanh", symbol="tanh", arity=1,
        forward=lambda m, x: m.tanh(x),
        backward=_tanh_backward,
        sympy=lambda x: _sympy().tanh(x),
        derivatives=("1−tanh²({x0})",),
        derivative_latex=(r"1 - \tanh^{{2}}\left({x0}\right)",),
        expr_name="tanh", display="tanh({x0})",
        latex=r"\tanh\left({x0}\right)",
        nonzero_derivative=True,
    ),
    OpDef(
        name="sigmoid", symbol="σ", arity=1,
        forward=lambda m, x: m.sigmoid(x),
        backward=_sigmoid_backward,
        sympy=_sympy_sigmoid,
        derivatives=("σ({x0})(1−σ({x0}))",),
        derivative_latex=(r"\sigma\left({x0}\right)\left(1 - \sigma\left({x0}\right)\right)",),
        expr_name="sigmoid", display="σ({x0})",
        latex=r"\sigma\left({x0}\right)",
        nonzero_derivative=True,
    ),
    OpDef(
        name="relu", symbol="relu", arity=1,
        forward=lambda m, x: m.maximum(x, 0.0),
        backward=_relu_backward,
        sympy=_sympy_relu,
        derivatives=("[{x0} > 0]",),
        derivative_latex=(r"\left[{x0} > 0\right]",),
        expr_name="relu", display="relu({x0})",
        latex=r"\operatorname{{relu}}\left({x0}\right)",
    ),
    OpDef(
        name="leaky_relu", symbol="leaky_relu", arity=1,
        forward=lambda m, x, alpha: m.where(x > 0, x, alpha * x),
        backward=_leaky_relu_backward,
        sympy=_sympy_leaky_relu,
        derivatives=("1 if {x0} > 0 else {alpha}",),
        derivative_latex=(r"\begin{{cases}} 1 & {x0} > 0 \\ {alpha} & \text{{otherwise}} \end{{cases}}",),
        attr_names=("alpha",),
        expr_name="leaky_relu", display="leaky_relu({x0}, α={alpha})",
        latex=r"\operatorname{{leaky}}_{{{alpha}}}\left({x0}\right)",
    ),
    OpDef(
        name="sin", symbol="sin", arity=1,
        forward=lambda m, x: m.sin(x),
        backward=_sin_backward,
        sympy=lambda x: _sympy().sin(x),
        derivatives=("cos({x0})",),
        derivative_latex=(r"\cos\left({x0}\right)",),
        expr_name="sin", display="sin({x0})",
        latex=r"\sin\left({x0}\right)",
        nonzero_derivative=True,
    ),
    OpDef(
        name="cos", symbol="cos", arity=1,
        forward=lambda m, x: m.cos(x),
        backward=_cos_backward,
        sympy=lambda x: _sympy().cos(x),
        derivatives=("−sin({x0})",),
        derivative_latex=(r"-\sin\left({x0}\right)",),
        expr_name="cos", display="cos({x0})",
        latex=r"\cos\left({x0}\right)",
    ),
    OpDef(
        name="erf", symbol="erf", arity=1,
        forward=lambda m, x: m.erf(x),
        backward=_erf_backward,
        sympy=lambda x: _sympy().erf(x),
        derivatives=("(2/√π)·exp(−{x0}²)",),
        derivative_latex=(r"\frac{{2}}{{\sqrt{{\pi}}}} e^{{-{x0}^{{2}}}}",),
        expr_name="erf", display="erf({x0})",
        latex=r"\operatorname{{erf}}\left({x0}\right)",
        nonzero_derivative=True,
    ),
    OpDef(
        name="Phi", symbol="Φ", arity=1,
        forward=_phi,
        backward=_phi_backward,
        sympy=_sympy_phi,
        derivatives=("exp(−{x0}²/2)/√(2π)",),
        derivative_latex=(r"\frac{{1}}{{\sqrt{{2\pi}}}} e^{{-{x0}^{{2}}/2}}",),
        expr_name="Phi", display="Φ({x0})",
        latex=r"\Phi\left({x0}\right)",
        nonzero_derivative=True,
    ),
    OpDef(
        name="softplus", symbol="softplus", arity=1,
        forward=lambda m, x: m.softplus(x),
        backward=_softplus_backward,
        sympy=lambda x: _sympy().log(1 + _sympy().exp(x)),
        derivatives=("σ({x0})",),
        derivative_latex=(r"\sigma\left({x0}\right)",),
        expr_name="softplus", display="softplus({x0})",
        latex=r"\operatorname{{softplus}}\left({x0}\right)",
        nonzero_derivative=True,
    ),
    OpDef(
        name="step", symbol="𝟙", arity=1,
        forward=lambda m, x: m.step(x),
        backward=_zero_backward,
        sympy=_sympy_step,
        derivatives=("0",),
        derivative_latex=("0",),
        expr_name="step", display="𝟙({x0} > 0)",
        latex=r"\mathbb{{1}}\left({x0} > 0\right)",
    ),
    OpDef(
        name="sign", symbol="sign", arity=1,
        forward=lambda m, x: m.sign(x),
        backward=_zero_backward,
        sympy=lambda x: _sympy().sign(x),
        derivatives=("0",),
        derivative_latex=("0",),
        expr_name="sign", display="sign({x0})",
        latex=r"\operatorname{{sign}}\left({x0}\right)",
    ),
)
