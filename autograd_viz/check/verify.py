"""One claim -> one verdict. Numbers first (a false claim is refuted at once, with a counterexample confirmed to
40 digits), then the engine's backprop for scalar derivatives, then SymPy from cheap to expensive within the
time budget; whatever SymPy cannot finish leaves the numerical verdict, never "proved"."""

from __future__ import annotations

import ast
import random
import time
from dataclasses import dataclass
from typing import Any

import sympy as sp

from autograd_viz.errors import AutogradVizError
from autograd_viz.check import latex, montecarlo, numeric
from autograd_viz.check.budget import Budget, BudgetExceeded
from autograd_viz.check.engine import derivative_target, engine_gradient
from autograd_viz.check.model import Model, is_matrix
from autograd_viz.check.results import ClaimResult
from autograd_viz.check.spec import GRAMMAR, Claim, DerivationError, Spec, parse
from autograd_viz.check.texprint import to_latex

POINTS = 24  # valid random points wanted for an equality
LARGE_OFFSET = 1  # the numeric re-check of matrix claims uses sizes this much larger


@dataclass
class _State:
    numeric: str | None = None  # the method text once the claim has held at random points


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


def check_claim(spec: Spec, claim: Claim, timeout: float = 10.0) -> ClaimResult:
    """The verdict on ``claim``; the budget is a little under ``timeout`` so the answer beats the hard kill."""
    start = time.perf_counter()
    result = ClaimResult(name=claim.name, verdict="error", expect=claim.expect, relation=claim.relation,
                         lhs_tex=claim.lhs_latex, rhs_tex=claim.rhs_latex)
    state = _State()
    budget = Budget(timeout * 0.9 - 0.1)
    try:
        if spec.error or claim.error:
            raise DerivationError(spec.error or claim.error)
        with budget.enforce():
            _check(spec, claim, budget, result, state, timeout)
    except BudgetExceeded:
        if state.numeric:
            result.verdict, result.method = "numerical", state.numeric
            result.message = "SymPy did not decide within the time limit"
        else:
            result.verdict, result.message = "timeout", f"no verdict within {timeout:g} s"
    except (AutogradVizError, RecursionError) as exc:
        result.verdict, result.message = "error", f"claim {claim.name!r}: {exc}"
    except Exception as exc:  # SymPy's own failures on odd input are reported, not crashed on
        result.verdict, result.message = "error", f"claim {claim.name!r}: {type(exc).__name__}: {exc}"
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def _check(spec: Spec, claim: Claim, budget: Budget, result: ClaimResult, state: _State, timeout: float) -> None:
    for v in claim.forall:
        if v not in spec.symbols:
            raise DerivationError(f"forall: {v!r} is not a symbol from [symbols]")
    sizes = size_values(spec)
    model = Model(spec, sizes)
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
            mismatch = _first_mismatch(_pairs(lhs if side == "lhs" else rhs, other, "equal"), random.Random(7))
            if mismatch:
                raise DerivationError(f"{side}_latex does not read the same as {side} (at {mismatch[0]})")
    if claim.relation != "==":
        from autograd_viz.check.inequality import check_inequality

        check_inequality(spec, claim, model, lhs, rhs, budget, result, state, timeout)
        return
    pairs = _pairs(lhs, rhs, "claim")
    if isinstance(pairs, str):
        result.verdict, result.method, result.message = "refuted", "shapes", pairs
        return
    rng = random.Random(20240601)
    points, mismatch = _sample(pairs, rng)
    where = f" at {', '.join(f'{k}={v}' for k, v in sizes.items())}" if sizes else ""
    if mismatch:
        _refute(result, mismatch, sizes, lhs, model, budget)
        return
    methods = []
    if points:
        methods.append(f"held at {points} random points{where} (rel. tol. {numeric.REL_TOL:g})")
    if sizes:
        large = size_values(spec, LARGE_OFFSET)
        big = Model(spec, large)
        big_lhs = big.full(lt, "lhs")
        big_pairs = _pairs(big_lhs, big.full(rt, "rhs"), "claim")
        n_big, bad = _sample(big_pairs, rng, wanted=3) if not isinstance(big_pairs, str) else (0, None)
        if isinstance(big_pairs, str) or bad:
            _refute(result, bad, large, big_lhs, big, budget, message=big_pairs if isinstance(big_pairs, str) else "")
            return
        methods.append(f"and at {n_big} points with {', '.join(f'{k}={v}' for k, v in large.items())}")
    if spec.random and (montecarlo.uses_expectation(lt) or montecarlo.uses_expectation(rt)):
        mc = montecarlo.cross_check(model, lt, rt, (lhs, rhs))
        if mc is not None and not mc[0]:
            result.verdict, result.method = "error", "Monte Carlo"
            result.message = f"the simulation disagrees with the exact moments: {mc[1]}"
            return
        if mc is not None:
            methods.append(mc[1])
    target = derivative_target(lt, spec)
    if target is not None:
        checked, bad = _engine(spec, target, pairs, rng)
        if bad:
            result.verdict, result.method = "error", "engine backprop"
            result.message = f"the engine's backprop disagrees with SymPy: {bad}"
            return
        if checked:
            methods.append(f"engine backprop agrees at {checked} points")
    if points:
        state.numeric = "; ".join(methods)
    how = _prove(pairs, budget, timeout)
    if how is None:
        if not points:
            raise DerivationError("could not evaluate the claim at any random point, and SymPy did not simplify "
                                  "lhs − rhs to 0")
        result.verdict, result.method = "numerical", state.numeric or ""
        result.message = "SymPy did not simplify lhs − rhs to 0"
        return
    result.verdict = "proved"
    result.method = f"sympy {how}" + (f" entry by entry{where}" if sizes else "") + (
        f"; {'; '.join(methods)}" if methods else "")


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


