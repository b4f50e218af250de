"""IDX files (the MNIST format), raw or gzip-compressed: read and validate them into NumPy arrays.

Layout: two zero bytes, a type code, the number of dimensions, that many big-endian uint32 sizes, then the data,
big-endian. Every way a file can be wrong (bad gzip, wrong magic, sizes that do not match the byte length) raises
one ``DataError`` naming the file and the problem.
"""

from __future__ import annotations

import math
import os
import zlib
from typing import Any

import numpy as np

from autograd_viz.errors import DataError, InputFileError
from autograd_viz.io import open_regular

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


#: the most data any IDX header may declare (MNIST's largest file holds 47 MB); a header asking for more is refused
#: before anything is read or allocated, so a gzip bomb costs at most what its header declares.
MAX_IDX_BYTES = 1 << 30
_CHUNK = 1 << 20


def decompress(data: bytes, where: str | os.PathLike = "<bytes>", limit: int = MAX_IDX_BYTES) -> bytes:
    """Return ``data`` gunzipped when it starts with the gzip magic, else unchanged; a broken gzip, or one that
    inflates past ``limit`` bytes, is a DataError (inflation stops there: memory stays bounded)."""
    if not data.startswith(_GZIP_MAGIC):
        return data
    out = _Gunzip(data, where).read(limit + 1)
    if len(out) > limit:
        raise DataError(f"{where}: gzip data inflates to more than {limit:,} bytes")
    return out


def _header(data: bytes | bytearray, where: str | os.PathLike, magic: int | None) -> tuple[int, tuple[int, ...]]:
    """Check an IDX header; return (header length, dimensions). Errors name the file."""
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
    return header, tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))


def _check_shape(dims: tuple[int, ...], shape: tuple[int | None, ...] | None, where: str | os.PathLike) -> None:
    """``dims`` must match ``shape`` (None: any size) when a shape is required (e.g. (None, 28, 28) for MNIST)."""
    if shape is None:
        return
    if len(dims) != len(shape) or any(want is not None and got != want for got, want in zip(dims, shape, strict=False)):
        text = " x ".join(map(str, dims))
        wanted = " x ".join("N" if n is None else str(n) for n in shape)
        raise DataError(f"{where}: dimensions {text} do not fit this data set, which needs {wanted}")


def parse_idx(data: bytes | bytearray, where: str | os.PathLike = "<bytes>", magic: int | None = None,
              shape: tuple[int | None, ...] | None = None) -> np.ndarray:
    """Parse uncompressed IDX bytes into a read-only array (no copy), checking magic, dims, ``shape`` (None
    entries: any size) and byte length."""
    header, dims = _header(data, where, magic)
    _check_shape(dims, shape, where)
    dtype = IDX_DTYPES[data[2]]
    expected = math.prod(dims) * dtype.itemsize  # Python ints: 3 huge dims must not overflow into a match
    actual = len(data) - header
    if actual != expected:
        what = "truncated" if actual < expected else "has trailing bytes"
        text = " x ".join(map(str, dims))
        raise DataError(f"{where}: {what}: dimensions {text} need {expected} data bytes, found {actual}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    if dtype.itemsize != 1:
        array = array.astype(dtype.newbyteorder("="))
    array.flags.writeable = False
    return array


class _Gunzip:
    """``read(n)``: the next ``n`` bytes of gunzipped ``data`` (every gzip member in turn), inflating no further
    than asked: zlib's ``max_length`` stops a bomb at the size the caller wants."""

    def __init__(self, data: bytes, where: str | os.PathLike, partial_ok: bool = False) -> None:
        self.rest, self.where, self.partial_ok = data, where, partial_ok
        self.inflater: Any = None

    def read(self, n: int) -> bytes:
        parts, need = [], n
        try:
            while need > 0:
                if self.inflater is None or self.inflater.eof:
                    if self.inflater is not None:
                        self.rest = self.inflater.unused_data
                    if not self.rest:
                        break
                    self.inflater, source, self.rest = zlib.decompressobj(16 + zlib.MAX_WBITS), self.rest, b""
                else:
                    source = self.inflater.unconsumed_tail
                chunk = self.inflater.decompress(source, need)
                if not chunk and not self.inflater.eof and not self.inflater.unconsumed_tail:
                    if self.partial_ok:
                        break
                    raise zlib.error("the compressed stream ends early")
                parts.append(chunk)
                need -= len(chunk)
        except zlib.error as exc:
            raise DataError(f"{self.where}: bad gzip data ({exc}): the file is truncated or corrupt") from None
        return parts[0] if len(parts) == 1 else b"".join(parts)


#: the largest IDX header: 4 bytes and 255 dimensions of 4 bytes
_MAX_HEADER = 4 + 4 * 255


def read_bytes(path: str | os.PathLike, magic: int | None = None, shape: tuple[int | None, ...] | None = None,
               limit: int = MAX_IDX_BYTES) -> bytes:
    """The uncompressed IDX content of a file, raw or ``.gz`` (detected by content), read no further than its
    header declares: a header asking for more than ``limit`` bytes, a wrong ``magic`` or ``shape``, or data past
    the declared end are refused before more is inflated. FIFOs, devices and folders are refused unopened."""
    try:
        with open_regular(path, limit + _MAX_HEADER, "IDX file") as raw:
            head = raw.read(_MAX_HEADER)
            if head.startswith(_GZIP_MAGIC):  # the compressed bytes are at most ``limit``; what they inflate to
                compressed = head + raw.read()  # is bounded by the header below
                head = _Gunzip(compressed[:1 << 16], path, partial_ok=True).read(_MAX_HEADER)
                size = _declared_size(head, path, magic, shape, limit)
                stream = _Gunzip(compressed, path)
                data = stream.read(size)  # header and data in one buffer: no copy of tens of MB
                trailing = len(data) == size and stream.read(1)
            else:
                size = _declared_size(head, path, magic, shape, limit)
                raw.seek(0)
                data = raw.read(size)
                trailing = len(data) == size and raw.read(1)
    except InputFileError as exc:
        raise DataError(str(exc).replace("IDX file ", "", 1)) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if trailing:
        header, dims = _header(data, path, magic)
        text = " x ".join(map(str, dims))
        raise DataError(f"{path}: has trailing bytes: dimensions {text} need {size - header} data bytes, the file "
                        "holds more (stopped reading there)")
    return data


def _declared_size(head: bytes, where: str | os.PathLike, magic: int | None, shape: tuple[int | None, ...] | None,
                   limit: int) -> int:
    """Header plus data bytes the IDX header ``head`` declares, after checking magic, shape and ``limit``."""
    header, dims = _header(head, where, magic)
    _check_shape(dims, shape, where)
    expected = math.prod(dims) * IDX_DTYPES[head[2]].itemsize
    if expected > limit:
        text = " x ".join(map(str, dims))
        raise DataError(f"{where}: its header declares {text} = {expected:,} data bytes, more than the {limit:,} "
                        "allowed (refused before reading)")
    return header + expected


def read_idx(path: str | os.PathLike, magic: int | None = None,
             shape: tuple[int | None, ...] | None = None) -> np.ndarray:
    """Read an IDX file, raw or ``.gz`` (detected by content), into a read-only array; errors name the file.
    Memory stays bounded by what the header declares (see :func:`read_bytes`)."""
    return parse_idx(read_bytes(path, magic, shape), path, magic, shape)


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
