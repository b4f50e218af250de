"""The named mistake: when an ``==`` claim is refuted, search small edits of the student's own rhs (a sign, a
constant or size factor, a transpose, swapped product operands, a power off by one, a function written for its
derivative, a term or factor left out or extra, two quantities confused) for one that makes the claim hold.

A diagnosis is returned only when the repaired claim is verified: SymPy reduces lhs − repaired to 0 ("proved"),
or a search of random points in the declared domains finds no difference ("numerically", and the text says so).
The kinds are a public contract (:data:`KINDS`): extend, never rename.

The search, in order: a chain-rule path left out, a term of a sum left out or extra (:mod:`diagnose_terms`), the
edits of :mod:`diagnose_edits` (with a chain-rule factor left out, :mod:`diagnose_factors`, right after the
derivative rules), then two mistakes at once (:mod:`diagnose_two`). This module screens each candidate at a few
points (with numbers for the definitions) and verifies the first that passes.
"""

from __future__ import annotations

import ast
import functools
import itertools
import random
import time
from collections.abc import Iterator
from typing import Any, cast

import sympy as sp

from autograd_viz.check import numeric
from autograd_viz.check.budget import Budget
from autograd_viz.check.cancel import cancel
from autograd_viz.check.diagnose_ast import _src
from autograd_viz.check.diagnose_edits import Candidate, _Context, candidates, path_candidates, you_of
from autograd_viz.check.diagnose_factors import factor_candidates
from autograd_viz.check.diagnose_terms import term_candidates
from autograd_viz.check.diagnose_two import STRUCTURAL, constant_factor, pairs, scaled
from autograd_viz.check.model import Model, is_matrix
from autograd_viz.check.spec import GRAMMAR, Spec, parse
from autograd_viz.errors import AutogradVizError

__all__ = ["KINDS", "SECONDS", "Candidate", "candidates", "diagnose"]

#: The fixed vocabulary of mistake kinds (a public JSON contract: extend it, don't rename it).
KINDS = ("sign", "factor", "transpose", "operand-order", "missing-term", "chain-factor",
         "function-for-derivative", "wrong-rule", "exponent", "swap", "other")

SECONDS = 1.5  # at most this much CPU time looking for a diagnosis (a CPU clock: the same search under any load),
#               less when the claim's budget is short


def _close(a: Any, b: Any) -> bool:
    try:
        fa, fb = complex(a), complex(b)
    except (TypeError, ValueError):
        return False
    if fa != fa or fb != fb or abs(fa.imag) > 1e-12 or abs(fb.imag) > 1e-12:
        return False
    return abs(fa.real - fb.real) <= 1e-9 * (1.0 + abs(fa.real) + abs(fb.real))


class _Points:
    """A few fixed points (the counterexample first) where a candidate must agree with the lhs."""

    def __init__(self, spec: Spec, first: dict | None, rng: random.Random, entry: int | None = None) -> None:
        self.spec = spec
        self.entry = entry  # the entry that differed at the counterexample
        self.rng = rng
        self.points: list[dict] = [dict(first)] if first else []
        while len(self.points) < 3:
            self.points.append({})

    def at(self, k: int, symbols: set) -> dict:
        point = self.points[k]
        for s in symbols:
            if s not in point:
                point[s] = numeric.sample(s, self.rng, domains=self.spec.domains)
        return point


def _entries(v: Any) -> list[Any]:
    return list(v) if is_matrix(v) else [v]


def _numbers(entries: list[Any], point: dict) -> list[Any] | None:
    out = [sp.N(e.xreplace(point), 15) for e in entries]
    if any(not x.is_number or x.has(sp.nan, sp.zoo, sp.oo, -sp.oo) for x in out):
        return None
    return out


def _lhs_numbers(entries: list[Any], point: dict) -> list[Any] | None:
    """:func:`_numbers` for the lhs, which is the same at every candidate: a matrix lhs (large: the whole
    chain of definitions in every entry) is compiled once, with mpmath at 65 digits, instead of SymPy's
    exact arithmetic at each point (four times faster on one_hidden_layer.toml); a scalar lhs, and any point
    where the compiled values are not all finite reals, take the exact way."""
    if len(entries) > 1 and all(v.is_Rational for v in point.values()):
        symbols = numeric.order_symbols(entries)
        if all(s in point for s in symbols):
            fn = numeric.compile_precise(symbols, entries)
            values = numeric.evaluate_precise(fn, [point[s] for s in symbols])
            if values is not None:
                return [sp.Float(v, 15) for v in values]
    return _numbers(entries, point)


