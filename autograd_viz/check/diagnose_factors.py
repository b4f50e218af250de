"""A factor of the chain rule left out, or one too many, found from the ratio lhs / rhs (for the named mistake,
:mod:`autograd_viz.check.diagnose`): ``sigmoid(x**2)*(1 - sigmoid(x**2))*2`` where the inner derivative's
``x`` is missing.

The factors of the correct value are matched by value at random points: when the student's rhs is the product
of some of them (times the same constant), the others are the missing factor. Matching by value means the
student's ``y*(1 - y)`` matches SymPy's ``exp(-z)/(1 + exp(-z))**2``. Numbers are never a missing factor here
(that is the ``factor`` kind). Like every candidate, the repair is verified afterwards.
"""

from __future__ import annotations

import ast
import functools
import itertools
import random
from collections.abc import Iterator
from typing import Any

import sympy as sp

from autograd_viz.check.budget import Budget
from autograd_viz.check.diagnose_ast import _factors, _product, _src
from autograd_viz.check.diagnose_edits import Candidate
from autograd_viz.check.diagnose_terms import _same, _tree, _Values, without_one
from autograd_viz.check.model import Model, is_matrix
from autograd_viz.check.readable import readable

MAX_FACTORS = 10  # beyond this many factors, no subset search (2**10 products)


def _split(e: sp.Expr) -> tuple[list[sp.Expr], sp.Expr]:
    """(the non-constant factors, the constant factor) of a product."""
    args = sp.Mul.make_args(e)
    return [a for a in args if a.free_symbols], sp.Mul(*[a for a in args if not a.free_symbols])


def _rest(correct: sp.Expr, student: sp.Expr, values: _Values) -> sp.Expr | None:
    """The product of the factors of ``correct`` left over when ``student`` is the product of the others with
    the same constant; None when it is not."""
    factors, c = _split(correct)
    if not factors or len(factors) > MAX_FACTORS or c == 0:
        return None
    got = [values.of(f) for f in factors]
    sv, cv = values.of(student), complex(c)
    fv = [v for v in got if v is not None]
    if sv is None or len(fv) < len(factors):
        return None
    n = len(values.points)
    for r in range(len(factors) - 1, 0, -1):  # the largest matching subset: the fewest factors left over
        for subset in itertools.combinations(range(len(factors)), r):
            prod = [cv * _prod(fv[k][i] for k in subset) for i in range(n)]
            if _same(tuple(prod), sv):
                return sp.Mul(*[factors[k] for k in range(len(factors)) if k not in subset])
    return None


def _prod(xs: Any) -> complex:
    out = 1 + 0j
    for x in xs:
        out *= x
    return out


def _variants(e: sp.Expr, budget: Budget) -> Iterator[sp.Expr]:
    """``e`` and, when they differ, its factored forms (``a*b + b`` as ``b*(a + 1)``)."""
    yield e
    seen = {e}
    for fn in (sp.factor_terms, sp.factor):
        ok, f = budget.attempt(functools.partial(fn, e), 0.2)
        if ok and f is not None and f not in seen:
            seen.add(f)
            yield f


def _extra_as_written(lhs: sp.Expr, rhs_tree: ast.expr, you: str, model: Model, values: _Values
                      ) -> Iterator[Candidate]:
    """The student's rhs without one of its own factors, when that is the correct value."""
    factors = _factors(rhs_tree)
    parts = [None if isinstance(f, ast.Constant) else f for f in factors]  # a stray number is the factor kind
    for f, rest in without_one(lhs, parts, lambda k: _product(factors[:k] + factors[k + 1:]), model, values,
                               "rhs without a factor"):
        yield Candidate("chain-factor", f"{you} has the factor {_src(f)} extra: it does not belong in the "
                        f"chain rule here; it should be {_src(rest)}.", rest)


def factor_candidates(lhs: Any, rhs: Any, rhs_tree: ast.expr, you: str, model: Model, budget: Budget
                      ) -> Iterator[Candidate]:
    """chain-factor candidates from the ratio: ``rhs * Q`` for a factor Q left out, the rhs without the extra
    factor for one too many."""
    if is_matrix(lhs) or is_matrix(rhs) or rhs == 0 or lhs == 0:
        return
    values = _Values(model.spec, lhs.free_symbols | rhs.free_symbols, random.Random(11))
    yield from _extra_as_written(lhs, rhs_tree, you, model, values)
    whole = _src(rhs_tree)
    if isinstance(rhs_tree, ast.BinOp) and isinstance(rhs_tree.op, ast.Add | ast.Sub):
        whole = f"({whole})"
    for form in _variants(lhs, budget):
        q = _rest(form, rhs, values)
        if q is None:
            continue
        qv = values.of(q)
        if qv is None or _same(qv, (qv[0],) * len(qv)):
            continue  # a constant is the factor kind
        expr, text = readable(q, model, budget)
        tree = _tree(f"{whole} * ({text})" if expr.is_Add or text.startswith("-") else f"{whole} * {text}")
        if tree is not None:
            yield Candidate("chain-factor", f"{you} leaves out the factor {text} of the chain rule: it should be "
                            f"{_src(tree)}.", tree)
        return
