"""More elementwise functions of the expression language (issue 12): sin, cos, erf, the standard normal CDF Phi,
softplus, sign and the step (indicator of x > 0). Written like :mod:`ops.elementwise`: one forward and one VJP
against the backend ``m`` (floats or arrays), a SymPy form, a derivative text, display and LaTeX.

They are functions of the formula language (``EXPR_FUNCTIONS``): the checker, the parser and the worked
solutions read them; ``autograd_viz.tensor.apply_unchecked(EXTRA_OPS_BY_NAME["sin"], t)`` and
``autograd_viz.scalar.apply_unchecked`` run them numerically. Each VJP has the op table's signature
``backward(m, g, x, out, attrs, saved, needs)`` with ``x`` the tuple of input values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograd_viz.ops.base import OpDef

SQRT2 = math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _sympy() -> Any:
    import sympy

    return sympy


def _array(m: Any) -> bool:
    return m.name == "array"


def _sin(m: Any, x: Any) -> Any:
    return np.sin(x) if _array(m) else math.sin(x)


def _cos(m: Any, x: Any) -> Any:
    return np.cos(x) if _array(m) else math.cos(x)


_erf_array = np.vectorize(math.erf, otypes=[np.float64])


def _erf(m: Any, x: Any) -> Any:
    if _array(m):
        x = np.asarray(x)
        return _erf_array(x).astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64)
    return math.erf(x)


def _phi(m: Any, x: Any) -> Any:
    return 0.5 * (1.0 + _erf(m, x / SQRT2))


def _softplus(m: Any, x: Any) -> Any:
    """log(1 + e^x) without overflow: max(x, 0) + log1p(e^−|x|)."""
    if _array(m):
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _step(m: Any, x: Any) -> Any:
    if _array(m):
        return (np.asarray(x) > 0).astype(np.asarray(x).dtype if np.issubdtype(np.asarray(x).dtype, np.floating)
                                          else np.float64)
    return 1.0 if x > 0 else 0.0


def _sign(m: Any, x: Any) -> Any:
    if _array(m):
        return np.sign(x)
    return float((x > 0) - (x < 0))


def _zero(m: Any, g: Any, x: tuple, out: Any, attrs: Any, saved: Any, needs: tuple) -> tuple:
    """A piecewise-constant function: zero derivative (the convention at the jump, as relu's at 0)."""
    return (g * 0.0,)


def _sin_backward(m: Any, g: Any, x: tuple, out: Any, attrs: Any, saved: Any, needs: tuple) -> tuple:
    return (g * _cos(m, x[0]),)


def _cos_backward(m: Any, g: Any, x: tuple, out: Any, attrs: Any, saved: Any, needs: tuple) -> tuple:
    return (-g * _sin(m, x[0]),)


def _erf_backward(m: Any, g: Any, x: tuple, out: Any, attrs: Any, saved: Any, needs: tuple) -> tuple:
    return (g * TWO_OVER_SQRT_PI * m.exp(-x[0] * x[0]),)


def _phi_backward(m: Any, g: Any, x: tuple, out: Any, attrs: Any, saved: Any, needs: tuple) -> tuple:
    return (g * INV_SQRT_2PI * m.exp(-0.5 * x[0] * x[0]),)


def _softplus_backward(m: Any, g: Any, x: tuple, out: Any, attrs: Any, saved: Any, needs: tuple) -> tuple:
    return (g * m.sigmoid(x[0]),)


def _sympy_phi(x: Any) -> Any:
    sp = _sympy()
    return (1 + sp.erf(x / sp.sqrt(2))) / 2


def _sympy_step(x: Any) -> Any:
    sp = _sympy()
    return sp.Piecewise((1, x > 0), (0, True))  # relu's derivative, the same convention at 0


EXTRA_OPS: tuple[OpDef, ...] = (
    OpDef(
        name="sin", symbol="sin", arity=1,
        forward=_sin,
        backward=_sin_backward,
        sympy=lambda x: _sympy().sin(x),
        derivatives=("cos({x0})",),
        expr_name="sin", display="sin({x0})",
        latex=r"\sin\left({x0}\right)",
        derivative_latex=(r"\cos\left({x0}\right)",),
    ),
    OpDef(
        name="cos", symbol="cos", arity=1,
        forward=_cos,
        backward=_cos_backward,
        sympy=lambda x: _sympy().cos(x),
        derivatives=("−sin({x0})",),
        expr_name="cos", display="cos({x0})",
        latex=r"\cos\left({x0}\right)",
        derivative_latex=(r"-\sin\left({x0}\right)",),
    ),
    OpDef(
        name="erf", symbol="erf", arity=1,
        forward=_erf,
        backward=_erf_backward,
        sympy=lambda x: _sympy().erf(x),
        derivatives=("(2/√π)·e^(−{x0}²)",),
        expr_name="erf", display="erf({x0})",
        latex=r"\operatorname{{erf}}\left({x0}\right)",
        derivative_latex=(r"\frac{{2}}{{\sqrt{{\pi}}}} e^{{-{x0}^{{2}}}}",),
    ),
    OpDef(
        name="Phi", symbol="Φ", arity=1,
        forward=_phi,
        backward=_phi_backward,
        sympy=_sympy_phi,
        derivatives=("e^(−{x0}²/2)/√(2π)",),
        expr_name="Phi", display="Φ({x0})",
        latex=r"\Phi\left({x0}\right)",
        derivative_latex=(r"\frac{{1}}{{\sqrt{{2\pi}}}} e^{{-{x0}^{{2}}/2}}",),
    ),
    OpDef(
        name="softplus", symbol="softplus", arity=1,
        forward=_softplus,
        backward=_softplus_backward,
        sympy=lambda x: _sympy().log(1 + _sympy().exp(x)),
        derivatives=("σ({x0})",),
        expr_name="softplus", display="softplus({x0})",
        latex=r"\operatorname{{softplus}}\left({x0}\right)",
        derivative_latex=(r"\sigma\left({x0}\right)",),
    ),
    OpDef(
        name="step", symbol="𝟙", arity=1,
        forward=_step,
        backward=_zero,
        sympy=_sympy_step,
        derivatives=("0",),
        expr_name="step", display="𝟙({x0} > 0)",
        latex=r"\mathbb{{1}}\left({x0} > 0\right)",
        derivative_latex=(r"0",),
    ),
    OpDef(
        name="sign", symbol="sign", arity=1,
        forward=_sign,
        backward=_zero,
        sympy=lambda x: _sympy().sign(x),
        derivatives=("0",),
        expr_name="sign", display="sign({x0})",
        latex=r"\operatorname{{sign}}\left({x0}\right)",
        derivative_latex=(r"0",),
    ),
)

#: The extra ops by name (not in ``OPS``: the engines' own method tables are the engine's to extend).
EXTRA_OPS_BY_NAME: dict[str, OpDef] = {op.name: op for op in EXTRA_OPS}
