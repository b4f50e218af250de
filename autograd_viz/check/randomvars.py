"""E and Var of expressions in independent random variables, with sums over a symbolic number of terms.

``w`` is one draw of a [random] variable and ``w[i]`` its i-th independent copy. ``E`` expands its argument;
each product of ``Sum``s over the same range is split by which indices coincide (set partitions), so
``E[(Σᵢ gᵢ)²] = n·E[g₁²] + n(n−1)·E[g₁g₂]`` holds for a symbolic ``n``. A monomial in independent variables
factors into moments (Normal, Uniform, Bernoulli in closed form); other functions of one variable are
integrated against its density.
"""

from __future__ import annotations

from typing import Any, cast

import sympy as sp
from sympy.utilities.iterables import multiset_partitions

from autograd_viz.check.spec import Spec
from autograd_viz.errors import ExpressionError

MAX_SUMS = 4


def sum_doit(f: sp.Expr, *limits: tuple) -> sp.Expr:
    """``Sum(f, *limits).doit()``, term by term with the factors that do not depend on the index pulled out
    first (SymPy's own doit on the whole product is ~40× slower on the geometric sums of Adam's moments)."""
    for i, a, b in limits:
        total = sp.Integer(0)
        for term in sp.Add.make_args(f):
            c, g = term.as_independent(i, as_Add=False)
            total += c * ((b - a + 1) * g if not g.has(i) else sp.Sum(g, (i, a, b)).doit())
        f = total
    return f


