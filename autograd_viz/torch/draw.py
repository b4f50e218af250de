"""``draw_torch``: a PyTorch graph drawn by :func:`autograd_viz.draw`, with values and local derivatives."""

from __future__ import annotations

from typing import Any

from autograd_viz.torch.trace import trace_torch
from autograd_viz.viz import Graph, draw


def draw_torch(tensor: Any, params: Any = None, **options: Any) -> Graph:
    """Draw the autograd graph of the PyTorch ``tensor`` (typically a loss) the way we draw ours.

    params: names for tensors (a mapping, or a ``torch.nn.Module`` for its parameters); options: those of
    :func:`autograd_viz.draw` (``kind``, ``max_nodes``, ...), plus ``engine`` and ``values`` (see :func:`trace_torch`;
    ``values`` from :func:`record_values` fills in outputs PyTorch did not save).
    Functions with no counterpart in our op table are drawn as ``unknown NameBackward0`` with no derivative.
    Call it before ``backward()`` (or after ``backward(retain_graph=True)``): it reads PyTorch's saved tensors.
    """
    engine = options.pop("engine", "auto")
    values = options.pop("values", None)
    return draw(trace_torch(tensor, params, engine=engine, values=values).root, **options)
