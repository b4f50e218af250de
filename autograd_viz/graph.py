"""The graph core shared by ``Value`` and ``Tensor``: nodes, recording, the one reverse walk, ``no_grad``.

A node records its op (an entry of :data:`autograd_viz.ops.OPS`), its inputs *in order with repeats*
(``a*a`` has two input edges), its value, a creation index (deterministic drawings) and an optional name.

Reading order (the graph core; `Value`'s docstring in scalar.py tells the scalar story in two files):

1. :func:`make_node` — the one node factory: how an op result records its op and inputs (when grad mode is
   on and an input requires grad), and how leaves are made.
2. :func:`input_gradients` — one node's local step: the op's backward (its vector-Jacobian product, written in
   ``autograd_viz/ops/``) turns the node's adjoint into one contribution per input edge.
3. :func:`walk_backward` — the reverse walk: consumers before inputs, each node's adjoint is the sum of
   the contributions of its edges. Drawings, the stepper and worked solutions read this walk directly.
4. :func:`run_backward` — the same walk, each engine storing the adjoints in ``.grad`` (``Tensor.backward``).
   ``Value.backward`` runs the same steps as a plain loop over floats in ``scalar.py`` (the scalar fast path,
   and the lesson: micrograd's loop with our semantics), checked against this walk in the tests.

``backward()`` semantics (documented contract): every call computes :math:`\\partial L/\\partial v` afresh
for the intermediate nodes of the graph (their ``grad`` is overwritten, and kept for drawing), while
leaves *accumulate* like PyTorch, so two calls give leaves twice the gradient until ``zero_grad()``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from operator import attrgetter
from typing import Any

from autograd_viz.errors import DomainError
from autograd_viz.ops import OpDef

_creation_counter = itertools.count()
_next_index = _creation_counter.__next__
_new = object.__new__

#: Grad mode, per thread and per ``contextvars`` context (as PyTorch's is): a new thread starts recording.
_grad_mode: ContextVar[bool] = ContextVar("autograd_viz_grad_mode", default=True)
_grad_mode_get = _grad_mode.get


def is_grad_enabled() -> bool:
    """Whether new ops are recorded in the graph in this thread/context (false inside :func:`no_grad`)."""
    return _grad_mode_get()


@contextmanager
def no_grad() -> Iterator[None]:
    """Run ops without recording them: results are leaves that do not require grad.

    The switch is per thread and per ``contextvars`` context: another thread's ``no_grad`` never changes
    whether this one records.
    """
    token = _grad_mode.set(False)
    try:
        yield
    finally:
        _grad_mode.reset(token)


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
    #: The gradient of a node nothing has flowed into yet (``0.0`` for ``Value``, ``None`` for ``Tensor``).
    empty_grad: Any = None
    #: Whether contributions must be fitted to the input (``Tensor``: dtype and broadcasting; ``Value``: no).
    fits_grads: bool = False

    # --- hooks each engine provides -------------------------------------------------------------
    def _fit_grad(self, grad: Any) -> Any:
        """``grad`` in this node's shape and dtype (tensors sum over broadcast axes); identity for scalars."""
        return grad

    @classmethod
    def _store_adjoints(cls, walk: Iterator[tuple[Node, Any, tuple]]) -> None:  # pragma: no cover - abstract
        """Keep each node's adjoint from one backward walk in ``.grad``: intermediates overwrite, leaves
        accumulate."""
        raise NotImplementedError

    # --- graph API ------------------------------------------------------------------------------
    @property
    def is_leaf(self) -> bool:
        """True for nodes created by the user (or under ``no_grad``), false for op results."""
        return self.op is None

    def zero_grad(self) -> None:
        """Reset this node's gradient (leaves accumulate across ``backward()`` calls)."""
        self.grad = self.empty_grad

    def detach(self) -> Node:  # pragma: no cover - each engine overrides
        raise NotImplementedError

    def label(self) -> str:
        """The node's name, or ``v<index>`` when it has none."""
        return self.name if self.name is not None else f"v{self.index}"


# --- recording: the one node factory ----------------------------------------------------------------------
def make_node(node: Any, data: Any, op: OpDef | None = None, parents: tuple = (), attrs: dict | None = None,
              saved: Any = None, requires_grad: bool = False, name: str | None = None,
              role: str | None = None) -> Any:
    """Fill every field of ``node`` (a fresh ``Value``/``Tensor``) and return it: the one place they are set.

    With an ``op`` this is how an op result records itself: the node remembers its op, its inputs (in order,
    with repeats), attributes and saved values (what its backward needs) when grad mode is on and an input
    requires grad; otherwise it becomes a plain leaf that does not require grad. Without an ``op`` it is a
    leaf made by the user (``requires_grad``, ``name`` and ``role`` as given).
    """
    node.data = data
    node.grad = node.empty_grad
    node.name = name
    node.index = _next_index()
    node.role = role
    if op is not None:
        if _grad_mode_get():
            for parent in parents:
                if parent.requires_grad:
                    node.op = op
                    node.parents = parents
                    node.attrs = attrs
                    node.saved = saved
                    node.requires_grad = True
                    return node
        requires_grad = False  # not recorded: a constant result
    node.op = None
    node.parents = ()
    node.attrs = None
    node.saved = None
    node.requires_grad = requires_grad
    return node


