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

from autograd_viz.check import latex, montecarlo, numeric
from autograd_viz.check.budget import Budget, BudgetExceeded
from autograd_viz.check.cancel import cancel
from autograd_viz.check.engine import OUT_OF_RANGE, derivative_target, engine_gradient
from autograd_viz.check.model import Model, NeedsSizes, is_matrix
from autograd_viz.check.readable import entry_hint, entry_names, entry_symbols, entry_tex
from autograd_viz.check.results import ClaimResult
from autograd_viz.check.spec import GRAMMAR, Claim, DerivationError, Spec, parse
from autograd_viz.check.texprint import to_latex
from autograd_viz.errors import AutogradVizError

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


def checked_for(size_sets: list[dict[str, int]]) -> str:
    """``checked for n ∈ {2, 3}, m ∈ {3, 4}``."""
    names = list(size_sets[0])
    return "checked for " + ", ".join(f"{n} ∈ {{{', '.join(str(s[n]) for s in size_sets)}}}" for n in names)


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


def _diagnose(result: ClaimResult, point: dict, sizes: dict[str, int], lhs: Any, model: Model, budget: Budget,
              trees: tuple, entry: int = 0) -> None:
    """Name the mistake (see :mod:`diagnose`); its repaired rhs, verified, becomes the correct form."""
    from autograd_viz.check.diagnose import diagnose

    claim, lt, rt = trees
    try:
        found = diagnose(model.spec, model, lhs, rt, claim.lhs or ast.unparse(lt), budget, first_point=point,
                         sizes=sizes, lhs_tree=lt, entry=entry)
    except BudgetExceeded:
        budget.suspended = True
        return
    except Exception:  # a failing diagnosis never discards a confirmed counterexample
        return
    if found is None:
        return
    how = found.pop("verified")
    if how != "proved":
        found["text"] += " (the repair is confirmed numerically, not proved)"
    result.diagnosis = found
    result.correct = found["repaired"]
    result.correct_tex = to_latex(parse(found["repaired"], GRAMMAR, "correct"))


def tex_of(expr: Any, names: dict[sp.Symbol, str] | None = None) -> str:
    """SymPy's LaTeX of a hint, with placeholder names such as ``w_16_i`` written as one subscript (``names``:
    symbols printed as given, e.g. matrix entries as ``W_{0,1}``)."""
    from autograd_viz.check.texprint import fix_subscripts

    tex = partial(sp.latex, symbol_names=names or {})
    pieces = list(expr.atoms(sp.Piecewise)) if isinstance(expr, sp.Expr) else []
    if len(pieces) == 1 and expr == pieces[0]:  # cases as one line: {cases} is not in every renderer
        branches = [f"{tex(e)} \\text{{ if }} {tex(c)}" if c is not sp.true
                    else f"{tex(e)} \\text{{ otherwise}}" for e, c in expr.args]
        return fix_subscripts("\\left\\{" + ";\\ ".join(branches) + "\\right.")
    if pieces:
        expr = expr.xreplace({p: sp.Function("cases")(*[a for pair in p.args for a in pair]) for p in pieces})
    return fix_subscripts(tex(expr))


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


def _engine(spec: Spec, target: tuple[ast.expr, str], pairs: list, rng: random.Random
            ) -> tuple[int, str | None, int]:
    """Backprop through the [define] chain as Values at random points and compare with SymPy's lhs:
    (points checked, disagreement, points skipped because a float overflowed or underflowed there)."""
    symbols = [sp.Symbol(n, **{w: True for w in spec.symbols[n]}) for n in spec.symbols]
    lhs = pairs[0][0]
    fn = numeric.compile_exprs(symbols, [lhs, pairs[0][1]])
    checked = skipped = 0
    for _ in range(24):
        point = [numeric.sample(s, rng, domains=spec.domains) for s in symbols]
        values = numeric.evaluate(fn, point)
        if values is None:
            continue
        named = {s.name: float(v) for s, v in zip(symbols, point, strict=True)}
        g = engine_gradient(spec, target[0], target[1], named)
        if g is None:
            continue
        if g is OUT_OF_RANGE:
            skipped += 1
            continue
        checked += 1
        if not numeric.close(g, values[0], 1e-6):
            where = ", ".join(f"{k}={v:.4g}" for k, v in named.items())
            return checked, (f"at {where}: backprop gives {g:.10g}, SymPy's lhs {values[0]:.10g}, "
                             f"rhs {values[1]:.10g}"), skipped
        if checked >= 8:
            break
    return checked, None, skipped


