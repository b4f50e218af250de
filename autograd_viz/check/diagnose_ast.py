"""Edits of a formula's syntax tree, for the named mistake (:mod:`autograd_viz.check.diagnose`): a node
replaced, the factors of a product, the whole negated the way a student would write it."""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable
from typing import Any


def _src(node: ast.AST) -> str:
    return ast.unparse(node)


def _part(node: ast.AST) -> str:
    """A sub-formula as it must be written inside a product: parenthesised unless it is a name, number or call."""
    text = ast.unparse(node)
    return f"({text})" if isinstance(node, ast.BinOp | ast.UnaryOp) else text


def _factors(node: ast.expr) -> list[ast.expr]:
    """The factors of a ``*`` chain (``a*b*c`` parses as ``(a*b)*c``)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return _factors(node.left) + _factors(node.right)
    return [node]


def _product(factors: list[ast.expr]) -> ast.expr:
    out = copy.deepcopy(factors[0])
    for f in factors[1:]:
        out = ast.BinOp(left=out, op=ast.Mult(), right=copy.deepcopy(f))
    return out


def _expr(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def _nodes(tree: ast.expr) -> list[ast.AST]:
    return list(ast.walk(tree))


def _replaced(tree: ast.expr, index: int, make: Callable[..., Any]) -> ast.expr | None:
    """A copy of ``tree`` with its ``index``-th node (``ast.walk`` order) replaced by ``make(node)``."""
    new = copy.deepcopy(tree)
    nodes = _nodes(new)
    target = nodes[index]
    repl = make(target)
    if repl is None:
        return None
    if index == 0:
        return repl
    for parent in nodes:
        for fieldname, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, fieldname, repl)
                return new
            if isinstance(value, list):
                for k, v in enumerate(value):
                    if v is target:
                        value[k] = repl
                        return new
    return None  # pragma: no cover - every node but the root has a parent


def _value_names(tree: ast.expr) -> set[int]:
    """ids of the Name nodes that stand for values (not function names, diff variables or Sum indices)."""
    skip: set[int] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Call):
            skip.add(id(n.func))
            if isinstance(n.func, ast.Name) and n.func.id in ("diff", "grad", "nest", "Sum"):
                for a in n.args[1:]:
                    skip |= {id(x) for x in ast.walk(a)}
    return {id(n) for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in skip}


def _negate(tree: ast.expr) -> ast.expr:
    """−tree, written as the student would: a leading minus dropped, or one factor ``a - b`` turned into
    ``b - a``, else ``-(tree)``."""
    if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, ast.USub):
        return copy.deepcopy(tree.operand)
    if isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Sub):
        return ast.BinOp(left=copy.deepcopy(tree.right), op=ast.Sub(), right=copy.deepcopy(tree.left))
    if isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Mult):
        factors = _factors(tree)
        for k, f in enumerate(factors):
            if isinstance(f, ast.BinOp) and isinstance(f.op, ast.Sub) or isinstance(f, ast.UnaryOp):
                return _product([*factors[:k], _negate(f), *factors[k + 1:]])
    if isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Mult | ast.MatMult | ast.Div):
        for side in ("left", "right"):
            part = getattr(tree, side)
            if isinstance(part, ast.BinOp) and isinstance(part.op, ast.Sub) or isinstance(part, ast.UnaryOp):
                new = copy.deepcopy(tree)
                setattr(new, side, _negate(part))
                return new
        new = copy.deepcopy(tree)
        new.left = _negate(tree.left)
        return new
    return _expr(f"-({_src(tree)})")




def _rename(tree: ast.expr, values: set[int], mapping: dict[str, str]) -> ast.expr:
    new = copy.deepcopy(tree)
    old_ids = [id(n) for n in ast.walk(tree)]
    for old, node in zip(old_ids, ast.walk(new), strict=True):
        if old in values and isinstance(node, ast.Name) and node.id in mapping:
            node.id = mapping[node.id]
    return new
