"""The inequality checker's sup/inf (``inequality.extremum``) skips SymPy's period check only when the function
certainly has no period, and then gives exactly what SymPy's ``maximum``/``minimum`` give."""

from __future__ import annotations

import pytest
import sympy as sp
from sympy.calculus.util import maximum, minimum

from autograd_viz.check.inequality import _not_periodic, extremum

x = sp.Symbol("x", real=True)
SIG = 1 / (1 + sp.exp(-x))

CASES = [  # (f, domain, upper): the bound sides of the built-in inequalities and a few more
    (SIG, sp.S.Reals, True),
    (SIG, sp.S.Reals, False),
    (sp.exp(-x) / (1 + sp.exp(-x)) ** 2, sp.S.Reals, True),
    (1 - sp.tanh(x) ** 2, sp.S.Reals, True),
    (SIG.subs(x, SIG), sp.S.Reals, True),
    (x**2 - 2 * x, sp.Interval(-1, 3), True),
    (x**2 - 2 * x, sp.Interval(-1, 3), False),
    (sp.Abs(x - 1) + x / 3, sp.Interval(-2, 2), False),
    (sp.log(x) - x, sp.Interval.open(0, sp.oo), True),
]


@pytest.mark.parametrize(("f", "domain", "upper"), CASES)
def test_same_extremum_as_sympy(f: sp.Expr, domain: sp.Set, upper: bool) -> None:
    assert _not_periodic(f, x)
    expected = (maximum if upper else minimum)(f, x, domain)
    assert sp.simplify(extremum(f, x, domain, upper) - expected) == 0


@pytest.mark.parametrize("f", [sp.sin(x), sp.cos(x) ** 2 + x, sp.exp(sp.I * x), sp.Mod(x, 2), sp.floor(x),
                               sp.log(sp.exp(x)) - x + 1, sp.Integer(3) + 0 * x])
def test_periodic_or_constant_functions_keep_sympys_check(f: sp.Expr) -> None:
    assert not _not_periodic(f, x)


def test_periodic_function_still_uses_the_period() -> None:
    assert extremum(sp.sin(x) * sp.cos(x), x, sp.S.Reals, True) == sp.Rational(1, 2)
    assert extremum(sp.sin(x), x, sp.Interval(-sp.pi, sp.pi / 4), False) == -1
