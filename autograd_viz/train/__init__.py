"""Training: the loop (``Trainer``), metrics and history, plots, checkpoints.

Names load on first use (module ``__getattr__``), so ``autograd_viz.train.checkpoint`` can be imported for its
limits and validators without the loop, the engine or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Checkpoint": "checkpoint", "CheckpointError": "checkpoint", "load_checkpoint": "checkpoint",
    "restore": "checkpoint", "save_checkpoint": "checkpoint",
    "Trainer": "loop", "TrainingDiverged": "loop", "argmax_labels": "loop",
    "History": "metrics", "accuracy": "metrics", "confusion_matrix": "metrics", "per_class_accuracy": "metrics",
    "have_matplotlib": "plots", "plot_confusion_matrix": "plots", "plot_learning_curves": "plots",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'autograd_viz.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"autograd_viz.train.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
