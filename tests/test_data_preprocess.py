"""Preprocessing: each function against an independent reference (loops or the notes' formulas), plus bad input."""

import numpy as np
import pytest

from autograd_viz.data import batches, downsample2x, flatten, one_hot, scale, standardize, train_val_split
from autograd_viz.errors import DataError, ShapeError

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(6, 28, 28), dtype=np.uint8)


def test_scale_maps_0_255_to_unit_interval():
    images = IMAGES.copy()
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    before = images.copy()
    out = scale(images)
    assert out.dtype == np.float32 and out.shape == images.shape
    assert out[0, 0, 0] == 0.0 and out[0, 0, 1] == 1.0
    np.testing.assert_allclose(out, images.astype(np.float64) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(out, images.astype(np.float32) / np.float32(255))  # as torch's x.float() / 255
    assert scale(images, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(images, before)  # the input is not modified


def test_standardize_per_image_matches_note_002():
    x = IMAGES.reshape(6, -1).astype(np.float64)
    expected = (x - np.mean(x, axis=1)[:, None]) / np.std(x, axis=1)[:, None]  # note 002's normalize()
    out = standardize(IMAGES.reshape(6, -1), per_image=True, dtype=np.float64)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    out3 = standardize(IMAGES, per_image=True)  # works on (N, 28, 28) too, per sample
    assert out3.dtype == np.float32
    np.testing.assert_allclose(out3.reshape(6, -1), expected, rtol=1e-4, atol=1e-5)


def test_standardize_blank_image_gives_zeros_not_nan():
    x = np.zeros((2, 4, 4), dtype=np.uint8)
    x[1] = 7
    out = standardize(x, per_image=True)
    assert np.all(out == 0)


def test_standardize_dataset_statistics_reused_on_test_set():
    train, test = scale(IMAGES[:4]), scale(IMAGES[4:])
    z = standardize(train, dtype=np.float64)
    assert abs(z.mean()) < 1e-9 and abs(z.std() - 1) < 1e-9
    m, s = float(train.mean()), float(train.std())
    np.testing.assert_allclose(standardize(test, m, s, dtype=np.float64), (test.astype(np.float64) - m) / s, rtol=1e-6)
    # note 000: Normalize((0.5,), (0.5,)) after ToTensor maps [0, 1] to [-1, 1]
    out = standardize(np.array([[0.0, 0.5, 1.0]]), 0.5, 0.5)
    np.testing.assert_array_equal(out, [[-1.0, 0.0, 1.0]])
    with pytest.raises(DataError, match="per_image=True"):
        standardize(train, 0.5, 0.5, per_image=True)


def test_flatten_is_a_view_and_converts_on_request():
    flat = flatten(IMAGES)
    assert flat.shape == (6, 784) and flat.dtype == np.uint8 and np.shares_memory(flat, IMAGES)
    assert flat[2, 28 * 3 + 5] == IMAGES[2, 3, 5]
    assert flatten(IMAGES, dtype=np.float32).dtype == np.float32


def test_downsample_stride_matches_note_000_pixel_by_pixel():
    out = downsample2x(IMAGES)
    assert out.shape == (6, 14, 14) and out.dtype == np.uint8 and out.flags.c_contiguous
    for n, i, j in [(0, 0, 0), (5, 13, 13), (3, 7, 2)]:
        assert out[n, i, j] == IMAGES[n, 2 * i, 2 * j]


def test_downsample_mean_of_2x2_blocks():
    out = downsample2x(IMAGES, method="mean")
    assert out.shape == (6, 14, 14) and out.dtype == np.float32
    ref = np.empty((6, 14, 14))
    for n in range(6):
        for i in range(14):
            for j in range(14):
                ref[n, i, j] = sum(int(IMAGES[n, 2 * i + a, 2 * j + b]) for a in (0, 1) for b in (0, 1)) / 4
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    assert downsample2x(scale(IMAGES, dtype=np.float64), method="mean").dtype == np.float64


def test_downsample_bad_input():
    with pytest.raises(ShapeError, match="even rows and cols"):
        downsample2x(np.zeros((2, 27, 28)), method="mean")
    with pytest.raises(DataError, match="unknown method 'max'"):
        downsample2x(IMAGES, method="max")
    with pytest.raises(ShapeError):
        downsample2x(np.zeros(5))


def test_one_hot():
    labels = np.array([3, 0, 9, 3], dtype=np.uint8)
    out = one_hot(labels)
    assert out.shape == (4, 10) and out.dtype == np.float32
    assert np.all(out.sum(axis=1) == 1) and np.all(out.argmax(axis=1) == labels)
    assert one_hot(labels, 12, dtype=np.float64).shape == (4, 12)
    with pytest.raises(DataError, match=r"labels must be in 0..9, got 0..10"):
        one_hot(np.array([0, 10]))
    with pytest.raises(ShapeError):
        one_hot(np.array([0.5]))


def test_train_val_split_partitions_and_is_seeded():
    x, y = np.arange(100) * 10, np.arange(100)
    xt, yt, xv, yv = train_val_split(x, y, 0.2, seed=7)
    assert len(xv) == 20 and len(xt) == 80
    assert np.array_equal(xt, yt * 10) and np.array_equal(xv, yv * 10)  # pairs stay aligned
    assert sorted(np.concatenate([yt, yv]).tolist()) == list(range(100))
    again = train_val_split(x, y, 0.2, seed=7)
    assert np.array_equal(again[3], yv)
    other = train_val_split(x, y, 0.2, seed=8)
    assert not np.array_equal(other[3], yv)
    assert len(train_val_split(x, y, 30)[2]) == 30  # an int is a count
    assert train_val_split(x, y, 0.2, dtype=np.float32)[0].dtype == np.float32
    for bad in (0, 0.0, 1.0, 100, -3):
        with pytest.raises(DataError):
            train_val_split(x, y, bad)
    with pytest.raises(ShapeError):
        train_val_split(x, y[:5])


def test_batches_cover_every_sample_once_and_keep_pairs():
    n = 1000
    x, y = (np.arange(n) * 3).reshape(n, 1), np.arange(n)
    got = list(batches(x, y, 64, seed=1))
    assert [len(b[1]) for b in got] == [64] * 15 + [40]  # last partial batch kept
    ys = np.concatenate([b[1] for b in got])
    assert sorted(ys.tolist()) == list(range(n)) and not np.array_equal(ys, np.arange(n))
    assert all(np.array_equal(xb[:, 0], yb * 3) for xb, yb in got)


def test_batches_reproducible_and_seed_dependent():
    x, y = np.arange(200).reshape(200, 1), np.arange(200)
    first = [yb for _, yb in batches(x, y, 32, seed=3)]
    again = [yb for _, yb in batches(x, y, 32, seed=3)]
    other = [yb for _, yb in batches(x, y, 32, seed=4)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    rng = np.random.default_rng(0)  # a shared generator gives a new order every epoch
    e1 = np.concatenate([yb for _, yb in batches(x, y, 32, seed=rng)])
    e2 = np.concatenate([yb for _, yb in batches(x, y, 32, seed=rng)])
    assert not np.array_equal(e1, e2)


def test_batches_options():
    x, y = IMAGES, np.arange(6)
    ordered = list(batches(x, y, 4, shuffle=False, dtype=np.float32))
    assert [b[1].tolist() for b in ordered] == [[0, 1, 2, 3], [4, 5]]
    assert ordered[0][0].dtype == np.float32 and ordered[0][0].shape == (4, 28, 28)
    assert [len(b[1]) for b in batches(x, y, 4, drop_last=True)] == [4]
    for bad in (0, -1, 2.5, True):
        with pytest.raises(DataError, match="batch_size"):
            list(batches(x, y, bad))
    with pytest.raises(ShapeError):
        list(batches(x, y[:3]))


def test_dataset_arrays_scales_flattens_and_gives_integer_labels():
    from autograd_viz.data import Dataset

    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = np.array([0, 9, 3, 3, 1], dtype=np.uint8)
    ds = Dataset("mnist", images, labels, images[:2], labels[:2], "synthetic")
    x, y, x_test, y_test = ds.arrays()
    assert x.shape == (5, 784) and x.dtype == np.float32 and x_test.shape == (2, 784)
    assert x[1, 28 * 3 + 7] == np.float32(images[1, 3, 7]) / np.float32(255)
    assert y.dtype == np.intp and y.tolist() == [0, 9, 3, 3, 1] and y_test.tolist() == [0, 9]
    assert ds.arrays(np.float64)[0].dtype == np.float64
