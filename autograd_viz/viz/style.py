"""Drawing options, colours and text formatting shared by the forward and backward drawings.

Labels are Graphviz HTML labels: ``<O>x</O>`` draws the notes' :math:`\\bar{x}` and trailing digits become
Unicode subscripts (``x0`` -> ``x₀``), which render the same with system ``dot`` and ``graphviz-pure``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograd_viz.errors import DrawError
from autograd_viz.graph import Node
from autograd_viz.ops import OPS

KINDS = ("forward", "backward", "both")
RANKDIRS = ("LR", "RL", "TB", "BT")
OVERFLOW = ("collapse", "error")

#: Fill and border colours by role (parameters blue and the loss green, as the lecture notes draw them).
COLORS = {
    "param": ("#cfe2ff", "#1f5fbf"),
    "input": ("#fff3cd", "#a07800"),
    "const": ("#ffffff", "#9a9a9a"),
    "op": ("#ffffff", "#444444"),
    "loss": ("#c8ecd0", "#1e7b34"),
    "adjoint": ("#f3ecff", "#6f42c1"),
    "vanishing": ("#e6e6e6", "#8a8a8a"),
    "zero": ("#ffffff", "#5a5a5a"),
    "exploding": ("#f8d0d4", "#c0172d"),
    "collapsed": ("#f5f5f5", "#777777"),
}

_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
#: names longer than this are drawn shortened with an ellipsis (the full name goes into the box's tooltip):
#: Graphviz refuses HTML labels over 16,384 characters, and a box that wide is unreadable anyway
MAX_NAME_CHARS = 48


@dataclass(frozen=True)
class DrawOptions:
    """Every option of :func:`autograd_viz.draw`; see its docstring for the meaning of each."""

    kind: str = "both"
    rankdir: str = "LR"
    precision: int = 4
    show_values: bool = True
    show_grads: bool = True
    vanishing: float | None = 1e-6
    exploding: float | None = 1e3
    clusters: str | Mapping[str, Iterable[Node]] | None = "prefix"
    max_nodes: int = 2000
    overflow: str = "collapse"
    large_graph: int = 300
    title: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DrawError(f"draw: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.rankdir not in RANKDIRS:
            raise DrawError(f"draw: rankdir must be one of {', '.join(RANKDIRS)}, got {self.rankdir!r}")
        if not isinstance(self.precision, int) or not 1 <= self.precision <= 17:
            raise DrawError(f"draw: precision must be an integer from 1 to 17, got {self.precision!r}")
        if not isinstance(self.max_nodes, int) or self.max_nodes < 2:
            raise DrawError(f"draw: max_nodes must be an integer >= 2, got {self.max_nodes!r}")
        if self.overflow not in OVERFLOW:
            raise DrawError(f"draw: overflow must be one of {', '.join(OVERFLOW)}, got {self.overflow!r}")
        for key in ("vanishing", "exploding"):
            value = getattr(self, key)
            if value is not None and not (isinstance(value, int | float) and value >= 0):
                raise DrawError(f"draw: {key} must be a number >= 0 or None, got {value!r}")
        if not (self.clusters is None or self.clusters == "prefix" or isinstance(self.clusters, Mapping)):
            raise DrawError(f"draw: clusters must be 'prefix', a mapping name -> nodes, or None, got "
                            f"{self.clusters!r}")


def shorten(text: str, limit: int = MAX_NAME_CHARS) -> str:
    """``text`` if it fits in ``limit`` characters, else its start and end around an ellipsis (``abc…xyz``)."""
    if len(text) <= limit:
        return text
    tail = max(limit // 4, 1)
    return text[:limit - tail - 1] + "…" + text[-tail:]


def pretty_name(name: str) -> str:
    """``x0`` -> ``x₀``: trailing digits as subscripts, as the notes write :math:`x_0`; a name longer than
    :data:`MAX_NAME_CHARS` is shortened with an ellipsis (see :func:`shorten`).

    Dotted names such as ``fc1.weight`` or ``l1.b0`` stay as they are."""
    if len(name) > MAX_NAME_CHARS:
        return shorten(name)
    stem = name.rstrip("0123456789")
    if not stem or stem == name or not stem[-1].isalpha() or "." in name:
        return name
    return stem + name[len(stem):].translate(_SUBSCRIPTS)


def esc(text: str) -> str:
    """Escape text for a Graphviz HTML label."""
    return html.escape(text, quote=False)


def bar(label: str) -> str:
    """The notes' adjoint :math:`\\bar{x}` of an (already escaped) label, as an HTML overline."""
    return f"<O>{label}</O>"


