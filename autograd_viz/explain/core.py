"""Build a worked solution from a recorded graph: forward table, backward pass node by node, gradients.

Every number and formula is cross-checked before it is returned, and a failed check raises
:class:`ExplainError` (a wrong page is never produced):

* each local derivative text of the op table is read back (:mod:`.localtext`) and evaluated: it must equal
  SymPy's derivative of the op's SymPy form (at the point and at nearby points) and the engine's VJP;
* each adjoint, summed from those terms, must equal the engine's backward (float64);
* each gradient formula, built by the chain rule from the local derivative texts and simplified, must equal
  ``sympy.diff`` of the whole expression (symbolically within the time budget, else at several points), and
  its value must equal the engine's gradient. Tensor gradients are checked against central differences.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from autograd_viz.errors import ExplainError
from autograd_viz.explain import localtext
from autograd_viz.explain.budget import within
from autograd_viz.graph import Node, input_gradients, topological_order
from autograd_viz.ops import ArrayMath, OpDef

#: Forward texts for ops whose op-table entry has none yet (tensor ops): (display, LaTeX).
_FALLBACK = {
    "matmul": ("{x0} @ {x1}", "{x0} {x1}"),
    "sum": ("Σ {x0}", r"\sum {x0}"),
    "mean": ("mean({x0})", r"\mathrm{{mean}}\left({x0}\right)"),
    "max": ("max({x0})", r"\max\left({x0}\right)"),
    "reshape": ("reshape({x0})", r"\mathrm{{reshape}}\left({x0}\right)"),
    "transpose": ("{x0}ᵀ", r"{x0}^{{\top}}"),
    "getitem": ("{x0}[…]", r"{x0}\left[\ldots\right]"),
    "softmax": ("softmax({x0})", r"\mathrm{{softmax}}\left({x0}\right)"),
    "log_softmax": ("log_softmax({x0})", r"\mathrm{{log\_softmax}}\left({x0}\right)"),
    "cross_entropy": ("CE({x0}, y)", r"\mathrm{{CE}}\left({x0}, y\right)"),
    "mse_loss": ("MSE({x0}, {x1})", r"\mathrm{{MSE}}\left({x0}, {x1}\right)"),
}
_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "lambda", "mu", "sigma", "tau", "phi", "omega"}
_PLACEHOLDERS = ("q0", "q1", "q2")
SIMPLIFY_SECONDS = 2.0  # per gradient formula
TOTAL_SYMBOLIC_SECONDS = 3.0  # for all simplifications and symbolic checks of one solution
MAX_FD_ENTRIES = 64  # entries per tensor input checked by central differences
SHORT_FORMULA_OPS = 20  # chain-rule products this short are not run through sympy.simplify
MAX_TREE_SIZE = 2_000  # ... and expressions that, written out as a tree, stay this small
MAX_NODES = 5_000  # a worked solution has a paragraph per node: larger graphs are refused
MAX_SYMBOLIC_OPS = 60  # larger scalar graphs get chain-form gradients (formulas in the inputs would be pages long)


def tex_name(label: str) -> str:
    """A label in LaTeX: ``x0`` → ``x_{0}``, ``alpha`` → ``\\alpha``, ``fc1.weight`` → ``\\mathrm{fc1.weight}``,
    the entry ``X[0,1]`` → ``X_{0,1}``."""
    m = re.fullmatch(r"(.+)\[([0-9,]+)\]", label)
    if m:
        return f"{tex_name(m.group(1))}_{{{m.group(2)}}}"
    m = re.fullmatch(r"([A-Za-z]+)_?(\d+)", label)
    if m:
        return f"{tex_name(m.group(1))}_{{{m.group(2)}}}"
    if label in _GREEK:
        return "\\" + label
    if re.fullmatch(r"[A-Za-z]", label):
        return label
    m = re.fullmatch(r"([A-Za-z])_([A-Za-z0-9]+)", label)
    if m:
        return f"{m.group(1)}_{{{m.group(2)}}}"
    return "\\mathrm{" + label.replace("_", "\\_") + "}"


def tex_bar(label: str) -> str:
    """The adjoint's LaTeX name: ``x0`` → ``\\bar{x}_{0}``, ``fc1.weight`` → ``\\overline{\\mathrm{fc1.weight}}``."""
    m = re.fullmatch(r"(.+)\[([0-9,]+)\]", label)
    if m:
        return f"{tex_bar(m.group(1))}_{{{m.group(2)}}}"
    m = re.fullmatch(r"([A-Za-z]+)_?(\d+)", label)
    if m and (len(m.group(1)) == 1 or m.group(1) in _GREEK):
        return f"\\bar{{{tex_name(m.group(1))}}}_{{{m.group(2)}}}"
    if re.fullmatch(r"[A-Za-z]", label) or label in _GREEK:
        return f"\\bar{{{tex_name(label)}}}"
    m = re.fullmatch(r"([A-Za-z])_([A-Za-z0-9]+)", label)
    if m:
        return f"\\bar{{{m.group(1)}}}_{{{m.group(2)}}}"
    return f"\\overline{{{tex_name(label)}}}"


