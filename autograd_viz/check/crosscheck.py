"""The engine's own backprop as a cross-check of a scalar derivative claim: the [define] chain run as Values at
random points must agree with SymPy's lhs (the checker's calculus and the engine's are one)."""

from __future__ import annotations

import ast
import random

from autograd_viz.check import numeric
from autograd_viz.check.engine import OUT_OF_RANGE, engine_gradient
from autograd_viz.check.spec import Spec


def _engine(spec: Spec, target: tuple[ast.expr, str], pairs: list, rng: random.Random
            ) -> tuple[int, str | None, int]:
    """Backprop through the [define] chain as Values at random points and compare with SymPy's lhs:
    (points checked, disagreement, points skipped because a float overflowed or underflowed there)."""
    symbols = [spec.sympy_symbol(n) for n in spec.symbols]
    lhs = pairs[0][0]
    fn = numeric.compile_exprs(symbols, [lhs, pairs[0][1]])
    checked = skipped = 0
    for _ in range(24):
        point = [numeric.sample(s, rng, domains=spec.domains) for s in symbols]
        values = numeric.evaluate(fn, point)
        if values is None:
            continue
        named = {s.name: float(v) for s, v in zip(symbols, point, strict=True)}
        g = engine_gradient(spec, target[0], target[1], named)
        if g is None:
            continue
        if g is OUT_OF_RANGE:
            skipped += 1
            continue
        checked += 1
        if not numeric.close(g, values[0], 1e-6):
            where = ", ".join(f"{k}={v:.4g}" for k, v in named.items())
            return checked, (f"at {where}: backprop gives {g:.10g}, SymPy's lhs {values[0]:.10g}, "
                             f"rhs {values[1]:.10g}"), skipped
        if checked >= 8:
            break
    return checked, None, skipped
