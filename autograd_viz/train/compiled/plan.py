"""From a recorded graph to a plan: the buffers of every node and the zero-argument calls of one step, in order.

:class:`_PlanBuilder` walks the recorded nodes (checking they compile), gives each a buffer, and asks
:class:`~autograd_viz.train.compiled.kernels._KernelWriter` for each op's forward and backward calls.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from autograd_viz.errors import ConfigError
from autograd_viz.graph import Node
from autograd_viz.train.compiled.kernels import _KernelWriter, _op_name, _Plan

#: op names the compiler has kernels for (forward and backward)
SUPPORTED_OPS = ("matmul", "add", "sub", "mul", "relu", "leaky_relu", "sigmoid", "tanh", "cross_entropy")


def _signature(order: list[Node], index: dict[int, int], skip: Any, xb: np.ndarray) -> list[tuple]:
    """Structure of a recorded graph: op, input positions, shapes, attributes (minus the batch labels) and the
    values of constant leaves (not the batch)."""
    sig = []
    for node in order:
        attrs: list[tuple[str, Any]] = []
        if node.op is None and not node.requires_grad and node.data is not xb:
            attrs.append(("value", np.asarray(node.data).tobytes()))
        for key, value in sorted((node.attrs or {}).items()):
            if value is skip:
                continue
            attrs.append((key, value.tobytes() if isinstance(value, np.ndarray) else repr(value)))
        sig.append((node.op.name if node.op is not None else None, tuple(index[id(p)] for p in node.parents),
                    node.data.shape, str(node.data.dtype), node.requires_grad, tuple(attrs)))
    return sig


class _PlanBuilder(_KernelWriter):
    """The part of :class:`~autograd_viz.train.compiled.step.CompiledStep` that turns a recorded graph into a plan."""

    params: list[Any]
    names: dict[int, str]
    pviews: list[np.ndarray]
    gviews: list[np.ndarray]
    dtype: np.dtype

    def _build(self, plan: _Plan, order: list[Node], index: dict[int, int], out: Node, loss: Node,
               xb: np.ndarray, yb: np.ndarray) -> None:
        param_pos = {id(p): i for i, p in enumerate(self.params)}
        if loss.op is None or loss.op.name != "cross_entropy" or loss.parents[0] is not out:
            raise ConfigError("compile: the loss is not the trainer's cross-entropy of the model output")
        attrs = loss.attrs or {}
        if attrs.get("reduction") != "mean" or attrs.get("target") is not yb or out.data.ndim != 2:
            raise ConfigError("compile: cross-entropy must take the batch's class indices with reduction 'mean'")
        buf: dict[int, np.ndarray] = {}  # node position -> forward value buffer
        names: dict[int, str] = {}
        used = {id(p) for p in self.params}
        pos = index
        consumers: dict[int, int] = {}
        for node in order:
            if node.op is not None:
                for p in node.parents:
                    consumers[pos[id(p)]] = consumers.get(pos[id(p)], 0) + 1
        inplace: set[int] = set()  # add/sub nodes that write into their first input's buffer
        for i, node in enumerate(order):
            if node.op is None:
                if id(node) in param_pos:
                    buf[i] = self.pviews[param_pos[id(node)]]
                    names[i] = self.names.get(id(node), f"param{param_pos[id(node)]}")
                    used.discard(id(node))
                elif node.data is xb:
                    plan.xb = buf[i] = np.empty_like(xb)
                    names[i] = "x"
                elif node.requires_grad:
                    raise ConfigError(f"compile: leaf {node.label()} requires grad but is not an optimizer parameter")
                else:
                    buf[i] = np.array(node.data, copy=True)
                    names[i] = f"c{i}"
            elif node.op.name not in SUPPORTED_OPS:
                raise ConfigError(f"compile: no kernel for op {node.op.name!r} (compiled: {', '.join(SUPPORTED_OPS)})")
            else:
                names[i] = "L" if node is loss else f"t{i}"
                first = pos[id(node.parents[0])]
                if (node.op.name in ("add", "sub") and order[first].op is not None and consumers[first] == 1
                        and _op_name(order[first]) not in ("tanh", "sigmoid") and order[first] is not out
                        and order[first].data.shape == node.data.shape):
                    # e.g. the bias add after a matmul: nothing reads the matmul's value again (its backward
                    # needs its inputs, the add's backward no value), so the sum overwrites it in place
                    buf[i] = buf[first]
                    inplace.add(i)
                elif node is not loss:
                    buf[i] = np.empty(node.data.shape, node.data.dtype)
        if used:
            raise ConfigError("compile: a parameter is not used by the loss")
        if not hasattr(plan, "xb"):
            raise ConfigError("compile: the batch does not enter the graph directly (as the first layer's input)")
        rows = plan.rows
        plan.yb = np.empty(rows, np.intp)
        plan.logits = buf[index[id(out)]]
        shape = lambda i: "×".join(map(str, order[i].data.shape)) or "scalar"  # noqa: E731
        # --- forward kernels (with numba: a bias add whose only use is a ReLU runs inside the ReLU's loop)
        fused_relu = self._fusable_relus(order, pos, consumers) if self.kernels else {}
        fused_adds = set(fused_relu.values())
        for i, node in enumerate(order):
            if node.op is None or node is loss:
                continue
            args = [pos[id(p)] for p in node.parents]
            if i in fused_adds:
                plan.lines.append(("forward", f"{names[i]} ← add({', '.join(names[p] for p in args)})  {shape(i)}  "
                                              "(no kernel: computed inside the ReLU's loop, not stored)"))
                continue
            if i in fused_relu and self.kernels:
                a, b = (pos[id(p)] for p in order[fused_relu[i]].parents)
                plan.add("forward", f"{names[i]} ← relu({names[a]} + {names[b]})  {shape(i)}  (one numba loop)",
                         partial(self.kernels["bias_relu"], buf[a], buf[b], buf[i]))
                continue
            self._forward_kernel(plan, node, i, args, buf, names, shape)
            if i in inplace:
                plan.lines[-1] = ("forward", plan.lines[-1][1] + f"  (in place: {names[pos[id(node.parents[0])]]}'s "
                                                                 "buffer)")
        # --- loss and its gradient
        lpos = pos[id(loss)]
        self._cross_entropy_kernels(plan, loss, buf[pos[id(out)]], names[pos[id(out)]], names[lpos])
        # --- backward: gradient buffers (parameters write into the flat gradient buffer)
        gbuf: dict[int, np.ndarray] = {}
        for i, node in enumerate(order):
            if not node.requires_grad or node is loss:
                continue
            gbuf[i] = self.gviews[param_pos[id(node)]] if id(node) in param_pos else np.empty_like(buf[i])
        gbuf[pos[id(out)]] = plan.dlogits
        zeroed = [i for i, c in consumers.items() if c > 1 and i in gbuf]
        for i in zeroed:
            plan.add("backward", f"d{names[i]} ← 0  (it feeds {consumers[i]} ops: contributions add up)",
                     partial(gbuf[i].fill, 0))
        for i in reversed(range(len(order))):
            node = order[i]
            if node.op is None or node is loss:
                continue
            self._backward_kernels(plan, node, i, [pos[id(p)] for p in node.parents], buf, gbuf, names,
                                   consumers, order)

    def _fusable_relus(self, order: list[Node], pos: dict[int, int], consumers: dict[int, int]) -> dict[int, int]:
        """ReLU position -> position of the add it reads, for ``relu(a + bias)`` with a (rows, n) matrix, an (n,)
        bias and nothing else reading the sum: one numba loop computes both."""
        found = {}
        for i, node in enumerate(order):
            if _op_name(node) != "relu":
                continue
            j = pos[id(node.parents[0])]
            add = order[j]
            if _op_name(add) != "add" or consumers.get(j) != 1:
                continue
            a, b = add.parents
            if (a.data.ndim == 2 and b.data.ndim == 1 and b.data.shape[0] == a.data.shape[1] and a is not b
                    and add.data.shape == a.data.shape
                    and {a.data.dtype, b.data.dtype, add.data.dtype, node.data.dtype} == {self.dtype}):
                found[i] = j
        return found
