"""Hostile data files and mirrors: gzip bombs (peak memory measured in a child process), IDX files of the wrong
shape, special files where an IDX file is expected, a mirror that trickles bytes, stale `.part` files."""

from __future__ import annotations

import gzip
import http.server
import os
import subprocess
import sys
import threading
import time
import zlib

import numpy as np
import pytest
from hostile import peak_rss_mb

from autograd_viz.data import download, load_mnist_test_split, read_idx, write_idx
from autograd_viz.data.idx import IMAGES_MAGIC, LABELS_MAGIC, MAX_IDX_BYTES
from autograd_viz.errors import DataError

GIB = 1 << 30


def _zeros_member(nbytes: int) -> bytes:
    """One gzip member that inflates to ``nbytes`` zero bytes (a few kB per 16 MiB)."""
    return gzip.compress(bytes(nbytes), compresslevel=9, mtime=0)


def write_bomb(path, header_dims: tuple[int, ...], inflated: int, magic_code: int = 0x08) -> int:
    """A multi-member gzip: an IDX header declaring ``header_dims``, then zeros up to ``inflated`` bytes in total.
    Returns the compressed size."""
    header = bytes([0, 0, magic_code, len(header_dims)]) + b"".join(n.to_bytes(4, "big") for n in header_dims)
    block = 16 << 20
    member = _zeros_member(block)
    count, rest = divmod(inflated - len(header), block)
    with open(path, "wb") as handle:
        handle.write(gzip.compress(header, mtime=0))
        for _ in range(count):
            handle.write(member)
        handle.write(_zeros_member(rest))
    return os.path.getsize(path)


BOMB_CODE = """
import sys
from autograd_viz.data import read_idx
from autograd_viz.errors import DataError
try:
    read_idx(sys.argv[1] if len(sys.argv) > 1 else {path!r}, {magic})
    print("READ")
except DataError as exc:
    print("ERROR", exc)
"""


@pytest.mark.parametrize("dims, what", [
    ((10000, 28, 28), "trailing bytes"),  # declares 7.8 MB, inflates to 10 GiB
    ((13_700_000, 28, 28), "more than the"),  # declares 10 GiB: refused before reading
])
def test_gzip_bomb_is_bounded_by_the_header(tmp_path, dims, what, record_property):
    bomb = tmp_path / "t10k-images-idx3-ubyte.gz"
    size = write_bomb(bomb, dims, 10 * GIB)
    baseline, _ = peak_rss_mb("import autograd_viz.data")
    peak, out = peak_rss_mb(BOMB_CODE.format(path=str(bomb), magic=IMAGES_MAGIC), timeout=300)
    assert out.startswith("ERROR") and what in out and str(bomb) in out, out
    declared = min(np.prod(dims), MAX_IDX_BYTES) / 2**20
    record_property("peak_mb", peak)
    print(f"\ngzip bomb {size / 2**20:.1f} MB -> 10 GiB, header {dims}: peak RSS {peak:.0f} MB "
          f"(import alone {baseline:.0f} MB)")
    assert peak < baseline + declared + 64, (peak, baseline)


def test_a_legitimate_file_costs_about_its_size(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (20000, 28, 28), dtype=np.uint8)  # 15.7 MB
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(write_idx(images), compresslevel=1))
    baseline, _ = peak_rss_mb("import autograd_viz.data")
    peak, out = peak_rss_mb(BOMB_CODE.format(path=str(path), magic=IMAGES_MAGIC), timeout=120)
    assert out.startswith("READ"), out
    print(f"\n15.7 MB of images: peak RSS {peak:.0f} MB (import alone {baseline:.0f} MB)")
    assert peak < baseline + 2.5 * images.nbytes / 2**20 + 32
    np.testing.assert_array_equal(read_idx(path, IMAGES_MAGIC), images)


def test_idx_of_the_wrong_shape_is_not_mnist(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte").write_bytes(write_idx(np.zeros((10000, 2, 392), np.uint8)))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(write_idx(np.zeros(10000, np.uint8)))
    with pytest.raises(DataError, match=r"dimensions 10000 x 2 x 392 do not fit this data set, which needs N x 28"):
        load_mnist_test_split(tmp_path, download=False)


@pytest.mark.parametrize("make, kind", [
    (lambda d: os.mkfifo(d / "t10k-images-idx3-ubyte") or d / "t10k-images-idx3-ubyte", "FIFO"),
    (lambda d: (d / "t10k-images-idx3-ubyte").symlink_to("/dev/zero") or d / "t10k-images-idx3-ubyte",
     "character device"),
])
def test_special_file_as_idx_is_one_line_not_a_hang(tmp_path, make, kind):
    path = make(tmp_path)
    start = time.monotonic()
    with pytest.raises(DataError) as info:
        read_idx(path, IMAGES_MAGIC)
    assert kind in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)
    assert time.monotonic() - start < 2


