"""What :func:`~autograd_viz.torch.trace.trace_torch` returns: the rebuilt graph and one record per PyTorch function."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autograd_viz.graph import Node


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
