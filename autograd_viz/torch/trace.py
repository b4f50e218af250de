r"""Rebuild a PyTorch autograd graph as an autograd_viz graph, op for op, and check it against PyTorch.

The walk starts at ``tensor.grad_fn`` and follows ``next_functions``; leaves are ``AccumulateGrad``
(``.variable``). Each PyTorch backward function with a counterpart in :data:`autograd_viz.ops.OPS` is recreated
with that op through the public ``Tensor``/``Value`` API (``AddmmBackward0`` as ``matmul`` + ``add``,
``NllLossBackward0`` over ``LogSoftmaxBackward0`` as the fused ``cross_entropy``), on inputs taken from the leaves
and from the tensors PyTorch saved for backward (``_saved_self``, ``_saved_other``, ...). Every other function
becomes an *opaque* node: drawn by its PyTorch name as ``unknown NameBackward0``, with no derivative text; its
vector-Jacobian product is PyTorch's own function, so gradients below it stay right.

Then PyTorch's backward runs function by function (each ``grad_fn`` called directly: no ``.grad`` is filled, no
hook runs, nothing is freed) and each mapped function is checked locally: our output value against the one
PyTorch saved, and our VJP of PyTorch's upstream gradient against PyTorch's. A function that disagrees is rebuilt
as opaque (never drawn with a derivative that is not PyTorch's), and the disagreement is listed in
:meth:`TorchGraph.report`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograd_viz.torch.errors import TorchBridgeError, require_torch

torch: Any = require_torch("autograd_viz.torch.trace_torch")

import autograd_viz.functional as F  # noqa: E402
from autograd_viz.errors import AutogradVizError, GraphError  # noqa: E402
from autograd_viz.graph import Node, input_gradients  # noqa: E402
from autograd_viz.ops import OpDef  # noqa: E402
from autograd_viz.scalar import Value  # noqa: E402
from autograd_viz.tensor import Tensor  # noqa: E402

_U64 = 2**64

__all__ = ["MAPPERS", "TorchBridgeError", "TorchFunction", "TorchGraph", "ValueRecord", "opaque_op", "record_values",
           "trace_torch"]


# --- opaque nodes: PyTorch functions with no op-table counterpart ------------------------------------------

_OPAQUE: dict[tuple[str, int], OpDef] = {}


def _opaque_forward(m: Any, *xs: Any, **attrs: Any) -> Any:
    raise GraphError("an unknown PyTorch function cannot be recomputed by autograd_viz (its value is PyTorch's)")


def _opaque_backward(m: Any, g: Any, x: tuple, out: Any, attrs: Any, saved: Any, needs: tuple) -> tuple:
    """PyTorch's own VJP: the gradients it computed for this upstream gradient, else its function called anew."""
    state = saved
    upstream = state["grad_out"]
    if upstream is not None and np.shape(g) == np.shape(upstream) and _close(g, upstream):
        grads = state["grad_in"]  # the upstream gradient PyTorch saw (to rounding): its own answer
    else:
        try:
            upstreams = [torch.from_numpy(np.array(g, dtype=state["dtype"])) if k == state["output"]
                         else torch.from_numpy(np.zeros(shape, dtype=dtype))
                         for k, (shape, dtype) in enumerate(state["metas"])]
            out = state["fn"](*upstreams)
            if isinstance(out, torch.Tensor):  # a function of one input returns its gradient bare
                out = (out,)
        except RuntimeError as exc:
            raise GraphError(f"{state['name']}: PyTorch could not run its backward again ({exc}); "
                             "keep the graph alive with backward(retain_graph=True)") from None
        grads = [None if t is None else t.detach().cpu().numpy() for t in out]
    picked = [grads[k] for k in state["slots"]]
    if isinstance(out, float):  # a Value graph: gradients are Python floats
        return tuple(None if p is None else float(np.asarray(p).reshape(-1)[0]) for p in picked)
    return tuple(picked)


def opaque_op(name: str, arity: int) -> OpDef:
    """The drawing-only op for the PyTorch function ``name``: labelled by name, no derivative, PyTorch's VJP."""
    key = (name, arity)
    if key not in _OPAQUE:
        slots = ", ".join(f"{{x{k}}}" for k in range(arity))
        _OPAQUE[key] = OpDef(
            name=f"torch:{name}", symbol=f"unknown {name}", arity=arity, elementwise=False,
            forward=_opaque_forward, backward=_opaque_backward, sympy=None,
            derivatives=tuple(f"{name}(ḡ)" + (f"[{k}]" if arity > 1 else "") for k in range(arity)),
            display=f"unknown {name}({slots})", latex=f"\\text{{{{{name}}}}}({slots})",
        )
    return _OPAQUE[key]


# --- records ---------------------------------------------------------------------------------------------

@dataclass
class TorchFunction:
    """One PyTorch backward function and what it became here."""

    name: str
    #: our op names it was rebuilt with (``("matmul", "add")``), or ``()`` when drawn as an unknown function
    ops: tuple[str, ...]
    node: Node | None
    #: why it is opaque (``"no counterpart"``, or the disagreement that made us refuse our op), else ``None``
    note: str | None = None
    value_diff: float | None = None
    grad_diff: float | None = None


@dataclass
class TorchGraph:
    """The rebuilt graph: ``root`` is our node (draw it with :func:`autograd_viz.draw`), one record per function."""

    root: Node
    functions: list[TorchFunction] = field(default_factory=list)
    #: our node per name given in ``params`` (leaves, constants and named intermediates)
    named: dict[str, Node] = field(default_factory=dict)
    #: PyTorch's gradient of the root w.r.t. each named tensor that requires grad (``None``: not reached)
    torch_grads: dict[str, Any] = field(default_factory=dict)

    @property
    def mapped(self) -> list[TorchFunction]:
        return [f for f in self.functions if f.ops]

    @property
    def unknown(self) -> list[TorchFunction]:
        return [f for f in self.functions if not f.ops and f.name != "AccumulateGrad"]

    def report(self) -> str:
        """One line per PyTorch function: what it became and the largest value/gradient difference seen."""
        lines = []
        for f in self.functions:
            what = " + ".join(f.ops) if f.ops else ("leaf" if f.name == "AccumulateGrad" else "unknown")
            diffs = [f"{k} diff {v:.2g}" for k, v in (("value", f.value_diff), ("grad", f.grad_diff)) if v is not None]
            note = f" ({f.note})" if f.note else ""
            lines.append(f"{f.name:<24} -> {what}{note}" + (f"  [{', '.join(diffs)}]" if diffs else ""))
        return "\n".join(lines)