def test_train_on_a_fifo_data_file_is_one_line(tmp_path):
    from hostile import assert_one_line_error, run_cli

    folder = tmp_path / "mnist"
    folder.mkdir()
    os.mkfifo(folder / "t10k-images-idx3-ubyte")
    (folder / "t10k-labels-idx1-ubyte").write_bytes(write_idx(np.zeros(10, np.uint8)))
    done = run_cli(["train", "--dataset", "mnist-test-split", "--data-dir", str(tmp_path), "--epochs", "1", "-q"],
                   timeout=60, env={"XDG_CACHE_HOME": str(tmp_path / "cache"), "AUTOGRAD_VIZ_MIRROR": "http://0.0.0.0:9/"})
    assert_one_line_error(done, "FIFO")


# --- downloads --------------------------------------------------------------------------------------------------
class _Trickle:
    """A mirror announcing 1000 bytes and sending one byte every ``gap`` seconds."""

    def __init__(self, gap: float) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                try:
                    for _ in range(1000):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(gap)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_trickling_mirror_hits_the_total_deadline_and_leaves_no_part(tmp_path):
    mirror = _Trickle(gap=0.1)  # every read succeeds well inside the 5 s per-read timeout
    try:
        start = time.monotonic()
        with pytest.raises(DataError, match="deadline") as info:
            download("f.gz", [mirror.url], tmp_path / "cache" / "f.gz", ["0" * 64], retries=3, timeout=5.0,
                     deadline=1.0, progress=False, sleep=lambda s: None)
        elapsed = time.monotonic() - start
    finally:
        mirror.close()
    assert elapsed < 3, elapsed
    assert "\n" not in str(info.value)
    assert not (tmp_path / "cache").exists() or os.listdir(tmp_path / "cache") == []


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0.0, -1.0])
def test_download_refuses_a_deadline_that_is_not_a_positive_number(tmp_path, value):
    with pytest.raises(DataError, match="deadline"):
        download("f.gz", ["http://127.0.0.1:9/"], tmp_path / "f.gz", ["0" * 64], deadline=value)


def test_part_file_of_a_killed_download_is_removed_by_the_next(tmp_path):
    mirror = _Trickle(gap=0.05)
    cache = tmp_path / "cache"
    code = ("import sys\nfrom autograd_viz.data import download\n"
            "download('f.gz', [sys.argv[1]], sys.argv[2], ['0' * 64], progress=False)\n")
    child = subprocess.Popen([sys.executable, "-c", code, mirror.url, str(cache / "f.gz")])
    try:
        for _ in range(200):
            parts = list(cache.glob(".f.gz.*.part")) if cache.exists() else []
            if parts and parts[0].stat().st_size > 0:
                break
            time.sleep(0.05)
        assert parts, "the child never started its download"
        child.kill()  # SIGKILL: no `finally` runs, the .part stays
        child.wait()
        assert parts[0].exists()
        with pytest.raises(DataError):
            download("f.gz", [mirror.url], cache / "f.gz", ["0" * 64], deadline=0.5, progress=False, retries=1,
                     sleep=lambda _seconds: None)  # no real back-off waits: one try against the trickle
    finally:
        mirror.close()
        if child.poll() is None:
            child.kill()
    assert list(cache.iterdir()) == []


def test_zlib_stream_errors_are_data_errors(tmp_path):
    bad = tmp_path / "x-idx1-ubyte.gz"
    bad.write_bytes(gzip.compress(write_idx(np.arange(10, dtype=np.uint8)))[:12] + zlib.compress(b"junk"))
    with pytest.raises(DataError, match="bad gzip"):
        read_idx(bad, LABELS_MAGIC)


@pytest.mark.parametrize("where", ["/dev/null", "file"])
def test_data_dir_that_is_not_a_folder_is_named_so(tmp_path, where):
    from autograd_viz.data import load_mnist

    path = tmp_path / "plain" if where == "file" else where
    if where == "file":
        path.write_text("x")
    with pytest.raises(DataError, match=f"data_dir {path}: is not a folder"):
        load_mnist(path, download=False)
