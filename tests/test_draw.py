"""What the drawings contain: nodes, colours, edges, tensor summaries, options, clusters, the node cap."""

from __future__ import annotations

import re

import numpy as np
import pytest

import autograd_viz
from autograd_viz import Tensor, Value
from autograd_viz.viz import DrawError, Graph, draw
from autograd_viz.viz.examples import notes_example, tensor_example
from autograd_viz.viz.style import COLORS, pretty_name


def _node_lines(source: str, prefix: str) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in re.finditer(rf"^\s*({prefix}\d+) \[.*$", source, flags=re.M)}


def _edges(source: str, prefix: str) -> list[tuple[str, str]]:
    return re.findall(rf"^\s*({prefix}\d+) -> ({prefix}\d+)", source, flags=re.M)


def test_draw_is_exported_with_save() -> None:
    assert autograd_viz.draw is draw
    assert callable(draw.save) and callable(draw.render)
    assert isinstance(draw(notes_example(), kind="forward"), Graph)


def test_forward_has_one_node_per_value_with_role_colours() -> None:
    loss = notes_example()
    nodes = _node_lines(draw(loss, kind="forward").source, "n")
    assert len(nodes) == len(autograd_viz.topological_order(loss))
    by_name = {re.search(r"<B>([^<]+)</B>|label=<([^<>]+)>", line).group(1) or "const": line
               for line in nodes.values()}
    assert COLORS["param"][0] in by_name["a"] and COLORS["param"][0] in by_name["b"]
    assert COLORS["input"][0] in by_name["x₀"] and COLORS["input"][0] in by_name["y₀"]
    assert COLORS["loss"][0] in by_name["L"]
    assert "shape=plain" in by_name["const"]  # the ½ constant
    assert "σ(z)" in by_name["y"] and "a × x₀" in "".join(nodes.values())


def test_repeated_input_is_drawn_as_repeated_edges() -> None:
    a = Value(2.0, name="a")
    source = draw(a * a, kind="both").source
    assert _edges(source, "n").count(("n0", "n1")) == 2
    assert _edges(source, "g").count(("g0", "g1")) == 2


def test_backward_edges_carry_local_derivatives_from_the_op_table() -> None:
    source = draw(notes_example(0.5, -1.0, 2.0, 1.0), kind="backward").source
    assert "∂y/∂z = σ(z)(1−σ(z)) = 0.25" in source
    assert "∂v₁/∂a = x₀ = 2" in source
    assert "dir=back" in source
    assert not _node_lines(source, "n")  # backward only: no forward boxes


def test_backward_does_not_depend_on_accumulated_leaf_grads() -> None:
    loss = notes_example(0.7, -0.3, 1.5, 0.2)
    before = draw(loss, kind="backward").source
    loss.backward()
    loss.backward()  # leaves now hold twice the gradient
    assert draw(loss, kind="backward").source == before


def test_tensor_boxes_show_shape_dtype_and_statistics_not_arrays() -> None:
    loss = tensor_example()
    source = draw(loss, kind="both").source
    assert "(4, 3) float64" in source and "(3, 2) float64" in source
    w = loss.parents[0].parents[0].parents[0].parents[1]
    assert w.name == "fc1.weight"
    assert f"min {w.data.min():.4g}" in source and f"max {w.data.max():.4g}" in source
    assert "[[" not in source
    assert "Σ over broadcast axes: (4, 2) → (2,)" in source  # the bias gradient is reduced over the batch
    assert "<O>v₁</O> @ fc1.weightᵀ" not in source  # x needs no gradient ...
    assert "<O>fc1.weight</O> += xᵀ @ <O>v₁</O>" in source  # ... the weight's VJP names the upstream adjoint


def test_dot_is_deterministic_and_independent_of_earlier_nodes() -> None:
    first = draw(notes_example(), kind="both").source
    [Value(float(i)) for i in range(1000)]  # shift the global creation counter
    assert draw(notes_example(), kind="both").source == first


def test_options_change_the_drawing() -> None:
    loss = notes_example(0.7, -0.3, 1.5, 0.2)
    tb, lr = draw(loss, rankdir="TB").source, draw(loss, rankdir="LR").source
    assert "rankdir=TB" in tb and "rankdir=LR" in lr
    # forward pass on the left (TB) or on top (LR: dot stacks clusters bottom-up, so it comes second)
    assert tb.index("cluster_forward") < tb.index("cluster_backward")
    assert lr.index("cluster_backward") < lr.index("cluster_forward")
    y = 1 / (1 + np.exp(-(0.7 * 1.5 - 0.3)))
    assert f"{y:.7g}" in draw(loss, kind="forward", precision=7).source
    assert f"{y:.7g}" not in draw(loss, kind="forward", precision=3).source
    hidden = draw(loss, kind="forward", show_values=False, show_grads=False).source
    assert f"{y:.3g}" not in hidden and "∂L/∂" not in hidden
    bare = draw(loss, kind="backward", show_grads=False).source
    assert not re.search(r"</O></B> = ", bare) and "σ(z)(1−σ(z))" in bare
    with pytest.raises(DrawError, match="kind"):
        draw(loss, kind="sideways")
    with pytest.raises(DrawError, match="rankdir"):
        draw(loss, rankdir="XY")
    with pytest.raises(DrawError, match="precision"):
        draw(loss, precision=0)


