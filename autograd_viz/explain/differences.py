"""Checks by float64 central differences of the whole expression: scalar gradients of graphs too large for
formulas in the inputs, and every tensor gradient (entry by entry, up to a sample)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograd_viz.errors import ExplainError
from autograd_viz.explain.model import Derivation, Gradient, Term, plain, tex_bar
from autograd_viz.graph import Node
from autograd_viz.ops import ArrayMath

MAX_FD_ENTRIES = 64  # entries per tensor input checked by central differences

def check_by_differences(d: Derivation, order: list[Node], targets: list[Node], labels: dict) -> None:
    """Each target's engine gradient against float64 central differences of the whole scalar expression."""
    for node in targets:
        x = float(node.data)
        h = 1e-6 * max(1.0, abs(x))
        plus, minus = np.asarray(x + h), np.asarray(x - h)
        fd = (_replay(order, {id(node): plus}) - _replay(order, {id(node): minus})) / (2 * h)
        if not math.isclose(fd, float(node.grad), rel_tol=1e-5, abs_tol=1e-7):
            raise ExplainError(f"gradient of {d.output} w.r.t. {labels[id(node)][0]}: the engine gives "
                               f"{float(node.grad):.10g}, central differences {fd:.10g}")


def _replay(order: list[Node], override: dict[int, np.ndarray]) -> float:
    """The output recomputed in float64 with some leaves replaced (for central differences)."""
    vals: dict[int, Any] = {}
    for node in order:
        if node.op is None:
            vals[id(node)] = override.get(id(node), np.asarray(node.data, dtype=np.float64))
            continue
        out = node.op.forward(ArrayMath, *(vals[id(p)] for p in node.parents), **(node.attrs or {}))
        vals[id(node)] = np.asarray(out[0] if node.op.saves else out, dtype=np.float64)
    return float(np.asarray(vals[id(order[-1])]).reshape(-1)[0])


def tensor_gradients(d: Derivation, root: Node, order: list[Node], labels: dict, targets: list[Node],
                      rtol: float) -> None:
    """Each tensor gradient as its chain-rule sum (matrix form), the engine's values checked entry by entry
    against central differences (a sample of ``MAX_FD_ENTRIES`` for large inputs)."""
    rows = {r.name: r for r in d.backward}
    rng = np.random.default_rng(0)
    for node in targets:
        name, tex = labels[id(node)]
        row = rows.get(name)
        if row is None:
            raise ExplainError(f"{name}: no path from the output to this input")
        grad = np.asarray(node.grad, dtype=np.float64)
        x = np.asarray(node.data, dtype=np.float64)
        flat = np.arange(x.size)
        if x.size > MAX_FD_ENTRIES:
            flat = rng.choice(x.size, MAX_FD_ENTRIES, replace=False)
        for k in flat:
            idx = np.unravel_index(int(k), x.shape)
            h = 1e-6 * max(1.0, abs(float(x[idx])))
            plus, minus = x.copy(), x.copy()
            plus[idx] += h
            minus[idx] -= h
            fd = (_replay(order, {id(node): plus}) - _replay(order, {id(node): minus})) / (2 * h)
            if not math.isclose(fd, float(grad[idx]), rel_tol=max(rtol, 1e-5), abs_tol=1e-6):
                raise ExplainError(f"gradient of {d.output} w.r.t. {name}{list(idx)}: the engine gives "
                                   f"{float(grad[idx]):.8g}, central differences {fd:.8g}")
        latex = " + ".join(_term_latex(t) for t in row.terms)
        formula = " + ".join(_term_text(t) for t in row.terms)
        checked = (f"engine backward vs float64 central differences ({len(flat)} of {x.size} entries)")
        d.gradients[name] = Gradient(name=name, tex=tex, value=plain(grad), formula=formula, latex=latex,
                                     checked=checked, shape=tuple(x.shape))


def _term_latex(t: Term) -> str:
    up = tex_bar(t.consumer)
    if t.vjp:
        body = t.local_latex
    elif t.local_latex == "1":
        body = up
    else:
        body = f"{up} \\odot {t.local_latex}" if not t.local_latex.startswith("-") else \
            f"{up} \\odot \\left({t.local_latex}\\right)"
    return f"\\sum_{{n}} {body}" if t.reduced else body


def _term_text(t: Term) -> str:
    up = t.consumer + "̄"
    body = t.local.replace("ḡ", up) if t.vjp else (up if t.local == "1" else f"{up} ⊙ {t.local}")
    return f"Σₙ {body}" if t.reduced else body
