"""Atomic writes: the target appears whole or not at all, with ordinary permissions."""

import os

import pytest

from autograd_viz.io import atomic_open, atomic_write_bytes, atomic_write_text, atomic_write_with


def test_write_creates_parents_and_plain_permissions(tmp_path):
    target = tmp_path / "a" / "b.txt"
    atomic_write_text(target, "hello")
    assert target.read_text() == "hello"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert os.listdir(target.parent) == ["b.txt"]


def test_failure_keeps_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "keep.bin"
    atomic_write_bytes(target, b"old")
    with pytest.raises(RuntimeError), atomic_open(target, "wb") as handle:
        handle.write(b"partial")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["keep.bin"]


def test_writer_callback_failure_leaves_nothing(tmp_path):
    def writer(path: str) -> None:
        with open(path, "w") as handle:
            handle.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write_with(tmp_path / "x.npz", writer)
    assert os.listdir(tmp_path) == []
    atomic_write_with(tmp_path / "y.npz", lambda p: open(p, "w").write("ok"))
    assert (tmp_path / "y.npz").read_text() == "ok"
