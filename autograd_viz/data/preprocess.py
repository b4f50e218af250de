"""Preprocessing used by the notes: scale, standardise, flatten, 2x downsampling, one-hot, validation split, batches.

All vectorised (no per-sample Python loops). Float outputs default to float32, the training dtype; pass
``dtype=np.float64`` for exact checks. Functions that only reshape or select keep the input dtype unless given one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from autograd_viz.errors import DataError, ShapeError

Seed = int | np.random.Generator | None


def scale(images: np.ndarray, dtype: Any = np.float32) -> np.ndarray:
    """Map uint8 pixels 0..255 to floats in [0, 1] (``images / 255``), as torchvision's ToTensor does."""
    return np.divide(images, 255, dtype=dtype)  # one pass, correctly rounded like torch's ``x.float() / 255``


def standardize(x: np.ndarray, mean: Any = None, std: Any = None, *, per_image: bool = False,
                eps: float = 1e-8, dtype: Any = np.float32) -> np.ndarray:
    """Return ``(x - mean) / std`` in ``dtype``.

    ``per_image=True``: each sample uses its own mean and std over its pixels (note 002's ``normalize``).
    Otherwise ``mean``/``std`` (scalars or arrays broadcastable to one sample) are used as given, e.g. the
    training set's ``x_train.mean()`` / ``x_train.std()`` for the test set too, or ``0.5, 0.5`` after ``scale`` as
    in note 000; left as None they are computed over all of ``x``. A zero std (a blank image) divides by ``eps``.
    """
    out = np.asarray(x).astype(dtype, copy=True)
    if per_image:
        if mean is not None or std is not None:
            raise DataError("standardize: per_image=True computes each image's mean and std; do not pass mean/std")
        if out.ndim < 2:
            raise ShapeError(f"standardize: per_image needs a batch of samples (N, ...), got shape {out.shape}")
        flat = out.reshape(len(out), -1)  # a view: the in-place ops below write into ``out``
        flat -= flat.mean(axis=1, keepdims=True)
        std = np.sqrt(np.einsum("ij,ij->i", flat, flat) / flat.shape[1])[:, None]
        flat /= np.maximum(std, np.asarray(eps, dtype=out.dtype))
        return out
    m = out.mean() if mean is None else np.asarray(mean, dtype=out.dtype)
    s = out.std() if std is None else np.asarray(std, dtype=out.dtype)
    out -= m
    out /= np.maximum(s, np.asarray(eps, dtype=out.dtype))
    return out


def flatten(images: np.ndarray, dtype: Any = None) -> np.ndarray:
    """Reshape (N, ...) to (N, features) — a view when possible; ``dtype`` converts (None keeps the input's)."""
    images = np.asarray(images)
    if images.ndim < 1:
        raise ShapeError(f"flatten: expected a batch (N, ...), got a scalar of shape {images.shape}")
    flat = images.reshape(len(images), -1)
    return flat if dtype is None else flat.astype(dtype, copy=False)


def downsample2x(images: np.ndarray, method: str = "stride", dtype: Any = None) -> np.ndarray:
    """Halve the last two (row, col) axes: 28x28 -> 14x14 for the small MLPs of note 000.

    ``method="stride"`` keeps every second pixel (``x[..., ::2, ::2]``, exactly what note 000's transform does) and
    keeps the input dtype; ``method="mean"`` averages each 2x2 block (needs even sizes; float output, float32 for
    integer input). ``dtype`` converts the result. Returns a contiguous array.
    """
    images = np.asarray(images)
    if images.ndim < 2:
        raise ShapeError(f"downsample2x: expected (..., rows, cols) images, got shape {images.shape}")
    if method == "stride":
        out = images[..., ::2, ::2]
    elif method == "mean":
        rows, cols = images.shape[-2:]
        if rows % 2 or cols % 2:
            raise ShapeError(f"downsample2x: method='mean' needs even rows and cols, got shape {images.shape}")
        work = np.dtype(dtype if dtype is not None else (images.dtype if images.dtype.kind == "f" else np.float32))
        # sum of the four strided quarter-images (exact for uint8 in float32), 10x faster than a reshape + mean
        out = np.add(images[..., ::2, ::2], images[..., 1::2, ::2], dtype=work)
        out += images[..., ::2, 1::2]
        out += images[..., 1::2, 1::2]
        out *= work.type(0.25)
    else:
        raise DataError(f"downsample2x: unknown method {method!r} (use 'stride' or 'mean')")
    return np.ascontiguousarray(out, dtype=dtype)


