"""``--unroll``: a small tensor graph rebuilt with one ``Value`` per entry, explained next to its tensor rule.

Matmul becomes sums of products, broadcasting becomes reuse of the same ``Value`` (so its adjoint sums over
the copies), ``sum`` becomes additions, softmax and cross-entropy their scalar formulas — all through the same
op table. The tensor rule (``W̄ = Xᵀ Ḡ``) is shown next to its entries (``W̄ᵢⱼ = Σₖ Xₖᵢ Ḡₖⱼ``) and the two
engines' numbers must agree entry by entry (float64), or :class:`ExplainError` is raised.
"""

from __future__ import annotations

import ast
import math
from typing import Any

import numpy as np

from autograd_viz.errors import ExpressionError
from autograd_viz.explain.core import Derivation, ExplainError, derive, tex_bar
from autograd_viz.expr import Evaluator, Grammar, names_in
from autograd_viz.graph import Node, topological_order
from autograd_viz.scalar import Value

MAX_DIM = 4  # entries per axis: "up to about 4×4"
MAX_NDIM = 2
#: Functions of tensor programs (``--unroll`` from the CLI): elementwise ops plus reductions and the loss.
TENSOR_FUNCTIONS = frozenset({"exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "sum", "mean", "softmax",
                              "log_softmax", "cross_entropy", "mse_loss"})
TENSOR_GRAMMAR = Grammar(functions=TENSOR_FUNCTIONS, matmul=True, attributes=frozenset({"T"}))


def _refuse_shape(node: Node, label: str) -> None:
    shape = tuple(np.shape(node.data))
    if len(shape) > MAX_NDIM or any(n > MAX_DIM for n in shape):
        raise ExplainError(f"--unroll: {label} has shape {shape}; unrolling is limited to {MAX_DIM}×{MAX_DIM} "
                           f"(at most {MAX_NDIM} axes of at most {MAX_DIM} entries)")


def _entry_name(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{','.join(map(str, index))}]" if index else name


def _chain_sum(values: list[Value]) -> Value:
    total = values[0]
    for v in values[1:]:
        total = total + v
    return total


def _unary(name: str, attrs: dict) -> Any:
    def apply(v: Any) -> Any:
        if not isinstance(v, Value):
            v = Value(float(v), requires_grad=False, role="const")
        if name == "powc":
            return v ** attrs["p"]
        if name == "neg":
            return -v
        if name == "leaky_relu":
            return v.leaky_relu(attrs["alpha"])
        return getattr(v, name)()
    return np.frompyfunc(apply, 1, 1)


_BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
           "div": lambda a, b: a / b, "pow": lambda a, b: a ** b}


