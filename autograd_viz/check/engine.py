"""Cross-check a scalar derivative claim with the library's own engine: build the [define] chain as ``Value``s
at a point, backprop, and read the gradient of the variable (a leaf, or an intermediate node: backprop's z̄).

The functions are the op table's (:data:`autograd_viz.ops.EXPR_FUNCTIONS`), applied through ``Value``'s methods;
``max``/``min`` are the checker's own (written with ``relu``). A point where a float overflows or underflows in
the forward pass is skipped (:data:`OUT_OF_RANGE`), never reported as a disagreement.
"""

from __future__ import annotations

import ast
import math
from typing import Any, cast

from autograd_viz.check.spec import Spec
from autograd_viz.errors import AutogradVizError
from autograd_viz.expr import Evaluator
from autograd_viz.ops import EXPR_FUNCTIONS
from autograd_viz.scalar import Value

#: Returned by :func:`engine_gradient` where the forward pass leaves the float range (the point is skipped).
OUT_OF_RANGE = math.nan
TINY, HUGE = 1e-280, 1e280


class Unsupported(Exception):
    """The formula uses something the scalar engine does not model (Sum, E, matrices, nested diff)."""


def derivative_target(tree: ast.expr, spec: Spec) -> tuple[ast.expr, str] | None:
    """(expression, variable) if ``tree`` is a first-order ``diff(expr, var)`` the engine can recompute."""
    if spec.matrices or spec.random:
        return None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "diff"
            and len(tree.args) in (2, 3)):
        return None
    if len(tree.args) == 3 and not (isinstance(tree.args[2], ast.Constant) and tree.args[2].value == 1):
        return None
    var = tree.args[1]
    if not isinstance(var, ast.Name) or not (var.id in spec.symbols or var.id in spec.define):
        return None
    return tree.args[0], var.id


def _lift(x: Any) -> Value:
    return x if isinstance(x, Value) else Value(float(x), requires_grad=False)


def _apply(f: str, args: list[Any]) -> Value:
    """The op table's function ``f`` on a Value (extra arguments are the op's attributes, as numbers)."""
    op = EXPR_FUNCTIONS[f]
    method = getattr(Value, op.name, None)
    if method is None or len(args) != 1 + len(op.attr_names) or any(isinstance(a, Value) for a in args[1:]):
        raise Unsupported(f)
    return method(_lift(args[0]), *[float(a) for a in args[1:]])


def _call(f: str, args: list[Any], node: ast.Call) -> Any:
    if f in EXPR_FUNCTIONS:
        return _apply(f, args)
    if f == "max":
        return args[0] + (args[1] - args[0]).relu() if isinstance(args[1] - args[0], Value) else max(args)
    if f == "min":
        return args[0] - (args[0] - args[1]).relu() if isinstance(args[0] - args[1], Value) else min(args)
    raise Unsupported(f)


def _evaluate(tree: ast.expr, env: dict[str, Any]) -> Any:
    def name(n: str, node: ast.Name) -> Any:
        if n not in env:
            raise Unsupported(n)
        return env[n]

    def call(f: str, args: list[Any], node: ast.Call) -> Any:
        if f != "nest":
            return _call(f, args, node)
        fn, x, k = args
        if not (isinstance(fn, ast.Name) and fn.id in EXPR_FUNCTIONS and isinstance(k, ast.Constant)):
            raise Unsupported("nest")
        v = _evaluate(x, env)
        for _ in range(int(cast("int | float", k.value))):  # the grammar admits only numbers
            v = _apply(fn.id, [v])
        return v

    ev = Evaluator(name=name, call=call, number=float, lazy_calls=frozenset({"nest"}))
    return ev(tree)


def _out_of_range(v: Any) -> bool:
    x = v.data if isinstance(v, Value) else v
    return isinstance(x, float) and (not math.isfinite(x) or abs(x) > HUGE or 0 < abs(x) < TINY)


def engine_gradient(spec: Spec, target: ast.expr, var: str, point: dict[str, float]) -> float | None:
    """d target / d var at ``point`` by backprop through the [define] chain; None where it cannot be computed,
    :data:`OUT_OF_RANGE` where a value of the forward pass or the gradient leaves the float range."""
    env: dict[str, Any] = {name: Value(value, name=name) for name, value in point.items()}
    try:
        for name, tree in spec.define.items():
            env[name] = _evaluate(tree, env)
            if isinstance(env[name], float):
                env[name] = Value(env[name], name=name)
            if _out_of_range(env[name]):
                return OUT_OF_RANGE
        out = _evaluate(target, env)
        if _out_of_range(out):
            return OUT_OF_RANGE
        if not isinstance(out, Value) or not out.requires_grad:
            return 0.0 if isinstance(out, float | Value) else None
        for v in env.values():
            v.grad = 0.0
        out.backward()
        grad = env[var].grad
    except (OverflowError, ZeroDivisionError):
        return OUT_OF_RANGE
    except (Unsupported, AutogradVizError, ValueError):
        return None
    return grad if math.isfinite(grad) and abs(grad) < HUGE else OUT_OF_RANGE
