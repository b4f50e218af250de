"""The exact sup/inf of a one-variable expression in which the variable occurs once, by SymPy's interval
arithmetic (``AccumBounds``): sup σ(σ(σ(σ(x)))) = σ(σ(σ(1))) in a few milliseconds, where SymPy's ``maximum``
needs a second and gives up beyond four sigmoids.

Why the result is exact. Interval arithmetic always gives an enclosure of the range; it overestimates only when
a variable occurs more than once (x − x over [0, 1] gives [−1, 1]). When x occurs once and every operation on the
path from the root to x is continuous on its argument's interval and maps it onto the interval between the images
of its extreme points — + and × with numbers, a number power (SymPy splits x² at 0), exp, log — each step is the
exact image of an interval, so the whole is the exact range (its closure: a sup need not be attained). Anything
else (another function, x twice, an integer domain, a result that is not a real interval) returns None, and
SymPy's ``maximum``/``minimum`` decide as before. A few exact values of the function must also lie inside the
interval found: a check against a wrong rule in SymPy's interval arithmetic, not part of the argument.
"""

from __future__ import annotations

import sympy as sp
from sympy import AccumBounds

from autograd_viz.check import numeric

__all__ = ["interval_extremum", "single_use"]

_ON_THE_PATH = (sp.Add, sp.Mul, sp.Pow, sp.exp, sp.log)  # the operations allowed between the root and x
_PROBES = tuple(sp.sympify(p) for p in (0, "1/2", 1, 2, 10, 100, 1000))  # and their negatives: values the
#                                                                             interval must contain


def single_use(f: sp.Expr, x: sp.Symbol) -> bool:
    """True when x is the only symbol of ``f``, occurs in it once, and every node above it is + , ×, a number
    power (x in the base only), exp or log; no imaginary unit. (:func:`interval_extremum` first writes tanh
    with exp, where u still occurs once; the gate in :mod:`inequality` does not, on purpose: SymPy's interval
    arithmetic is fast on sigmoid chains but spent 74 s on a chain of six tanh∘σ, so only short tanh
    expressions, which pass the gate by their size, reach it.)"""
    if f.free_symbols != {x} or f.has(sp.I):
        return False
    node = f
    while node != x:
        if not isinstance(node, _ON_THE_PATH):
            return False
        holding = [a for a in node.args if a.has(x)]
        if len(holding) != 1:
            return False
        if isinstance(node, sp.Pow) and node.args[1].has(x):  # 2**x: x in the exponent
            return False
        node = holding[0]
    return sum(1 for a in sp.preorder_traversal(f) if a == x) == 1


def interval_extremum(f: sp.Expr, x: sp.Symbol, domain: sp.Set, upper: bool) -> sp.Expr | None:
    """sup (``upper``) or inf of ``f`` over ``domain`` (an interval), exactly; None when the method does not apply
    (see the module docstring)."""
    if not isinstance(domain, sp.Interval):
        return None
    g = _tanh_as_exp(f)
    if not single_use(g, x):
        return None
    try:
        bounds = g.xreplace({x: AccumBounds(domain.start, domain.end)})
    except (ArithmeticError, ValueError, TypeError, NotImplementedError):
        return None
    if not isinstance(bounds, AccumBounds):
        return None
    lo, hi = bounds.min, bounds.max
    if not all(v.is_extended_real for v in (lo, hi)) or (lo <= hi) is not sp.true:
        return None
    if not _contains_probes(f, x, domain, lo, hi):
        return None
    return hi if upper else lo


def _tanh_as_exp(f: sp.Expr) -> sp.Expr:
    """tanh(u) written 2/(1 + exp(−2u)) − 1 (SymPy's interval arithmetic has no tanh): the same function, with u
    still once, so ``1 - tanh(z)**2`` is settled too."""
    return f.replace(sp.tanh, lambda u: 2 / (1 + sp.exp(-2 * u)) - 1) if f.has(sp.tanh) else f


def _contains_probes(f: sp.Expr, x: sp.Symbol, domain: sp.Interval, lo: sp.Expr, hi: sp.Expr) -> bool:
    """Every finite value of ``f`` at the probe points inside ``domain`` lies in [lo, hi] (values at 65 digits
    with mpmath, compared to 30: SymPy's exact evaluation of σ⁶ at 16 points took a second)."""
    points = [v for p in _PROBES for v in (p, -p)]
    for end, inward in ((domain.start, 1), (domain.end, -1)):
        if end.is_finite:
            points += [end, end + inward * sp.Rational(1, 1000)]
    low = sp.N(lo, 30) if lo.is_finite else None
    high = sp.N(hi, 30) if hi.is_finite else None
    fn = numeric.compile_precise([x], [f])
    for v in dict.fromkeys(points):
        if not v.is_Rational or domain.contains(v) is not sp.true:
            continue
        values = numeric.evaluate_precise(fn, [v])
        if values is None:  # not a finite real number there
            continue
        y = sp.Float(values[0], 30)
        tol = sp.Float("1e-25", 30) * (1 + abs(y))
        if low is not None and y < low - tol or high is not None and y > high + tol:
            return False
    return True
