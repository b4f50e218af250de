"""Finding data files and downloading them: a local HTTP server on 127.0.0.1 stands in for the mirrors."""

import gzip
import hashlib
import http.server
import io
import os
import threading

import numpy as np
import pytest

from autograd_viz.data import download, load_fashion_mnist, load_mnist, load_mnist_test_split, search_folders, sources
from autograd_viz.data.idx import write_idx
from autograd_viz.errors import DataError

FILES = sources.FILES


def _fake_files(n_train=12, n_test=7, seed=0):
    """Small valid gzipped IDX files under the standard names, and the arrays they hold."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    return {f"{k}.gz": gzip.compress(write_idx(v), mtime=0) for k, v in arrays.items()}, arrays


def _sha(data):
    return hashlib.sha256(data).hexdigest()


class _Server:
    """Serves ``routes[path]``: bytes, or a list of responses used one per request (an int is an error status,
    ``("short", bytes)`` announces more bytes than it sends). Counts requests per path."""

    def __init__(self):
        self.routes, self.hits = {}, {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 5

            def do_GET(self):  # noqa: N802 (http.server's name)
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                route = server.routes.get(self.path, 404)
                if isinstance(route, list):
                    route = route.pop(0) if len(route) > 1 else route[0]
                if isinstance(route, int):
                    self.send_error(route)
                    return
                short = isinstance(route, tuple)
                body = route[1] if short else route
                self.send_response(200)
                self.send_header("Content-Length", str(len(body) + (1000 if short else 0)))
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No env data folder, an empty cache in tmp_path, no Debian folder, no mirror override."""
    monkeypatch.delenv("AUTOGRAD_VIZ_DATA", raising=False)
    monkeypatch.delenv("AUTOGRAD_VIZ_MIRROR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(sources, "DEBIAN_FASHION", tmp_path / "debian" / "fashion-mnist")
    return tmp_path


def _get(server, name, dest, accepted, **kw):
    kw.setdefault("retries", 3)
    return download(name, [server.url], dest, accepted, backoff=0, timeout=5, progress=False, **kw)


def test_good_file_lands_and_progress_is_shown(server, tmp_path):
    files, _ = _fake_files()
    data = files["t10k-images-idx3-ubyte.gz"]
    server.routes["/t10k-images-idx3-ubyte.gz"] = data
    out = io.StringIO()
    dest = tmp_path / "dl" / "t10k-images-idx3-ubyte.gz"
    download("t10k-images-idx3-ubyte.gz", [server.url], dest, [_sha(data)], backoff=0, timeout=5, stream=out)
    assert dest.read_bytes() == data
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]
    assert "downloading t10k-images-idx3-ubyte.gz" in out.getvalue() and "100%" in out.getvalue()


def test_content_checksum_accepted_for_recompressed_file(server, tmp_path):
    raw = write_idx(np.arange(10, dtype=np.uint8))
    server.routes["/l.gz"] = gzip.compress(raw, mtime=123)
    dest = _get(server, "l.gz", tmp_path / "l.gz", [_sha(raw)])  # only the uncompressed content's sha256 known
    assert gzip.decompress(dest.read_bytes()) == raw


@pytest.mark.parametrize("kind", ["wrong checksum", "corrupt gzip", "cut short"])
def test_bad_download_leaves_nothing_behind(server, tmp_path, kind):
    files, _ = _fake_files()
    good = files["train-labels-idx1-ubyte.gz"]
    if kind == "wrong checksum":
        served = gzip.compress(write_idx(np.zeros(12, dtype=np.uint8)))  # a valid file, but not the expected one
    elif kind == "corrupt gzip":
        served = good[:20] + bytes(len(good) - 20)
    else:
        served = ("short", good[:-10])
    server.routes["/train-labels-idx1-ubyte.gz"] = served
    folder = tmp_path / "dl"
    folder.mkdir()
    with pytest.raises(DataError) as info:
        _get(server, "train-labels-idx1-ubyte.gz", folder / "train-labels-idx1-ubyte.gz", [_sha(good)])
    message = str(info.value)
    assert "train-labels-idx1-ubyte.gz" in message and server.url in message
    expected = {"wrong checksum": "checksum mismatch", "corrupt gzip": "bad gzip", "cut short": "closed early"}[kind]
    assert expected in message, message
    assert list(folder.iterdir()) == []  # no file, no temp file


def test_retries_after_404_and_500(server, tmp_path):
    files, _ = _fake_files()
    data = files["t10k-labels-idx1-ubyte.gz"]
    server.routes["/t10k-labels-idx1-ubyte.gz"] = [404, 500, data]
    slept = []
    dest = download("t10k-labels-idx1-ubyte.gz", [server.url], tmp_path / "x.gz", [_sha(data)], retries=3,
                    backoff=0.5, progress=False, timeout=5, sleep=slept.append)
    assert dest.read_bytes() == data
    assert server.hits["/t10k-labels-idx1-ubyte.gz"] == 3
    assert slept == [0.5, 1.0]  # exponential backoff between attempts


