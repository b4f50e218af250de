"""``explain --toml FILE``: the worked solution's gradients as a derivation file the checker proves.

``[define]`` holds the named steps (unnamed intermediate ops are written inline), one ``[[claim]]`` per
requested input states ``diff(OUT, x) == <derived formula>``; ``autograd-viz check FILE`` then proves it.

Case splits (the derivatives of relu, abs, leaky_relu) are written with the formula language's ``step(u)``
(1 where u > 0, else 0) and ``sign(u)``: a ``Piecewise`` that is an op of the table (``relu(u)``, ``step(u)``) is
written as that op, any other one as a sum of its pieces weighted by the indicators of its conditions. The text
is read back and compared with the derived formula before the file is written.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from autograd_viz.errors import ExplainError, ExpressionError
from autograd_viz.explain.model import Derivation
from autograd_viz.expr import Evaluator, Grammar, parse
from autograd_viz.ops import EXPR_FUNCTIONS

#: The checker's own function names (calculus, sums, moments, matrices): with the op table's functions, the
#: names a derivation file reserves. tests/test_explain.py checks this equals ``check.spec.CHECKER_FUNCTIONS``
#: (importing the checker here would cost ``explain --toml`` a second of start-up).
CHECKER_FUNCTIONS = frozenset({"max", "min", "diff", "nest", "Sum", "E", "Var", "ones", "sum", "grad", "trace",
                               "det", "inv", "eye", "diag", "logdet"})
#: Names a step or input of a derivation file cannot have.
RESERVED = frozenset(EXPR_FUNCTIONS) | CHECKER_FUNCTIONS
#: What a claim's right-hand side may call: the op table's functions and max/min.
CLAIM_GRAMMAR = Grammar(functions=frozenset(EXPR_FUNCTIONS) | {"max", "min"})


class Unwritable(ValueError):
    """A SymPy form the derivation language has no words for; the message says which and why."""


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a TOML basic string is a JSON string


def _inline(d: Derivation) -> list[tuple[str, str]]:
    """The named steps with unnamed intermediate steps (``v1``, …) substituted into them, in order."""
    unnamed = {name for name, _ in d.steps if re.fullmatch(r"v\d+", name)}
    unnamed.discard(d.output)
    texts: dict[str, str] = {}
    out = []
    for name, formula in d.steps:
        def sub(m: re.Match[str]) -> str:
            word = m.group(0)
            return f"({texts[word]})" if word in texts else word

        text = re.sub(r"\b[A-Za-z_][A-Za-z0-9_]*\b", sub, formula)
        if name in unnamed:
            texts[name] = text
        else:
            out.append((name, text))
    return out


# --- case splits in the formula language ---------------------------------------------------------------------
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
    raise Unwritable(f"the condition {cond} is not a comparison of real numbers")


def _fold(pw: Any) -> Any:
    """A ``Piecewise`` as ``Σ value · indicator``: each piece holds where its condition does and no earlier one."""
    import sympy as sp

    if pw.args[-1][1] != sp.true:
        raise Unwritable(f"the case split {pw} has no 'otherwise' piece (it is undefined for some inputs)")
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


def claim_text(expr: Any) -> str:
    """A gradient formula (SymPy) as the right-hand side of a claim; raises :class:`Unwritable`."""
    from sympy.printing.str import StrPrinter

    class _Printer(StrPrinter):
        def _print_Abs(self, e: Any) -> str:
            return f"abs({self._print(e.args[0])})"

        def _print_Exp1(self, e: Any) -> str:
            return "exp(1)"

        def _print_Max(self, e: Any) -> str:
            return f"max({', '.join(self._print(a) for a in e.args)})"

        def _print_Min(self, e: Any) -> str:
            return f"min({', '.join(self._print(a) for a in e.args)})"

    text = _Printer({"order": "none"}).doprint(in_step_form(expr))
    try:
        parse(text, CLAIM_GRAMMAR, "the claim")
    except ExpressionError as exc:
        raise Unwritable(f"{text[:80]!r} is not in the derivation language ({exc})") from None
    return text


def _read_back(text: str, symbols: dict[str, Any]) -> Any:
    """The claim text as SymPy, each function by the op table's SymPy form (as the checker reads it)."""
    import sympy as sp

    funcs = {name: op.sympy for name, op in EXPR_FUNCTIONS.items() if op.sympy is not None and not op.attr_names}
    funcs.update({"max": sp.Max, "min": sp.Min})

    def number(v: int | float) -> Any:
        return sp.Integer(int(v)) if float(v).is_integer() else sp.Rational(repr(float(v)))

    def name(n: str, node: Any) -> Any:
        if n == "pi":
            return sp.pi
        return symbols[n]

    return Evaluator(name=name, call=lambda fn, args, node: funcs[fn](*args), number=number)(
        parse(text, CLAIM_GRAMMAR, "the claim"))


