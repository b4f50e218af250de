"""What gets drawn: the values (capped at ``max_nodes``), their deterministic ids and labels, and clusters.

Ids and the ``v₁, v₂, …`` names of unnamed values come from creation order (``Node.index``) renumbered from
zero, never from ``id()``, so the same graph always gives byte-identical DOT.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from autograd_viz.graph import Node, topological_order
from autograd_viz.viz.style import DrawError, DrawOptions, number, pretty_name


@dataclass
class Scene:
    """The drawn part of a graph; ``key(node)`` is the local number used in DOT ids."""

    root: Node
    nodes: list[Node]
    number: dict[int, int]
    labels: dict[int, str]
    hidden: int = 0
    cut: list[Node] = field(default_factory=list)
    cluster: dict[int, str] = field(default_factory=dict)

    def key(self, node: Node) -> int:
        return self.number[id(node)]

    def drawn(self, node: Node) -> bool:
        return id(node) in self.number

    def label(self, node: Node) -> str:
        return self.labels[id(node)]

    def role(self, node: Node) -> str:
        """``param``, ``input``, ``const``, ``op`` or ``loss`` (the root)."""
        if node is self.root:
            return "loss"
        if node.op is not None:
            return "op"
        if node.role in ("param", "input", "const"):
            return node.role
        return "input" if node.requires_grad else "const"


def build_scene(root: Node, options: DrawOptions) -> Scene:
    """Choose the values to draw (all, or as many as fit in ``max_nodes`` boxes, nearest ``root`` first), number
    and name them."""
    if not isinstance(root, Node):
        raise DrawError(f"draw: expected a Value or Tensor, got {type(root).__name__}")
    everything = topological_order(root)
    per_value = 2 if options.kind == "both" else 1  # "both" draws each value twice: its box and its adjoint
    cap = max(2, options.max_nodes // per_value)
    hidden = 0
    if len(everything) > cap:
        if options.overflow == "error":
            raise DrawError(f"draw: the graph has {len(everything):,} values ({len(everything) * per_value:,} "
                            f"boxes), more than max_nodes={options.max_nodes:,}; pass max_nodes="
                            f"{len(everything) * per_value} to draw it all, or overflow='collapse' to draw the "
                            f"{cap:,} values nearest the output")
        kept = _nearest(root, cap - 1)
        hidden = len(everything) - len(kept)
    else:
        kept = everything
    nodes = sorted(kept, key=lambda n: n.index)
    numbers = {id(n): k for k, n in enumerate(nodes)}
    scene = Scene(root=root, nodes=nodes, number=numbers, labels=_labels(nodes, root, options), hidden=hidden)
    if hidden:
        scene.cut = [n for n in nodes if any(id(p) not in numbers for p in n.parents)]
    scene.cluster = _clusters(scene, options.clusters)
    return scene


def _nearest(root: Node, limit: int) -> list[Node]:
    """Breadth-first from the output along inputs: the ``limit`` values closest to ``root``."""
    seen = {id(root)}
    order = [root]
    queue = deque([root])
    while queue and len(order) < limit:
        node = queue.popleft()
        for parent in node.parents:
            if id(parent) not in seen and len(order) < limit:
                seen.add(id(parent))
                order.append(parent)
                queue.append(parent)
    return order


def _labels(nodes: list[Node], root: Node, options: DrawOptions) -> dict[int, str]:
    """Display names: the node's name (``x0`` -> ``x₀``), a constant's number, ``L`` for an unnamed root,
    else ``v₁, v₂, …`` in creation order."""
    taken = {n.name for n in nodes if n.name is not None}
    labels: dict[int, str] = {}
    counter = 0
    for node in nodes:
        if node.name is not None:
            labels[id(node)] = pretty_name(node.name)
        elif node is root and "L" not in taken:
            labels[id(node)] = "L"
        elif node.op is None and node.role == "const" and _is_number(node):
            labels[id(node)] = number(_scalar(node), options.precision)
        else:
            counter += 1
            while f"v{counter}" in taken:
                counter += 1
            labels[id(node)] = pretty_name(f"v{counter}")
    return labels


def _is_number(node: Node) -> bool:
    data = node.data
    return not hasattr(data, "size") or data.size == 1


def _scalar(node: Node) -> float:
    data = node.data
    return float(data.reshape(-1)[0]) if hasattr(data, "reshape") else float(data)


def formula(node: Node, labels: list[str]) -> str:
    """The op applied to its inputs' labels, as the notes write it (``a × x₀``, ``σ(z)``, ``d²``, ``Wᵀ``): the
    op table's ``display`` template."""
    op = node.op
    if op is None:
        return ""
    return op.display_text(labels, node.attrs)


def _clusters(scene: Scene, spec: str | Mapping[str, Iterable[Node]] | None) -> dict[int, str]:
    """Cluster name per node id: an explicit mapping, or the name prefix (``fc1.weight`` -> ``fc1``)."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        out: dict[int, str] = {}
        for name, members in spec.items():
            for node in members:
                if not isinstance(node, Node):
                    raise DrawError(f"draw: clusters[{name!r}] must list Values or Tensors, got "
                                    f"{type(node).__name__}")
                if scene.drawn(node):
                    out[id(node)] = str(name)
        return out
    out = {}
    for node in scene.nodes:  # creation order: inputs are assigned before the ops that use them
        if node.name is not None and "." in node.name:
            out[id(node)] = node.name.rsplit(".", 1)[0]
            continue
        if node.op is None:
            continue
        from_params = {out[id(p)] for p in node.parents if p.op is None and id(p) in out}
        if len(from_params) == 1:
            out[id(node)] = from_params.pop()
        elif not from_params and node.op.elementwise:
            # an activation right after a layer joins that layer (fc1 -> relu), a loss does not
            live = [p for p in node.parents if p.requires_grad]
            if len(live) == 1 and live[0].op is not None and id(live[0]) in out:
                out[id(node)] = out[id(live[0])]
    return out
