"""The forward graph: one box per value, coloured by role, with the op and its value; inputs used twice get
two edges (``a*a``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import graphviz

from autograd_viz.graph import Node
from autograd_viz.viz.scene import Scene, formula
from autograd_viz.viz.style import (
    MAX_NAME_CHARS,
    DrawOptions,
    esc,
    exact_zero,
    grad_state,
    html_label,
    is_scalar,
    magnitude,
    node_style,
    small,
    summary,
)

_STATE_COLORS = {"vanishing": "#8a8a8a", "exploding": "#c0172d", "zero": "#5a5a5a"}
_STATE_TEXT = {"zero": "exactly zero"}
#: Graphviz's limit for one HTML label; a label past it (very many lines) is cut, never sent to dot
MAX_LABEL_CHARS = 16_000


def forward_id(scene: Scene, node: Node) -> str:
    return f"n{scene.key(node)}"


def forward_label(scene: Scene, node: Node, options: DrawOptions, adjoint: Any = None,
                  adjoints_all: dict[int, Any] | None = None) -> str:
    """HTML label: ``z = a × x₀`` then the value (tensors: shape, dtype, min/mean/max) and, when drawing the
    forward pass alone, the gradient ``∂L/∂z``."""
    name = esc(scene.label(node))
    role = scene.role(node)
    if role == "const":
        return html_label([name])
    if node.op is not None:
        inputs = [scene.label(p) if scene.drawn(p) else "…" for p in node.parents]
        head = f"<B>{name}</B> = {esc(formula(node, inputs))}"
    else:
        head = f"<B>{name}</B>"
    lines = [head]
    if options.show_values:
        values = summary(node.data, options.precision)
        if is_scalar(node.data):
            lines[0] += f" = {values[0]}" if node.op is None else ""
            if node.op is not None:
                lines.append(values[0])
        else:
            lines.extend(small(esc(v)) for v in values)
    if adjoint is not None and options.show_grads:
        text = " · ".join(summary(adjoint, options.precision)[-1:])
        zero = magnitude(adjoint) == 0 and adjoints_all is not None
        state = grad_state(adjoint, options, zero and exact_zero(node, scene.root, adjoints_all or {}))
        # ∂L/∂x rather than an overline: dot 2.43 draws <O> on a later line over the line above it
        line = f"∂{esc(scene.label(scene.root))}/∂{name} = {esc(text)}"
        if state:
            line = f'<FONT COLOR="{_STATE_COLORS[state]}">{line} ({_STATE_TEXT.get(state, state)})</FONT>'
        lines.append(small(line) if not is_scalar(adjoint) else line)
    label = html_label(lines)
    return label if len(label) <= MAX_LABEL_CHARS else html_label([lines[0][:MAX_LABEL_CHARS // 2] + "…"])


def tooltip(node: Node) -> dict[str, str]:
    """``{"tooltip": full name}`` for a node whose name is drawn shortened (SVG shows it on hover)."""
    name = str(node.name or "")
    return {"tooltip": name[:MAX_LABEL_CHARS]} if len(name) > MAX_NAME_CHARS else {}


def add_forward(graph: graphviz.Digraph, scene: Scene, options: DrawOptions,
                adjoints: dict[int, Any] | None = None) -> None:
    """Add every drawn value and its input edges to ``graph`` (in clusters when ``scene.cluster`` says so)."""
    in_clusters(graph, scene, scene.nodes, "f",
                lambda sub, members: _add_nodes(sub, scene, members, options, adjoints))
    for node in scene.nodes:
        child = forward_id(scene, node)
        for parent in node.parents:
            if scene.drawn(parent):
                graph.edge(forward_id(scene, parent), child)
    if scene.hidden:
        graph.node("n_hidden", label=f"⋯ {scene.hidden:,} earlier values not drawn (max_nodes)",
                   **node_style("collapsed"))
        for node in scene.cut:
            graph.edge("n_hidden", forward_id(scene, node), style="dashed")


def _add_nodes(graph: graphviz.Digraph, scene: Scene, nodes: list[Node], options: DrawOptions,
               adjoints: dict[int, Any] | None) -> None:
    for node in nodes:
        adjoint = adjoints.get(id(node)) if adjoints is not None else None
        graph.node(forward_id(scene, node), label=forward_label(scene, node, options, adjoint, adjoints),
                   **node_style(scene.role(node)), **tooltip(node))


def in_clusters(graph: graphviz.Digraph, scene: Scene, nodes: list[Node], prefix: str,
                add: Callable[[graphviz.Digraph, list[Node]], None]) -> None:
    """Call ``add(subgraph, members)`` once per layer cluster (in order of first member), then for the rest."""
    groups: dict[str | None, list[Node]] = {}
    for node in nodes:
        groups.setdefault(scene.cluster.get(id(node)), []).append(node)
    for k, (name, members) in enumerate(groups.items()):
        if name is None:
            add(graph, members)
            continue
        slug = "".join(ch if ch.isalnum() else "_" for ch in name)
        with graph.subgraph(name=f"cluster_{prefix}{k}_{slug}") as sub:
            sub.attr(label=esc(name), style="rounded,dashed", color="#7a7a7a", fontcolor="#555555")
            add(sub, members)
