"""Building our nodes for one PyTorch graph (:class:`_Builder`): leaves, constants, each function through
:data:`~autograd_viz.torch.mappers.MAPPERS`, and the opaque ops for functions without a counterpart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from autograd_viz.torch.errors import require_torch

torch: Any = require_torch("autograd_viz.torch.trace_torch")

from autograd_viz.errors import AutogradVizError, GraphError  # noqa: E402
from autograd_viz.graph import Node  # noqa: E402
from autograd_viz.ops import OpDef  # noqa: E402
from autograd_viz.scalar import Value  # noqa: E402
from autograd_viz.tensor import Tensor  # noqa: E402
from autograd_viz.torch.mappers import MAPPERS, _Unmappable  # noqa: E402
from autograd_viz.torch.records import TorchFunction  # noqa: E402
from autograd_viz.torch.verify import _close  # noqa: E402
from autograd_viz.torch.walk import _LEAF, _fn_name, _key, _numpy, _saved  # noqa: E402

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