def test_too_few_retries_reports_every_failure(server, tmp_path):
    server.routes["/f.gz"] = [404, 500, b"late"]
    with pytest.raises(DataError) as info:
        _get(server, "f.gz", tmp_path / "f.gz", ["0" * 64], retries=2)
    assert "HTTP 404" in str(info.value) and "HTTP 500" in str(info.value)
    assert not (tmp_path / "f.gz").exists()


def test_falls_back_to_the_second_mirror(server, tmp_path):
    data = b"payload"
    server.routes["/b/f.gz"] = data
    dest = download("f.gz", [server.url + "a/", server.url + "b"], tmp_path / "f.gz", [_sha(data)], retries=2,
                    backoff=0, progress=False, timeout=5)
    assert dest.read_bytes() == data and server.hits["/a/f.gz"] == 2


def test_html_error_page_and_unwritable_folder(server, tmp_path):
    server.routes["/f.gz"] = b"<html>Access denied</html>"
    with pytest.raises(DataError, match=r"checksum mismatch for f\.gz: got sha256 [0-9a-f]{64}, expected 0{64}$"):
        _get(server, "f.gz", tmp_path / "f.gz", ["0" * 64])
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(DataError, match=r"cannot write f\.gz into .*file"):
        _get(server, "f.gz", tmp_path / "file" / "f.gz", ["0" * 64])


def test_refuses_unverifiable_or_non_http(tmp_path):
    with pytest.raises(DataError, match="no known sha256"):
        download("f.gz", ["http://127.0.0.1:9/"], tmp_path / "f.gz", [], progress=False)
    with pytest.raises(DataError, match="only http:// and https://"):
        download("f.gz", ["file:///etc/"], tmp_path / "f.gz", ["0" * 64], progress=False)


def test_load_mnist_downloads_into_cache_then_reuses_it(server, isolated, monkeypatch):
    files, arrays = _fake_files()
    server.routes.update({f"/{k}": v for k, v in files.items()})
    monkeypatch.setitem(sources.CHECKSUMS, "mnist", {k[:-3]: (_sha(v),) for k, v in files.items()})
    monkeypatch.setenv("AUTOGRAD_VIZ_MIRROR", server.url)
    ds = load_mnist(progress=False, retries=1)
    np.testing.assert_array_equal(ds.train_images, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(ds.test_labels, arrays["t10k-labels-idx1-ubyte"])
    cache = isolated / "cache" / "autograd_viz" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(files)
    assert ds.source == str(cache)
    again = load_mnist(download=False)
    np.testing.assert_array_equal(again.train_labels, ds.train_labels)
    assert all(n == 1 for n in server.hits.values())


def test_download_failure_names_the_bad_file_and_stops(server, isolated, monkeypatch):
    files, _ = _fake_files()
    server.routes.update({f"/{k}": v for k, v in files.items()})
    server.routes["/train-labels-idx1-ubyte.gz"] = b"garbage"
    monkeypatch.setitem(sources.CHECKSUMS, "mnist", {k[:-3]: (_sha(v),) for k, v in files.items()})
    with pytest.raises(DataError) as info:
        load_mnist(mirrors=[server.url], progress=False, retries=1)
    message = str(info.value)
    assert "missing train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz]" in message
    assert "checksum mismatch for train-labels-idx1-ubyte.gz" in message
    assert "t10k-labels-idx1-ubyte.gz: not tried after that failure" in message
    cache = isolated / "cache" / "autograd_viz" / "mnist"
    assert [p.name for p in cache.iterdir()] == ["train-images-idx3-ubyte.gz"]  # the good one, no temp files
    assert "/t10k-images-idx3-ubyte.gz" not in server.hits


def test_download_false_never_touches_the_network(server, isolated):
    with pytest.raises(DataError, match=r"downloading disabled"):
        load_mnist(mirrors=[server.url], download=False)
    assert server.hits == {}


def test_offline_error_lists_every_folder_and_how_to_fix(isolated, tmp_path):
    (tmp_path / "mine").mkdir()
    with pytest.raises(DataError) as info:
        load_fashion_mnist(tmp_path / "mine", download=False)
    message = str(info.value)
    for folder in search_folders("fashion-mnist", tmp_path / "mine"):
        assert str(folder) in message
    assert f"{tmp_path / 'mine' / 'fashion-mnist'} (missing)" in message
    assert str(sources.DEBIAN_FASHION) in message
    for hint in ("--data-dir", "AUTOGRAD_VIZ_DATA", "apt-get install dataset-fashion-mnist", "found: none"):
        assert hint in message, hint


def test_unresolvable_mirror_is_not_retried(isolated):
    with pytest.raises(DataError) as info:
        load_mnist_test_split(mirrors="http://nonexistent.invalid/", progress=False, retries=3, timeout=5)
    assert not (isolated / "cache").exists()  # a failed download does not even leave the cache folder behind
    message = str(info.value)
    assert "t10k-images-idx3-ubyte.gz: download failed: http://nonexistent.invalid/" in message
    assert message.count("nonexistent.invalid/t10k-images") == 1  # one attempt, no retries


def _put(folder, files, names=None, raw=False):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if names is None or name[:-3] in names:
            if raw:
                (folder / name[:-3]).write_bytes(gzip.decompress(data))
            else:
                (folder / name).write_bytes(data)


def test_lookup_order_and_layouts(isolated, monkeypatch):
    files_a, arrays_a = _fake_files(seed=1)
    files_b, arrays_b = _fake_files(seed=2)
    env = isolated / "env"
    _put(env / "mnist", files_a, raw=True)  # raw files in the mnist/ subfolder
    monkeypatch.setenv("AUTOGRAD_VIZ_DATA", str(env))
    ds = load_mnist(download=False)
    np.testing.assert_array_equal(ds.train_images, arrays_a["train-images-idx3-ubyte"])
    assert ds.source == str(env / "mnist")
    mine = isolated / "mine"
    _put(mine, files_b)  # .gz files directly in data_dir win over the env folder
    ds = load_mnist(mine, download=False)
    np.testing.assert_array_equal(ds.train_images, arrays_b["train-images-idx3-ubyte"])
    assert ds.source == str(mine)


def test_files_are_looked_up_one_by_one(isolated, monkeypatch):
    files, arrays = _fake_files()
    mine, cache = isolated / "mine", isolated / "cache" / "autograd_viz" / "mnist"
    _put(mine, files, names=FILES[1:])
    _put(cache, files, names=FILES[:1])
    ds = load_mnist(mine, download=False)
    np.testing.assert_array_equal(ds.train_images, arrays["train-images-idx3-ubyte"])
    assert str(cache / "train-images-idx3-ubyte.gz") in ds.source and str(mine) in ds.source


def test_debian_folder_is_searched_for_fashion_only(isolated):
    files, arrays = _fake_files()
    _put(sources.DEBIAN_FASHION, files)
    ds = load_fashion_mnist(download=False)
    np.testing.assert_array_equal(ds.test_images, arrays["t10k-images-idx3-ubyte"])
    assert ds.classes[9] == "Ankle boot"
    with pytest.raises(DataError):
        load_mnist(download=False)


def test_mismatched_counts_name_both_files(isolated):
    files, _ = _fake_files()
    files["t10k-labels-idx1-ubyte.gz"] = gzip.compress(write_idx(np.zeros(3, dtype=np.uint8)))
    _put(isolated / "mine", files)
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz has 7 images but .*t10k-labels-idx1-ubyte\.gz "
                                        r"has 3 labels"):
        load_mnist(isolated / "mine", download=False)


