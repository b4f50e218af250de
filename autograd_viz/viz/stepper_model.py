"""The step-through's model: every forward and backward step of a graph (sentence, numbers, what lights up) and
the per-value details, computed from the engine; the page and the frames draw from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograd_viz.graph import Node, input_gradients, topological_order
from autograd_viz.viz.backward import compute_adjoints
from autograd_viz.viz.scene import Scene, build_scene, formula
from autograd_viz.viz.style import (
    DrawError,
    DrawOptions,
    is_scalar,
    number,
    scalar_of,
    summary,
)

#: Arrays up to this many elements are carried whole in the page (heat map in the details panel).
SMALL_ARRAY = 256
MINUS = "\u2212"


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
