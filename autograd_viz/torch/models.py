"""Move models both ways: ``to_torch``/``from_torch`` (``Sequential`` twins with the same weights) and
``.safetensors`` files in PyTorch's names and layout, so a model trained here continues in PyTorch and back.

Layout: our ``Linear`` stores its weight (in, out) for ``x @ W``; PyTorch stores (out, in) for ``x @ W.T``, so
weights are transposed on the way; names are the dotted paths of both (``fc1.weight``, ``0.bias``). BatchNorm's
running statistics travel with the weights; PyTorch's ``num_batches_tracked`` counter has no counterpart here: it
is not written (PyTorch's BatchNorm loads without it, even with ``strict=True``) and is ignored when read.
The ``.safetensors`` functions need only the ``safetensors`` package, not torch.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from autograd_viz import nn
from autograd_viz.errors import DataError
from autograd_viz.io import atomic_write_bytes
from autograd_viz.torch.errors import TorchBridgeError, require_torch

#: Our layer types -> the PyTorch class name of their twin (what to_torch/from_torch support).
SUPPORTED = {
    nn.Linear: "Linear", nn.ReLU: "ReLU", nn.Sigmoid: "Sigmoid", nn.Tanh: "Tanh", nn.LeakyReLU: "LeakyReLU",
    nn.Identity: "Identity", nn.Dropout: "Dropout", nn.BatchNorm1d: "BatchNorm1d", nn.Sequential: "Sequential",
}


def _torch_dtype(torch: Any, dtype: np.dtype) -> Any:
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}.get(np.dtype(dtype),
                                                                                          torch.float32)


def _layer_to_torch(torch: Any, path: str, layer: Any) -> Any:
    tnn = torch.nn
    if isinstance(layer, nn.Sequential):
        from collections import OrderedDict

        return tnn.Sequential(OrderedDict((name, _layer_to_torch(torch, f"{path}.{name}".lstrip("."), child))
                                          for name, child in layer.named_modules() if name and "." not in name))
    if isinstance(layer, nn.Linear):
        dtype = _torch_dtype(torch, layer.weight.dtype)
        twin = tnn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None, dtype=dtype)
        with torch.no_grad():
            twin.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.weight.data.T)))
            if layer.bias is not None:
                twin.bias.copy_(torch.from_numpy(layer.bias.data.copy()))
        return twin
    if isinstance(layer, nn.BatchNorm1d):
        twin = tnn.BatchNorm1d(layer.num_features, eps=layer.eps, momentum=layer.momentum,
                               dtype=_torch_dtype(torch, layer.weight.dtype))
        with torch.no_grad():
            for name in ("weight", "bias"):
                getattr(twin, name).copy_(torch.from_numpy(getattr(layer, name).data.copy()))
            for name in ("running_mean", "running_var"):
                getattr(twin, name).copy_(torch.from_numpy(np.asarray(getattr(layer, name)).copy()))
        return twin
    if isinstance(layer, nn.LeakyReLU):
        return tnn.LeakyReLU(layer.negative_slope)
    if isinstance(layer, nn.Dropout):
        return tnn.Dropout(layer.p)
    for ours, name in SUPPORTED.items():
        if type(layer) is ours:
            return getattr(tnn, name)()
    raise TorchBridgeError(f"to_torch: layer {path or '(root)'!r} is a {type(layer).__name__}, which has no PyTorch "
                           f"twin here (supported: {', '.join(sorted(set(SUPPORTED.values())))})")


def to_torch(model: nn.Module) -> Any:
    """An equivalent ``torch.nn.Sequential``: same layer names, same weights (Linear transposed), same mode."""
    torch: Any = require_torch("autograd_viz.torch.to_torch")
    if not isinstance(model, nn.Sequential):
        raise TorchBridgeError(f"to_torch: expected an autograd_viz nn.Sequential, got {type(model).__name__}")
    twin = _layer_to_torch(torch, "", model)
    twin.train(bool(getattr(model, "training", True)))
    return twin


def _layer_from_torch(torch: Any, path: str, layer: Any) -> Any:
    tnn = torch.nn
    kind = type(layer)
    where = f"from_torch: layer {path or '(root)'!r} ({kind.__name__})"
    if kind is tnn.Sequential:
        model = nn.Sequential()
        for name, child in layer.named_children():
            model.add(name, _layer_from_torch(torch, f"{path}.{name}".lstrip("."), child))
        return model
    if kind is tnn.Linear:
        w = layer.weight.detach().cpu().numpy()
        ours: Any = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None, dtype=w.dtype)
        ours.weight.data[...] = w.T
        if layer.bias is not None:
            ours.bias.data[...] = layer.bias.detach().cpu().numpy()
        return ours
    if kind is tnn.BatchNorm1d:
        if not layer.affine or not layer.track_running_stats or layer.momentum is None:
            raise TorchBridgeError(f"{where}: only affine=True, track_running_stats=True and a numeric momentum "
                                   "have a counterpart")
        w = layer.weight.detach().cpu().numpy()
        ours = nn.BatchNorm1d(layer.num_features, eps=layer.eps, momentum=layer.momentum, dtype=w.dtype)
        ours.weight.data[...] = w
        ours.bias.data[...] = layer.bias.detach().cpu().numpy()
        ours.running_mean[...] = layer.running_mean.detach().cpu().numpy()
        ours.running_var[...] = layer.running_var.detach().cpu().numpy()
        return ours
    if kind is tnn.LeakyReLU:
        return nn.LeakyReLU(layer.negative_slope)
    if kind is tnn.Dropout:
        return nn.Dropout(layer.p)
    simple = {tnn.ReLU: nn.ReLU, tnn.Sigmoid: nn.Sigmoid, tnn.Tanh: nn.Tanh, tnn.Identity: nn.Identity}
    if kind in simple:
        return simple[kind]()
    raise TorchBridgeError(f"{where} has no counterpart in autograd_viz (supported: "
                           f"{', '.join(sorted(set(SUPPORTED.values())))})")


def from_torch(module: Any) -> nn.Sequential:
    """Our ``Sequential`` twin of a supported ``torch.nn.Sequential`` (same names, weights and mode); the error
    names the first layer that has no counterpart."""
    torch: Any = require_torch("autograd_viz.torch.from_torch")
    if type(module) is not torch.nn.Sequential:
        raise TorchBridgeError(f"from_torch: expected a torch.nn.Sequential, got {type(module).__name__}")
    model = _layer_from_torch(torch, "", module)
    assert isinstance(model, nn.Sequential)
    model.train(module.training)
    return model


# --- .safetensors ------------------------------------------------------------------------------------------

def _linear_weights(model: nn.Module) -> set[str]:
    return {f"{path}.weight" if path else "weight" for path, m in model.named_modules() if isinstance(m, nn.Linear)}


def torch_state_dict(model: nn.Module) -> dict[str, np.ndarray]:
    """Our parameters and buffers under PyTorch's names and layout (Linear weights (out, in)), as arrays."""
    transposed = _linear_weights(model)
    return {name: np.ascontiguousarray(a.T if name in transposed else a) for name, a in model.state_dict().items()}


