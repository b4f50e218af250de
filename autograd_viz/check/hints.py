"""The correct form shown beside a refuted claim: the named mistake's verified repair (:mod:`diagnose`), else the
lhs with the definitions folded back in and tidied, printed as LaTeX."""

from __future__ import annotations

import ast
from functools import partial
from typing import Any

import sympy as sp

from autograd_viz.check.budget import Budget, BudgetExceeded
from autograd_viz.check.model import Model, is_matrix
from autograd_viz.check.results import ClaimResult
from autograd_viz.check.spec import GRAMMAR, parse
from autograd_viz.check.texprint import to_latex


def _diagnose(result: ClaimResult, point: dict, sizes: dict[str, int], lhs: Any, model: Model, budget: Budget,
              trees: tuple, entry: int = 0) -> None:
    """Name the mistake (see :mod:`diagnose`); its repaired rhs, verified, becomes the correct form."""
    from autograd_viz.check.diagnose import diagnose

    claim, lt, rt = trees
    try:
        found = diagnose(model.spec, model, lhs, rt, claim.lhs or ast.unparse(lt), budget, first_point=point,
                         sizes=sizes, lhs_tree=lt, entry=entry)
    except BudgetExceeded:
        budget.suspended = True
        return
    except Exception:  # a failing diagnosis never discards a confirmed counterexample
        return
    if found is None:
        return
    how = found.pop("verified")
    if how != "proved":
        found["text"] += " (the repair is confirmed numerically, not proved)"
    result.diagnosis = found
    result.correct = found["repaired"]
    result.correct_tex = to_latex(parse(found["repaired"], GRAMMAR, "correct"))


def tex_of(expr: Any, names: dict[sp.Symbol, str] | None = None) -> str:
    """SymPy's LaTeX of a hint, with placeholder names such as ``w_16_i`` written as one subscript (``names``:
    symbols printed as given, e.g. matrix entries as ``W_{0,1}``)."""
    from autograd_viz.check.texprint import fix_subscripts

    tex = partial(sp.latex, symbol_names=names or {})
    pieces = list(expr.atoms(sp.Piecewise)) if isinstance(expr, sp.Expr) else []
    if len(pieces) == 1 and expr == pieces[0]:  # cases as one line: {cases} is not in every renderer
        branches = [f"{tex(e)} \\text{{ if }} {tex(c)}" if c is not sp.true
                    else f"{tex(e)} \\text{{ otherwise}}" for e, c in expr.args]
        return fix_subscripts("\\left\\{" + ";\\ ".join(branches) + "\\right.")
    if pieces:
        expr = expr.xreplace({p: sp.Function("cases")(*[a for pair in p.args for a in pair]) for p in pieces})
    return fix_subscripts(tex(expr))


def correct_form(expr: Any, model: Model, budget: Budget) -> Any:
    """The lhs with the definitions' names folded back in where their expansions appear verbatim, then
    simplified if that is quick (bounded: a readable hint, not a proof)."""
    expr = model.fold(expr)

    def tidy(e: sp.Expr) -> sp.Expr:
        plain = sp.factor_terms(model.fold(e.doit()))
        simple = sp.factor_terms(model.fold(sp.simplify(e.doit())))
        known = {type(f) for f in e.atoms(sp.Function)}
        if {type(f) for f in simple.atoms(sp.Function)} <= known and sp.count_ops(simple) < sp.count_ops(plain):
            return simple  # shorter, and in the functions the claim was written with (no cosh for a sigmoid)
        return plain

    size = sum(sp.count_ops(e) for e in (expr if is_matrix(expr) else [expr]))
    if size > 400:  # too big to simplify in the time it deserves
        return expr
    ok, out = budget.attempt(lambda: expr.applyfunc(tidy) if is_matrix(expr) else tidy(expr),
                             min(1.0, max(budget.remaining() / 2, 0.2)))
    return out if ok else expr