def one_hot(labels: np.ndarray, num_classes: int = 10, dtype: Any = np.float32) -> np.ndarray:
    """Turn integer labels (N,) into an (N, num_classes) one-hot matrix."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ShapeError(f"one_hot: expected integer labels of shape (N,), got {labels.dtype} {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise DataError(f"one_hot: labels must be in 0..{num_classes - 1}, got {labels.min()}..{labels.max()}")
    out = np.zeros((len(labels), num_classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def train_val_split(x: np.ndarray, y: np.ndarray, val_fraction: float = 0.1, *, seed: Seed = 0,
                    dtype: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Randomly hold out a validation set: returns ``(x_train, y_train, x_val, y_val)``.

    ``val_fraction`` in (0, 1) is a fraction (rounded), an int >= 1 a count. Seeded (same seed, same split), not
    stratified — as in note 002 (a permutation, the first part for validation). ``dtype`` converts x.
    """
    x, y = np.asarray(x), np.asarray(y)
    n = _check_xy(x, y, "train_val_split")
    if isinstance(val_fraction, int | np.integer) and not isinstance(val_fraction, bool) and val_fraction >= 1:
        n_val = int(val_fraction)
    elif 0 < val_fraction < 1:
        n_val = int(round(val_fraction * n))
    else:
        raise DataError(f"train_val_split: val_fraction must be in (0, 1) or a count >= 1, got {val_fraction!r}")
    if not 0 < n_val < n:
        raise DataError(f"train_val_split: {n_val} validation samples out of {n} leaves no train or no validation")
    perm = _rng(seed).permutation(n)
    val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    xc = x if dtype is None else x.astype(dtype, copy=False)
    return xc[train], y[train], xc[val], y[val]


def batches(x: np.ndarray, y: np.ndarray, batch_size: int = 64, *, shuffle: bool = True, seed: Seed = 0,
            drop_last: bool = False, dtype: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(x_batch, y_batch)`` mini-batches covering the data once (one epoch).

    Shuffled by a seeded permutation (same seed, same batches; pass ``seed=epoch`` or a shared
    ``np.random.Generator`` for a new order each epoch). The last partial batch is kept unless ``drop_last``.
    ``dtype`` converts each x batch on the fly, so uint8 data can stay uint8 in memory.
    """
    x, y = np.asarray(x), np.asarray(y)
    n = _check_xy(x, y, "batches")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise DataError(f"batches: batch_size must be a positive integer, got {batch_size!r}")
    stop = n - n % batch_size if drop_last else n
    order = _rng(seed).permutation(n) if shuffle else None
    for start in range(0, stop, batch_size):
        if order is None:
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        else:
            idx = order[start:start + batch_size]
            xb, yb = x[idx], y[idx]
        yield (xb if dtype is None else xb.astype(dtype, copy=False)), yb


def _check_xy(x: np.ndarray, y: np.ndarray, where: str) -> int:
    if x.ndim < 1 or y.ndim < 1 or len(x) != len(y):
        raise ShapeError(f"{where}: x and y need the same number of samples, got shapes {x.shape} and {y.shape}")
    if len(x) == 0:
        raise DataError(f"{where}: no samples")
    return len(x)


def _rng(seed: Seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
