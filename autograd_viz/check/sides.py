"""A claim's two sides read into SymPy (from formulas or LaTeX, both forms cross-checked), paired entry by entry,
and the concrete sizes a matrix claim is checked at: the inputs :mod:`verify` compares."""

from __future__ import annotations

import ast
import random
from typing import Any

import sympy as sp

from autograd_viz.check import latex, numeric
from autograd_viz.check.model import Model, is_matrix
from autograd_viz.check.readable import entry_names
from autograd_viz.check.results import ClaimResult
from autograd_viz.check.spec import GRAMMAR, Claim, DerivationError, Spec, parse
from autograd_viz.check.texprint import to_latex


def size_values(spec: Spec, offset: int = 0) -> dict[str, int]:
    """Small distinct integers for the size symbols of [matrices] (2, 3, 4, ... in order of first use)."""
    names: list[str] = []
    for r, c in spec.matrices.values():
        for s in (r, c):
            if isinstance(s, str) and s not in names:
                names.append(s)
    return {name: 2 + k + offset for k, name in enumerate(names)}


def read_latex(spec: Spec, model: Model, text: str | None, what: str) -> str:
    """A LaTeX side read strictly into the formula syntax (juxtaposed matrices multiply with ``@``)."""
    names = set(spec.symbols) | set(spec.define) | set(spec.matrices) | set(spec.random)
    matrices = set(spec.matrices) | {d for d, v in model.shallow.items() if is_matrix(v)}
    return latex.read(text, names, spec.random, what, matrices)


def _sides(spec: Spec, claim: Claim, model: Model, result: ClaimResult) -> tuple[Any, Any, ast.expr, ast.expr]:
    lhs_text = claim.lhs if claim.lhs is not None else read_latex(spec, model, claim.lhs_latex, "lhs_latex")
    rhs_text = claim.rhs if claim.rhs is not None else read_latex(spec, model, claim.rhs_latex, "rhs_latex")
    lt, rt = parse(lhs_text, GRAMMAR, "lhs"), parse(rhs_text, GRAMMAR, "rhs")
    result.lhs_tex = result.lhs_tex or to_latex(lt)
    result.rhs_tex = result.rhs_tex or to_latex(rt)
    lhs, rhs = model.full(lt, "lhs"), model.full(rt, "rhs")
    for side, text in (("lhs", claim.lhs_latex), ("rhs", claim.rhs_latex)):
        if text is not None and getattr(claim, side) is not None:  # both forms given: they must agree
            tree = parse(read_latex(spec, model, text, f"{side}_latex"), GRAMMAR, f"{side}_latex")
            other = model.full(tree, f"{side}_latex")
            mismatch = _first_mismatch(_pairs(lhs if side == "lhs" else rhs, other, "equal"), spec,
                                       random.Random(7), model)
            if mismatch:
                raise DerivationError(f"{side}_latex does not read the same as {side} (at {mismatch[0]})")
    return lhs, rhs, lt, rt


def checked_for(size_sets: list[dict[str, int]]) -> str:
    """``checked for n ∈ {2, 3}, m ∈ {3, 4}``."""
    names = list(size_sets[0])
    return "checked for " + ", ".join(f"{n} ∈ {{{', '.join(str(s[n]) for s in size_sets)}}}" for n in names)


def _pairs(lhs: Any, rhs: Any, what: str) -> list[tuple[sp.Expr, sp.Expr]] | str:
    """Entry pairs to compare, or a message when the shapes differ (a 1×1 matrix counts as a scalar)."""
    lhs, rhs = (v[0, 0] if is_matrix(v) and v.shape == (1, 1) else v for v in (lhs, rhs))
    if is_matrix(lhs) != is_matrix(rhs) or is_matrix(lhs) and lhs.shape != rhs.shape:
        def shape(v: Any) -> str:
            return f"a {v.shape[0]}×{v.shape[1]} matrix" if is_matrix(v) else "a scalar"

        return f"lhs is {shape(lhs)} but rhs is {shape(rhs)}"
    if is_matrix(lhs):
        return list(zip(lhs, rhs, strict=True))
    return [(lhs, rhs)]


def _first_mismatch(pairs: Any, spec: Spec, rng: random.Random, model: Model) -> tuple | None:
    if isinstance(pairs, str):
        return (pairs,)
    if all(a == b for a, b in pairs):  # the same SymPy expression: nothing to search
        return None
    found = numeric.search(pairs, spec.domains, rng, random_points=8, seconds=1.0, special=False)
    if found.mismatch is None:
        return None
    point, a, b, _, _ = found.mismatch
    names = entry_names(model, point)  # W_0_0 as W[0, 0]
    return (", ".join(f"{names.get(s.name, s.name)}={float(v):.4g}" for s, v in point.items())
            + f": {a:.6g} vs {b:.6g}",)
