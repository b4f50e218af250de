"""Two mistakes at once, for the named mistake (:mod:`autograd_viz.check.diagnose`): a structural edit (a
transpose, swapped operands, a power, a derivative rule) whose result is still off by a sign or a constant or
size factor (``X @ (P - Y)`` for ``X.T @ (P - Y) / N``), or two structural edits together (two transposes).

The search is bounded: only the structural candidates already screened by the one-edit search are combined,
and only after that search found nothing. The kind is the structural edit's; the text says both mistakes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import sympy as sp

from autograd_viz.check.diagnose_ast import _expr, _negate, _src
from autograd_viz.check.diagnose_edits import FACTORS, Candidate, _Context, candidates, you_of

#: the kinds whose candidates are combined with a second edit
STRUCTURAL = ("transpose", "operand-order", "exponent", "function-for-derivative", "wrong-rule")
MAX_FIRST = 12  # structural candidates combined with a second structural edit
MAX_SECOND = 12  # second edits tried on each of them


def _close(a: complex, b: complex) -> bool:
    return abs(a - b) <= 1e-9 * (1 + abs(a) + abs(b))


def _value(node: ast.expr, size_values: dict[str, sp.Expr]) -> complex | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return complex(node.value)
    if isinstance(node, ast.Name) and node.id in size_values:
        return complex(size_values[node.id])
    return None


def _unscaled(tree: ast.expr, ratio: complex, size_values: dict[str, sp.Expr]) -> tuple[ast.expr, str] | None:
    """``tree`` without the constant or size it is multiplied (divided) by, when that is the whole second
    mistake (``2*(A.T @ B.T)`` with ratio 1/2 is ``A.T @ B.T``, not ``2*(A.T @ B.T) / 2``), and the sentence."""
    if not isinstance(tree, ast.BinOp):
        return None
    if isinstance(tree.op, ast.Mult):
        for c, rest in ((tree.left, tree.right), (tree.right, tree.left)):
            v = _value(c, size_values)
            if v is not None and v != 0 and _close(ratio, 1 / v):
                return rest, f"It is also {_src(c)} times the correct one: the factor {_src(c)} does not belong."
    if isinstance(tree.op, ast.Div):
        v = _value(tree.right, size_values)
        if v is not None and _close(ratio, v):
            return tree.left, f"It is also divided by {_src(tree.right)}: that division does not belong."
    return None


def scaled(first: Candidate, ratio: complex, ctx: _Context, size_values: dict[str, sp.Expr]
           ) -> Candidate | None:
    """``first`` times the constant ``ratio`` (lhs / first's value) when that is a sign or a factor the
    student plausibly dropped or added: the combined candidate, saying both mistakes; else None."""
    assert first.tree is not None
    part = _src(first.tree)
    plain = _unscaled(first.tree, ratio, size_values)
    if plain is not None:
        return Candidate(first.kind, f"{first.text} {plain[1]}", plain[0])
    if _close(ratio, -1):
        return Candidate(first.kind, f"{first.text} The sign is also flipped.", _negate(first.tree))
    for s, v in size_values.items():  # a size first: N = 2 is read as N, the next size tells them apart
        value = complex(v)
        if _close(ratio, 1 / value):
            return Candidate(first.kind, f"{first.text} It is also {s} times the correct one: a 1/{s} is "
                             "missing.", _expr(f"({part}) / {s}"))
        if _close(ratio, value):
            return Candidate(first.kind, f"{first.text} It is also 1/{s} times the correct one: an extra 1/{s}.",
                             _expr(f"({part}) * {s}"))
    for c in FACTORS:
        if _close(ratio, 1 / complex(c)):
            fix = f"({part}) / {c}" if c > 1 else f"({part}) * {1 / c}"
            how = f"divide it by {c}" if c > 1 else f"multiply it by {1 / c}"
            return Candidate(first.kind, f"{first.text} It is also {c} times the correct one: {how}.",
                             _expr(fix))
    return None


def constant_factor(tree: ast.expr, ratio: complex, you: str, largest: int = 1000) -> Candidate | None:
    """factor: the rhs is the correct one times a constant p/q other than ±1 (small p and q, from the ratio
    lhs / rhs at the screening points): ``s**2`` for ``16*s**2``. None when the ratio is not such a number."""
    if abs(ratio.imag) > 1e-12 or abs(ratio.real) < 1e-12:
        return None
    c = sp.nsimplify(ratio.real, rational=True, tolerance=1e-12)
    if not (isinstance(c, sp.Rational) and c > 0 and c != 1 and abs(c.p) <= largest and c.q <= largest
            and _close(complex(c), ratio)):
        return None
    number: ast.expr = ast.Constant(int(c.p))
    if c.q != 1:
        number = ast.BinOp(left=number, op=ast.Div(), right=ast.Constant(int(c.q)))
    fixed = ast.BinOp(left=number, op=ast.Mult(), right=tree)  # unparse adds the parentheses it needs
    return Candidate("factor", f"{you} is {1 / c} times the correct one: multiply it by {c}.", fixed)


def pairs(firsts: list[Candidate], lhs_name: str, ctx: _Context) -> Iterator[Candidate]:
    """Two structural edits: each of the first ``MAX_FIRST`` transposes or operand swaps, then another one."""
    for first in [c for c in firsts if c.kind in ("transpose", "operand-order")][:MAX_FIRST]:
        assert first.tree is not None
        seconds = [c for c in candidates(first.tree, lhs_name, ctx) if c.kind in ("transpose", "operand-order")]
        for second in seconds[:MAX_SECOND]:
            if second.tree is None:
                continue
            text = second.text.replace(you_of(lhs_name), "it", 1)
            yield Candidate(first.kind, f"{first.text} A second mistake: {text}", second.tree)
