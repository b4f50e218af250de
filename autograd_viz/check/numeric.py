"""Numbers for the checker: a search designed to break a claim, inside the declared domains.

The candidate points are, in this order: the values the claim itself singles out (the zeros of what ``relu``,
``abs``, ``max``, ``min``, a ``Piecewise`` condition, a denominator or a logarithm's argument test, the
constants written in the claim, the ends of declared intervals, and the integers around all of these), then
moderate random values, then log-uniform magnitudes from 1e-6 to 1e6 of both signs. Every point satisfies every
declared assumption. Each point is screened in floating point and lhs − rhs is evaluated at 50 significant
digits (exactly, for rational expressions), so a difference below the floating-point tolerance is still seen;
a counterexample is confirmed with SymPy's exact arithmetic or its 50-digit ``evalf`` before it is reported.
"""

from __future__ import annotations

import builtins
import functools
import math
import random
import time
import types
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from autograd_viz.check.domain import Domain

REL_TOL = 1e-8
DIGITS = 50  # significant digits of the high-precision evaluation
HP_TOL = 1e-35  # |lhs − rhs| above this (relative to 1 + |lhs| + |rhs|) at 50 digits is a real difference
MAX_SPECIAL = 48  # special values per symbol, at most
MAX_SPECIAL_POINTS = 64  # points built from special values, at most
HP_POINTS = 12  # points at which lhs − rhs is also evaluated at 50 digits (all points are screened in floats)


def domain_of(symbol: sp.Symbol, domains: Mapping[str, Domain]) -> Domain:
    """The declared domain of ``symbol``, else the one its SymPy assumptions describe (matrix entries, indices)."""
    if symbol.name in domains:
        return domains[symbol.name]
    if symbol.is_integer:
        lo = 1 if symbol.is_positive else 0 if symbol.is_nonnegative else -sp.oo
        return Domain(sp.Integer(lo) if lo != -sp.oo else -sp.oo, sp.oo, lo == -sp.oo, True, True)
    if symbol.is_positive:
        return Domain(sp.Integer(0), sp.oo, True, True)
    if symbol.is_nonnegative:
        return Domain(sp.Integer(0), sp.oo, False, True)
    return Domain()


def sample(symbol: sp.Symbol, rng: random.Random, wide: bool = False,
           domains: Mapping[str, Domain] | None = None) -> sp.Expr:
    """A random exact value allowed for ``symbol`` (its declared domain, or its SymPy assumptions)."""
    return domain_of(symbol, domains or {}).sample(rng, wide)


def order_symbols(exprs: Sequence[Any]) -> list[sp.Symbol]:
    """The free symbols of ``exprs`` sorted by name (deterministic)."""
    found: set = set()
    for e in exprs:
        found |= e.free_symbols
    return sorted(found, key=lambda s: s.name)


def compile_exprs(symbols: list[sp.Symbol], exprs: Sequence[sp.Expr]) -> Callable[..., Any]:
    """A float function of the symbols giving every expression (Sums run as Python loops)."""
    return _lambdify(tuple(symbols), tuple(exprs), ("math", "mpmath", "sympy"))


def compile_precise(symbols: list[sp.Symbol], exprs: Sequence[sp.Expr]) -> Callable[..., Any]:
    """An mpmath function of the symbols (for 50-digit evaluation under ``mpmath.workdps``): the code
    :func:`compile_exprs` generates for the same expressions (both use SymPy's mpmath printer: numbers are
    ``mpf``), run with mpmath's functions in place of math's. One lambdify serves both (the second was 7% of the
    checker's time); a name mpmath lacks falls back to a lambdify of its own."""
    fast = compile_exprs(symbols, exprs)
    names = _precise_names()
    if not all(n in names or hasattr(builtins, n) for n in _global_names(fast.__code__)):
        return _lambdify(tuple(symbols), tuple(exprs), ("mpmath", "sympy"))
    return types.FunctionType(fast.__code__, names, fast.__name__, fast.__defaults__, fast.__closure__)


@functools.cache
def _precise_names() -> dict[str, Any]:
    """The namespace lambdify builds for ``modules=["mpmath", "sympy"]``."""
    return sp.lambdify([], [0], modules=["mpmath", "sympy"]).__globals__


def _global_names(code: types.CodeType) -> set[str]:
    """The global names a function's code (and the code nested in it: generator expressions) reads."""
    out = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            out |= _global_names(c)
    return out


