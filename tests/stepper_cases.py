"""Graphs the stepper tests walk through, and an engine-side check of a page's steps.

``check_steps`` recomputes every number from the engine (``backward()`` and ``input_gradients``), not from
the stepper: forward values are ``node.data``; each backward step's contribution is the op's VJP at the
consumer's final gradient, its ``total`` the running sum of the contributions seen so far, and a node's
last ``total`` its ``.grad``. It also checks the order: a value sends only after all its paths arrived.
"""

from __future__ import annotations

import math

import numpy as np

import autograd_viz.functional as F
from autograd_viz.commands.graph import build_expression
from autograd_viz.graph import Node, input_gradients, topological_order
from autograd_viz.scalar import Value
from autograd_viz.tensor import Tensor
from autograd_viz.viz.examples import notes_example
from autograd_viz.viz.scene import build_scene
from autograd_viz.viz.style import DrawOptions

REL = 1e-12


def tanh_neuron() -> Value:
    """micrograd's README neuron: o = tanh(x1·w1 + x2·w2 + b), with o.grad = 1 giving w1̄ = 1, x1̄ = −1.5."""
    x1, x2 = Value(2.0, name="x1", role="input"), Value(0.0, name="x2", role="input")
    w1, w2 = Value(-3.0, name="w1", role="param"), Value(1.0, name="w2", role="param")
    b = Value(6.8813735870195432, name="b", role="param")
    n = x1 * w1 + x2 * w2 + b
    n.name = "n"
    o = n.tanh()
    o.name = "o"
    return o


def fan_out() -> Value:
    """``a*a + a`` at a = 2: ā = 1 + 2 + 2 = 5 over three paths."""
    root, _ = build_expression("a*a + a", {"a": 2.0}, set())
    return root


def tensor_mlp(seed: int = 0) -> Tensor:
    """A 3-5-2 ReLU MLP on a batch of 4 into cross-entropy (float64)."""
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal((4, 3)), name="x", role="input")
    w1 = Tensor(rng.standard_normal((3, 5)), requires_grad=True, name="fc1.weight", role="param")
    b1 = Tensor(rng.standard_normal(5), requires_grad=True, name="fc1.bias", role="param")
    w2 = Tensor(rng.standard_normal((5, 2)), requires_grad=True, name="fc2.weight", role="param")
    b2 = Tensor(rng.standard_normal(2), requires_grad=True, name="fc2.bias", role="param")
    h = (x @ w1 + b1).relu()
    loss = F.cross_entropy(h @ w2 + b2, np.array([0, 1, 1, 0]))
    loss.name = "loss"
    return loss


CASES = {"notes": notes_example, "tanh_neuron": tanh_neuron, "fan_out": fan_out, "tensor_mlp": tensor_mlp}


def _close(got: float, want: float) -> bool:
    if math.isnan(want):
        return math.isnan(got)
    return got == want or abs(got - want) <= REL * abs(want)


def _mean(data) -> float:
    return float(np.mean(data)) if isinstance(data, np.ndarray) else float(data)


def check_steps(root: Node, steps: list[dict], max_nodes: int = 2000) -> None:
    """Assert that ``steps`` (from Python or from the page) carry the engine's numbers, in a valid order."""
    for node in topological_order(root):
        node.zero_grad()
    root.backward()
    scene = build_scene(root, DrawOptions(kind="both", max_nodes=max_nodes))
    by_box = {f"n{k}": n for k, n in enumerate(scene.nodes)} | {f"g{k}": n for k, n in enumerate(scene.nodes)}
    forward = [s for s in steps if s["kind"] == "forward"]
    backward = [s for s in steps if s["kind"] == "backward"]
    assert steps == forward + backward, "forward steps come first"
    assert [by_box[s["node"]].index for s in forward] == sorted(by_box[s["node"]].index for s in forward)
    for s in forward:
        node = by_box[s["node"]]
        assert s["edge"] is None
        assert _close(s["value"], _mean(node.data)), (s["text"], s["value"], node.data)
        if "array" in s:
            np.testing.assert_array_equal(np.asarray(s["array"]), np.asarray(node.data, np.float64).reshape(-1))
    assert backward[0]["node"] == f"g{scene.key(root)}" and backward[0]["total"] == 1.0
    running: dict[str, float] = {backward[0]["node"]: 1.0}
    arrays: dict[str, np.ndarray] = {}
    remaining: dict[int, int] = {}
    for node in scene.nodes:
        if node.op is not None:
            for parent in node.parents:
                if parent.requires_grad and scene.drawn(parent):
                    remaining[id(parent)] = remaining.get(id(parent), 0) + 1
    for s in backward[1:]:
        k, i = (int(v) for v in s["edge"][1:].split("_"))
        consumer, parent = scene.nodes[k], scene.nodes[k].parents[int(i)]
        assert s["node"] == f"g{scene.key(parent)}"
        assert remaining.get(id(consumer), 0) == 0, f"{s['text']}: sent before its adjoint was complete"
        part = input_gradients(consumer, consumer.grad)[i]
        assert _close(s["value"], _mean(part)), (s["text"], s["value"], part)
        before = arrays.get(s["node"])
        arrays[s["node"]] = np.asarray(part, np.float64) if before is None else before + part
        running[s["node"]] = _mean(arrays[s["node"]])
        assert _close(s["total"], running[s["node"]]), (s["text"], s["total"], running[s["node"]])
        remaining[id(parent)] -= 1
        if remaining[id(parent)] == 0:
            assert _close(s["total"], _mean(parent.grad)), (s["text"], s["total"], parent.grad)
            if "total_array" in s:
                np.testing.assert_allclose(s["total_array"], np.asarray(parent.grad).reshape(-1), rtol=REL, atol=0)
    assert all(v == 0 for v in remaining.values()), "every drawn path has a step"