# --- order ------------------------------------------------------------------------------------------------
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
    nodes: list[Node] = []
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


def backward_order(root: Node) -> list[Node]:
    """The op nodes ``root`` depends on, every consumer before its inputs (newest first): the order of the
    reverse walk. Leaves are not listed: they only receive gradients."""
    order = _reachable(root, leaves=False)
    order.sort(key=_creation_index, reverse=True)
    return order


# --- the reverse walk -------------------------------------------------------------------------------------
def input_gradients(node: Node, grad: Any) -> tuple:
    """The op's vector-Jacobian product at ``node``: one gradient contribution per input edge.

    The op's backward gets its inputs, output, attributes, saved values and which inputs need a gradient;
    contributions are ``None`` where an input needs no gradient, and fitted to each input's shape (tensor
    broadcasting). This is what the reverse walk sends along each edge, and what drawings label edges with.
    """
    op = node.op
    if op is None:
        return ()
    parents = node.parents
    if len(parents) == 1:  # spelled out for one and two inputs: this runs once per node of every backward
        (a,) = parents
        need_a = a.requires_grad
        parts: tuple = op.backward(node.math, grad, (a.data,), node.data, node.attrs, node.saved, (need_a,))
        if not need_a:
            parts = (None,)
    elif len(parents) == 2:
        a, b = parents
        need_a, need_b = a.requires_grad, b.requires_grad
        parts = op.backward(node.math, grad, (a.data, b.data), node.data, node.attrs, node.saved, (need_a, need_b))
        if not (need_a and need_b):
            parts = (parts[0] if need_a else None, parts[1] if need_b else None)
    else:
        needs = tuple([p.requires_grad for p in parents])
        grads = op.backward(node.math, grad, tuple([p.data for p in parents]), node.data, node.attrs, node.saved,
                            needs)
        parts = tuple([g if need else None for g, need in zip(grads, needs, strict=True)])
    if node.fits_grads:
        return tuple([None if g is None else p._fit_grad(g) for p, g in zip(parents, parts, strict=True)])
    return parts


def walk_backward(root: Node, seed: Any) -> Iterator[tuple[Node, Any, tuple]]:
    r"""Reverse-mode sweep from ``root`` with :math:`\bar{L} =` ``seed``: yields ``(node, adjoint, parts)``.

    Each node that receives a gradient comes once, when its adjoint
    :math:`\bar{v} = \sum_{\text{edges } v \to c} \bar{c}\,\partial c/\partial v` is complete, in reverse
    topological order: op nodes consumers first (by creation index, newest first), then the leaves (newest
    first). ``parts[i]`` is the contribution sent along the edge to ``node.parents[i]`` (``None`` where that
    input needs no gradient; ``()`` for a leaf). Nothing is stored on the nodes: :func:`run_backward` does
    that, drawings only read.
    """
    if root.op is None:
        yield root, seed, ()
        return
    order = backward_order(root)  # the op nodes, every consumer before its inputs; leaves only receive
    adjoint = {root: seed}
    take, get = adjoint.pop, adjoint.get
    node = root
    try:
        for node in order:
            grad = take(node, None)
            if grad is None:  # no contribution arrived (an op whose backward gave none): nothing to send on
                continue
            parts = input_gradients(node, grad)  # ḡ times the op's local derivative, per input edge
            yield node, grad, parts
            for parent, part in zip(node.parents, parts):  # noqa: B905 (same length by construction)
                if part is not None:  # None: that input needs no gradient
                    so_far = get(parent)
                    adjoint[parent] = part if so_far is None else so_far + part  # a*a: both edges add up
    except (ZeroDivisionError, OverflowError) as exc:
        raise backward_domain_error(node, exc) from None
    for leaf in sorted(adjoint, key=_creation_index, reverse=True):  # what is left: the leaves' totals
        yield leaf, adjoint[leaf], ()


def backward_domain_error(node: Node, exc: ArithmeticError) -> DomainError:
    """The one-line error for an op whose local derivative is not finite at ``node`` (both reverse loops)."""
    op_name = node.op.name if node.op is not None else "?"
    return DomainError(f"backward: the derivative of {op_name} at node {node.label()} is not finite "
                       f"(inputs {[p.data for p in node.parents]}): {exc}")


def run_backward(root: Node, seed: Any) -> None:
    """Backpropagate from ``root``: the reverse walk, the engine storing each adjoint in ``.grad``."""
    type(root)._store_adjoints(walk_backward(root, seed))
