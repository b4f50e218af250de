"""One claim -> one verdict. A search built to break the claim first (see :mod:`numeric`; a false claim is
refuted at once, with a counterexample in the declared domains confirmed exactly or to 50 digits), then the
engine's backprop for scalar derivatives, then SymPy from cheap to expensive within the time budget (a reduction
of lhs − rhs to a nonzero constant refutes). Whatever SymPy cannot finish leaves the numerical verdict, never
"proved"; a claim about matrices of symbolic size is "proved" only by an argument for every size."""

from __future__ import annotations

import ast
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import sympy as sp

from autograd_viz.check import montecarlo, numeric
from autograd_viz.check.budget import Budget, BudgetExceeded
from autograd_viz.check.cancel import cancel
from autograd_viz.check.crosscheck import _engine
from autograd_viz.check.engine import derivative_target
from autograd_viz.check.hints import _diagnose, correct_form, tex_of
from autograd_viz.check.model import Model, NeedsSizes, is_matrix
from autograd_viz.check.proofsteps import _case_split, _rewrite_exp, _zero_branches
from autograd_viz.check.readable import entry_hint, entry_names, entry_symbols, entry_tex
from autograd_viz.check.results import ClaimResult
from autograd_viz.check.sides import _pairs, _sides, checked_for, read_latex, size_values  # noqa: F401 (read_latex: re-exported)
from autograd_viz.check.spec import Claim, DerivationError, Spec
from autograd_viz.errors import AutogradVizError

POINTS = 24  # valid random points wanted for an equality
LARGE_OFFSET = 1  # the numeric re-check of matrix claims uses sizes this much larger


@dataclass
class _State:
    numeric: str | None = None  # the method text once the claim has held at random points


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
        budget.suspended = True
        if result.verdict == "refuted":  # confirmed before the time ran out: the counterexample stands
            result.message = (result.message + "; " if result.message else "") + "hint cut short by the time limit"
        elif state.numeric:
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
    try:  # size symbols stay symbols unless a matrix needs a concrete size
        model = Model.shared(spec, {})
        lhs, rhs, lt, rt = _sides(spec, claim, model, result)
        size_sets: list[dict[str, int]] = [{}]
    except NeedsSizes:
        size_sets = [size_values(spec), size_values(spec, LARGE_OFFSET)]
        model = Model.shared(spec, size_sets[0])
        lhs, rhs, lt, rt = _sides(spec, claim, model, result)
    if claim.relation != "==":
        from autograd_viz.check.inequality import check_inequality

        check_inequality(spec, claim, model, lhs, rhs, budget, result, state, timeout)
        if size_sets != [{}] and result.verdict == "proved":
            result.verdict = "numerical"
            result.method = f"{checked_for(size_sets)}: {result.method}; not a proof for every size"
        return
    rng = random.Random(20240601)
    methods: list[str] = []
    all_proved: list[str] = []
    for k, sizes in enumerate(size_sets):
        if k:
            model = Model.shared(spec, sizes)
            lhs, rhs = model.full(lt, "lhs"), model.full(rt, "rhs")
        pairs = _pairs(lhs, rhs, "claim")
        if isinstance(pairs, str):
            result.verdict, result.method, result.message = "refuted", "shapes", pairs
            if sizes:
                result.counterexample = dict(sizes)
            return
        found = numeric.search(pairs, spec.domains, rng, random_points=POINTS if k == 0 else 8,
                               seconds=max(0.5, timeout * (0.25 if k == 0 else 0.1)), special=k == 0,
                               precise=k == 0)
        if found.mismatch:
            _refute(result, found.mismatch, sizes, lhs, model, budget, trees=(claim, lt, rt))
            return
        where = f" at {', '.join(f'{n}={v}' for n, v in sizes.items())}" if sizes else ""
        symbols = numeric.order_symbols([e for p in pairs for e in p])
        if found.valid:
            methods.append(found.describe(symbols, spec.domains) + where)
        if k == 0:
            state.numeric = "; ".join(methods) if found.valid else None
            if sizes and state.numeric:
                state.numeric = f"{checked_for(size_sets)}: {state.numeric}; not a proof for every size"
            first_pairs, first_found, first_lhs, first_model = pairs, found, lhs, model
    # SymPy at the first (or only) size; the larger sizes are searched, not simplified: only an argument for all
    # sizes is a proof
    how = _prove(first_pairs, budget, timeout)
    if isinstance(how, tuple):  # SymPy reduced lhs − rhs to a nonzero constant
        _refute_constant(result, how, first_found, size_sets[0], first_lhs, first_model, budget, (claim, lt, rt))
        return
    if how is None and not first_found.valid:
        raise DerivationError("could not evaluate the claim at any point of its domain, and SymPy did not "
                              "simplify lhs − rhs to 0")
    if how is not None:
        all_proved.append(how)
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
        scalar_pairs = cast("list[tuple[sp.Expr, sp.Expr]]", _pairs(lhs, rhs, "claim"))  # no matrices: no message
        checked, bad, skipped = _engine(spec, target, scalar_pairs, rng)
        if bad:
            result.verdict, result.method = "error", "engine backprop"
            result.message = f"the engine's backprop disagrees with SymPy: {bad}"
            return
        if checked:
            methods.append(f"engine backprop agrees at {checked} points")
        if skipped:
            methods.append(f"engine cross-check skipped at {skipped} points where a float overflows or underflows")
    state.numeric = "; ".join(methods) if methods else state.numeric
    if size_sets != [{}]:
        from autograd_viz.check.matrixexpr import prove_all_sizes

        general = prove_all_sizes(lt, rt, spec) if all_proved else None
        if general:
            result.verdict = "proved"
            result.method = f"{general}; {checked_for(size_sets)}: " + "; ".join(methods)
            return
        proved_all = bool(all_proved)
        result.verdict = "numerical"
        result.method = (f"{checked_for(size_sets)}: " + (
            f"SymPy reduces every entry of lhs − rhs to 0 at {', '.join(f'{n}={v}' for n, v in size_sets[0].items())}"
            if proved_all else
            "the numbers agree") + "; not a proof for every size; " + "; ".join(methods))
        result.message = "checked at concrete sizes only"
        return
    if not all_proved:
        result.verdict, result.method = "numerical", state.numeric or ""
        result.message = "SymPy did not simplify lhs − rhs to 0"
        return
    result.verdict = "proved"
    result.method = f"sympy {all_proved[0]}" + (f"; {'; '.join(methods)}" if methods else "")


