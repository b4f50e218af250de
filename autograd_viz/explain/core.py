"""Build a worked solution from a recorded graph: forward table, backward pass node by node, gradients.

Every number and formula is cross-checked before it is returned, and a failed check raises
:class:`ExplainError` (a wrong page is never produced):

* each local derivative text of the op table is read back (:mod:`.localtext`) and evaluated: it must equal
  SymPy's derivative of the op's SymPy form (at the point and at nearby points) and the engine's VJP;
* each adjoint, summed from those terms, must equal the engine's backward (float64);
* each gradient formula, built by the chain rule from the local derivative texts and simplified, must equal
  ``sympy.diff`` of the whole expression (symbolically within the time budget, else at several points), and
  its value must equal the engine's gradient. Tensor gradients are checked against central differences.

This module builds the forward table and walks the backward pass; the pieces live beside it: :mod:`.model`
(rows, terms, labels), :mod:`.terms` (checked local derivatives), :mod:`.gradients` (formulas vs ``sympy.diff``),
:mod:`.differences` (central-difference checks).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_viz.errors import ExplainError
from autograd_viz.explain.differences import check_by_differences, tensor_gradients
from autograd_viz.explain.gradients import scalar_gradients
from autograd_viz.explain.model import (
    BackwardRow,
    Derivation,
    ForwardRow,
    Gradient,
    Term,
    close,
    is_const,
    make_labels,
    number_label,
    op_of,
    plain,
    show,
    tex_bar,
    tex_name,
)
from autograd_viz.explain.terms import PLACEHOLDERS, check_local, scalar_term, tensor_term, text_tree
from autograd_viz.graph import Node, topological_order

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
SIMPLIFY_SECONDS = 2.0  # per gradient formula
TOTAL_SYMBOLIC_SECONDS = 3.0  # for all simplifications and symbolic checks of one solution
SHORT_FORMULA_OPS = 20  # chain-rule products this short are not run through sympy.simplify
MAX_TREE_SIZE = 2_000  # ... and expressions that, written out as a tree, stay this small
MAX_NODES = 5_000  # a worked solution has a paragraph per node: larger graphs are refused
MAX_SYMBOLIC_OPS = 60  # larger scalar graphs get chain-form gradients (formulas in the inputs would be pages long)
# Names the tests and older callers reach through this module.
_PLACEHOLDERS, _text_tree = PLACEHOLDERS, text_tree


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
    labels = make_labels(order)
    leaves = [n for n in order if n.op is None and not is_const(n)]
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
        forward.append(ForwardRow(label, label_tex, formula, tex, plain(node.data),
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
        if not node.requires_grad or is_const(node) or (wrt is not None and id(node) not in on_path):
            continue
        label, label_tex = labels[id(node)]
        shape = None if scalar else tuple(np.shape(node.data))
        if node is root:
            adjoint[id(node)] = 1.0 if scalar else np.ones_like(np.asarray(node.data, dtype=np.float64))
            backward.append(BackwardRow(label, label_tex, tex_bar(label), plain(adjoint[id(node)]), [], seed=True,
                                        shape=shape))
            continue
        if node.op is None and node not in targets and (wrt is not None or node not in grad_leaves):
            continue
        terms = []
        total: Any = 0.0
        for consumer, i in consumers.get(id(node), []):
            if id(consumer) not in adjoint:
                continue
            term = (scalar_term if scalar else tensor_term)(consumer, i, labels, adjoint[id(consumer)], rtol, atol,
                                                           check_local)
            terms.append(term)
            total = total + np.asarray(term.contribution, dtype=np.float64)
        if not terms:
            continue
        engine = node.grad
        if not close(total, engine, rtol, atol):
            raise ExplainError(f"node {label}: the adjoint summed from the local derivatives is {show(total)} but "
                               f"the engine's backward gives {show(engine)}")
        adjoint[id(node)] = total
        backward.append(BackwardRow(label, label_tex, tex_bar(label), plain(total), terms, shape=shape))

    derivation = Derivation(
        kind="scalar" if scalar else "tensor",
        expression=expression or "; ".join(f"{r.name} = {r.formula}" for r in forward),
        output=labels[id(root)][0], output_tex=labels[id(root)][1],
        point={labels[id(n)][0]: plain(n.data) for n in leaves},
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
        check_by_differences(derivation, order, targets, labels)
    if scalar and symbolic:
        scalar_gradients(derivation, root, order, labels, consumers, targets, simplify_seconds=SIMPLIFY_SECONDS,
                         total_seconds=TOTAL_SYMBOLIC_SECONDS, short_ops=SHORT_FORMULA_OPS)
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
        tensor_gradients(derivation, root, order, labels, targets, rtol)
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


def _step_formula(node: Node, labels: dict[int, tuple[str, str]]) -> str:
    """The node's op in the expression language (for a derivation file's [define])."""
    xs = [labels[id(p)][0] for p in node.parents]
    op = op_of(node)
    attrs = node.attrs or {}
    name = op.name
    binary = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
    if name in binary:
        return f"{xs[0]} {binary[name]} {xs[1]}"
    if name == "neg":
        return f"-{xs[0]}"
    if name == "powc":
        return f"{xs[0]}**{number_label(attrs['p'])}"
    if op.expr_name is None:
        raise ExplainError(f"op {name} has no form in the expression language")
    extra = [f"{attrs[a]!r}" for a in op.attr_names]
    return f"{op.expr_name}({', '.join([xs[0], *extra])})"


__all__ = ["MAX_NODES", "MAX_SYMBOLIC_OPS", "MAX_TREE_SIZE", "SIMPLIFY_SECONDS", "TOTAL_SYMBOLIC_SECONDS",
           "BackwardRow", "Derivation", "ExplainError", "ForwardRow", "Gradient", "Term", "check_local", "derive",
           "tex_bar", "tex_name"]