class _Screen:
    """Numbers for every definition at each point, so that a candidate is screened from its shallow value (the
    definitions as placeholders: a few small expressions) rather than from its full expansion, which for a
    matrix claim is large and slow to evaluate. The lhs values are computed once per point."""

    def __init__(self, model: Model, points: _Points, lhs: Any) -> None:
        self.model, self.points = model, points
        self.shape = lhs.shape if is_matrix(lhs) else None
        self.lhs = _entries(lhs)
        self.lhs_values: dict[int, list[Any] | None] = {}
        self.defs: dict[int, dict | None] = {}
        placeholders: set = set()
        for ph in model.placeholders.values():
            placeholders |= set(_entries(ph))
        base: set = set()
        for e in self.lhs:
            base |= e.free_symbols
        for v in model.shallow.values():
            for e in _entries(v):
                base |= e.free_symbols
        self.base = base - placeholders

    def lhs_at(self, k: int) -> list[Any] | None:
        if k not in self.lhs_values:
            self.lhs_values[k] = _lhs_numbers(self.lhs, self.points.at(k, self.base))
        return self.lhs_values[k]

    def defs_at(self, k: int) -> dict | None:
        """The point with every definition's placeholder given its number there (None if one has none)."""
        if k not in self.defs:
            values: dict | None = dict(self.points.at(k, self.base))
            for name in self.model.order:
                ph, v = self.model.placeholders[name], self.model.shallow[name]
                got = _numbers(_entries(v), cast(dict, values))
                if got is None:
                    values = None
                    break
                cast(dict, values).update(zip(_entries(ph), got, strict=True))
            self.defs[k] = values
        return self.defs[k]

    def ratio(self, shallow: Any) -> complex | None:
        """lhs / candidate when it is the same number at every point and entry (None otherwise)."""
        if (shallow.shape if is_matrix(shallow) else None) != self.shape:
            return None
        found: complex | None = None
        count = 0
        for k in range(len(self.points.points)):
            a, d = self.lhs_at(k), self.defs_at(k)
            if a is None or d is None or any(not x.free_symbols <= d.keys() for x in _entries(shallow)):
                continue
            b = _numbers(_entries(shallow), d)
            if b is None:
                continue
            for x, y in zip(a, b, strict=True):
                x, y = complex(x), complex(y)
                if abs(y) < 1e-12:
                    if abs(x) > 1e-12:
                        return None
                    continue
                r = x / y
                if found is None:
                    found = r
                elif abs(r - found) > 1e-9 * (1 + abs(r)):
                    return None
            count += 1
        return found if count >= 2 else None

    def agrees(self, shallow: Any) -> bool | None:
        """Whether the candidate (its shallow value) equals the lhs at the points; None when it cannot tell."""
        if (shallow.shape if is_matrix(shallow) else None) != self.shape:
            return False
        b_entries = _entries(shallow)
        e = self.points.entry
        if e is not None and self.points.points[0] and e < len(self.lhs):  # quick reject: the entry that differed
            a, d = self.lhs_at(0), self.defs_at(0)
            if a is not None and d is not None:
                y = _numbers([b_entries[e]], d)
                if y is not None and not _close(a[e], y[0]):
                    return False
        valid = 0
        for k in range(len(self.points.points)):
            a, d = self.lhs_at(k), self.defs_at(k)
            if d is None:
                return None
            if any(not x.free_symbols <= d.keys() for x in b_entries):
                return None  # a name the screen has no number for: the full check decides
            b = _numbers(b_entries, d)
            if a is None or b is None:  # not finite at this point
                continue
            if not all(_close(x, y) for x, y in zip(a, b, strict=True)):
                return False
            valid += 1
        return valid >= 2


