r"""The backward (adjoint) graph in the notes' notation: a box per :math:`\bar{x} = \partial L/\partial x`
starting from :math:`\bar{L} = 1`, each edge labelled with the op table's local derivative and its number.

The adjoints come from the engine's own reverse walk, :func:`autograd_viz.graph.walk_backward`,
so the drawing is right whether or not ``backward()`` ran, and even after leaves accumulated twice.
Edges are written ``x̄ -> z̄`` with ``dir=back``: the layout runs the same way as the forward graph (a value
sits above its adjoint) while the arrow points back, the way the gradient flows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import graphviz
import numpy as np

from autograd_viz.errors import DomainError
from autograd_viz.graph import Node, input_gradients, walk_backward
from autograd_viz.viz.forward import in_clusters
from autograd_viz.viz.scene import Scene
from autograd_viz.viz.style import (
    COLORS,
    DrawError,
    DrawOptions,
    bar,
    esc,
    exact_zero,
    grad_state,
    html_label,
    is_scalar,
    magnitude,
    node_style,
    number,
    small,
    summary,
)


@dataclass
class Adjoints:
    """:math:`\\bar{x}` per node id, and for drawn nodes each contribution ``(consumer, input index, value)``."""

    value: dict[int, Any] = field(default_factory=dict)
    parts: dict[int, list[tuple[Node, int, Any]]] = field(default_factory=dict)
    edges: dict[tuple[int, int], Any] = field(default_factory=dict)


def compute_adjoints(scene: Scene) -> Adjoints:
    """The engine's own reverse walk over the whole graph (hidden values included, so drawn sums are complete).

    Reads :func:`autograd_viz.graph.walk_backward` and stores nothing on the nodes, so the drawing is right
    whether or not ``backward()`` ran.
    """
    root = scene.root
    if not root.requires_grad:
        raise DrawError("draw: the output does not depend on anything that requires grad, so there is no "
                        "backward graph (use kind='forward')")
    data = root.data
    if isinstance(data, np.ndarray):
        if data.size != 1:
            raise DrawError(f"draw: the backward graph starts from L̄ = 1, so the output must be one number; "
                            f"it has shape {data.shape} (reduce it, e.g. .sum())")
        seed: Any = np.ones_like(data)
    else:
        seed = 1.0
    out = Adjoints()
    try:
        for node, adjoint, parts in walk_backward(root, seed):
            out.value[id(node)] = adjoint
            if not scene.drawn(node):
                continue
            for i, (parent, part) in enumerate(zip(node.parents, parts, strict=True)):
                if part is not None and scene.drawn(parent):
                    out.parts.setdefault(id(parent), []).append((node, i, part))
                    out.edges[(id(node), i)] = part
    except DomainError as exc:
        raise DomainError(f"draw: {exc}".replace("draw: backward: ", "draw: ")) from None
    return out


def backward_id(scene: Scene, node: Node) -> str:
    return f"g{scene.key(node)}"


def adjoint_label(scene: Scene, node: Node, adjoints: Adjoints, options: DrawOptions) -> str:
    """``x̄ = 0.118`` (tensors: shape and min/mean/max); a value used by several ops adds the sum of parts."""
    name = bar(esc(scene.label(node)))
    value = adjoints.value[id(node)]
    parts = sorted(adjoints.parts.get(id(node), []), key=lambda t: (t[0].index, t[1]))
    lines = [f"<B>{name}</B>"]
    scalar = is_scalar(value)
    if options.show_grads:
        text = summary(value, options.precision)
        if scalar:
            lines[0] += f" = {text[0]}"
        else:
            lines.extend(small(esc(t)) for t in text)
    if len(parts) > 1:
        if scalar and options.show_grads:
            terms = " + ".join(number(_float(p), options.precision) for _, _, p in parts)
            lines.append(small(f"= {esc(terms)}"))
        else:
            lines.append(small(f"sum of {len(parts)} contributions"))
    state = grad_state(value, options, magnitude(value) == 0 and exact_zero(node, scene.root, adjoints.value))
    if state:
        lines.append(small("exactly zero" if state == "zero" else state))
    return html_label(lines)


def edge_label(scene: Scene, consumer: Node, i: int, options: DrawOptions) -> str:
    """The local derivative ``∂z/∂a = x₀`` (scalars: ``= 2``); tensor VJPs name the upstream ``z̄``."""
    op = consumer.op
    assert op is not None
    labels = [scene.label(p) if scene.drawn(p) else "…" for p in consumer.parents]
    out, name = scene.label(consumer), scene.label(consumer.parents[i])
    attrs = {k: v for k, v in (consumer.attrs or {}).items() if not isinstance(v, np.ndarray)}
    try:
        text = op.local_derivative(i, labels, out, attrs)
    except (KeyError, IndexError):
        text = op.derivatives[i]
    text = esc(text).replace("ḡ", bar(esc(out)))
    parent = consumer.parents[i]
    if op.elementwise or "ḡ" not in op.derivatives[i]:
        line = f"∂{esc(out)}/∂{esc(name)} = {text}"
    else:
        line = f"{bar(esc(name))} += {text}"
    lines = [line]
    if options.show_grads and isinstance(consumer.data, float):
        local = input_gradients(consumer, 1.0)[i]
        if local is not None:
            shown = number(local, options.precision)
            if shown != text.replace("−", "-"):
                lines[0] += f" = {shown}"
    if isinstance(parent.data, np.ndarray) and op.elementwise and parent.data.shape != consumer.data.shape:
        lines.append(small(f"Σ over broadcast axes: {tuple(consumer.data.shape)} → {tuple(parent.data.shape)}"))
    return html_label(lines)


def _float(value: Any) -> float:
    return float(np.asarray(value).reshape(-1)[0])


def add_backward(graph: graphviz.Digraph, scene: Scene, adjoints: Adjoints, options: DrawOptions) -> None:
    """Add an adjoint box per drawn value that has a gradient, and an edge per (consumer, input) pair."""
    nodes = [n for n in scene.nodes if id(n) in adjoints.value]

    def add(sub: graphviz.Digraph, members: list[Node]) -> None:
        for node in members:
            value = adjoints.value[id(node)]
            state = grad_state(value, options, magnitude(value) == 0 and exact_zero(node, scene.root, adjoints.value))
            role = "loss" if node is scene.root else state or ("param" if scene.role(node) == "param" else "adjoint")
            attrs = node_style(role)
            if role == "loss":
                attrs["fillcolor"] = COLORS["loss"][0]
            sub.node(backward_id(scene, node), label=adjoint_label(scene, node, adjoints, options), **attrs)

    in_clusters(graph, scene, nodes, "b", add)
    # Large graphs: ``xlabel`` is placed after layout, while a ``label`` adds a virtual node per edge (≈3x slower).
    label_key = "xlabel" if len(scene.nodes) >= options.large_graph else "label"
    for node in nodes:
        if node.op is None:
            continue
        for i, parent in enumerate(node.parents):
            part = adjoints.edges.get((id(node), i))
            if part is None:
                continue
            graph.edge(backward_id(scene, parent), backward_id(scene, node), dir="back",
                       color=COLORS["adjoint"][1], **{label_key: edge_label(scene, node, i, options)})
    if scene.hidden:
        graph.node("g_hidden", label=f"⋯ adjoints of {scene.hidden:,} earlier values not drawn",
                   **node_style("collapsed"))
        for node in scene.cut:
            if id(node) in adjoints.value:
                graph.edge("g_hidden", backward_id(scene, node), dir="back", style="dashed")
