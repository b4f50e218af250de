"""IDX reader: round trips for every type code, raw and gzip, and one clear DataError per way a file can be broken."""

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_viz.data import parse_idx, read_idx, write_idx
from autograd_viz.data.idx import IMAGES_MAGIC, LABELS_MAGIC, check_pair
from autograd_viz.errors import AutogradVizError, DataError


def _images(n=5, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)


def _header(code, dims):
    return bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip_every_type_code(dtype):
    rng = np.random.default_rng(1)
    array = (rng.standard_normal((3, 4, 2)) * 100).astype(dtype)
    back = parse_idx(write_idx(array))
    assert back.dtype == np.dtype(dtype).newbyteorder("=") or back.dtype == dtype
    np.testing.assert_array_equal(back, array)


def test_header_is_big_endian_per_spec():
    # Build the bytes by hand from the IDX spec, independently of write_idx.
    values = np.array([[1, 256], [-2, 70000]], dtype=np.int32)
    data = _header(0x0C, [2, 2]) + values.astype(">i4").tobytes()
    np.testing.assert_array_equal(parse_idx(data), values)
    assert write_idx(values) == data


def test_raw_and_gz_give_the_same_array(tmp_path):
    images = _images()
    raw, gz = tmp_path / "a-idx3-ubyte", tmp_path / "b-idx3-ubyte.gz"
    raw.write_bytes(write_idx(images))
    gz.write_bytes(gzip.compress(write_idx(images)))
    a, b = read_idx(raw, IMAGES_MAGIC), read_idx(gz, IMAGES_MAGIC)
    assert a.shape == (5, 28, 28) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, images)
    np.testing.assert_array_equal(b, images)


def test_gzip_detected_by_content_not_name(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"  # no .gz suffix, gzip content
    labels = np.arange(10, dtype=np.uint8)
    path.write_bytes(gzip.compress(write_idx(labels)))
    np.testing.assert_array_equal(read_idx(path, LABELS_MAGIC), labels)


def _broken(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DataError) as info:
        read_idx(path, IMAGES_MAGIC if "idx3" in name else LABELS_MAGIC)
    message = str(info.value)
    assert str(path) in message, message
    assert "\n" not in message
    return message


def test_truncated_data(tmp_path):
    good = write_idx(_images())
    message = _broken(tmp_path, "t-idx3-ubyte", good[:-100])
    assert "truncated" in message and "5 x 28 x 28" in message and str(5 * 784 - 100) in message


def test_truncated_gzip(tmp_path):
    gz = gzip.compress(write_idx(_images()))
    message = _broken(tmp_path, "t-idx3-ubyte.gz", gz[: len(gz) // 2])
    assert "bad gzip" in message


def test_corrupt_gzip(tmp_path):
    gz = bytearray(gzip.compress(write_idx(_images())))
    gz[len(gz) // 2: len(gz) // 2 + 16] = bytes(16)  # zero a stretch of the deflate stream: CRC or stream error
    assert "bad gzip" in _broken(tmp_path, "c-idx3-ubyte.gz", bytes(gz))


def test_trailing_bytes(tmp_path):
    message = _broken(tmp_path, "x-idx1-ubyte", write_idx(np.arange(10, dtype=np.uint8)) + b"junk")
    assert "trailing bytes" in message


def test_wrong_magic_labels_given_as_images(tmp_path):
    message = _broken(tmp_path, "w-idx3-ubyte", write_idx(np.arange(10, dtype=np.uint8)))
    assert "0x00000801" in message and "0x00000803" in message


def test_not_an_idx_file(tmp_path):
    message = _broken(tmp_path, "html-idx3-ubyte", b"<html><body>404 Not Found</body></html>")
    assert "wrong magic" in message and "not an IDX file" in message


@pytest.mark.parametrize("data", [b"", b"\x00\x00"])
def test_empty_or_tiny_file(tmp_path, data):
    assert "too short" in _broken(tmp_path, "e-idx1-ubyte", data)


def test_truncated_header(tmp_path):
    assert "truncated header" in _broken(tmp_path, "h-idx3-ubyte", _header(0x08, [5, 28, 28])[:10])


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="nope-idx1-ubyte: cannot read"):
        read_idx(tmp_path / "nope-idx1-ubyte")


def test_data_error_is_the_library_error_type():
    assert issubclass(DataError, AutogradVizError)


def test_check_pair_count_mismatch_and_label_range():
    images, labels = _images(5), np.arange(4, dtype=np.uint8)
    with pytest.raises(DataError, match=r"imgs has 5 images but labs has 4 labels"):
        check_pair(images, labels, "imgs", "labs")
    with pytest.raises(DataError, match=r"labs: label 12 is out of range 0..9"):
        check_pair(images[:2], np.array([3, 12], dtype=np.uint8), "imgs", "labs")
    with pytest.raises(DataError, match=r"imgs: expected images of shape"):
        check_pair(images.reshape(5, -1), labels[:1].repeat(5), "imgs", "labs")
    check_pair(images, np.arange(5, dtype=np.uint8), "imgs", "labs")  # a matching pair passes


def test_huge_dimensions_do_not_overflow():
    data = _header(0x08, [2**32 - 1] * 3) + bytes(8)
    with pytest.raises(DataError, match="truncated: dimensions 4294967295 x"):
        parse_idx(data, "big")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.one_of(st.none(), st.sampled_from([IMAGES_MAGIC, LABELS_MAGIC])))
def test_arbitrary_bytes_give_an_array_or_a_data_error(data, magic):
    try:
        array = parse_idx(data, "fuzz", magic)
    except DataError as exc:
        assert str(exc).startswith("fuzz: ")
    else:
        assert array.size * array.itemsize == len(data) - 4 - 4 * array.ndim


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=4), st.sampled_from([np.uint8, np.int16, np.float64]))
def test_round_trip_any_shape(shape, dtype):
    array = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
    back = parse_idx(gzip.decompress(gzip.compress(write_idx(array))))
    assert back.shape == tuple(shape)
    np.testing.assert_array_equal(back, array)
