"""The bridge's error type (importable without PyTorch)."""

from __future__ import annotations

from autograd_viz.errors import MissingDependencyError, TorchBridgeError


def require_torch(what: str) -> object:
    """Import PyTorch, or raise an ImportError that says how to install it."""
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(f"{what} needs PyTorch: install a CPU torch (pip install torch==2.13.0 "
                                     "here), then pip install 'autograd-viz[torch]'") from None
    return torch


__all__ = ["TorchBridgeError", "require_torch"]
