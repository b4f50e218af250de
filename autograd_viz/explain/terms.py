"""The backward pass's terms, one consumer at a time: ``c̄ · ∂c/∂v`` with the local derivative read from the op
table's text and checked before it is used.

A scalar term's text is compared with SymPy's derivative of the op's SymPy form (at the point and two nearby
points) and with the engine's VJP; a tensor term is the op table's VJP text evaluated and compared with the
engine, or, when the text cannot be read, the engine's VJP checked by central differences.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from autograd_viz.errors import ExplainError
from autograd_viz.explain import localtext
from autograd_viz.explain.model import Term, close, op_of, plain, show, tex_bar
from autograd_viz.explain.sympynum import to_numpy
from autograd_viz.graph import Node, input_gradients
from autograd_viz.ops import ArrayMath, OpDef

PLACEHOLDERS = ("q0", "q1", "q2")
#: ``check_local``'s signature: (op, input index, inputs, output, attrs, where) -> (parsed text, value).
CheckLocal = Callable[[OpDef, int, list[Any], Any, "dict | None", str], tuple[Any, Any]]


@lru_cache(maxsize=512)
def _sympy_local(sympy_form: Callable[..., Any], i: int, arity: int, attrs_key: tuple) -> Any:
    """SymPy's derivative of an op's SymPy form w.r.t. input ``i``, as a float function of the inputs (correct by
    construction)."""
    import sympy as sp

    syms = sp.symbols(f"s0:{arity}", real=True)
    expr = sympy_form(*syms, **dict(attrs_key))
    return to_numpy(sp.diff(expr, syms[i]), syms)


def _attrs_key(attrs: dict | None) -> tuple:
    return tuple(sorted((attrs or {}).items()))


def text_tree(op: OpDef, i: int, attrs: dict | None) -> tuple[str, Any]:
    """The op table's derivative text w.r.t. input ``i`` with placeholder names, and its parsed tree."""
    text = op.local_derivative(i, list(PLACEHOLDERS[: op.arity]), "qout", attrs)
    return text, localtext.parse_local(text)


def check_local(op: OpDef, i: int, inputs: list[Any], out: Any, attrs: dict | None, where: str) -> tuple[Any, Any]:
    """Read the op table's derivative text of ``op`` w.r.t. input ``i`` and check it against SymPy at the given
    inputs and at two nearby points; returns (parsed text, its value at ``inputs``)."""
    try:
        text, tree = text_tree(op, i, attrs)
    except localtext.LocalTextError as exc:
        raise ExplainError(f"{where}: {exc}") from None
    reference = None
    if op.sympy is not None:
        try:
            reference = _sympy_local(op.sympy, i, op.arity, _attrs_key(attrs))
        except TypeError:  # attrs SymPy cannot take (unhashable): checked against the engine only
            reference = None
    value = None
    for k, scale in enumerate((0.0, 0.137, -0.071)):
        xs = [np.asarray(x, dtype=np.float64) * (1.0 + scale) + (0.05 * scale if np.all(np.asarray(x) == 0)
              else 0.0) for x in inputs]
        if k == 0:
            xs = [np.asarray(x, dtype=np.float64) for x in inputs]
            y = np.asarray(out, dtype=np.float64)
        else:
            with np.errstate(all="ignore"):
                fwd = op.forward(ArrayMath, *xs, **(attrs or {}))
            y = np.asarray(fwd[0] if op.saves else fwd, dtype=np.float64)
        values = {p: x for p, x in zip(PLACEHOLDERS, xs, strict=False)}
        values["qout"] = y
        try:
            got = localtext.evaluate(tree, values)
        except localtext.LocalTextError as exc:
            raise ExplainError(f"{where}: {exc}") from None
        if k == 0:
            value = got
        if reference is not None:
            with np.errstate(all="ignore"):
                want = np.broadcast_to(np.asarray(reference(*xs), dtype=np.float64), np.broadcast(*xs).shape)
            if not close(np.broadcast_to(got, want.shape), want, 1e-9, 1e-12):
                at = ", ".join(show(x) for x in xs)
                raise ExplainError(f"{where}: the op table's derivative of {op.name} w.r.t. input {i}, {text!r}, "
                                   f"gives {show(got)} at ({at}) but d/dx{i} of its SymPy form is {show(want)}")
    return tree, value




