"""A SymPy expression as a float64 NumPy function, without ``sympy.lambdify``.

``lambdify(..., "numpy")`` runs ``from numpy import *``, which loads NumPy's testing, f2py, ma, random and
polynomial packages and SymPy's code printers: about a third of a second of a cold ``explain`` that uses none of
them. The worked solution only needs the functions of the op table's SymPy forms and their derivatives, so
this walks the expression once into nested closures over ``numpy`` ufuncs. A function it does not know is
evaluated by SymPy itself, entry by entry (``evalf``), so the result is never guessed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograd_viz.ops import special

Fn = Callable[[Sequence[Any]], Any]

_UNARY: dict[str, Callable[[Any], Any]] = {
    "exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh, "sinh": np.sinh,
    "cosh": np.cosh, "Abs": np.abs, "sign": np.sign, "erf": special.erf,
    "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan,
}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "StrictGreaterThan": np.greater, "GreaterThan": np.greater_equal, "StrictLessThan": np.less,
    "LessThan": np.less_equal, "Equality": np.equal, "Unequality": np.not_equal,
}


def to_numpy(expr: Any, symbols: Sequence[Any]) -> Callable[..., Any]:
    """``f(*values)``: ``expr`` with ``symbols[k] = values[k]`` (floats or float64 arrays, broadcast)."""
    index = {s: k for k, s in enumerate(symbols)}
    fn = _build(expr, index)

    def f(*values: Any) -> Any:
        return fn([np.asarray(v, dtype=np.float64) for v in values])

    return f


_FOLDS = {"And": np.logical_and, "Or": np.logical_or, "Max": np.maximum, "Min": np.minimum}


def _const(value: Any) -> Fn:
    return lambda xs: value


def _build(e: Any, index: dict[Any, int]) -> Fn:  # noqa: C901 (one branch per kind of node)
    if e in index:
        k = index[e]
        return lambda xs: xs[k]
    if e.is_Number or e.is_NumberSymbol or not e.free_symbols:
        try:
            return _const(np.float64(float(e)))
        except TypeError:  # zoo, nan, complex numbers
            return _const(np.float64(np.nan))
    if e.is_Symbol:
        raise ValueError(f"the expression uses {e}, which is not one of the given symbols")
    name = type(e).__name__
    args = [_build(a, index) for a in e.args] if name != "Piecewise" else []
    if e.is_Add:
        return lambda xs: sum((a(xs) for a in args[1:]), args[0](xs))
    if e.is_Mul:
        def mul(xs: Sequence[Any]) -> Any:
            out = args[0](xs)
            for a in args[1:]:
                out = out * a(xs)
            return out
        return mul
    if e.is_Pow:
        base, exponent = args
        if e.exp == -1:
            return lambda xs: 1.0 / base(xs)
        if e.exp == 2:
            return lambda xs: base(xs) * base(xs)
        return lambda xs: np.power(base(xs), exponent(xs))
    if name in _UNARY and len(args) == 1:
        ufunc, (arg,) = _UNARY[name], args
        return lambda xs: ufunc(arg(xs))
    if name in _COMPARE:
        cmp, (left, right) = _COMPARE[name], args
        return lambda xs: cmp(left(xs), right(xs))
    if name == "BooleanTrue":
        return _const(np.True_)
    if name == "BooleanFalse":
        return _const(np.False_)
    if name in _FOLDS:  # n-ary And/Or/Max/Min: fold the arguments with the binary ufunc
        combine = _FOLDS[name]

        def fold(xs: Sequence[Any]) -> Any:
            out = args[0](xs)
            for a in args[1:]:
                out = combine(out, a(xs))
            return out
        return fold
    if name == "Not":
        (arg,) = args
        return lambda xs: np.logical_not(arg(xs))
    if name == "Heaviside":
        x = args[0]
        at_zero = args[1] if len(args) > 1 else _const(np.float64(0.5))
        return lambda xs: np.heaviside(x(xs), at_zero(xs))
    if name == "DiracDelta":  # d/dx sign = 2·δ(x), d/dx step = δ(x): 0 everywhere by the op table's convention
        x = args[0]
        return lambda xs: np.zeros_like(np.asarray(x(xs), dtype=np.float64))[()]
    if name == "Piecewise":
        pieces = [(_build(v, index), _build(c, index)) for v, c in e.args]

        def piecewise(xs: Sequence[Any]) -> Any:
            conds = [np.asarray(c(xs), dtype=bool) for _, c in pieces]
            values = [np.asarray(v(xs), dtype=np.float64) for v, _ in pieces]
            shape = np.broadcast_shapes(*(a.shape for a in (*conds, *values)))
            out = np.select([np.broadcast_to(c, shape) for c in conds],
                            [np.broadcast_to(v, shape) for v in values], default=np.nan)
            return out[()] if out.ndim == 0 else out
        return piecewise
    return _by_sympy(e, args)


def _by_sympy(e: Any, args: list[Fn]) -> Fn:
    """A function this module has no ufunc for: SymPy evaluates it at each entry (nan where not real)."""
    import sympy as sp

    func = e.func

    def one(*values: float) -> float:
        try:
            return float(sp.N(func(*(sp.Float(v) for v in values))))
        except (TypeError, ValueError):
            return math.nan

    vectorized = np.vectorize(one, otypes=[np.float64])

    def f(xs: Sequence[Any]) -> Any:
        out = vectorized(*(a(xs) for a in args))
        return out[()] if np.ndim(out) == 0 else out

    return f
