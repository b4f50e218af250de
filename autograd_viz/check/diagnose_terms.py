"""A term left out of a sum, or one too many, found from the difference lhs − rhs (for the named mistake,
:mod:`autograd_viz.check.diagnose`): GELU′(x) written ``Phi(x)`` where ``Phi(x) + x*phi`` belongs.

The terms of the correct value and of the student's rhs are matched by their values at random points, so
``o1*(1 - o1)`` matches SymPy's ``exp(-z)/(1 + exp(-z))**2``. When every term of the student's rhs is among
the correct ones, the terms left over are the missing ones (the other way round: extra ones). It is named a
missing term only when the leftover is not the student's rhs times a polynomial (``ab − aby`` against ``ab``
is a factor ``1 − y`` left out, not a term). Like every candidate, the repair is verified afterwards.
"""

from __future__ import annotations

import ast
import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sympy as sp

from autograd_viz.check import numeric
from autograd_viz.check.budget import Budget
from autograd_viz.check.diagnose_ast import _src
from autograd_viz.check.diagnose_edits import Candidate
from autograd_viz.check.diagnose_two import _close
from autograd_viz.check.model import Model, is_matrix
from autograd_viz.check.readable import readable
from autograd_viz.check.spec import Spec

MAX_TERMS = 10  # beyond this many terms, no subset search (2**10 sums)
MAX_EXPAND_OPS = 60  # expand the two sides only when they are this small (expanding is slow)


def signed_terms(tree: ast.expr, sign: int = 1) -> list[tuple[int, ast.expr]]:
    """The top-level terms of a ``+``/``-`` chain with their signs (``a - b + c`` -> +a, -b, +c)."""
    if isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Add | ast.Sub):
        right = -sign if isinstance(tree.op, ast.Sub) else sign
        return signed_terms(tree.left, sign) + signed_terms(tree.right, right)
    return [(sign, tree)]


def _sum(terms: list[tuple[int, ast.expr]]) -> ast.expr:
    sign, first = terms[0]
    out: ast.expr = first if sign > 0 else ast.UnaryOp(op=ast.USub(), operand=first)
    for sign, t in terms[1:]:
        out = ast.BinOp(left=out, op=ast.Add() if sign > 0 else ast.Sub(), right=t)
    return out


class _Values:
    """Values of expressions at a few random points of the declared domains (None where one is not finite)."""

    def __init__(self, spec: Spec, symbols: set, rng: random.Random, count: int = 2) -> None:
        self.points = [{s: sp.Float(numeric.sample(s, rng, domains=spec.domains), 30) for s in symbols}
                       for _ in range(count)]  # floats: SymPy evaluates as it substitutes (fast)

    def of(self, e: Any) -> tuple[complex, ...] | None:
        out = []
        for p in self.points:
            try:
                v = complex(e.xreplace(p).evalf(15))
            except (TypeError, ValueError):
                return None
            if v != v or abs(v) == float("inf"):
                return None
            out.append(v)
        return tuple(out)


def _same(a: tuple[complex, ...], b: tuple[complex, ...]) -> bool:
    return all(_close(x, y) for x, y in zip(a, b, strict=True))


def _leftover(big: list[sp.Expr], small: list[sp.Expr], values: _Values) -> list[sp.Expr] | None:
    """The terms of ``big`` left when every term of ``small`` is matched by value with one of them (or all of
    ``small`` together with a subset of them); None when ``small`` is not covered."""
    got_b = [values.of(t) for t in big]
    got_s = [values.of(t) for t in small]
    bv = [v for v in got_b if v is not None]
    sv = [v for v in got_s if v is not None]
    if len(bv) < len(big) or len(sv) < len(small):
        return None
    left = list(range(len(big)))
    for v in sv:
        hit = next((k for k in left if _same(bv[k], v)), None)
        if hit is None:
            break
        left.remove(hit)
    else:
        return [big[k] for k in left]
    if len(big) > MAX_TERMS:
        return None
    n = len(values.points)
    total = tuple(sum((v[i] for v in sv), 0j) for i in range(n))
    for r in range(1, len(big)):
        for subset in itertools.combinations(range(len(big)), r):
            s = tuple(sum((bv[k][i] for k in subset), 0j) for i in range(n))
            if _same(s, total):
                return [big[k] for k in range(len(big)) if k not in subset]
    return None


def _split(e: sp.Expr) -> tuple[list[sp.Expr], sp.Expr]:
    """(the non-constant terms, the constant term) of a sum."""
    terms = sp.Add.make_args(e)
    return [t for t in terms if t.free_symbols], sp.Add(*[t for t in terms if not t.free_symbols])


def _a_factor(d: sp.Expr, rhs: sp.Expr, budget: Budget) -> bool:
    """True when ``d`` is ``rhs`` times a polynomial (a constant included): a factor, not a term, is wrong."""
    ok, q = budget.attempt(lambda: sp.cancel(d / rhs), 0.3)
    if not ok or q is None:
        return True  # unsure: no missing-term
    return sp.fraction(q)[1].is_number is True


