"""Gradient formulas (SymPy) as text of the formula language, case splits included.

Case splits (the derivatives of relu, abs, leaky_relu) are written with the language's ``step(u)`` (1 where
u > 0, else 0) and ``sign(u)``: a ``Piecewise`` that is an op of the table (``relu(u)``, ``step(u)``) is written as
that op, any other one as a sum of its pieces weighted by the indicators of their conditions. Used for the
``formula`` of each gradient and for the claims of ``explain --toml``.
"""

from __future__ import annotations

import functools
from typing import Any

from autograd_viz.errors import ExplainError, ExpressionError
from autograd_viz.expr import Grammar, parse
from autograd_viz.ops import EXPR_FUNCTIONS

#: What a formula may call: the op table's functions and max/min.
GRAMMAR = Grammar(functions=frozenset(EXPR_FUNCTIONS) | {"max", "min"})


def _as_op(pw: Any) -> Any:
    """``pw`` as a one-argument op of the table whose SymPy form it is (``relu(u)``, ``step(u)``), else None."""
    import sympy as sp

    cond = pw.args[0][1]
    if not isinstance(cond, sp.core.relational.Relational):
        return None
    u = cond.lhs - cond.rhs if cond.rel_op in (">", ">=") else cond.rhs - cond.lhs
    for name, op in EXPR_FUNCTIONS.items():
        if op.arity != 1 or op.attr_names or op.sympy is None:
            continue
        try:
            form = op.sympy(u)
        except Exception:  # noqa: BLE001 (an op whose SymPy form does not take this argument is no match)
            continue
        if form == pw:
            return sp.Function(name)(u)
    return None


def _indicator(cond: Any) -> Any:
    """1 where ``cond`` holds, else 0, written with ``step``."""
    import sympy as sp

    step = sp.Function("step")
    if cond == sp.true:
        return sp.Integer(1)
    if cond == sp.false:
        return sp.Integer(0)
    if isinstance(cond, sp.core.relational.Relational):
        diff = cond.lhs - cond.rhs
        forms = {">": step(diff), "<": step(-diff), ">=": 1 - step(-diff), "<=": 1 - step(diff),
                 "==": 1 - step(diff) - step(-diff), "!=": step(diff) + step(-diff)}
        if cond.rel_op in forms:
            return forms[cond.rel_op]
    if isinstance(cond, sp.And):
        return sp.Mul(*(_indicator(c) for c in cond.args))
    if isinstance(cond, sp.Or):
        return 1 - sp.Mul(*(1 - _indicator(c) for c in cond.args))
    if isinstance(cond, sp.Not):
        return 1 - _indicator(cond.args[0])
    raise ExplainError(f"the condition {cond} is not a comparison of real numbers")


def _fold(pw: Any) -> Any:
    """A ``Piecewise`` as ``Σ value · indicator``: each piece holds where its condition does and no earlier one."""
    import sympy as sp

    if pw.args[-1][1] != sp.true:
        raise ExplainError(f"the case split {pw} has no 'otherwise' piece (it is undefined for some inputs)")
    out = pw.args[-1][0]
    for value, cond in reversed(pw.args[:-1]):
        ind = _indicator(cond)
        out = ind * value + (1 - ind) * out if out != 0 else ind * value
    return out


def in_step_form(expr: Any) -> Any:
    """``expr`` with every case split written as an op of the table or with ``step``, innermost first."""
    import sympy as sp

    def rewrite(e: Any) -> Any:
        if isinstance(e, sp.Piecewise):
            return _as_op(e) or _fold(e)
        if isinstance(e, sp.Heaviside):
            h0 = e.args[1] if len(e.args) > 1 else sp.Rational(1, 2)
            step = sp.Function("step")
            return step(e.args[0]) + h0 * (1 - step(e.args[0]) - step(-e.args[0]))
        return e

    return expr.replace(lambda e: isinstance(e, sp.Piecewise | sp.Heaviside), rewrite)


@functools.cache
def _printers() -> tuple[Any, Any]:
    """(plain, step): SymPy's str in the formula language, ``abs`` for ``Abs`` and ``exp(1)`` for Euler's number;
    the step printer also writes ``max``/``min`` the language's way. Built on first use: SymPy is imported lazily."""
    from sympy.printing.str import StrPrinter

    class TextPrinter(StrPrinter):
        def _print_Abs(self, e: Any) -> str:
            return f"abs({self._print(e.args[0])})"

        def _print_Exp1(self, e: Any) -> str:
            return "exp(1)"

    class StepTextPrinter(TextPrinter):
        def _print_Max(self, e: Any) -> str:
            return f"max({', '.join(self._print(a) for a in e.args)})"

        def _print_Min(self, e: Any) -> str:
            return f"min({', '.join(self._print(a) for a in e.args)})"

    return TextPrinter, StepTextPrinter


def plain_text(expr: Any) -> str:
    """``expr`` in SymPy's own words except ``abs`` and ``exp(1)``: for a form the language has no words for."""
    return str(_printers()[0]({"order": "none"}).doprint(expr))


def to_text(expr: Any) -> str:
    """``expr`` (SymPy, σ as ``sigmoid``) in the formula language; raises :class:`ExplainError` saying why."""
    text = _printers()[1]({"order": "none"}).doprint(in_step_form(expr))
    try:
        parse(text, GRAMMAR, "the formula")
    except ExpressionError as exc:
        raise ExplainError(f"{text[:80]!r} is not in the derivation language ({exc})") from None
    return text