def _agrees(lhs: Any, cand: Any, points: _Points, lhs_cache: dict) -> bool:
    if is_matrix(lhs) != is_matrix(cand) or is_matrix(lhs) and lhs.shape != cand.shape:
        return False
    a_entries, b_entries = _entries(lhs), _entries(cand)
    if "free" not in lhs_cache:  # the lhs's free symbols: the same for every candidate
        lhs_cache["free"] = [e.free_symbols for e in a_entries]
    a_free, b_free = lhs_cache["free"], [e.free_symbols for e in b_entries]
    symbols: set = set()
    for fs in (*a_free, *b_free):
        symbols |= fs
    if points.entry is not None and points.points[0] and points.entry < len(a_entries):  # quick reject
        e = points.entry
        point = points.at(0, a_free[e] | b_free[e])
        if ("entry", e) not in lhs_cache:  # the lhs's entry at the first point: the same for every candidate
            lhs_cache["entry", e] = sp.N(a_entries[e].xreplace(point), 15)
        x, y = lhs_cache["entry", e], sp.N(b_entries[e].xreplace(point), 15)
        if x.is_number and y.is_number and not x.has(sp.nan, sp.zoo) and not y.has(sp.nan, sp.zoo) \
                and not _close(x, y):
            return False
    valid = 0
    for k in range(len(points.points)):
        point = points.at(k, symbols)
        if k not in lhs_cache:
            lhs_cache[k] = _lhs_numbers(a_entries, point)
        b = _numbers(b_entries, point)
        if lhs_cache[k] is None or b is None:  # not finite at this point
            continue
        if not all(_close(x, y) for x, y in zip(lhs_cache[k], b, strict=True)):
            return False
        valid += 1
    return valid >= 2


def _verify(lhs: Any, cand: Any, spec: Spec, budget: Budget) -> str | None:
    """"proved" or "numerically" when lhs == cand survives the checker's own procedure, else None."""
    pairs = list(zip(_entries(lhs), _entries(cand), strict=True))
    found = numeric.search(pairs, spec.domains, random.Random(99), random_points=16, seconds=0.5, special=True,
                           precise=False)
    if found.mismatch is not None or not found.valid:
        return None
    for a, b in pairs:
        d = a - b
        if d == 0:
            continue
        ok, out = budget.attempt(functools.partial(_cancelled, d), 0.5)
        if not (ok and out == 0):
            ok, out = budget.attempt(functools.partial(_simplified, d), 0.5)
        if not (ok and out == 0):
            return "numerically"
    return "proved"


def _cancelled(e: Any) -> Any:
    return cancel(e.doit())


def _simplified(e: Any) -> Any:
    return sp.simplify(e.doit())


