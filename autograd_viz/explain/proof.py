"""``explain --toml FILE``: the worked solution's gradients as a derivation file the checker proves.

``[define]`` holds the named steps (unnamed intermediate ops are written inline), one ``[[claim]]`` per
requested input states ``diff(OUT, x) == <derived formula>``; ``autograd-viz check FILE`` then proves it.

Case splits (the derivatives of relu, abs, leaky_relu) are written with ``step(u)`` and ``sign(u)``
(:mod:`.stepform`). Each claim's text is read back (the op table's SymPy forms, as the checker reads it) and
compared with the derived formula before the file is written.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from autograd_viz.errors import ExplainError
from autograd_viz.explain.localtext import exact_number
from autograd_viz.explain.model import Derivation
from autograd_viz.explain.stepform import GRAMMAR, to_text
from autograd_viz.expr import Evaluator, parse
from autograd_viz.ops import EXPR_FUNCTIONS

#: The checker's own function names (calculus, sums, moments, matrices): with the op table's functions, the
#: names a derivation file reserves. tests/test_explain.py checks this equals ``check.spec.CHECKER_FUNCTIONS``
#: (importing the checker here would cost ``explain --toml`` a second of start-up).
CHECKER_FUNCTIONS = frozenset({"max", "min", "diff", "nest", "Sum", "E", "Var", "ones", "sum", "grad", "trace",
                               "det", "inv", "eye", "diag", "logdet"})
#: Names a step or input of a derivation file cannot have.
RESERVED = frozenset(EXPR_FUNCTIONS) | CHECKER_FUNCTIONS
#: A name or one function call (``sin(z)``): substituted without parentheses.
_CALL = re.compile(r"[A-Za-z_]\w*(\((?:[^()]|\([^()]*\))*\))?")


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a TOML basic string is a JSON string


def _inline(d: Derivation) -> list[tuple[str, str]]:
    """The named steps with unnamed intermediate steps (``v1``, …) substituted into them, in order."""
    unnamed = {name for name, _ in d.steps if re.fullmatch(r"v\d+", name)}
    unnamed.discard(d.output)
    texts: dict[str, str] = {}
    out = []
    for name, formula in d.steps:
        def sub(m: re.Match[str]) -> str:
            word = m.group(0)
            if word not in texts:
                return word
            before, after = m.string[:m.start()].rstrip()[-1:], m.string[m.end():].lstrip()[:1]
            alone = before in ("(", ",") and after in (")", ",")  # a whole argument: no parentheses needed
            return texts[word] if alone or _CALL.fullmatch(texts[word]) else f"({texts[word]})"

        text = re.sub(r"\b[A-Za-z_][A-Za-z0-9_]*\b", sub, formula)
        if name in unnamed:
            texts[name] = text
        else:
            out.append((name, text))
    return out


def claim_text(expr: Any) -> str:
    """A gradient formula (SymPy) as the right-hand side of a claim; raises :class:`ExplainError` saying why."""
    return to_text(expr)


def _read_back(text: str, symbols: dict[str, Any]) -> Any:
    """The claim text as SymPy, each function by the op table's SymPy form (as the checker reads it)."""
    import sympy as sp

    funcs = {name: op.sympy for name, op in EXPR_FUNCTIONS.items() if op.sympy is not None and not op.attr_names}
    funcs.update({"max": sp.Max, "min": sp.Min})

    def name(n: str, node: Any) -> Any:
        if n == "pi":
            return sp.pi
        return symbols[n]

    return Evaluator(name=name, call=lambda fn, args, node: funcs[fn](*args), number=exact_number)(
        parse(text, GRAMMAR, "the claim"))


def _same_near(text: str, g: Any, d: Derivation) -> None:
    """The claim text read back equals the derived formula at the point and three nearby points."""
    from autograd_viz.explain.gradients import expand_sigma
    from autograd_viz.explain.sympynum import to_numpy

    symbols = {s.name: s for s in g.sympy.free_symbols}
    names = sorted(symbols)
    back = to_numpy(_read_back(text, symbols), [symbols[n] for n in names])
    want = to_numpy(expand_sigma(g.sympy), [symbols[n] for n in names])
    point = [float(d.point[n]) if n in d.point else 0.5 for n in names]
    for scale in (0.0, 0.113, -0.087, 0.051):
        xs = [x * (1 + scale) + (0.05 * scale if x == 0 else 0.0) for x in point]
        a, b = float(back(*xs)), float(want(*xs))
        if not (math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b))):
            raise ExplainError(f"--toml: the claim written for the gradient w.r.t. {g.name}, {text[:80]!r}, gives "
                               f"{a:.10g} at {xs} where the derived formula gives {b:.10g}")


def derivation_toml(d: Derivation) -> str:
    """The derivation file's text; raises :class:`ExplainError` when a gradient has no form in its language."""
    if d.kind != "scalar":
        raise ExplainError("--toml: only scalar (Value) graphs can be written as a derivation file")
    names = [*d.inputs, *(n for n, _ in d.steps)]
    clash = sorted(set(names) & RESERVED)
    if clash:
        raise ExplainError(f"--toml: {', '.join(map(repr, clash))} is a function name in derivation files; "
                           "rename the step or input")
    lines = [f"# Written by autograd-viz explain: the gradients of {d.output} as claims; prove them with",
             "#   autograd-viz check THIS_FILE",
             f"title = {_quote('Worked solution: ' + d.expression)}",
             f"source = {_quote('autograd-viz explain')}", "", "[symbols]"]
    lines += [f"{n} = \"real\"" for n in d.inputs]
    lines += ["", "[define]"]
    lines += [f"{n} = {_quote(f)}" for n, f in _inline(d)]
    for g in d.gradients.values():
        if g.sympy is None:
            raise ExplainError(f"--toml: the gradient w.r.t. {g.name} has no formula in the inputs (the graph is "
                               "too large for symbolic gradients)")
        try:
            rhs = claim_text(g.sympy)
        except ExplainError as exc:
            raise ExplainError(f"--toml: the gradient w.r.t. {g.name} cannot be written as a claim: {exc}") from None
        _same_near(rhs, g, d)
        lhs_latex = "\\frac{\\partial " + d.output_tex + "}{\\partial " + g.tex + "}"
        lines += ["", "[[claim]]", f"name = {_quote(f'd{d.output}/d{g.name}, derived by explain')}",
                  f"lhs = {_quote(f'diff({d.output}, {g.name})')}", f"rhs = {_quote(rhs)}",
                  f"lhs_latex = {_quote(lhs_latex)}"]  # rhs: the text is exact; the checker writes its LaTeX
    return "\n".join(lines) + "\n"
