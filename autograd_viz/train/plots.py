"""Learning curves and confusion matrix as PNG; matplotlib is the optional extra ``plot``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from autograd_viz.errors import PlotError
from autograd_viz.io import atomic_write_with
from autograd_viz.train.metrics import History

INSTALL_HINT = "plots need matplotlib: pip install 'autograd-viz[plot]'"


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width: float, height: float) -> Any:
    """A Figure with an Agg canvas (no pyplot: the user's backend and global state are left alone)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotError(INSTALL_HINT) from None
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")  # no label on a neighbour's axes
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike) -> None:
    atomic_write_with(path, lambda tmp: fig.savefig(tmp, format="png", bbox_inches="tight"), suffix=".png")


def plot_learning_curves(history: History, path: str | os.PathLike, title: str = "") -> None:
    """Loss and accuracy per epoch, train and validation, side by side."""
    if not len(history):
        raise PlotError("plot_learning_curves: the history is empty")
    fig = _figure(9, 3.6)
    epochs = history.column("epoch")
    for i, metric in enumerate(("loss", "accuracy")):
        ax = fig.add_subplot(1, 2, i + 1)
        for split, style in (("train", "-o"), ("val", "--s")):
            values = history.column(f"{split}_{metric}")
            if any(v is not None for v in values):
                ys = [np.nan if v is None else v for v in values]
                ax.plot(epochs, ys, style, markersize=3, label=split)
        if history.best_epoch is not None:
            ax.axvline(history.best_epoch, color="grey", linewidth=0.8, linestyle=":", label="best")
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    _save(fig, path)


def plot_confusion_matrix(cm: np.ndarray, path: str | os.PathLike, class_names: Sequence[str] | None = None,
                          title: str = "") -> None:
    """The confusion matrix as a heat map with counts (rows: true class, columns: predicted)."""
    k = len(cm)
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    fig = _figure(6.5, 5.5)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = cm.max() / 2 if cm.size else 0
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=7,
                    color="white" if cm[i, j] > threshold else "black")
    ax.set_title(title or "confusion matrix")
    _save(fig, path)
