"""Formulas -> SymPy: the [define] chain (kept shallow, with placeholders), diff/grad with backprop's meaning,
nest, Sum, E/Var, and matrices instantiated at concrete sizes.

A definition ``z`` is a placeholder symbol inside the later definitions; ``expand(v, hold={"z"})`` substitutes
every other definition, so ``diff(L, z)`` is the derivative with ``z`` held as an input of the rest of the
chain (the notes' z̄), and ``diff(L, w)`` of a free symbol is the ordinary total derivative.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from typing import Any, cast

import sympy as sp

from autograd_viz.check.spec import DerivationError, Spec
from autograd_viz.check.symvalues import (
    ELEMENTWISE,
    MATRIX_FUNCTIONS,
    MAX_NEST,
    SCALAR_FUNCS,
    M,
    _Eval,
    _replace,
    as_scalar,
    col,
    is_matrix,
    matrix_function,
    shape,
)
from autograd_viz.errors import ExpressionError
from autograd_viz.ops import EXPR_FUNCTIONS

SHARED_MODELS = 8  # models kept by :meth:`Model.shared` (the most recently used ones)
_SHARED: dict[tuple[int, tuple], tuple[Spec, Model]] = {}


class NeedsSizes(DerivationError):
    """The formula uses a matrix whose size is a symbol, and no value was given for it."""


class Model:
    """The symbols, matrices, random variables and definitions of one file, as SymPy objects.

    ``sizes`` instantiates the size symbols of [matrices] with integers (matrix claims are checked at
    concrete sizes, entry by entry).
    """

    def __init__(self, spec: Spec, sizes: dict[str, int] | None = None) -> None:
        from autograd_viz.check import randomvars

        self.spec = spec
        self.sizes = dict(sizes or {})
        self.symbols: dict[str, sp.Symbol] = {name: spec.sympy_symbol(name) for name in spec.symbols}
        self.matrices: dict[str, sp.ImmutableMatrix] = {}
        for name, (r, c) in spec.matrices.items():
            if isinstance(r, int) and isinstance(c, int) or r in self.sizes and c in self.sizes:
                self._matrix(name)
        self.random = randomvars.RandomVars(spec, self.symbols)
        self.placeholders: dict[str, Any] = {}
        self.shallow: dict[str, Any] = {}
        self.order: list[str] = []
        self.pending: set[str] = set()  # definitions that need a size symbol's value
        self._expanded: dict[frozenset[str], dict] = {}
        self._full: dict[str, Any] = {}
        for name, tree in spec.define.items():
            try:
                value = self.value(tree, {}, f"[define] {name}")
            except NeedsSizes:
                self.pending.add(name)
                continue
            self.shallow[name] = value
            if is_matrix(value):
                self.placeholders[name] = sp.ImmutableMatrix(*value.shape, lambda i, j, n=name: sp.Symbol(
                    f"{n}_{i}_{j}", real=True))
            else:
                self.placeholders[name] = sp.Symbol(name, real=True)
            self.order.append(name)
            self._expanded.clear()

    def _matrix(self, name: str) -> sp.ImmutableMatrix:
        if name not in self.matrices:
            r, c = self.spec.matrices[name]
            rows, cols = self._size(r), self._size(c)
            self.matrices[name] = sp.ImmutableMatrix(rows, cols, lambda i, j, n=name: sp.Symbol(
                f"{n}_{i}_{j}", real=True))
        return self.matrices[name]

    def _size(self, s: int | str) -> int:
        if isinstance(s, int):
            return s
        if s not in self.sizes:
            raise NeedsSizes(f"matrix size symbol {s!r} has no value")
        return self.sizes[s]

    # --- expansion -----------------------------------------------------------------------------------
    def _mapping(self, hold: frozenset[str]) -> dict:
        """placeholder -> its value with every definition substituted except those in ``hold`` (cached)."""
        if hold not in self._expanded:
            mapping: dict = {}
            for name in self.order:
                if name in hold:
                    continue
                value = _replace(self.shallow[name], mapping)
                ph = self.placeholders[name]
                mapping.update(zip(ph, value, strict=True) if is_matrix(ph) else {ph: value})
            self._expanded[hold] = mapping
        return self._expanded[hold]

    def expand(self, value: Any, hold: Iterable[str] = ()) -> Any:
        """Substitute the definitions into ``value``, except the names in ``hold``."""
        return _replace(value, self._mapping(frozenset(hold)))

    def fold(self, value: Any) -> Any:
        """The inverse of ``expand`` where it is exact: every subexpression equal to a definition's expansion
        becomes that definition's name (the largest match wins), for readable answers."""
        back: dict = {}
        for ph, full in self._mapping(frozenset()).items():
            if not (full.is_Symbol or full.is_Number):
                back.setdefault(full, ph)
                back.setdefault(-full, -ph)  # exp(-z) comes out of SymPy as exp(-b - w*x)
        return _replace(value, back)

    def full(self, tree: ast.expr, what: str) -> Any:
        """The value of a formula with every definition substituted (remembered per formula: the claims of a
        file, and the diagnosis's candidates, build the same sides again and again)."""
        key = ast.dump(tree)
        if key not in self._full:
            self._full[key] = self.expand(self.value(tree, {}, what))
        return self._full[key]

    @classmethod
    def shared(cls, spec: Spec, sizes: dict[str, int] | None = None) -> Model:
        """The model of ``spec`` at ``sizes``, built once per process and reused by the next claims of the same
        file (a model is never changed after it is built, except for its caches)."""
        key = (id(spec), tuple(sorted((sizes or {}).items())))
        hit = _SHARED.pop(key, None)
        if hit is None or hit[0] is not spec:
            hit = (spec, cls(spec, sizes))
        _SHARED[key] = hit  # most recent last
        while len(_SHARED) > SHARED_MODELS:
            del _SHARED[next(iter(_SHARED))]
        return hit[1]

    # --- evaluation ----------------------------------------------------------------------------------
    def value(self, tree: ast.expr, scope: dict[str, Any], what: str) -> Any:
        """Evaluate a parsed formula to a SymPy scalar or matrix (definitions stay as placeholders)."""
        ev = _Eval(name=lambda n, node: M(self._name(n, node, scope, what)),
                   call=lambda f, args, node: M(self._call(f, args, node, scope, what)),
                   number=lambda v: M(sp.Integer(v) if isinstance(v, int) else sp.Rational(repr(v))),
                   attribute=lambda v, attr: M(v.v.T if is_matrix(v.v) else v.v),
                   subscript=lambda n, index, node: M(self._subscript(n, index, node, scope, what)),
                   lazy_calls=frozenset({"diff", "grad", "nest", "Sum"}))
        try:
            out = ev(tree)
        except ExpressionError as exc:
            raise ExpressionError(f"{what}: {exc}" if not str(exc).startswith(what) else str(exc)) from None
        if isinstance(out, tuple):
            raise ExpressionError(f"{what}: a tuple is only allowed as the range of Sum ({col(tree)})")
        return out.v

    def _name(self, n: str, node: ast.Name, scope: dict[str, Any], what: str) -> Any:
        if n in scope:
            return scope[n]
        if n in self.sizes:
            return sp.Integer(self.sizes[n])
        if n in self.symbols:
            return self.symbols[n]
        if n in self.spec.matrices:
            return self._matrix(n)
        if n in self.random.vars:
            return self.random.base(n)
        if n in self.placeholders:
            return self.placeholders[n]
        if n in self.pending:
            raise NeedsSizes(f"{n!r} is a matrix of symbolic size")
        if n == "pi":
            return sp.pi
        if n == "e":
            return sp.E
        if n in self.spec.define:
            raise ExpressionError(f"{n!r} is used before its definition ({col(node)})")
        raise ExpressionError(f"unknown name {n!r} ({col(node)}): declare it in [symbols], [matrices], [random] "
                              "or [define] (constants: pi, e)")

    def _subscript(self, n: str, index: Any, node: ast.Subscript, scope: dict[str, Any], what: str) -> Any:
        if isinstance(index, tuple):  # M[i, j]: one entry of a matrix
            m = self._name(n, cast(ast.Name, node.value), scope, what)  # the grammar: a name indexed
            if not is_matrix(m):
                raise ExpressionError(f"{n}[{index[0]}, {index[1]}]: {n!r} is not a matrix ({col(node)})")
            i, j = index
            if not (0 <= i < m.shape[0] and 0 <= j < m.shape[1]):
                raise ExpressionError(f"{n}[{i}, {j}]: outside the {shape(m)} matrix (entries count from 0) "
                                      f"({col(node)})")
            return m[i, j]
        if n not in self.random.vars:
            raise ExpressionError(f"{n}[...]: only random variables have indexed copies ({col(node)})")
        if isinstance(index, str):
            if index not in scope:
                raise ExpressionError(f"{n}[{index}]: {index!r} is not a Sum index here ({col(node)})")
            idx = scope[index]
        else:
            idx = sp.Integer(index)
        return self.random.copy(n, idx)

    def _int(self, node: ast.expr, scope: dict[str, Any], what: str, label: str) -> int:
        v = self.value(node, scope, what)
        if is_matrix(v) or not (isinstance(v, sp.Integer) and v >= 0):
            raise ExpressionError(f"{label} must be a non-negative integer ({col(node)})")
        return int(v)

    def _call(self, f: str, args: list[Any], node: ast.Call, scope: dict[str, Any], what: str) -> Any:
        def arity(*counts: int) -> None:
            if len(args) not in counts:
                raise ExpressionError(f"{f}() takes {' or '.join(map(str, counts))} argument(s), got {len(args)} "
                                      f"({col(node)})")

        if f in EXPR_FUNCTIONS:
            op = EXPR_FUNCTIONS[f]
            arity(1 + len(op.attr_names))
            attrs = [as_scalar(a.v, f"{f}() {name}") for a, name in zip(args[1:], op.attr_names, strict=True)]
            if any(not a.is_number for a in attrs):
                raise ExpressionError(f"{f}(): {', '.join(op.attr_names)} must be a number ({col(node)})")
            v = args[0].v
            sym = cast(Callable[..., Any], op.sympy)  # every expression function has a SymPy form
            fn = (lambda x, o=sym, a=attrs: o(x, *a)) if attrs else sym
            return v.applyfunc(fn) if is_matrix(v) else fn(v)
        if f in ("max", "min"):
            arity(2)
            a, b = (as_scalar(x.v, f"{f}() argument") for x in args)
            return (sp.Max if f == "max" else sp.Min)(a, b)
        if f == "sum":
            arity(1)
            v = args[0].v
            return sp.Add(*v) if is_matrix(v) else v
        if f == "ones":
            arity(2)
            r, c = (as_scalar(x.v, "ones() size") for x in args)
            if not (isinstance(r, sp.Integer) and isinstance(c, sp.Integer) and 0 < r <= 1024 and 0 < c <= 1024):
                raise ExpressionError(f"ones(r, c) needs positive integer sizes up to 1024 ({col(node)})")
            return sp.ImmutableMatrix.ones(int(r), int(c))
        if f in MATRIX_FUNCTIONS:
            arity(1)
            return matrix_function(f, args[0].v, node)
        if f in ("E", "Var"):
            arity(1)
            arg = as_scalar(self.expand(args[0].v), f"{f}() argument")
            return self.random.expectation(arg) if f == "E" else self.random.variance(arg)
        if f == "nest":
            arity(3)
            fn = args[0]
            if not isinstance(fn, ast.Name) or fn.id not in SCALAR_FUNCS:
                raise ExpressionError(f"nest: the first argument must be one of {', '.join(ELEMENTWISE)} "
                                      f"({col(fn)})")
            k = self._int(args[2], scope, what, "nest: the count")
            if k > MAX_NEST:
                raise ExpressionError(f"nest: count {k} is larger than {MAX_NEST} ({col(args[2])})")
            v = self.value(args[1], scope, what)
            for _ in range(k):
                v = v.applyfunc(SCALAR_FUNCS[fn.id]) if is_matrix(v) else SCALAR_FUNCS[fn.id](v)
            return v
        if f == "Sum":
            return self._sum(args, node, scope, what)
        if f in ("diff", "grad"):
            if scope:
                return self._derivative(f, args, node, scope, what)
            key = "d" + ast.dump(node)  # the same derivative in several claims (grad(L, W1), W1 - eta*grad(L, W1))
            if key not in self._full:
                self._full[key] = self._derivative(f, args, node, scope, what)
            return self._full[key]
        raise ExpressionError(f"unknown function {f!r} ({col(node)})")  # pragma: no cover - grammar refuses

    def _sum(self, args: list[Any], node: ast.Call, scope: dict[str, Any], what: str) -> Any:
        if len(args) != 2 or not isinstance(args[1], ast.Tuple) or len(args[1].elts) != 3 \
                or not isinstance(args[1].elts[0], ast.Name):
            raise ExpressionError(f"Sum takes (expr, (i, a, b)) ({col(node)})")
        i_node, a_node, b_node = args[1].elts
        i_node = cast(ast.Name, i_node)  # checked just above
        i = self.symbols.get(i_node.id)
        if i is None or not i.is_integer:
            if i_node.id in self.symbols or i_node.id in self.spec.define or i_node.id in self.spec.matrices \
                    or i_node.id in self.random.vars:
                raise ExpressionError(f"Sum index {i_node.id!r} must be a fresh name or an integer symbol "
                                      f"({col(i_node)})")
            i = sp.Symbol(i_node.id, integer=True)
        a = as_scalar(self.value(a_node, scope, what), "Sum bound")
        b = as_scalar(self.value(b_node, scope, what), "Sum bound")
        body = self.expand(self.value(args[0], {**scope, i_node.id: i}, what))
        if is_matrix(body):
            raise ExpressionError(f"Sum of a matrix is not supported ({col(node)})")
        return sp.Sum(body, (i, a, b))

    def _derivative(self, f: str, args: list[Any], node: ast.Call, scope: dict[str, Any], what: str) -> Any:
        if f == "grad" and len(args) != 2 or f == "diff" and len(args) not in (2, 3):
            raise ExpressionError(f"{f}() takes {'(L, M)' if f == 'grad' else '(expr, var[, k])'} ({col(node)})")
        var = args[1]
        if not isinstance(var, ast.Name):
            raise ExpressionError(f"{f}: the variable must be a name ({col(var)})")
        k = self._int(args[2], scope, what, "diff: the order") if len(args) == 3 else 1
        target = as_scalar(self.value(args[0], scope, what), f"{f}: the differentiated expression")
        v = var.id
        if v in self.placeholders:
            x = self.placeholders[v]
            target = self.expand(target, hold={v})
        elif v in self.symbols or v in self.spec.matrices:
            x = self.symbols[v] if v in self.symbols else self._matrix(v)
            target = self.expand(target)
        elif v in self.pending:
            raise NeedsSizes(f"{v!r} is a matrix of symbolic size")
        elif v in self.spec.define:
            raise ExpressionError(f"{f}: {v!r} is used before its definition ({col(var)})")
        else:
            raise ExpressionError(f"{f}: unknown variable {v!r} ({col(var)})")
        if f == "diff":
            if is_matrix(x):
                raise ExpressionError(f"diff: {v!r} is a matrix; use grad(L, {v}) ({col(var)})")
            return sp.diff(target, x, k)
        if not is_matrix(x):
            raise ExpressionError(f"grad: {v!r} is a scalar; use diff(L, {v}) ({col(var)})")
        return sp.ImmutableMatrix(x.shape[0], x.shape[1], [sp.diff(target, e) for e in x])