def _sample(pairs: list[tuple[sp.Expr, sp.Expr]], rng: random.Random, wanted: int = POINTS
            ) -> tuple[int, tuple | None]:
    """(valid points, None) if every entry agreed, or (k, (point, lhs, rhs, entry)) at a confirmed mismatch."""
    exprs = [e for pair in pairs for e in pair]
    symbols = numeric.order_symbols(exprs)
    fn = numeric.compile_exprs(symbols, exprs)
    valid = 0
    for k in range(wanted * 3):
        point = [numeric.sample(s, rng, wide=k % 3 == 2) for s in symbols]  # every third point far out
        values = numeric.evaluate(fn, point)
        if values is None:
            continue
        valid += 1
        for k in range(len(pairs)):
            a, b = values[2 * k], values[2 * k + 1]
            if not numeric.close(a, b):
                exact = dict(zip(symbols, point, strict=True))
                d = numeric.exact_difference(pairs[k][0] - pairs[k][1], exact)
                if d is not None and abs(d) > 1e-12 * (1 + abs(a) + abs(b)):
                    return valid, (exact, a, b, k)
        if valid >= wanted:
            break
    return valid, None


def _first_mismatch(pairs: Any, rng: random.Random) -> tuple | None:
    if isinstance(pairs, str):
        return (pairs,)
    _, bad = _sample(pairs, rng, wanted=8)
    if bad is None:
        return None
    return (", ".join(f"{s}={float(v):.4g}" for s, v in bad[0].items()) + f": {bad[1]:.6g} vs {bad[2]:.6g}",)


def _refute(result: ClaimResult, bad: tuple | None, sizes: dict[str, int], lhs: Any, model: Model,
            budget: Budget, message: str = "") -> None:
    result.verdict = "refuted"
    if bad is None:
        result.method, result.message = "shapes", message
        return
    point, a, b, k = bad
    result.method = "counterexample (confirmed to 40 digits)"
    result.counterexample = {**{s.name: float(v) for s, v in point.items()}, **sizes}
    result.lhs_value, result.rhs_value = a, b
    entry = ""
    if is_matrix(lhs) and lhs.shape != (1, 1):
        entry = f" in entry ({k // lhs.shape[1]}, {k % lhs.shape[1]})"
    result.message = f"lhs = {a:.10g} but rhs = {b:.10g}{entry}" + (f"; {message}" if message else "")
    correct = correct_form(lhs, model, budget)
    result.correct = str(correct)
    result.correct_tex = sp.latex(correct)


def correct_form(expr: Any, model: Model, budget: Budget) -> Any:
    """The lhs with the definitions' names folded back in where their expansions appear verbatim, then
    simplified if that is quick (bounded: a readable hint, not a proof)."""
    expr = model.fold(expr)

    def tidy(e: sp.Expr) -> sp.Expr:
        plain = sp.factor_terms(model.fold(e.doit()))
        simple = sp.factor_terms(model.fold(sp.simplify(e.doit())))
        known = {type(f) for f in e.atoms(sp.Function)}
        if {type(f) for f in simple.atoms(sp.Function)} <= known and sp.count_ops(simple) < sp.count_ops(plain):
            return simple  # shorter, and in the functions the claim was written with (no cosh for a sigmoid)
        return plain

    size = sum(sp.count_ops(e) for e in (expr if is_matrix(expr) else [expr]))
    if size > 400:  # too big to simplify in the time it deserves
        return expr
    ok, out = budget.attempt(lambda: expr.applyfunc(tidy) if is_matrix(expr) else tidy(expr),
                             min(1.0, max(budget.remaining() / 2, 0.2)))
    return out if ok else expr


