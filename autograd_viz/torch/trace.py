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

The parts: :mod:`~autograd_viz.torch.walk` (reading PyTorch's graph), :mod:`~autograd_viz.torch.observe` (its
values and gradients), :mod:`~autograd_viz.torch.mappers` (the function -> op table),
:mod:`~autograd_viz.torch.build` (our nodes), :mod:`~autograd_viz.torch.verify` (the checks); here the entry point.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from autograd_viz.torch.errors import TorchBridgeError, require_torch

torch: Any = require_torch("autograd_viz.torch.trace_torch")

from autograd_viz.torch.build import _Builder, opaque_op  # noqa: E402
from autograd_viz.torch.mappers import MAPPERS, SCALAR_FUNCTIONS  # noqa: E402
from autograd_viz.torch.observe import ValueRecord, _observed_values, _torch_gradients, record_values  # noqa: E402
from autograd_viz.torch.observe import gradients_of as gradients_of  # noqa: E402 - compare.py imports it from here
from autograd_viz.torch.records import TorchFunction, TorchGraph  # noqa: E402
from autograd_viz.torch.verify import _verify  # noqa: E402
from autograd_viz.torch.walk import _LEAF, _U64, _dim, _fn_name, _functions, _key, _saved  # noqa: E402
from autograd_viz.torch.walk import SAVED_INPUTS as SAVED_INPUTS  # noqa: E402 - public before the split

__all__ = ["MAPPERS", "TorchBridgeError", "TorchFunction", "TorchGraph", "ValueRecord", "opaque_op", "record_values",
           "trace_torch"]


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