def number(value: float, precision: int) -> str:
    """A float with ``precision`` significant digits (``-0`` shown as ``0``; inf and nan spelled out)."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = f"{value:.{precision}g}"
    return "0" if text == "-0" else text


def is_scalar(data: Any) -> bool:
    """True for Python floats and one-element arrays (drawn as a number, not a summary)."""
    return not isinstance(data, np.ndarray) or data.size == 1


def scalar_of(data: Any) -> float:
    return float(data.reshape(-1)[0]) if isinstance(data, np.ndarray) else float(data)


def summary(data: Any, precision: int) -> list[str]:
    """Text lines describing a value: the number, or shape, dtype and min / mean / max of an array."""
    if is_scalar(data):
        return [number(scalar_of(data), precision)]
    lines = [f"{tuple(data.shape)} {data.dtype}"]
    if data.size:
        finite = data[np.isfinite(data)] if not np.isfinite(data).all() else data
        if finite.size:
            lines.append(f"min {number(finite.min(), precision)} · mean {number(finite.mean(), precision)}"
                         f" · max {number(finite.max(), precision)}")
        if finite.size != data.size:
            lines.append(f"{data.size - finite.size} non-finite")
    return lines


def magnitude(data: Any) -> float:
    """The largest absolute value (what the vanishing/exploding colours test)."""
    if is_scalar(data):
        return abs(scalar_of(data))
    return float(np.max(np.abs(data))) if data.size else 0.0


#: ops whose local derivative is never 0 in exact arithmetic: an adjoint that is exactly 0 through one of them is
#: a float underflow of a saturated unit (sigmoid(60): 1 - σ rounds to 0), i.e. a vanishing gradient (the op
#: table says which: ``OpDef.nonzero_derivative``)
SMOOTH_OPS = frozenset(name for name, op in OPS.items() if op.nonzero_derivative)


_ZERO_CACHE: list[tuple[Node, Mapping[int, Any], set[int]]] = []


def exact_zeros(root: Node, adjoints: Mapping[int, Any]) -> set[int]:
    """ids of the nodes whose adjoint is 0 for an exact reason (a factor that is 0: an input x₂ = 0 times it,
    a ReLU that is off) rather than a float underflow through a saturated smooth op (:data:`SMOOTH_OPS`);
    each zero is followed back towards ``root``. One sweep per drawing (cached for the last two)."""
    for cached_root, cached_adjoints, result in _ZERO_CACHE:
        if cached_root is root and cached_adjoints is adjoints:
            return result
    from autograd_viz.graph import topological_order

    order = topological_order(root)
    consumers: dict[int, list[Node]] = {}
    for n in order:
        for p in n.parents:
            consumers.setdefault(id(p), []).append(n)

    def is_zero(n: Node) -> bool:
        return n is not root and id(n) in adjoints and magnitude(adjoints[id(n)]) == 0

    exact: set[int] = set()
    for n in reversed(order):  # consumers before their inputs
        if is_zero(n) and any(id(c) in exact if is_zero(c) else (c.op is not None and c.op.name not in SMOOTH_OPS)
                              for c in consumers.get(id(n), [])):
            exact.add(id(n))
    _ZERO_CACHE[:] = [*_ZERO_CACHE[-1:], (root, adjoints, exact)]
    return exact


def exact_zero(node: Node, root: Node, adjoints: Mapping[int, Any]) -> bool:
    """Is ``node``'s adjoint exactly 0 for an exact reason? (see :func:`exact_zeros`)"""
    return id(node) in exact_zeros(root, adjoints)


def grad_state(data: Any, options: DrawOptions, exact: bool | None = None) -> str | None:
    """``"zero"``, ``"vanishing"``, ``"exploding"`` or ``None`` for a gradient, by the thresholds in ``options``.

    An adjoint that is exactly 0 for an exact reason (``exact``, see :func:`exact_zero`: an input that is 0
    times it, a ReLU that is off) is ``"zero"``, not ``"vanishing"``: nothing is shrinking there, the chain
    rule multiplies by an exact zero. Without ``exact`` an exact 0 counts as vanishing."""
    size = magnitude(data)
    if options.exploding is not None and (size > options.exploding or math.isnan(size)):
        return "exploding"
    if options.vanishing is not None and size == 0 and exact:
        return "zero"
    if options.vanishing is not None and size < options.vanishing:
        return "vanishing"
    return None


def html_label(lines: Iterable[str], bold_first: bool = False) -> str:
    """Join already-escaped HTML fragments into a multi-line Graphviz HTML label."""
    parts = list(lines)
    if bold_first and parts:
        parts[0] = f"<B>{parts[0]}</B>"
    return "<" + "<BR/>".join(parts) + ">"


def small(text: str) -> str:
    """A smaller, grey line (shapes, statistics, notes under the main line)."""
    return f'<FONT POINT-SIZE="10" COLOR="#555555">{text}</FONT>'


def node_style(role: str) -> dict[str, str]:
    """Graphviz attributes for a node of ``role`` (a key of :data:`COLORS`)."""
    fill, border = COLORS[role]
    shape = {"const": "plain", "collapsed": "note"}.get(role, "box")
    style = "filled" if role == "const" else "rounded,filled"
    attrs = {"shape": shape, "style": style, "fillcolor": fill, "color": border}
    if role == "const":
        attrs["fontcolor"] = border
    if role in ("param", "loss", "exploding"):
        attrs["penwidth"] = "1.6"
    return attrs
