"""The named mistake: when an ``==`` claim is refuted, search small edits of the student's own rhs (a sign, a
constant or size factor, a transpose, swapped product operands, a power off by one, a function written for its
derivative, a term or factor left out or extra, two quantities confused) for one that makes the claim hold.

A diagnosis is returned only when the repaired claim is verified: SymPy reduces lhs − repaired to 0 ("proved"),
or a search of random points in the declared domains finds no difference ("numerically", and the text says so).
The kinds are a public contract (:data:`KINDS`): extend, never rename.
"""

from __future__ import annotations

import ast
import copy
import functools
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import sympy as sp

from autograd_viz.check import numeric
from autograd_viz.check.budget import Budget
from autograd_viz.check.model import Model, is_matrix
from autograd_viz.check.spec import GRAMMAR, Spec, parse
from autograd_viz.errors import AutogradVizError

#: The fixed vocabulary of mistake kinds (a public JSON contract: extend it, don't rename it).
KINDS = ("sign", "factor", "transpose", "operand-order", "missing-term", "chain-factor",
         "function-for-derivative", "wrong-rule", "exponent", "swap", "other")

SECONDS = 1.5  # at most this long looking for a diagnosis (wall clock), less when the claim's budget is short
FACTORS = (2, sp.Rational(1, 2), 4, sp.Rational(1, 4), 3, sp.Rational(1, 3))
#: f(u) -> its derivative written with f(u) itself, for "a function written for its derivative"
DERIVATIVE_OF = {
    "sigmoid": "{f} * (1 - {f})",
    "tanh": "(1 - {f}**2)",
    "exp": None,  # exp is its own derivative: no mistake to name
    "log": "1/({u})",
    "sqrt": "1/(2*{f})",
    "relu": "step({u})",
}


@dataclass
class Candidate:
    """One edit of the rhs: its kind, the sentence for the student, and the repaired rhs."""

    kind: str
    text: str
    tree: ast.expr | None  # None: the edit does not apply here (skipped)


def _src(node: ast.AST) -> str:
    return ast.unparse(node)


def _part(node: ast.AST) -> str:
    """A sub-formula as it must be written inside a product: parenthesised unless it is a name, number or call."""
    text = ast.unparse(node)
    return f"({text})" if isinstance(node, ast.BinOp | ast.UnaryOp) else text


