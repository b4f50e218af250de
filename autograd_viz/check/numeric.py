"""Numbers for the checker: random points that respect the SymPy assumptions, fast float evaluation, and the
exact re-evaluation that confirms a counterexample before anything is called refuted."""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Sequence
from typing import Any

import sympy as sp

REL_TOL = 1e-8


def sample(symbol: sp.Symbol, rng: random.Random, wide: bool = False) -> sp.Rational:
    """A random exact value allowed by ``symbol``'s assumptions (integers for integer symbols)."""
    span = 12 if wide else 3
    if symbol.is_integer:
        lo = 1 if symbol.is_positive else 0 if symbol.is_nonnegative else -span
        hi = -1 if symbol.is_negative else span if not symbol.is_positive else max(6, span)
        return sp.Integer(rng.randint(lo, hi))
    x = rng.uniform(-span, span)
    if symbol.is_positive or symbol.is_nonnegative:
        x = abs(x) + (0.05 if symbol.is_positive else 0.0)
    elif symbol.is_negative or symbol.is_nonpositive:
        x = -abs(x) - (0.05 if symbol.is_negative else 0.0)
    if symbol.is_nonzero and x == 0:
        x = 0.5
    return sp.Rational(round(x * 1000), 1000)


def order_symbols(exprs: Sequence[Any]) -> list[sp.Symbol]:
    """The free symbols of ``exprs`` sorted by name (deterministic)."""
    found: set = set()
    for e in exprs:
        found |= e.free_symbols
    return sorted(found, key=lambda s: s.name)


def compile_exprs(symbols: list[sp.Symbol], exprs: Sequence[sp.Expr]):
    """A float function of the symbols giving every expression (Sums run as Python loops)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sp.lambdify(symbols, list(exprs), modules=["math", "mpmath", "sympy"], cse=True)


def evaluate(fn, point: Sequence[sp.Rational]) -> list[float] | None:
    """Float values at ``point``, or None when one is undefined, complex or not finite there."""
    args = [int(p) if p.is_Integer else float(p) for p in point]
    try:
        values = fn(*args)
        out = [float(v) for v in values]
    except (ArithmeticError, ValueError, TypeError, AttributeError):
        return None
    return out if all(math.isfinite(v) for v in out) else None


def close(a: float, b: float, tol: float = REL_TOL) -> bool:
    return abs(a - b) <= tol * (1.0 + max(abs(a), abs(b)))


def exact_difference(diff: sp.Expr, point: dict[sp.Symbol, sp.Rational]) -> float | None:
    """lhs − rhs at a point with 40 significant digits (None if it does not evaluate to a real number)."""
    try:
        value = diff.xreplace(point).doit().evalf(40)
    except (ArithmeticError, ValueError, TypeError):
        return None
    if not value.is_number or value.has(sp.nan, sp.zoo) or not value.is_real:
        return None
    return float(value)


def as_float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None
