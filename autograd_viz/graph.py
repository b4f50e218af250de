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
from operator import attrgetter
from typing import Any

from autograd_viz.errors import DomainError
from autograd_viz.ops import OpDef

_creation_counter = itertools.count()
_grad_enabled = True


def is_grad_enabled() -> bool:
    """Whether new ops are recorded in the graph (false inside :func:`no_grad`)."""
    return _grad_enabled


@contextmanager
def no_grad() -> Iterator[None]:
    """Run ops without recording them: results are leaves that do not require grad (process-wide switch)."""
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
    Nodes hash and compare by identity (graph walks keep them in sets): subclasses must not define ``__eq__``.
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
    #: True when gradients are Python floats that start at 0.0 and accumulate with ``+=`` (``Value``).
    float_grads: bool = False

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

    def _accumulate(self, grad: Any, owned: bool = False) -> None:  # pragma: no cover - abstract
        """Add ``grad`` to ``self.grad``; ``owned`` promises that no other node or caller holds ``grad``."""
        raise NotImplementedError

    # --- graph API ------------------------------------------------------------------------------
    @property
    def is_leaf(self) -> bool:
        """True for nodes created by the user (or under ``no_grad``), false for op results."""
        return self.op is None

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

    Iterative (no recursion limit: a 1,000,000-node chain is fine): collect the reachable nodes, then sort
    them by creation index. A node is always created after its inputs, so that order is topological, and
    it is the same however the graph is walked. Each node appears once even when it is used several times.
    """
    nodes = _reachable(root, leaves=True)
    nodes.sort(key=_creation_index)
    return nodes


def _reachable(root: Node, leaves: bool) -> list[Node]:
    """``root`` and the nodes it depends on (only op nodes unless ``leaves``), in depth-first preorder.

    That order is nearly reverse creation order (exactly so for chains), which makes sorting it cheap.
    """
    nodes = []
    emit = nodes.append
    seen = {root}  # nodes hash by identity (Node defines no __eq__)
    add = seen.add
    stack = [root]
    push = stack.append
    pop = stack.pop
    while stack:
        node = pop()
        emit(node)
        for parent in node.parents:
            if (leaves or parent.op is not None) and parent not in seen:
                add(parent)
                push(parent)
    return nodes


_creation_index = attrgetter("index")


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
    order = _reachable(root, leaves=False)  # leaves only receive: the sweep visits op nodes alone
    order.sort(key=_creation_index, reverse=True)  # every consumer before its inputs
    math = root.math
    if root.float_grads:  # Value: gradients are Python floats; inline the accumulation (the scalar hot path)
        for node in order:
            if node.op is not None:
                node.grad = 0.0
        root.grad += seed
        node = root
        try:
            for node in order:
                op = node.op
                if op is None:
                    continue
                grads = op.backward(math, node.grad, node)
                parents = node.parents
                if len(parents) == 2:  # unpacking beats zip() here by ~40%: this loop runs once per node
                    a, b = parents
                    ga, gb = grads
                    if ga is not None and a.requires_grad:
                        a.grad += ga
                    if gb is not None and b.requires_grad:
                        b.grad += gb
                elif len(parents) == 1:
                    (ga,) = grads
                    a = parents[0]
                    if ga is not None and a.requires_grad:
                        a.grad += ga
                else:
                    for parent, g in zip(parents, grads):  # noqa: B905 (hot loop)
                        if g is not None and parent.requires_grad:
                            parent.grad += g
        except (ZeroDivisionError, OverflowError) as exc:
            raise DomainError(f"backward: the derivative of {node.op.name} at node {node.label()} is not finite "
                              f"(inputs {[p.data for p in node.parents]}): {exc}") from None
        return
    for node in order:
        if node.op is not None:
            node.grad = node._zero_grad_value()
    root._accumulate(seed)
    for node in order:
        op = node.op
        grad = node.grad
        if op is None or grad is None:
            continue
        grads = op.backward(math, grad, node)
        for parent, g in zip(node.parents, grads):  # noqa: B905 (hot loop)
            if g is not None and parent.requires_grad:
                # A fresh contribution may be kept as is; ``grad`` itself, or one sent to two inputs, is shared.
                parent._accumulate(g, g is not grad and sum(x is g for x in grads) == 1)
