r"""Step through backprop: one self-contained HTML page per graph (forward node by node, then backward edge by
edge as "upstream gradient times local derivative", with running sums where paths meet).

>>> from autograd_viz.viz.examples import notes_example
>>> from autograd_viz.viz.stepper import Stepper
>>> page = Stepper(notes_example())
>>> page.steps[4]["text"]
'z = v₁ + b = 1 + (−1) = 0'
>>> page.save("page.html")  # doctest: +SKIP

The page defines ``window.autogradViz`` (``steps``, ``index``, ``next()``, ``prev()``, ``goto(i)``), shows the
current sentence in ``#av-step-text`` and makes no network request (its Content-Security-Policy forbids them).
Numbers in ``steps`` come from the engine: forward values are ``node.data``, each backward contribution is the
op's VJP (:func:`autograd_viz.graph.input_gradients`) and ``total`` the running sum in backward-sweep order.
Tensor steps carry the mean of the array as ``value``/``total`` (and the whole array in ``array`` when small).
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from autograd_viz.errors import StepperError
from autograd_viz.graph import Node, input_gradients, topological_order
from autograd_viz.io import atomic_write_text
from autograd_viz.viz.backward import compute_adjoints, edge_label
from autograd_viz.viz.forward import in_clusters
from autograd_viz.viz.renderers import DEFAULT_TIMEOUT, Graph, RenderError, render
from autograd_viz.viz.scene import Scene, build_scene, formula
from autograd_viz.viz.style import (
    COLORS,
    DrawError,
    DrawOptions,
    bar,
    esc,
    html_label,
    is_scalar,
    node_style,
    number,
    scalar_of,
    small,
    summary,
)

#: Font colour of the value lines in the page's boxes: the page's CSS hides them until their step is reached.
VALUE_MARK = "#fefefe"
#: Arrays up to this many elements are carried whole in the page (heat map in the details panel).
SMALL_ARRAY = 256
MINUS = "\u2212"
PAGE_SUFFIXES = (".html", ".htm")
ANIMATION_SUFFIXES = (".gif",)
_ASSETS = "stepper_assets"


# --- text ----------------------------------------------------------------------------------------------------

def overline(label: str) -> str:
    """The notes' adjoint x̄ in plain text: a combining overline after every character (``z`` -> ``z̅``)."""
    return "".join(ch + "\u0305" for ch in label)


def adjoint_name(label: str, root: str) -> str:
    """x̄ for short names (``z̅``, ``v̅₁̅``); ``∂L/∂fc1.weight`` for long or dotted ones, where a bar reads badly."""
    base = label.rstrip("₀₁₂₃₄₅₆₇₈₉")
    if "." in label or len(base) > 3:
        return f"∂{root}/∂{label}"
    return overline(label)


def num(value: float, precision: int) -> str:
    """A number as the page writes it: ``precision`` significant digits and a real minus sign."""
    return number(value, precision).replace("-", MINUS)


def operand(value: float, precision: int) -> str:
    """A number substituted into a formula: negatives in parentheses, ``1 + (−1)``."""
    text = num(value, precision)
    return f"({text})" if text.startswith(MINUS) else text


def _stats(data: Any, precision: int) -> str:
    lines = summary(data, precision)
    return " · ".join(lines[1:]).replace("-", MINUS) if len(lines) > 1 else ""


def _lines(data: Any, precision: int) -> list[str]:
    return [line.replace("-", MINUS) for line in summary(data, precision)]


def _shape(data: Any) -> str:
    return str(tuple(np.shape(data)))


def _mean(data: Any) -> float:
    return scalar_of(data) if is_scalar(data) else float(np.mean(data))


# --- the model: steps and per-value details ---------------------------------------------------------------------

@dataclass
class Model:
    """Everything the page shows, before it is drawn: the scene, the steps, and per-value details."""

    scene: Scene
    options: DrawOptions
    quiz: bool
    steps: list[dict[str, Any]] = field(default_factory=list)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    adjoint: dict[int, Any] = field(default_factory=dict)
    longest: dict[str, str] = field(default_factory=dict)  # svg id -> longest text its value line shows
    clusters: list[dict[str, Any]] = field(default_factory=list)
    edge_ends: dict[str, tuple[str, str]] = field(default_factory=dict)  # edge id -> (tail box, head box)


