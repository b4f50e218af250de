"""Each scalar gradient as a formula in the inputs: the chain rule done symbolically with the op table's
derivative texts, shortened within a time budget, and proved equal to ``sympy.diff`` of the whole expression
(symbolically, else at the point and three nearby points); its value must equal the engine's gradient.
"""

from __future__ import annotations

import math
import time
from functools import lru_cache
from typing import Any

import numpy as np

from autograd_viz.errors import ExplainError
from autograd_viz.explain import localtext
from autograd_viz.explain.budget import within
from autograd_viz.explain.model import Derivation, Gradient, close, is_const, op_of
from autograd_viz.explain.terms import PLACEHOLDERS, text_tree
from autograd_viz.graph import Node


def scalar_gradients(d: Derivation, root: Node, order: list[Node], labels: dict, consumers: dict,
                     targets: list[Node], simplify_seconds: float = 2.0, total_seconds: float = 3.0,
                     short_ops: int = 20) -> None:
    """The chain rule done symbolically with the op table's derivative texts, simplified within a budget and
    checked against ``sympy.diff`` of the whole expression."""
    import sympy as sp

    sigma = _sigma_class()
    symbols: dict[int, Any] = {}
    expr: dict[int, Any] = {}  # the op table's SymPy forms: what sympy.diff differentiates
    pretty: dict[int, Any] = {}  # the same with σ kept as a function: what the printed formula is written in
    for node in order:
        if node.op is None:
            if is_const(node):
                expr[id(node)] = localtext.exact_number(float(node.data))
            else:
                symbols[id(node)] = sp.Symbol(labels[id(node)][0], real=True)
                expr[id(node)] = symbols[id(node)]
            pretty[id(node)] = expr[id(node)]
            continue
        op = op_of(node)
        if op.sympy is None:
            raise ExplainError(f"op {op.name} has no SymPy form")
        expr[id(node)] = op.sympy(*(expr[id(p)] for p in node.parents), **(node.attrs or {}))
        if op.name == "sigmoid":
            pretty[id(node)] = sigma(pretty[id(node.parents[0])])
        else:
            pretty[id(node)] = op.sympy(*(pretty[id(p)] for p in node.parents), **(node.attrs or {}))
    adj: dict[int, Any] = {id(root): sp.Integer(1)}
    for node in reversed(order):
        if node is root or not node.requires_grad:
            continue
        total = sp.Integer(0)
        for consumer, i in consumers.get(id(node), []):
            if id(consumer) not in adj:
                continue
            _text, tree = text_tree(consumer.op, i, consumer.attrs)
            values = {q: pretty[id(p)] for q, p in zip(PLACEHOLDERS, consumer.parents, strict=False)}
            values["qout"] = pretty[id(consumer)]
            total = total + adj[id(consumer)] * localtext.evaluate_sympy(tree, values, sigmoid=sigma)
        adj[id(node)] = total
    deadline = time.monotonic() + total_seconds
    all_syms = list(symbols.values())
    point = [float(n.data) for n in order if id(n) in symbols]
    for node in targets:
        name = labels[id(node)][0]
        chain = adj.get(id(node), sp.Integer(0))
        direct = sp.diff(expr[id(root)], symbols[id(node)])
        budget = min(simplify_seconds, deadline - time.monotonic())
        ok, simple = within(budget, lambda: _simplify(chain, short_ops), size=sp.count_ops(chain))  # noqa: B023 (runs now)
        formula: Any = simple if ok else chain
        expanded = expand_sigma(formula)
        if not ok:
            d.notes.append(f"the formula for {name} is shown unsimplified (simplification ran past its "
                           f"{simplify_seconds:g} s budget)")
        budget = min(simplify_seconds, deadline - time.monotonic())
        ok_check, diff0 = within(budget, lambda: _is_zero(expanded - direct),  # noqa: B023 (runs now)
                                 size=sp.count_ops(formula))
        value = node.grad
        def f_num(*xs: float, e: Any = expanded) -> float:
            return _at_point(e, all_syms, xs)

        def g_num(*xs: float, e: Any = direct) -> float:
            return _at_point(e, all_syms, xs)

        with np.errstate(all="ignore"):
            at_point = float(f_num(*point))
        if not close(at_point, value, 1e-9, 1e-12):
            raise ExplainError(f"gradient of {d.output} w.r.t. {name}: the derived formula gives {at_point:.10g} "
                               f"but the engine's backward gives {value:.10g}")
        if ok_check and diff0:
            checked = "equals sympy.diff of the whole expression (symbolically)"
        else:
            for scale in (0.0, 0.113, -0.087, 0.051):
                xs = [x * (1 + scale) + (0.05 * scale if x == 0 else 0.0) for x in point]
                with np.errstate(all="ignore"):
                    a, b = f_num(*xs), g_num(*xs)
                if not close(a, b, 1e-8, 1e-11):
                    raise ExplainError(f"gradient of {d.output} w.r.t. {name}: the chain-rule formula and "
                                       f"sympy.diff of the whole expression differ at {xs} ({a} vs {b})")
            checked = "equals sympy.diff of the whole expression (at the point and three nearby points)"
        d.gradients[name] = Gradient(name=name, tex=labels[id(node)][1], value=float(value),
                                     formula=_formula_text(formula), latex=_latex(formula), simplified=ok,
                                     checked=checked, sympy=formula)


