"""The values formulas evaluate to (SymPy scalars and matrices, wrapped so ``*`` is elementwise and ``@`` the
matrix product, with shape errors named) and the functions of matrices: the pieces :class:`model.Model` builds on."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

import sympy as sp

from autograd_viz.errors import ExpressionError
from autograd_viz.expr import Evaluator
from autograd_viz.ops import EXPR_FUNCTIONS

MAX_NEST = 1000
MATRIX_FUNCTIONS = ("trace", "det", "inv", "eye", "diag", "logdet")


def _unary_functions() -> dict[str, Any]:
    """The op table's one-input functions of the expression language, as SymPy functions (``sigmoid`` ->
    ``1/(1 + exp(-x))``): the checker's calculus is the engine's."""
    return {name: op.sympy for name, op in EXPR_FUNCTIONS.items() if op.sympy is not None and not op.attr_names}


SCALAR_FUNCS = _unary_functions()
ELEMENTWISE = tuple(SCALAR_FUNCS)


def col(node: ast.AST) -> str:
    return f"column {getattr(node, 'col_offset', 0) + 1}"


def is_matrix(v: Any) -> bool:
    return isinstance(v, sp.MatrixBase)


def as_scalar(v: Any, what: str) -> sp.Expr:
    """A scalar, or the entry of a 1×1 matrix; anything else is an error naming ``what``."""
    if is_matrix(v):
        if v.shape == (1, 1):
            return v[0, 0]
        raise ExpressionError(f"{what} must be a scalar, got a {v.shape[0]}×{v.shape[1]} matrix")
    return v


def shape(v: Any) -> str:
    return f"{v.shape[0]}×{v.shape[1]}" if is_matrix(v) else "scalar"


MAX_EXPONENT = 10_000


def _power(x: sp.Expr, y: sp.Expr) -> sp.Expr:
    """x**y, refusing number towers such as 9**9**9 that would take minutes and gigabytes to expand."""
    if x.is_Number and y.is_Number and abs(y) > MAX_EXPONENT and abs(x) != 1:
        raise ExpressionError(f"the exponent {y} is too large (at most {MAX_EXPONENT} for a number)")
    return x**y


class M:
    """A value during evaluation: wraps a SymPy scalar or matrix so ``*`` is elementwise and ``@`` is the
    matrix product, with shape errors named."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def _pair(self, other: Any, op: str) -> tuple[Any, Any]:
        a, b = self.v, other.v if isinstance(other, M) else other
        if is_matrix(a) and is_matrix(b) and a.shape != b.shape:
            raise ExpressionError(f"shape mismatch: {shape(a)} {op} {shape(b)}")
        return a, b

    def _elementwise(self, other: Any, op: str, f: Callable[[Any, Any], Any]) -> M:
        a, b = self._pair(other, op)
        if is_matrix(a) and is_matrix(b):
            return M(sp.ImmutableMatrix(a.shape[0], a.shape[1], [f(x, y) for x, y in zip(a, b, strict=True)]))
        if is_matrix(a):
            return M(a.applyfunc(lambda x: f(x, b)))
        if is_matrix(b):
            return M(b.applyfunc(lambda y: f(a, y)))
        return M(f(a, b))

    def __add__(self, o: Any) -> M:
        return self._elementwise(o, "+", lambda x, y: x + y)

    def __radd__(self, o: Any) -> M:
        return M(o) + self

    def __sub__(self, o: Any) -> M:
        return self._elementwise(o, "-", lambda x, y: x - y)

    def __rsub__(self, o: Any) -> M:
        return M(o) - self

    def __mul__(self, o: Any) -> M:
        return self._elementwise(o, "*", lambda x, y: x * y)

    def __rmul__(self, o: Any) -> M:
        return M(o) * self

    def __truediv__(self, o: Any) -> M:
        return self._elementwise(o, "/", lambda x, y: x / y)

    def __rtruediv__(self, o: Any) -> M:
        return M(o) / self

    def __pow__(self, o: Any) -> M:
        return self._elementwise(o, "**", _power)

    def __rpow__(self, o: Any) -> M:
        return M(o) ** self

    def __neg__(self) -> M:
        return M(-self.v)

    def __pos__(self) -> M:
        return self

    def __matmul__(self, o: Any) -> M:
        a, b = self.v, o.v
        if not (is_matrix(a) and is_matrix(b)):
            raise ExpressionError(f"@ needs two matrices, got {shape(a)} @ {shape(b)}")
        if a.shape[1] != b.shape[0]:
            raise ExpressionError(f"shape mismatch: {shape(a)} @ {shape(b)}")
        return M(sp.ImmutableMatrix(a * b))


class _Eval(Evaluator):
    """The shared evaluator, with the column added to errors raised by an operator (shape mismatches)."""

    def _apply(self, node: ast.AST, results: Any) -> Any:
        try:
            return super()._apply(node, results)
        except ExpressionError as exc:
            if "column" in str(exc):
                raise
            raise ExpressionError(f"{exc} ({col(node)})") from None


def _replace(value: Any, mapping: dict) -> Any:
    if not mapping or not isinstance(value, sp.Basic | sp.MatrixBase):
        return value
    if is_matrix(value):
        return value.applyfunc(lambda e: e.xreplace(mapping))
    return value.xreplace(mapping)


def matrix_function(f: str, v: Any, node: ast.Call) -> Any:
    """trace, det, inv, logdet of a square matrix; eye(n) the identity; diag(v) the diagonal matrix of a
    vector."""
    if f == "eye":
        n = as_scalar(v, "eye() size")
        if not (isinstance(n, sp.Integer) and 0 < n <= 64):
            raise ExpressionError(f"eye(n) needs a positive integer size up to 64 ({col(node)})")
        return sp.ImmutableMatrix.eye(int(n))
    if not is_matrix(v):
        raise ExpressionError(f"{f}() needs a matrix, got a scalar ({col(node)})")
    if f == "diag":
        if 1 not in v.shape:
            raise ExpressionError(f"diag() needs a vector (n×1 or 1×n), got {shape(v)} ({col(node)})")
        return sp.ImmutableMatrix(sp.diag(*list(v)))
    if v.shape[0] != v.shape[1]:
        raise ExpressionError(f"{f}() needs a square matrix, got {shape(v)} ({col(node)})")
    if f == "trace":
        return v.trace()
    if f == "det":
        return v.det(method="berkowitz")
    if f == "logdet":
        return sp.log(v.det(method="berkowitz"))
    d = v.det(method="berkowitz")
    if d == 0:
        raise ExpressionError(f"inv(): the matrix is singular ({col(node)})")
    return sp.ImmutableMatrix(v.adjugate() / d)
