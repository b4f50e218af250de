"""``to_sympy``: a recorded scalar graph as a SymPy expression (leaves become symbols by name)."""

from __future__ import annotations

from typing import Any

from autograd_viz.errors import GraphError, OperandError
from autograd_viz.graph import Node, topological_order
from autograd_viz.scalar import Value


def _number(value: float) -> Any:
    import sympy

    if value.is_integer():
        return sympy.Integer(int(value))
    return sympy.Rational(repr(value))


def to_sympy(node: Node, symbols: dict[str, Any] | None = None) -> Any:
    """Rebuild ``node``'s graph in SymPy: named leaves (and unnamed inputs, as ``v<index>``) become real
    symbols, constants become exact rationals of their shortest decimal form. ``symbols`` overrides by name.
    """
    import sympy

    if not isinstance(node, Value):
        raise OperandError(f"to_sympy: expected a scalar Value graph, got {type(node).__name__}")
    given = dict(symbols or {})
    exprs: dict[int, Any] = {}
    for n in topological_order(node):
        if n.op is None:
            if n.role == "const" or (n.name is None and not n.requires_grad):
                exprs[id(n)] = _number(n.data)
            else:
                label = n.label()
                exprs[id(n)] = given.setdefault(label, sympy.Symbol(label, real=True))
            continue
        if n.op.sympy is None:
            raise GraphError(f"to_sympy: op {n.op.name} has no SymPy form")
        exprs[id(n)] = n.op.sympy(*(exprs[id(p)] for p in n.parents), **(n.attrs or {}))
    return exprs[id(node)]