def _proportional(d: sp.Expr, base: sp.Expr, values: _Values) -> bool:
    """True when d / base is the same number at every point (then the mistake is a sign or a factor)."""
    dv, bv = values.of(d), values.of(base)
    if dv is None or bv is None or any(b == 0 for b in bv):
        return True  # unsure: no missing-term
    ratios = [a / b for a, b in zip(dv, bv, strict=True)]
    return all(_same((r,), (ratios[0],)) for r in ratios)


def _differences(lhs: sp.Expr, rhs: sp.Expr, values: _Values, budget: Budget
                 ) -> Iterator[tuple[str, sp.Expr]]:
    """("missing", D) with lhs = rhs + D, or ("extra", E) with rhs = lhs + E, term by term:
    first the terms as SymPy keeps them, then (when small) the terms of the expanded sides."""
    pair: tuple[sp.Expr, sp.Expr] | None = (lhs, rhs)
    for expanded in (False, True):
        if expanded:
            if sp.count_ops(lhs) + sp.count_ops(rhs) > MAX_EXPAND_OPS:
                return
            ok, pair = budget.attempt(lambda: (sp.expand(lhs), sp.expand(rhs)), 0.3)
        if pair is None:
            return
        (ta, ca), (tb, cb) = _split(pair[0]), _split(pair[1])
        if not ta and not tb:
            continue
        missing = _leftover(ta, tb, values)
        if missing is not None and (missing or ca != cb):
            yield "missing", sp.Add(*missing) + ca - cb
        extra = _leftover(tb, ta, values)
        if extra is not None and (extra or ca != cb):
            yield "extra", sp.Add(*extra) + cb - ca


def without_one(lhs: sp.Expr, parts: Sequence[ast.expr | None], rest: Callable[[int], ast.expr], model: Model,
                values: _Values, what: str) -> Iterator[tuple[ast.expr, ast.expr]]:
    """(part, ``rest(k)``) for each of the student's parts (terms or factors; a ``None`` part is skipped) whose
    removal leaves the correct value, matched by value (no SymPy algebra)."""
    lv = values.of(lhs)
    if len(parts) < 2 or lv is None:
        return
    for k, part in enumerate(parts):
        if part is None:
            continue
        tree = rest(k)
        try:
            rv = values.of(model.full(tree, what))
        except Exception:  # noqa: BLE001 - what does not evaluate is not the repair
            continue
        if rv is not None and _same(rv, lv):
            yield part, tree


def _extra_as_written(lhs: sp.Expr, rhs_tree: ast.expr, you: str, model: Model, values: _Values
                      ) -> Iterator[Candidate]:
    """The student's rhs without one of its own terms, when that is the correct value."""
    terms = signed_terms(rhs_tree)
    for t, rest in without_one(lhs, [t for _, t in terms], lambda k: _sum(terms[:k] + terms[k + 1:]), model,
                               values, "rhs without a term"):
        yield Candidate("missing-term", f"{you} has the term {_src(t)} extra: it should be {_src(rest)}.", rest)


def _tree(text: str) -> ast.expr | None:
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError:  # SymPy printed something the formula language does not have
        return None


def term_candidates(lhs: Any, rhs: Any, rhs_tree: ast.expr, you: str, model: Model, budget: Budget
                    ) -> Iterator[Candidate]:
    """missing-term candidates from the difference: ``rhs + D`` for a term D left out, the rhs without the
    extra term (or ``rhs - E``) for one too many."""
    if is_matrix(lhs) or is_matrix(rhs) or rhs == 0 or lhs == 0:
        return
    values = _Values(model.spec, lhs.free_symbols | rhs.free_symbols, random.Random(7))
    yield from _extra_as_written(lhs, rhs_tree, you, model, values)
    whole = _src(rhs_tree)
    seen: set = set()
    has_constant = any(isinstance(t, ast.Constant) for _, t in signed_terms(rhs_tree))
    for how, d in _differences(lhs, rhs, values, budget):
        base = rhs if how == "missing" else lhs
        if d == 0 or d in seen or _proportional(d, base, values) or _a_factor(d, base, budget):
            continue
        if d.is_number and (how == "extra" or has_constant):
            continue  # x + 2 for x + 1: a wrong constant, not a term left out (an extra one is removed as written)
        seen.add(d)
        expr, text = readable(d, model, budget)
        if how == "missing":
            tree = _tree(f"{whole} + ({text})" if expr.is_Add else (
                f"{whole} - {text[1:]}" if text.startswith("-") else f"{whole} + {text}"))
            if tree is not None:
                yield Candidate("missing-term", f"{you} leaves out the term {text}: it should be {_src(tree)}.",
                                tree)
        else:
            tree = _tree(f"{whole} - ({text})" if expr.is_Add or text.startswith("-") else f"{whole} - {text}")
            if tree is not None:
                yield Candidate("missing-term", f"{you} has the term {text} extra: it should be {_src(tree)}.",
                                tree)
