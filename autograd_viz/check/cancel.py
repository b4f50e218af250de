"""SymPy's cancel for lhs − rhs, with a cheap first try where exp(...) terms occur (sigmoids): shared by the
proof step (:mod:`verify`) and the diagnosis's verification of a repair (:mod:`diagnose`)."""

from __future__ import annotations

import sympy as sp

__all__ = ["cancel", "cancel_exp_as_variables"]


def cancel(e: sp.Expr) -> sp.Expr:
    """lhs − rhs as one fraction in lowest terms; 0 when it cancels. Where exp(...) terms occur, first with each
    distinct exp(...) as its own variable E, written E = (1 − s)/s (s is then the sigmoid 1/(1 + E)): a rational
    function that is 0 for independent variables is 0 for any values they take, and the change of variable is
    invertible, so 0 there is a proof; anything else proves nothing and the plain cancel decides. Nested
    sigmoids (one_hidden_layer.toml's W1, b1 updates) cancel this way in a fraction of a second, where the
    plain cancel needs minutes. Only for nested exp(...) (a sigmoid of sigmoids): elsewhere the plain cancel is
    as fast, and knows relations such as exp(2x) = exp(x)**2."""
    if not e.has(sp.Piecewise) and _nested_exp(e) and cancel_exp_as_variables(e) == 0:
        return sp.Integer(0)
    return sp.cancel(sp.together(e))


def cancel_exp_as_variables(e: sp.Expr) -> sp.Expr:
    """``e`` with every exp(...) (outermost first) an independent variable (1 − s)/s, cancelled."""
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
    return sp.cancel(sp.together(e))


def _nested_exp(e: sp.Expr) -> bool:
    return any(a.args[0].has(sp.exp) for a in e.atoms(sp.exp))
