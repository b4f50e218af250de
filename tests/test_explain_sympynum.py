"""explain's SymPy-to-NumPy evaluator (used instead of lambdify for a faster cold start) against SymPy's own
evaluation, on the forms the op table's derivatives take: powers, σ, case splits, sign, Heaviside, erf."""

from __future__ import annotations

import math

import numpy as np
import pytest

sp = pytest.importorskip("sympy", reason="pip install -e '.[all]' for SymPy")

from autograd_viz.explain.sympynum import to_numpy  # noqa: E402

x, y = sp.symbols("x y", real=True)
CASES = [
    x * y + 3 * x**2 - y / x,
    1 / (1 + sp.exp(-x)) * (1 - 1 / (1 + sp.exp(-x))),
    sp.sqrt(x**2 + 1) + sp.log(y**2 + 2) - sp.tanh(x * y),
    sp.Piecewise((x, x > 0), (0, True)) * y,
    sp.Piecewise((1, (x > 0) & (y < 1)), (sp.Rational(1, 10), True)),
    sp.sign(x) * sp.Abs(y) + sp.Max(x, y, 0) - sp.Min(x, 2),
    sp.Heaviside(x) + sp.Heaviside(y, 1),
    sp.erf(x) + sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi) + sp.sin(x) * sp.cos(y),
    sp.loggamma(x**2 + 1) + sp.E * x,  # no ufunc: evaluated by SymPy, entry by entry
]
POINTS = [(0.7, -1.3), (-2.0, 0.5), (0.0, 1.0), (1.5, 1.5)]


@pytest.mark.parametrize("expr", CASES, ids=[str(k) for k in range(len(CASES))])
def test_values_equal_sympy_evalf(expr: object) -> None:
    f = to_numpy(expr, [x, y])
    for px, py in POINTS:
        want = complex(sp.N(expr.subs({x: sp.Float(px), y: sp.Float(py)}), 30))
        with np.errstate(all="ignore"):
            got = float(f(px, py))
        if abs(want.imag) > 1e-12 or not math.isfinite(want.real):
            assert math.isnan(got) or not math.isfinite(got)
        else:
            assert got == pytest.approx(want.real, rel=1e-12, abs=1e-14), (expr, px, py)


def test_arrays_broadcast_entry_by_entry() -> None:
    expr = sp.Piecewise((x * y, x > 0), (sp.loggamma(y**2 + 1), True))
    f = to_numpy(expr, [x, y])
    xs = np.array([[-1.0, 2.0], [0.5, -0.5]])
    got = f(xs, 3.0)
    assert got.shape == (2, 2)
    for idx in np.ndindex(xs.shape):
        assert got[idx] == pytest.approx(float(to_numpy(expr, [x, y])(xs[idx], 3.0)), rel=1e-14)
    assert got[0, 1] == pytest.approx(6.0) and got[0, 0] == pytest.approx(math.lgamma(10.0))


def test_a_symbol_not_given_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of the given symbols"):
        to_numpy(x + y, [x])
