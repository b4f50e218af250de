"""The proof step's cancel (``check.cancel``): its first try, with each exp(...) an independent variable, proves
nested-sigmoid identities quickly, never proves a false one, and leaves the rest to SymPy's plain cancel."""

from __future__ import annotations

import sympy as sp

from autograd_viz.check.cancel import cancel, cancel_exp_as_variables, zero_with_exp_as_variables

x, y, w = sp.symbols("x y w", real=True)


def sig(e: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-e))


def test_nested_sigmoid_derivative_cancels_with_exp_as_variables() -> None:
    inner = sig(w * x + y)
    lhs = sp.diff(sig(w * inner), w)  # d/dw sigma(w sigma(w x + y))
    outer = sig(w * inner)
    rhs = outer * (1 - outer) * (inner + w * inner * (1 - inner) * x)
    assert cancel_exp_as_variables(lhs - rhs) == 0
    assert cancel(lhs - rhs) == 0


def test_a_false_identity_is_not_zero() -> None:
    lhs = sp.diff(sig(x), x)
    wrong = sig(x) * (1 + sig(x))  # a sign slip
    assert cancel_exp_as_variables(lhs - wrong) != 0
    assert cancel(lhs - wrong) != 0
    assert cancel(lhs - wrong).subs(x, 0) == sp.Rational(-1, 2)


def test_relations_between_exps_are_left_to_the_plain_cancel() -> None:
    d = (sp.exp(2 * x) - 1) / (sp.exp(2 * x) + 1) - (sp.exp(x) - sp.exp(-x)) / (sp.exp(x) + sp.exp(-x))
    assert cancel_exp_as_variables(d) != 0  # exp(2x) and exp(x) as independent variables: nothing proved
    assert cancel(d) == 0  # SymPy's cancel knows exp(2x) = exp(x)**2


def test_no_exp_is_the_plain_cancel() -> None:
    d = (x**2 - y**2) / (x - y) - (x + y)
    assert cancel(d) == 0
    assert cancel(x / (x + 1) - 1) == sp.cancel(sp.together(x / (x + 1) - 1))


def test_a_false_nested_identity_is_not_zero() -> None:
    inner = sig(w * x)
    lhs = sp.diff(sig(w * inner), w)
    wrong = sig(w * inner) * (1 - sig(w * inner)) * inner  # the inner chain term w * inner' * x left out
    assert cancel_exp_as_variables(lhs - wrong) != 0
    assert cancel(lhs - wrong) != 0


def test_the_zero_test_agrees_with_cancel_exp_as_variables() -> None:
    """The expand-the-numerator zero test proves exactly what cancel_exp_as_variables(...) == 0 proves."""
    inner = sig(w * x + y)
    outer = sig(w * inner)
    right = outer * (1 - outer) * (inner + w * inner * (1 - inner) * x)
    wrongs = [outer * (1 - outer) * inner, outer * (1 + outer) * (inner + w * inner * (1 - inner) * x),
              outer * (1 - outer) * (inner + w * inner * (1 - inner))]
    lhs = sp.diff(outer, w)
    assert zero_with_exp_as_variables(lhs - right)
    for wrong in wrongs:
        assert not zero_with_exp_as_variables(lhs - wrong)
        assert cancel_exp_as_variables(lhs - wrong) != 0


def test_a_zero_denominator_proves_nothing() -> None:
    """P/Q with both P and Q the zero polynomial (not simplified away by SymPy) is undefined, not 0: the
    numerator alone would multiply out to 0, so the denominator's test is what refuses it."""
    big = sp.exp(-sig(x))  # a nested exp: the case the zero test is for
    top = big * (1 + w) - big - big * w
    bottom = big * (1 + y) - big - big * y
    e = top / bottom
    assert e != 0 and sp.expand(top) == 0 and sp.expand(bottom) == 0
    assert not zero_with_exp_as_variables(e)
