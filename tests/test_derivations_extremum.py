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


# --- exact interval arithmetic where x occurs once (check/interval_range.py) ------------------------------------
def _sigmoid_chain(n: int) -> sp.Expr:
    f = x
    for _ in range(n):
        f = 1 / (1 + sp.exp(-f))
    return f


def _nested_sigmoid_value(n: int, start: int) -> float:
    """σ applied n times to ``start``, at 50 digits with mpmath (independent of SymPy's interval code)."""
    import mpmath

    with mpmath.workdps(50):
        v = mpmath.mpf(start)
        for _ in range(n):
            v = 1 / (1 + mpmath.exp(-v))
        return float(v)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_sigmoid_chain_sup_and_inf_are_the_limits(n: int) -> None:
    """sup σⁿ over the reals is σⁿ⁻¹(1) (x → ∞), inf is σⁿ⁻¹(0) (x → −∞): exact, for any n."""
    from autograd_viz.check.interval_range import interval_extremum

    f = _sigmoid_chain(n)
    sup, inf = interval_extremum(f, x, sp.S.Reals, True), interval_extremum(f, x, sp.S.Reals, False)
    assert sup is not None and inf is not None
    assert abs(float(sp.N(sup, 30)) - _nested_sigmoid_value(n - 1, 1)) < 1e-15
    assert abs(float(sp.N(inf, 30)) - _nested_sigmoid_value(n - 1, 0)) < 1e-15
    if n <= 3:  # where SymPy's maximum finishes quickly: the same value exactly
        assert sp.simplify(sup - maximum(f, x, sp.S.Reals)) == 0


@pytest.mark.parametrize(("f", "domain", "inf", "sup"), [
    (sp.exp(-x**2), sp.S.Reals, 0, 1),
    (1 / (1 + x**2), sp.S.Reals, 0, 1),
    (x**2 - 2, sp.Interval(-1, 3), -2, 7),
    (-3 * x + 1, sp.Interval.open(0, 1), -2, 1),
    (sp.log(1 + sp.exp(x)), sp.S.Reals, 0, sp.oo),
    (1 / x, sp.Interval.Lopen(0, 1), 1, sp.oo),
    (sp.exp(1 / (1 + x**2)) * 2, sp.Interval(0, 1), 2 * sp.exp(sp.Rational(1, 2)), 2 * sp.E),
    (1 - sp.tanh(x) ** 2, sp.S.Reals, 0, 1),  # tanh is written with exp first
    (sp.tanh(x) + 3, sp.Interval(-sp.oo, 0), 2, 3),
])
def test_single_use_ranges_are_exact(f: sp.Expr, domain: sp.Set, inf: sp.Expr, sup: sp.Expr) -> None:
    """Ranges worked out by hand, and a dense sample of the function stays inside them and comes close."""
    import numpy as np

    from autograd_viz.check.interval_range import interval_extremum

    inf, sup = sp.sympify(inf), sp.sympify(sup)
    assert interval_extremum(f, x, domain, True) == sup
    assert interval_extremum(f, x, domain, False) == inf
    lo = float(domain.start) if domain.start.is_finite else -50.0
    hi = float(domain.end) if domain.end.is_finite else 50.0
    grid = np.linspace(lo, hi, 20001)[1:-1]
    with np.errstate(all="ignore"):
        vals = np.asarray(sp.lambdify(x, f, "numpy")(grid), dtype=float) * np.ones_like(grid)
    vals = vals[np.isfinite(vals)]
    assert vals.max() <= float(sup) + 1e-9 and vals.min() >= float(inf) - 1e-9
    if sup.is_finite:
        assert vals.max() >= float(sup) - 1e-2
    if inf.is_finite:
        assert vals.min() <= float(inf) + 1e-2


@pytest.mark.parametrize(("f", "domain"), [
    (x * sp.exp(-x), sp.S.Reals),  # x twice: interval arithmetic would overestimate
    (x - x**2, sp.Interval(0, 1)),
    (sp.sin(x), sp.S.Reals),  # not on the list of operations
    (sp.tanh(x) * x, sp.S.Reals),
    (2**x, sp.S.Reals),  # x in an exponent
    (sp.log(x), sp.Interval(-1, 1)),  # not real on the whole interval
    (1 / (1 + sp.exp(-x)), sp.Range(0, 10)),  # integers: not an interval
    (1 / (1 + sp.exp(-x)), sp.Union(sp.Interval(-2, -1), sp.Interval(1, 2))),
])
def test_interval_arithmetic_is_not_used_where_it_is_not_exact(f: sp.Expr, domain: sp.Set) -> None:
    from autograd_viz.check.interval_range import interval_extremum

    assert interval_extremum(f, x, domain, True) is None
    assert interval_extremum(f, x, domain, False) is None


def test_an_interval_that_misses_a_value_is_refused() -> None:
    """The probe check: a (wrong) interval that a value of the function lies outside is not used."""
    from autograd_viz.check.interval_range import _contains_probes

    f = 1 / (1 + sp.exp(-x))
    assert _contains_probes(f, x, sp.S.Reals, sp.Integer(0), sp.Integer(1))
    assert not _contains_probes(f, x, sp.S.Reals, sp.Integer(0), sp.Rational(7, 10))  # σ(1000) ≈ 1
    assert not _contains_probes(f, x, sp.S.Reals, sp.Rational(3, 10), sp.Integer(1))  # σ(-1000) ≈ 0


def test_a_long_single_use_chain_is_worth_an_extremum_though_sympy_would_not_finish() -> None:
    """The gate in front of extremum() lets a long single-use sigmoid chain through, not the same chain with x
    twice, nor a long tanh chain (SymPy's interval arithmetic is slow on those: it is kept to short ones)."""
    from autograd_viz.check.inequality import MAX_OPS_FOR_EXTREMUM, _worth_an_extremum

    chain = _sigmoid_chain(6)
    assert sp.count_ops(chain) > MAX_OPS_FOR_EXTREMUM
    assert _worth_an_extremum(chain, x)
    assert not _worth_an_extremum(chain * x, x)
    assert extremum(chain, x, sp.S.Reals, True) is not None
    tanh_chain = x
    for _ in range(6):
        tanh_chain = sp.tanh(1 / (1 + sp.exp(-tanh_chain)))
    assert not _worth_an_extremum(tanh_chain, x)


def test_an_exact_sigmoid_chain_bound_is_printed_with_sigma() -> None:
    """The hint names σ: sigmoid(sigmoid(1)) in text (the formula language reads it back to the same number) and
    \\sigma in LaTeX (rendered by matplotlib's mathtext), not fractions nested in exponents."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.mathtext import MathTextParser

    from autograd_viz.check.inequality import _exact_text, _sigmoids_named
    from autograd_viz.check.interval_range import interval_extremum

    sup = interval_extremum(_sigmoid_chain(3), x, sp.S.Reals, True)
    text = _exact_text(sup)
    assert text.startswith("= sigmoid(sigmoid(1)) ≈ 0.6750375274")
    assert abs(_nested_sigmoid_value(2, 1) - 0.6750375274) < 1e-10
    tex = sp.latex(_sigmoids_named(sup))
    assert tex == r"\sigma\left(\sigma\left(1\right)\right)"
    MathTextParser("agg").parse(f"$\\sup = {tex}$")
    assert _sigmoids_named(sp.E / (1 + sp.E)) == sp.E / (1 + sp.E)  # only the 1/(1 + exp(-u)) shape is named
