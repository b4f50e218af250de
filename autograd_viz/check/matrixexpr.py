"""Proofs for every size: a claim about matrices of symbolic size whose two sides are matrix algebra (``+``,
``-``, ``@``, ``.T``, scalar factors, definitions built from these) is evaluated with SymPy matrix expressions
of symbolic dimensions. When SymPy reduces lhs − rhs to the zero matrix, the identity holds for all sizes —
the argument does not depend on any particular n. Anything else (elementwise functions, ``grad``, ``sum``)
is not handled here, and such a claim is only checked at concrete sizes.
"""

from __future__ import annotations

import ast
from typing import Any

import sympy as sp

from autograd_viz.check.spec import Spec
from autograd_viz.expr import Evaluator


class NotMatrixAlgebra(Exception):
    """The formula uses something other than matrix algebra."""


def _is_mat(v: Any) -> bool:
    return isinstance(v, sp.MatrixExpr)


class _V:
    """A value: a SymPy scalar or matrix expression, with ``*`` allowed only when one side is a scalar."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def _other(self, o: Any) -> Any:
        return o.v if isinstance(o, _V) else o

    def _same_shape(self, a: Any, b: Any) -> None:
        if _is_mat(a) != _is_mat(b) or _is_mat(a) and a.shape != b.shape:
            raise NotMatrixAlgebra("shapes")

    def __add__(self, o: Any) -> _V:
        b = self._other(o)
        self._same_shape(self.v, b)
        return _V(self.v + b)

    def __radd__(self, o: Any) -> _V:
        return _V(o) + self

    def __sub__(self, o: Any) -> _V:
        b = self._other(o)
        self._same_shape(self.v, b)
        return _V(self.v - b)

    def __rsub__(self, o: Any) -> _V:
        return _V(o) - self

    def __mul__(self, o: Any) -> _V:
        b = self._other(o)
        if _is_mat(self.v) and _is_mat(b):
            raise NotMatrixAlgebra("elementwise product")
        return _V(self.v * b)

    def __rmul__(self, o: Any) -> _V:
        return _V(o) * self

    def __truediv__(self, o: Any) -> _V:
        b = self._other(o)
        if _is_mat(b):
            raise NotMatrixAlgebra("division by a matrix")
        return _V(self.v / b)

    def __rtruediv__(self, o: Any) -> _V:
        return _V(o) / self

    def __pow__(self, o: Any) -> _V:
        b = self._other(o)
        if _is_mat(self.v) or _is_mat(b):
            raise NotMatrixAlgebra("power of a matrix")
        return _V(self.v**b)

    def __neg__(self) -> _V:
        return _V(-self.v)

    def __pos__(self) -> _V:
        return self

    def __matmul__(self, o: Any) -> _V:
        b = self._other(o)
        if not (_is_mat(self.v) and _is_mat(b)) or self.v.shape[1] != b.shape[0]:
            raise NotMatrixAlgebra("@")
        return _V(sp.MatMul(self.v, b))


def evaluate(tree: ast.expr, spec: Spec, cache: dict[str, Any] | None = None) -> Any:
    """The formula as a SymPy matrix (or scalar) expression with symbolic sizes; raise NotMatrixAlgebra."""
    cache = {} if cache is None else cache
    dims = {n: sp.Symbol(n, integer=True, positive=True) for r, c in spec.matrices.values() for n in (r, c)
            if isinstance(n, str)}

    def size(s: int | str) -> sp.Expr:
        return sp.Integer(s) if isinstance(s, int) else dims[s]

    def name(n: str, node: ast.Name) -> _V:
        if n in spec.matrices:
            r, c = spec.matrices[n]
            return _V(sp.MatrixSymbol(n, size(r), size(c)))
        if n in spec.symbols:
            return _V(dims.get(n) or spec.sympy_symbol(n))
        if n in spec.define:
            if n not in cache:
                cache[n] = evaluate(spec.define[n], spec, cache)
            return _V(cache[n])
        raise NotMatrixAlgebra(n)

    def call(f: str, args: list[Any], node: ast.Call) -> _V:
        raise NotMatrixAlgebra(f)

    def attribute(v: _V, attr: str) -> _V:
        if not _is_mat(v.v):
            raise NotMatrixAlgebra(".T of a scalar")
        return _V(v.v.T)

    ev = Evaluator(name=name, call=call, number=lambda v: _V(sp.Integer(v) if isinstance(v, int)
                                                             else sp.Rational(repr(v))),
                   attribute=attribute)
    out = ev(tree)
    return out.v if isinstance(out, _V) else out


def prove_all_sizes(lhs: ast.expr, rhs: ast.expr, spec: Spec) -> str | None:
    """A method text if lhs == rhs holds as an identity of matrix expressions with symbolic sizes, else None."""
    try:
        a, b = evaluate(lhs, spec), evaluate(rhs, spec)
    except (NotMatrixAlgebra, ValueError, TypeError):  # SymPy's ShapeError is a ValueError
        return None
    if not (_is_mat(a) and _is_mat(b)) or a.shape != b.shape:
        return None
    d = (a - b).doit()
    d = sp.expand(d) if not isinstance(d, sp.ZeroMatrix) else d
    if isinstance(d, sp.ZeroMatrix) or d == 0 or (_is_mat(d) and d.is_ZeroMatrix):
        shape = "×".join(map(str, a.shape))
        return f"sympy matrix expressions with symbolic sizes ({shape}): lhs − rhs reduces to the zero matrix"
    return None