def forward_id(scene: Scene, node: Node) -> str:
    """The forward box's id in the page's SVG (``n<k>``, as in the static drawings' DOT)."""
    return f"n{scene.key(node)}"


def backward_id(scene: Scene, node: Node) -> str:
    """The adjoint box's id (``g<k>``, as in the static drawings' DOT)."""
    return f"g{scene.key(node)}"


def forward_edge_id(scene: Scene, consumer: Node, i: int) -> str:
    """The forward edge from input ``i`` into ``consumer``: ``f<k>_<i>`` (``a*a`` has two)."""
    return f"f{scene.key(consumer)}_{i}"


def backward_edge_id(scene: Scene, consumer: Node, i: int) -> str:
    """The backward edge carrying input ``i``'s contribution out of ``consumer``: ``b<k>_<i>``."""
    return f"b{scene.key(consumer)}_{i}"


def _number_or_str(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)  # "nan"/"inf" are turned back into numbers by the page


def _array(data: Any) -> list | None:
    if is_scalar(data) or data.size > SMALL_ARRAY:
        return None
    return [_number_or_str(float(v)) for v in np.asarray(data, dtype=np.float64).reshape(-1)]


def _value_fields(data: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if not is_scalar(data):
        fields["shape"] = list(np.shape(data))
        small_array = _array(data)
        if small_array is not None:
            fields["array"] = small_array
    return fields


def _box_text(data: Any, precision: int) -> str:
    """What a box's value line shows: the number, or min/mean/max of an array."""
    return num(scalar_of(data), precision) if is_scalar(data) else _stats(data, precision) or _shape(data)


def build_model(root: Node, options: DrawOptions, quiz: bool = False) -> Model:
    """Walk the graph once forward and once backward (reverse creation order) and write one step per node /
    per (consumer, input) edge, each with the engine's numbers."""
    scene = build_scene(root, options)
    adjoints = compute_adjoints(scene)  # validates the root (requires grad, one number) with the drawings' errors
    model = Model(scene=scene, options=options, quiz=quiz)
    p = options.precision
    for node in scene.nodes:
        _add_info(model, node)
        if scene.role(node) == "const":
            continue
        model.steps.append(_forward_step(model, node))
    _backward_steps(model, root)
    for node in scene.nodes:  # final adjoints, checked against the drawings' sweep
        if id(node) in model.adjoint:
            info = model.nodes[forward_id(scene, node)]
            info["grad"] = _lines(model.adjoint[id(node)], p)
            expected = adjoints.value.get(id(node))
            if expected is not None and not np.allclose(expected, model.adjoint[id(node)], rtol=1e-12, atol=0,
                                                        equal_nan=True):
                raise DrawError(f"stepper: adjoint of {scene.label(node)} disagrees with compute_adjoints")
    return model


def _labels(scene: Scene, node: Node) -> list[str]:
    return [scene.label(q) if scene.drawn(q) else "…" for q in node.parents]


def _add_info(model: Model, node: Node) -> None:
    scene, p = model.scene, model.options.precision
    role = scene.role(node)
    info: dict[str, Any] = {"label": scene.label(node), "role": role, "value": _lines(node.data, p)}
    if node.op is not None:
        info["op"] = node.op.name
        info["formula"] = f"{scene.label(node)} = {formula(node, _labels(scene, node))}"
        info["locals"] = [_local_text(model, node, i) for i in range(len(node.parents))]
    if not is_scalar(node.data):
        info["shape"] = list(np.shape(node.data))
        info["dtype"] = str(node.data.dtype)
        small_array = _array(node.data)
        if small_array is not None and node.data.ndim <= 2:
            info["array"] = small_array
    model.nodes[forward_id(scene, node)] = info


def _local_text(model: Model, node: Node, i: int) -> list[str]:
    """``[input label, derivative text, its number or ""]`` for the details panel."""
    scene = model.scene
    op = node.op
    assert op is not None
    text = _derivative(scene, node, i)
    value = ""
    if isinstance(node.data, float) and node.parents[i].requires_grad:
        local = input_gradients(node, 1.0)[i]
        if local is not None:
            value = num(local, model.options.precision)
    return [scene.label(node.parents[i]) if scene.drawn(node.parents[i]) else "…", text, value]


def _derivative(scene: Scene, node: Node, i: int) -> str:
    """The op table's local derivative of ``node`` w.r.t. input ``i`` with the inputs' names; ḡ -> the
    consumer's adjoint."""
    op = node.op
    assert op is not None
    attrs = {k: v for k, v in (node.attrs or {}).items() if not isinstance(v, np.ndarray)}
    try:
        text = op.local_derivative(i, _labels(scene, node), scene.label(node), attrs)
    except (KeyError, IndexError):
        text = op.derivatives[i]
    return text.replace("ḡ", adjoint_name(scene.label(node), scene.label(scene.root)))


def _forward_step(model: Model, node: Node) -> dict[str, Any]:
    scene, p = model.scene, model.options.precision
    name, data = scene.label(node), node.data
    nid = forward_id(scene, node)
    if node.op is None:
        kind = {"param": "parameter", "input": "input"}.get(scene.role(node), "input")
        if is_scalar(data):
            text = f"{name} = {num(scalar_of(data), p)} ({kind})"
        else:
            text = f"{name}: {kind} {_shape(data)} {data.dtype}; {_stats(data, p)}"
        inputs: list[str] = []
    else:
        labels = _labels(scene, node)
        symbolic = formula(node, labels)
        if is_scalar(data) and all(is_scalar(q.data) for q in node.parents):
            numbers = [operand(scalar_of(q.data), p) if scene.drawn(q) else "…" for q in node.parents]
            text = f"{name} = {symbolic} = {formula(node, numbers)} = {num(scalar_of(data), p)}"
        else:
            shapes = ", ".join(_shape(q.data) for q in node.parents)
            result = num(scalar_of(data), p) if is_scalar(data) else _stats(data, p)
            text = f"{name} = {symbolic}: {shapes} → {_shape(data)}; {result}"
        inputs = [forward_edge_id(scene, node, i) for i, q in enumerate(node.parents) if scene.drawn(q)]
    shown = _box_text(data, p)
    _longest(model, nid, shown)
    step = {"kind": "forward", "node": nid, "edge": None, "text": text,
            "value": _number_or_str(_mean(data)), "total": None, "inputs": inputs, "shown": shown}
    step.update(_value_fields(data))
    return step


def _longest(model: Model, element: str, text: str) -> None:
    if len(text) > len(model.longest.get(element, "")):
        model.longest[element] = text


def _backward_steps(model: Model, root: Node) -> None:
    """The reverse sweep: consumers in reverse creation order, so a node's adjoint is complete before it sends."""
    scene, p = model.scene, model.options.precision
    seed: Any = np.ones_like(root.data) if isinstance(root.data, np.ndarray) else 1.0
    adjoint = model.adjoint
    adjoint[id(root)] = seed
    rid = backward_id(scene, root)
    rname = scene.label(root)
    shown = _box_text(seed, p)
    _longest(model, rid, shown)
    model.steps.append({"kind": "backward", "node": rid, "edge": None,
                        "text": f"{adjoint_name(rname, rname)} = 1: the backward pass starts at the output "
                                f"(∂{rname}/∂{rname} = 1)",
                        "value": 1.0, "total": 1.0, "shown": shown, "complete": True})
    order = topological_order(root)
    # how many contributions each drawn value will receive (for "all n paths"), from drawn values or not
    expected: dict[int, int] = {}
    for node in order:
        if node.op is None:
            continue
        for q in node.parents:
            if q.requires_grad and scene.drawn(q):
                expected[id(q)] = expected.get(id(q), 0) + 1
    received: dict[int, list[tuple[Node, Any]]] = {}
    for node in reversed(order):
        grad = adjoint.get(id(node))
        if grad is None or node.op is None:
            continue
        parts = input_gradients(node, grad)
        for i, (parent, part) in enumerate(zip(node.parents, parts, strict=True)):
            if part is None:
                continue
            previous = adjoint.get(id(parent))
            adjoint[id(parent)] = part if previous is None else previous + part
            if not scene.drawn(parent):
                continue
            got = received.setdefault(id(parent), [])
            got.append((node, part))
            if scene.drawn(node):
                model.steps.append(_backward_step(model, node, i, parent, grad, part, previous, got,
                                                  expected.get(id(parent), 1)))
            else:  # a path through values cut by max_nodes: its contribution still counts, without an edge
                model.steps.append(_hidden_step(model, parent, part, got, expected.get(id(parent), 1)))


def _hidden_step(model: Model, parent: Node, part: Any, got: list[tuple[Node, Any]], expected: int) -> dict[str, Any]:
    scene, p = model.scene, model.options.precision
    total = model.adjoint[id(parent)]
    pbar = adjoint_name(scene.label(parent), scene.label(scene.root))
    complete = len(got) >= expected
    text = f"{pbar} += {_box_text(part, p)} through values not drawn (max_nodes)"
    if is_scalar(total) and len(got) > 1:
        text += f"; {pbar} = {' + '.join(operand(scalar_of(g), p) for _, g in got)} = {num(scalar_of(total), p)}"
    if complete and len(got) > 1:
        text += f" (all {len(got)} paths)"
    shown = _box_text(total, p)
    bid = backward_id(scene, parent)
    _longest(model, bid, shown)
    step = {"kind": "backward", "node": bid, "edge": None, "text": text, "value": _number_or_str(_mean(part)),
            "total": _number_or_str(_mean(total)), "shown": shown, "complete": complete}
    step.update(_value_fields(part))
    return step


def _backward_step(model: Model, consumer: Node, i: int, parent: Node, upstream: Any, part: Any,
                   previous: Any, got: list[tuple[Node, Any]], expected: int) -> dict[str, Any]:
    scene, p = model.scene, model.options.precision
    total = model.adjoint[id(parent)]
    pname, cname = scene.label(parent), scene.label(consumer)
    pbar, cbar = adjoint_name(pname, scene.label(scene.root)), adjoint_name(cname, scene.label(scene.root))
    derivative = _derivative(scene, consumer, i)
    op = consumer.op
    assert op is not None
    complete = len(got) >= expected
    scalar = is_scalar(part) and is_scalar(upstream) and is_scalar(consumer.data)
    quiz: dict[str, Any] | None = None
    if scalar:
        local = input_gradients(consumer, _one_like(upstream))[i]
        u, c = scalar_of(upstream), scalar_of(part)
        lval = scalar_of(local) if local is not None else c / u if u else 0.0
        text = f"{pbar} += {cbar} · {derivative} = {num(u, p)} × {operand(lval, p)} = {num(c, p)}"
        if len(got) > 1:
            terms = " + ".join(operand(scalar_of(g), p) for _, g in got)
            text += f"; {pbar} = {terms} = {num(scalar_of(total), p)}"
            if complete:
                text += f" (all {len(got)} paths)"
        if model.quiz:
            quiz = _quiz(scene, pbar, cbar, pname, cname, derivative, u, lval, c, previous, total, got, complete, p)
    else:
        if cbar in derivative or not op.elementwise:
            sentence = f"{pbar} += {derivative}"
        else:
            sentence = f"{pbar} += {cbar} · {derivative}"
        sentence += f" → {_shape(part)}"
        pshape, cshape = np.shape(parent.data), np.shape(consumer.data)
        if op.elementwise and pshape != cshape:
            axes = "the broadcast batch axis" if len(cshape) == len(pshape) + 1 else "the broadcast axes"
            sentence += f", Σ over {axes}: {tuple(cshape)} → {tuple(pshape)}"
        sentence += f"; contribution {_box_text(part, p)}"
        if len(got) > 1:
            sentence += f"; {pbar} = sum of {len(got)} contributions" + (" (all paths)" if complete else " so far")
        text = sentence
    shown = _box_text(total, p)
    bid = backward_id(scene, parent)
    _longest(model, bid, shown)
    step: dict[str, Any] = {"kind": "backward", "node": bid, "edge": backward_edge_id(scene, consumer, i),
                            "text": text, "value": _number_or_str(_mean(part)),
                            "total": _number_or_str(_mean(total)), "shown": shown, "complete": complete,
                            "from": backward_id(scene, consumer)}
    step.update(_value_fields(part))
    if not is_scalar(total):
        small_total = _array(total)
        if small_total is not None:
            step["total_array"] = small_total
    if quiz is not None and model.quiz:
        step["quiz"] = quiz
    return step


def _one_like(value: Any) -> Any:
    return np.ones_like(value) if isinstance(value, np.ndarray) else 1.0


def _quiz(scene: Scene, pbar: str, cbar: str, pname: str, cname: str, derivative: str, u: float, local: float,
          c: float, previous: Any, total: Any, got: list[tuple[Node, Any]], complete: bool,
          p: int) -> dict[str, Any]:
    """The question for a scalar backward step and the wrong answers we can name, each with its hint."""
    answer = scalar_of(total)
    hints: list[tuple[float, str]] = []
    prev = scalar_of(previous) if previous is not None else None
    if complete and len(got) > 1:  # the most specific hint first: the page shows the first that matches
        for node, part in got[:-1]:
            hints.append((answer - scalar_of(part), f"{pbar} is missing the path through {scene.label(node)}"))
    if prev is not None:
        hints.append((c, f"{pbar} is a sum over every path: add this contribution to the "
                         f"{num(prev, p)} that {pbar} already holds"))
        hints.append((prev, f"{pbar} has not changed yet: add {cbar} · {derivative} = {num(c, p)}"))
        hints.append((prev - c, f"check the sign of the local derivative {derivative}"))
    hints.append((-answer, f"check the sign of the local derivative {derivative}"
                           + (f" (= {num(local, p)})" if derivative != num(local, p) else "")))
    if not math.isclose(local, 1.0):
        hints.append((u if prev is None else prev + u,
                      f"multiply the upstream gradient {cbar} by the local derivative ∂{cname}/∂{pname} = "
                      f"{derivative}"))
    if not math.isclose(u, 1.0):
        hints.append((local if prev is None else prev + local,
                      f"that is the local derivative alone; multiply it by the upstream gradient {cbar} = "
                      f"{num(u, p)}"))
    kept: list[list[Any]] = []
    for v, h in hints:
        if math.isfinite(v) and not _close(v, answer) and not any(_close(v, float(k[0])) for k in kept):
            kept.append([v, h])
    generic = (f"{pbar} += {cbar} × ∂{cname}/∂{pname}, with {cbar} = {num(u, p)} and ∂{cname}/∂{pname} = "
               f"{derivative} = {num(local, p)}" + (f", added to the {num(prev, p)} already in {pbar}"
                                                     if prev is not None else ""))
    return {"ask": f"{pbar} += {cbar} · {derivative}. What is {pbar} now?", "answer": _number_or_str(answer),
            "hints": kept, "hint": generic}


def _close(a: float, b: float) -> bool:
    """The page's tolerance for a typed answer (kept in sync with ``close`` in stepper.js)."""
    return abs(a - b) <= 5e-3 * abs(b) + 1e-9


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


class Stepper:
    """The step-through page of ``root``'s backprop: ``save("page.html")``, ``save("steps.gif")``,
    ``save_frames(dir)``; shows inline in Jupyter (an iframe, no server)."""

    def __init__(self, root: Node, *, quiz: bool = False, rankdir: str = "LR", precision: int = 4,
                 max_nodes: int = 2000, clusters: Any = "prefix", title: str | None = None,
                 large_graph: int = 300, renderer: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.options = DrawOptions(kind="both", rankdir=rankdir, precision=precision, max_nodes=max_nodes,
                                   clusters=clusters, title=title, large_graph=large_graph)
        self.model = build_model(root, self.options, quiz=quiz)
        self.renderer = renderer
        self.timeout = timeout
        self._svg: str | None = None

    @property
    def steps(self) -> list[dict[str, Any]]:
        """The page's ``window.autogradViz.steps`` (forward steps, then backward steps)."""
        return self.model.steps

    def graph(self) -> Graph:
        """The page's Graphviz drawing (DOT), with ids on boxes, edges and clusters."""
        return page_graph(self.model)

    def svg(self) -> str:
        """The laid-out drawing (rendered once, then kept)."""
        if self._svg is None:
            self._svg = render(self.graph(), "svg", self.renderer, self.timeout).decode("utf-8")
        return self._svg

    def html(self) -> str:
        """The page as one string."""
        return page_html(self.model, self.svg())

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page (``.html``/``.htm``) or the animated walk-through (``.gif``), atomically."""
        target = Path(path)
        suffix = target.suffix.lower()
        if suffix in PAGE_SUFFIXES:
            atomic_write_text(target, self.html())
            return target
        if suffix in ANIMATION_SUFFIXES:
            from autograd_viz.viz.stepper_frames import save_gif

            return save_gif(self, target)
        raise StepperError(f"stepper: cannot tell what to write to {str(target)!r}; use .html (the page) or "
                           f".gif (the animation), or save_frames(DIR) for PNGs")

    def save_frames(self, directory: str | os.PathLike) -> list[Path]:
        """One PNG per step in ``directory`` (``step_000.png``, ...)."""
        from autograd_viz.viz.stepper_frames import save_frames

        return save_frames(self, Path(directory))

    def _repr_html_(self) -> str:
        page = html.escape(self.html(), quote=True)
        return (f'<iframe srcdoc="{page}" style="width:100%;height:640px;border:1px solid #ddd" '
                f'sandbox="allow-scripts" title="autograd_viz stepper"></iframe>')


def stepper_from_graph(graph: Any, **kwargs: Any) -> Stepper:
    """The page for a drawing made by :func:`autograd_viz.draw` (same root and options)."""
    made = getattr(graph, "stepper_source", None)
    if made is None:
        raise StepperError("stepper: this drawing does not know its graph (only drawings made by "
                           "autograd_viz.draw can be saved as .html); use Stepper(root).save(path)")
    root, options = made
    settings = {"rankdir": options.rankdir, "precision": options.precision, "max_nodes": options.max_nodes,
                "clusters": options.clusters, "title": options.title, "large_graph": options.large_graph}
    settings.update(kwargs)
    return Stepper(root, **settings)


def is_stepper_output(path: str | os.PathLike | None) -> bool:
    """True for the suffixes the stepper writes (``.html``, ``.htm``, ``.gif``)."""
    return path is not None and Path(path).suffix.lower() in PAGE_SUFFIXES + ANIMATION_SUFFIXES


def write_outputs(root: Node, output: str | None, frames: str | None, *, quiz: bool = False,
                  **kwargs: Any) -> list[str]:
    """What ``autograd-viz graph`` does for ``-o page.html``/``-o steps.gif``/``--frames DIR``/``--quiz``;
    returns the lines to print."""
    if quiz and not (output is not None and Path(output).suffix.lower() in PAGE_SUFFIXES):
        raise StepperError("--quiz makes a page: add -o QUIZ.html")
    stepper = Stepper(root, quiz=quiz, **kwargs)
    lines = []
    if output is not None and is_stepper_output(output):
        written = stepper.save(output)
        what = "quiz page" if quiz else "page" if written.suffix.lower() in PAGE_SUFFIXES else "animation"
        lines.append(f"wrote {written} ({what}, {len(stepper.steps)} steps)")
    if frames is not None:
        pngs = stepper.save_frames(frames)
        lines.append(f"wrote {len(pngs)} frames to {frames}")
    return lines


__all__ = ["Model", "Stepper", "StepperError", "build_model", "is_stepper_output", "page_html", "stepper_from_graph",
           "write_outputs"]
