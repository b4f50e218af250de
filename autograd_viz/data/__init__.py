"""Data: IDX reading, MNIST / Fashion-MNIST loading (local folders, cache, verified download) and preprocessing.

    from autograd_viz.data import load_fashion_mnist, scale, flatten, batches
    ds = load_fashion_mnist()                      # Dataset(name, train_images, train_labels, test_images, ...)
    x = flatten(scale(ds.train_images))            # float32 (60000, 784) in [0, 1]
    for xb, yb in batches(x, ds.train_labels, 64, seed=epoch): ...

The notes' recipes: note 000 (ToTensor, ``x[:, ::2, ::2]``, Normalize(0.5, 0.5)) is
``flatten(standardize(downsample2x(scale(images)), 0.5, 0.5))`` -> (N, 196) in [-1, 1]; note 002 is
``standardize(flatten(images), per_image=True)``. MNIST's training images are not in the shared data: use
``load_mnist_test_split()`` (first 8,000 test images train, last 2,000 test) and say so next to any figure.
Arrays in a ``Dataset`` are read-only views of the file bytes; every preprocessing function returns a new array.
"""

from autograd_viz.data.download import download
from autograd_viz.data.idx import parse_idx, read_idx, write_idx
from autograd_viz.data.preprocess import batches, downsample2x, flatten, one_hot, scale, standardize, train_val_split
from autograd_viz.data.sources import (
    CLASS_NAMES,
    Dataset,
    cache_dir,
    load_fashion_mnist,
    load_mnist,
    load_mnist_test_split,
    search_folders,
)

__all__ = [
    "CLASS_NAMES",
    "Dataset",
    "batches",
    "cache_dir",
    "download",
    "downsample2x",
    "flatten",
    "load_fashion_mnist",
    "load_mnist",
    "load_mnist_test_split",
    "one_hot",
    "parse_idx",
    "read_idx",
    "scale",
    "search_folders",
    "standardize",
    "train_val_split",
    "write_idx",
]
