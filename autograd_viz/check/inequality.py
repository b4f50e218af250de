"""Inequality claims: search for the largest violation numerically (grid + refinement for one variable, random
restarts otherwise), confirm any violation exactly, and prove with SymPy's supremum where it can be found."""

from __future__ import annotations

import math
import random
import warnings
from typing import Any

import numpy as np
import sympy as sp
from sympy.calculus.util import maximum, minimum

from autograd_viz.check import numeric
from autograd_viz.check.budget import Budget
from autograd_viz.check.model import Model, as_scalar
from autograd_viz.check.results import ClaimResult
from autograd_viz.check.spec import Claim, DerivationError, Spec
from autograd_viz.check.verify import symbolic_limit

# SymPy's maximum()/minimum() settle small expressions (sigma' has 7 operations) in well under a second and
# practically never finish on larger ones (the derivative of sigma(sigma(x)) has 22): don't spend the time.
MAX_OPS_FOR_EXTREMUM = 16


def _domain(x: sp.Symbol) -> sp.Set:
    if x.is_integer:
        return sp.Range(1, sp.oo) if x.is_positive else sp.Integers
    if x.is_positive:
        return sp.Interval.open(0, sp.oo)
    if x.is_nonnegative:
        return sp.Interval(0, sp.oo)
    if x.is_negative:
        return sp.Interval.open(-sp.oo, 0)
    return sp.S.Reals


def _grid(x: sp.Symbol) -> np.ndarray:
    if x.is_integer:
        return np.arange(1 if x.is_positive else -200, 201, dtype=float)
    pos = np.concatenate([np.geomspace(1e-6, 1.0, 400), np.linspace(1.0, 40.0, 4000)])
    if x.is_positive or x.is_nonnegative:
        return pos if x.is_positive else np.concatenate([[0.0], pos])
    if x.is_negative or x.is_nonpositive:
        return -pos
    return np.concatenate([-pos[::-1], [0.0], pos])


def _vector(f: sp.Expr, symbols: list[sp.Symbol]):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sp.lambdify(symbols, f, modules="numpy")


def _values(fn, columns: list[np.ndarray]) -> np.ndarray:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = np.asarray(fn(*columns), dtype=float)
        except (TypeError, ValueError, ZeroDivisionError, AttributeError):
            return np.full(len(columns[0]) if columns else 1, -np.inf)
    out = np.broadcast_to(out, (len(columns[0]),) if columns else out.shape).copy()
    out[~np.isfinite(out)] = -np.inf
    return out


def search_max(f: sp.Expr, symbols: list[sp.Symbol], rng: random.Random) -> tuple[float, list[float], int]:
    """(max of f found, where, points evaluated): a dense grid plus golden refinement for one variable,
    random points with local hill-climbing for several."""
    fn = _vector(f, symbols)
    if not symbols:
        v = numeric.as_float(f.evalf())
        return (v if v is not None else -math.inf), [], 1
    if len(symbols) == 1:
        x = symbols[0]
        grid = _grid(x)
        vals = _values(fn, [grid])
        k = int(np.argmax(vals))
        best, where = float(vals[k]), float(grid[k])
        if not x.is_integer and 0 < k < len(grid) - 1:
            lo, hi = float(grid[k - 1]), float(grid[k + 1])
            g = (math.sqrt(5) - 1) / 2
            for _ in range(80):
                a, b = hi - g * (hi - lo), lo + g * (hi - lo)
                fa, fb = _values(fn, [np.array([a, b])])
                lo, hi = (a, hi) if fb >= fa else (lo, b)
            mid = (lo + hi) / 2
            v = float(_values(fn, [np.array([mid])])[0])
            if v > best:
                best, where = v, mid
        return best, [where], len(grid) + 82
    n = 4000
    cols = [np.array([float(numeric.sample(s, rng, wide=k % 2 == 1)) for k in range(n)]) for s in symbols]
    vals = _values(fn, cols)
    k = int(np.argmax(vals))
    best, where = float(vals[k]), [float(c[k]) for c in cols]
    step = 0.5
    for _ in range(300):
        trial = [w + rng.gauss(0, step) if not s.is_integer else w for w, s in zip(where, symbols, strict=True)]
        v = float(_values(fn, [np.array([t]) for t in trial])[0])
        if v > best:
            best, where = v, trial
        else:
            step = max(step * 0.97, 1e-6)
    return best, where, n + 300


def _exact_point(symbols: list[sp.Symbol], where: list[float]) -> dict[sp.Symbol, sp.Expr]:
    return {s: sp.Integer(round(w)) if s.is_integer else sp.Rational(repr(w)) for s, w in zip(symbols, where,
                                                                                            strict=True)}


def _violates(f: sp.Expr, point: dict, strict: bool) -> bool:
    d = numeric.exact_difference(f, point)
    if d is None:
        return False
    if d > 1e-30:
        return True
    return strict and abs(d) <= 1e-30 and sp.simplify(f.xreplace(point)) == 0