def test_data_dir_that_does_not_exist_is_an_error(isolated):
    with pytest.raises(DataError, match=r"data_dir .*typo: no such folder"):
        load_mnist(isolated / "typo", download=False)


def test_test_split_needs_only_t10k_files(isolated):
    files, arrays = _fake_files(n_test=10)
    _put(isolated / "mine", files, names=FILES[2:])
    ds = load_mnist_test_split(isolated / "mine", n_train=8, download=False)
    np.testing.assert_array_equal(ds.train_images, arrays["t10k-images-idx3-ubyte"][:8])
    np.testing.assert_array_equal(ds.test_labels, arrays["t10k-labels-idx1-ubyte"][8:])
    with pytest.raises(DataError, match="n_train must be an integer in 1..9"):
        load_mnist_test_split(isolated / "mine", n_train=10, download=False)


def test_reloading_reuses_arrays_until_a_file_changes(isolated):
    files, arrays = _fake_files()
    mine = isolated / "mine"
    _put(mine, files)
    first, second = load_mnist(mine, download=False), load_mnist(mine, download=False)
    assert second.train_images is first.train_images and not first.train_images.flags.writeable
    new_labels = np.full(7, 9, dtype=np.uint8)
    (mine / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(write_idx(new_labels)))
    os.utime(mine / "t10k-labels-idx1-ubyte.gz", ns=(1, 1))  # a new version even on coarse-mtime file systems
    third = load_mnist(mine, download=False)
    np.testing.assert_array_equal(third.test_labels, new_labels)
    np.testing.assert_array_equal(third.train_labels, arrays["train-labels-idx1-ubyte"])


def test_mnist_without_train_images_lists_found_files_and_the_way_out(isolated):
    files, _ = _fake_files()
    _put(isolated / "mine", files, names=FILES[1:])
    with pytest.raises(DataError) as info:
        load_mnist(isolated / "mine", download=False)
    message = str(info.value)
    assert message.startswith("mnist: missing train-images-idx3-ubyte[.gz]; found: ")
    assert all(str(isolated / "mine" / f"{name}.gz") in message for name in FILES[1:])
    assert message.endswith("(CLI: --dataset mnist-test-split) splits the 10,000 test images instead")