def _engine(spec: Spec, target: tuple[ast.expr, str], pairs: list, rng: random.Random) -> tuple[int, str | None]:
    """Backprop through the [define] chain as Values at random points and compare with SymPy's lhs."""
    symbols = [sp.Symbol(n, **{w: True for w in spec.symbols[n]}) for n in spec.symbols]
    lhs = pairs[0][0]
    fn = numeric.compile_exprs(symbols, [lhs, pairs[0][1]])
    checked = 0
    for _ in range(24):
        point = [numeric.sample(s, rng) for s in symbols]
        values = numeric.evaluate(fn, point)
        if values is None:
            continue
        named = {s.name: float(v) for s, v in zip(symbols, point, strict=True)}
        g = engine_gradient(spec, target[0], target[1], named)
        if g is None:
            continue
        checked += 1
        if not numeric.close(g, values[0], 1e-6):
            where = ", ".join(f"{k}={v:.4g}" for k, v in named.items())
            return checked, f"at {where}: backprop gives {g:.10g}, SymPy's lhs {values[0]:.10g}, rhs {values[1]:.10g}"
        if checked >= 8:
            break
    return checked, None


def _rewrite_exp(e: sp.Expr) -> sp.Expr:
    return sp.simplify(sp.expand(e.rewrite(sp.exp)))


_STEPS = (
    ("cancel", lambda e: sp.cancel(sp.together(e)), lambda e: True),
    ("piecewise branches", lambda e: _zero_branches(e), lambda e: e.has(sp.Piecewise)),
    ("simplify", sp.simplify, lambda e: True),
    ("simplify(rewrite(exp))", _rewrite_exp, lambda e: e.has(sp.tanh, sp.exp)),
)
SYMBOLIC_SHARE = 0.2  # of the time limit, at most, for SymPy's proof once the numbers agree (at least 1.5 s)
MIN_SYMBOLIC = 1.5


def symbolic_limit(timeout: float) -> float:
    """Seconds SymPy may spend proving a claim the numbers already support (the rest is left for safety)."""
    return max(MIN_SYMBOLIC, SYMBOLIC_SHARE * timeout)


def _prove(pairs: list[tuple[sp.Expr, sp.Expr]], budget: Budget, timeout: float) -> str | None:
    """The cheapest SymPy step that reduces every lhs − rhs to 0, or None (undecided in the time given)."""
    stop = time.monotonic() + symbolic_limit(timeout)
    used = -1
    for lhs, rhs in pairs:
        d = lhs - rhs
        if d == 0:
            continue
        if d.has(sp.Sum):
            d = d.doit()
        for k, (_, step, applies) in enumerate(_STEPS):
            left = stop - time.monotonic()
            if left <= 0:
                return None
            if not applies(d):
                continue
            ok, out = budget.attempt(lambda s=step, e=d: s(e), left)
            if ok and out == 0:
                used = max(used, k)
                break
        else:
            return None
    return _STEPS[used][0] if used >= 0 else "identical"


def _zero_branches(d: sp.Expr) -> sp.Expr:
    """0 if every branch of ``piecewise_fold(d)`` simplifies to 0 (an Eq condition substituted first)."""
    d = sp.piecewise_fold(d)
    if not isinstance(d, sp.Piecewise):
        return sp.simplify(d)
    for e, c in d.args:
        cases, at_point = [e], False
        if isinstance(c, sp.Eq) and len(c.free_symbols) == 1:
            x = next(iter(c.free_symbols))
            roots = sp.solve(sp.Eq(c.lhs, c.rhs), x)
            cases, at_point = ([e.subs(x, root) for root in roots], True) if roots else ([e], False)
        for case in cases:
            if at_point and case.has(sp.nan, sp.zoo):  # the claim is undefined at that one point (0/0)
                continue
            case = sp.cancel(sp.expand_power_exp(sp.expand(case)))
            if case != 0 and sp.simplify(case) != 0:
                return d
    return sp.Integer(0)
