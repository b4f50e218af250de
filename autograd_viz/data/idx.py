"""IDX files (the MNIST format), raw or gzip-compressed: read and validate them into NumPy arrays.

Layout: two zero bytes, a type code, the number of dimensions, that many big-endian uint32 sizes, then the data,
big-endian. Every way a file can be wrong (bad gzip, wrong magic, sizes that do not match the byte length) raises
one ``DataError`` naming the file and the problem.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from autograd_viz.errors import DataError

#: IDX type code -> big-endian NumPy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
#: magic numbers of the MNIST files: uint8 images (3 dims) and uint8 labels (1 dim).
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
_GZIP_MAGIC = b"\x1f\x8b"


def decompress(data: bytes, where: str | os.PathLike = "<bytes>") -> bytes:
    """Return ``data`` gunzipped when it starts with the gzip magic, else unchanged; a broken gzip is a DataError."""
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{where}: bad gzip data ({exc}): the file is truncated or corrupt") from None


def parse_idx(data: bytes, where: str | os.PathLike = "<bytes>", magic: int | None = None) -> np.ndarray:
    """Parse uncompressed IDX bytes into a read-only array (no copy), checking magic, dims and byte length."""
    if len(data) < 4:
        raise DataError(f"{where}: {len(data)} bytes is too short for an IDX header (truncated or empty file)")
    zero, code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    found = int.from_bytes(data[:4], "big")
    if zero != 0 or code not in IDX_DTYPES or ndim == 0:
        raise DataError(f"{where}: wrong magic number 0x{found:08X}, not an IDX file "
                        "(expected 0x0000TTDD: two zero bytes, a type code, the number of dimensions)")
    if magic is not None and found != magic:
        raise DataError(f"{where}: wrong magic number 0x{found:08X}, expected 0x{magic:08X} "
                        f"({_describe_magic(magic)})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{where}: truncated header: {ndim} dimensions need {header} bytes, the file has {len(data)}")
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize  # Python ints: 3 huge dims must not overflow into a match
    actual = len(data) - header
    if actual != expected:
        what = "truncated" if actual < expected else "has trailing bytes"
        shape = " x ".join(map(str, dims))
        raise DataError(f"{where}: {what}: dimensions {shape} need {expected} data bytes, found {actual}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array if dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))


def read_bytes(path: str | os.PathLike) -> bytes:
    """The uncompressed content of a file, raw or ``.gz`` (detected by content); errors name the file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return decompress(data, path)


def read_idx(path: str | os.PathLike, magic: int | None = None) -> np.ndarray:
    """Read an IDX file, raw or ``.gz`` (detected by content), into a read-only array; errors name the file."""
    return parse_idx(read_bytes(path), path, magic)


def check_pair(images: np.ndarray, labels: np.ndarray, images_where: str, labels_where: str,
               num_classes: int = 10) -> None:
    """Check that an image file and a label file belong together: 28x28-style images, equal counts, labels in range."""
    if images.ndim != 3:
        raise DataError(f"{images_where}: expected images of shape (N, rows, cols), got {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{labels_where}: expected labels of shape (N,), got {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{images_where} has {len(images)} images but {labels_where} has {len(labels)} labels "
                        "(labels/images count mismatch)")
    if len(labels) and int(labels.max()) >= num_classes:
        raise DataError(f"{labels_where}: label {int(labels.max())} is out of range 0..{num_classes - 1}")


def _describe_magic(magic: int) -> str:
    return {IMAGES_MAGIC: "uint8 images with 3 dimensions", LABELS_MAGIC: "uint8 labels with 1 dimension"}.get(
        magic, "IDX")


def write_idx(array: np.ndarray) -> bytes:
    """Encode ``array`` as IDX bytes (uncompressed); used to build test files and small fixtures."""
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise DataError(f"write_idx: dtype {array.dtype} has no IDX type code")
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