@dataclass
class Term:
    """One consumer's share of an adjoint: ``upstream · local`` (or the op's VJP for tensor ops)."""

    consumer: str
    consumer_tex: str
    index: int
    local: str  # the op table's text with the graph's labels
    local_latex: str  # symbolic LaTeX (tensor VJP ops: with the consumer's adjoint for ḡ)
    local_latex_numbers: str | None  # the same with numbers (scalar graphs)
    local_value: Any  # None for VJP-form (non-elementwise) tensor ops
    upstream: Any
    contribution: Any
    reduced: bool = False  # tensor: summed over broadcast axes
    vjp: bool = False  # tensor op written as a vector-Jacobian product
    checked_by: str = "op table text vs SymPy and the engine"


@dataclass
class ForwardRow:
    name: str
    tex: str
    formula: str
    latex: str
    value: Any
    shape: tuple[int, ...] | None = None


@dataclass
class BackwardRow:
    name: str
    tex: str
    bar_tex: str
    adjoint: Any
    terms: list[Term]
    seed: bool = False
    shape: tuple[int, ...] | None = None


@dataclass
class Gradient:
    name: str
    tex: str
    value: Any
    formula: str
    latex: str
    simplified: bool = True
    checked: str = ""
    shape: tuple[int, ...] | None = None
    sympy: Any = None


@dataclass
class Derivation:
    """A worked solution, checked; rendered by :mod:`autograd_viz.explain.render`."""

    kind: str  # "scalar" or "tensor"
    expression: str
    output: str
    output_tex: str
    point: dict[str, Any]
    forward: list[ForwardRow]
    backward: list[BackwardRow]
    gradients: dict[str, Gradient]
    inputs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    steps: list[tuple[str, str]] = field(default_factory=list)  # (name, formula in the expression language)


# --- labels --------------------------------------------------------------------------------------------------
def _is_const(node: Node) -> bool:
    return node.op is None and (node.role == "const" or (node.name is None and not node.requires_grad))


def _number_label(value: float) -> str:
    text = f"{value:.10g}"
    return f"({text})" if value < 0 else text


def _labels(order: list[Node]) -> dict[int, tuple[str, str]]:
    """(text label, LaTeX label) per node: names as given, ``v1, v2, …`` for unnamed steps, numbers for
    constants, ``u1, …`` for unnamed inputs."""
    used = {n.name for n in order if n.name is not None}
    counters = {"v": 0, "u": 0}

    def fresh(prefix: str) -> str:
        while True:
            counters[prefix] += 1
            label = f"{prefix}{counters[prefix]}"
            if label not in used:
                used.add(label)
                return label

    out: dict[int, tuple[str, str]] = {}
    for node in order:
        if _is_const(node) and np.ndim(node.data) == 0:
            value = float(node.data)
            out[id(node)] = (_number_label(value), localtext.format_number(value))
            continue
        if node.name is not None:
            label = node.name
        else:
            label = fresh("v" if node.op is not None else "u")
        out[id(node)] = (label, tex_name(label))
    return out


