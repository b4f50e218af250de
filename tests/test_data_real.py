"""The loaders on the real files in $AUTOGRAD_VIZ_DATA (skipped when it is not set): shapes, dtypes, label counts,
the checksum table, and the clear failure for MNIST's missing training images."""

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from autograd_viz.data import (
    downsample2x,
    flatten,
    load_fashion_mnist,
    load_mnist,
    load_mnist_test_split,
    scale,
    sources,
)
from autograd_viz.data.idx import read_idx
from autograd_viz.errors import DataError

DATA = os.environ.get("AUTOGRAD_VIZ_DATA")
pytestmark = pytest.mark.skipif(not DATA or not Path(DATA).is_dir(),
                                reason="set AUTOGRAD_VIZ_DATA to the folder holding mnist/ and fashion-mnist/")
MNIST_T10K_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # from the data README


@pytest.fixture
def no_cache(tmp_path, monkeypatch):
    """Only the real data folder is searched: an empty cache, no Debian folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(sources, "DEBIAN_FASHION", tmp_path / "no-debian")


def _need(*parts):
    path = Path(DATA, *parts)
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="module")
def fashion():
    _need("fashion-mnist", "train-images-idx3-ubyte.gz")
    return load_fashion_mnist(download=False)


def test_fashion_mnist_shapes_dtypes_counts(fashion):
    assert fashion.train_images.shape == (60000, 28, 28) and fashion.test_images.shape == (10000, 28, 28)
    assert fashion.train_images.dtype == np.uint8 and fashion.test_labels.dtype == np.uint8
    assert np.bincount(fashion.test_labels, minlength=10).tolist() == [1000] * 10
    assert np.bincount(fashion.train_labels, minlength=10).tolist() == [6000] * 10
    assert fashion.train_images.max() == 255 and fashion.train_images.min() == 0
    assert "fashion-mnist" in fashion.source and fashion.classes[0] == "T-shirt/top"
    assert not fashion.train_images.flags.writeable  # shared, read-only; preprocessing returns new arrays


def test_mnist_test_split(no_cache):
    _need("mnist", "t10k-images-idx3-ubyte.gz")
    ds = load_mnist_test_split(download=False)
    assert ds.train_images.shape == (8000, 28, 28) and ds.test_images.shape == (2000, 28, 28)
    counts = np.bincount(ds.train_labels, minlength=10) + np.bincount(ds.test_labels, minlength=10)
    assert counts.tolist() == MNIST_T10K_COUNTS
    direct = read_idx(Path(DATA, "mnist", "t10k-images-idx3-ubyte.gz"))
    np.testing.assert_array_equal(ds.test_images, direct[8000:])  # the last 2,000, in file order
    assert 0.12 < scale(ds.train_images).mean() < 0.145  # MNIST's pixel mean is about 0.13
    assert flatten(downsample2x(scale(ds.train_images))).shape == (8000, 196)


def test_mnist_without_train_images_fails_clearly(no_cache):
    _need("mnist", "t10k-images-idx3-ubyte.gz")
    if any(Path(DATA, "mnist", f).exists() for f in ("train-images-idx3-ubyte", "train-images-idx3-ubyte.gz")):
        pytest.skip("this data folder has MNIST's training images")
    with pytest.raises(DataError) as info:
        load_mnist(download=False)
    message = str(info.value)
    assert "missing train-images-idx3-ubyte" in message
    assert str(Path(DATA, "mnist", "t10k-labels-idx1-ubyte.gz")) in message  # what was found
    assert message.endswith("load_mnist_test_split() (CLI: --dataset mnist-test-split) splits the 10,000 test "
                            "images instead")


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_checksum_table_matches_the_real_files(dataset):
    folder = _need(dataset)
    checked = 0
    for name, accepted in sources.CHECKSUMS[dataset].items():
        path = folder / f"{name}.gz"
        if path.exists():
            assert hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest() in accepted, name
            checked += 1
    assert checked >= 3


def test_known_files_in_the_wrong_place_are_refused(tmp_path, no_cache):
    fashion = _need("fashion-mnist")
    mixed = tmp_path / "mnist"
    mixed.mkdir()
    for name in sources.FILES:  # Fashion-MNIST's files where MNIST's are expected
        (mixed / f"{name}.gz").symlink_to(fashion / f"{name}.gz")
    with pytest.raises(DataError, match=r"this is fashion-mnist's t10k-images-idx3-ubyte, not mnist's"):
        load_mnist_test_split(tmp_path, download=False)  # the small t10k files: a fast test
    swapped = tmp_path / "fashion-mnist"
    swapped.mkdir()
    for name in sources.FILES:  # train and t10k swapped
        other = name.replace("train", "X").replace("t10k", "train").replace("X", "t10k")
        (swapped / f"{name}.gz").symlink_to(fashion / f"{other}.gz")
    with pytest.raises(DataError, match=r"this is fashion-mnist's t10k-images-idx3-ubyte, not fashion-mnist's train-"):
        load_fashion_mnist(tmp_path, download=False)
