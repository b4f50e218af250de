"""The op-table entry type and the two math backends (Python floats and NumPy arrays).

An op is written once against a backend ``m`` (``m.exp``, ``m.where``, ...), so the same forward and
backward serve the scalar engine (``math`` on floats, fast) and the tensor engine (NumPy on arrays).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograd_viz.errors import DomainError
from autograd_viz.ops import special


@dataclass(frozen=True)
class OpDef:
    """One primitive op: numeric forward, numeric backward (VJP), SymPy forward, readable derivatives.

    ``forward(m, *xs, **attrs)`` returns the output, or ``(output, saved)`` when ``saves`` is true.
    ``backward(m, g, x, out, attrs, saved, needs)`` returns one gradient per input (``None`` where there is
    none): ``g`` is the upstream adjoint, ``x`` the tuple of input values, ``out`` the output value, ``attrs``
    the op's attributes (``None`` when it has none), ``saved`` what the forward saved, ``needs[i]`` whether
    input ``i`` needs a gradient (an op may skip that work). ``m`` is the math backend (floats or arrays).
    ``sympy(*xs, **attrs)`` is the op on SymPy expressions (``None`` for tensor-only ops).
    ``derivatives[i]`` is a short text of the local derivative d out / d input_i for drawings, with
    ``{x0}``, ``{x1}``, ``{out}`` and attribute names as placeholders (e.g. ``"σ({x0})(1−σ({x0}))"``);
    ``derivative_latex[i]`` is the same derivative in LaTeX. Both are checked against ``sympy.diff`` of the
    SymPy form (tests/test_ops_text.py). Tensor-only ops write the vector-Jacobian product with ``ḡ``
    (LaTeX ``\\bar{g}``) for the upstream gradient instead. ``placeholders(values)`` may add computed
    placeholders from the labels and raw attributes (``powc`` shows ``2·x`` rather than ``2·x^(2−1)``).
    """

    name: str
    symbol: str
    arity: int
    forward: Callable[..., Any]
    backward: Callable[..., tuple]
    sympy: Callable[..., Any] | None
    derivatives: tuple[str, ...]
    saves: bool = False
    elementwise: bool = True
    attr_names: tuple[str, ...] = field(default=())
    placeholders: Callable[[dict], dict] | None = None
    #: The op's name as a function of the expression language (``sigmoid(z)``), ``None`` for operators (``+``).
    expr_name: str | None = None
    #: The forward as a person writes it, ``{x0}``/``{x1}``/attribute placeholders: ``σ({x0})``, ``{x0} × {x1}``.
    display: str = ""
    #: The forward in LaTeX with the same placeholders: ``\\sigma\\left({x0}\\right)``.
    latex: str = ""
    #: ``derivatives`` in LaTeX, one per input, same placeholders: ``1 - \\tanh^{{2}}\\left({x0}\\right)``.
    derivative_latex: tuple[str, ...] = ()
    #: The local derivative is never exactly 0 in exact arithmetic (σ, tanh, exp, erf, ...): an adjoint that is
    #: exactly 0 through this op is a float underflow of a saturated unit, which drawings call vanishing.
    nonzero_derivative: bool = False

    def local_derivative(self, i: int, labels: list[str], out: str = "out", attrs: dict | None = None) -> str:
        """The readable derivative of the output w.r.t. input ``i``, with the inputs named ``labels``."""
        return self._fill(self.derivatives[i], labels, attrs, out)

    def local_derivative_latex(self, i: int, labels: list[str], out: str = "out",
                               attrs: dict | None = None) -> str:
        """The derivative of the output w.r.t. input ``i`` in LaTeX, with LaTeX ``labels`` for the inputs."""
        return self._fill(self.derivative_latex[i], labels, attrs, out)

    def display_text(self, labels: list[str], attrs: dict | None = None) -> str:
        """The forward formula applied to ``labels`` (``a × x₀``, ``σ(z)``), for drawings and steppers."""
        return self._fill(self.display, labels, attrs)

    def latex_text(self, labels: list[str], attrs: dict | None = None) -> str:
        """The forward formula in LaTeX applied to LaTeX ``labels``."""
        return self._fill(self.latex, labels, attrs)

    def _fill(self, template: str, labels: list[str], attrs: dict | None, out: str = "out") -> str:
        values: dict[str, Any] = {f"x{k}": label for k, label in enumerate(labels)}
        values["out"] = out
        values.update(attrs or {})
        if self.placeholders is not None:
            values.update(self.placeholders(values))
        return template.format_map(_Texts(values))


class _Texts(dict):
    """Placeholder values, each turned into text only when the template uses it (a target array is not)."""

    def __getitem__(self, key: str) -> str:
        return _short(dict.__getitem__(self, key))


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class ScalarMath:
    """Backend for Python floats: ``math`` functions with domain errors named by op."""

    name = "scalar"
    exp = staticmethod(math.exp)
    tanh = staticmethod(math.tanh)
    fabs = staticmethod(abs)
    sin = staticmethod(math.sin)
    cos = staticmethod(math.cos)
    erf = staticmethod(math.erf)
    erfc = staticmethod(math.erfc)

    @staticmethod
    def softplus(x: float) -> float:
        """``log(1 + e^x)`` as ``max(x, 0) + log1p(e^−|x|)``: no overflow (softplus(1000) is 1000)."""
        return (x if x > 0.0 else 0.0) + math.log1p(math.exp(-abs(x)))

    @staticmethod
    def step(x: float) -> float:
        """The indicator ``[x > 0]`` as a float (0 at x = 0, like relu's mask)."""
        return 1.0 if x > 0.0 else 0.0

    @staticmethod
    def zeros_like(x: float) -> float:
        return 0.0

    @staticmethod
    def exp_safe(x: float) -> float:
        try:
            return math.exp(x)
        except OverflowError:
            return math.inf

    @staticmethod
    def log(x: float) -> float:
        if x <= 0.0:
            if x == 0.0:
                return -math.inf
            raise DomainError(f"log: input {x!r} is outside the domain (x > 0)")
        return math.log(x)

    @staticmethod
    def sqrt(x: float) -> float:
        if x < 0.0:
            raise DomainError(f"sqrt: input {x!r} is outside the domain (x >= 0)")
        return math.sqrt(x)

    @staticmethod
    def sigmoid(x: float) -> float:
        if x >= 0.0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)

    @staticmethod
    def sign(x: float) -> float:
        return float((x > 0.0) - (x < 0.0))

    @staticmethod
    def where(cond: bool, a: float, b: float) -> float:
        return a if cond else b

    @staticmethod
    def maximum(x: float, y: float) -> float:
        return x if x >= y else y

    @staticmethod
    def log_of_base(x: float) -> float:
        """``ln x`` in ``d(x^y)/dy = x^y ln x``: 0 at x = 0 (the limit from the right); undefined below 0."""
        if x > 0.0:
            return math.log(x)
        if x == 0.0:
            return 0.0
        raise DomainError(f"pow: the derivative of x^y with respect to y is undefined at the negative base x = "
                          f"{x!r} (x^y ln x needs x >= 0)")

    @staticmethod
    def power(x: float, p: float) -> float:
        try:
            out = x**p
        except ZeroDivisionError:
            raise DomainError(f"pow: 0 raised to the negative power {p!r}") from None
        except OverflowError:
            return math.inf
        if isinstance(out, complex):
            raise DomainError(f"pow: negative base {x!r} raised to the non-integer power {p!r}")
        return out


