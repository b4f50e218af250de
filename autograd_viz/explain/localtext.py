"""The op table's readable local-derivative texts (``σ(z)(1−σ(z))``, ``ḡ @ Wᵀ``) read back as formulas.

A worked solution prints these texts, so it must be able to check them: each text is rewritten into the
expression language (``sigmoid(z)*(1-sigmoid(z))``), parsed by :mod:`autograd_viz.expr` and evaluated with
numbers (compared with SymPy's derivative and the engine's backward) or turned into LaTeX. A text that cannot
be read raises :class:`LocalTextError`; the caller then verifies the number another way or refuses.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from autograd_viz.errors import ExpressionError, LocalTextError
from autograd_viz.expr import Evaluator, Grammar, names_in, parse
from autograd_viz.ops import EXPR_FUNCTIONS, ArrayMath, OpDef

#: The functions a derivative text may use: the op table's one-argument functions (sin, erf, sigmoid, ...), plus
#: ``pos(u)`` for Iverson's [u > 0] and ``where_pos(c, a, b)`` for "a if c > 0 else b".
_OPS: dict[str, OpDef] = {name: op for name, op in EXPR_FUNCTIONS.items() if op.arity == 1 and not op.attr_names}
_FUNCS = frozenset(_OPS) | {"pos", "where_pos"}
GRAMMAR = Grammar(functions=_FUNCS, matmul=True, attributes=frozenset({"T"}), extra_names=frozenset({"pi"}))
_TOKEN = re.compile(r"\s*(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+|[A-Za-z_][A-Za-z0-9_]*|\*\*|.)")
_SIMPLE = {"−": "-", "×": "*", "·": "*", "÷": "/", "σ": "sigmoid", "ḡ": "g", "ᵀ": ".T", "⊙": "*", "π": "pi",
           "^": "**"}
_ARG = r"(\([^()]*\)|[A-Za-z0-9_.]+)"


def _match_paren(s: str, start: int) -> int:
    depth = 0
    for k in range(start, len(s)):
        depth += {"(": 1, ")": -1}.get(s[k], 0)
        if depth == 0:
            return k
    raise LocalTextError(f"unbalanced parentheses in {s!r}")


def to_expression(text: str) -> str:
    """Rewrite a readable derivative text into the expression language; raise :class:`LocalTextError`."""
    s = text.strip()
    m = re.fullmatch(r"(.+?) if (.+?) > 0 else (.+)", s)
    if m:
        s = f"where_pos({m.group(2)}, {m.group(1)}, {m.group(3)})"
    s = re.sub(r"\[([^\[\]]+?) > 0\]", r"pos(\1)", s)
    s = re.sub(r"(?<![A-Za-z0-9_])e\^\(", "exp(", s)  # e^(−x²) -> exp(−x²)
    for old, new in _SIMPLE.items():
        s = s.replace(old, new)
    s = re.sub(r"\bln\s*" + _ARG, r"log(\1)", s)
    s = re.sub(r"√\s*" + _ARG, r"sqrt(\1)", s)
    while True:  # tanh²(x) -> (tanh(x))**2
        m = re.search(r"([A-Za-z_]\w*)²\(", s)
        if not m:
            break
        close = _match_paren(s, m.end() - 1)
        s = f"{s[:m.start()]}({m.group(1)}{s[m.end() - 1:close + 1]})**2{s[close + 1:]}"
    s = s.replace("²", "**2")
    if re.search(r"[^\x00-\x7f]", s):
        raise LocalTextError(f"cannot read the derivative text {text!r}")
    return _implicit_products(s)


def _implicit_products(s: str) -> str:
    """Insert the ``*`` a person leaves out: ``2x``, ``y(1-y)``, ``)(``."""
    tokens = [t for t in _TOKEN.findall(s) if t.strip()]
    out: list[str] = []
    for k, tok in enumerate(tokens):
        if out:
            prev = tokens[k - 1]
            left = prev == ")" or prev[0].isdigit() or (prev[0].isalpha() or prev[0] == "_")
            right = tok == "(" or tok[0].isdigit() or tok[0].isalpha() or tok[0] == "_"
            after_dot = k >= 2 and tokens[k - 2] == "."
            if left and right and not (tok == "(" and prev in _FUNCS) and not after_dot:
                out.append("*")
            elif prev == "." and not tok.isidentifier():
                raise LocalTextError(f"cannot read {s!r}")
        out.append(tok)
    return " ".join(out)


def parse_local(text: str) -> ast.expr:
    """The derivative text as a checked expression tree."""
    source = to_expression(text)
    try:
        return parse(source, GRAMMAR, "local derivative")
    except ExpressionError as exc:
        raise LocalTextError(f"cannot read the derivative text {text!r}: {exc}") from None


def free_names(tree: ast.expr) -> list[str]:
    """The names a parsed derivative text uses."""
    return names_in(tree)


# --- numbers -------------------------------------------------------------------------------------------------
def _op_numeric(op: OpDef) -> Callable[[Any], Any]:
    def f(x: Any) -> Any:
        out = op.forward(ArrayMath, np.asarray(x, dtype=np.float64))
        return out[0] if op.saves else out
    return f


_NUMERIC: dict[str, Callable[..., Any]] = {
    **{name: _op_numeric(op) for name, op in _OPS.items()},
    "pos": lambda x: (np.asarray(x) > 0).astype(np.float64),
    "where_pos": lambda c, a, b: np.where(np.asarray(c) > 0, a, b),
}


def evaluate(tree: ast.expr, values: Mapping[str, Any]) -> Any:
    """The derivative text's value with each name replaced by ``values[name]`` (floats or float64 arrays)."""

    def name(n: str, node: ast.Name) -> Any:
        if n not in values:
            if n == "pi":
                return np.pi
            raise LocalTextError(f"the derivative text uses {n!r}, which is not an input of the op")
        return values[n]

    def call(fn: str, args: list[Any], node: ast.Call) -> Any:
        return _NUMERIC[fn](*args)

    def attribute(value: Any, attr: str) -> Any:
        return np.swapaxes(value, -1, -2) if np.ndim(value) >= 2 else value

    with np.errstate(all="ignore"):
        return Evaluator(name=name, call=call, number=float, attribute=attribute)(tree)


def evaluate_sympy(tree: ast.expr, values: Mapping[str, Any], sigmoid: Callable[[Any], Any] | None = None) -> Any:
    """The derivative text as a SymPy expression of ``values`` (SymPy expressions by name); ``sigmoid`` may
    keep σ as a function instead of 1/(1 + e^(−x))."""
    import sympy as sp

    funcs: dict[str, Callable[..., Any]] = {name: op.sympy for name, op in _OPS.items() if op.sympy is not None}
    funcs.update({"pos": lambda x: sp.Piecewise((1, x > 0), (0, True)),
                  "where_pos": lambda c, a, b: sp.Piecewise((a, c > 0), (b, True))})
    if sigmoid is not None:
        funcs["sigmoid"] = sigmoid

    def name(n: str, node: ast.Name) -> Any:
        if n not in values:
            if n == "pi":
                return sp.pi
            raise LocalTextError(f"the derivative text uses {n!r}, which is not an input of the op")
        return values[n]

    return Evaluator(name=name, call=lambda fn, args, node: funcs[fn](*args), number=exact_number)(tree)


def exact_number(value: float) -> Any:
    """``value`` as an exact SymPy number: an integer, else the rational of its shortest decimal form."""
    import sympy as sp

    return sp.Integer(int(value)) if float(value).is_integer() else sp.Rational(repr(float(value)))


# --- LaTeX ---------------------------------------------------------------------------------------------------
_PREC = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.MatMult: 2, ast.Div: 2, ast.Pow: 4}


