"""The PyTorch bridge: draw PyTorch graphs our way, compare the two engines, move models both ways.

>>> from autograd_viz.torch import draw_torch            # doctest: +SKIP
>>> graph = draw_torch(loss, params=model, kind="both")   # doctest: +SKIP

PyTorch is optional (install a CPU torch, then ``pip install "autograd-viz[torch]"``); ``import autograd_viz``
never imports it. The names here load on first use, so the ``.safetensors`` functions work without torch.
Inside this package ``import torch`` is PyTorch itself (absolute imports).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "draw_torch": "autograd_viz.torch.draw",
    "trace_torch": "autograd_viz.torch.trace",
    "record_values": "autograd_viz.torch.trace",
    "ValueRecord": "autograd_viz.torch.trace",
    "TorchGraph": "autograd_viz.torch.trace",
    "TorchFunction": "autograd_viz.torch.trace",
    "TorchBridgeError": "autograd_viz.torch.errors",
    "MAPPERS": "autograd_viz.torch.trace",
    "compare": "autograd_viz.torch.compare",
    "Comparison": "autograd_viz.torch.compare",
    "to_torch": "autograd_viz.torch.models",
    "from_torch": "autograd_viz.torch.models",
    "save_safetensors": "autograd_viz.torch.models",
    "load_safetensors": "autograd_viz.torch.models",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'autograd_viz.torch' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