class ArrayMath:
    """Backend for NumPy arrays: vectorised, numerically stable, dtype-preserving."""

    name = "array"
    exp = staticmethod(np.exp)
    exp_safe = staticmethod(np.exp)
    tanh = staticmethod(np.tanh)
    fabs = staticmethod(np.abs)
    log = staticmethod(np.log)
    sqrt = staticmethod(np.sqrt)
    sign = staticmethod(np.sign)
    where = staticmethod(np.where)
    maximum = staticmethod(np.maximum)
    power = staticmethod(np.power)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    erf = staticmethod(special.erf)  # NumPy has none; float64-accurate, dtype-preserving (ops/special.py)
    erfc = staticmethod(special.erfc)
    zeros_like = staticmethod(np.zeros_like)

    @staticmethod
    def softplus(x: np.ndarray) -> np.ndarray:
        """``log(1 + e^x)`` as ``max(x, 0) + log1p(e^−|x|)``: no overflow in float32 or float64."""
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    @staticmethod
    def step(x: np.ndarray) -> np.ndarray:
        """The indicator ``[x > 0]`` in ``x``'s float dtype (0 at x = 0 and at nan, like relu's mask)."""
        x = np.asarray(x)
        return np.asarray(x > 0, dtype=x.dtype if x.dtype.kind == "f" else np.float64)

    @staticmethod
    def log_of_base(x: np.ndarray) -> np.ndarray:
        """``ln x`` in ``d(x^y)/dy = x^y ln x``: 0 at x = 0, nan below 0 (undefined there, as in PyTorch)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.where(x == 0, 0.0, np.nan)).astype(
                np.result_type(x, np.float32), copy=False)

    @staticmethod
    def sigmoid(x: np.ndarray) -> np.ndarray:
        # exp(-|x|) never overflows; both branches share it.
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0, e) / (1.0 + e)
