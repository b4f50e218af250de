"""A SymPy value written back in the claim's own names, for the student: the definitions folded in (``x*phi``
rather than ``sqrt(2)*x*exp(-x**2/2)/(2*sqrt(pi))``), matrix entries as ``W2[0, 0]`` rather than the checker's
placeholder ``W2_0_0``. The text is in the checker's formula language, so it can be parsed and verified again.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from typing import Any

import sympy as sp
from sympy.printing.str import StrPrinter

from autograd_viz.check.budget import Budget
from autograd_viz.check.model import Model, is_matrix


def entry_symbols(model: Model) -> dict[sp.Symbol, sp.Symbol]:
    """placeholder symbol -> a symbol printed ``M[i, j]``, for every matrix and matrix definition of the file."""
    out: dict[sp.Symbol, sp.Symbol] = {}
    for name, m in [*model.matrices.items(), *model.placeholders.items()]:
        if not is_matrix(m):
            continue
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                if isinstance(m[i, j], sp.Symbol):
                    out[m[i, j]] = sp.Symbol(f"{name}[{i}, {j}]", real=True)
    return out


def entry_names(model: Model, symbols: Iterable[sp.Symbol]) -> dict[str, str]:
    """placeholder name -> ``M[i, j]`` for the matrix entries among ``symbols`` (a counterexample's), taken from
    the model's own entry symbols: a scalar the student called ``w_1_2`` is no entry and is left out."""
    entries = entry_symbols(model)
    return {s.name: entries[s].name for s in symbols if s in entries}


def entry_tex(model: Model) -> dict[sp.Symbol, str]:
    """placeholder symbol -> the entry's LaTeX as the report writes it (``W_{0,1}``, ``{W_{2}}_{0,1}``)."""
    from autograd_viz.check.texprint import to_latex

    return {ph: to_latex(ast.parse(e.name, mode="eval").body) for ph, e in entry_symbols(model).items()}


class _Printer(StrPrinter):
    """SymPy's str in the formula language: Euler's number as ``exp(1)`` (``E`` is the expectation in a
    derivation file), ``abs`` for SymPy's ``Abs``."""

    def _print_Exp1(self, expr: Any) -> str:
        return "exp(1)"

    def _print_Abs(self, expr: Any) -> str:
        return f"abs({self._print(expr.args[0])})"


def formula_text(expr: Any) -> str:
    """SymPy's str of ``expr`` in the formula language (Euler's number as ``exp(1)``)."""
    return _Printer().doprint(expr)


def named(expr: Any, model: Model) -> str:
    """``str(expr)`` with matrix entries written ``M[i, j]`` (placeholders of matrices and definitions)."""
    if not isinstance(expr, sp.Basic):
        return str(expr)
    return _Printer().doprint(expr.xreplace(entry_symbols(model)))


#: a definition d = f(u) -> its derivative written with d, as the student writes it
_LOCAL = {"sigmoid": lambda d: d * (1 - d), "tanh": lambda d: 1 - d**2}


def _named_forms(model: Model) -> list[tuple[sp.Expr, sp.Expr]]:
    """(an expansion, how the student writes it): each scalar definition d, and d*(1 - d) or 1 - d**2 when d
    is a sigmoid or a tanh (its local derivative)."""
    out = []
    for name in model.order:
        full, ph = model.expand(model.placeholders[name]), model.placeholders[name]
        if is_matrix(full) or full.is_Symbol or not full.free_symbols:
            continue
        out.append((full, ph))
        tree = model.spec.define.get(name)
        if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id in _LOCAL:
            local = _LOCAL[tree.func.id]
            out.append((local(full), local(ph)))
    return out


def _ratio(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    return sp.cancel(a / b)


def _size(e: sp.Expr) -> int:
    return int(sp.count_ops(e)) + len(str(e)) // 8


def readable(expr: sp.Expr, model: Model, budget: Budget, seconds: float = 0.3) -> tuple[sp.Expr, str]:
    """The shortest of a few equal forms of ``expr`` (as is, simplified, factored), with the definitions folded
    back in — also as a factor (``x*phi`` when ``expr`` is ``x`` times phi's expansion): (that form, its text in
    the claim's names)."""
    folded = model.fold(expr)
    if sp.count_ops(folded) <= 3:  # already short in the claim's names (a1, x*phi)
        return folded, named(folded, model)
    forms = [expr]
    if sp.count_ops(expr) > 4:
        ok, simple = budget.attempt(lambda: sp.simplify(expr), seconds)
        if ok and simple is not None:
            forms.append(simple)
    forms += [sp.factor_terms(f) for f in list(forms)]
    base = min(forms, key=_size)
    best = min((model.fold(f) for f in forms), key=_size)
    for full, written in _named_forms(model):  # expr = q * d for a definition d (or d*(1 - d) for a sigmoid)
        if not full.free_symbols <= base.free_symbols:
            continue
        ok, q = budget.attempt(functools.partial(_ratio, base, full), seconds / 4)
        if ok and q is not None:
            cand = model.fold(q) * written
            if _size(cand) < _size(best):
                best = cand
    return best, named(best, model)


def entry_label(lhs_tree: ast.expr | None, i: int, j: int) -> str:
    """How the student names entry (i, j) of the lhs: ``dL/dW2[0, 0]`` for ``grad(L, W2)``, ``M[0, 0]`` for a
    name, ``(lhs)[0, 0]`` otherwise."""
    if isinstance(lhs_tree, ast.Call) and isinstance(lhs_tree.func, ast.Name) and lhs_tree.func.id == "grad" \
            and len(lhs_tree.args) == 2 and all(isinstance(a, ast.Name) for a in lhs_tree.args):
        return f"d{ast.unparse(lhs_tree.args[0])}/d{ast.unparse(lhs_tree.args[1])}[{i}, {j}]"
    if isinstance(lhs_tree, ast.Name):
        return f"{lhs_tree.id}[{i}, {j}]"
    return f"({ast.unparse(lhs_tree)})[{i}, {j}]" if lhs_tree is not None else f"entry ({i}, {j})"


def _entry_tex(e: Any, model: Model) -> str:
    """LaTeX of an entry formula written in the claim's names (``W_{2}`` with entry subscript ``0,0``)."""
    from autograd_viz.check.spec import GRAMMAR, parse
    from autograd_viz.check.texprint import fix_subscripts, to_latex

    try:
        return to_latex(parse(named(e, model), GRAMMAR, "entry"))
    except Exception:  # noqa: BLE001 - a SymPy form the formula language does not parse: SymPy's LaTeX
        return fix_subscripts(sp.latex(e))


def entry_hint(lhs: Any, point: dict, correct: Any, rhs: Any, model: Model, lhs_tree: ast.expr | None
               ) -> tuple[str, str]:
    """No matrix-notation form: say so, and show the smallest differing entry of the correct lhs (by printed
    length) in the claim's names — ``dL/dW2[0, 0] should be … W2[0, 0] …; yours is …`` — as text and LaTeX."""
    from autograd_viz.check import numeric
    from autograd_viz.check.texprint import to_latex

    same = is_matrix(rhs) and rhs.shape == lhs.shape

    def differs(k: int) -> bool:  # at the counterexample (cheap: no simplification of large entries)
        v = numeric.as_float(sp.N((lhs[k] - rhs[k]).xreplace(point), 20))
        return v is None or abs(v) > 1e-9

    differing = [k for k in range(len(lhs)) if differs(k)] if same and point else []
    k = min(differing or range(len(correct)), key=lambda n: (len(str(correct[n])), n))
    i, j = divmod(k, correct.shape[1])
    label = entry_label(lhs_tree, i, j)
    yours = f"; yours is {named(model.fold(rhs[k]), model)}" if same else ""
    text = f"(no matrix-notation form found) {label} should be {named(correct[k], model)}{yours}"
    where = f"\\left({to_latex(lhs_tree)}\\right)_{{{i},{j}}}" if lhs_tree is not None else f"({i}, {j})"
    return text, f"\\text{{(no matrix form found) }}{where} = {_entry_tex(correct[k], model)}"
