"""SymPy proof steps beyond cancel and simplify, for claims with kinks or branches (abs, max, min, relu,
Piecewise) and exp/tanh forms; :mod:`verify` tries them from cheap to expensive."""

from __future__ import annotations

import sympy as sp


def _rewrite_exp(e: sp.Expr) -> sp.Expr:
    return sp.simplify(sp.expand(e.rewrite(sp.exp)))


def _case_split(d: sp.Expr) -> sp.Expr:
    """0 if every case of ``d`` (abs/max/min/relu written as a Piecewise and folded) is 0 where it applies: the
    claim then holds on every side of every kink; otherwise ``d`` unchanged (undecided). A case that applies
    nowhere is skipped, one that applies at finitely many points is checked at each of them."""
    e = sp.piecewise_fold(d.rewrite(sp.Piecewise))
    if not isinstance(e, sp.Piecewise):
        return sp.Integer(0) if sp.cancel(e) == 0 or sp.simplify(e) == 0 else d
    earlier: sp.Basic = sp.false
    for expr, cond in e.args:
        applies = sp.And(cond, sp.Not(earlier))
        earlier = sp.Or(earlier, cond)
        if applies is sp.false or sp.cancel(expr) == 0 or sp.simplify(expr) == 0:
            continue
        applies, expr = _one_direction(applies, expr)
        if applies is sp.false or sp.cancel(expr) == 0:
            continue
        free = applies.free_symbols
        if len(free) != 1:
            return d
        x = next(iter(free))
        try:
            where = applies.as_set() if x.is_real else None
        except (NotImplementedError, TypeError, ValueError):
            return d
        if where is None or not (where.is_empty or isinstance(where, sp.FiniteSet)):
            return d
        if isinstance(where, sp.FiniteSet) and any(sp.simplify(expr.subs(x, v)) != 0 for v in where):
            return d
    return sp.Integer(0)


def _one_direction(cond: sp.Basic, expr: sp.Expr) -> tuple[sp.Basic, sp.Expr]:
    """When every comparison in ``cond`` tests the same linear form L (up to a factor: ``x >= y`` and
    ``x - y < 0`` both test L = x − y), rewrite ``cond`` and ``expr`` with u = L in place of one of its symbols,
    so the case is a condition on one variable. Otherwise both are returned unchanged."""
    rels = list(cond.atoms(sp.core.relational.Relational))
    if not rels:
        return cond, expr
    forms = [r.lhs - r.rhs for r in rels]
    base = forms[0]
    if len(base.free_symbols) < 2 or not base.is_polynomial(*base.free_symbols) \
            or sp.Poly(base, *base.free_symbols).total_degree() != 1:
        return cond, expr
    for f in forms[1:]:
        ratio = sp.cancel(f / base)
        if not ratio.is_number:
            return cond, expr
    x = sorted(base.free_symbols, key=lambda v: v.name)[0]
    u = sp.Dummy("u", real=True)
    solved = sp.solve(sp.Eq(base, u), x)
    if len(solved) != 1:
        return cond, expr
    return cond.xreplace({x: solved[0]}).simplify(), sp.expand(expr.xreplace({x: solved[0]}))


def _zero_branches(d: sp.Expr) -> sp.Expr:
    """0 if every branch of ``piecewise_fold(d)`` simplifies to 0 (an Eq condition substituted first)."""
    d = sp.piecewise_fold(d)
    if not isinstance(d, sp.Piecewise):
        return sp.simplify(d)
    for e, c in d.args:
        cases, at_point = [e], False
        if isinstance(c, sp.Eq) and len(c.free_symbols) == 1:
            x = next(iter(c.free_symbols))
            roots = sp.solve(sp.Eq(c.lhs, c.rhs), x)
            cases, at_point = ([e.subs(x, root) for root in roots], True) if roots else ([e], False)
        for case in cases:
            if at_point and case.has(sp.nan, sp.zoo):  # the claim is undefined at that one point (0/0)
                continue
            case = sp.cancel(sp.expand_power_exp(sp.expand(case)))
            if case != 0 and sp.simplify(case) != 0:
                return d
    return sp.Integer(0)