def scalar_term(consumer: Node, i: int, labels: dict, upstream: float, rtol: float, atol: float,
                check: CheckLocal | None = None) -> Term:
    """The term of ``consumer``'s input ``i``: the op table's text checked (``check``, default
    :func:`check_local`), its value, and ``upstream · local``, compared with the engine."""
    op = op_of(consumer)
    where = f"node {labels[id(consumer)][0]} ({op.name})"
    inputs = [p.data for p in consumer.parents]
    tree, value = (check or check_local)(op, i, inputs, consumer.data, consumer.attrs, where)
    local_value = float(value)
    engine = input_gradients(consumer, 1.0)[i]
    if math.isnan(local_value):
        inputs_text = ", ".join(f"{labels[id(p)][0]} = {float(p.data):.6g}" for p in consumer.parents)
        raise ExplainError(f"{where}: the derivative w.r.t. input {i} is undefined at {inputs_text} (the op "
                           f"table's {op.local_derivative(i, [labels[id(p)][0] for p in consumer.parents])!r} "
                           f"is not a number there); a worked solution cannot be written at this point")
    if engine is not None and not close(local_value, engine, rtol, atol):
        raise ExplainError(f"{where}: the local derivative w.r.t. input {i} is {local_value:.10g} from the op "
                           f"table's text but the engine's backward gives {float(engine):.10g}")
    plabels = [labels[id(p)][0] for p in consumer.parents]
    text = op.local_derivative(i, plabels, labels[id(consumer)][0], consumer.attrs)
    tex_names = {q: labels[id(p)][1] for q, p in zip(PLACEHOLDERS, consumer.parents, strict=False)}
    tex_names["qout"] = labels[id(consumer)][1]
    num_names = {q: localtext.format_number(float(p.data)) for q, p in zip(PLACEHOLDERS, consumer.parents,
                                                                           strict=False)}
    num_names["qout"] = localtext.format_number(float(consumer.data))
    return Term(consumer=labels[id(consumer)][0], consumer_tex=labels[id(consumer)][1], index=i, local=text,
                local_latex=localtext.to_latex(tree, tex_names),
                local_latex_numbers=localtext.to_latex(tree, num_names),
                local_value=local_value, upstream=float(upstream), contribution=float(upstream) * local_value)


def _unbroadcast(g: np.ndarray, shape: tuple) -> tuple[np.ndarray, bool]:
    reduced = False
    while g.ndim > len(shape):
        g = g.sum(axis=0)
        reduced = True
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
            reduced = True
    return g, reduced