def _close(a: Any, b: Any, rtol: float, atol: float) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    both_nan = np.isnan(a) & np.isnan(b)
    same_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    ok = np.isclose(a, b, rtol=rtol, atol=atol) | both_nan | same_inf
    return bool(np.all(ok))


def _show(value: Any) -> str:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return f"{float(arr):.10g}"
    return np.array2string(arr, precision=6, threshold=20)


# --- local derivatives ---------------------------------------------------------------------------------------
@lru_cache(maxsize=512)
def _sympy_local(op_name: str, i: int, arity: int, attrs_key: tuple) -> Any:
    """SymPy's derivative of the op w.r.t. input ``i``, as a float function of the inputs (correct by construction)."""
    import sympy as sp

    from autograd_viz.ops import OPS

    op = OPS[op_name]
    syms = sp.symbols(f"s0:{arity}", real=True)
    assert op.sympy is not None  # callers check
    expr = op.sympy(*syms, **dict(attrs_key))
    # sign's derivative is 2·DiracDelta(x): 0 away from 0, and 0 at 0 by the op table's convention (as PyTorch's)
    return sp.lambdify(syms, sp.diff(expr, syms[i]), modules=[{"DiracDelta": np.zeros_like}, "numpy"])


def _attrs_key(attrs: dict | None) -> tuple:
    return tuple(sorted((attrs or {}).items()))


def _text_tree(op: OpDef, i: int, attrs: dict | None) -> tuple[str, Any]:
    text = op.local_derivative(i, list(_PLACEHOLDERS[: op.arity]), "qout", attrs)
    return text, localtext.parse_local(text)


def check_local(op: OpDef, i: int, inputs: list[Any], out: Any, attrs: dict | None, where: str) -> tuple[Any, Any]:
    """Read the op table's derivative text of ``op`` w.r.t. input ``i`` and check it against SymPy at the given
    inputs and at two nearby points; returns (parsed text, its value at ``inputs``)."""
    try:
        text, tree = _text_tree(op, i, attrs)
    except localtext.LocalTextError as exc:
        raise ExplainError(f"{where}: {exc}") from None
    reference = None
    if op.sympy is not None:
        try:
            reference = _sympy_local(op.name, i, op.arity, _attrs_key(attrs))
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
        values = {p: x for p, x in zip(_PLACEHOLDERS, xs, strict=False)}
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
            if not _close(np.broadcast_to(got, want.shape), want, 1e-9, 1e-12):
                at = ", ".join(_show(x) for x in xs)
                raise ExplainError(f"{where}: the op table's derivative of {op.name} w.r.t. input {i}, {text!r}, "
                                   f"gives {_show(got)} at ({at}) but d/dx{i} of its SymPy form is {_show(want)}")
    return tree, value