def _reduce(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    axes = tuple(range(x.ndim)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    axes = tuple(a % x.ndim for a in axes)
    moved = np.moveaxis(x, axes, tuple(range(x.ndim - len(axes), x.ndim)))
    flat = moved.reshape(*moved.shape[: x.ndim - len(axes)], -1)
    out = np.empty(flat.shape[:-1], dtype=object)
    for idx in np.ndindex(out.shape):
        out[idx] = _chain_sum(list(flat[idx]))
    if keepdims:
        out = np.expand_dims(out, axes)
    return out


def _softmax_rows(x: np.ndarray, axis: int, log: bool) -> np.ndarray:
    moved = np.moveaxis(x, axis, -1)
    out = np.empty(moved.shape, dtype=object)
    for idx in np.ndindex(moved.shape[:-1]):
        row = moved[idx]
        exps = [v.exp() for v in row]
        total = _chain_sum(exps)
        out[idx] = np.array([v - total.log() for v in row] if log else [e / total for e in exps], dtype=object)
    return np.moveaxis(out, -1, axis)


def _unrolled_op(node: Node, xs: list[np.ndarray]) -> np.ndarray:
    if node.op is None:
        raise ExplainError(f"--unroll: {node.label()} is an input, not an op")
    op, attrs = node.op.name, dict(node.attrs or {})
    if op in _BINARY:
        a, b = np.broadcast_arrays(*xs)  # broadcasting: the same Value reused, its adjoint sums the copies
        return np.frompyfunc(_BINARY[op], 2, 1)(a, b)
    if node.op.elementwise:
        return _unary(op, attrs)(xs[0])
    if op == "matmul":
        a, b = xs
        a2, b2 = (a[None, :] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)
        out = np.empty((a2.shape[0], b2.shape[1]), dtype=object)
        for i in range(a2.shape[0]):
            for j in range(b2.shape[1]):
                out[i, j] = _chain_sum([a2[i, k] * b2[k, j] for k in range(a2.shape[1])])
        if a.ndim == 1:
            out = out[0]
        if b.ndim == 1:
            out = out[..., 0]
        return out
    if op == "sum":
        return _reduce(xs[0], attrs["axis"], attrs["keepdims"])
    if op == "mean":
        total = _reduce(xs[0], attrs["axis"], attrs["keepdims"])
        count = xs[0].size // max(total.size, 1)
        return np.frompyfunc(lambda v: v / count, 1, 1)(total)
    if op == "transpose":
        return xs[0].transpose(attrs["axes"])
    if op == "reshape":
        return xs[0].reshape(attrs["shape"])
    if op == "getitem":
        return np.asarray(xs[0][attrs["index"]], dtype=object)
    if op in ("softmax", "log_softmax"):
        return _softmax_rows(xs[0], attrs["axis"], log=op == "log_softmax")
    if op == "cross_entropy":
        return _cross_entropy(xs[0], attrs)
    if op == "mse_loss":
        diff = np.frompyfunc(lambda a, b: a - b, 2, 1)(*np.broadcast_arrays(*xs))
        sq = np.frompyfunc(lambda d: d ** 2, 1, 1)(diff)
        if attrs["reduction"] == "none":
            return sq
        sq_total = _chain_sum(list(sq.reshape(-1)))
        return np.asarray(sq_total / sq.size if attrs["reduction"] == "mean" else sq_total, dtype=object)
    raise ExplainError(f"--unroll: the op {op} has no scalar form (the scalar engine has no {op} op)")


def _cross_entropy(logits: np.ndarray, attrs: dict) -> np.ndarray:
    target, smoothing, reduction = np.asarray(attrs["target"]), attrs["label_smoothing"], attrs["reduction"]
    logp = _softmax_rows(logits, 1, log=True)
    n, c = logp.shape
    if target.ndim == 1:
        dense = np.zeros((n, c))
        dense[np.arange(n), target.astype(int)] = 1.0
    else:
        dense = target.astype(np.float64)
    if smoothing:
        dense = (1.0 - smoothing) * dense + smoothing / c
    losses = []
    for i in range(n):
        terms = [logp[i, j] * float(dense[i, j]) for j in range(c) if dense[i, j] != 0.0]
        losses.append(-_chain_sum(terms))
    if reduction == "none":
        return np.asarray(losses, dtype=object)
    total = _chain_sum(losses)
    return np.asarray(total / n if reduction == "mean" else total, dtype=object)


def unroll(root: Node) -> tuple[Value, dict[str, np.ndarray], dict[int, np.ndarray]]:
    """Rebuild ``root``'s tensor graph with one ``Value`` per entry; returns (scalar output, entries of each named
    input as object arrays of ``Value``, entries of every node by ``id``). Refuses shapes above 4×4."""
    order = topological_order(root)
    entries: dict[int, np.ndarray] = {}
    inputs: dict[str, np.ndarray] = {}
    count = 0
    for node in order:
        label = node.label()
        _refuse_shape(node, label)
        if node.op is None:
            data = np.asarray(node.data, dtype=np.float64)
            const = node.role == "const" or (node.name is None and not node.requires_grad)
            arr = np.empty(data.shape, dtype=object)
            for idx in np.ndindex(data.shape):
                arr[idx] = Value(float(data[idx]), name=None if const else _entry_name(label, idx),
                                 requires_grad=node.requires_grad, role="const" if const else node.role)
            entries[id(node)] = arr
            if not const:
                inputs[label] = arr
            continue
        arr = np.asarray(_unrolled_op(node, [entries[id(p)] for p in node.parents]), dtype=object)
        if node.name is not None:
            for idx in np.ndindex(arr.shape):
                value = arr[idx]
                if isinstance(value, Value) and value.op is not None and value.name is None:
                    value.name = _entry_name(node.name, idx)
        entries[id(node)] = arr
        count += arr.size
    out = entries[id(root)].reshape(-1)
    if out.size != 1:
        raise ExplainError(f"--unroll: the output has shape {np.shape(root.data)}; a scalar output is needed")
    scalar = out[0]
    if root.name is not None:
        scalar.name = root.name
    return scalar, inputs, entries


# --- the side-by-side rule --------------------------------------------------------------------------------------
def _at(tex: str, index: str) -> str:
    """``tex`` subscripted by ``index``, grouped when it already has a subscript (``{\\bar{v}_{1}}_{ik}``)."""
    return f"{{{tex}}}_{{{index}}}" if "_" in tex else f"{tex}_{{{index}}}"


def _index_rule(d: Derivation, name: str) -> str | None:
    """The entry-level form of the tensor rule for input ``name`` (matmul, broadcast sums, elementwise)."""
    row = next((r for r in d.backward if r.name == name), None)
    if row is None:
        return None
    parts = []
    for t in row.terms:
        up = tex_bar(t.consumer)
        consumer_row = next((r for r in d.forward if r.name == t.consumer), None)
        if t.vjp and t.local.startswith("ḡ @"):
            other = consumer_row.latex.split(" ")[-1] if consumer_row else "B"
            parts.append(f"\\sum_{{k}} {_at(up, 'ik')} {_at(other, 'jk')}")
        elif t.vjp and t.local.endswith("@ ḡ"):
            other = consumer_row.latex.split(" ")[0] if consumer_row else "A"
            parts.append(f"\\sum_{{k}} {_at(other, 'ki')} {_at(up, 'kj')}")
        elif not t.vjp:
            index = "kj" if t.reduced else "ij"
            body = _at(up, index) if t.local_latex == "1" else \
                f"{_at(up, index)} \\cdot \\left({t.local_latex}\\right)_{{{index}}}"
            parts.append(f"\\sum_{{k}} {body}" if t.reduced else body)
        else:
            return None
    lhs = _at(tex_bar(name), "j" if np.ndim(d.point.get(name, 0.0)) == 1 else "ij")
    return f"{lhs} = " + " + ".join(parts)


def explain_unrolled(root: Node, wrt: list[str] | None, fmt: str, expression: str | None = None,
                     draw_path: str | None = None) -> Any:
    """Explain the tensor graph and its unrolled scalar graph side by side (see the module docstring)."""
    from autograd_viz.explain import render
    from autograd_viz.tensor import Tensor

    if not isinstance(root, Tensor):
        raise ExplainError("--unroll applies to Tensor graphs (a Value graph is already scalar)")
    tensor = derive(root, wrt, expression)
    scalar, inputs, _ = unroll(root)
    wanted = list(tensor.gradients)
    reached = {n.name for n in topological_order(scalar) if n.op is None}
    entry_names = [v.name for w in wanted for v in inputs[w].reshape(-1) if v.name in reached]
    scalar_d = derive(scalar, entry_names, expression, symbolic=False)
    comparison: dict[str, list[dict[str, Any]]] = {}
    for w in wanted:
        grad = np.asarray(tensor.gradients[w].value, dtype=np.float64)
        rows = []
        for idx in np.ndindex(grad.shape):
            entry = _entry_name(w, idx)
            # an entry the output never uses (X[1:] drops row 0) is not in the scalar graph: its gradient is 0
            got = scalar_d.gradients[entry].value if entry in scalar_d.gradients else 0.0
            if not math.isclose(got, float(grad[idx]), rel_tol=1e-9, abs_tol=1e-12):
                raise ExplainError(f"--unroll: {entry}: the unrolled scalar graph gives {got:.10g}, the tensor "
                                   f"rule {float(grad[idx]):.10g}")
            rows.append({"entry": entry, "index": list(idx), "tensor": float(grad[idx]), "scalar": got})
        comparison[w] = rows
    if draw_path is not None:
        from autograd_viz.viz import draw

        draw.save(draw(scalar, kind="both"), draw_path)  # type: ignore[attr-defined]  # save is set on draw
    nodes = len(topological_order(scalar))
    if fmt == "json":
        out = render.to_json(tensor)
        out["unrolled"] = {"nodes": nodes, "entries": comparison,
                           "rules": {w: {"tensor": tensor.gradients[w].latex, "entry": _index_rule(tensor, w)}
                                     for w in wanted},
                           "scalar": render.to_json(scalar_d)}
        return out
    if fmt == "tex":
        lines = [render.latex(tensor), "% unrolled: one Value per entry; tensor rule vs entries", "\\begin{align*}"]
        rules = []
        for w in wanted:
            rules.append(f"{tex_bar(w)} &= {tensor.gradients[w].latex}")
            rule = _index_rule(tensor, w)
            if rule:
                rules.append(rule.replace(" = ", " &= ", 1))
            rules += [f"{tex_bar(w)}_{{{','.join(map(str, r['index']))}}} &= {r['scalar']:.6g}" for r in comparison[w]]
        lines += [" \\\\\n".join("  " + r for r in rules), "\\end{align*}"]
        return "\n".join(lines) + "\n"
    md = [render.markdown(tensor), "### 4. Unrolled: one `Value` per entry", "",
          f"The same computation rebuilt with {nodes} scalar nodes (matmul as sums of products, broadcasting as "
          "reuse, reductions as additions); every entry below matches the tensor rule (float64).", ""]
    for w in wanted:
        md.append(f"**${tex_bar(w)}$**: the tensor rule and its entries")
        md.append("")
        md += [f"$${tex_bar(w)} = {tensor.gradients[w].latex}$$", ""]
        rule = _index_rule(tensor, w)
        if rule:
            md += [f"$${rule}$$", ""]
        md += ["| entry | tensor rule | unrolled scalar graph |", "|---|---:|---:|"]
        for r in comparison[w]:
            md.append(f"| ${tex_bar(w)}_{{{','.join(map(str, r['index']))}}}$ | {r['tensor']:.6g} | "
                      f"{r['scalar']:.6g} |")
        md.append("")
        row = next((r for r in scalar_d.backward if r.name in {x["entry"] for x in comparison[w]}), None)
        if row is not None:
            lines = render._adjoint_lines(row)
            md += ["For example, in the scalar graph:", "", f"$${lines[0]}$$", "", f"$${lines[1]}$$", ""]
    return "\n".join(md).rstrip() + "\n"


# --- tensor programs from the command line ---------------------------------------------------------------------
def build_tensor_program(text: str, shapes: dict[str, tuple[int, ...]], at: dict[str, float], seed: int,
                         targets: list[int] | None = None) -> tuple[Node, dict[str, Node]]:
    """A named-step program over tensors: ``--shapes`` inputs get seeded standard-normal values (float64),
    ``--at`` names are scalars; ``cross_entropy(Z)`` uses ``targets`` (default ``i mod C``)."""
    from autograd_viz.steps import _ASSIGN, _split
    from autograd_viz.tensor import Tensor

    rng = np.random.default_rng(seed)
    env: dict[str, Any] = {}
    for name, shape in shapes.items():
        if len(shape) > MAX_NDIM or any(n > MAX_DIM for n in shape):
            raise ExplainError(f"--unroll: {name} has shape {shape}; unrolling is limited to {MAX_DIM}×{MAX_DIM}")
        env[name] = Tensor(rng.standard_normal(shape), requires_grad=True, name=name, dtype=np.float64)
    for name, value in at.items():
        env[name] = Tensor(np.float64(value), requires_grad=True, name=name, dtype=np.float64)
    out: Any = None
    from autograd_viz.expr import parse

    parts = _split(text)
    used: set[str] = set()
    for k, part in enumerate(parts, start=1):
        m = _ASSIGN.match(part)
        step_name: str | None = m.group(1) if m else None
        rhs = m.group(2) if m else part
        if step_name is None and k != len(parts):
            raise ExpressionError(f"step {k}: expected name = formula")
        where = f"step {k}" + (f" ({step_name})" if step_name else "")
        tree = parse(rhs, TENSOR_GRAMMAR, where)
        for n in names_in(tree):
            if n not in env:
                raise ExpressionError(f"{where}: no value for {n!r}: give it in --shapes (a tensor) or --at")
            used.add(n)
        out = _evaluate(tree, env, where, targets)
        if step_name is not None:
            if not isinstance(out, Tensor) or out.op is None:
                raise ExpressionError(f"{where}: {rhs.strip()!r} is not a computation")
            out.name = step_name
            env[step_name] = out
    unused = sorted(set(shapes) | set(at)) if out is None else sorted((set(shapes) | set(at)) - used)
    if unused:
        raise ExpressionError(f"--shapes/--at give {', '.join(map(repr, unused))}, which the expression does not use")
    if not isinstance(out, Tensor):
        raise ExpressionError("the expression does not depend on any tensor")
    if out.data.size != 1:
        raise ExplainError(f"the output has shape {out.data.shape}; end with sum(...) or a loss")
    return out, {n: env[n] for n in shapes}


def _evaluate(tree: ast.expr, env: dict[str, Any], where: str, targets: list[int] | None) -> Any:
    import autograd_viz.functional as F

    def call(fn: str, args: list[Any], node: ast.Call) -> Any:
        if len(args) != 1:
            raise ExpressionError(f"{where}: {fn}() takes one argument (column {node.col_offset + 1})")
        x = args[0]
        if fn == "cross_entropy":
            n = x.data.shape[0] if x.data.ndim == 2 else 1
            classes = x.data.shape[-1]
            t = np.asarray(targets if targets is not None else [i % classes for i in range(n)])
            if t.shape != (n,) or t.min() < 0 or t.max() >= classes:
                raise ExpressionError(f"{where}: --targets must be {n} class indices in 0..{classes - 1}")
            return F.cross_entropy(x, t)
        if fn == "mse_loss":
            return F.mse_loss(x, np.zeros_like(x.data)) if hasattr(F, "mse_loss") else (x * x).mean()
        return getattr(x, fn)()

    def attribute(value: Any, attr: str) -> Any:
        return value.T

    try:
        return Evaluator(name=lambda n, _node: env[n], call=call, number=float, attribute=attribute)(tree)
    except (ZeroDivisionError, OverflowError) as exc:
        raise ExpressionError(f"{where}: arithmetic on its constants fails: {exc}") from None


__all__ = ["MAX_DIM", "build_tensor_program", "explain_unrolled", "unroll"]