def _refute_constant(result: ClaimResult, how: tuple, found: numeric.Search, sizes: dict[str, int], lhs: Any,
                     model: Model, budget: Budget, trees: tuple | None = None) -> None:
    """lhs − rhs is a nonzero constant: refuted at any point of the domain (the first that evaluated)."""
    step, k, value = how
    point = found.first_point or {}
    pairs = _pairs(lhs, lhs, "claim")
    a = numeric.as_float(pairs[k][0].xreplace(point).doit().evalf(30)) if isinstance(pairs, list) else None
    a = a if a is not None else float("nan")
    b = a - float(value)
    _refute(result, (point, a, b, k, "exactly"), sizes, lhs, model, budget,
            message=f"SymPy ({step}) reduces lhs − rhs to the nonzero constant {value}", trees=trees)


def _refute(result: ClaimResult, bad: tuple | None, sizes: dict[str, int], lhs: Any, model: Model,
            budget: Budget, message: str = "", trees: tuple | None = None) -> None:
    result.verdict = "refuted"
    if bad is None:
        result.method, result.message = "shapes", message
        return
    point, a, b, k, how = bad
    result.method = f"counterexample (confirmed {how})"
    result.counterexample = {**{s.name: float(v) for s, v in point.items()}, **sizes}
    result.counterexample_names = entry_names(model, point)  # W_0_0 printed as W[0, 0]
    result.lhs_value, result.rhs_value = a, b
    entry = ""
    if is_matrix(lhs) and lhs.shape != (1, 1):
        entry = f" in entry ({k // lhs.shape[1]}, {k % lhs.shape[1]})"
    exact = {s.name: v for s, v in point.items()
             if v.is_Rational and not v.is_Integer and sp.Rational(f"{float(v):.10g}") != v}
    names = result.counterexample_names
    at = ("; exact point " + ", ".join(f"{names.get(n, n)} = {v}" for n, v in exact.items())) if exact else ""
    result.message = f"lhs = {a:.10g} but rhs = {b:.10g}{entry}" + (f"; {message}" if message else "") + at
    if trees is not None:
        _diagnose(result, point, sizes, lhs, model, budget, trees, k)
        if result.diagnosis:
            return
    try:
        correct = correct_form(lhs, model, budget)
        if isinstance(correct, sp.Symbol) and correct.name in model.shallow and trees is not None \
                and isinstance(trees[1], ast.Name) and trees[1].id == correct.name:
            correct = model.shallow[correct.name]  # not the lhs's own name: its definition, one level down
        if is_matrix(correct) and correct.shape != (1, 1):
            rhs = None
            if trees is not None:
                try:
                    rhs = model.full(trees[2], "rhs")
                except Exception:  # the hint only; the counterexample stands
                    rhs = None
            result.correct, result.correct_tex = entry_hint(lhs, point, correct, rhs, model,
                                                            trees[1] if trees is not None else None)
        else:  # matrix entries as the student writes them: W[0, 1], W_{0,1}
            result.correct = str(correct.xreplace(entry_symbols(model)) if isinstance(correct, sp.Basic) else correct)
            result.correct_tex = tex_of(correct, entry_tex(model))
    except BudgetExceeded:  # out of time for the hint: the counterexample stands
        budget.suspended = True
        result.correct = "(the correct form could not be computed in the time left)"
    except Exception as exc:  # a failing hint never discards a confirmed counterexample
        result.correct = f"(the correct form could not be computed: {type(exc).__name__})"


