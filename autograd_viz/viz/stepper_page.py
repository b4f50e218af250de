"""The step-through page itself: the Graphviz drawing with ids on every box and edge, the JSON its script reads,
and the self-contained HTML around the SVG (our script and styles inline, no network request).
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from typing import Any

from autograd_viz.graph import Node
from autograd_viz.viz.backward import edge_label
from autograd_viz.viz.forward import in_clusters
from autograd_viz.viz.renderers import Graph, RenderError
from autograd_viz.viz.scene import formula
from autograd_viz.viz.stepper_model import (
    Model,
    _labels,
    _shape,
    backward_id,
    forward_edge_id,
    forward_id,
)
from autograd_viz.viz.style import (
    COLORS,
    bar,
    esc,
    html_label,
    is_scalar,
    node_style,
    small,
)

#: Font colour of the value lines in the page's boxes: the page's CSS hides them until their step is reached.
VALUE_MARK = "#fefefe"
_ASSETS = "stepper_assets"


# --- the page's DOT ---------------------------------------------------------------------------------------------

def page_graph(model: Model, state: dict[str, Any] | None = None) -> Graph:
    """The Graphviz drawing: forward boxes ``n<k>`` over adjoint boxes ``g<k>``, every box, edge and layer
    cluster with an explicit ``id``. ``state`` (frames only) fixes box sizes and colours one step's state."""
    scene, options = model.scene, model.options
    attrs = {"rankdir": options.rankdir, "fontname": "Helvetica", "nodesep": "0.25", "ranksep": "0.45"}
    if state is None and options.title:
        attrs.update(label=esc(options.title), labelloc="t", fontsize="16")
    from autograd_viz.viz import LARGE_GRAPH_ATTRS, NS_ITERATIONS

    count = len(scene.nodes)
    large = count >= options.large_graph
    if large:
        attrs.update(LARGE_GRAPH_ATTRS, nslimit=f"{min(2.0, NS_ITERATIONS / (2 * count)):.3g}", forcelabels="false")
    graph = Graph(name="autograd_viz", graph_attr=attrs,
                  node_attr={"fontname": "Helvetica", "fontsize": "12", "margin": "0.12,0.06"},
                  edge_attr={"fontname": "Helvetica", "fontsize": "10", "arrowsize": "0.7"})
    model.clusters = []
    grads = [n for n in scene.nodes if id(n) in model.adjoint]

    def clustered(sub: Any, members: list[Node], side: str, add: Any) -> None:
        if sub is not graph_part[0]:
            name = scene.cluster[id(members[0])]
            cid = f"c{side}{len(model.clusters)}"
            sub.attr(id=cid)
            model.clusters.append({"id": cid, "name": name, "side": side,
                                   "members": [(forward_id if side == "f" else backward_id)(scene, m)
                                               for m in members]})
        add(sub, members)

    graph_part: list[Any] = [None]

    def forward_part() -> None:
        with graph.subgraph(name="cluster_forward") as sub:
            sub.attr(label="forward pass: values", style="rounded", color="#1f5fbf", fontcolor="#1f5fbf",
                     id="av-forward")
            graph_part[0] = sub
            in_clusters(sub, scene, scene.nodes, "f",
                        lambda s, members: clustered(s, members, "f", lambda s2, m2: _forward_boxes(s2, model, m2,
                                                                                                   state)))
        for node in scene.nodes:
            for i, q in enumerate(node.parents):
                if scene.drawn(q):
                    edge = forward_edge_id(scene, node, i)
                    model.edge_ends[edge] = (forward_id(scene, q), forward_id(scene, node))
                    graph.edge(forward_id(scene, q), forward_id(scene, node), id=edge, **_edge_state(state, edge))
        if scene.hidden:
            graph.node("n_hidden", label=f"⋯ {scene.hidden:,} earlier values not drawn (max_nodes)", id="n_hidden",
                       **node_style("collapsed"))
            for node in scene.cut:
                graph.edge("n_hidden", forward_id(scene, node), style="dashed")

    def backward_part() -> None:
        with graph.subgraph(name="cluster_backward") as sub:
            sub.attr(label="<backward pass: adjoints <O>x</O> = ∂L/∂x, from <O>L</O> = 1>", style="rounded",
                     color="#6f42c1", fontcolor="#6f42c1", id="av-backward")
            graph_part[0] = sub
            in_clusters(sub, scene, grads, "b",
                        lambda s, members: clustered(s, members, "b", lambda s2, m2: _backward_boxes(s2, model, m2,
                                                                                                    state)))
        label_key = "xlabel" if large else "label"
        for step in model.steps:
            if step["kind"] != "backward" or step["edge"] is None:
                continue
            k, i = (int(x) for x in step["edge"][1:].split("_"))
            consumer = scene.nodes[k]
            model.edge_ends[step["edge"]] = (step["node"], step["from"])
            edge_attrs = {"id": step["edge"], "dir": "back", "color": COLORS["adjoint"][1],
                          label_key: edge_label(scene, consumer, i, options)}
            edge_attrs.update(_edge_state(state, step["edge"]))
            graph.edge(step["node"], step["from"], **edge_attrs)
        if scene.hidden:
            graph.node("g_hidden", label=f"⋯ adjoints of {scene.hidden:,} earlier values not drawn", id="g_hidden",
                       **node_style("collapsed"))
            for node in scene.cut:
                if id(node) in model.adjoint:
                    graph.edge("g_hidden", backward_id(scene, node), dir="back", style="dashed")

    parts = (backward_part, forward_part) if options.rankdir in ("LR", "RL") else (forward_part, backward_part)
    for part in parts:
        part()
    return graph


