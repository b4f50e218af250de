"""Formulas (parsed trees) printed as LaTeX for the Markdown report: ``diff(L, w)`` as a partial-derivative
fraction, ``yhat`` as ``\\hat{y}``, ``sigmoid`` as ``\\sigma``, Greek names as macros."""

from __future__ import annotations

import ast
import re
from typing import cast

from autograd_viz.check.latex import GREEK
from autograd_viz.ops import EXPR_FUNCTIONS

_PREC = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.MatMult: 2, ast.Div: 2, ast.Pow: 4}


def _name_tex(n: str) -> str:
    for suffix, accent in (("hat", "hat"), ("bar", "bar"), ("tilde", "tilde")):
        if n.endswith(suffix) and len(n) > len(suffix):
            return f"\\{accent}{{{_name_tex(n[:-len(suffix)].rstrip('_') or n[:-len(suffix)])}}}"
    if n in GREEK:
        return f"\\{n}"
    m = re.fullmatch(r"([A-Za-z]+)_?(\d+)", n)
    if m:
        return f"{_name_tex(m.group(1))}_{{{m.group(2)}}}"
    literal = n.replace("_", r"\_")  # a scalar called w_1_2 prints its underscores, not double subscripts
    return n if len(n) == 1 else f"\\mathrm{{{literal}}}"


def _base(tex: str) -> str:
    """A base that carries its own superscript braced: ``{X^{-1}}^{T}``, not ``X^{-1}^{T}`` (a double
    superscript, invalid in MathJax, KaTeX and mathtext)."""
    return f"{{{tex}}}" if tex.endswith("}") and "^" in tex else tex


def _tex(node: ast.AST, parent: int = 0) -> str:
    if isinstance(node, ast.Constant):
        return repr(node.value)
    if isinstance(node, ast.Name):
        return {"pi": "\\pi", "e": "e"}.get(node.id) or _name_tex(node.id)
    if isinstance(node, ast.UnaryOp):
        return f"-{_tex(node.operand, 3)}"
    if isinstance(node, ast.Attribute):
        return f"{_base(_tex(node.value, 5))}^{{T}}"
    if isinstance(node, ast.Subscript):
        name = _name_tex(cast(ast.Name, node.value).id)  # the grammar: name[name, int or a tuple of ints]
        name = f"{{{name}}}" if "_" in name else name  # W2[0, 1] as {W_{2}}_{0,1}, not W_{2,0,1}
        if isinstance(node.slice, ast.Tuple):
            return f"{name}_{{{','.join(str(cast(ast.Constant, e).value) for e in node.slice.elts)}}}"
        index: object = node.slice.id if isinstance(node.slice, ast.Name) else cast(ast.Constant, node.slice).value
        return f"{name}_{{{index}}}"
    if isinstance(node, ast.BinOp):
        prec = _PREC[type(node.op)]
        if isinstance(node.op, ast.Div):
            return f"\\frac{{{_tex(node.left)}}}{{{_tex(node.right)}}}"
        if isinstance(node.op, ast.Pow):
            base = _tex(node.left, 5)
            if isinstance(node.left, ast.Call) and "^" in base:  # e^{x} squared: (e^{x})^{2}, not e^{x}^{2}
                base = f"\\left({base}\\right)"
            out = f"{base}^{{{_tex(node.right)}}}"
        else:
            op = {ast.Add: " + ", ast.Sub: " - ", ast.Mult: " \\cdot ", ast.MatMult: " "}[type(node.op)]
            out = f"{_tex(node.left, prec)}{op}{_tex(node.right, prec + (0 if prec == 2 else 1))}"
        return f"\\left({out}\\right)" if prec < parent else out
    if isinstance(node, ast.Tuple):
        return ", ".join(_tex(e) for e in node.elts)
    if isinstance(node, ast.Call):
        f, args = cast(ast.Name, node.func).id, node.args  # the grammar calls plain names only
        if f in ("diff", "grad") and len(args) >= 2:
            k = f"^{{{_tex(args[2])}}}" if len(args) == 3 else ""
            return f"\\frac{{\\partial{k} {_tex(args[0], 5)}}}{{\\partial {_tex(args[1])}{k}}}"
        if f == "Sum" and len(args) == 2 and isinstance(args[1], ast.Tuple) and len(args[1].elts) == 3:
            i, a, b = (_tex(e) for e in args[1].elts)
            return f"\\sum_{{{i}={a}}}^{{{b}}} {_tex(args[0], 2)}"
        if f in ("trace", "det", "logdet", "diag") and len(args) == 1:
            head = {"trace": "\\operatorname{tr}", "det": "\\det", "logdet": "\\log\\det",
                    "diag": "\\operatorname{diag}"}[f]
            return f"{head}\\left({_tex(args[0])}\\right)"
        if f == "inv" and len(args) == 1:
            return f"{_base(_tex(args[0], 5))}^{{-1}}"
        if f == "eye" and len(args) == 1:
            return f"I_{{{_tex(args[0])}}}"
        if f == "E":
            return f"\\mathbb{{E}}\\left[{_tex(args[0])}\\right]"
        if f in EXPR_FUNCTIONS and len(args) == 1 + len(EXPR_FUNCTIONS[f].attr_names):
            opdef = EXPR_FUNCTIONS[f]  # the op table's LaTeX: one template per op, shared with drawings
            attrs = {name: _tex(a) for name, a in zip(opdef.attr_names, args[1:], strict=True)}
            return opdef.latex_text([_tex(args[0], 5 if opdef.latex.startswith("{{{x0}}}^") else 0)], attrs)
        head = {"max": "\\max", "min": "\\min"}.get(f, f"\\operatorname{{{f}}}")
        return f"{head}\\left({', '.join(_tex(a) for a in args)}\\right)"
    return f"\\text{{{type(node).__name__}}}"


def to_latex(tree: ast.expr) -> str:
    """A parsed formula as LaTeX for reports."""
    try:
        return fix_subscripts(_tex(tree))
    except RecursionError:
        return "\\text{(too deep to print)}"


_DOUBLE = re.compile(r"_\{([^{}]*)\}_\{([^{}]*)\}")
_BARE = re.compile(r"(?<![\\{A-Za-z])([A-Za-z]+)_\{([^{}]*)\}_([A-Za-z0-9])")


def fix_subscripts(tex: str) -> str:
    """``w_{16}_{i}`` (two subscripts in a row, invalid in MathJax, KaTeX and mathtext) as ``w_{16,i}``."""
    prev = None
    while prev != tex:
        prev = tex
        tex = _DOUBLE.sub(r"_{\1,\2}", tex)
    return tex
