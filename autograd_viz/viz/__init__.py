r"""Forward and backward (adjoint) graphs as ``graphviz.Digraph`` objects, saved as .dot/.svg/.png/.pdf.

>>> from autograd_viz import Value, draw
>>> a = Value(0.5, name="a", role="param"); x0 = Value(2.0, name="x0", role="input")
>>> g = draw((a * x0).sigmoid(), kind="both")
>>> draw.save(g, "graph.svg")  # doctest: +SKIP

``autograd_viz.draw`` is the function (with ``.save``, ``.render`` and ``.available`` attached); the package's
other names import as ``from autograd_viz.viz import Graph, RenderError, ...``. Rendering: see ``renderers``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from autograd_viz.graph import Node
from autograd_viz.viz.backward import add_backward, compute_adjoints
from autograd_viz.viz.forward import add_forward
from autograd_viz.viz.renderers import (
    ENV_VAR,
    Graph,
    NoRendererWarning,
    RenderError,
    available,
    render,
    save,
)
from autograd_viz.viz.scene import build_scene
from autograd_viz.viz.style import DrawError, DrawOptions, esc

#: Layout limits for graphs past ``large_graph`` values: bounded network-simplex and crossing passes keep
#: a 2,000-node drawing to seconds (dense graphs otherwise take minutes in ``dot``). ``nslimit`` is scaled so
#: the x-coordinate pass runs about ``NS_ITERATIONS`` iterations whatever the size (it dominates past 2,000).
LARGE_GRAPH_ATTRS = {"nslimit1": "2", "mclimit": "0.3", "searchsize": "10"}
NS_ITERATIONS = 1000


def draw(root: Node, kind: str = "both", *, rankdir: str = "LR", precision: int = 4, show_values: bool = True,
         show_grads: bool = True, vanishing: float | None = 1e-6, exploding: float | None = 1e3,
         clusters: str | Mapping[str, Iterable[Node]] | None = "prefix", max_nodes: int = 2000,
         overflow: str = "collapse", large_graph: int = 300, title: str | None = None) -> Graph:
    r"""Draw the graph of ``root`` (a ``Value`` or ``Tensor``) as a :class:`Graph` (a ``graphviz.Digraph``).

    kind: ``"forward"`` (values), ``"backward"`` (adjoints :math:`\bar{x} = \partial L/\partial x` from
    :math:`\bar{L} = 1`, edges labelled with local derivatives) or ``"both"`` (one above the other).
    rankdir: Graphviz direction (LR, RL, TB, BT). precision: significant digits of every number.
    show_values / show_grads: print values in the forward boxes / gradient numbers.
    vanishing / exploding: colour gradients whose largest magnitude is below / above these (None: off).
    clusters: ``"prefix"`` groups values named ``fc1.*`` (and the ops using them) into a box ``fc1``;
    a mapping ``{"layer 1": [nodes...]}`` names the groups explicitly; ``None`` draws no groups.
    max_nodes / overflow: at most this many boxes (``"both"`` draws two per value); past it ``"collapse"``
    draws the values nearest the output and one box for the rest, ``"error"`` raises :class:`DrawError`.
    large_graph: from this many values on, Graphviz's ``nslimit``/``mclimit`` bound the layout time.
    """
    options = DrawOptions(kind=kind, rankdir=rankdir, precision=precision, show_values=show_values,
                          show_grads=show_grads, vanishing=vanishing, exploding=exploding, clusters=clusters,
                          max_nodes=max_nodes, overflow=overflow, large_graph=large_graph, title=title)
    scene = build_scene(root, options)
    adjoints = None
    if kind != "forward" or (show_grads and root.requires_grad and _one_number(root)):
        adjoints = compute_adjoints(scene)
    graph = Graph(name="autograd_viz", graph_attr=_graph_attrs(options, len(scene.nodes)),
                  node_attr={"fontname": "Helvetica", "fontsize": "12", "margin": "0.12,0.06"},
                  edge_attr={"fontname": "Helvetica", "fontsize": "10", "arrowsize": "0.7"})
    graph.stepper_source = (root, options)  # lets .save("page.html") build the step-through page
    if kind == "forward":
        add_forward(graph, scene, options, adjoints.value if adjoints is not None else None)
    elif kind == "backward":
        assert adjoints is not None
        add_backward(graph, scene, adjoints, options)
    else:
        assert adjoints is not None
        def backward_part() -> None:
            with graph.subgraph(name="cluster_backward") as sub:
                sub.attr(label="<backward pass: adjoints <O>x</O> = ∂L/∂x, from <O>L</O> = 1>", style="rounded",
                         color="#6f42c1", fontcolor="#6f42c1")
                add_backward(sub, scene, adjoints, options)

        def forward_part() -> None:
            with graph.subgraph(name="cluster_forward") as sub:
                sub.attr(label="forward pass: values", style="rounded", color="#1f5fbf", fontcolor="#1f5fbf")
                add_forward(sub, scene, options)

        # dot stacks clusters bottom-up for LR/RL and left-to-right for TB/BT: forward goes on top / on the left
        parts = (backward_part, forward_part) if rankdir in ("LR", "RL") else (forward_part, backward_part)
        for part in parts:
            part()
    return graph


def _one_number(node: Node) -> bool:
    size = getattr(node.data, "size", 1)
    return size == 1


def _graph_attrs(options: DrawOptions, count: int) -> dict[str, str]:
    attrs = {"rankdir": options.rankdir, "fontname": "Helvetica", "nodesep": "0.25", "ranksep": "0.45"}
    if options.title:
        attrs.update(label=esc(options.title), labelloc="t", fontsize="16")
    if count >= options.large_graph:
        drawn = count * (2 if options.kind == "both" else 1)
        # edge labels become xlabels there (see backward.py); those that would cover a box are left out
        attrs.update(LARGE_GRAPH_ATTRS, nslimit=f"{min(2.0, NS_ITERATIONS / drawn):.3g}", forcelabels="false")
    return attrs


draw.save = save  # type: ignore[attr-defined]
draw.render = render  # type: ignore[attr-defined]
draw.available = available  # type: ignore[attr-defined]

__all__ = ["ENV_VAR", "DrawError", "Graph", "NoRendererWarning", "RenderError", "available", "draw", "render",
           "save"]