def save_safetensors(model: nn.Module, path: str | os.PathLike) -> None:
    """Write ``model``'s weights to a ``.safetensors`` file that ``safetensors.torch.load_file`` loads into its
    PyTorch twin (:func:`to_torch`); the file is written atomically."""
    from safetensors.numpy import save

    if not isinstance(model, nn.Module):
        raise TorchBridgeError(f"save_safetensors: expected an autograd_viz nn.Module, got {type(model).__name__}")
    atomic_write_bytes(path, save(torch_state_dict(model), metadata={"format": "pt"}))


def load_safetensors(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load a ``.safetensors`` file in PyTorch's names and layout (from :func:`save_safetensors` or
    ``safetensors.torch.save_file(twin.state_dict(), path)``) into ``model`` in place; returns ``model``."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    if not isinstance(model, nn.Module):
        raise TorchBridgeError(f"load_safetensors: expected an autograd_viz nn.Module, got {type(model).__name__}")
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise DataError(f"load_safetensors: cannot read {os.fspath(path)!r}: {exc.strerror}") from None
    try:
        state = load(raw)
    except (SafetensorError, ValueError, TypeError) as exc:
        raise DataError(f"load_safetensors: {os.fspath(path)!r} is not a valid .safetensors file: {exc}") from None
    transposed = _linear_weights(model)
    ours = {name: (a.T if name in transposed and a.ndim == 2 else a) for name, a in state.items()
            if not name.endswith("num_batches_tracked")}
    model.load_state_dict(ours)
    return model