def _factors(node: ast.expr) -> list[ast.expr]:
    """The factors of a ``*`` chain (``a*b*c`` parses as ``(a*b)*c``)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return _factors(node.left) + _factors(node.right)
    return [node]


def _product(factors: list[ast.expr]) -> ast.expr:
    out = copy.deepcopy(factors[0])
    for f in factors[1:]:
        out = ast.BinOp(left=out, op=ast.Mult(), right=copy.deepcopy(f))
    return out


def _expr(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def _nodes(tree: ast.expr) -> list[ast.AST]:
    return list(ast.walk(tree))


def _replaced(tree: ast.expr, index: int, make: Callable[..., Any]) -> ast.expr | None:
    """A copy of ``tree`` with its ``index``-th node (``ast.walk`` order) replaced by ``make(node)``."""
    new = copy.deepcopy(tree)
    nodes = _nodes(new)
    target = nodes[index]
    repl = make(target)
    if repl is None:
        return None
    if index == 0:
        return repl
    for parent in nodes:
        for fieldname, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, fieldname, repl)
                return new
            if isinstance(value, list):
                for k, v in enumerate(value):
                    if v is target:
                        value[k] = repl
                        return new
    return None  # pragma: no cover - every node but the root has a parent


def _value_names(tree: ast.expr) -> set[int]:
    """ids of the Name nodes that stand for values (not function names, diff variables or Sum indices)."""
    skip: set[int] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Call):
            skip.add(id(n.func))
            if isinstance(n.func, ast.Name) and n.func.id in ("diff", "grad", "nest", "Sum"):
                for a in n.args[1:]:
                    skip |= {id(x) for x in ast.walk(a)}
    return {id(n) for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in skip}


def _fmt_factor(c: Any) -> str:
    return str(c)


class _Context:
    """What the candidates need to know about the file: which names are matrices, sizes, definitions."""

    def __init__(self, spec: Spec, model: Model) -> None:
        self.spec = spec
        self.model = model
        self.matrices = set(spec.matrices) | {d for d, v in model.shallow.items() if is_matrix(v)} | set(
            model.pending)
        sizes: list[str] = []
        for r, c in spec.matrices.values():
            for s in (r, c):
                if isinstance(s, str) and s not in sizes:
                    sizes.append(s)
        sizes += [d for d, t in spec.define.items() if isinstance(t, ast.Constant) and d not in sizes]
        sizes += [n for n, words in spec.symbols.items() if n in ("N", "n", "m", "batch") and n not in sizes]
        self.sizes = sizes
        self.target: tuple[str, str] | None = None  # (L, v) when the claim's lhs is diff(L, v)


def candidates(tree: ast.expr, lhs_name: str, ctx: _Context) -> Iterator[Candidate]:
    """Every edit of the rhs ``tree``, most specific kinds first (the first verified one is the diagnosis)."""
    you = f"Your {lhs_name}" if len(lhs_name) <= 24 else "Your right-hand side"
    whole = _src(tree)
    nodes = _nodes(tree)
    values = _value_names(tree)
    # sign: the whole rhs negated
    negated = _negate(tree)
    yield Candidate("sign", f"{you} is the correct one with the sign flipped: it should be {_src(negated)}.",
                    negated)
    # factor: rhs = c · correct for a size symbol or a small constant
    for s in ctx.sizes:
        yield Candidate("factor", f"{you} is {s} times the correct one: divide by {s} (a 1/{s} is missing).",
                        _expr(f"({whole}) / {s}"))
        yield Candidate("factor", f"{you} is 1/{s} times the correct one: multiply by {s} (an extra 1/{s}).",
                        _expr(f"({whole}) * {s}"))
    for c in FACTORS:
        fix = f"({whole}) / {c}" if c > 1 else f"({whole}) * {1 / c}"
        if c < 1 and isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Div) \
                and isinstance(tree.right, ast.Constant) and tree.right.value == 1 / c:
            fix = _src(tree.left)  # the stray / 2 removed
        factors = _factors(tree)
        stray = [k for k, f in enumerate(factors) if isinstance(f, ast.Constant) and f.value == c]
        if stray and len(factors) > 1:
            fix = _src(_product([f for k, f in enumerate(factors) if k != stray[0]]))
        how = f"divide it by {c}" if c > 1 else f"multiply it by {1 / c}"
        yield Candidate("factor", f"{you} is {c} times the correct one: {how}.", _expr(fix))
    # transpose: one extra, one missing (on a matrix name or a product operand), or on the whole
    for i, n in enumerate(nodes):
        if isinstance(n, ast.Attribute) and n.attr == "T":
            t = _replaced(tree, i, lambda m: m.value)
            yield Candidate("transpose", f"{you} has {_src(n)} where {_src(n.value)} belongs: a transpose is "
                            "extra.", t)
    for i, n in enumerate(nodes):
        operand = isinstance(n, ast.BinOp) and not isinstance(n.op, ast.MatMult)
        if isinstance(n, ast.Name) and id(n) in values and n.id in ctx.matrices or operand and any(
                isinstance(p, ast.BinOp) and isinstance(p.op, ast.MatMult) and n in (p.left, p.right)
                for p in nodes):
            t = _replaced(tree, i, lambda m: ast.Attribute(value=m, attr="T", ctx=ast.Load()))
            yield Candidate("transpose", f"{you} is the correct one with {_part(n)}.T replaced by {_part(n)}: a "
                            "transpose is missing.", t)
    yield Candidate("transpose", f"{you} is the transpose of the correct one: it should be ({whole}).T.",
                    _expr(f"({whole}).T"))
    # operand-order: a matrix product's operands swapped
    for i, n in enumerate(nodes):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.MatMult):
            t = _replaced(tree, i, lambda m: ast.BinOp(left=m.right, op=ast.MatMult(), right=m.left))
            yield Candidate("operand-order", f"{you} multiplies {_part(n.left)} @ {_part(n.right)} where "
                            f"{_part(n.right)} @ {_part(n.left)} belongs: the operands are swapped.", t)
    # exponent: a power off by one
    for i, n in enumerate(nodes):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) and isinstance(n.right, ast.Constant) \
                and isinstance(n.right.value, int | float):
            for step in (1, -1):
                k = n.right.value + step
                t = _replaced(tree, i, lambda m, k=k: ast.BinOp(left=m.left, op=ast.Pow(), right=ast.Constant(k))
                              if k != 1 else m.left)
                yield Candidate("exponent", f"{you} has {_src(n)} where {_src(n.left)}**{k} belongs: the power is "
                                "off by one.", t)
    # function-for-derivative and wrong-rule
    yield from _derivative_edits(tree, nodes, values, you, ctx)
    # swap: p and 1 - p, two names confused
    for i, n in enumerate(nodes):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub) and isinstance(n.left, ast.Constant) \
                and n.left.value == 1:
            t = _replaced(tree, i, lambda m: m.right)
            yield Candidate("swap", f"{you} has {_src(n)} where {_src(n.right)} belongs: the two are swapped.", t)
    names = list(dict.fromkeys(n.id for n in nodes if isinstance(n, ast.Name) and id(n) in values))
    for i, n in enumerate(nodes):
        if isinstance(n, ast.Name) and id(n) in values and n.id not in ctx.matrices:
            t = _replaced(tree, i, lambda m: _expr(f"(1 - {m.id})"))
            yield Candidate("swap", f"{you} has {n.id} where 1 - {n.id} belongs: the two are swapped.", t)
    known = [*ctx.spec.symbols, *ctx.spec.define]
    for a in names:
        for b in known:
            if a == b or b in ctx.sizes or (a in ctx.matrices) != (b in ctx.matrices):
                continue
            t = _rename(tree, values, {a: b, b: a})
            yield Candidate("swap", f"{you} has {a} where {b} belongs: {a} and {b} are confused.", t)
    for i, n in enumerate(nodes):  # Y*(1 - Y) where Yhat*(1 - Yhat) belongs
        x, rest = _sigmoid_rule(n), []
        if x is None and isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult):
            x, rest = _rule_in_chain(n) or (None, [])
        if x is None or x not in names:
            continue
        for b in known:
            if b != x and b not in ctx.sizes and (b in ctx.matrices) == (x in ctx.matrices):
                yield Candidate("swap", f"{you} has {x}*(1 - {x}) where {b}*(1 - {b}) belongs: {x} and {b} are "
                                "confused.", _replaced(tree, i, lambda m, b=b, r=rest: _product(
                                    [*r, _expr(f"{b}*(1 - {b})")])))
    # sign of one part: a - b written for b - a, a minus sign extra
    for i, n in enumerate(nodes):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub):
            t = _replaced(tree, i, lambda m: ast.BinOp(left=m.right, op=ast.Sub(), right=m.left))
            yield Candidate("sign", f"{you} has {_src(n)} where {_src(n.right)} - {_src(n.left)} belongs: a sign "
                            "is wrong.", t)
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            t = _replaced(tree, i, lambda m: m.operand)
            yield Candidate("sign", f"{you} has {_src(n)} where {_src(n.operand)} belongs: a minus sign is "
                            "extra.", t)
    # factor on one part: a 1/N dropped or extra inside the rhs
    for s in ctx.sizes:
        for i, n in enumerate(nodes):
            if i == 0 or not (isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult | ast.MatMult | ast.Div)
                              or isinstance(n, ast.Name) and id(n) in values and n.id in ctx.spec.define):
                continue
            yield Candidate("factor", f"{you} has {_src(n)} where ({_src(n)}) / {s} belongs: a 1/{s} is missing.",
                            _replaced(tree, i, lambda m, s=s: _expr(f"({_src(m)}) / {s}")))
            yield Candidate("factor", f"{you} has {_src(n)} where ({_src(n)}) * {s} belongs: a 1/{s} is extra.",
                            _replaced(tree, i, lambda m, s=s: _expr(f"({_src(m)}) * {s}")))
    # missing-term (extra term) and chain-factor (extra factor)
    for i, n in enumerate(nodes):
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add | ast.Sub):
            minus = isinstance(n.op, ast.Sub)
            yield Candidate("missing-term", f"{you} has the term {_src(n.right)} extra: the correct one is "
                            f"{_src(n.left)} without it.", _replaced(tree, i, lambda m: m.left))
            yield Candidate("missing-term", f"{you} has the term {_src(n.left)} extra.",
                            _replaced(tree, i, lambda m, s=minus: ast.UnaryOp(op=ast.USub(), operand=m.right)
                                      if s else m.right))
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult | ast.MatMult | ast.Div):
            yield Candidate("chain-factor", f"{you} has the factor {_src(n.right)} extra: it does not belong in "
                            "the chain rule here.", _replaced(tree, i, lambda m: m.left))
            if not isinstance(n.op, ast.Div):
                yield Candidate("chain-factor", f"{you} has the factor {_src(n.left)} extra: it does not belong "
                                "in the chain rule here.", _replaced(tree, i, lambda m: m.right))
    # chain-factor: a local derivative left out
    if not is_matrix_name_claim(tree, ctx):
        for d, dtree in ctx.spec.define.items():
            if d in ctx.matrices:
                continue
            inner = [u for u in dict.fromkeys(x.id for x in ast.walk(dtree) if isinstance(x, ast.Name)
                                              and id(x) in _value_names(dtree))
                     if (u in ctx.spec.symbols or u in ctx.spec.define) and u not in ctx.matrices]
            for u in inner:
                factor = _local(ctx, d, u)
                yield Candidate("chain-factor", f"{you} is missing the local derivative ∂{d}/∂{u} = {factor}: "
                                f"the chain rule needs it as a factor.", _expr(f"({whole}) * {factor}"))
    # missing-term: a chain-rule path left out (diff(L, v): the path through a definition d that uses v)
    target = ctx.target
    if target is not None:
        out, v = target
        for d, dtree in ctx.spec.define.items():
            if d == out or d in ctx.matrices or v not in {x.id for x in ast.walk(dtree) if isinstance(x, ast.Name)}:
                continue
            term = f"diff({out}, {d}) * diff({d}, {v})"
            yield Candidate("missing-term", f"{you} leaves out the path through {d}: the term {term} is missing.",
                            _expr(f"{whole} + {term}"))


def _negate(tree: ast.expr) -> ast.expr:
    """−tree, written as the student would: a leading minus dropped, or one factor ``a - b`` turned into
    ``b - a``, else ``-(tree)``."""
    if isinstance(tree, ast.UnaryOp) and isinstance(tree.op, ast.USub):
        return copy.deepcopy(tree.operand)
    if isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Sub):
        return ast.BinOp(left=copy.deepcopy(tree.right), op=ast.Sub(), right=copy.deepcopy(tree.left))
    if isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Mult):
        factors = _factors(tree)
        for k, f in enumerate(factors):
            if isinstance(f, ast.BinOp) and isinstance(f.op, ast.Sub) or isinstance(f, ast.UnaryOp):
                return _product([*factors[:k], _negate(f), *factors[k + 1:]])
    if isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Mult | ast.MatMult | ast.Div):
        for side in ("left", "right"):
            part = getattr(tree, side)
            if isinstance(part, ast.BinOp) and isinstance(part.op, ast.Sub) or isinstance(part, ast.UnaryOp):
                new = copy.deepcopy(tree)
                setattr(new, side, _negate(part))
                return new
        new = copy.deepcopy(tree)
        new.left = _negate(tree.left)
        return new
    return _expr(f"-({_src(tree)})")


def _local(ctx: _Context, d: str, u: str) -> str:
    """``diff(d, u)``, or its value when that is a single name or number (``x`` for z = w*x + b)."""
    text = f"diff({d}, {u})"
    dtree = ctx.spec.define.get(d)
    if isinstance(dtree, ast.Call) and isinstance(dtree.func, ast.Name) and DERIVATIVE_OF.get(dtree.func.id) \
            and len(dtree.args) == 1 and isinstance(dtree.args[0], ast.Name) and dtree.args[0].id == u:
        template = cast(str, DERIVATIVE_OF[dtree.func.id])
        return template.format(f=d, u=u)  # y*(1 - y) for y = sigmoid(z), step(z) for relu
    try:
        v = ctx.model.value(parse(text, GRAMMAR, "factor"), {}, "factor")
    except (AutogradVizError, ValueError, TypeError):
        return text
    if isinstance(v, sp.Symbol) and v.name in ctx.spec.symbols or isinstance(v, sp.Integer):
        return str(v)
    return text


def is_matrix_name_claim(tree: ast.expr, ctx: _Context) -> bool:
    return any(isinstance(n, ast.Name) and n.id in ctx.matrices for n in ast.walk(tree))


def _rename(tree: ast.expr, values: set[int], mapping: dict[str, str]) -> ast.expr:
    new = copy.deepcopy(tree)
    old_ids = [id(n) for n in ast.walk(tree)]
    for old, node in zip(old_ids, ast.walk(new), strict=True):
        if old in values and isinstance(node, ast.Name) and node.id in mapping:
            node.id = mapping[node.id]
    return new


def _derivative_edits(tree: ast.expr, nodes: list[ast.AST], values: set[int], you: str,
                      ctx: _Context) -> Iterator[Candidate]:
    defined_as = {d: t for d, t in ctx.spec.define.items() if isinstance(t, ast.Call)
                  and isinstance(t.func, ast.Name) and t.func.id in DERIVATIVE_OF}
    for i, n in enumerate(nodes):
        f = None
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in DERIVATIVE_OF and n.args:
            f, u = n.func.id, _src(n.args[0])
        elif isinstance(n, ast.Name) and id(n) in values and n.id in defined_as:
            f, u = cast(ast.Name, defined_as[n.id].func).id, _src(defined_as[n.id].args[0])
        template = DERIVATIVE_OF.get(f) if f is not None else None
        if f is None or template is None:
            continue
        deriv = template.format(f=_src(n), u=u)
        yield Candidate("function-for-derivative", f"{you} has {_src(n)} where its derivative {deriv} belongs: "
                        f"the function {f} is written for its derivative.",
                        _replaced(tree, i, lambda m, d=deriv: _expr(f"({d})")))
    # the derivative written where the function belongs, or another function's rule: X*(1 - X) and 1 - X**2
    for i, n in enumerate(nodes):
        x = _sigmoid_rule(n)
        if x is None and isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult):
            found = _rule_in_chain(n)
            if found is not None:
                x, rest = found
                yield Candidate("wrong-rule", f"{you} has {x}*(1 - {x}), the sigmoid's derivative rule, where "
                                f"tanh's 1 - {x}**2 belongs.", _replaced(
                                    tree, i, lambda m, x=x, r=rest: _product([*r, _expr(f"(1 - {x}**2)")])))
                yield Candidate("function-for-derivative", f"{you} has {x}*(1 - {x}) (the derivative) where {x} "
                                "itself belongs: the derivative is written for the function.", _replaced(
                                    tree, i, lambda m, x=x, r=rest: _product([*r, _expr(x)])))
            continue
        for rule_x, (own, other, other_text, other_rule) in ((x, _SIGMOID_RULE), (_tanh_rule(n), _TANH_RULE)):
            x = rule_x
            if x is None:
                continue
            yield Candidate("function-for-derivative", f"{you} has {_src(n)} (the derivative) where {x} itself "
                            "belongs: the derivative is written for the function.", _replaced(tree, i, lambda m,
                                                                                                   x=x: _expr(x)))
            yield Candidate("wrong-rule", f"{you} has {_src(n)}, {own} derivative rule, where {other} "
                            f"{other_text.format(x=x)} belongs.",
                            _replaced(tree, i, lambda m, x=x, r=other_rule: _expr(r.format(x=x))))


def _is_one_minus(n: ast.AST) -> ast.AST | None:
    if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub) and isinstance(n.left, ast.Constant) \
            and n.left.value == 1:
        return n.right
    return None


#: (whose rule it is, whose rule belongs instead, that rule as the student reads it, as the repaired rhs)
_SIGMOID_RULE = ("the sigmoid's", "tanh's", "1 - {x}**2", "(1 - ({x})**2)")
_TANH_RULE = ("tanh's", "the sigmoid's", "{x}*(1 - {x})", "({x})*(1 - ({x}))")


def _sigmoid_rule(n: ast.AST) -> str | None:
    """``X`` when ``n`` is ``X*(1 - X)`` or ``(1 - X)*X``."""
    if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult):
        for a, b in ((n.left, n.right), (n.right, n.left)):
            inner = _is_one_minus(b)
            if inner is not None and ast.dump(inner) == ast.dump(a):
                return _src(a)
    return None


def _rule_in_chain(n: ast.AST) -> tuple[str, list[ast.AST]] | None:
    """(X, the other factors) when a ``*`` chain has both X and (1 - X) among its factors."""
    factors = _factors(cast(ast.expr, n))
    if len(factors) < 3:
        return None
    for k, f in enumerate(factors):
        inner = _is_one_minus(f)
        if inner is None:
            continue
        for j, g in enumerate(factors):
            if j != k and ast.dump(g) == ast.dump(inner):
                return _src(g), [h for m, h in enumerate(factors) if m not in (j, k)]
    return None


def _tanh_rule(n: ast.AST) -> str | None:
    """``X`` when ``n`` is ``1 - X**2``."""
    inner = _is_one_minus(n)
    if isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Pow) and isinstance(inner.right, ast.Constant) \
            and inner.right.value == 2:
        return _src(inner.left)
    return None


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
            lhs_cache[k] = [sp.N(e.xreplace(point), 15) for e in a_entries]
        b = [sp.N(e.xreplace(point), 15) for e in b_entries]
        if any(not x.is_number or x.has(sp.nan, sp.zoo, sp.oo, -sp.oo) for x in (*lhs_cache[k], *b)):
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
    return sp.cancel(sp.together(e.doit()))


def _simplified(e: Any) -> Any:
    return sp.simplify(e.doit())


def diagnose(spec: Spec, model: Model, lhs: Any, rhs_tree: ast.expr, lhs_name: str, budget: Budget,
             first_point: dict | None = None, sizes: dict[str, int] | None = None,
             lhs_tree: ast.expr | None = None, seconds: float = SECONDS, entry: int | None = None
             ) -> dict[str, str] | None:
    """``{"kind", "text", "repaired", "verified"}`` for the first edit of the rhs that makes the claim hold,
    verified; None when no edit does within ``seconds``."""
    deadline = time.monotonic() + min(seconds, max(0.2, budget.remaining() * 0.5))
    ctx = _Context(spec, model)
    if isinstance(lhs_tree, ast.Call) and isinstance(lhs_tree.func, ast.Name) and lhs_tree.func.id == "diff" \
            and len(lhs_tree.args) == 2 and all(isinstance(a, ast.Name) for a in lhs_tree.args):
        ctx.target = (cast(ast.Name, lhs_tree.args[0]).id, cast(ast.Name, lhs_tree.args[1]).id)
    points = _Points(spec, first_point, random.Random(4242), entry)
    cache: dict = {}
    seen: set[str] = set()
    for cand in candidates(rhs_tree, lhs_name, ctx):
        if time.monotonic() > deadline:
            return None
        if cand.tree is None:
            continue
        text = _src(cand.tree)
        if text in seen:
            continue
        seen.add(text)
        try:
            tree = parse(text, GRAMMAR, "repaired rhs")
            value = model.full(tree, "repaired rhs")
            if not _agrees(lhs, value, points, cache):
                continue
            how = _verify(lhs, value, spec, budget)
            if how is None:
                continue
            if sizes and lhs_tree is not None:
                how = _other_size(spec, sizes, lhs_tree, tree, how)
                if how is None:
                    continue
        except (AutogradVizError, ValueError, TypeError, ZeroDivisionError, RecursionError, AttributeError):
            continue
        return {"kind": cand.kind, "text": cand.text, "repaired": text, "verified": how}
    return None


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