@lru_cache(maxsize=1)
def _sigma_class() -> Any:
    """σ as a SymPy function (printed ``sigmoid(u)``, LaTeX ``\\sigma``, derivative σ(1 − σ)), so gradient
    formulas read as a teacher writes them; checks replace it by 1/(1 + e^(−u))."""
    import sympy as sp

    class sigmoid(sp.Function):  # noqa: N801 (the expression language's name)
        def fdiff(self, argindex: int = 1) -> Any:
            return self * (1 - self)

        def _latex(self, printer: Any, exp: Any = None) -> str:
            base = f"\\sigma\\left({printer._print(self.args[0])}\\right)"
            return f"{base}^{{{exp}}}" if exp is not None else base

        def _eval_rewrite_as_exp(self, arg: Any, **kwargs: Any) -> Any:
            return 1 / (1 + sp.exp(-arg))

    return sigmoid


def expand_sigma(expr: Any) -> Any:
    """``expr`` with σ(u) written out in the op table's SymPy form of sigmoid, 1/(1 + e^(−u))."""
    from autograd_viz.ops import EXPR_FUNCTIONS

    form = EXPR_FUNCTIONS["sigmoid"].sympy
    assert form is not None  # the op table gives sigmoid one
    return expr.replace(_sigma_class(), form)


def _at_point(expr: Any, symbols: list[Any], values: tuple | list) -> float:
    """``expr`` evaluated at ``symbols = values`` (exact substitution, then one float evaluation; nan if undefined)."""
    import sympy as sp

    out = expr.xreplace({s: sp.Float(v, 30) for s, v in zip(symbols, values, strict=True)})
    try:
        return float(sp.N(out, 20))
    except (TypeError, ValueError):
        return math.nan


def _is_zero(expr: Any) -> bool:
    """Whether SymPy proves ``expr`` = 0, cheapest exact rewriting first: over a common denominator with the
    numerator multiplied out (``together``, ``expand``: no polynomial GCDs, which cost a cold start about 0.1 s),
    then ``cancel``, then ``simplify``. Each step rewrites ``expr`` into an equal expression, so a 0 is a proof."""
    import sympy as sp

    numerator, _ = sp.fraction(sp.together(expr))
    return bool(sp.expand(numerator) == 0 or sp.cancel(expr) == 0 or sp.simplify(expr) == 0)


def _simplify(expr: Any, short_ops: int) -> Any:
    """The shortest of the chain-rule product as it stands (the form a teacher writes), its common factors
    pulled out, and ``sympy.simplify`` (tried only when the product is long; never when it would turn
    ``sign(u)`` into a case split the chain did not have)."""
    import sympy as sp

    candidates = [expr, sp.factor_terms(expr)]
    if sp.count_ops(expr) > short_ops:
        out = sp.simplify(expr)
        if not (out.has(sp.Piecewise) and not expr.has(sp.Piecewise)):
            candidates.append(out)
    return min(candidates, key=sp.count_ops)  # min keeps the first of equals: the chain's own form


def _latex(expr: Any) -> str:
    """SymPy's LaTeX with case splits as the op table writes them (``\\operatorname{relu}``, ``\\mathbb{1}(u > 0)``
    for ``step``, :mod:`.stepform`), any other case split inline (``b if a b > 0 else 0``): mathtext and KaTeX-safe."""
    from sympy.printing.latex import LatexPrinter

    from autograd_viz.explain.stepform import in_step_form
    from autograd_viz.ops import EXPR_FUNCTIONS

    class _Printer(LatexPrinter):
        def _print_Piecewise(self, e: Any) -> str:
            parts = []
            for value, cond in e.args:
                if cond == True:  # noqa: E712 (SymPy's true)
                    parts.append(f"\\mathrm{{else}}\\ {self._print(value)}")
                else:
                    parts.append(f"{self._print(value)}\\ \\mathrm{{if}}\\ {self._print(cond)}")
            return "\\left(" + ",\\ ".join(parts) + "\\right)"

        def _print_sign(self, e: Any) -> str:
            return f"\\operatorname{{sign}}\\left({self._print(e.args[0])}\\right)"

        def _print_Function(self, e: Any, exp: Any = None) -> str:
            op = EXPR_FUNCTIONS.get(type(e).__name__)
            if op is None or not op.latex or len(e.args) != 1 or op.attr_names:
                return str(super()._print_Function(e, exp))
            base = op.latex.format(x0=self._print(e.args[0]))
            return f"{{{base}}}^{{{exp}}}" if exp is not None else base

    try:
        expr = in_step_form(expr)
    except ExplainError:
        pass
    return str(_Printer().doprint(expr))


def _formula_text(expr: Any) -> str:
    """The gradient in the formula language, case splits as ``step(u)`` (:mod:`.stepform`); SymPy's own text
    for a form the language has no words for."""
    from autograd_viz.explain.stepform import plain_text, to_text

    try:
        return to_text(expr)
    except ExplainError:
        return plain_text(expr)