def _rewrite_exp(e: sp.Expr) -> sp.Expr:
    return sp.simplify(sp.expand(e.rewrite(sp.exp)))


_STEPS: tuple[tuple[str, Callable[[Any], Any], Callable[[Any], bool]], ...] = (
    ("cancel", lambda e: cancel(e), lambda e: True),
    ("case split at the kinks", lambda e: _case_split(e), lambda e: e.has(sp.Piecewise, sp.Abs, sp.Max, sp.Min)),
    ("piecewise branches", lambda e: _zero_branches(e), lambda e: e.has(sp.Piecewise)),
    ("simplify", sp.simplify, lambda e: True),
    ("simplify(rewrite(exp))", _rewrite_exp, lambda e: e.has(sp.tanh, sp.exp)),
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


def _case_split(d: sp.Expr) -> sp.Expr:
    """0 if every case of ``d`` (abs/max/min/relu written as a Piecewise and folded) is 0 where it applies: the
    claim then holds on every side of every kink; otherwise ``d`` unchanged (undecided). A case that applies
    nowhere is skipped, one that applies at finitely many points is checked at each of them."""
    e = sp.piecewise_fold(d.rewrite(sp.Piecewise))
    if not isinstance(e, sp.Piecewise):
        return sp.Integer(0) if sp.cancel(e) == 0 or sp.simplify(e) == 0 else d
    earlier: sp.Basic = sp.false
    for expr, cond in e.args:
        applies = sp.And(cond, sp.Not(earlier))
        earlier = sp.Or(earlier, cond)
        if applies is sp.false or sp.cancel(expr) == 0 or sp.simplify(expr) == 0:
            continue
        applies, expr = _one_direction(applies, expr)
        if applies is sp.false or sp.cancel(expr) == 0:
            continue
        free = applies.free_symbols
        if len(free) != 1:
            return d
        x = next(iter(free))
        try:
            where = applies.as_set() if x.is_real else None
        except (NotImplementedError, TypeError, ValueError):
            return d
        if where is None or not (where.is_empty or isinstance(where, sp.FiniteSet)):
            return d
        if isinstance(where, sp.FiniteSet) and any(sp.simplify(expr.subs(x, v)) != 0 for v in where):
            return d
    return sp.Integer(0)


def _one_direction(cond: sp.Basic, expr: sp.Expr) -> tuple[sp.Basic, sp.Expr]:
    """When every comparison in ``cond`` tests the same linear form L (up to a factor: ``x >= y`` and
    ``x - y < 0`` both test L = x − y), rewrite ``cond`` and ``expr`` with u = L in place of one of its symbols,
    so the case is a condition on one variable. Otherwise both are returned unchanged."""
    rels = list(cond.atoms(sp.core.relational.Relational))
    if not rels:
        return cond, expr
    forms = [r.lhs - r.rhs for r in rels]
    base = forms[0]
    if len(base.free_symbols) < 2 or not base.is_polynomial(*base.free_symbols) \
            or sp.Poly(base, *base.free_symbols).total_degree() != 1:
        return cond, expr
    for f in forms[1:]:
        ratio = sp.cancel(f / base)
        if not ratio.is_number:
            return cond, expr
    x = sorted(base.free_symbols, key=lambda v: v.name)[0]
    u = sp.Dummy("u", real=True)
    solved = sp.solve(sp.Eq(base, u), x)
    if len(solved) != 1:
        return cond, expr
    return cond.xreplace({x: solved[0]}).simplify(), sp.expand(expr.xreplace({x: solved[0]}))


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
