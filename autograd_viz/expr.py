"""Safe expressions: parse with ``ast`` against a whitelist, evaluate iteratively. Nothing is ``eval``ed.

The CLI's ``graph EXPR`` and the derivation checker both read formulas through here, so the rules for what
is refused (attributes, subscripts, lambdas, ``__import__``, strings, ...) live in one place.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from autograd_viz.errors import ExpressionError

MAX_LENGTH = 20_000

_BINARY: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.Pow: ("**", operator.pow),
    ast.MatMult: ("@", operator.matmul),
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}

_REFUSED = {
    ast.Lambda: "a lambda",
    ast.Compare: "a comparison",
    ast.BoolOp: "a boolean operator",
    ast.IfExp: "a conditional expression",
    ast.ListComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.List: "a list",
    ast.Starred: "a starred argument",
    ast.JoinedStr: "a string",
    ast.NamedExpr: "an assignment",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.Slice: "a slice",
}


@dataclass(frozen=True)
class Grammar:
    """What an expression may contain beyond numbers, names, ``+ - * / **`` and unary minus."""

    functions: frozenset[str] = frozenset()
    matmul: bool = False
    attributes: frozenset[str] = frozenset()  # e.g. {"T"} for ``M.T``
    subscripts: bool = False  # ``w[i]``: a name indexed by a name or an integer
    tuples: bool = False  # ``Sum(x, (i, 1, n))``
    extra_names: frozenset[str] = field(default=frozenset())


def _quote(text: str, limit: int = 60) -> str:
    text = text.strip()
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _where(node: ast.AST) -> str:
    return f"column {getattr(node, 'col_offset', 0) + 1}"


def parse(text: str, grammar: Grammar, what: str = "expression") -> ast.expr:
    """Parse ``text`` and check every node against ``grammar``; raise :class:`ExpressionError` naming the
    offending construct and its column."""
    if not isinstance(text, str):
        raise ExpressionError(f"{what}: expected text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"{what}: longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ExpressionError(f"{what}: empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        col = exc.offset if exc.offset and exc.offset <= len(text.strip()) else len(text.strip()) + 1
        raise ExpressionError(f"{what} {_quote(text)}: syntax error at column {col}: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError(f"{what}: too deeply nested or malformed") from None
    for node in ast.walk(tree.body):
        _check(node, grammar, what, text)
    return tree.body


def _check(node: ast.AST, grammar: Grammar, what: str, text: str) -> None:
    def refuse(reason: str) -> ExpressionError:
        return ExpressionError(f"{what} {_quote(text)}: {reason} is not allowed ({_where(node)})")

    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.BitXor):
            raise ExpressionError(f"{what} {_quote(text)}: ^ is not a power here ({_where(node)}); write ** for "
                                  "a power, e.g. x**2")
        if type(node.op) not in _BINARY or (isinstance(node.op, ast.MatMult) and not grammar.matmul):
            raise refuse(f"the operator {type(node.op).__name__}")
    elif isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            raise refuse(f"the operator {type(node.op).__name__}")
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise refuse(f"the constant {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise refuse(f"the name {node.id!r}")
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise refuse("calling anything but a plain function name")
        if node.keywords:
            raise refuse("a keyword argument")
        if node.func.id not in grammar.functions:
            known = ", ".join(sorted(grammar.functions)) or "none"
            raise ExpressionError(f"{what} {_quote(text)}: unknown function {node.func.id!r} ({_where(node)}); "
                                  f"known: {known}")
    elif isinstance(node, ast.Attribute):
        if node.attr not in grammar.attributes:
            raise refuse(f"attribute access .{node.attr}")
    elif isinstance(node, ast.Subscript):
        ok_index = isinstance(node.slice, ast.Name) or (
            isinstance(node.slice, ast.Constant) and type(node.slice.value) is int) or (
            isinstance(node.slice, ast.Tuple) and len(node.slice.elts) == 2  # M[i, j]: integer entries
            and all(isinstance(e, ast.Constant) and type(e.value) is int for e in node.slice.elts))
        if not grammar.subscripts or not isinstance(node.value, ast.Name) or not ok_index:
            raise refuse("subscripting")
    elif isinstance(node, ast.Tuple):
        if not grammar.tuples:
            raise refuse("a tuple")
    elif isinstance(node, ast.expr_context | ast.operator | ast.unaryop):
        pass
    else:
        raise refuse(_REFUSED.get(type(node), type(node).__name__))


@dataclass
class Evaluator:
    """Evaluate a checked tree bottom-up (iteratively: long chains such as ``a+a+...+a`` are fine).

    ``name(id, node)`` resolves names; ``number(value)`` wraps constants; ``call(fn, args, node)`` applies a
    function; ``attribute(value, attr)`` and ``subscript(name, index, node)`` serve the optional forms.
    Binary and unary operators use Python's operators on the operands.
    """

    name: Callable[[str, ast.Name], Any]
    call: Callable[[str, list[Any], ast.Call], Any]
    number: Callable[[int | float], Any] = lambda v: v
    attribute: Callable[[Any, str], Any] | None = None
    subscript: Callable[[str, Any, ast.Subscript], Any] | None = None
    lazy_calls: frozenset[str] = frozenset()  # calls whose arguments are passed as unevaluated nodes

    def __call__(self, tree: ast.expr) -> Any:
        results: dict[int, Any] = {}
        stack: list[tuple[ast.AST, bool]] = [(tree, False)]
        while stack:
            node, ready = stack.pop()
            if not ready:
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(self._children(node)))
                continue
            results[id(node)] = self._apply(node, results)
        return results[id(tree)]

    def _children(self, node: ast.AST) -> list[ast.AST]:
        if isinstance(node, ast.BinOp):
            return [node.left, node.right]
        if isinstance(node, ast.UnaryOp):
            return [node.operand]
        if isinstance(node, ast.Call):
            return [] if cast(ast.Name, node.func).id in self.lazy_calls else list(node.args)
        if isinstance(node, ast.Tuple):
            return list(node.elts)
        if isinstance(node, ast.Attribute):
            return [node.value]
        return []

    def _apply(self, node: ast.AST, results: Mapping[int, Any]) -> Any:
        if isinstance(node, ast.Constant):
            return self.number(cast("int | float", node.value))  # the whitelist admits only numbers
        if isinstance(node, ast.Name):
            return self.name(node.id, node)
        if isinstance(node, ast.BinOp):
            return _BINARY[type(node.op)][1](results[id(node.left)], results[id(node.right)])
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](results[id(node.operand)])
        if isinstance(node, ast.Call):
            func = cast(ast.Name, node.func)  # the whitelist only admits calls of plain names
            if func.id in self.lazy_calls:
                return self.call(func.id, list(node.args), node)
            return self.call(func.id, [results[id(a)] for a in node.args], node)
        if isinstance(node, ast.Tuple):
            return tuple(results[id(e)] for e in node.elts)
        if isinstance(node, ast.Attribute) and self.attribute is not None:
            return self.attribute(results[id(node.value)], node.attr)
        if isinstance(node, ast.Subscript) and self.subscript is not None:
            index: Any
            if isinstance(node.slice, ast.Name):
                index = node.slice.id
            elif isinstance(node.slice, ast.Tuple):  # M[i, j]: the whitelist allows integer entries only
                index = tuple(cast(ast.Constant, e).value for e in node.slice.elts)
            else:
                index = cast(ast.Constant, node.slice).value
            return self.subscript(cast(ast.Name, node.value).id, index, node)  # whitelist: name[...]
        raise ExpressionError(f"cannot evaluate {type(node).__name__} ({_where(node)})")


def names_in(tree: ast.expr) -> list[str]:
    """The distinct names an expression uses (not function names), in order of first appearance."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called]
    found.sort(key=lambda n: (n.lineno, n.col_offset))
    return list(dict.fromkeys(n.id for n in found))
