"""``explain --toml FILE``: the worked solution's gradients as a derivation file the checker proves.

``[define]`` holds the named steps (unnamed intermediate ops are written inline), one ``[[claim]]`` per
requested input states ``diff(OUT, x) == <derived formula>``; ``autograd-viz check FILE`` then proves it.
"""

from __future__ import annotations

import json
import re

from autograd_viz.errors import ExpressionError
from autograd_viz.explain.core import Derivation, ExplainError
from autograd_viz.expr import Grammar, parse

#: Names the derivation format reserves (its functions): a step or input named so cannot be written.
RESERVED = frozenset({"exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu", "max", "min", "diff", "nest", "Sum",
                      "E", "Var", "ones", "sum", "grad", "leaky_relu"})
_CLAIM_GRAMMAR = Grammar(functions=frozenset({"exp", "log", "sqrt", "abs", "sigmoid", "tanh"}))


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
            return f"({texts[word]})" if word in texts else word

        text = re.sub(r"\b[A-Za-z_][A-Za-z0-9_]*\b", sub, formula)
        if name in unnamed:
            texts[name] = text
        else:
            out.append((name, text))
    return out


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
        try:
            parse(g.formula, _CLAIM_GRAMMAR, f"the gradient w.r.t. {g.name}")
        except ExpressionError:
            raise ExplainError(f"--toml: the gradient w.r.t. {g.name}, {g.formula[:80]!r}, uses a form the "
                               "derivation language has no word for (a piecewise derivative of relu, abs or "
                               "leaky_relu)") from None
        lhs_latex = "\\frac{\\partial " + d.output_tex + "}{\\partial " + g.tex + "}"
        lines += ["", "[[claim]]", f"name = {_quote(f'd{d.output}/d{g.name}, derived by explain')}",
                  f"lhs = {_quote(f'diff({d.output}, {g.name})')}", f"rhs = {_quote(g.formula)}",
                  f"lhs_latex = {_quote(lhs_latex)}"]  # rhs: the text is exact; the checker writes its LaTeX
    return "\n".join(lines) + "\n"