_STEPS: tuple[tuple[str, Callable[[Any], Any], Callable[[Any], bool]], ...] = (
    ("cancel", lambda e: cancel(e), lambda e: True),
    ("case split at the kinks", lambda e: _case_split(e), lambda e: e.has(sp.Piecewise, sp.Abs, sp.Max, sp.Min)),
    ("piecewise branches", lambda e: _zero_branches(e), lambda e: e.has(sp.Piecewise)),
    # tanh against exp (2 sigma(2z) - 1 = tanh z): in exponentials at once, where simplify alone spends
    # ~0.4 s failing first
    ("simplify(rewrite(exp))", _rewrite_exp, lambda e: e.has(sp.tanh)),
    ("simplify", sp.simplify, lambda e: True),
    ("simplify(rewrite(exp))", _rewrite_exp, lambda e: e.has(sp.exp) and not e.has(sp.tanh)),
)
SYMBOLIC_SHARE = 0.2  # of the time limit, at most, for SymPy's proof once the numbers agree (at least 1.5 s)
MIN_SYMBOLIC = 1.5


def symbolic_limit(timeout: float) -> float:
    """Seconds SymPy may spend proving a claim the numbers already support (the rest is left for safety)."""
    return max(MIN_SYMBOLIC, SYMBOLIC_SHARE * timeout)


def _prove(pairs: list[tuple[sp.Expr, sp.Expr]], budget: Budget, timeout: float) -> str | tuple | None:
    """The cheapest SymPy step that reduces every lhs − rhs to 0; ``(step, entry, value)`` when a step reduces
    an entry to a nonzero number (the claim is false everywhere); None when undecided in the time given."""
    stop = time.process_time() + symbolic_limit(timeout)  # CPU seconds: the same SymPy work on a busy machine
    used = -1
    for k, (lhs, rhs) in enumerate(pairs):
        d = lhs - rhs
        if d == 0:
            continue
        if d.is_number and d.is_Rational:
            return "exact arithmetic", k, d
        if d.has(sp.Sum):
            d = d.doit()
        for j, (name, step, applies) in enumerate(_STEPS):
            left = stop - time.process_time()
            if left <= 0:
                return None
            if not applies(d):
                continue
            ok, out = budget.attempt(partial(step, d), left)
            if ok and out == 0:
                used = max(used, j)
                break
            if ok and isinstance(out, sp.Expr) and out.is_number and out.is_finite and not out.has(sp.nan) \
                    and out.is_real and (out.is_Rational or abs(out.evalf(numeric.DIGITS)) > 1e-40):
                return name, k, out
        else:
            return None
    return _STEPS[used][0] if used >= 0 else "identical"


