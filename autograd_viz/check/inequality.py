"""Inequality claims: search for the largest violation numerically (grid + refinement for one variable, random
restarts otherwise), confirm any violation exactly, and prove with SymPy's supremum where it can be found."""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp
import sympy.calculus.util as sympy_calculus
from sympy.calculus.util import maximum, minimum

from autograd_viz.check import numeric
from autograd_viz.check.budget import Budget, BudgetExceeded
from autograd_viz.check.domain import MAGNITUDE, Domain
from autograd_viz.check.interval_range import interval_extremum, single_use
from autograd_viz.check.model import Model, as_scalar
from autograd_viz.check.readable import entry_names, formula_text
from autograd_viz.check.results import ClaimResult
from autograd_viz.check.spec import Claim, DerivationError, Spec
from autograd_viz.check.verify import symbolic_limit
from autograd_viz.ops import EXPR_FUNCTIONS

# SymPy's maximum()/minimum() settle small expressions (sigma' has 7 operations) in well under a second and
# practically never finish on larger ones (the derivative of sigma(sigma(x)) has 22): don't spend the time
# (unless x occurs once: then interval arithmetic settles it at any size, see interval_range).
MAX_OPS_FOR_EXTREMUM = 16


# Functions whose compositions (with + − × ÷ and real powers) are real exp-log functions, or piecewise ones: by
# Hardy's theorem such a function is eventually monotone, so it is periodic only when it is constant.
_NOT_PERIODIC = (sp.exp, sp.log, sp.tanh, sp.sinh, sp.cosh, sp.Abs, sp.Max, sp.Min, sp.Heaviside, sp.sign,
                 sp.Piecewise)


def _not_periodic(f: sp.Expr, x: sp.Symbol) -> bool:
    """True when ``f`` certainly has no period in ``x``: only the functions of :data:`_NOT_PERIODIC`, no
    imaginary unit, and two different finite values (so it is not constant). False means "cannot tell"."""
    if f.has(sp.I) or any(not isinstance(g, _NOT_PERIODIC) for g in f.atoms(sp.Function)):
        return False
    values = []
    for v in (sp.Integer(0), sp.Integer(1), sp.Integer(-1), sp.Rational(1, 3)):
        try:
            y = sp.N(f.xreplace({x: v}), 30)
        except (ArithmeticError, ValueError, TypeError, NotImplementedError):
            continue  # no value here: this point tells nothing
        if y.is_Number and y.is_finite and y.is_real:
            values.append(y)
    return any(abs(a - b) > 1e-20 * (1 + abs(a)) for a in values for b in values)


def extremum(f: sp.Expr, x: sp.Symbol, domain: sp.Set, upper: bool) -> sp.Expr:
    """SymPy's ``maximum`` (``minimum``) of ``f`` over ``domain``, without its check for a period when ``f``
    certainly has none (:func:`_not_periodic`): that check simplifies the whole expression and each of its
    parts, often more than half of the time, to answer "no period", which is then the same answer. First, where
    x occurs once, the exact interval arithmetic of :mod:`interval_range` (milliseconds)."""
    exact = interval_extremum(f, x, domain, upper)
    if exact is not None:
        return exact
    fn = maximum if upper else minimum
    if not _not_periodic(f, x):
        return fn(f, x, domain)
    original = sympy_calculus.periodicity
    sympy_calculus.periodicity = _no_period
    try:
        return fn(f, x, domain)
    finally:
        sympy_calculus.periodicity = original


def _worth_an_extremum(f: sp.Expr, x: sp.Symbol) -> bool:
    """Whether :func:`extremum` is likely to finish: x occurs once (interval arithmetic, any size), or ``f`` is
    small enough for SymPy's ``maximum`` (:data:`MAX_OPS_FOR_EXTREMUM`)."""
    return single_use(f, x) or sp.count_ops(f) <= MAX_OPS_FOR_EXTREMUM


def _no_period(f: Any, symbol: Any, check: bool = False) -> None:
    return None


def _domain(x: sp.Symbol, domains: dict[str, Domain]) -> sp.Set:
    return numeric.domain_of(x, domains).as_set()


