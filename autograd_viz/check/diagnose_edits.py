"""The candidate edits of a refuted rhs, most specific kinds first (:func:`candidates`), for the named mistake
(:mod:`autograd_viz.check.diagnose`): each is a kind, a sentence for the student in the claim's own names, and
the repaired rhs."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import cast

import sympy as sp

from autograd_viz.check.diagnose_ast import (
    _expr,
    _factors,
    _negate,
    _nodes,
    _part,
    _product,
    _rename,
    _replaced,
    _src,
    _value_names,
)
from autograd_viz.check.model import Model, is_matrix
from autograd_viz.check.spec import GRAMMAR, Spec, parse
from autograd_viz.errors import AutogradVizError

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


def you_of(lhs_name: str) -> str:
    """How a diagnosis addresses the student: "Your diff(L, w)" (the claim's lhs when it is short)."""
    return f"Your {lhs_name}" if len(lhs_name) <= 24 else "Your right-hand side"


def path_candidates(tree: ast.expr, lhs_name: str, ctx: _Context) -> Iterator[Candidate]:
    """missing-term: a chain-rule path left out (lhs diff(L, v): the path through a definition d that uses v)."""
    if ctx.target is None:
        return
    out, v = ctx.target
    whole = _src(tree)
    for d, dtree in ctx.spec.define.items():
        if d == out or d in ctx.matrices or v not in {x.id for x in ast.walk(dtree) if isinstance(x, ast.Name)}:
            continue
        term = f"diff({out}, {d}) * diff({d}, {v})"
        yield Candidate("missing-term", f"{you_of(lhs_name)} leaves out the path through {d}: the term {term} is "
                        "missing.", _expr(f"{whole} + {term}"))


def candidates(tree: ast.expr, lhs_name: str, ctx: _Context, after_rules: Iterable[Candidate] = ()
               ) -> Iterator[Candidate]:
    """Every edit of the rhs ``tree``, most specific kinds first (the first verified one is the diagnosis);
    ``after_rules`` come right after the derivative-rule edits (a factor left out is tried after σ for σ′)."""
    you = you_of(lhs_name)
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
    for i, n in sorted(enumerate(nodes), key=lambda kn: not isinstance(kn[1], ast.Name)):  # names first: hhat.T
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
    # missing-term: a sum over the batch left out (a bias gradient is the column sums 1 1^T Q, not Q)
    for i, n in enumerate(nodes):
        rows = _rows(n, values, ctx)
        if rows is not None:
            t = _replaced(tree, i, lambda m, r=rows: _expr(f"ones({r}, {r}) @ {_src(m)}"))
            yield Candidate("missing-term", f"{you} has {_src(n)} where the sum over the batch ones({rows}, {rows}) "
                            f"@ {_src(n)} belongs: the other rows' terms are missing.", t)
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
    yield from after_rules
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
            divides = isinstance(n.op, ast.Div)
            kind, text = _extra_factor(you, n.right, divides)
            yield Candidate(kind, text, _replaced(tree, i, lambda m: m.left))
            if not divides:
                kind, text = _extra_factor(you, n.left, False)
                yield Candidate(kind, text, _replaced(tree, i, lambda m: m.right))
    # chain-factor: a local derivative left out
    if ctx.target is not None and not is_matrix_name_claim(tree, ctx):  # only for a claim diff(L, v)
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


def _extra_factor(you: str, part: ast.expr, divides: bool) -> tuple[str, str]:
    """(kind, text) for a factor (or divisor) of the rhs that does not belong: a number is the factor kind."""
    if isinstance(part, ast.Constant):
        c = _src(part)
        return "factor", (f"{you} divides by {c}: it is 1/{c} times the correct one." if divides
                          else f"{you} has the factor {c} extra: it is {c} times the correct one.")
    if divides:
        return "chain-factor", f"{you} divides by {_part(part)}: that factor does not belong in the chain rule here."
    return "chain-factor", f"{you} has the factor {_src(part)} extra: it does not belong in the chain rule here."


def _rows(n: ast.AST, values: set[int], ctx: _Context) -> int | None:
    """The number of rows of a matrix name with more than one row (a batch), else None."""
    if not (isinstance(n, ast.Name) and id(n) in values):
        return None
    v = ctx.model.shallow.get(n.id, ctx.model.matrices.get(n.id))
    return int(v.shape[0]) if v is not None and is_matrix(v) and v.shape[0] > 1 else None


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
