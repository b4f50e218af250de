"""Classification metrics and the training history (CSV and JSON, written atomically)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograd_viz.errors import ShapeError
from autograd_viz.io import atomic_write_text


def _labels(y: Any, what: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.dtype.kind not in "iub":
        raise ShapeError(f"{what}: expected integer class labels of shape (N,), got {arr.dtype} {arr.shape}")
    return arr


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of predictions equal to the labels."""
    t, p = _labels(y_true, "accuracy y_true"), _labels(y_pred, "accuracy y_pred")
    if t.shape != p.shape or t.size == 0:
        raise ShapeError(f"accuracy: need two non-empty label arrays of one shape, got {t.shape} and {p.shape}")
    return float(np.count_nonzero(t == p)) / t.size


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """``cm[i, j]`` = number of samples of true class i predicted as j."""
    t, p = _labels(y_true, "confusion_matrix y_true"), _labels(y_pred, "confusion_matrix y_pred")
    if t.shape != p.shape:
        raise ShapeError(f"confusion_matrix: y_true {t.shape} and y_pred {p.shape} differ in shape")
    k = int(num_classes if num_classes is not None else max(t.max(initial=0), p.max(initial=0)) + 1)
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= k):
        raise ShapeError(f"confusion_matrix: labels must be in 0..{k - 1}")
    return np.bincount(t.astype(np.int64) * k + p, minlength=k * k).reshape(k, k)


def per_class_accuracy(cm: np.ndarray) -> list[float | None]:
    """Recall of each class (diagonal / row sum); None for a class with no samples."""
    totals = cm.sum(axis=1)
    return [float(cm[i, i] / totals[i]) if totals[i] else None for i in range(len(cm))]


@dataclass
class History:
    """One row per epoch (epoch, train_loss, train_accuracy, val_loss, val_accuracy, lr, seconds, ...)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append(row)

    def column(self, name: str) -> list[Any]:
        return [r.get(name) for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": [{k: _json_number(v) for k, v in r.items()} for r in self.rows],
                "best_epoch": self.best_epoch, "stopped_early": self.stopped_early}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls([dict(r) for r in data.get("epochs", [])], data.get("best_epoch"), bool(data.get("stopped_early")))

    def to_csv(self) -> str:
        columns = list(dict.fromkeys(k for r in self.rows for k in r))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return buf.getvalue()

    def save(self, csv_path: str | os.PathLike | None = None, json_path: str | os.PathLike | None = None) -> None:
        """Write the history as CSV and/or JSON (atomically)."""
        if csv_path is not None:
            atomic_write_text(csv_path, self.to_csv())
        if json_path is not None:
            atomic_write_text(json_path, json.dumps(self.to_dict(), indent=2) + "\n")


def _json_number(value: Any) -> Any:
    """NaN and infinity are not JSON: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