def _grid(x: sp.Symbol, domains: dict[str, Domain]) -> np.ndarray:
    """Points across the whole domain: dense near its ends and 0, log-spaced out to 1e6 (both signs)."""
    d = numeric.domain_of(x, domains)
    lo = float(d.lo) if d.lo.is_finite else -MAGNITUDE
    hi = float(d.hi) if d.hi.is_finite else MAGNITUDE
    if d.integer:
        lo_i, hi_i = max(math.ceil(lo), -2000), min(math.floor(hi), 2000)
        pts = np.arange(lo_i, hi_i + 1, dtype=float)
        far = np.unique(np.round(np.geomspace(2000, MAGNITUDE, 200)))
        pts = np.concatenate([pts, far[far <= hi], -far[-far >= lo]])
    else:
        pos = np.concatenate([np.geomspace(1e-9, 1.0, 500), np.linspace(1.0, 40.0, 4000),
                              np.geomspace(40.0, MAGNITUDE, 600)])
        offsets = np.concatenate([pos, (hi - lo) * np.geomspace(1e-9, 1.0, 400)]) if math.isfinite(hi - lo) else pos
        pts = np.concatenate([[0.0], pos, -pos, lo + offsets, hi - offsets])
    pts = pts[(pts >= lo) & (pts <= hi)]
    pts = np.unique(pts)
    return pts[_allowed_fast(pts, d)]


def _allowed_fast(pts: np.ndarray, d: Domain) -> np.ndarray:
    ok = np.ones(len(pts), dtype=bool)
    if d.lo.is_finite:
        ok &= pts > float(d.lo) if d.lo_open else pts >= float(d.lo)
    if d.hi.is_finite:
        ok &= pts < float(d.hi) if d.hi_open else pts <= float(d.hi)
    if d.nonzero:
        ok &= pts != 0
    if d.integer:
        ok &= pts == np.round(pts)
    return ok


