"""Data loading and preprocessing speed on the real files: gunzip + parse, the loaders, preprocessing, one epoch of
mini-batches. ``gzip.decompress`` alone is shown as the floor for loading.

    AUTOGRAD_VIZ_DATA=/work/shared/data python benchmarks/bench_data.py            # 5 repeats, min / median / max
    AUTOGRAD_VIZ_DATA=/work/shared/data python benchmarks/bench_data.py --quick    # 1 repeat (a smoke run)
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from autograd_viz.data import (
    batches,
    downsample2x,
    flatten,
    load_fashion_mnist,
    load_mnist_test_split,
    read_idx,
    scale,
    sources,
    standardize,
)


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """min / median / max wall seconds of ``fn()`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat instead of five")
    parser.add_argument("--data-dir", default=os.environ.get("AUTOGRAD_VIZ_DATA"), help="folder with fashion-mnist/")
    args = parser.parse_args()
    if not args.data_dir:
        sys.exit("set AUTOGRAD_VIZ_DATA or pass --data-dir (the folder holding mnist/ and fashion-mnist/)")
    repeats = 1 if args.quick else 5
    train_gz = Path(args.data_dir, "fashion-mnist", "train-images-idx3-ubyte.gz")
    raw = train_gz.read_bytes()
    ds = load_fashion_mnist(args.data_dir, download=False)
    x32 = flatten(scale(ds.train_images))

    def fresh(loader: Callable[..., object]) -> object:
        sources._read_pair.cache_clear()  # measure reading the files, not the in-process memo
        return loader(args.data_dir, download=False)
    cases: list[tuple[str, Callable[[], object]]] = [
        ("gzip.decompress, Fashion train images (26 MB -> 47 MB): the floor", lambda: gzip.decompress(raw)),
        ("read_idx, Fashion train images", lambda: read_idx(train_gz)),
        ("load_fashion_mnist (4 files, validated)", lambda: fresh(load_fashion_mnist)),
        ("load_mnist_test_split (t10k files)", lambda: fresh(load_mnist_test_split)),
        ("load_fashion_mnist again in the same process (memoised)",
         lambda: load_fashion_mnist(args.data_dir, download=False)),
        ("flatten(scale(train)) -> float32 (60000, 784)", lambda: flatten(scale(ds.train_images))),
        ("standardize(train, per_image=True)", lambda: standardize(ds.train_images, per_image=True)),
        ("downsample2x(train) stride -> (60000, 14, 14)", lambda: downsample2x(ds.train_images)),
        ("downsample2x(train, 'mean')", lambda: downsample2x(ds.train_images, method="mean")),
        ("one epoch of batches(64), float32 x", lambda: sum(1 for _ in batches(x32, ds.train_labels, 64))),
        ("one epoch of batches(64), uint8 x -> float32 per batch",
         lambda: sum(1 for _ in batches(ds.train_images, ds.train_labels, 64, dtype=np.float32))),
    ]
    print(f"# Python {platform.python_version()}, NumPy {np.__version__}, {os.cpu_count()} cores, "
          f"{repeats} repeat(s); seconds min / median / max")
    print("| what | seconds |\n| --- | --- |")
    for label, fn in cases:
        lo, mid, hi = timed(fn, repeats)
        print(f"| {label} | {lo:.3f} / {mid:.3f} / {hi:.3f} |")


if __name__ == "__main__":
    main()