@pytest.mark.parametrize("weight,state", [(60.0, "vanishing"), (1e4, "exploding")])
def test_vanishing_and_exploding_gradients_are_coloured(weight: float, state: str) -> None:
    w = Value(weight, name="w", role="param")
    x = Value(1.0, name="x", requires_grad=False)
    loss = (w * x).sigmoid() if state == "vanishing" else (w * w)
    line = _node_lines(draw(loss, kind="backward").source, "g")["g0"]
    assert COLORS[state][0] in line and state in line
    quiet = _node_lines(draw(loss, kind="backward", vanishing=None, exploding=None).source, "g")["g0"]
    assert COLORS[state][0] not in quiet


def test_layers_are_clustered_by_prefix_or_mapping() -> None:
    loss = tensor_example()
    source = draw(loss, kind="forward").source
    cluster = re.search(r"subgraph cluster_f\d+_fc1 \{(.*?)\}", source, flags=re.S).group(1)
    assert "fc1.weight" in cluster and "fc1.bias" in cluster and "relu" in cluster and "x @" in cluster
    assert "<B>x</B>" not in cluster and "<B>L</B>" not in cluster
    assert "subgraph cluster" not in draw(loss, kind="forward", clusters=None).source
    x = loss.parents[0].parents[0].parents[0].parents[0]
    mapped = draw(loss, kind="forward", clusters={"data": [x]}).source
    assert re.search(r"subgraph cluster_f\d+_data \{[^}]*label=data[^}]*<B>x</B>", mapped)
    with pytest.raises(DrawError, match="clusters"):
        draw(loss, clusters={"bad": ["not a node"]})


def _chain(n: int) -> Value:
    v = Value(0.1, name="x0")
    for _ in range(n):
        v = (v * 0.9).tanh()
    return v


def test_node_cap_collapses_or_stops_with_a_clear_message() -> None:
    root = _chain(100)  # 1 + 100 * 3 values
    source = draw(root, kind="forward", max_nodes=50).source
    assert len(_node_lines(source, "n")) == 49
    assert f"⋯ {301 - 49} earlier values not drawn" in source
    assert "n_hidden ->" in source
    with pytest.raises(DrawError, match=r"301 values \(602 boxes\), more than max_nodes=50"):
        draw(root, kind="both", max_nodes=50, overflow="error")
    both = draw(root, kind="both", max_nodes=50).source
    assert len(_node_lines(both, "n")) == 24  # 50 boxes: 24 values, each drawn twice (constants have no adjoint)
    assert 0 < len(_node_lines(both, "g")) <= 24


def test_large_graphs_get_layout_limits() -> None:
    source = draw(_chain(120), kind="both").source
    assert "nslimit=" in source and "mclimit=" in source
    assert "xlabel=<∂" in source and "[label=<∂" not in source  # edge labels placed after layout: faster
    small = draw(_chain(5), kind="both").source
    assert "nslimit" not in small and "xlabel" not in small and "label=<∂" in small


def test_backward_needs_a_scalar_output_that_requires_grad() -> None:
    t = Tensor(np.ones((2, 2)), requires_grad=True, name="t")
    assert "(2, 2) float64" in draw(t * 2, kind="forward").source
    with pytest.raises(DrawError, match="one number"):
        draw(t * 2, kind="backward")
    with pytest.raises(DrawError, match="requires grad"):
        draw(Value(1.0, requires_grad=False) * 2, kind="both")
    with pytest.raises(DrawError, match="Value or Tensor"):
        draw(3.0)


def test_pretty_names_use_subscripts_only_for_trailing_digits() -> None:
    assert pretty_name("x0") == "x₀" and pretty_name("v12") == "v₁₂"
    assert pretty_name("fc1.weight") == "fc1.weight" and pretty_name("l1.b0") == "l1.b0" and pretty_name("7") == "7"


def test_labels_are_escaped() -> None:
    a = Value(1.0, name="<b>&")
    assert "&lt;b&gt;&amp;" in draw(a * 2, kind="both").source
