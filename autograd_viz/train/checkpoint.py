"""Checkpoints as one ``.npz``: weights, buffers, optimizer state and JSON metadata, written atomically.

Keys: ``model/<param name>``, ``optim/<index>/<state key>``, ``extra/<name>``, and ``meta`` (a JSON string:
format, config, optimizer settings, epoch, history, random-generator states). Loading never unpickles.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autograd_viz.errors import AutogradVizError
from autograd_viz.io import atomic_open
from autograd_viz.nn.module import Module
from autograd_viz.optim.optimizers import Optimizer

FORMAT = "autograd_viz.checkpoint/1"


class CheckpointError(AutogradVizError):
    """A checkpoint file is missing, unreadable or does not fit the model."""


@dataclass
class Checkpoint:
    model_state: dict[str, np.ndarray]
    meta: dict[str, Any]
    optimizer_state: dict[str, Any] | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def save_checkpoint(path: str | os.PathLike, model: Module, optimizer: Optimizer | None = None,
                    meta: dict[str, Any] | None = None, extra: dict[str, np.ndarray] | None = None) -> Path:
    """Write the model (and optimizer) state with ``meta`` to ``path`` atomically; returns the path."""
    arrays: dict[str, np.ndarray] = {f"model/{k}": v for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, **(meta or {})}
    if optimizer is not None:
        state = optimizer.state_dict()
        steps = []
        for i, st in enumerate(state["params"]):
            steps.append(int(st.get("step", 0)))
            arrays.update({f"optim/{i}/{k}": v for k, v in st.items() if isinstance(v, np.ndarray)})
        meta["optimizer"] = {"class": type(optimizer).__name__, "version": state["version"],
                             "step_count": state["step_count"],
                             "lr": state["lr"], "steps": steps, "initialised": [bool(st) for st in state["params"]]}
    arrays.update({f"extra/{k}": np.asarray(v) for k, v in (extra or {}).items()})
    arrays["meta"] = np.array(json.dumps(meta))
    target = Path(path)
    with atomic_open(target, "wb") as handle:
        np.savez(handle, **arrays)
    return target


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (no pickle is ever loaded)."""
    target = Path(path)
    if target.is_dir():
        target = target / "model.npz"
    try:
        with np.load(target, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint: no such file {target}") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"checkpoint: {target} is not a readable .npz file ({exc})") from None
    if "meta" not in arrays:
        raise CheckpointError(f"checkpoint: {target} has no 'meta' entry (not written by autograd_viz)")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"checkpoint: {target}: bad metadata ({exc})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint: {target} has format {meta.get('format')!r}, expected {FORMAT!r}")
    model_state = {k[6:]: v for k, v in arrays.items() if k.startswith("model/")}
    extra = {k[6:]: v for k, v in arrays.items() if k.startswith("extra/")}
    optimizer_state = None
    if "optimizer" in meta:
        info = meta["optimizer"]
        params: list[dict[str, Any]] = []
        for i, (step, initialised) in enumerate(zip(info["steps"], info["initialised"], strict=True)):
            st: dict[str, Any] = {"step": step} if initialised else {}
            prefix = f"optim/{i}/"
            st.update({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
            params.append(st)
        optimizer_state = {"version": info.get("version", 1), "step_count": info["step_count"], "lr": info["lr"],
                           "params": params}
    return Checkpoint(model_state, meta, optimizer_state, extra)


def restore(checkpoint: Checkpoint, model: Module, optimizer: Optimizer | None = None) -> None:
    """Load a checkpoint's weights (and optimizer state) into a model built with the same layers."""
    try:
        model.load_state_dict(checkpoint.model_state)
    except AutogradVizError as exc:
        raise CheckpointError(f"checkpoint does not fit the model: {exc}") from None
    if optimizer is not None:
        if checkpoint.optimizer_state is None:
            raise CheckpointError("checkpoint has no optimizer state to resume from")
        saved = checkpoint.meta["optimizer"]["class"]
        if saved != type(optimizer).__name__:
            raise CheckpointError(f"checkpoint was trained with {saved}, not {type(optimizer).__name__}")
        optimizer.load_state_dict(checkpoint.optimizer_state)
