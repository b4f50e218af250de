"""Peak memory of loading hostile files (decompression and allocation bombs) next to legitimate ones.

Each load runs in a fresh child process forked from a small shell (so ``ru_maxrss`` is the child's own, not the
parent's), and prints ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` after the load returns or is refused.

    python benchmarks/bench_bombs.py                                   # the bombs (writes ~25 MB to a temp dir)
    AUTOGRAD_VIZ_DATA=/work/shared/data python benchmarks/bench_bombs.py    # plus the real Fashion-MNIST file
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

CHILD = """
import resource, sys
from autograd_viz.errors import AutogradVizError
try:
{body}
    outcome = "loaded"
except AutogradVizError as exc:
    outcome = "refused: " + str(exc).split(": ", 1)[-1][:70]
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, outcome)
"""


def peak(body: str) -> tuple[float, str]:
    """Peak RSS (MB) of a child running ``body`` (indented into a try block) and how the load ended."""
    code = CHILD.format(body="\n".join("    " + line for line in body.strip().splitlines()))
    done = subprocess.run(["sh", "-c", '"$0" "$@"; exit $?', sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    mb, outcome = done.stdout.strip().split(" ", 1)
    return float(mb), outcome


def gzip_bomb(path: Path, dims: tuple[int, ...], inflated: int) -> None:
    """A multi-member gzip: an IDX header declaring ``dims``, then zeros up to ``inflated`` bytes."""
    header = bytes([0, 0, 8, len(dims)]) + b"".join(n.to_bytes(4, "big") for n in dims)
    block = 16 << 20
    member = gzip.compress(bytes(block), 9, mtime=0)
    with open(path, "wb") as handle:
        handle.write(gzip.compress(header, mtime=0))
        for _ in range(inflated // block):
            handle.write(member)


def npz_member(path: Path, meta: dict, shape: tuple[int, ...], zeros: int) -> None:
    """An .npz with ``meta`` and one float64 entry whose header claims ``shape``, holding ``zeros`` zero bytes."""
    text = repr({"descr": "<f8", "fortran_order": False, "shape": shape}).encode("latin1")
    text += b" " * (64 - (10 + len(text) + 1) % 64) + b"\n"
    meta_path = path.with_suffix(".meta.npy")
    np.save(meta_path, np.array(json.dumps(meta)))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(meta_path, "meta.npy")
        with archive.open("model/fc1.weight.npy", "w", force_zip64=True) as member:
            member.write(b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text)
            chunk = bytes(min(zeros, 64 << 20))
            for _ in range(zeros // len(chunk)):
                member.write(chunk)
    meta_path.unlink()


def main() -> None:
    print(f"# Python {platform.python_version()}, NumPy {np.__version__}; peak RSS of a child process, MB")
    print("| file | size on disk | peak RSS (MB) | outcome |\n| --- | --- | --- | --- |")
    base, _ = peak("import autograd_viz.data, autograd_viz.train.checkpoint")
    print(f"| (importing the loaders only) | - | {base:.0f} | - |")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = []
        bomb = folder / "small-header.gz"
        gzip_bomb(bomb, (10000, 28, 28), 10 << 30)
        cases.append(("gzip IDX: header 10000x28x28 (7.8 MB), inflates to 10 GiB", bomb,
                      f"from autograd_viz.data import read_idx\nread_idx({str(bomb)!r})"))
        huge = folder / "huge-header.gz"
        gzip_bomb(huge, (13_700_000, 28, 28), 10 << 30)
        cases.append(("gzip IDX: header declares 10 GiB", huge,
                      f"from autograd_viz.data import read_idx\nread_idx({str(huge)!r})"))
        meta = {"format": "autograd_viz.checkpoint/1"}
        alloc = folder / "alloc.npz"
        npz_member(alloc, meta, (100_000, 100_000), 64)
        cases.append((".npz entry header claiming 74.5 GiB", alloc,
                      f"from autograd_viz.train.checkpoint import load_checkpoint\nload_checkpoint({str(alloc)!r})"))
        inflate = folder / "inflate.npz"
        npz_member(inflate, {**meta, "config": {"sizes": [784, 16, 10]}}, (2 << 30 >> 3,), 2 << 30)
        cases.append((".npz inflating to 2 GiB for a 12,730-parameter model", inflate,
                      f"from autograd_viz.train.checkpoint import load_checkpoint\nload_checkpoint({str(inflate)!r})"))
        data = os.environ.get("AUTOGRAD_VIZ_DATA")
        real = Path(data or "/nonexistent", "fashion-mnist", "train-images-idx3-ubyte.gz")
        if real.is_file():
            cases.append(("legitimate: Fashion-MNIST train images (47 MB inside)", real,
                          f"from autograd_viz.data import read_idx\nread_idx({str(real)!r}, 0x803)"))
        for what, path, body in cases:
            mb, outcome = peak(body)
            print(f"| {what} | {path.stat().st_size / 2**20:.1f} MB | {mb:.0f} | {outcome} |")


if __name__ == "__main__":
    main()