# --- building ------------------------------------------------------------------------------------------------
def derive(root: Node, wrt: list[str] | None = None, expression: str | None = None,
           symbolic: bool = True) -> Derivation:
    """The checked worked solution of ``root``'s graph (``Value`` or ``Tensor``); see the module docstring.

    ``symbolic=False`` (unrolled graphs) skips the gradient formulas in the inputs: each gradient is then its
    adjoint's chain-rule sum, every term checked as usual."""
    from autograd_viz.scalar import Value

    order = topological_order(root)
    if root.op is None:
        raise ExplainError(f"{root.label()} is an input, not a computation: nothing to explain")
    if len(order) > MAX_NODES:
        raise ExplainError(f"the graph has {len(order):,} nodes; a worked solution writes a paragraph per node and "
                           f"is limited to {MAX_NODES:,} (explain a smaller part, e.g. one layer or one step)")
    if not root.requires_grad:
        raise ExplainError("the output does not require grad (built from constants or under no_grad)")
    scalar = isinstance(root, Value)
    if not scalar and np.size(root.data) != 1:
        raise ExplainError(f"the output has shape {tuple(np.shape(root.data))}; explain needs a scalar output "
                           "(add .sum() or a loss)")
    labels = _labels(order)
    leaves = [n for n in order if n.op is None and not _is_const(n)]
    names = [labels[id(n)][0] for n in leaves]
    grad_leaves = [n for n in leaves if n.requires_grad]
    if wrt is None:
        targets = grad_leaves
    else:
        by_name = {labels[id(n)][0]: n for n in leaves}
        targets = []
        for w in wrt:
            if w not in by_name:
                raise ExplainError(f"--wrt {w!r}: not an input of the expression (inputs: {', '.join(names)})")
            if not by_name[w].requires_grad:
                raise ExplainError(f"--wrt {w!r}: this input does not require grad")
            targets.append(by_name[w])
    if not targets:
        raise ExplainError("no input requires grad: nothing to differentiate")

    for n in grad_leaves:
        n.zero_grad()
    root.backward()  # type: ignore[attr-defined]  # Value and Tensor both have it

    steps: list[tuple[str, str]] = []
    forward = []
    for node in order:
        if node.op is None:
            continue
        plabels = [labels[id(p)][0] for p in node.parents]
        ptex = [labels[id(p)][1] for p in node.parents]
        display, latex = node.op.display, node.op.latex
        if not display or not latex:
            display, latex = _FALLBACK.get(node.op.name, (f"{node.op.name}({{x0}})",
                                                          f"\\mathrm{{{node.op.name}}}\\left({{x0}}\\right)"))
        formula = _fill(display, plabels, node.attrs)
        tex = _fill(latex, [f"\\left({t}\\right)" if t.startswith("-") else t for t in ptex], node.attrs)
        label, label_tex = labels[id(node)]
        forward.append(ForwardRow(label, label_tex, formula, tex, _plain(node.data),
                                  None if scalar else tuple(np.shape(node.data))))
        if scalar:
            steps.append((label, _step_formula(node, labels)))

    consumers: dict[int, list[tuple[Node, int]]] = {}
    for node in order:
        for i, p in enumerate(node.parents):
            consumers.setdefault(id(p), []).append((node, i))

    rtol, atol = (1e-9, 1e-12) if scalar or np.asarray(root.data).dtype == np.float64 else (2e-4, 1e-6)
    # With --wrt, only the nodes on a path from a requested input to the output are written (their consumers
    # are on such a path too, so every adjoint written has all its terms).
    on_path: set[int] = set()
    wanted = {id(n) for n in targets}
    for node in order:
        if id(node) in wanted or any(id(p) in on_path for p in node.parents):
            on_path.add(id(node))
    backward: list[BackwardRow] = []
    adjoint: dict[int, Any] = {}
    for node in reversed(order):
        if not node.requires_grad or _is_const(node) or (wrt is not None and id(node) not in on_path):
            continue
        label, label_tex = labels[id(node)]
        shape = None if scalar else tuple(np.shape(node.data))
        if node is root:
            adjoint[id(node)] = 1.0 if scalar else np.ones_like(np.asarray(node.data, dtype=np.float64))
            backward.append(BackwardRow(label, label_tex, tex_bar(label), _plain(adjoint[id(node)]), [], seed=True,
                                        shape=shape))
            continue
        if node.op is None and node not in targets and (wrt is not None or node not in grad_leaves):
            continue
        terms = []
        total: Any = 0.0
        for consumer, i in consumers.get(id(node), []):
            if id(consumer) not in adjoint:
                continue
            term = (_scalar_term if scalar else _tensor_term)(consumer, i, labels, adjoint[id(consumer)], rtol, atol)
            terms.append(term)
            total = total + np.asarray(term.contribution, dtype=np.float64)
        if not terms:
            continue
        engine = node.grad
        if not _close(total, engine, rtol, atol):
            raise ExplainError(f"node {label}: the adjoint summed from the local derivatives is {_show(total)} but "
                               f"the engine's backward gives {_show(engine)}")
        adjoint[id(node)] = total
        backward.append(BackwardRow(label, label_tex, tex_bar(label), _plain(total), terms, shape=shape))

    derivation = Derivation(
        kind="scalar" if scalar else "tensor",
        expression=expression or "; ".join(f"{r.name} = {r.formula}" for r in forward),
        output=labels[id(root)][0], output_tex=labels[id(root)][1],
        point={labels[id(n)][0]: _plain(n.data) for n in leaves},
        forward=forward, backward=backward, gradients={}, inputs=names, steps=steps)
    ops = sum(1 for n in order if n.op is not None)
    size = _tree_size(order)
    by_differences = scalar and symbolic and (ops > MAX_SYMBOLIC_OPS or size > MAX_TREE_SIZE)
    if by_differences:
        symbolic = False
        why = (f"the graph has {ops} operations" if ops > MAX_SYMBOLIC_OPS else
               f"written out in the inputs the expression has {size:,} terms (values are reused)")
        derivation.notes.append(f"{why}: gradient formulas in the inputs are written for up to {MAX_SYMBOLIC_OPS} "
                                f"operations and {MAX_TREE_SIZE:,} terms; each gradient is shown as its chain-rule "
                                "sum and checked against float64 central differences of the whole expression")
        _check_by_differences(derivation, order, targets, labels)
    if scalar and symbolic:
        _scalar_gradients(derivation, root, order, labels, consumers, targets)
    elif scalar:
        rows = {r.name: r for r in backward}
        for node in targets:
            name, tex = labels[id(node)]
            row = rows[name]
            derivation.gradients[name] = Gradient(
                name=name, tex=tex, value=float(node.grad), simplified=False,
                formula=" + ".join(f"{t.consumer}̄·{t.local}" for t in row.terms),
                latex=" + ".join(f"{tex_bar(t.consumer)} \\cdot {t.local_latex}" for t in row.terms),
                checked="each term from the op table's text (checked against SymPy); the sum equals the engine's "
                        "backward" + (" and float64 central differences" if by_differences else ""))
    else:
        _tensor_gradients(derivation, root, order, labels, targets, rtol)
    return derivation