# --- forward values PyTorch does not keep ----------------------------------------------------------------

class ValueRecord(dict):
    """Forward outputs seen while :func:`record_values` was active, by the ``grad_fn`` that produced them."""


@contextmanager
def record_values() -> Iterator[ValueRecord]:
    """Record the output of every PyTorch function called in the block (a ``TorchFunctionMode``), so values
    PyTorch does not save for backward (a BatchNorm's output before a ReLU) are drawn too::

        with record_values() as values:
            loss = F.cross_entropy(model(x), y)
        draw_torch(loss, params=model, values=values)
    """
    from torch.overrides import TorchFunctionMode

    record = ValueRecord()

    def keep(out: Any) -> None:
        if isinstance(out, torch.Tensor):
            key = _key(out.grad_fn, out.output_nr) if out.grad_fn is not None else None
            if key is not None and key not in record:
                record[key] = _numpy(out)
        elif isinstance(out, tuple | list):
            for item in out:
                keep(item)

    class _Recorder(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            out = func(*args, **(kwargs or {}))
            keep(out)
            return out

    with _Recorder():
        yield record


# --- the walk ---------------------------------------------------------------------------------------------

#: Saved tensors that are the function's inputs: attribute -> input position (next_functions index).
SAVED_INPUTS: dict[str, dict[str, int]] = {
    "MulBackward0": {"_saved_self": 0, "_saved_other": 1},
    "DivBackward0": {"_saved_self": 0, "_saved_other": 1},
    "PowBackward0": {"_saved_self": 0},
    "PowBackward1": {"_saved_self": 0, "_saved_exponent": 1},
    "PowBackward2": {"_saved_exponent": 0},
    "LogBackward0": {"_saved_self": 0},
    "AbsBackward0": {"_saved_self": 0},
    "LeakyReluBackward0": {"_saved_self": 0},
    "MmBackward0": {"_saved_self": 0, "_saved_mat2": 1},
    "MvBackward0": {"_saved_self": 0, "_saved_vec": 1},
    "DotBackward0": {"_saved_self": 0, "_saved_tensor": 1},
    "BmmBackward0": {"_saved_self": 0, "_saved_mat2": 1},
    "AddmmBackward0": {"_saved_mat1": 1, "_saved_mat2": 2},
    "AmaxBackward0": {"_saved_self": 0},
    "MaxBackward1": {"_saved_self": 0},
    "MseLossBackward0": {"_saved_self": 0, "_saved_target": 1},
    "NllLossBackward0": {"_saved_self": 0},
    "GeluBackward0": {"_saved_self": 0},
    "StdBackward0": {"_saved_self": 0},
    "SinBackward0": {"_saved_self": 0},
    "CosBackward0": {"_saved_self": 0},
    "ErfBackward0": {"_saved_self": 0},
    "SoftplusBackward0": {"_saved_self": 0},
}

_LEAF = "AccumulateGrad"


def _key(fn: Any, nr: int) -> Any:
    """The key of output ``nr`` of ``fn``: the function itself for output 0, ``(fn, nr)`` for the others."""
    return fn if nr == 0 else (fn, nr)


def _fn_name(fn: Any) -> str:
    name = type(fn).__name__
    return _LEAF if name.endswith("AccumulateGrad") else name


def _saved(fn: Any, attr: str) -> Any:
    try:
        return getattr(fn, attr)
    except RuntimeError as exc:
        raise TorchBridgeError(f"draw_torch: PyTorch already freed the saved tensors of {_fn_name(fn)} "
                               f"(backward() ran): build the graph again, call draw_torch before backward(), or "
                               f"use backward(retain_graph=True) ({str(exc).splitlines()[0][:80]})") from None
    except AttributeError:
        return None


def _numpy(t: Any) -> np.ndarray:
    return t.detach().cpu().resolve_conj().resolve_neg().numpy().copy()


def _dim(d: int, ndim: int) -> int:
    d = int(d)
    if d >= 2**63:
        d -= _U64
    return d % max(ndim, 1)


def _functions(root_fn: Any) -> list[Any]:
    """Every function reachable from ``root_fn``, inputs before their consumers (post-order, inputs in order)."""
    order: list[Any] = []
    done: set[Any] = set()
    stack: list[tuple[Any, int]] = [(root_fn, 0)]
    on_stack = {root_fn}
    while stack:
        fn, i = stack.pop()
        nexts = fn.next_functions
        while i < len(nexts) and (nexts[i][0] is None or nexts[i][0] in done or nexts[i][0] in on_stack):
            i += 1
        if i < len(nexts):
            stack.append((fn, i + 1))
            child = nexts[i][0]
            on_stack.add(child)
            stack.append((child, 0))
            continue
        on_stack.discard(fn)
        if fn not in done:
            done.add(fn)
            order.append(fn)
    return order


class _Unmappable(Exception):
    """This function cannot be rebuilt with our ops here (it becomes an opaque node)."""


class _Builder:
    """Builds our nodes for one PyTorch graph (one pass; ``opaque`` lists functions to draw as unknown)."""

    def __init__(self, params: Mapping[str, Any], scalar: bool, opaque: dict[Any, str],
                 observed: dict[Any, Any], grads: dict[Any, tuple], outputs: dict[Any, set[int]]) -> None:
        self.scalar, self.opaque, self.observed, self.grads = scalar, opaque, observed, grads
        self.outputs = outputs  # functions with a used output other than 0 -> the outputs used
        self.names = {id(t): name for name, t in params.items()}
        self.by_fn = {t.grad_fn: name for name, t in params.items() if t.grad_fn is not None}
        self.param_list = list(params.items())
        self.nodes: dict[Any, Node] = {}
        self.created: dict[Any, list[Node]] = {}
        self.consts: dict[tuple, Node] = {}
        self.named: dict[str, Node] = {}
        self.records: dict[Any, TorchFunction] = {}
        self.fused: dict[Any, Any] = {}  # NllLossBackward0 -> the LogSoftmaxBackward0 it absorbs
        self.unrecorded: set[int] = set()  # ids of nodes whose value PyTorch did not keep (NaN placeholders)
        self.tainted: set[Any] = set()  # functions with such an input: their value is PyTorch's, not recomputed

    # --- leaves and constants ----------------------------------------------------------------------
    def _name_of(self, t: Any) -> str | None:
        if id(t) in self.names:
            return self.names[id(t)]
        for name, p in self.param_list:
            if (p.grad_fn is None and p.data_ptr() == t.data_ptr() and tuple(p.shape) == tuple(t.shape)
                    and p.stride() == t.stride() and p.dtype == t.dtype):
                return name
        return None

    def _make(self, data: np.ndarray, requires_grad: bool, name: str | None, role: str | None) -> Node:
        if self.scalar:
            node: Node = Value(float(data.reshape(-1)[0]), name=name, requires_grad=requires_grad, role=role)
        else:
            node = Tensor(data, requires_grad=requires_grad, name=name, role=role)
        if name is not None:
            self.named[name] = node
        return node

    def leaf(self, fn: Any) -> Node:
        var = fn.variable
        name = self._name_of(var)
        return self._make(_numpy(var), True, name, "param" if name is not None else None)

    def const(self, t: Any) -> Any:
        """A saved input that needs no gradient: a named node, a node per tensor, or a plain number."""
        if not isinstance(t, torch.Tensor):
            return float(t)
        name = self._name_of(t)
        if name is None and t.dim() == 0:
            return float(t.item())
        if name is not None and name in self.named:  # the same named tensor saved by another function
            return self.named[name]
        key = (t.data_ptr(), tuple(t.shape), t.stride(), str(t.dtype))
        if key not in self.consts:
            self.consts[key] = self._make(_numpy(t), False, name, "input")
        return self.consts[key]

    def reconstructed(self, value: np.ndarray, check: Callable[[Any], Any], out: np.ndarray) -> Any:
        """A constant PyTorch did not save, solved from the output; a round number when that reproduces it."""
        flat = value.reshape(-1)
        candidates: list[Any] = []
        if flat.size and np.allclose(flat, flat[0], rtol=1e-6, atol=1e-12):
            first = float(flat[0])
            candidates += [float(f"{first:.6g}"), first]
        candidates.append(value)
        for c in candidates:
            if np.array_equal(np.asarray(check(c)), out):
                break
        else:
            c = candidates[-1]
        for name, p in self.param_list:
            if (p.grad_fn is None and not p.requires_grad and tuple(p.shape) == np.shape(c)
                    and np.allclose(_numpy(p), c, rtol=1e-6, atol=1e-12)):
                if name not in self.named:
                    self.named[name] = self._make(_numpy(p), False, name, "input")
                return self.named[name]
        if isinstance(c, np.ndarray):
            return self._make(c, False, None, "const")
        return c

    # --- operands --------------------------------------------------------------------------------------
    def operand(self, fn: Any, i: int, attr: str | None = None) -> Any:
        nxt, nr = fn.next_functions[i]
        if nxt is not None:
            return self.nodes[_key(nxt, nr)]
        if attr is None:
            raise _Unmappable(f"input {i} is not saved")
        t = _saved(fn, attr)
        if t is None:
            raise _Unmappable(f"{attr} is not saved")
        return self.const(t)

    def out_value(self, fn: Any) -> np.ndarray:
        if fn not in self.observed:
            raise _Unmappable("PyTorch saved neither its constant input nor its output (record the forward pass "
                              "with record_values() to map it)")
        return self.observed[fn]

    # --- one function -------------------------------------------------------------------------------
    def build(self, fn: Any) -> None:
        name = _fn_name(fn)
        before = _creation_mark()
        node: Any = None
        if name == _LEAF:
            node = self.leaf(fn)
            self.records[fn] = TorchFunction(name=name, ops=(), node=node)
        elif fn in self.fused.values() and fn not in self.opaque:
            self.records[fn] = TorchFunction(name=name, ops=("cross_entropy",), node=None,
                                             note="fused with the NllLossBackward0 after it")
            return
        else:
            ops: tuple[str, ...] = ()
            note: str | None = None
            mapper = MAPPERS.get(name)
            if fn in self.opaque:
                note = self.opaque[fn]
            elif mapper is None:
                note = "no counterpart in the op table"
            else:
                try:
                    node, ops = mapper(self, fn)
                    if self.scalar and not isinstance(node, Value):
                        raise _Unmappable("not a scalar op")
                except _Unmappable as exc:
                    node, note = None, str(exc)
                except (AutogradVizError, ValueError, TypeError, IndexError) as exc:
                    node, note = None, f"our op refused it: {exc}"
            if node is None:
                for nr in sorted(self.outputs.get(fn, ())):
                    if nr:
                        self.nodes[(fn, nr)] = self.opaque_node(fn, name, nr)
                node, ops = self.opaque_node(fn, name), ()
            elif any(id(self.nodes[_key(n, nr)]) in self.unrecorded
                     for n, nr in self.fused.get(fn, fn).next_functions if n is not None):
                self.tainted.add(fn)
                if fn in self.observed:
                    value = self.observed[fn]
                    node.data = float(value.reshape(-1)[0]) if isinstance(node, Value) else value.astype(
                        node.data.dtype, copy=False)
                    note = "value from PyTorch: an input's value was not recorded"
                else:
                    self.unrecorded.add(id(node))
                    note = "value unknown: an input's value was not recorded"
            if fn in self.by_fn:
                node.name = self.by_fn[fn]
                self.named[node.name] = node
            self.records[fn] = TorchFunction(name=name, ops=ops, node=node, note=note)
        self.nodes[fn] = node
        self.created[fn] = _created_since(before, node)

    def opaque_node(self, fn: Any, name: str, nr: int = 0) -> Node:
        """Output ``nr`` of ``fn`` as a drawing-only node whose VJP is PyTorch's."""
        slots = [k for k, (nxt, _) in enumerate(fn.next_functions) if nxt is not None]
        parents = tuple(self.nodes[_key(*fn.next_functions[k])] for k in slots)
        unrecorded = _key(fn, nr) not in self.observed
        metas = [(tuple(m.shape), torch.empty(0, dtype=m.dtype).numpy().dtype)
                 for m in getattr(fn, "_input_metadata", ())] or [((), np.dtype(np.float64))]
        shape, dtype = metas[min(nr, len(metas) - 1)]
        value = np.full(shape, np.nan, dtype=dtype) if unrecorded else self.observed[_key(fn, nr)]
        grad = self.grads.get(fn) if len(metas) == 1 else None  # cached answers only when there is one output
        state = {"fn": fn, "name": name, "slots": slots, "dtype": dtype, "output": nr, "metas": metas,
                 "grad_out": None if grad is None else grad[1],
                 "grad_in": None if grad is None else grad[0]}
        node = self._make(np.asarray(value), True, None, None)
        node.op = opaque_op(name if len(metas) == 1 else f"{name}[{nr}]", len(parents))
        node.parents = parents
        node.attrs = None
        node.saved = state
        node.requires_grad = True
        if unrecorded:
            self.unrecorded.add(id(node))
        return node


def _creation_mark() -> int:
    probe = Value(0.0, requires_grad=False)
    return probe.index


def _created_since(mark: int, out: Node) -> list[Node]:
    """``out`` and the nodes made for it since ``mark`` (reachable from ``out`` without passing older nodes)."""
    found, stack, seen = [], [out], {id(out)}
    while stack:
        node = stack.pop()
        if node.index <= mark:
            continue
        found.append(node)
        for p in node.parents:
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return found


# --- mappers: PyTorch function -> our ops ------------------------------------------------------------------

Mapper = Callable[[_Builder, Any], tuple[Node, tuple[str, ...]]]


def _alpha_one(fn: Any) -> None:
    alpha = _saved(fn, "_saved_alpha")
    if alpha is not None and float(alpha) != 1.0:
        raise _Unmappable(f"alpha={alpha} (only alpha=1 has a counterpart)")


def _add_sub(sign: int) -> Mapper:
    def mapper(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
        _alpha_one(fn)
        nexts = fn.next_functions
        x: list[Any] = [b.nodes[_key(n, nr)] if n is not None else None for n, nr in nexts]
        if x[0] is None or x[1] is None:
            k = 0 if x[0] is None else 1
            other = x[1 - k]
            out = b.out_value(fn)
            if sign > 0:
                solved = out - other.data
                x[k] = b.reconstructed(np.asarray(solved), lambda c: (other.data + c) if k else (c + other.data), out)
            elif k == 1:
                x[k] = b.reconstructed(np.asarray(other.data - out), lambda c: other.data - c, out)
            else:
                x[k] = b.reconstructed(np.asarray(out + other.data), lambda c: c - other.data, out)
        node = x[0] + x[1] if sign > 0 else x[0] - x[1]
        return node, ("add" if sign > 0 else "sub",)
    return mapper


def _rsub(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    """``c - x`` for a number ``c`` (``RsubBackward1``): ``c`` is solved from the output."""
    _alpha_one(fn)
    x = b.operand(fn, 0)
    out = b.out_value(fn)
    c = b.reconstructed(np.asarray(out + x.data), lambda c: c - x.data, out)
    return c - x, ("sub",)


def _binary(op: str, combine: Callable[[Any, Any], Node]) -> Mapper:
    def mapper(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
        attrs = SAVED_INPUTS.get(type(fn).__name__, {})
        inv = {v: k for k, v in attrs.items()}
        return combine(b.operand(fn, 0, inv.get(0)), b.operand(fn, 1, inv.get(1))), (op,)
    return mapper


def _mul1(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    return b.operand(fn, 0) * float(_saved(fn, "_saved_other")), ("mul",)


def _div1(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    return b.operand(fn, 0) / float(_saved(fn, "_saved_other")), ("div",)


def _unary(method: str, op: str | None = None) -> Mapper:
    def mapper(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
        return getattr(b.operand(fn, 0), method)(), (op or method,)
    return mapper


def _add_number(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    """``x + c`` for a number ``c`` (``AddBackward1``: inside composites, ``special.ndtr`` is
    ``0.5·(1 + erf(x/√2))``): ``c`` is solved from the output, known when the composite's result is (its ``·0.5``
    undone exactly by :func:`_observed_values`) or recorded."""
    _alpha_one(fn)
    x = b.operand(fn, 0)
    out = b.out_value(fn)
    c = b.reconstructed(np.asarray(out - x.data), lambda c: x.data + c, out)
    return x + c, ("add",)


def _softplus(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    """``softplus(x, beta, threshold)``: ``softplus`` for beta = 1, ``softplus(beta·x)/beta`` otherwise; refused
    where some ``beta·x`` passes the threshold (PyTorch returns ``x`` itself there, ours the exact value)."""
    x = b.operand(fn, 0, "_saved_self")
    beta, threshold = float(_saved(fn, "_saved_beta")), float(_saved(fn, "_saved_threshold"))
    if np.any(np.asarray(x.data) * beta > threshold):
        raise _Unmappable(f"an input above threshold={threshold:g}/beta, where PyTorch's softplus is the identity")
    if beta == 1.0:
        return x.softplus(), ("softplus",)
    return (x * beta).softplus() / beta, ("mul", "softplus", "div")


def _gelu(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    """Exact GELU ``x·Φ(x)`` (``approximate="none"``) as ``Phi`` then ``mul``."""
    approximate = _saved(fn, "_saved_approximate")
    if approximate not in (None, "none"):
        raise _Unmappable(f"approximate={approximate!r} (only the exact x·Φ(x) has a counterpart)")
    x = b.operand(fn, 0, "_saved_self")
    return x * x.Phi(), ("Phi", "mul")


def _pow0(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    p = _saved(fn, "_saved_exponent")
    if isinstance(p, torch.Tensor) or isinstance(p, complex):
        raise _Unmappable("tensor exponent")
    return b.operand(fn, 0) ** float(p), ("powc",)


def _pow1(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    return b.operand(fn, 0, "_saved_self") ** b.operand(fn, 1, "_saved_exponent"), ("pow",)


def _pow2(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    base = _saved(fn, "_saved_self")
    x: Any = b.operand(fn, 0)
    if not isinstance(x, Node):
        raise _Unmappable("no input")
    number: Any = float(base)
    return number ** x, ("pow",)


def _reciprocal(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    return 1.0 / b.operand(fn, 0), ("div",)


def _leaky(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    return b.operand(fn, 0).leaky_relu(float(_saved(fn, "_saved_negative_slope"))), ("leaky_relu",)


def _matmul(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    attrs = {v: k for k, v in SAVED_INPUTS[type(fn).__name__].items()}
    return b.operand(fn, 0, attrs[0]) @ b.operand(fn, 1, attrs[1]), ("matmul",)


def _addmm(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    """``beta·bias + alpha·(mat1 @ mat2)`` with alpha = beta = 1: ``matmul`` then ``add`` (nn.Linear)."""
    for attr in ("_saved_alpha", "_saved_beta"):
        v = _saved(fn, attr)
        if v is not None and float(v) != 1.0:
            raise _Unmappable(f"{attr[7:]}={v} (only 1 has a counterpart)")
    prod = b.operand(fn, 1, "_saved_mat1") @ b.operand(fn, 2, "_saved_mat2")
    bias = b.operand(fn, 0)
    return prod + bias, ("matmul", "add")


def _transpose_perm(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    x = b.operand(fn, 0)
    name = type(fn).__name__
    if name == "TBackward0":
        return (x.transpose() if x.ndim > 1 else x.reshape(x.shape)), ("transpose",)
    if name == "PermuteBackward0":
        return x.transpose(tuple(_dim(d, x.ndim) for d in _saved(fn, "_saved_dims"))), ("transpose",)
    d0, d1 = _dim(_saved(fn, "_saved_dim0"), x.ndim), _dim(_saved(fn, "_saved_dim1"), x.ndim)
    perm = list(range(x.ndim))
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return x.transpose(tuple(perm)), ("transpose",)


def _reduce(method: str) -> Mapper:
    def mapper(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
        x = b.operand(fn, 0)
        dims = _saved(fn, "_saved_dim")
        keep = bool(_saved(fn, "_saved_keepdim") or False)
        if dims is None:
            return getattr(x, method)(), (method,)
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        if not dims:
            raise _Unmappable("an empty dim list")
        axis = tuple(_dim(d, x.ndim) for d in dims)
        return getattr(x, method)(axis=axis if len(axis) > 1 else axis[0], keepdims=keep), (method,)
    return mapper


def _reshape(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    shape = tuple(fn._input_metadata[0].shape)
    return b.operand(fn, 0).reshape(shape), ("reshape",)


def _slice(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    x = b.operand(fn, 0)
    d = _dim(_saved(fn, "_saved_dim"), x.ndim)
    start, end, step = (_saved(fn, a) for a in ("_saved_start", "_saved_end", "_saved_step"))
    index = (slice(None),) * d + (slice(start, end, step),)
    return x[index], ("getitem",)


def _select(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    x = b.operand(fn, 0)
    d = _dim(_saved(fn, "_saved_dim"), x.ndim)
    index = int(_saved(fn, "_saved_index"))
    return x[(slice(None),) * d + (index,)], ("getitem",)


def _index(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    x = b.operand(fn, 0)
    parts: list[Any] = []
    for t in _saved(fn, "_saved_indices"):
        if t is None:
            parts.append(slice(None))
        elif t.dtype == torch.bool:
            raise _Unmappable("a boolean mask index")
        else:
            parts.append(_numpy(t))
    return x[tuple(parts) if len(parts) > 1 else parts[0]], ("getitem",)


def _softmax(method: str) -> Mapper:
    def mapper(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
        x = b.operand(fn, 0)
        if not isinstance(x, Tensor):
            raise _Unmappable("a scalar")
        return getattr(F, method)(x, axis=_dim(_saved(fn, "_saved_dim"), x.ndim)), (method,)
    return mapper


_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _nll(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    """``nll_loss(log_softmax(x))`` (what ``F.cross_entropy`` records) as our fused ``cross_entropy``."""
    ls = b.fused.get(fn)
    if ls is None:
        raise _Unmappable("nll_loss without the log_softmax before it (our op table fuses the two)")
    logits = b.operand(ls, 0)
    target = _numpy(_saved(fn, "_saved_target"))
    return F.cross_entropy(logits, target, reduction=_REDUCTIONS[int(_saved(fn, "_saved_reduction"))]), \
        ("cross_entropy",)


def _mse(b: _Builder, fn: Any) -> tuple[Node, tuple[str, ...]]:
    pred = b.operand(fn, 0, "_saved_self")
    target = b.operand(fn, 1, "_saved_target")
    if not isinstance(pred, Tensor):
        raise _Unmappable("a scalar prediction")
    return F.mse_loss(pred, target, reduction=_REDUCTIONS[int(_saved(fn, "_saved_reduction"))]), ("mse_loss",)


#: PyTorch backward function -> how it is rebuilt with our ops. Anything else is drawn as an unknown function.
MAPPERS: dict[str, Mapper] = {
    "AddBackward0": _add_sub(+1),
    "SubBackward0": _add_sub(-1),
    "RsubBackward1": _rsub,
    "MulBackward0": _binary("mul", lambda a, c: a * c),
    "MulBackward1": _mul1,
    "DivBackward0": _binary("div", lambda a, c: a / c),
    "DivBackward1": _div1,
    "ReciprocalBackward0": _reciprocal,
    "NegBackward0": lambda b, fn: (-b.operand(fn, 0), ("neg",)),
    "PowBackward0": _pow0,
    "PowBackward1": _pow1,
    "PowBackward2": _pow2,
    "ExpBackward0": _unary("exp"),
    "LogBackward0": _unary("log"),
    "SqrtBackward0": _unary("sqrt"),
    "AbsBackward0": _unary("abs"),
    "TanhBackward0": _unary("tanh"),
    "SigmoidBackward0": _unary("sigmoid"),
    "ReluBackward0": _unary("relu"),
    "LeakyReluBackward0": _leaky,
    "SinBackward0": _unary("sin"),
    "CosBackward0": _unary("cos"),
    "ErfBackward0": _unary("erf"),
    "SignBackward0": _unary("sign"),
    "SoftplusBackward0": _softplus,
    "GeluBackward0": _gelu,
    "AddBackward1": _add_number,
    "MmBackward0": _matmul,
    "MvBackward0": _matmul,
    "DotBackward0": _matmul,
    "BmmBackward0": _matmul,
    "AddmmBackward0": _addmm,
    "TBackward0": _transpose_perm,
    "PermuteBackward0": _transpose_perm,
    "TransposeBackward0": _transpose_perm,
    "SumBackward0": _reduce("sum"),
    "SumBackward1": _reduce("sum"),
    "MeanBackward0": _reduce("mean"),
    "MeanBackward1": _reduce("mean"),
    "AmaxBackward0": _reduce("max"),
    "MaxBackward0": _reduce("max"),
    "MaxBackward1": _reduce("max"),
    "ViewBackward0": _reshape,
    "ReshapeAliasBackward0": _reshape,
    "UnsafeViewBackward0": _reshape,
    "SqueezeBackward0": _reshape,
    "SqueezeBackward1": _reshape,
    "SqueezeBackward2": _reshape,
    "UnsqueezeBackward0": _reshape,
    "SliceBackward0": _slice,
    "SelectBackward0": _select,
    "IndexBackward0": _index,
    "SoftmaxBackward0": _softmax("softmax"),
    "LogSoftmaxBackward0": _softmax("log_softmax"),
    "NllLossBackward0": _nll,
    "MseLossBackward0": _mse,
}

#: Functions the scalar engine (``Value``) can rebuild: a graph of 0-d tensors with only these is drawn with Values.
SCALAR_FUNCTIONS = frozenset({
    "AddBackward0", "SubBackward0", "RsubBackward1", "MulBackward0", "MulBackward1", "DivBackward0", "DivBackward1",
    "ReciprocalBackward0", "NegBackward0", "PowBackward0", "PowBackward1", "PowBackward2", "ExpBackward0",
    "LogBackward0", "SqrtBackward0", "AbsBackward0", "TanhBackward0", "SigmoidBackward0", "ReluBackward0",
    "LeakyReluBackward0", "SinBackward0", "CosBackward0", "ErfBackward0", "SignBackward0", "SoftplusBackward0",
    "GeluBackward0", "AddBackward1", _LEAF,
})


# --- observing PyTorch ------------------------------------------------------------------------------------

def _observed_values(root: Any, fns: list[Any], recorded: Mapping[Any, np.ndarray]) -> dict[Any, np.ndarray]:
    """PyTorch's own output value of each function where it kept one: the root, ``_saved_result``, a consumer's
    saved input, or a value from :func:`record_values`."""
    seen: dict[Any, np.ndarray] = {_key(root.grad_fn, root.output_nr): _numpy(root)}
    members = set(fns)
    seen.update((key, np.asarray(value)) for key, value in recorded.items()
                if (key[0] if isinstance(key, tuple) else key) in members)
    for fn in fns:
        name = _fn_name(fn)
        if name == _LEAF:
            continue
        result = _saved(fn, "_saved_result")
        if isinstance(result, torch.Tensor):
            seen.setdefault(fn, _numpy(result))
        for attr, i in SAVED_INPUTS.get(name, {}).items():
            producer, nr = fn.next_functions[i] if i < len(fn.next_functions) else (None, 0)
            t = _saved(fn, attr)
            if producer is not None and isinstance(t, torch.Tensor) and _fn_name(producer) != _LEAF:
                seen.setdefault(_key(producer, nr), _numpy(t))
    for fn in reversed(fns):  # consumers first, so a chain is solved from its known end
        if _fn_name(fn) != "MulBackward1" or fn not in seen:
            continue
        producer, nr = fn.next_functions[0]
        factor = _saved(fn, "_saved_other")
        if producer is None or _fn_name(producer) == _LEAF or _key(producer, nr) in seen or isinstance(
                factor, torch.Tensor | complex) or factor is None:
            continue
        k = float(factor)
        if k != 0.0 and math.isfinite(k) and math.frexp(k)[0] == 0.5:  # x·2^n: out / 2^n is x exactly
            seen[_key(producer, nr)] = seen[fn] / np.asarray(k, dtype=seen[fn].dtype)
    return seen


def _torch_gradients(root: Any, fns: list[Any]) -> tuple[dict[Any, tuple], list[Any]]:
    """PyTorch's backward, run function by function (each ``grad_fn`` called directly, consumers first): per
    function, the gradients it gives its inputs and the upstream gradient of its output 0; and the leaves'
    gradients. Calling the functions directly runs no tensor hooks, fills no ``.grad`` (leaves' or
    ``retain_grad()``'s) and frees nothing, so the user's own ``backward()`` afterwards is unaffected."""
    grads: dict[Any, tuple] = {}
    leaves = [fn for fn in fns if _fn_name(fn) == _LEAF]
    if root.numel() != 1:
        return grads, [None] * len(leaves)
    pending: dict[Any, Any] = {_key(root.grad_fn, root.output_nr): torch.ones_like(root)}
    with torch.no_grad():
        for fn in reversed(fns):  # ``fns`` lists inputs before consumers
            if _fn_name(fn) == _LEAF:
                continue
            metas = list(getattr(fn, "_input_metadata", ())) or [None]
            upstream = [pending.pop(_key(fn, nr), None) for nr in range(len(metas))]
            if all(g is None for g in upstream):
                continue
            args = [g if g is not None else torch.zeros(tuple(m.shape), dtype=m.dtype)
                    for g, m in zip(upstream, metas, strict=True)]
            try:
                out = fn(*args)
            except RuntimeError as exc:
                raise TorchBridgeError(f"draw_torch: PyTorch's {_fn_name(fn)} failed in backward: "
                                       f"{str(exc).splitlines()[0][:160]}") from None
            out = (out,) if isinstance(out, torch.Tensor) else tuple(out)
            out = tuple(None if g is None or nxt is None else _fit(g, nxt, nr)
                        for (nxt, nr), g in zip(fn.next_functions, out, strict=False))
            grads[fn] = ([None if g is None else _numpy(g) for g in out],
                         None if upstream[0] is None else _numpy(upstream[0]))
            for (nxt, nr), g in zip(fn.next_functions, out, strict=False):
                if nxt is None or g is None:
                    continue
                key = _key(nxt, nr)
                pending[key] = g if key not in pending else pending[key] + g
    return grads, [None if pending.get(fn) is None else _numpy(pending[fn]) for fn in leaves]


def gradients_of(root: Any, tensors: list[Any]) -> list[Any]:
    """PyTorch's gradient of the one-number ``root`` w.r.t. each tensor (leaf or intermediate) as an array, ``None``
    where it has none; like ``torch.autograd.grad`` but without running hooks or filling ``.grad``."""
    if root.grad_fn is None:
        return [None] * len(tensors)
    fns = _functions(root.grad_fn)
    grads, leaf_grads = _torch_gradients(root, fns)
    by_leaf = {id(fn.variable): g for fn, g in zip([f for f in fns if _fn_name(f) == _LEAF], leaf_grads,
                                                      strict=True)}
    out: list[Any] = []
    for t in tensors:
        if t.grad_fn is None:
            out.append(by_leaf.get(id(t)))
        elif t.output_nr == 0 and t.grad_fn in grads:
            out.append(grads[t.grad_fn][1])
        else:
            out.append(None)
    return out


def _fit(g: Any, fn: Any, nr: int) -> Any:
    """What PyTorch's engine does between functions: sum a broadcast gradient back to the shape (and cast it to
    the dtype) of output ``nr`` of ``fn``."""
    metas = getattr(fn, "_input_metadata", ())
    if nr >= len(metas):
        return g
    shape, dtype = tuple(metas[nr].shape), metas[nr].dtype
    if tuple(g.shape) != shape:
        extra = g.dim() - len(shape)
        if extra > 0:
            g = g.sum(dim=tuple(range(extra)))
        g = g.sum_to_size(shape)
    return g.to(dtype) if g.dtype != dtype else g


def _tolerance(dtype: Any) -> tuple[float, float]:
    return (1e-4, 1e-6) if np.dtype(dtype).itemsize <= 4 else (1e-9, 1e-12)


def _diff(ours: Any, theirs: Any) -> float:
    a, b = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    if a.shape != b.shape:
        try:
            a = np.broadcast_to(a, b.shape)
        except ValueError:
            return math.inf
    both_nan = np.isnan(a) & np.isnan(b)
    d = np.where(both_nan, 0.0, np.abs(a - b))
    return float(np.max(d)) if d.size else 0.0


def _close(ours: Any, theirs: Any) -> bool:
    b = np.asarray(theirs)
    rtol, atol = _tolerance(b.dtype if b.dtype.kind == "f" else np.float64)
    scale = float(np.max(np.abs(b[np.isfinite(b)]))) if b.size and np.isfinite(b).any() else 0.0
    return _diff(ours, theirs) <= atol + rtol * scale


def _local_grads(b: _Builder, fn: Any, seed: Any) -> dict[int, Any]:
    """Our VJP of ``seed`` through the nodes made for ``fn``: gradient per input slot (next_functions index)."""
    made = b.created[fn]
    inside = {id(n) for n in made}
    acc: dict[int, Any] = {id(b.nodes[fn]): seed}  # mapped functions have one output
    out: dict[int, Any] = {}
    for node in sorted(made, key=lambda n: n.index, reverse=True):
        g = acc.get(id(node))
        if g is None or node.op is None:
            continue
        for parent, part in zip(node.parents, input_gradients(node, g), strict=True):
            if part is None:
                continue
            key = id(parent)
            if key in inside:
                acc[key] = part if key not in acc else acc[key] + part
            else:
                out[key] = part if key not in out else out[key] + part
    source = b.fused.get(fn, fn)
    return {k: out.get(id(b.nodes[_key(nxt, nr)])) for k, (nxt, nr) in enumerate(source.next_functions)
            if nxt is not None and _key(nxt, nr) in b.nodes}


def _verify(b: _Builder, fns: list[Any]) -> dict[Any, str]:
    """Check each mapped function: output value and local VJP against PyTorch's. Returns the disagreements."""
    bad: dict[Any, str] = {}
    for fn in fns:
        rec = b.records[fn]
        if not rec.ops or fn not in b.nodes:
            continue
        node = b.nodes[fn]
        if fn in b.observed and fn not in b.tainted:
            rec.value_diff = _diff(node.data, b.observed[fn])
            if not _close(node.data, b.observed[fn]):
                bad[fn] = f"our {'+'.join(rec.ops)} gives a different value (max diff {rec.value_diff:.3g})"
                continue
        got = b.grads.get(fn)
        source = b.fused.get(fn, fn)
        theirs = b.grads.get(source)
        if got is None or got[1] is None or theirs is None:
            continue
        seed = got[1]
        if isinstance(node, Value):
            seed = float(np.asarray(seed).reshape(-1)[0])
        else:
            seed = seed.astype(node.data.dtype, copy=False)
        ours = _local_grads(b, fn, seed)
        worst = 0.0
        for k, g in ours.items():
            t = theirs[0][k] if k < len(theirs[0]) else None
            if g is None or t is None:
                continue
            worst = max(worst, _diff(g, t))
            if not _close(g, t):
                bad[fn] = f"our {'+'.join(rec.ops)} gives a different gradient for input {k} (max diff " \
                          f"{_diff(g, t):.3g})"
                if fn in b.tainted:
                    bad[fn] = "not checkable: an input's value was not recorded by PyTorch"
        rec.grad_diff = worst
    return bad


def _params_mapping(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if isinstance(params, torch.nn.Module):
        return dict(params.named_parameters())
    if not isinstance(params, Mapping):
        raise TorchBridgeError(f"params must be a mapping name -> tensor or a torch.nn.Module, got "
                               f"{type(params).__name__}")
    out = {}
    for name, t in params.items():
        if not isinstance(t, torch.Tensor):
            raise TorchBridgeError(f"params[{name!r}] must be a torch.Tensor, got {type(t).__name__}")
        out[str(name)] = t
    return out


def trace_torch(tensor: Any, params: Any = None, engine: str = "auto", values: Mapping[Any, Any] | None = None
                ) -> TorchGraph:
    """Rebuild the autograd graph of the PyTorch ``tensor`` with our engine (see the module docstring).

    params: names for tensors (``{"fc1.weight": w, "x": x, "h": h}``: leaves, inputs and intermediates) or a
    ``torch.nn.Module`` (its ``named_parameters``). engine: ``"auto"`` uses ``Value`` when every tensor is a
    single number and every function is elementwise, ``"tensor"``/``"scalar"`` force one. values: a
    :func:`record_values` record, for outputs PyTorch did not save (else they are drawn as NaN, "not recorded").
    """
    if not isinstance(tensor, torch.Tensor):
        raise TorchBridgeError(f"draw_torch: expected a torch.Tensor, got {type(tensor).__name__}")
    if tensor.grad_fn is None:
        raise TorchBridgeError("draw_torch: this tensor has no autograd graph (grad_fn is None): compute it from "
                               "tensors with requires_grad=True, outside torch.no_grad()")
    if engine not in ("auto", "tensor", "scalar"):
        raise TorchBridgeError(f"draw_torch: engine must be 'auto', 'tensor' or 'scalar', got {engine!r}")
    mapping = _params_mapping(params)
    fns = _functions(tensor.grad_fn)
    outputs: dict[Any, set[int]] = {}
    for fn in fns:
        for nxt, nr in fn.next_functions:
            if nxt is not None and nr != 0:
                outputs.setdefault(nxt, set()).add(nr)
    if tensor.output_nr:
        outputs.setdefault(tensor.grad_fn, set()).add(tensor.output_nr)
    opaque: dict[Any, str] = {fn: "several outputs: one unknown node per output" for fn in outputs}
    observed = _observed_values(tensor, fns, values or {})
    grads, leaf_grads = _torch_gradients(tensor, fns)
    scalar_ok = all(_fn_name(fn) in SCALAR_FUNCTIONS for fn in fns) and all(
        v.ndim == 0 for v in observed.values()) and all(
        fn.variable.dim() == 0 for fn in fns if _fn_name(fn) == _LEAF)
    if engine == "scalar" and not scalar_ok:
        raise TorchBridgeError("draw_torch: engine='scalar' needs a graph of single numbers and elementwise ops")
    scalar = scalar_ok if engine == "auto" else engine == "scalar"
    for _attempt in range(len(fns) + 1):
        b = _Builder(mapping, scalar, opaque, observed, grads, outputs)
        for fn in fns:
            if _fn_name(fn) == "NllLossBackward0" and fn not in opaque:
                ls = fn.next_functions[0][0]
                if (ls is not None and _fn_name(ls) == "LogSoftmaxBackward0" and ls not in opaque
                        and sum(n is ls for f in fns for n, _ in f.next_functions) == 1
                        and _saved(fn, "_saved_weight") is None
                        and int(_saved(fn, "_saved_ignore_index")) in (_U64 - 100, -100)
                        and _saved(ls, "_saved_result").dim() == 2
                        and _dim(_saved(ls, "_saved_dim"), 2) == 1
                        and not bool((_saved(fn, "_saved_target") == -100).any())):
                    b.fused[fn] = ls
        for fn in fns:
            b.build(fn)
        bad = _verify(b, fns)
        if not bad:
            break
        for fn, why in bad.items():
            opaque[fn] = f"refused: {why}"
            if "gradient" in why and fn not in observed and id(b.nodes[fn]) not in b.unrecorded:
                observed[fn] = np.asarray(b.nodes[fn].data)  # our forward agrees where it could be checked
            if fn in b.fused:
                opaque[b.fused[fn]] = "refused with the nll_loss after it"
    root = b.nodes[_key(tensor.grad_fn, tensor.output_nr)]
    graph = TorchGraph(root=root, functions=[b.records[fn] for fn in fns], named=dict(b.named))
    leaf_fns = [fn for fn in fns if _fn_name(fn) == _LEAF]
    by_leaf = {id(fn.variable): g for fn, g in zip(leaf_fns, leaf_grads, strict=True)}
    for name, t in mapping.items():
        if t.requires_grad and t.grad_fn is None:
            graph.torch_grads[name] = by_leaf.get(id(t))
        elif t.grad_fn is not None and t.grad_fn in grads:
            graph.torch_grads[name] = grads[t.grad_fn][1]
    return graph