def _vector(f: sp.Expr, symbols: list[sp.Symbol]) -> Callable[..., Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sp.lambdify(symbols, f, modules="numpy")


def _values(fn: Callable[..., Any], columns: list[np.ndarray]) -> np.ndarray:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = np.asarray(fn(*columns), dtype=float)
        except (TypeError, ValueError, ZeroDivisionError, AttributeError):
            return np.full(len(columns[0]) if columns else 1, -np.inf)
    out = np.broadcast_to(out, (len(columns[0]),) if columns else out.shape).copy()
    out[~np.isfinite(out)] = -np.inf
    return out


def search_max(f: sp.Expr, symbols: list[sp.Symbol], rng: random.Random, domains: dict[str, Domain] | None = None
               ) -> tuple[float, list[float], int]:
    """(max of f found, where, points evaluated): a dense grid over the domain plus golden refinement for one
    variable, the claim's special points, random points (moderate and log-uniform far out) with local
    hill-climbing for several; every point lies in the declared domains."""
    domains = domains or {}
    fn = _vector(f, symbols)
    if not symbols:
        v = numeric.as_float(f.evalf())
        return (v if v is not None else -math.inf), [], 1
    doms = [numeric.domain_of(s, domains) for s in symbols]
    if len(symbols) == 1:
        x = symbols[0]
        grid = np.unique(np.concatenate([_grid(x, domains), [float(v) for v in
                                          numeric.special_values([f], symbols, domains).values[x] if v.is_number]]))
        vals = _values(fn, [grid])
        k = int(np.argmax(vals))
        best, at = float(vals[k]), float(grid[k])
        if not x.is_integer and not doms[0].integer and 0 < k < len(grid) - 1:
            lo, hi = float(grid[k - 1]), float(grid[k + 1])
            g = (math.sqrt(5) - 1) / 2
            for _ in range(80):
                a, b = hi - g * (hi - lo), lo + g * (hi - lo)
                fa, fb = _values(fn, [np.array([a, b])])
                lo, hi = (a, hi) if fb >= fa else (lo, b)
            mid = (lo + hi) / 2
            v = float(_values(fn, [np.array([mid])])[0])
            if v > best and doms[0].contains(sp.Rational(repr(mid))):
                best, at = v, mid
        return best, [at], len(grid) + 82
    points, _ = numeric.search_points([f], symbols, domains, rng, random_points=4000)
    cols = [np.array([float(p[s]) for p in points]) for s in symbols]
    n = len(points)
    vals = _values(fn, cols)
    k = int(np.argmax(vals))
    best, where = float(vals[k]), [float(c[k]) for c in cols]
    step = 0.5
    for _ in range(300):
        trial = [w + rng.gauss(0, step * (1 + abs(w))) if not d.integer else w for w, d in zip(where, doms,
                                                                                              strict=True)]
        if not all(d.contains(sp.Rational(repr(t))) for d, t in zip(doms, trial, strict=True)):
            step = max(step * 0.97, 1e-6)
            continue
        v = float(_values(fn, [np.array([t]) for t in trial])[0])
        if v > best:
            best, where = v, trial
        else:
            step = max(step * 0.97, 1e-6)
    return best, where, n + 300


def _exact_point(symbols: list[sp.Symbol], where: list[float], domains: dict[str, Domain]
                 ) -> dict[sp.Symbol, sp.Expr] | None:
    """The point as exact numbers, or None if it is not in the declared domains (never round onto an excluded
    value)."""
    out = {}
    for s, w in zip(symbols, where, strict=True):
        v = sp.Integer(round(w)) if s.is_integer or numeric.domain_of(s, domains).integer else sp.Rational(repr(w))
        if not numeric.domain_of(s, domains).contains(v):
            return None
        out[s] = v
    return out


def _violates(f: sp.Expr, point: dict | None, strict: bool) -> bool:
    if point is None:
        return False
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
    domains = spec.domains
    best, where, count = search_max(f, symbols, rng, domains)
    point = _exact_point(symbols, where, domains)
    if best > -1e-9 and not _violates(f, point, strict):  # a violation may sit at a simple number nearby
        for digits in (0, 2, 4):
            rounded = _exact_point(symbols, [round(w, digits) for w in where], domains)
            if _violates(f, rounded, strict):
                point = rounded
                break
    if not (best > -1e-9 and _violates(f, point, strict)):  # the special points, exactly (x = 1/3 in (x-1/3)**2 > 0)
        specials, _ = numeric.search_points([f], symbols, domains, rng, random_points=0)
        if specials and symbols:  # screened in floats; only near-violations are evaluated exactly
            fn = _vector(f, symbols)
            vals = _values(fn, [np.array([float(p[s]) for p in specials]) for s in symbols])
            for k in np.argsort(-vals)[:12]:
                if vals[k] > -1e-6 and _violates(f, specials[k], strict):
                    point = specials[k]
                    if vals[k] > best:
                        best, where = float(vals[k]), [float(point[s]) for s in symbols]
                    best = max(best, 0.0)
                    break
    bound_side = lhs if not rhs.free_symbols & set(symbols) else f
    kind = "sup" if upper else "inf"
    if best > -1e-9 and point is not None and _violates(f, point, strict):
        result.verdict, result.method = "refuted", "counterexample (confirmed exactly or to 50 digits)"
        result.counterexample = {s.name: float(v) for s, v in point.items()}
        result.counterexample_names = entry_names(model, point)  # W_0_0 printed as W[0, 0]
        result.lhs_value = numeric.as_float(lhs.xreplace(point).evalf(20))
        result.rhs_value = numeric.as_float(rhs.xreplace(point).evalf(20))
        result.message = f"lhs = {result.lhs_value:.10g}, rhs = {result.rhs_value:.10g}"
        try:
            known = None
            if not rhs.free_symbols and best > -math.inf:  # sup lhs = c + max(lhs − c); inf lhs = c − max(c − lhs)
                c = float(rhs)
                known = (c + best if upper else c - best, where)
            text, tex = _extreme(bound_side, symbols, upper, budget, rng, domains, known,
                                 entry_names(model, symbols))
            result.correct, result.correct_tex = f"{kind} {text}", f"\\{kind} {tex}"
        except BudgetExceeded:  # out of time for the hint: the counterexample stands
            budget.suspended = True
            result.correct = f"{kind}: could not be computed in the time left"
        except Exception as exc:  # a failing hint never discards a confirmed counterexample
            result.correct = f"{kind}: could not be computed ({type(exc).__name__})"
        return
    state.numeric = (f"largest lhs − rhs found over {count} points: {best:.3g}" if upper
                     else f"largest rhs − lhs found over {count} points: {best:.3g}")
    if len(symbols) == 1 and not rhs.free_symbols and _worth_an_extremum(lhs, symbols[0]):
        x = symbols[0]
        try:
            limit = min(budget.remaining() * 0.6, max(symbolic_limit(timeout), 4.0))
            ok, s = budget.attempt(lambda: extremum(lhs, x, _domain(x, domains), upper), limit)
        except BudgetExceeded:
            raise
        except Exception:  # SymPy cannot find the extremum: the bound stays numerical
            ok, s = False, None
        if ok and s is not None and s.is_number and s.is_finite:
            gap = s - rhs if upper else rhs - s
            value = numeric.as_float(gap.evalf(50))
            attained = True
            if strict and value is not None and abs(value) < 1e-40:
                try:
                    ok2, sol = budget.attempt(lambda: sp.solveset(sp.Eq(lhs, s), x, _domain(x, domains)),
                                              budget.remaining() / 2)
                except BudgetExceeded:
                    raise
                except Exception:
                    ok2, sol = False, None
                attained = not (ok2 and sol is sp.S.EmptySet)
            if value is not None and (value < -1e-40 or (not strict and abs(value) < 1e-40) or not attained):
                result.verdict = "proved"
                result.method = f"sympy: {kind} of lhs = {formula_text(_sigmoids_named(s))}" + (
                    "" if attained else " (not attained)")
                result.correct = f"{kind} {_exact_text(s)}"
                return
    if len(symbols) != 1 or rhs.free_symbols:
        try:
            ok, simple = budget.attempt(lambda: sp.simplify(f), symbolic_limit(timeout))
        except BudgetExceeded:
            raise
        except Exception:
            ok, simple = False, None
        if ok and (simple.is_negative or (not strict and simple.is_nonpositive)):
            result.verdict, result.method = "proved", "sympy: lhs − rhs has a known sign"
            return
    result.verdict, result.method = "numerical", state.numeric
    result.message = "SymPy could not find the extreme value to prove the bound"
    if not rhs.free_symbols and symbols:
        c = float(rhs)
        value = c + best if upper else c - best
        at = _at(symbols, where, entry_names(model, symbols))
        result.correct = f"{kind} ≈ {value:.10g} (numerical, at {at})"
        result.correct_tex = f"\\{kind} \\approx {value:.10g}"


class _Sigmoid(sp.Function):
    """σ in an exact bound, printed ``sigmoid(u)`` and (the op table's LaTeX) ``\\sigma\\left(u\\right)``."""

    @classmethod
    def eval(cls, u: sp.Expr) -> None:
        return None

    def _sympystr(self, printer: Any) -> str:
        return f"sigmoid({printer._print(self.args[0])})"

    def _latex(self, printer: Any) -> str:
        return str(EXPR_FUNCTIONS["sigmoid"].latex).format(x0=printer._print(self.args[0]))


def _sigmoids_named(s: sp.Expr) -> sp.Expr:
    """``s`` with every 1/(1 + exp(−u)) written σ(u), for printing only: the sup of a sigmoid chain reads
    sigmoid(sigmoid(sigmoid(1))) instead of fractions nested in exponents."""

    def is_sigmoid(e: sp.Expr) -> bool:
        if not (e.is_Pow and e.exp == -1 and e.base.is_Add and len(e.base.args) == 2 and 1 in e.base.args):
            return False
        other = e.base.args[0] if e.base.args[1] == 1 else e.base.args[1]
        return isinstance(other, sp.exp)

    def name(e: sp.Expr) -> sp.Expr:
        other = e.base.args[0] if e.base.args[1] == 1 else e.base.args[1]
        return _Sigmoid(-other.args[0])

    return s.replace(is_sigmoid, name) if isinstance(s, sp.Expr) else s


def _exact_text(s: sp.Expr) -> str:
    """"= 1/4" for a rational value; "= log(3) ≈ 1.098612289" otherwise: the exact form first (in the formula
    language: Euler's number is exp(1), E is the expectation), then its value so that it reads as a number."""
    if s.is_Rational:
        return f"= {s}"
    if s.is_infinite:  # never "≈ inf (exactly oo)"
        return "= ∞ (unbounded above)" if s.is_extended_positive else "= −∞ (unbounded below)"
    return f"= {formula_text(_sigmoids_named(s))} ≈ {float(s.evalf(20)):.10g}"


def _at(symbols: list[sp.Symbol], where: list[float], names: dict[str, str]) -> str:
    """The point of a numerical bound, matrix entries as the student writes them (``W[0, 1]=2``)."""
    return ", ".join(f"{names.get(s.name, s.name)}={w:.6g}" for s, w in zip(symbols, where, strict=True))


def _extreme(expr: sp.Expr, symbols: list[sp.Symbol], upper: bool, budget: Budget, rng: random.Random,
             domains: dict[str, Domain], known: tuple[float, list[float]] | None = None,
             names: dict[str, str] | None = None) -> tuple[str, str]:
    """The true sup (inf) of ``expr``: exact when SymPy finds it in time, else the numerical estimate
    (``known``: the search already done on this very function, reused rather than repeated)."""
    if len(symbols) == 1 and _worth_an_extremum(expr, symbols[0]):
        try:
            ok, s = budget.attempt(lambda: extremum(expr, symbols[0], _domain(symbols[0], domains), upper),
                                   min(budget.remaining() / 2, 1.5))
        except BudgetExceeded:
            raise
        except Exception:  # e.g. NotImplementedError: Unable to determine the domain
            ok, s = False, None
        if ok and s is not None and s.is_number and s.is_finite:
            return _exact_text(s), f"= {sp.latex(_sigmoids_named(s))}"
    if known is not None:
        value, where = known
    else:
        best, where, _ = search_max(expr if upper else -expr, symbols, rng, domains)
        value = best if upper else -best
    at = _at(symbols, where, names or {})
    if any(abs(w) >= 0.99 * MAGNITUDE for w in where):  # the best value sits at the edge of the search
        sign, tex = ("≥", "\\geq") if upper else ("≤", "\\leq")
        return (f"{sign} {value:.10g} (numerical, at the edge of the search, {at}: possibly unbounded)",
                f"{tex} {value:.10g}")
    return f"≈ {value:.10g} (numerical, at {at})", f"\\approx {value:.10g}"
