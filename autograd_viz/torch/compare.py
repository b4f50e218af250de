r"""``compare``: the same computation in both engines, named node by named node — Karpathy's ``cmp()`` from
"Backprop Ninja", generalised to values and gradients of every node that has a name on both sides.

>>> table = compare(loss, torch_loss, names={"W1": W1, "h": h})   # doctest: +SKIP
>>> print(table)                                                  # doctest: +SKIP
name  shape   exact  approx  max |Δ value|  max |Δ grad|
W1    (3, 4)  False  True    0              5.6e-17
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograd_viz.graph import Node, topological_order, walk_backward
from autograd_viz.torch.errors import TorchBridgeError, require_torch


@dataclass
class Row:
    """One named node: values and gradients from both engines and their largest absolute differences."""

    name: str
    shape: tuple[int, ...]
    ours_value: Any
    theirs_value: Any
    ours_grad: Any
    theirs_grad: Any
    value_diff: float
    grad_diff: float | None
    #: the PyTorch tensor is the transpose of ours (a Linear weight: ours (in, out), PyTorch (out, in))
    transposed: bool = False

    @property
    def exact(self) -> bool:
        """Values and gradients bit-for-bit equal (Karpathy's ``exact``)."""
        return self.value_diff == 0.0 and (self.grad_diff is None or self.grad_diff == 0.0)

    def approx(self, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
        """Values and gradients agree: largest difference <= ``atol + rtol`` × PyTorch's largest magnitude
        (Karpathy's ``approximate``, measured against the tensor's scale so float32 rounding of tiny entries passes)."""
        ok = self.value_diff <= atol + rtol * _scale(self.theirs_value)
        if self.grad_diff is not None:
            ok = ok and self.grad_diff <= atol + rtol * _scale(self.theirs_grad)
        return bool(ok)


@dataclass
class Comparison:
    """The parity table: one :class:`Row` per name found in both graphs; ``str()`` prints it."""

    rows: list[Row] = field(default_factory=list)
    #: names given for PyTorch that no node of ours carries
    missing: list[str] = field(default_factory=list)

    @property
    def max_value_diff(self) -> float:
        return max((r.value_diff for r in self.rows), default=0.0)

    @property
    def max_grad_diff(self) -> float:
        return max((r.grad_diff for r in self.rows if r.grad_diff is not None), default=0.0)

    def ok(self, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
        """Every row agrees within the tolerances and no name is missing."""
        return not self.missing and all(r.approx(rtol, atol) for r in self.rows)

    def __getitem__(self, name: str) -> Row:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def __str__(self) -> str:
        header = ("name", "shape", "exact", "approx", "max |Δ value|", "max |Δ grad|")
        body = [(r.name + ("ᵀ" if r.transposed else ""), str(r.shape), str(r.exact), str(r.approx()),
                 f"{r.value_diff:.3g}", "—" if r.grad_diff is None else f"{r.grad_diff:.3g}") for r in self.rows]
        widths = [max(len(row[k]) for row in (header, *body)) for k in range(len(header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in (header, *body)]
        if self.missing:
            lines.append(f"not in our graph: {', '.join(self.missing)}")
        return "\n".join(lines)


def adjoints(root: Node) -> dict[int, Any]:
    r""":math:`\bar{x} = \partial L/\partial x` for every node of ``root``'s graph from :math:`\bar{L} = 1`, by id
    (fresh: nothing accumulates into ``.grad``)."""
    seed: Any = np.ones_like(root.data) if isinstance(root.data, np.ndarray) else 1.0
    return {id(node): adjoint for node, adjoint, _ in walk_backward(root, seed)}


def _scale(a: Any) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(np.max(np.abs(a))) if a.size else 0.0


def _diff(a: Any, b: Any) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def compare(ours: Node, theirs: Any, names: Any = None) -> Comparison:
    """List, per name, value and gradient from our engine and from PyTorch and their largest difference.

    ours: our output (a ``Value``/``Tensor`` of one number); its named nodes (``fc1.weight``, ``h``) are matched
    by name. theirs: the PyTorch output tensor, with ``names`` a mapping name -> tensor (leaves or
    intermediates) or a ``torch.nn.Module`` (its parameters); or directly a mapping name -> tensor, whose
    gradients are then read from ``.grad`` (call ``retain_grad()`` on intermediates and ``backward()`` first).
    A PyTorch tensor that is the transpose of ours (a Linear weight) is compared transposed.
    """
    torch: Any = require_torch("autograd_viz.torch.compare")
    if not isinstance(ours, Node):
        raise TorchBridgeError(f"compare: ours must be a Value or Tensor, got {type(ours).__name__}")
    if isinstance(theirs, torch.Tensor):
        if names is None:
            raise TorchBridgeError("compare: name the PyTorch tensors to compare: names={'W1': W1, ...} or a Module")
        mapping = dict(names.named_parameters()) if isinstance(names, torch.nn.Module) else dict(names)
        wanted = [n for n, t in mapping.items() if t.requires_grad]
        if theirs.numel() != 1:
            raise TorchBridgeError(f"compare: the PyTorch output must be one number, it has shape "
                                   f"{tuple(theirs.shape)}")
        from autograd_viz.torch.trace import gradients_of

        got = gradients_of(theirs, [mapping[n] for n in wanted])  # no hooks run, no .grad filled
        torch_grads = dict(zip(wanted, got, strict=True))
    elif isinstance(theirs, Mapping):
        mapping = dict(theirs)
        torch_grads = {n: t.grad for n, t in mapping.items()}
    else:
        raise TorchBridgeError(f"compare: theirs must be a torch.Tensor or a mapping name -> tensor, got "
                               f"{type(theirs).__name__}")
    for name, t in mapping.items():
        if not isinstance(t, torch.Tensor):
            raise TorchBridgeError(f"compare: {name!r} is a {type(t).__name__}, not a torch.Tensor")
    nodes = {n.name: n for n in topological_order(ours) if n.name is not None}
    ours_grads = adjoints(ours) if ours.requires_grad else {}
    table = Comparison()
    for name, t in mapping.items():
        node = nodes.get(name)
        if node is None:
            table.missing.append(name)
            continue
        value = np.asarray(node.data)
        theirs_value = t.detach().cpu().numpy()
        g = torch_grads.get(name)
        theirs_grad = None if g is None else g.detach().cpu().numpy() if isinstance(g, torch.Tensor) else np.asarray(g)
        transposed = value.ndim == 2 and theirs_value.shape == value.shape[::-1] and value.shape != value.shape[::-1]
        if transposed:
            theirs_value = theirs_value.T
            theirs_grad = None if theirs_grad is None else theirs_grad.T
        if theirs_value.shape != value.shape:
            raise TorchBridgeError(f"compare: {name!r} has shape {value.shape} here and {theirs_value.shape} in "
                                   "PyTorch")
        grad = ours_grads.get(id(node))
        grad_diff = None if grad is None or theirs_grad is None else _diff(grad, theirs_grad)
        table.rows.append(Row(name=name, shape=value.shape, ours_value=value, theirs_value=theirs_value,
                              ours_grad=grad, theirs_grad=theirs_grad, value_diff=_diff(value, theirs_value),
                              grad_diff=grad_diff, transposed=transposed))
    return table