@functools.lru_cache(maxsize=256)
def _lambdify(symbols: tuple[sp.Symbol, ...], exprs: tuple[sp.Expr, ...], modules: tuple[str, ...]
              ) -> Callable[..., Any]:
    """SymPy's lambdify with common subexpressions, remembered (the diagnosis screens the same expressions
    again); no docstring (``docstring_limit=0``): printing every expression for it took a quarter of the time."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sp.lambdify(list(symbols), list(exprs), modules=list(modules), cse=True, docstring_limit=0)


def evaluate(fn: Callable[..., Any], point: Sequence[sp.Expr]) -> list[float] | None:
    """Float values at ``point``, or None when one is undefined, complex or not finite there."""
    args = [int(p) if p.is_Integer else float(p) for p in point]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = fn(*args)
        out = [float(v) for v in values]
    except (ArithmeticError, ValueError, TypeError, AttributeError, RecursionError):
        return None
    return out if all(math.isfinite(v) for v in out) else None


def evaluate_precise(fn: Callable[..., Any], point: Sequence[sp.Expr]) -> list[Any] | None:
    """mpmath values at 50 digits (plus guard digits), or None where undefined or complex."""
    import mpmath

    with mpmath.workdps(DIGITS + 15):
        args = [int(p) if p.is_Integer else mpmath.mpf(int(p.p)) / int(p.q) for p in point]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                values = fn(*args)
            out = []
            for v in values:
                v = mpmath.mpmathify(v)
                if isinstance(v, mpmath.mpc):
                    if abs(v.imag) > mpmath.mpf(10) ** (-DIGITS) * (1 + abs(v.real)):
                        return None
                    v = v.real
                if not mpmath.isfinite(v):
                    return None
                out.append(v)
        except (ArithmeticError, ValueError, TypeError, AttributeError, RecursionError):
            return None
    return out


def close(a: float, b: float, tol: float = REL_TOL) -> bool:
    return abs(a - b) <= tol * (1.0 + max(abs(a), abs(b)))


def _settled(diff: sp.Expr, point: Mapping[sp.Symbol, sp.Expr]) -> sp.Expr | None:
    """lhs − rhs at a point: a Rational where SymPy's arithmetic is exact, else a 50-digit real number (None
    if it does not evaluate to a real number)."""
    try:
        value = diff.xreplace(dict(point)).doit()
        if not value.is_Rational:
            value = value.evalf(DIGITS)
    except (ArithmeticError, ValueError, TypeError, RecursionError):
        return None
    if not value.is_number or value.has(sp.nan, sp.zoo, sp.oo, -sp.oo) or not value.is_real:
        return None
    return value


def exact_difference(diff: sp.Expr, point: Mapping[sp.Symbol, sp.Expr]) -> float | None:
    """lhs − rhs at a point: exact where SymPy's arithmetic is, else to 50 significant digits (None if it
    does not evaluate to a real number)."""
    value = _settled(diff, point)
    if value is None:
        return None
    return float(value) if value != 0 or value.is_Rational else 0.0


def differs(diff: sp.Expr, point: Mapping[sp.Symbol, sp.Expr], scale: float) -> tuple[bool, str]:
    """(True, how) if lhs − rhs is certainly nonzero at ``point``: an exact nonzero rational, or a 50-digit
    value above the rounding of the evaluation (relative to ``scale``)."""
    value = _settled(diff, point)
    if value is None:
        return False, ""
    if value.is_Rational:
        return value != 0, "exactly"
    return abs(float(value)) > HP_TOL * (1.0 + scale), f"to {DIGITS} digits"


def as_float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return out if math.isfinite(out) else None


# --- the points a search must visit -------------------------------------------------------------------------
def critical_expressions(exprs: Sequence[sp.Expr]) -> list[sp.Expr]:
    """Sub-expressions whose zeros are kinks, poles or domain edges: the arguments of ``Abs``/``sign``,
    ``Max``/``Min`` differences, ``Piecewise`` conditions, denominators, arguments of ``log`` and of roots."""
    out: list[sp.Expr] = []
    seen: set = set()  # a subtree met again (matrix entries share most of theirs) adds nothing new: skipped
    for e in exprs:
        walk = sp.preorder_traversal(e)
        for node in walk:
            if isinstance(node, sp.Basic):
                if node in seen:
                    walk.skip()
                    continue
                seen.add(node)
            if isinstance(node, sp.Abs | sp.sign | sp.Heaviside):
                out.append(node.args[0])
            elif isinstance(node, sp.Max | sp.Min):
                a = node.args
                out += [a[i] - a[j] for i in range(len(a)) for j in range(i + 1, len(a))]
            elif isinstance(node, sp.Piecewise):
                for _, cond in node.args:
                    if isinstance(cond, sp.core.relational.Relational):
                        out.append(cond.lhs - cond.rhs)
            elif isinstance(node, sp.Pow) and node.exp.is_number and (node.exp.is_negative or not node.exp.is_integer):
                out.append(node.base)
            elif isinstance(node, sp.log):
                out += [node.args[0], node.args[0] - 1]
    return list(dict.fromkeys(x for x in out if x.free_symbols))


def claim_numbers(exprs: Sequence[sp.Expr]) -> list[sp.Expr]:
    """The numbers written in the claim (11 in ``min(x, 11)``, 1/3 in ``(x - 1/3)**2``), and their negatives."""
    found: list[sp.Expr] = []
    for e in exprs:
        for a in sorted(e.atoms(sp.Rational), key=lambda r: (abs(r), r)):  # a set: its order varies by run
            if a not in (0, 1, -1) and abs(a) <= 10**6:
                found += [a, -a]
    return list(dict.fromkeys(found))


def _roots(u: sp.Expr, s: sp.Symbol, deadline: float) -> list[sp.Expr]:
    """Real zeros of ``u`` in ``s`` (``u`` may hold other symbols when it is linear in ``s``)."""
    if time.monotonic() > deadline:
        return []
    return list(_solve_real(u, s))


@functools.lru_cache(maxsize=1024)
def _solve_real(u: sp.Expr, s: sp.Symbol) -> tuple[sp.Expr, ...]:
    """SymPy's real solutions of u = 0 for small one-symbol ``u``, or the root of ``u`` linear in ``s``;
    remembered, as the claims of a file share their kinks and denominators."""
    try:
        if u.free_symbols == {s}:
            if u.is_polynomial(s) and sp.degree(u, s) <= 4 or sp.count_ops(u) <= 12:
                sol = sp.solveset(u, s, sp.S.Reals)
                if isinstance(sol, sp.FiniteSet) and len(sol) <= 8:
                    return tuple(r for r in sol if r.is_real)
            return ()
        if u.is_polynomial(s) and sp.degree(u, s) == 1:
            a, b = sp.Poly(u, s).all_coeffs()
            return (sp.cancel(-b / a),)
    except (NotImplementedError, ValueError, TypeError, sp.PolynomialError, RecursionError, AttributeError):
        return ()
    return ()


@dataclass
class Candidates:
    """Special values per symbol (numbers, or expressions in the other symbols) and how they were found."""

    values: dict[sp.Symbol, list[sp.Expr]] = field(default_factory=dict)
    count: int = 0


def special_values(exprs: Sequence[sp.Expr], symbols: list[sp.Symbol], domains: Mapping[str, Domain],
                   seconds: float = 0.5) -> Candidates:
    """For each symbol, the values the claim singles out (see the module docstring), in the symbol's domain
    where they are numbers; roots that depend on other symbols are kept as expressions."""
    deadline = time.monotonic() + seconds
    crit = critical_expressions(exprs)
    free = [u.free_symbols for u in crit]  # once, not once per symbol (matrix claims have dozens of symbols)
    numbers = claim_numbers(exprs)
    out = Candidates()
    for s in symbols:
        d = domain_of(s, domains)
        vals: list[sp.Expr] = []
        for u, u_free in zip(crit, free, strict=True):
            if s in u_free:
                for r in _roots(u, s, deadline):
                    vals.append(r)
                    if r.is_number:
                        f = sp.floor(r)
                        vals += [f, f + 1, f - 1]
        for c in numbers:
            vals += [c, sp.floor(c), sp.floor(c) + 1]
        vals += d.special()
        keep: list[sp.Expr] = []
        for v in dict.fromkeys(vals):
            if v.is_number:
                if not v.is_real:
                    continue
                v = v if v.is_Rational else sp.Rational(str(sp.N(v, 30)))
                if not d.contains(v):
                    v = d.clip(v) if d.integer else None
                    if v is None:
                        continue
            keep.append(v)
        out.values[s] = list(dict.fromkeys(keep))[:MAX_SPECIAL]
        out.count += len(out.values[s])
    return out


def _resolve(point: dict[sp.Symbol, sp.Expr], s: sp.Symbol, v: sp.Expr, d: Domain) -> bool:
    if not v.is_number:
        v = v.xreplace(point)
        if not v.is_number or not v.is_real:
            return False
        v = v if v.is_Rational else sp.Rational(str(sp.N(v, 30)))
        if not d.contains(v):
            return False
    point[s] = v
    return True


def search_points(exprs: Sequence[sp.Expr], symbols: list[sp.Symbol], domains: Mapping[str, Domain],
                  rng: random.Random, random_points: int = 24, special: bool = True
                  ) -> tuple[list[dict[sp.Symbol, sp.Expr]], int]:
    """(points, how many are special): every special value of every symbol with the others moderate, all
    symbols at special values together, then moderate and far (log-uniform up to 1e6) random points."""
    if not symbols:
        return [{}], 0
    cands = special_values(exprs, symbols, domains) if special else Candidates({s: [] for s in symbols})
    doms = {s: domain_of(s, domains) for s in symbols}

    def base(wide: bool = False) -> dict[sp.Symbol, sp.Expr]:
        return {s: doms[s].sample(rng, wide) for s in symbols}

    points: list[dict[sp.Symbol, sp.Expr]] = []
    for s in symbols:
        for v in cands.values[s]:
            p = base()
            if _resolve(p, s, v, doms[s]):
                points.append(p)
    for k in range(3):  # every symbol at one of its special values at once
        p = base()
        ok = True
        for s in symbols:
            vals = cands.values[s]
            if vals:
                ok = _resolve(p, s, vals[min(k, len(vals) - 1)] if k < 2 else rng.choice(vals), doms[s]) and ok
        if ok:
            points.append(p)
    if len(points) > MAX_SPECIAL_POINTS:  # many symbols (matrix entries): a spread-out share of them
        step = len(points) / MAX_SPECIAL_POINTS
        points = [points[int(k * step)] for k in range(MAX_SPECIAL_POINTS)] + points[-3:]
    n_special = len(points)
    for k in range(random_points):
        points.append(base(wide=k % 2 == 1))
    return points, n_special


@dataclass
class Search:
    """What a search for a counterexample did: the points that evaluated, how many were special, how many
    were evaluated at 50 digits, and the mismatch it confirmed (if any)."""

    valid: int = 0
    special: int = 0
    precise: int = 0
    largest: float = 0.0
    mismatch: tuple | None = None  # (point, lhs float, rhs float, entry index, how confirmed)
    first_point: dict | None = None

    def describe(self, symbols: Sequence[sp.Symbol], domains: Mapping[str, Domain]) -> str:
        if not symbols:
            return "no free symbols: both sides evaluated exactly"
        ranges = ", ".join(f"{s} ∈ {domain_of(s, domains).describe()}" for s in symbols[:6]
                           if s.name in domains and domains[s.name] != Domain())
        text = (f"held at {self.valid} points ({self.special} chosen from the claim's kinks, zeros, constants and "
                f"domain ends; the rest random, magnitudes up to 1e6), lhs − rhs at {DIGITS} digits at "
                f"{self.precise} of them")
        return text + (f"; {ranges}" if ranges else "")


def search(pairs: list[tuple[sp.Expr, sp.Expr]], domains: Mapping[str, Domain], rng: random.Random,
           random_points: int = 24, seconds: float = 3.0, special: bool = True, precise: bool = True) -> Search:
    """Try to break ``lhs == rhs`` entry by entry; see the module docstring."""
    exprs = [e for pair in pairs for e in pair]
    symbols = order_symbols(exprs)
    diffs = [a - b for a, b in pairs]
    points, n_special = search_points(diffs, symbols, domains, rng, random_points, special)
    out = Search(special=n_special)
    fast = compile_exprs(symbols, exprs)
    hp_fn = None
    deadline = time.monotonic() + seconds
    for k, point in enumerate(points):
        if out.valid and time.monotonic() > deadline:
            break
        args = [point[s] for s in symbols]
        values = evaluate(fast, args)
        if values is None:
            continue
        out.valid += 1
        out.first_point = out.first_point or point
        suspects = [j for j in range(len(pairs)) if not close(values[2 * j], values[2 * j + 1])]
        if precise and not suspects and out.precise < HP_POINTS and (k < 6 or k >= n_special or k % 8 == 0):
            if hp_fn is None:
                hp_fn = compile_precise(symbols, exprs)
            hp = evaluate_precise(hp_fn, args)  # both sides at 65 digits; the difference is rounded once
            if hp is not None:
                out.precise += 1
                scale = [1.0 + abs(values[2 * j]) + abs(values[2 * j + 1]) for j in range(len(pairs))]
                suspects = [j for j in range(len(pairs)) if abs(float(hp[2 * j] - hp[2 * j + 1])) > HP_TOL * scale[j]]
        for j in suspects:
            a, b = values[2 * j], values[2 * j + 1]
            bad, how = differs(diffs[j], point, abs(a) + abs(b))
            if bad:
                out.mismatch = (point, a, b, j, how)
                return out
    return out
