"""Monte Carlo cross-check of E/Var claims: simulate the random variables with NumPy at one random choice of
the parameters (a symbolic n becomes a small integer) and compare lhs with rhs batch by batch."""

from __future__ import annotations

import ast
import math
import random
from typing import Any, cast

import numpy as np

from autograd_viz.check import numeric
from autograd_viz.check.model import Model
from autograd_viz.expr import Evaluator
from autograd_viz.ops import EXPR_FUNCTIONS, ArrayMath

BATCHES, DRAWS, SIGMAS = 20, 4000, 5.0
MAX_TERMS = 200  # simulate sums of at most this many terms (a symbolic n is set to at most 5)
#: The op table's numeric forwards on NumPy arrays (the engine's own, overflow-safe sigmoid included).
_FUNCS = {name: (lambda x, op=op: op.forward(ArrayMath, np.asarray(x, dtype=float)))
          for name, op in EXPR_FUNCTIONS.items() if not op.attr_names}


class Unsupported(Exception):
    """Something the simulation does not model (derivatives, matrices)."""


def uses_expectation(tree: ast.expr) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("E", "Var")
               for n in ast.walk(tree))


class _Sim:
    def __init__(self, model: Model, params: dict[str, float], gen: np.random.Generator) -> None:
        self.model, self.params, self.gen = model, params, gen
        self.draws: dict[tuple[str, Any], np.ndarray] = {}
        self.defined: dict[str, Any] = {}

    def draw(self, name: str, index: Any) -> np.ndarray:
        key = (name, index)
        if key not in self.draws:
            kind, args = self.model.spec.random[name]
            p = [float(self.value(a, {})) for a in args]
            if kind == "Normal":
                self.draws[key] = self.gen.normal(p[0], p[1], DRAWS)
            elif kind == "Uniform":
                self.draws[key] = self.gen.uniform(p[0], p[1], DRAWS)
            else:
                if not 0 <= p[0] <= 1:
                    raise Unsupported("Bernoulli p outside [0, 1]")
                self.draws[key] = (self.gen.random(DRAWS) < p[0]).astype(float)
        return self.draws[key]

    def value(self, tree: ast.expr, scope: dict[str, int]) -> Any:
        def name(n: str, node: ast.Name) -> Any:
            if n in scope:
                return scope[n]
            if n in self.params:
                return self.params[n]
            if n in self.model.spec.random:
                return self.draw(n, None)
            if n in self.model.spec.define:
                if n not in self.defined:
                    self.defined[n] = self.value(self.model.spec.define[n], {})
                return self.defined[n]
            raise Unsupported(n)

        def call(f: str, args: list[Any], node: ast.Call) -> Any:
            if f == "Sum":
                i, a, b = args[1].elts
                lo, hi = int(self.value(a, scope)), int(self.value(b, scope))
                if hi - lo + 1 > MAX_TERMS:
                    raise Unsupported(f"a sum of {hi - lo + 1} terms")
                return sum((self.value(args[0], {**scope, i.id: k}) for k in range(lo, hi + 1)), 0.0)
            if f == "nest":
                v = self.value(args[1], scope)
                for _ in range(int(self.value(args[2], scope))):
                    v = _FUNCS[args[0].id](v)
                return v
            vals = [self.value(a, scope) for a in args]
            if f == "E":
                return float(np.mean(vals[0]))
            if f == "Var":
                return float(np.var(vals[0]))
            if f in _FUNCS:
                return _FUNCS[f](vals[0])
            if f in ("max", "min"):
                return (np.maximum if f == "max" else np.minimum)(*vals)
            raise Unsupported(f)

        def subscript(n: str, index: Any, node: ast.Subscript) -> Any:
            return self.draw(n, scope[index] if isinstance(index, str) else index)

        ev = Evaluator(name=name, call=call, number=float, subscript=subscript,
                       lazy_calls=frozenset({"Sum", "nest", "E", "Var", "max", "min", *_FUNCS, "diff", "grad"}))
        return ev(tree)


def _exact(expr: Any, model: Model, params: dict[str, float]) -> float | None:
    import sympy as sp

    values = {model.symbols[k]: sp.Integer(v) if isinstance(v, int) else sp.Rational(repr(v))
              for k, v in params.items()}
    return numeric.as_float(expr.xreplace(values).doit().evalf(30)) if isinstance(expr, sp.Basic) else None


def cross_check(model: Model, lhs: ast.expr, rhs: ast.expr, exact: tuple[Any, Any], seed: int = 5
                ) -> tuple[bool, str] | None:
    """Simulate both sides and compare each with its exact value (SymPy's E/Var) at one parameter choice:
    (agrees, description), or None when the claim cannot be simulated."""
    rng = random.Random(seed)
    params: dict[str, float] = {}
    for name, words in model.spec.symbols.items():
        value = numeric.sample(model.symbols[name], rng, domains=model.spec.domains)
        params[name] = min(int(value), 5) if "integer" in words else float(value)
    targets = [_exact(e, model, params) for e in exact]
    if any(t is None for t in targets):
        return None
    gen = np.random.default_rng(seed)
    sims: list[list[float]] = [[], []]
    try:
        with np.errstate(all="ignore"):
            for _ in range(BATCHES):
                sim = _Sim(model, params, gen)
                for side, tree in enumerate((lhs, rhs)):
                    sims[side].append(float(np.mean(sim.value(tree, {}))))
    except (Unsupported, KeyError, ValueError, TypeError, ZeroDivisionError, OverflowError):
        return None
    where = ", ".join(f"{k}={v:.4g}" for k, v in params.items())
    parts, ok = [], True
    for label, values, target in zip(("lhs", "rhs"), sims, cast("list[float]", targets), strict=True):  # no None
        d = np.asarray(values) - target
        if not np.all(np.isfinite(d)):
            return None
        mean, se = float(d.mean()), float(d.std(ddof=1) / math.sqrt(BATCHES))
        ok = ok and abs(mean) <= SIGMAS * se + 1e-9 * (1 + abs(target))
        parts.append(f"{label} {target:.4g} vs simulated {target + mean:.4g} (s.e. {se:.2g})")
    return ok, f"Monte Carlo ({BATCHES}×{DRAWS} draws at {where}): " + "; ".join(parts)