def tensor_term(consumer: Node, i: int, labels: dict, upstream: np.ndarray, rtol: float, atol: float,
                check: CheckLocal | None = None) -> Term:
    """The term of a tensor op's input ``i``: elementwise ops as ``ḡ ⊙ local`` (the text checked as for scalars),
    others as the op table's VJP text evaluated, or the engine's VJP checked by central differences."""
    op = op_of(consumer)
    where = f"node {labels[id(consumer)][0]} ({op.name})"
    parent = consumer.parents[i]
    plabels = [labels[id(p)][0] for p in consumer.parents]
    text = op.local_derivative(i, plabels, labels[id(consumer)][0], consumer.attrs)
    engine = input_gradients(consumer, upstream.astype(np.asarray(consumer.data).dtype, copy=False))[i]
    tex_names = {q: labels[id(p)][1] for q, p in zip(PLACEHOLDERS, consumer.parents, strict=False)}
    tex_names["qout"] = labels[id(consumer)][1]
    tex_names["g"] = tex_bar(labels[id(consumer)][0])
    inputs = [np.asarray(p.data, dtype=np.float64) for p in consumer.parents]
    shape = tuple(np.shape(parent.data))
    if op.elementwise:
        tree, local = (check or check_local)(op, i, inputs, consumer.data, consumer.attrs, where)
        full = np.asarray(upstream, dtype=np.float64) * np.broadcast_to(local, np.shape(consumer.data))
        contribution, reduced = _unbroadcast(full, shape)
        latex = localtext.to_latex(tree, tex_names)
        local_value: Any = plain(local)
        vjp, checked = False, "op table text vs SymPy and the engine"
    else:
        try:
            tree = localtext.parse_local(op.local_derivative(i, list(PLACEHOLDERS[: op.arity]), "qout",
                                                             consumer.attrs))
            values = {q: x for q, x in zip(PLACEHOLDERS, inputs, strict=False)}
            values["g"] = np.asarray(upstream, dtype=np.float64)
            full = np.asarray(localtext.evaluate(tree, values), dtype=np.float64)
            contribution, reduced = _unbroadcast(full, shape)
            latex = localtext.to_latex(tree, tex_names)
            checked = "op table text vs the engine"
        except localtext.LocalTextError:
            if engine is None:
                raise ExplainError(f"{where}: the engine gives no gradient for input {i}") from None
            contribution, reduced = np.asarray(engine, dtype=np.float64), False
            _vjp_by_differences(consumer, i, np.asarray(upstream, dtype=np.float64), contribution, where)
            op_tex = op.name.replace("_", "\\_")
            latex = f"\\mathrm{{VJP}}_{{\\mathrm{{{op_tex}}}}}\\left({tex_bar(labels[id(consumer)][0])}\\right)"
            checked = "engine VJP vs central differences"
        local_value, vjp = None, True
    if engine is not None and not close(contribution, engine, rtol, atol):
        raise ExplainError(f"{where}: the contribution to {labels[id(parent)][0]} is {show(contribution)} from the "
                           f"op table's text {text!r} but the engine's backward gives {show(engine)}")
    return Term(consumer=labels[id(consumer)][0], consumer_tex=labels[id(consumer)][1], index=i, local=text,
                local_latex=latex, local_latex_numbers=None, local_value=local_value, upstream=plain(upstream),
                contribution=plain(contribution) if np.ndim(contribution) else float(contribution), reduced=reduced,
                vjp=vjp, checked_by=checked)


def _vjp_by_differences(node: Node, i: int, upstream: np.ndarray, contribution: np.ndarray, where: str) -> None:
    """Check ⟨ḡ, J·d⟩ = ⟨contribution, d⟩ for two random directions d (central differences, float64)."""
    rng = np.random.default_rng(0)
    xs = [np.asarray(p.data, dtype=np.float64) for p in node.parents]
    op = op_of(node)
    attrs = node.attrs or {}

    def f(x: np.ndarray) -> np.ndarray:
        args = list(xs)
        args[i] = x
        out = op.forward(ArrayMath, *args, **attrs)
        return np.asarray(out[0] if op.saves else out, dtype=np.float64)

    for _ in range(2):
        d = rng.standard_normal(xs[i].shape)
        h = 1e-6 * max(1.0, float(np.abs(xs[i]).max(initial=0.0)))
        jd = (f(xs[i] + h * d) - f(xs[i] - h * d)) / (2 * h)
        lhs, rhs = float(np.sum(upstream * jd)), float(np.sum(contribution * d))
        if not math.isclose(lhs, rhs, rel_tol=1e-4, abs_tol=1e-6):
            raise ExplainError(f"{where}: the engine's gradient for input {i} fails the finite-difference check "
                               f"({rhs:.8g} vs {lhs:.8g})")