def check_inequality(spec: Spec, claim: Claim, model: Model, lhs: Any, rhs: Any, budget: Budget,
                     result: ClaimResult, state: Any, timeout: float = 10.0) -> None:
    """Fill ``result`` for an inequality claim (relation <=, <, >=, >)."""
    lhs, rhs = as_scalar(lhs, "an inequality side"), as_scalar(rhs, "an inequality side")
    upper = claim.relation in ("<=", "<")
    strict = claim.relation in ("<", ">")
    f = lhs - rhs if upper else rhs - lhs  # the claim is f <= 0 (f < 0 when strict)
    symbols = numeric.order_symbols([f])
    unknown = set(claim.forall) - {s.name for s in symbols}
    if unknown and not symbols:
        raise DerivationError(f"forall: {sorted(unknown)} do not appear in the claim")
    rng = random.Random(99)
    best, where, count = search_max(f, symbols, rng)
    point = _exact_point(symbols, where)
    if best > -1e-9 and not _violates(f, point, strict):  # a violation may sit at a simple number nearby
        for digits in (0, 2, 4):
            rounded = _exact_point(symbols, [round(w, digits) for w in where])
            if _violates(f, rounded, strict):
                point = rounded
                break
    bound_side = lhs if not rhs.free_symbols & set(symbols) else f
    kind = "sup" if upper else "inf"
    if best > -1e-9 and _violates(f, point, strict):
        result.verdict, result.method = "refuted", "counterexample (confirmed to 40 digits)"
        result.counterexample = {s.name: float(v) for s, v in point.items()}
        result.lhs_value = numeric.as_float(lhs.xreplace(point).evalf(20))
        result.rhs_value = numeric.as_float(rhs.xreplace(point).evalf(20))
        result.message = f"lhs = {result.lhs_value:.10g}, rhs = {result.rhs_value:.10g}"
        text, tex = _extreme(bound_side, symbols, upper, budget, rng)
        result.correct, result.correct_tex = f"{kind} {text}", f"\\{kind} {tex}"
        return
    state.numeric = (f"largest lhs − rhs found over {count} points: {best:.3g}" if upper
                     else f"largest rhs − lhs found over {count} points: {best:.3g}")
    if len(symbols) == 1 and not rhs.free_symbols and sp.count_ops(lhs) <= MAX_OPS_FOR_EXTREMUM:
        x = symbols[0]
        fn = maximum if upper else minimum
        ok, s = budget.attempt(lambda: fn(lhs, x, _domain(x)), symbolic_limit(timeout))
        if ok and s is not None and s.is_number and s.is_finite:
            gap = s - rhs if upper else rhs - s
            value = numeric.as_float(gap.evalf(50))
            attained = True
            if strict and value is not None and abs(value) < 1e-40:
                ok2, sol = budget.attempt(lambda: sp.solveset(sp.Eq(lhs, s), x, _domain(x)), budget.remaining() / 2)
                attained = not (ok2 and sol is sp.S.EmptySet)
            if value is not None and (value < -1e-40 or (not strict and abs(value) < 1e-40) or not attained):
                result.verdict = "proved"
                result.method = f"sympy: {kind} of lhs = {s}" + ("" if attained else " (not attained)")
                result.correct = f"{kind} {_exact_text(s)}"
                return
    if len(symbols) != 1 or rhs.free_symbols:
        ok, simple = budget.attempt(lambda: sp.simplify(f), symbolic_limit(timeout))
        if ok and (simple.is_negative or (not strict and simple.is_nonpositive)):
            result.verdict, result.method = "proved", "sympy: lhs − rhs has a known sign"
            return
    result.verdict, result.method = "numerical", state.numeric
    result.message = "SymPy could not find the extreme value to prove the bound"
    if not rhs.free_symbols and symbols:
        c = float(rhs)
        value = c + best if upper else c - best
        at = ", ".join(f"{s}={w:.6g}" for s, w in zip(symbols, where, strict=True))
        result.correct = f"{kind} ≈ {value:.10g} (numerical, at {at})"
        result.correct_tex = f"\\{kind} \\approx {value:.10g}"


def _exact_text(s: sp.Expr) -> str:
    """"= 1/4" for a rational value; "≈ 0.7310585786 (exactly E/(1 + E))" otherwise, so it reads as a number."""
    if s.is_Rational:
        return f"= {s}"
    return f"≈ {float(s.evalf(20)):.10g} (exactly {s})"


def _extreme(expr: sp.Expr, symbols: list[sp.Symbol], upper: bool, budget: Budget, rng: random.Random
             ) -> tuple[str, str]:
    """The true sup (inf) of ``expr``: exact when SymPy finds it in time, else the numerical estimate."""
    if len(symbols) == 1 and sp.count_ops(expr) <= MAX_OPS_FOR_EXTREMUM:
        fn = maximum if upper else minimum
        ok, s = budget.attempt(lambda: fn(expr, symbols[0], _domain(symbols[0])), min(budget.remaining() / 2, 1.5))
        if ok and s is not None and s.is_number:
            return _exact_text(s), f"= {sp.latex(s)}"
    best, where, _ = search_max(expr if upper else -expr, symbols, rng)
    value = best if upper else -best
    at = ", ".join(f"{s}={w:.6g}" for s, w in zip(symbols, where, strict=True))
    return f"≈ {value:.10g} (numerical, at {at})", f"\\approx {value:.10g}"