def _distinct_sum(value: sp.Expr, fresh: list[sp.Symbol], a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """Σ over pairwise distinct j_0, …, j_{m−1} in [a, b] of ``value``, by Möbius inversion over the set
    partitions of the indices: Σ_distinct = Σ_σ Π_B (−1)^{|B|−1}(|B|−1)! · Σ_unrestricted (blocks of σ merged).
    Works for terms that depend on the index (b^(t−i) g_i) and a symbolic number of terms."""
    total = sp.Integer(0)
    for sigma in multiset_partitions(list(range(len(fresh)))):
        weight = sp.Integer(1)
        merged = {}
        limits = []
        for block in sigma:
            weight *= (-1) ** (len(block) - 1) * sp.factorial(len(block) - 1)
            j = sp.Dummy("k", integer=True)
            limits.append((j, a, b))
            for k in block:
                merged[fresh[k]] = j
        total += weight * sum_doit(value.xreplace(merged), *limits)
    return total


class RandomVars:
    """The [random] variables of one file: their SymPy stand-ins, moments and densities."""

    def __init__(self, spec: Spec, symbols: dict[str, sp.Symbol]) -> None:
        self.vars: dict[str, tuple[str, list[sp.Expr]]] = {}
        self.bases: dict[str, sp.IndexedBase] = {}
        self.symbols: dict[str, sp.Symbol] = {}
        for name, (kind, args) in spec.random.items():
            params = [self._param(a, symbols) for a in args]
            self.vars[name] = (kind, params)
            # the label has no assumptions, so it is never mistaken for the draw ``w`` itself
            self.bases[name] = sp.IndexedBase(sp.Symbol(name), real=True)
            self.symbols[name] = sp.Symbol(name, real=True)

    @staticmethod
    def _param(tree: Any, symbols: dict[str, sp.Symbol]) -> sp.Expr:
        from autograd_viz.expr import Evaluator

        funcs = {"sqrt": sp.sqrt, "exp": sp.exp, "log": sp.log}
        ev = Evaluator(name=lambda n, node: symbols[n], call=lambda f, a, node: funcs[f](*a),
                       number=lambda v: sp.Integer(v) if isinstance(v, int) else sp.Rational(repr(v)))
        return ev(tree)

    def base(self, name: str) -> sp.Symbol:
        return self.symbols[name]

    def copy(self, name: str, index: sp.Expr) -> sp.Expr:
        return self.bases[name][index]

    def key(self, atom: Any) -> tuple[str, Any] | None:
        """(variable, copy index) of a random atom, or None for anything deterministic."""
        if isinstance(atom, sp.Symbol) and atom.name in self.symbols and atom == self.symbols[atom.name]:
            return (atom.name, None)
        if isinstance(atom, sp.Indexed) and atom.base.label.name in self.bases:
            return (atom.base.label.name, atom.indices[0])
        return None

    def atoms(self, expr: sp.Expr) -> set:
        found = {a for a in expr.atoms(sp.Symbol) if self.key(a)}
        found |= {a for a in expr.atoms(sp.Indexed) if self.key(a)}
        return found

    def is_random(self, expr: Any) -> bool:
        return bool(self.atoms(expr)) or any(self.is_random(s.function) for s in expr.atoms(sp.Sum))

    # --- moments ---------------------------------------------------------------------------------------
    def moment(self, name: str, k: int) -> sp.Expr:
        kind, p = self.vars[name]
        if k == 0:
            return sp.Integer(1)
        if kind == "Normal":
            mu, s = p
            return sp.expand(sum(sp.binomial(k, 2 * j) * mu ** (k - 2 * j) * s ** (2 * j) * sp.factorial2(2 * j - 1)
                                 for j in range(k // 2 + 1)))
        if kind == "Uniform":
            a, b = p
            return sp.factor(sp.cancel((b ** (k + 1) - a ** (k + 1)) / ((k + 1) * (b - a))))
        return p[0]  # Bernoulli: X^k = X

    def _half_moment(self, name: str, k: int, positive: bool) -> sp.Expr | None:
        """E[X^k · 1{X > 0}] (or X < 0) in closed form where it is simple, else None."""
        kind, p = self.vars[name]
        if kind == "Normal" and p[0] == 0:
            half = p[1] ** k * 2 ** sp.Rational(k, 2) * sp.gamma(sp.Rational(k + 1, 2)) / (2 * sp.sqrt(sp.pi))
            return half if positive or k % 2 == 0 else -half
        if kind == "Uniform":
            a, b = p
            x = sp.Dummy("x")
            lo, hi = (sp.Max(a, 0), sp.Max(b, 0)) if positive else (sp.Min(a, 0), sp.Min(b, 0))
            return sp.integrate(x**k, (x, lo, hi)) / (b - a)
        return None

    def _piecewise(self, name: str, f: sp.Expr, atom: Any) -> sp.Expr | None:
        """E of a Piecewise in one variable whose conditions test its sign (relu and friends)."""
        f = sp.piecewise_fold(f)
        if not isinstance(f, sp.Piecewise) or self.vars[name][0] == "Bernoulli":
            return None
        total = sp.Integer(0)
        for positive in (True, False):
            probe = 1 if positive else -1
            chosen = None
            for e, c in f.args:
                value = c.xreplace({atom: probe}) if c is not sp.true else sp.true
                if value not in (sp.true, sp.false):
                    return None
                if value is sp.true:
                    chosen = e
                    break
            if chosen is None or not chosen.is_polynomial(atom):
                return None
            for (k,), coeff in sp.Poly(chosen, atom).terms():
                if coeff.has(atom):
                    return None
                m = self._half_moment(name, k, positive)
                if m is None:
                    return None
                total += coeff * m
        return total

    def _integrate(self, name: str, f: sp.Expr, atom: Any) -> sp.Expr:
        kind, p = self.vars[name]
        if f.has(sp.Piecewise):
            quick = self._piecewise(name, f, atom)
            if quick is not None:
                return quick
        x = sp.Dummy("x", real=True)
        g = f.xreplace({atom: x})
        if kind == "Bernoulli":
            return (1 - p[0]) * g.subs(x, 0) + p[0] * g.subs(x, 1)
        if kind == "Uniform":
            return sp.integrate(g, (x, p[0], p[1])) / (p[1] - p[0])
        mu, s = p
        pdf = sp.exp(-(x - mu) ** 2 / (2 * s**2)) / (s * sp.sqrt(2 * sp.pi))
        return sp.integrate(g * pdf, (x, -sp.oo, sp.oo))

    # --- expectation -----------------------------------------------------------------------------------
    def expectation(self, expr: sp.Expr) -> sp.Expr:
        """E[expr] for independent variables (and independent copies), exactly."""
        if not self.is_random(expr):
            return expr
        total = sp.Integer(0)
        for term in sp.Add.make_args(sp.expand(expr)):
            total += self._term(term)
        return total

    def variance(self, expr: sp.Expr) -> sp.Expr:
        """Var[expr] = E[expr²] − E[expr]²."""
        return sp.expand(self.expectation(expr**2) - self.expectation(expr) ** 2)

    def _term(self, term: sp.Expr) -> sp.Expr:
        sums: list[sp.Sum] = []
        rest = sp.Integer(1)
        for factor in sp.Mul.make_args(term):
            base, exp = factor.as_base_exp()
            if isinstance(base, sp.Sum) and exp.is_Integer and exp > 0:
                sums.extend([base] * int(exp))
            elif isinstance(factor, sp.Sum):
                sums.append(factor)
            else:
                rest *= factor
        if not sums:
            return self._product(rest)
        if len(sums) > MAX_SUMS:
            raise ExpressionError(f"E: a product of more than {MAX_SUMS} sums is not supported")
        limits = {s.limits[0][1:] for s in sums}
        if any(len(s.limits) != 1 for s in sums) or len(limits) != 1:
            raise ExpressionError("E: products of sums need one index each and the same range")
        if self.atoms(rest) and any(cast("tuple[str, Any]", self.key(a))[1] is not None for a in self.atoms(rest)):
            raise ExpressionError("E: an indexed copy outside a sum next to a sum is not supported")
        a, b = next(iter(limits))
        count = b - a + 1
        if len(sums) == 1:
            i = sums[0].limits[0][0]
            inner = self.expectation(sums[0].function * rest)
            if inner.has(i):
                return sum_doit(inner, (i, a, b))
            return count * inner
        total = sp.Integer(0)
        for part in multiset_partitions(list(range(len(sums)))):
            fresh = [sp.Dummy(f"j{k}", integer=True) for k in range(len(part))]
            product = rest
            for block, j in zip(part, fresh, strict=True):
                for k in block:
                    s = sums[k]
                    product *= s.function.xreplace({s.limits[0][0]: j})
            value = self.expectation(product)
            if value.has(*fresh):
                total += _distinct_sum(value, fresh, a, b)
                continue
            ways = sp.Integer(1)
            for m in range(len(part)):
                ways *= count - m
            total += ways * value
        return total

    def _keys(self, expr: sp.Expr) -> set:
        return {self.key(a) for a in self.atoms(expr)}

    def _split(self, factor: sp.Expr) -> list[sp.Expr]:
        """Pull the factors of other variables out of a Piecewise whose conditions test one variable:
        ``Piecewise((w²x², x > 0), (0, True))`` -> ``[w², Piecewise((x², x > 0), (0, True))]``."""
        if not isinstance(factor, sp.Piecewise) or len(self._keys(factor)) < 2:
            return [factor]
        cond_keys = set().union(*(self._keys(c) for _, c in factor.args if c is not sp.true))
        if len(cond_keys) != 1:
            return [factor]
        k = next(iter(cond_keys))
        common = None
        for e, _ in factor.args:
            if e == 0:
                continue
            other = sp.Mul(*[f for f in sp.Mul.make_args(sp.factor_terms(e)) if k not in self._keys(f)
                             and self._keys(f)])
            if common is None:
                common = other
            elif sp.simplify(other - common) != 0:
                return [factor]
        if common is None or common == 1:
            return [factor]
        return [common, sp.Piecewise(*[(sp.cancel(e / common), c) for e, c in factor.args])]

    def _product(self, term: sp.Expr) -> sp.Expr:
        """E of a product: factors grouped by the variables they share, each group integrated on its own."""
        groups: list[tuple[set, list[sp.Expr]]] = []
        coeff = sp.Integer(1)
        for factor in [p for f in sp.Mul.make_args(term) for p in self._split(f)]:
            keys = self._keys(factor)
            if not keys:
                coeff *= factor
                continue
            merged = [g for g in groups if g[0] & keys]
            for g in merged:
                groups.remove(g)
                keys |= g[0]
            groups.append((keys, [f for g in merged for f in g[1]] + [factor]))
        for keys, factors in groups:
            f = sp.Mul(*factors)
            if len(keys) == 1:
                name = next(iter(keys))[0]
                atom = next(iter(self.atoms(f)))
                base, exp = f.as_base_exp()
                if base == atom and exp.is_Integer and exp >= 0:
                    coeff *= self.moment(name, int(exp))
                    continue
            for atom in self.atoms(f):  # several dependent factors: integrate one variable at a time
                f = self._integrate(cast("tuple[str, Any]", self.key(atom))[0], f, atom)
            coeff *= f
        return coeff
