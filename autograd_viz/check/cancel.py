"""SymPy's cancel for lhs − rhs, with a cheap first try where exp(...) terms occur (sigmoids): shared by the
proof step (:mod:`verify`) and the diagnosis's verification of a repair (:mod:`diagnose`)."""

from __future__ import annotations

import functools

import sympy as sp

__all__ = ["cancel", "cancel_exp_as_variables", "zero_with_exp_as_variables"]


@functools.lru_cache(maxsize=512)
def cancel(e: sp.Expr) -> sp.Expr:
    """lhs − rhs as one fraction in lowest terms; 0 when it cancels. Where exp(...) terms occur, first with each
    distinct exp(...) as its own variable E, written E = (1 − s)/s (s is then the sigmoid 1/(1 + E)): a rational
    function that is 0 for independent variables is 0 for any values they take, and the change of variable is
    invertible, so 0 there is a proof; anything else proves nothing and the plain cancel decides. Nested
    sigmoids (one_hidden_layer.toml's W1, b1 updates) cancel this way in a fraction of a second, where the
    plain cancel needs minutes. Only for nested exp(...) (a sigmoid of sigmoids): elsewhere the plain cancel is
    as fast, and knows relations such as exp(2x) = exp(x)**2.

    Remembered (a pure function of ``e``): the proof step and the diagnosis's check of a repair often cancel
    the same lhs − rhs, and a worker checks many claims of a file. An attempt stopped by its time limit
    raises, so nothing unfinished is remembered."""
    if not e.has(sp.Piecewise) and _nested_exp(e) and zero_with_exp_as_variables(e):
        return sp.Integer(0)
    return sp.cancel(sp.together(e))


def zero_with_exp_as_variables(e: sp.Expr) -> bool:
    """True when ``e`` is 0 with every exp(...) an independent variable (1 − s)/s: written as one fraction
    p/q, p multiplies out to 0 and q is not the zero polynomial (it is nonzero at one point). The same proof
    as :func:`cancel_exp_as_variables` giving 0, without the gcd of p and q that cancel computes: about twice
    as fast on one_hidden_layer.toml's matrix entries. False proves nothing."""
    p, q = _exp_as_variables(e).as_numer_denom()
    if sp.expand(p, power_exp=False, power_base=False, log=False) != 0:
        return False
    at = {s: sp.Rational(k + 3, k + 2) for k, s in enumerate(sorted(q.free_symbols, key=sp.default_sort_key))}
    value = q.xreplace(at)
    return bool(value.is_number and value.is_finite and value.is_zero is False)


def cancel_exp_as_variables(e: sp.Expr) -> sp.Expr:
    """``e`` with every exp(...) (outermost first) an independent variable (1 − s)/s, cancelled."""
    return sp.cancel(sp.together(_exp_as_variables(e)))


def _exp_as_variables(e: sp.Expr) -> sp.Expr:
    """``e`` with every exp(...) (outermost first) an independent variable (1 − s)/s."""
    table: dict[sp.Expr, sp.Expr] = {}
    while True:
        atoms = e.atoms(sp.exp)
        if not atoms:
            break
        for a in atoms:
            if a not in table:
                s = sp.Dummy("s")
                table[a] = (1 - s) / s
        e = e.xreplace({a: table[a] for a in atoms})
    return e


def _nested_exp(e: sp.Expr) -> bool:
    return any(a.args[0].has(sp.exp) for a in e.atoms(sp.exp))