def _tree_size(order: list[Node]) -> int:
    """How many nodes the expression has written out as a tree (a reused value counts once per use)."""
    size: dict[int, int] = {}
    for node in order:
        size[id(node)] = 1 + sum(size[id(p)] for p in node.parents)
    return size[id(order[-1])]


def _fill(template: str, labels: list[str], attrs: dict | None) -> str:
    values = {f"x{k}": label for k, label in enumerate(labels)}
    for key, value in (attrs or {}).items():
        values[key] = f"{value:g}" if isinstance(value, float) else str(value)
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template


def _plain(value: Any) -> Any:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return float(arr)
    return arr.astype(np.float64).tolist()


def _step_formula(node: Node, labels: dict[int, tuple[str, str]]) -> str:
    """The node's op in the expression language (for a derivation file's [define])."""
    xs = [labels[id(p)][0] for p in node.parents]
    op = _op(node)
    attrs = node.attrs or {}
    name = op.name
    binary = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
    if name in binary:
        return f"{xs[0]} {binary[name]} {xs[1]}"
    if name == "neg":
        return f"-{xs[0]}"
    if name == "powc":
        return f"{xs[0]}**{_number_label(attrs['p'])}"
    if op.expr_name is None:
        raise ExplainError(f"op {name} has no form in the expression language")
    extra = [f"{attrs[a]!r}" for a in op.attr_names]
    return f"{op.expr_name}({', '.join([xs[0], *extra])})"


def _op(node: Node) -> OpDef:
    """The op of a node that is known to be an op node (not a leaf)."""
    if node.op is None:
        raise ExplainError(f"{node.label()} is an input, not an op")
    return node.op