def to_latex(tree: ast.expr, names: Mapping[str, str]) -> str:
    """The derivative text in LaTeX, each name written as ``names[name]`` (a LaTeX name or a number)."""
    return _tex(tree, names, 0)


def _paren(s: str) -> str:
    return f"\\left({s}\\right)"


def _tex(node: ast.AST, names: Mapping[str, str], parent: int) -> str:
    if isinstance(node, ast.Constant):
        return format_number(float(node.value))  # type: ignore[arg-type]  # the grammar admits numbers only
    if isinstance(node, ast.Name):
        text = names.get(node.id, "\\pi" if node.id == "pi" else node.id)
        return _paren(text) if text.startswith("-") and parent >= 2 else text
    if isinstance(node, ast.UnaryOp):
        out = f"-{_tex(node.operand, names, 3)}"
        return _paren(out) if parent >= 2 else out
    if isinstance(node, ast.Attribute):
        return f"{_tex(node.value, names, 5)}^{{\\top}}"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        fn = node.func.id
        args = [_tex(a, names, 0) for a in node.args]
        if fn == "sigmoid":
            return f"\\sigma\\left({args[0]}\\right)"
        if fn in ("tanh", "log"):
            return f"\\{'ln' if fn == 'log' else fn}\\left({args[0]}\\right)"
        if fn == "exp":
            return f"e^{{{args[0]}}}"
        if fn == "sqrt":
            return f"\\sqrt{{{args[0]}}}"
        if fn == "abs":
            return f"\\left|{args[0]}\\right|"
        if fn == "pos":
            return f"\\left[{args[0]} > 0\\right]"
        if fn == "where_pos":
            return f"\\left({args[1]}\\ \\mathrm{{if}}\\ {args[0]} > 0\\ \\mathrm{{else}}\\ {args[2]}\\right)"
        known = _OPS.get(fn)
        if known is not None and known.latex and len(args) == 1:
            return known.latex.format(x0=args[0])
        return f"\\operatorname{{{fn}}}\\left({', '.join(args)}\\right)"
    if isinstance(node, ast.BinOp):
        prec = _PREC[type(node.op)]
        if isinstance(node.op, ast.Div):
            out = f"\\frac{{{_tex(node.left, names, 0)}}}{{{_tex(node.right, names, 0)}}}"
            return out
        if isinstance(node.op, ast.Pow):
            out = f"{{{_tex(node.left, names, 5)}}}^{{{_tex(node.right, names, 0)}}}"
            return _paren(out) if parent > prec else out
        op = {ast.Add: " + ", ast.Sub: " - ", ast.Mult: " \\cdot ", ast.MatMult: " "}[type(node.op)]
        right_prec = prec + (0 if isinstance(node.op, ast.Add | ast.Mult | ast.MatMult) else 1)
        left, right = _tex(node.left, names, prec), _tex(node.right, names, right_prec)
        if isinstance(node.op, ast.Mult) and not (right[:1].isdigit() or right[:1] == "-" or left[-1:].isdigit()
                                                   or left[-1:] == "}" and right[:1].isalpha()):
            op = " "
        out = f"{left}{op}{right}"
        return _paren(out) if parent > prec else out
    raise LocalTextError(f"cannot write {type(node).__name__} in LaTeX")


def format_number(value: float, digits: int = 6) -> str:
    """A number for a worked solution: ``0.25``, ``-0.125``, ``1.5e-07``; integers without a point."""
    if value == 0:
        return "0"
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa} \\times 10^{{{int(exponent)}}}"
    return text