def _value_line(model: Model, element: str, state: dict[str, Any] | None, size: str = "12") -> str:
    """The box's value line: in the page, the longest text it will show in the marker colour (the page's CSS and
    script hide and fill it); in a frame, this step's text or nothing."""
    if state is None:
        return f'<FONT COLOR="{VALUE_MARK}" POINT-SIZE="{size}">{esc(model.longest.get(element, "?"))}</FONT>'
    shown = state["shown"].get(element)
    if shown is None:
        return f'<FONT COLOR="transparent" POINT-SIZE="{size}">{esc(model.longest.get(element, "?"))}</FONT>'
    color = "#c0172d" if state.get("ask") == element else "#111111"
    return f'<FONT COLOR="{color}" POINT-SIZE="{size}">{esc(shown)}</FONT>'


def _box_attrs(model: Model, element: str, role: str, state: dict[str, Any] | None) -> dict[str, str]:
    attrs = node_style(role)
    attrs["id"] = element
    if state is not None:
        size = state["sizes"].get(element)
        if size is not None and element in model.longest:  # boxes whose text changes; the rest keep their label
            attrs.update(width=f"{size[0]:.4f}", height=f"{size[1]:.4f}", fixedsize="true")
        if element == state.get("current"):
            attrs.update(fillcolor="#ffe08a", color="#d9480f")
        elif element not in state["shown"] and role != "const":
            attrs.update(fillcolor="#f4f4f4", color="#bbbbbb", fontcolor="#9a9a9a")
    return attrs


def _forward_boxes(graph: Any, model: Model, nodes: list[Node], state: dict[str, Any] | None) -> None:
    scene = model.scene
    for node in nodes:
        element, role = forward_id(scene, node), scene.role(node)
        name = esc(scene.label(node))
        if role == "const":
            lines = [name] if is_scalar(node.data) else [f"<B>{name}</B>", small(esc(_shape(node.data)))]
        else:
            head = f"<B>{name}</B>"
            if node.op is not None:
                head += f" = {esc(formula(node, _labels(scene, node)))}"
            lines = [head]
            if is_scalar(node.data):
                lines.append(_value_line(model, element, state))
            else:
                lines += [small(esc(f"{_shape(node.data)} {node.data.dtype}")),
                          _value_line(model, element, state, "10")]
        graph.node(element, label=html_label(lines), **_box_attrs(model, element, role, state))


def _backward_boxes(graph: Any, model: Model, nodes: list[Node], state: dict[str, Any] | None) -> None:
    scene = model.scene
    for node in nodes:
        element = backward_id(scene, node)
        role = "loss" if node is scene.root else "param" if scene.role(node) == "param" else "adjoint"
        lines = [f"<B>{bar(esc(scene.label(node)))}</B>"]
        if is_scalar(model.adjoint[id(node)]):
            lines.append(_value_line(model, element, state))
        else:
            lines += [small(esc(_shape(node.data))), _value_line(model, element, state, "10")]
        attrs = _box_attrs(model, element, role, state)
        graph.node(element, label=html_label(lines), **attrs)


def _edge_state(state: dict[str, Any] | None, edge: str) -> dict[str, str]:
    if state is None:
        return {}
    if edge in state["current_edges"]:
        return {"color": "#d9480f", "penwidth": "2.4"}
    if edge not in state["done_edges"]:
        return {"color": "#cccccc", "fontcolor": "#aaaaaa"}
    return {}


# --- the page ---------------------------------------------------------------------------------------------------

def _asset(name: str) -> str:
    return resources.files("autograd_viz.viz").joinpath(_ASSETS, name).read_text("utf-8")


def clean_svg(svg: str) -> str:
    """Graphviz's SVG ready to inline: no XML prolog, doctype or comments, sized by the page (viewBox kept)."""
    start = svg.find("<svg")
    if start < 0:
        raise RenderError("stepper: the renderer returned no SVG")
    svg = svg[start:]
    out, pos = [], 0
    while True:
        begin = svg.find("<!--", pos)
        if begin < 0:
            out.append(svg[pos:])
            break
        out.append(svg[pos:begin])
        end = svg.find("-->", begin)
        pos = len(svg) if end < 0 else end + 3
    svg = "".join(out)
    svg = re.sub(r"<title>[^<]*</title>\n?", "", svg)  # DOT names as tooltips: noise, and 5% of the file
    head_end = svg.find(">")
    head = svg[:head_end]
    for attr in ("width", "height"):
        k = head.find(f' {attr}="')
        if k >= 0:
            stop = head.find('"', k + len(attr) + 3)
            head = head[:k] + head[stop + 1:]
    return head + ' id="av-svg" preserveAspectRatio="xMidYMid meet"' + svg[head_end:]


def page_data(model: Model) -> dict[str, Any]:
    """The JSON the page's script reads (``steps`` is the public contract)."""
    for cluster in model.clusters:
        members = set(cluster["members"])
        cluster["edges"] = [e for e, (tail, head) in model.edge_ends.items() if tail in members or head in members]
    return {"steps": model.steps, "nodes": model.nodes, "clusters": model.clusters, "quiz": model.quiz,
            "mark": VALUE_MARK, "title": model.options.title or ""}


def page_html(model: Model, svg: str) -> str:
    """One self-contained HTML file: the SVG, the data, our script and styles inline; no network request."""
    data = json.dumps(page_data(model), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    data = data.replace("</", "<\\/")
    title = model.options.title or f"autograd_viz: step through backprop of {model.scene.label(model.scene.root)}"
    template = _asset("page.html")
    parts = {"TITLE": html.escape(title), "CSS": _asset("stepper.css"), "SVG": clean_svg(svg), "DATA": data,
             "JS": _asset("stepper.js"), "MODE": "quiz" if model.quiz else "steps"}
    for key, value in parts.items():
        template = template.replace("{{" + key + "}}", value, 1)
    return template
