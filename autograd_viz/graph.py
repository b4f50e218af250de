"""The graph core shared by ``Value`` and ``Tensor``: nodes, topological order, backward, ``no_grad``.

A node records its op (an entry of :data:`autograd_viz.ops.OPS`), its inputs *in order with repeats*
(``a*a`` has two input edges), its value, a creation index (deterministic drawings) and an optional name.

``backward()`` semantics (documented contract): every call computes :math:`\\partial L/\\partial v` afresh
for the intermediate nodes of the graph (their ``grad`` is overwritten, and kept for drawing), while
leaves *accumulate* like PyTorch, so two calls give leaves twice the gradient until ``zero_grad()``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from autograd_viz.ops import OpDef

_creation_counter = itertools.count()
_grad_enabled = True


def is_grad_enabled() -> bool:
    """Whether new ops are recorded in the graph (false inside :func:`no_grad`)."""
    return _grad_enabled


@contextmanager
def no_grad() -> Iterator[None]:
    """Run ops without recording them: results are leaves that do not require grad."""
    global _grad_enabled
    previous = _grad_enabled
    _grad_enabled = False
    try:
        yield
    finally:
        _grad_enabled = previous


class Node:
    """A value in the computation graph; ``Value`` and ``Tensor`` subclass it.

    ``role`` says what a leaf is for drawings: ``"param"``, ``"input"``, ``"const"`` or ``None``.
    """

    __slots__ = ("data", "grad", "op", "parents", "attrs", "saved", "name", "index", "requires_grad", "role",
                 "__weakref__")

    data: Any
    grad: Any
    op: OpDef | None
    parents: tuple[Node, ...]
    attrs: dict | None
    saved: Any
    name: str | None
    index: int
    requires_grad: bool
    role: str | None

    #: The math backend of the subclass (``ScalarMath`` or ``ArrayMath``).
    math: Any = None

    def _init_node(self, data: Any, name: str | None, requires_grad: bool, role: str | None) -> None:
        self.data = data
        self.grad = self._zero_grad_value()
        self.op = None
        self.parents = ()
        self.attrs = None
        self.saved = None
        self.name = name
        self.index = next(_creation_counter)
        self.requires_grad = requires_grad
        self.role = role

    # --- hooks each engine provides -------------------------------------------------------------
    def _zero_grad_value(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _accumulate(self, grad: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # --- graph API ------------------------------------------------------------------------------
    @property
    def is_leaf(self) -> bool:
        """True for nodes created by the user (or under ``no_grad``), false for op results."""
        return self.op is None

    def _record(self, op: OpDef, parents: tuple[Node, ...], attrs: dict | None, saved: Any) -> None:
        """Attach ``op(parents)`` as this node's history when any parent requires grad."""
        if _grad_enabled and any(p.requires_grad for p in parents):
            self.op = op
            self.parents = parents
            self.attrs = attrs
            self.saved = saved
            self.requires_grad = True

    def zero_grad(self) -> None:
        """Reset this node's gradient (leaves accumulate across ``backward()`` calls)."""
        self.grad = self._zero_grad_value()

    def detach(self) -> Node:  # pragma: no cover - each engine overrides
        raise NotImplementedError

    def label(self) -> str:
        """The node's name, or ``v<index>`` when it has none."""
        return self.name if self.name is not None else f"v{self.index}"


def topological_order(root: Node) -> list[Node]:
    """All nodes ``root`` depends on, inputs before the ops that use them, ``root`` last.

    Iterative depth-first search (no recursion limit: a 1,000,000-node chain is fine). Each node appears
    once even when it is used several times.
    """
    order: list[Node] = []
    visited: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    push = stack.append
    pop = stack.pop
    while stack:
        node, expanded = pop()
        if expanded:
            order.append(node)
            continue
        key = id(node)
        if key in visited:
            continue
        visited.add(key)
        push((node, True))
        for parent in node.parents:
            if id(parent) not in visited:
                push((parent, False))
    return order


def input_gradients(node: Node, grad: Any) -> tuple:
    """The op's vector-Jacobian product: one gradient contribution per input of ``node``.

    Contributions are reduced to each input's shape (tensor broadcasting), ``None`` where an input needs
    no gradient. This is what ``backward`` sends along each edge, and what drawings label edges with.
    """
    op = node.op
    if op is None:
        return ()
    grads = op.backward(node.math, grad, node)
    return tuple(
        parent._fit_grad(g) if g is not None and parent.requires_grad else None
        for parent, g in zip(node.parents, grads, strict=True)
    )


def run_backward(root: Node, seed: Any) -> None:
    """Reverse-mode sweep from ``root`` with :math:`\\bar{L} = ` ``seed``; see the module docstring."""
    order = topological_order(root)
    for node in order:
        if node.op is not None:
            node.grad = node._zero_grad_value()
    root._accumulate(seed)
    math = root.math
    for node in reversed(order):
        op = node.op
        grad = node.grad
        if op is None or grad is None:
            continue
        grads = op.backward(math, grad, node)
        for parent, g in zip(node.parents, grads, strict=False):  # hot loop: lengths match by op arity
            if g is not None and parent.requires_grad:
                parent._accumulate(g)