def _scalar_term(consumer: Node, i: int, labels: dict, upstream: float, rtol: float, atol: float) -> Term:
    op = _op(consumer)
    where = f"node {labels[id(consumer)][0]} ({op.name})"
    inputs = [p.data for p in consumer.parents]
    tree, value = check_local(op, i, inputs, consumer.data, consumer.attrs, where)
    local_value = float(value)
    engine = input_gradients(consumer, 1.0)[i]
    if math.isnan(local_value):
        inputs_text = ", ".join(f"{labels[id(p)][0]} = {float(p.data):.6g}" for p in consumer.parents)
        raise ExplainError(f"{where}: the derivative w.r.t. input {i} is undefined at {inputs_text} (the op "
                           f"table's {op.local_derivative(i, [labels[id(p)][0] for p in consumer.parents])!r} "
                           f"is not a number there); a worked solution cannot be written at this point")
    if engine is not None and not _close(local_value, engine, rtol, atol):
        raise ExplainError(f"{where}: the local derivative w.r.t. input {i} is {local_value:.10g} from the op "
                           f"table's text but the engine's backward gives {float(engine):.10g}")
    plabels = [labels[id(p)][0] for p in consumer.parents]
    text = op.local_derivative(i, plabels, labels[id(consumer)][0], consumer.attrs)
    tex_names = {q: labels[id(p)][1] for q, p in zip(_PLACEHOLDERS, consumer.parents, strict=False)}
    tex_names["qout"] = labels[id(consumer)][1]
    num_names = {q: localtext.format_number(float(p.data)) for q, p in zip(_PLACEHOLDERS, consumer.parents,
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


def _tensor_term(consumer: Node, i: int, labels: dict, upstream: np.ndarray, rtol: float, atol: float) -> Term:
    op = _op(consumer)
    where = f"node {labels[id(consumer)][0]} ({op.name})"
    parent = consumer.parents[i]
    plabels = [labels[id(p)][0] for p in consumer.parents]
    text = op.local_derivative(i, plabels, labels[id(consumer)][0], consumer.attrs)
    engine = input_gradients(consumer, upstream.astype(np.asarray(consumer.data).dtype, copy=False))[i]
    tex_names = {q: labels[id(p)][1] for q, p in zip(_PLACEHOLDERS, consumer.parents, strict=False)}
    tex_names["qout"] = labels[id(consumer)][1]
    tex_names["g"] = tex_bar(labels[id(consumer)][0])
    inputs = [np.asarray(p.data, dtype=np.float64) for p in consumer.parents]
    shape = tuple(np.shape(parent.data))
    if op.elementwise:
        tree, local = check_local(op, i, inputs, consumer.data, consumer.attrs, where)
        full = np.asarray(upstream, dtype=np.float64) * np.broadcast_to(local, np.shape(consumer.data))
        contribution, reduced = _unbroadcast(full, shape)
        latex = localtext.to_latex(tree, tex_names)
        local_value: Any = _plain(local)
        vjp, checked = False, "op table text vs SymPy and the engine"
    else:
        try:
            tree = localtext.parse_local(op.local_derivative(i, list(_PLACEHOLDERS[: op.arity]), "qout",
                                                             consumer.attrs))
            values = {q: x for q, x in zip(_PLACEHOLDERS, inputs, strict=False)}
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
    if engine is not None and not _close(contribution, engine, rtol, atol):
        raise ExplainError(f"{where}: the contribution to {labels[id(parent)][0]} is {_show(contribution)} from the "
                           f"op table's text {text!r} but the engine's backward gives {_show(engine)}")
    return Term(consumer=labels[id(consumer)][0], consumer_tex=labels[id(consumer)][1], index=i, local=text,
                local_latex=latex, local_latex_numbers=None, local_value=local_value, upstream=_plain(upstream),
                contribution=_plain(contribution) if np.ndim(contribution) else float(contribution), reduced=reduced,
                vjp=vjp, checked_by=checked)


def _vjp_by_differences(node: Node, i: int, upstream: np.ndarray, contribution: np.ndarray, where: str) -> None:
    """Check ⟨ḡ, J·d⟩ = ⟨contribution, d⟩ for two random directions d (central differences, float64)."""
    rng = np.random.default_rng(0)
    xs = [np.asarray(p.data, dtype=np.float64) for p in node.parents]
    op = _op(node)
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


# --- gradients -----------------------------------------------------------------------------------------------
def _scalar_gradients(d: Derivation, root: Node, order: list[Node], labels: dict, consumers: dict,
                      targets: list[Node]) -> None:
    """The chain rule done symbolically with the op table's derivative texts, simplified within a budget and
    checked against ``sympy.diff`` of the whole expression."""
    import sympy as sp

    sigma = _sigma_class()
    symbols: dict[int, Any] = {}
    expr: dict[int, Any] = {}  # the op table's SymPy forms: what sympy.diff differentiates
    pretty: dict[int, Any] = {}  # the same with σ kept as a function: what the printed formula is written in
    for node in order:
        if node.op is None:
            if _is_const(node):
                expr[id(node)] = _number(float(node.data))
            else:
                symbols[id(node)] = sp.Symbol(labels[id(node)][0], real=True)
                expr[id(node)] = symbols[id(node)]
            pretty[id(node)] = expr[id(node)]
            continue
        op = _op(node)
        if op.sympy is None:
            raise ExplainError(f"op {op.name} has no SymPy form")
        expr[id(node)] = op.sympy(*(expr[id(p)] for p in node.parents), **(node.attrs or {}))
        if op.name == "sigmoid":
            pretty[id(node)] = sigma(pretty[id(node.parents[0])])
        else:
            pretty[id(node)] = op.sympy(*(pretty[id(p)] for p in node.parents), **(node.attrs or {}))
    adj: dict[int, Any] = {id(root): sp.Integer(1)}
    for node in reversed(order):
        if node is root or not node.requires_grad:
            continue
        total = sp.Integer(0)
        for consumer, i in consumers.get(id(node), []):
            if id(consumer) not in adj:
                continue
            _text, tree = _text_tree(consumer.op, i, consumer.attrs)
            values = {q: pretty[id(p)] for q, p in zip(_PLACEHOLDERS, consumer.parents, strict=False)}
            values["qout"] = pretty[id(consumer)]
            total = total + adj[id(consumer)] * localtext.evaluate_sympy(tree, values, sigmoid=sigma)
        adj[id(node)] = total
    deadline = time.monotonic() + TOTAL_SYMBOLIC_SECONDS
    all_syms = list(symbols.values())
    point = [float(n.data) for n in order if id(n) in symbols]
    for node in targets:
        name = labels[id(node)][0]
        chain = adj.get(id(node), sp.Integer(0))
        direct = sp.diff(expr[id(root)], symbols[id(node)])
        budget = min(SIMPLIFY_SECONDS, deadline - time.monotonic())
        ok, simple = within(budget, lambda: _simplify(chain), size=sp.count_ops(chain))  # noqa: B023 (runs now)
        formula: Any = simple if ok else chain
        expanded = formula.replace(sigma, lambda u: 1 / (1 + sp.exp(-u)))
        if not ok:
            d.notes.append(f"the formula for {name} is shown unsimplified (simplification ran past its "
                           f"{SIMPLIFY_SECONDS:g} s budget)")
        budget = min(SIMPLIFY_SECONDS, deadline - time.monotonic())
        ok_check, diff0 = within(budget, lambda: _is_zero(expanded - direct),  # noqa: B023 (runs now)
                                 size=sp.count_ops(formula))
        value = node.grad
        def f_num(*xs: float, e: Any = expanded) -> float:
            return _at_point(e, all_syms, xs)

        def g_num(*xs: float, e: Any = direct) -> float:
            return _at_point(e, all_syms, xs)

        with np.errstate(all="ignore"):
            at_point = float(f_num(*point))
        if not _close(at_point, value, 1e-9, 1e-12):
            raise ExplainError(f"gradient of {d.output} w.r.t. {name}: the derived formula gives {at_point:.10g} "
                               f"but the engine's backward gives {value:.10g}")
        if ok_check and diff0:
            checked = "equals sympy.diff of the whole expression (symbolically)"
        else:
            for scale in (0.0, 0.113, -0.087, 0.051):
                xs = [x * (1 + scale) + (0.05 * scale if x == 0 else 0.0) for x in point]
                with np.errstate(all="ignore"):
                    a, b = f_num(*xs), g_num(*xs)
                if not _close(a, b, 1e-8, 1e-11):
                    raise ExplainError(f"gradient of {d.output} w.r.t. {name}: the chain-rule formula and "
                                       f"sympy.diff of the whole expression differ at {xs} ({a} vs {b})")
            checked = "equals sympy.diff of the whole expression (at the point and three nearby points)"
        d.gradients[name] = Gradient(name=name, tex=labels[id(node)][1], value=float(value),
                                     formula=_expr_text(formula), latex=_latex(formula), simplified=ok,
                                     checked=checked, sympy=formula)


@lru_cache(maxsize=1)
def _sigma_class() -> Any:
    """σ as a SymPy function (printed ``sigmoid(u)``, LaTeX ``\\sigma``, derivative σ(1 − σ)), so gradient
    formulas read as a teacher writes them; checks replace it by 1/(1 + e^(−u))."""
    import sympy as sp

    class sigmoid(sp.Function):  # noqa: N801 (the expression language's name)
        def fdiff(self, argindex: int = 1) -> Any:
            return self * (1 - self)

        def _latex(self, printer: Any, exp: Any = None) -> str:
            base = f"\\sigma\\left({printer._print(self.args[0])}\\right)"
            return f"{base}^{{{exp}}}" if exp is not None else base

        def _eval_rewrite_as_exp(self, arg: Any, **kwargs: Any) -> Any:
            return 1 / (1 + sp.exp(-arg))

    return sigmoid


def _at_point(expr: Any, symbols: list[Any], values: tuple | list) -> float:
    """``expr`` evaluated at ``symbols = values`` (exact substitution, then one float evaluation; nan if undefined)."""
    import sympy as sp

    out = expr.xreplace({s: sp.Float(v, 30) for s, v in zip(symbols, values, strict=True)})
    try:
        return float(sp.N(out, 20))
    except (TypeError, ValueError):
        return math.nan


def _is_zero(expr: Any) -> bool:
    """Whether SymPy proves ``expr`` = 0: ``cancel`` first (fast), then ``simplify``."""
    import sympy as sp

    return bool(sp.cancel(expr) == 0 or sp.simplify(expr) == 0)


def _simplify(expr: Any) -> Any:
    """The shortest of the chain-rule product as it stands (the form a teacher writes), its common factors
    pulled out, and ``sympy.simplify`` (tried only when the product is long; never when it would turn
    ``sign(u)`` into a case split the chain did not have)."""
    import sympy as sp

    candidates = [expr, sp.factor_terms(expr)]
    if sp.count_ops(expr) > SHORT_FORMULA_OPS:
        out = sp.simplify(expr)
        if not (out.has(sp.Piecewise) and not expr.has(sp.Piecewise)):
            candidates.append(out)
    return min(candidates, key=sp.count_ops)  # min keeps the first of equals: the chain's own form


def _latex(expr: Any) -> str:
    """SymPy's LaTeX, with case splits written inline (``b if a b > 0 else 0``: mathtext and KaTeX-safe)."""
    from sympy.printing.latex import LatexPrinter

    class _Printer(LatexPrinter):
        def _print_Piecewise(self, e: Any) -> str:
            parts = []
            for value, cond in e.args:
                if cond == True:  # noqa: E712 (SymPy's true)
                    parts.append(f"\\mathrm{{else}}\\ {self._print(value)}")
                else:
                    parts.append(f"{self._print(value)}\\ \\mathrm{{if}}\\ {self._print(cond)}")
            return "\\left(" + ",\\ ".join(parts) + "\\right)"

        def _print_sign(self, e: Any) -> str:
            return f"\\operatorname{{sign}}\\left({self._print(e.args[0])}\\right)"

    return _Printer().doprint(expr)


def _number(value: float) -> Any:
    import sympy as sp

    return sp.Integer(int(value)) if value.is_integer() else sp.Rational(repr(value))


def _expr_text(expr: Any) -> str:
    """A SymPy expression in the expression language (``abs`` for ``Abs``, ``exp(1)`` for ``E``)."""
    from sympy.printing.str import StrPrinter

    class _Printer(StrPrinter):
        def _print_Abs(self, e: Any) -> str:
            return f"abs({self._print(e.args[0])})"

        def _print_Exp1(self, e: Any) -> str:
            return "exp(1)"

    return _Printer({"order": "none"}).doprint(expr)


def _check_by_differences(d: Derivation, order: list[Node], targets: list[Node], labels: dict) -> None:
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


def _tensor_gradients(d: Derivation, root: Node, order: list[Node], labels: dict, targets: list[Node],
                      rtol: float) -> None:
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
        d.gradients[name] = Gradient(name=name, tex=tex, value=_plain(grad), formula=formula, latex=latex,
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