def _same_near(text: str, g: Any, d: Derivation) -> None:
    """The claim text read back equals the derived formula at the point and three nearby points."""
    from autograd_viz.explain.gradients import expand_sigma
    from autograd_viz.explain.sympynum import to_numpy

    symbols = {s.name: s for s in g.sympy.free_symbols}
    names = sorted(symbols)
    back = to_numpy(_read_back(text, symbols), [symbols[n] for n in names])
    want = to_numpy(expand_sigma(g.sympy), [symbols[n] for n in names])
    point = [float(d.point[n]) if n in d.point else 0.5 for n in names]
    for scale in (0.0, 0.113, -0.087, 0.051):
        xs = [x * (1 + scale) + (0.05 * scale if x == 0 else 0.0) for x in point]
        a, b = float(back(*xs)), float(want(*xs))
        if not (math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))):
            raise ExplainError(f"--toml: the claim written for the gradient w.r.t. {g.name}, {text[:80]!r}, gives "
                               f"{a:.10g} at {xs} where the derived formula gives {b:.10g}")


def derivation_toml(d: Derivation) -> str:
    """The derivation file's text; raises :class:`ExplainError` when a gradient has no form in its language."""
    if d.kind != "scalar":
        raise ExplainError("--toml: only scalar (Value) graphs can be written as a derivation file")
    names = [*d.inputs, *(n for n, _ in d.steps)]
    clash = sorted(set(names) & RESERVED)
    if clash:
        raise ExplainError(f"--toml: {', '.join(map(repr, clash))} is a function name in derivation files; "
                           "rename the step or input")
    lines = [f"# Written by autograd-viz explain: the gradients of {d.output} as claims; prove them with",
             "#   autograd-viz check THIS_FILE",
             f"title = {_quote('Worked solution: ' + d.expression)}",
             f"source = {_quote('autograd-viz explain')}", "", "[symbols]"]
    lines += [f"{n} = \"real\"" for n in d.inputs]
    lines += ["", "[define]"]
    lines += [f"{n} = {_quote(f)}" for n, f in _inline(d)]
    for g in d.gradients.values():
        if g.sympy is None:
            raise ExplainError(f"--toml: the gradient w.r.t. {g.name} has no formula in the inputs (the graph is "
                               "too large for symbolic gradients)")
        try:
            rhs = claim_text(g.sympy)
        except Unwritable as exc:
            raise ExplainError(f"--toml: the gradient w.r.t. {g.name} cannot be written as a claim: {exc}") from None
        _same_near(rhs, g, d)
        lhs_latex = "\\frac{\\partial " + d.output_tex + "}{\\partial " + g.tex + "}"
        lines += ["", "[[claim]]", f"name = {_quote(f'd{d.output}/d{g.name}, derived by explain')}",
                  f"lhs = {_quote(f'diff({d.output}, {g.name})')}", f"rhs = {_quote(rhs)}",
                  f"lhs_latex = {_quote(lhs_latex)}"]  # rhs: the text is exact; the checker writes its LaTeX
    return "\n".join(lines) + "\n"
