"""MNIST and Fashion-MNIST: find the four IDX files locally, download what is missing, return a ``Dataset``.

Each file is looked up, in order, in: ``data_dir`` (the CLI's ``--data-dir``), ``$AUTOGRAD_VIZ_DATA``, the user cache
(``$XDG_CACHE_HOME/autograd_viz`` or ``~/.cache/autograd_viz``) and, for Fashion-MNIST, Debian's
``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``). In each folder the files may sit
in its ``mnist/`` (or ``fashion-mnist/``) subfolder or directly in it, raw or ``.gz``. Files still missing are
downloaded into the cache (mirrors from ``mirrors=`` or ``$AUTOGRAD_VIZ_MIRROR``), sha256-verified; offline, one
error lists every path tried and how to provide the files. A local file whose content is a known *other* file
(Fashion-MNIST where MNIST was expected, t10k under a train name) is refused; unknown content (your own IDX files)
is accepted. Loaded arrays are read-only and memoised per file version, so loading twice in a process is free.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograd_viz.data.download import download
from autograd_viz.data.idx import IMAGES_MAGIC, LABELS_MAGIC, check_pair, parse_idx, read_bytes
from autograd_viz.data.preprocess import downsample2x, flatten, scale
from autograd_viz.errors import DataError

#: what every MNIST-style file must hold: N images of 28 x 28 pixels, N labels (an IDX of 10000 x 2 x 392 is
#: not MNIST, however many bytes it has)
IMAGE_SHAPE: tuple[int | None, ...] = (None, 28, 28)
LABEL_SHAPE: tuple[int | None, ...] = (None,)
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

#: sha256 accepted for each file: of the official .gz and/or of the uncompressed IDX content (the latter survives
#: re-compression, e.g. Debian's or the shared copies). Content hashes were checked against the shared data set.
CHECKSUMS: dict[str, dict[str, tuple[str, ...]]] = {
    "mnist": {
        "train-images-idx3-ubyte": ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                                    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
        "train-labels-idx1-ubyte": ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                                    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
        "t10k-images-idx3-ubyte": ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                                   "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
        "t10k-labels-idx1-ubyte": ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                                   "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",),
        "train-labels-idx1-ubyte": ("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",),
        "t10k-images-idx3-ubyte": ("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",),
        "t10k-labels-idx1-ubyte": ("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",),
    },
}
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": tuple("0123456789"),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"),
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded data set: uint8 images (N, 28, 28) and uint8 labels (N,), read-only; ``source`` says where from."""

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str

    @property
    def classes(self) -> tuple[str, ...]:
        """Human-readable class names, index = label."""
        return CLASS_NAMES.get(self.name.split(" ")[0], tuple(str(i) for i in range(10)))

    def arrays(self, dtype: Any = np.float32, downsample: bool = False
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(x_train, y_train, x_test, y_test)`` ready for an MLP: pixels scaled to [0, 1] and flattened to
        (N, 784) in ``dtype`` (``downsample``: every second pixel first, (N, 196), as in note 000), labels as
        integer class indices."""
        def prepare(images: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(flatten(scale(downsample2x(images) if downsample else images, dtype)))

        return (prepare(self.train_images), self.train_labels.astype(np.intp),
                prepare(self.test_images), self.test_labels.astype(np.intp))

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={self.train_images.shape}, test={self.test_images.shape}, "
                f"source={self.source!r})")


def cache_dir() -> Path:
    """The user cache folder: ``$XDG_CACHE_HOME/autograd_viz``, else ``~/.cache/autograd_viz``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "autograd_viz"


def search_folders(dataset: str, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for ``dataset``'s files, in order (each root's subfolder first, then the root)."""
    roots: list[Path] = []
    if data_dir is not None:
        roots.append(Path(data_dir).expanduser())
    if os.environ.get("AUTOGRAD_VIZ_DATA"):
        roots.append(Path(os.environ["AUTOGRAD_VIZ_DATA"]).expanduser())
    roots.append(cache_dir())
    folders = [f for root in roots for f in (root / dataset, root)]
    if dataset == "fashion-mnist":
        folders.append(DEBIAN_FASHION)
    return list(dict.fromkeys(folders))


def find_file(name: str, folders: Sequence[Path]) -> Path | None:
    """The first ``name`` or ``name.gz`` in ``folders``, or None. Anything there under that name counts (a FIFO,
    device or folder too), so reading it says what is wrong instead of silently downloading around it."""
    for folder in folders:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.exists():
                return candidate
    return None


def mirror_list(dataset: str, mirrors: Sequence[str] | str | None = None) -> list[str]:
    """Mirror base URLs: ``mirrors`` if given, else ``$AUTOGRAD_VIZ_MIRROR`` (comma-separated), else the defaults."""
    if mirrors is None:
        mirrors = os.environ.get("AUTOGRAD_VIZ_MIRROR") or MIRRORS[dataset]
    if isinstance(mirrors, str):
        mirrors = [m.strip() for m in mirrors.split(",") if m.strip()]
    return list(mirrors)


def locate(dataset: str, names: Sequence[str] = FILES, data_dir: str | os.PathLike | None = None, *,
           download_missing: bool = True, mirrors: Sequence[str] | str | None = None,
           checksums: dict[str, Sequence[str]] | None = None, retries: int = 3, timeout: float = 30.0,
           backoff: float = 1.0, progress: bool = True) -> dict[str, Path]:
    """Map each file name to a local path, downloading missing ones into the cache; DataError lists what is missing,
    what was found, every folder tried and how to provide the files."""
    if data_dir is not None and Path(data_dir).expanduser().exists() and not Path(data_dir).expanduser().is_dir():
        raise DataError(f"data_dir {data_dir}: is not a folder (it should hold the {dataset} files or a {dataset}/ "
                        "subfolder)")
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise DataError(f"data_dir {data_dir}: no such folder (it should hold the {dataset} files or a {dataset}/ "
                        "subfolder)")
    folders = search_folders(dataset, data_dir)
    found = {name: find_file(name, folders) for name in names}
    missing = [name for name, path in found.items() if path is None]
    problems: list[str] = []
    if missing and download_missing:
        known = CHECKSUMS.get(dataset, {}) if checksums is None else checksums
        target = cache_dir() / dataset
        for name in missing:
            if problems:  # the same mirrors would fail again (offline: every file would wait for its timeouts)
                problems.append(f"{name}.gz: not tried after that failure")
                continue
            try:
                found[name] = download(f"{name}.gz", mirror_list(dataset, mirrors), target / f"{name}.gz",
                                       known.get(name, ()), retries=retries, timeout=timeout, backoff=backoff,
                                       progress=progress)
            except DataError as exc:
                problems.append(str(exc))
        missing = [name for name, path in found.items() if path is None]
    if missing:
        raise DataError(_missing_message(dataset, found, missing, folders, download_missing, problems))
    return {name: path for name, path in found.items() if path is not None}


def _missing_message(dataset: str, found: dict[str, Path | None], missing: list[str], folders: list[Path],
                     download_missing: bool, problems: list[str]) -> str:
    have = ", ".join(str(p) for p in found.values() if p is not None) or "none"
    tried = ", ".join(str(f) if f.is_dir() else f"{f} (missing)" for f in folders)
    fetched = "; ".join(problems) if download_missing else "downloading disabled (download=False)"
    how = ("put the files (raw or .gz) in one of those folders, pass data_dir / --data-dir, or set AUTOGRAD_VIZ_DATA "
           f"to a folder holding them or a {dataset}/ subfolder")
    if dataset == "fashion-mnist":
        how += ", or `apt-get install dataset-fashion-mnist`"
    elif "train-images-idx3-ubyte" in missing:
        how += ("; without MNIST's training images, load_mnist_test_split() (CLI: --dataset mnist-test-split) "
                "splits the 10,000 test images instead")
    return (f"{dataset}: missing {', '.join(f'{m}[.gz]' for m in missing)}; found: {have}; looked in: {tried}; "
            f"{fetched}. To fix: {how}")


#: sha256 of known uncompressed content -> (data set, file name), to catch files put in the wrong place.
KNOWN_CONTENT: dict[str, tuple[str, str]] = {
    digest: (dataset, name) for dataset, files in CHECKSUMS.items() for name, digests in files.items()
    for digest in digests
}


def _read_split(dataset: str, paths: dict[str, Path], prefix: str) -> tuple[np.ndarray, np.ndarray]:
    images_path, labels_path = paths[f"{prefix}-images-idx3-ubyte"], paths[f"{prefix}-labels-idx1-ubyte"]
    return _read_pair(dataset, images_path, labels_path, _stamp(images_path), _stamp(labels_path))


def _stamp(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)  # read_bytes will report it
    return (stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _read_pair(dataset: str, images_path: Path, labels_path: Path,
               *stamps: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Read and cross-check one images/labels pair; memoised per file version (the arrays are read-only, so
    loading the same data twice in a process, e.g. across tests, costs nothing)."""
    images = _read_checked(dataset, images_path, IMAGES_MAGIC)
    labels = _read_checked(dataset, labels_path, LABELS_MAGIC)
    check_pair(images, labels, str(images_path), str(labels_path))
    return images, labels


def _read_checked(dataset: str, path: Path, magic: int) -> np.ndarray:
    """Parse one file, refusing a known file under the wrong name (Fashion-MNIST found while looking for MNIST,
    t10k for train); unknown content (your own IDX files) is accepted. sha256 costs ~0.03 s for 47 MB."""
    shape = IMAGE_SHAPE if magic == IMAGES_MAGIC else LABEL_SHAPE
    data = read_bytes(path, magic, shape)  # bounded by the header, which must fit the data set's shape
    owner = KNOWN_CONTENT.get(hashlib.sha256(data).hexdigest())
    name = path.name.removesuffix(".gz")
    if owner is not None and owner != (dataset, name):
        raise DataError(f"{path}: this is {owner[0]}'s {owner[1]}, not {dataset}'s {name} (files of different data "
                        "sets or splits mixed up in one folder?)")
    return parse_idx(data, path, magic, shape)


def _describe_source(paths: dict[str, Path]) -> str:
    folders = sorted({str(p.parent) for p in paths.values()})
    if len(folders) == 1:
        return folders[0]
    return ", ".join(str(p) for p in paths.values())


def _load(dataset: str, data_dir: str | os.PathLike | None, **options: Any) -> Dataset:
    paths = locate(dataset, FILES, data_dir, **options)
    train_images, train_labels = _read_split(dataset, paths, "train")
    test_images, test_labels = _read_split(dataset, paths, "t10k")
    return Dataset(dataset, train_images, train_labels, test_images, test_labels, _describe_source(paths))


def load_mnist(data_dir: str | os.PathLike | None = None, *, download: bool = True,
               mirrors: Sequence[str] | str | None = None, retries: int = 3, timeout: float = 30.0,
               progress: bool = True) -> Dataset:
    """MNIST digits, 60,000 train + 10,000 test (see the module docstring for where files are looked for).

    ``download=False`` never touches the network; ``mirrors`` (base URLs) overrides ``$AUTOGRAD_VIZ_MIRROR`` and
    the defaults. Raises DataError listing found/missing files and the folders tried when files cannot be had.
    """
    return _load("mnist", data_dir, download_missing=download, mirrors=mirrors, retries=retries, timeout=timeout,
                 progress=progress)


def load_fashion_mnist(data_dir: str | os.PathLike | None = None, *, download: bool = True,
                       mirrors: Sequence[str] | str | None = None, retries: int = 3, timeout: float = 30.0,
                       progress: bool = True) -> Dataset:
    """Fashion-MNIST (Zalando), 60,000 train + 10,000 test, same shapes as MNIST; also found in Debian's
    ``/usr/share/datasets/fashion-mnist``. Same options and errors as ``load_mnist``."""
    return _load("fashion-mnist", data_dir, download_missing=download, mirrors=mirrors, retries=retries,
                 timeout=timeout, progress=progress)


def load_mnist_test_split(data_dir: str | os.PathLike | None = None, n_train: int = 8000, *,
                          download: bool = True, mirrors: Sequence[str] | str | None = None, retries: int = 3,
                          timeout: float = 30.0, progress: bool = True) -> Dataset:
    """MNIST from its 10,000 test images only: the first ``n_train`` (8,000) as train, the rest (2,000) as test.

    For real-digit accuracy where MNIST's training images are unavailable; report figures as "MNIST test set split
    8,000/2,000". Not shuffled: the official order (both parts are read-only views). Needs only the t10k files.
    """
    paths = locate("mnist", FILES[2:], data_dir, download_missing=download, mirrors=mirrors, retries=retries,
                   timeout=timeout, progress=progress)
    images, labels = _read_split("mnist", paths, "t10k")
    if isinstance(n_train, bool) or not isinstance(n_train, int | np.integer) or not 0 < n_train < len(images):
        raise DataError(f"load_mnist_test_split: n_train must be an integer in 1..{len(images) - 1}, got {n_train!r}")
    return Dataset(f"mnist (test-set split {n_train}/{len(images) - n_train})", images[:n_train], labels[:n_train],
                   images[n_train:], labels[n_train:], _describe_source(paths))
