"""Writing and reading where the path is hostile: symlinks, devices, FIFOs, `-`, read-only folders, a parent
that is a file, stale temp files, a held lock; every failure one line, nothing hangs, nothing is left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from hostile import readonly_prefix

from autograd_viz.errors import InputFileError, OutputPathError
from autograd_viz.io import (
    atomic_open,
    atomic_write_text,
    atomic_write_with,
    check_writable,
    check_writable_dir,
    dumps_json,
    folder_lock,
    read_bytes_bounded,
    read_text_bounded,
    remove_stale_temps,
)


def _read_fifo(path, sink: list[bytes]) -> threading.Thread:
    def reader() -> None:
        with open(path, "rb") as handle:
            sink.append(handle.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    return thread


# --- writing ----------------------------------------------------------------------------------------------------
def test_symlink_to_a_file_is_written_through_and_stays_a_link(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new"
    assert real.stat().st_mode & 0o777 == 0o640  # the target keeps its permissions
    assert sorted(os.listdir(tmp_path)) == ["link.txt", "real.txt"]


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "sub" / "made.txt")
    atomic_write_text(link, "x")
    assert link.is_symlink() and (tmp_path / "sub" / "made.txt").read_text() == "x"


def test_symlink_to_a_device_writes_into_the_device(tmp_path):
    link = tmp_path / "null"
    link.symlink_to("/dev/null")
    atomic_write_text(link, "discarded")
    atomic_write_with(link, lambda p: open(p, "w").write("also discarded"))
    assert link.is_symlink() and os.readlink(link) == "/dev/null"
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_fifo_with_a_reader_gets_the_bytes(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    thread = _read_fifo(fifo, got)
    for _ in range(100):  # wait until the reader has the FIFO open
        try:
            with atomic_open(fifo, "wb") as handle:
                handle.write(b"through the pipe")
            break
        except OutputPathError:
            time.sleep(0.02)
    thread.join(5)
    assert got == [b"through the pipe"]
    assert os.listdir(tmp_path) == ["pipe"]


def test_fifo_without_a_reader_is_one_line_not_a_hang(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(OutputPathError, match="FIFO and nothing is reading it"):
        atomic_write_text(fifo, "x")
    assert time.monotonic() - start < 2
    assert os.listdir(tmp_path) == ["pipe"]


def test_dash_is_standard_output(capfd, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    atomic_write_text("-", "to stdout\n")
    atomic_write_with("-", lambda p: open(p, "wb").write(b"bytes too\n"), suffix=".png")
    assert capfd.readouterr().out == "to stdout\nbytes too\n"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("make, needle", [
    (lambda d: (d / "adir").mkdir() or d / "adir", "directory"),
    (lambda d: (d / "afile").write_text("") or d / "afile" / "out.txt", "is a file, not a folder"),
])
def test_unwritable_shapes_of_path_are_one_line(tmp_path, make, needle):
    target = make(tmp_path)
    with pytest.raises(OutputPathError) as info:
        check_writable(target, "--report")
    assert needle in str(info.value) or "Not a directory" in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(OutputPathError):
        atomic_write_text(target, "x")


def test_read_only_folder_is_refused_before_and_at_write(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    prefix = readonly_prefix(ro)
    code = ("import sys\nfrom autograd_viz.io import check_writable, check_writable_dir, atomic_write_text\n"
            "from autograd_viz.errors import OutputPathError\nout = []\n"
            "for call in (lambda: check_writable(sys.argv[1] + '/f.md', '--report'),\n"
            "             lambda: check_writable_dir(sys.argv[1] + '/new/deeper'),\n"
            "             lambda: atomic_write_text(sys.argv[1] + '/f.md', 'x')):\n"
            "    try:\n        call()\n        out.append('WROTE')\n"
            "    except OutputPathError as exc:\n        out.append(str(exc))\n"
            "print('\\n'.join(out))\n")
    done = subprocess.run([*prefix, sys.executable, "-c", code, str(ro)], capture_output=True, text=True,
                          timeout=60, cwd=os.getcwd())
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3 and "WROTE" not in lines, lines
    assert all("read-only" in line or "permission" in line.lower() for line in lines), lines
    assert os.listdir(ro) == []


def test_stale_temps_of_dead_writers_are_cleaned_on_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = tmp_path / f".report.md.abcd1234.{dead}.tmp"
    legacy = tmp_path / ".checkpoint.npz.x1y2z3w4.tmp"
    live = tmp_path / f".report.md.zzzz9999.{os.getppid()}.tmp"  # a live process: not ours to delete
    other = tmp_path / ".notes.txt.swp"
    for p in (stale, legacy, live, other):
        p.write_bytes(b"x" * 10)
    atomic_write_text(tmp_path / "report.md", "fresh")
    assert not stale.exists() and live.exists() and legacy.exists() and other.exists()
    assert remove_stale_temps(tmp_path, ["checkpoint.npz"], every=True) == [legacy]
    assert not legacy.exists() and live.exists()


def test_folder_lock_refuses_a_second_holder_and_leaves_nothing(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom autograd_viz.io import folder_lock\n"
                               "with folder_lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(30)\n",
                               str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputPathError, match="in use by another run"):
            with folder_lock(out, "--out"):
                pass
    finally:
        holder.kill()
        holder.wait()
    with folder_lock(out):  # a killed holder releases the lock
        pass
    assert os.listdir(out) == []


# --- reading ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, kind", [
    (lambda d: os.mkfifo(d / "fifo") or d / "fifo", "FIFO"),
    (lambda d: "/dev/zero", "character device"),
    (lambda d: (d / "link").symlink_to("/dev/zero") or d / "link", "character device"),
    (lambda d: d, "directory"),
])
def test_special_files_are_refused_without_blocking(tmp_path, make, kind):
    path = make(tmp_path)
    start = time.monotonic()
    with pytest.raises(InputFileError) as info:
        read_bytes_bounded(path, 1 << 20, "derivation file")
    assert kind in str(info.value) and str(path) in str(info.value)
    assert time.monotonic() - start < 2


def test_symlink_to_a_file_reads_and_size_is_bounded(tmp_path):
    real = tmp_path / "a.toml"
    real.write_text("x = 1\n")
    (tmp_path / "link.toml").symlink_to(real)
    assert read_text_bounded(tmp_path / "link.toml", 100) == "x = 1\n"
    with pytest.raises(InputFileError, match="more than the 3 allowed"):
        read_bytes_bounded(real, 3)


def test_check_on_fifo_and_dev_zero_is_an_error_row_not_a_hang(tmp_path):
    from hostile import run_cli

    fifo = tmp_path / "claims.toml"
    os.mkfifo(fifo)
    done = run_cli(["check", str(fifo), "/dev/zero"], timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is a FIFO" in done.stderr and "/dev/zero: is a character device" in done.stderr


def test_check_report_through_dev_stdout_and_dash_keeps_links(tmp_path):
    from hostile import run_cli

    spec = tmp_path / "one.toml"
    spec.write_text('title = "t"\n[symbols]\nx = "real"\n\n[[claim]]\nname = "square"\n'
                    'lhs = "diff(x**2, x)"\nrhs = "2*x"\n')
    link = tmp_path / "stdout-link"
    link.symlink_to("/dev/stdout")
    for target in (str(link), "-"):
        done = run_cli(["check", str(spec), "--report", target], timeout=120)
        assert done.returncode == 0, done.stderr
        assert "# " in done.stdout and "square" in done.stdout
    assert link.is_symlink() and os.readlink(link) == "/dev/stdout"
    assert os.path.islink("/dev/stdout") or not os.path.isfile("/dev/stdout")


# --- JSON -------------------------------------------------------------------------------------------------------
def test_dumps_json_is_strict_and_says_which_values_were_not_finite():
    import numpy as np

    text = dumps_json({"loss": float("nan"), "rows": [{"x": float("inf")}, {"x": np.float32(1.5)}], "ok": 1})
    data = json.loads(text)  # strict: NaN would still parse in Python, so check the text too
    assert "NaN" not in text and "Infinity" not in text
    assert data["loss"] is None and data["rows"][0]["x"] is None and data["rows"][1]["x"] == 1.5
    assert data["non_finite"] == {"loss": "nan", "rows[0].x": "inf"}
    assert "non_finite" not in json.loads(dumps_json({"a": 1.0}))


def test_check_writable_dir_accepts_a_new_nested_folder_and_makes_nothing(tmp_path):
    check_writable_dir(tmp_path / "a" / "b")
    assert os.listdir(tmp_path) == []
    with folder_lock(tmp_path / "a"):
        pass


def _tmpfs_prefix(folder, fill: bool) -> list[str]:
    """Run a command with a 256 kB tmpfs on ``folder`` (a private mount namespace), optionally filled up."""
    import shutil

    if os.geteuid() != 0 or not shutil.which("unshare") or subprocess.run(["unshare", "-m", "true"]).returncode:
        pytest.skip("a full disk is simulated with a tmpfs in a private mount namespace: needs root and unshare")
    script = 'mount -t tmpfs -o size=256k tmpfs "$0" && '
    if fill:
        script += 'dd if=/dev/zero of="$0/fill" bs=4k 2>/dev/null; '
    script += 'exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, str(folder)]


@pytest.mark.parametrize("fill", [True, False])
def test_full_disk_is_one_line_and_leaves_nothing(tmp_path, fill):
    from hostile import CLI

    disk = tmp_path / "disk"
    disk.mkdir()
    code = ("import sys\nfrom autograd_viz.io import atomic_write_bytes, check_writable_dir\n"
            "from autograd_viz.errors import OutputPathError\nimport os\n"
            "try:\n    check_writable_dir(sys.argv[1] + '/run')\n    atomic_write_bytes(sys.argv[1] + '/big.bin', "
            "bytes(1 << 20))\n    print('WROTE')\nexcept OutputPathError as exc:\n    print('ERROR', exc)\n"
            "print(sorted(n for n in os.listdir(sys.argv[1]) if n != 'fill'))\n")
    done = subprocess.run([*_tmpfs_prefix(disk, fill), sys.executable, "-c", code, str(disk)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    first, listing = done.stdout.splitlines()
    assert first.startswith("ERROR") and "disk is full" in first, first
    assert listing == "[]"  # no temp file, no half file
    graph = subprocess.run([*_tmpfs_prefix(disk, True), *CLI, "graph", "a*b", "--at", "a=1,b=2", "-o",
                            str(disk / "g.svg")], capture_output=True, text=True, timeout=60)
    assert graph.returncode == 2 and "Traceback" not in graph.stderr and "disk is full" in graph.stderr