def diagnose(spec: Spec, model: Model, lhs: Any, rhs_tree: ast.expr, lhs_name: str, budget: Budget,
             first_point: dict | None = None, sizes: dict[str, int] | None = None,
             lhs_tree: ast.expr | None = None, seconds: float = SECONDS, entry: int | None = None
             ) -> dict[str, str] | None:
    """``{"kind", "text", "repaired", "verified"}`` for the first edit of the rhs that makes the claim hold,
    verified; None when no edit does within ``seconds``."""
    deadline = time.process_time() + min(seconds, max(0.2, budget.remaining() * 0.5))
    ctx = _Context(spec, model)
    if isinstance(lhs_tree, ast.Call) and isinstance(lhs_tree.func, ast.Name) and lhs_tree.func.id == "diff" \
            and len(lhs_tree.args) == 2 and all(isinstance(a, ast.Name) for a in lhs_tree.args):
        ctx.target = (cast(ast.Name, lhs_tree.args[0]).id, cast(ast.Name, lhs_tree.args[1]).id)
    points = _Points(spec, first_point, random.Random(4242), entry)
    screen = _Screen(model, points, lhs)
    cache: dict = {}
    seen: set[str] = set()
    firsts: list[tuple[Candidate, Any]] = []  # structural candidates screened, for the two-edit search

    def attempt(cand: Candidate, keep: bool = False) -> dict[str, str] | None:
        if cand.tree is None:
            return None
        text = _src(cand.tree)
        if text in seen:
            return None
        seen.add(text)
        try:
            tree = parse(text, GRAMMAR, "repaired rhs")
            shallow = model.value(tree, {}, "repaired rhs")
            screened = screen.agrees(shallow)
            if keep and screened is False and cand.kind in STRUCTURAL:
                firsts.append((cand, shallow))
            if screened is False:
                return None
            value = model.full(tree, "repaired rhs")
            if screened is None and not _agrees(lhs, value, points, cache):
                return None
            how = _verify(lhs, value, spec, budget)
            if how is not None and sizes and lhs_tree is not None:
                how = _other_size(spec, sizes, lhs_tree, tree, how)
        except (AutogradVizError, ValueError, TypeError, ZeroDivisionError, RecursionError, AttributeError):
            return None
        return None if how is None else {"kind": cand.kind, "text": cand.text, "repaired": text, "verified": how}

    stream = itertools.chain(path_candidates(rhs_tree, lhs_name, ctx),
                             _terms(lhs, rhs_tree, lhs_name, model, budget),
                             candidates(rhs_tree, lhs_name, ctx, _factor_edits(lhs, rhs_tree, lhs_name, model,
                                                                               budget)))
    for cand in stream:
        if time.process_time() > deadline:
            return None
        found = attempt(cand, keep=True)
        if found is not None:
            return found
    # a constant factor other than the usual ones (16 s**2 written s**2), from the ratio lhs / rhs
    try:
        r = screen.ratio(model.value(rhs_tree, {}, "rhs"))
    except (AutogradVizError, ValueError, TypeError, ZeroDivisionError):
        r = None
    other = constant_factor(rhs_tree, r, you_of(lhs_name)) if r is not None else None
    if other is not None and (found := attempt(other)) is not None:
        return found
    # two mistakes: a structural edit still off by a sign or a factor, then two structural edits
    size_values = _size_values(ctx, model, sizes)
    for first, shallow in firsts:
        if time.process_time() > deadline:
            return None
        r = screen.ratio(shallow)
        both = scaled(first, r, ctx, size_values) if r is not None else None
        if both is not None and (found := attempt(both)) is not None:
            return found
    for both in pairs([c for c, _ in firsts], lhs_name, ctx):
        if time.process_time() > deadline:
            return None
        if (found := attempt(both)) is not None:
            return found
    return None


def _size_values(ctx: _Context, model: Model, sizes: dict[str, int] | None) -> dict[str, sp.Expr]:
    """The number each size name (N, n, a [matrices] size) stands for in this check."""
    out: dict[str, sp.Expr] = {}
    for s in ctx.sizes:
        if sizes and s in sizes:
            out[s] = sp.Integer(sizes[s])
            continue
        try:
            v = model.full(ast.Name(id=s, ctx=ast.Load()), s)
        except (AutogradVizError, ValueError, TypeError):
            continue
        if isinstance(v, sp.Expr) and v.is_number and v != 0:
            out[s] = v
    return out


def _terms(lhs: Any, rhs_tree: ast.expr, lhs_name: str, model: Model, budget: Budget) -> Iterator[Candidate]:
    """The missing or extra terms of a sum (:mod:`diagnose_terms`), none when the rhs does not evaluate."""
    try:
        rhs = model.full(rhs_tree, "rhs")
    except (AutogradVizError, ValueError, TypeError):
        return
    yield from term_candidates(lhs, rhs, rhs_tree, you_of(lhs_name), model, budget)


def _factor_edits(lhs: Any, rhs_tree: ast.expr, lhs_name: str, model: Model, budget: Budget
                  ) -> Iterator[Candidate]:
    """A chain-rule factor left out or extra (:mod:`diagnose_factors`), none when the rhs does not evaluate."""
    try:
        rhs = model.full(rhs_tree, "rhs")
    except (AutogradVizError, ValueError, TypeError):
        return
    yield from factor_candidates(lhs, rhs, rhs_tree, you_of(lhs_name), model, budget)


def _other_size(spec: Spec, sizes: dict[str, int], lhs_tree: ast.expr, tree: ast.expr, how: str) -> str | None:
    """A matrix repair must also hold at the next sizes (2 and N are the same number at N = 2); proved for every
    size when the matrix-expression prover says so."""
    from autograd_viz.check.matrixexpr import prove_all_sizes

    general = prove_all_sizes(lhs_tree, tree, spec)
    if general:
        return "proved"
    bigger = Model(spec, {k: v + 1 for k, v in sizes.items()})
    a, b = bigger.full(lhs_tree, "lhs"), bigger.full(tree, "repaired rhs")
    if not _agrees(a, b, _Points(spec, None, random.Random(5)), {}):
        return None
    return "numerically"
