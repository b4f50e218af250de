"""Files for the user, written and read safely.

Writes are atomic (a temp file beside the target, fsync, then ``os.replace``), go *through* a symlink to its
target (the link stays), go straight into a character device or FIFO (``/dev/stdout``, ``/dev/null``, a pipe),
and ``-`` means standard output. Every failure (read-only folder, a parent that is a file, a full disk) is one
:class:`~autograd_viz.errors.OutputPathError` line. Temp files carry the writer's pid in their name, so a later
write cleans up what a killed run left. Reads refuse FIFOs, devices and directories before blocking on them and
are bounded by a byte limit.
"""

from __future__ import annotations

import errno
import fcntl
import io
import json
import math
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from autograd_viz.errors import InputFileError, OutputPathError

#: the path that means standard output for ``--report``, ``-o`` and friends
STDOUT = "-"
#: temp files of our own naming: ``.<target name>.<random>.<pid>.tmp`` (plus ``.part`` for downloads)
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{6,}(?:\.(?P<pid>\d+))?\.(?:tmp|part)(?:\.[A-Za-z0-9]+)?$")


def _default_mode() -> int:
    """The permissions a plain ``open()`` would give (0666 less the umask); ``mkstemp`` makes files 0600."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


_MODE = _default_mode()


def _why(exc: OSError) -> str:
    """A short reason for an OSError, with a hint for the common ones."""
    reason = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        reason += " (the disk is full)"
    elif exc.errno == errno.EROFS:
        reason += " (the folder is on a read-only file system)"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        reason += " (no write permission for that folder)"
    elif exc.errno == errno.ENOTDIR:
        reason += " (a part of the path is a file, not a folder)"
    return reason


def _kind(mode: int) -> str | None:
    """'a directory', 'a FIFO', ... for a non-regular file mode; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def is_stdout(path: str | os.PathLike) -> bool:
    """True for ``-``, the name that means standard output."""
    return os.fspath(path) == STDOUT


def write_target(path: str | os.PathLike) -> tuple[Path, os.stat_result | None]:
    """Where a write to ``path`` lands: a symlink is followed to its (final) target, which is what gets written;
    returns that path and its stat (None when it does not exist yet)."""
    given = Path(path)
    try:
        info = os.stat(given)  # follows symlinks
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputPathError(f"cannot write {given}: {_why(exc)}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        return given, info  # a device, FIFO or directory: opened by its given name (keeps /dev/stdout working)
    return (Path(os.path.realpath(given)) if given.is_symlink() else given), info


def check_writable(path: str | os.PathLike, what: str = "output") -> None:
    """Fail now, in one line, if ``path`` could not be written later (before any long work): a directory where a
    file goes, a parent that is a file, a read-only or full file system, a FIFO without a reader."""
    if is_stdout(path):
        return
    target, info = write_target(path)
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise OutputPathError(f"{what} {path}: is a directory, not a file")
    if info is not None and not stat.S_ISREG(info.st_mode):
        if stat.S_ISFIFO(info.st_mode):
            return  # a FIFO is checked for a reader when it is opened (a reader may come later)
        if not os.access(target, os.W_OK):
            raise OutputPathError(f"{what} {path}: {_kind(info.st_mode)} that is not writable")
        return
    _check_folder(target.parent, f"{what} {path}")


def check_writable_dir(path: str | os.PathLike, what: str = "output folder") -> None:
    """Fail now, in one line, if files could not be created in folder ``path`` (it may not exist yet)."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputPathError(f"{what} {folder}: exists and is not a folder")
    _check_folder(folder, f"{what} {folder}")


def _check_folder(folder: Path, where: str) -> None:
    """Probe the folder (or its nearest existing ancestor, if it is still to be made) with a real temp file."""
    probe, seen = folder, set()
    while not probe.exists():
        if probe.is_symlink() and probe not in seen:  # a dangling link: it would be created through
            seen.add(probe)
            probe = Path(os.path.realpath(probe))
            continue
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise OutputPathError(f"{where}: {probe} is a file, not a folder")
    try:
        fd, name = tempfile.mkstemp(prefix=".autograd-viz-probe.", dir=probe)
    except OSError as exc:
        raise OutputPathError(f"cannot write {where}: {_why(exc)}") from None
    os.close(fd)
    os.unlink(name)
    try:
        fs = os.statvfs(probe)
    except OSError:
        return
    if fs.f_blocks > 0 and (fs.f_bavail == 0 and os.geteuid() != 0 or fs.f_bfree == 0):  # 0 blocks: a pseudo-fs
        raise OutputPathError(f"cannot write {where}: no space left on the device (the disk is full)")


def make_temp(target: Path, kind: str = "tmp", suffix: str = "") -> tuple[int, str]:
    """Create ``.<name>.<random>.<pid>.<kind><suffix>`` beside ``target``; returns (fd, path)."""
    return tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".{os.getpid()}.{kind}{suffix}", dir=target.parent)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def remove_stale_temps(folder: str | os.PathLike, names: Iterable[str] | None = None, *,
                       every: bool = False) -> list[Path]:
    """Delete temp files of our own naming in ``folder`` (for ``names`` only, if given) that a killed run left:
    those whose writer process is gone, or all of them with ``every=True`` (the caller holds the folder's lock).
    Returns what was removed."""
    wanted = set(names) if names is not None else None
    removed: list[Path] = []
    try:
        entries = list(os.scandir(os.fspath(folder)))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_RE.match(entry.name)
        if match is None or (wanted is not None and match["name"] not in wanted):
            continue
        pid = int(match["pid"]) if match["pid"] else None  # no pid: the naming before pids were added
        if every and pid != os.getpid() or pid is not None and not _pid_alive(pid):
            try:
                if entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            except OSError:
                pass
    return removed


def _open_special(target: Path, mode: str, encoding: str | None) -> IO:
    """Open a FIFO or character device for writing, without hanging on a FIFO nobody reads."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OutputPathError(f"cannot write {target}: it is a FIFO and nothing is reading it") from None
        raise OutputPathError(f"cannot write {target}: {_why(exc)}") from None
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
    return os.fdopen(fd, mode, encoding=encoding if "b" not in mode else None)


class _Unclosed:
    """Standard output for a ``with`` block: writes pass through, closing only flushes."""

    def __init__(self, stream: IO) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def close(self) -> None:
        self._stream.flush()


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open ``path`` for writing: a temp file beside it that replaces it on success and is removed on error.

    A symlink is written through (its target is replaced, the link stays); a FIFO or character device is written
    directly; ``-`` is standard output. OS errors become one-line :class:`OutputPathError`.
    """
    if is_stdout(path):
        stream = sys.stdout.buffer if "b" in mode else sys.stdout
        yield _Unclosed(stream)  # type: ignore[misc]
        stream.flush()
        return
    target, info = write_target(path)
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise OutputPathError(f"cannot write {path}: it is a directory")
    if info is not None and not stat.S_ISREG(info.st_mode):
        handle = _open_special(target, mode, encoding)
        try:
            with handle:
                yield handle
        except OSError as exc:
            raise OutputPathError(f"cannot write {path}: {_why(exc)}") from None
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(target.parent, [target.name])
        fd, tmp = make_temp(target)
    except OSError as exc:
        raise OutputPathError(f"cannot write {path}: {_why(exc)}") from None
    try:
        with os.fdopen(fd, mode, encoding=encoding if "b" not in mode else None) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, info.st_mode & 0o7777 if info is not None else _MODE)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OutputPathError):
            raise
        raise OutputPathError(f"cannot write {path}: {_why(exc)}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "w", encoding=encoding) as handle:
        handle.write(text)


def atomic_write_with(path: str | os.PathLike, writer: Callable[[str], None], suffix: str = "") -> None:
    """Let ``writer(tmp_path)`` write a temp file (for libraries that want a file name), then rename it over
    ``path`` (or copy it into standard output, a FIFO or a device)."""
    if is_stdout(path) or _special(path):
        with tempfile.TemporaryDirectory(prefix="autograd-viz-") as scratch:
            tmp = os.path.join(scratch, "out" + (suffix or Path(path).suffix))
            writer(tmp)
            with open(tmp, "rb") as source, atomic_open(path, "wb") as sink:
                shutil.copyfileobj(source, sink)
        return
    target, info = write_target(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(target.parent, [target.name])
        fd, tmp = make_temp(target, suffix=suffix or target.suffix)
    except OSError as exc:
        raise OutputPathError(f"cannot write {path}: {_why(exc)}") from None
    os.close(fd)
    try:
        writer(tmp)
        os.chmod(tmp, info.st_mode & 0o7777 if info is not None else _MODE)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OutputPathError) or exc.errno is None:
            raise
        raise OutputPathError(f"cannot write {path}: {_why(exc)}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _special(path: str | os.PathLike) -> bool:
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


# --- locking --------------------------------------------------------------------------------------------------
@contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "output folder") -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (flock on the folder itself: nothing is left behind, and a killed
    holder releases it); a second holder gets one :class:`OutputPathError` line instead of waiting. A folder this
    call creates is removed again if it is still empty at the end (a run that failed early leaves nothing)."""
    path = Path(folder)
    created = [p for p in (path, *path.parents) if not p.exists() and not p.is_symlink()]  # deepest first
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise OutputPathError(f"cannot use {what} {path}: {_why(exc)}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            created = []  # the folder is the other run's now: never remove it
            raise OutputPathError(f"{what} {path} is in use by another run (it holds the folder's lock); wait for "
                                  "it to finish or choose another folder") from None
        yield
    finally:
        os.close(fd)
        for made in created:
            try:
                made.rmdir()  # only succeeds when empty
            except OSError:
                break


# --- reading --------------------------------------------------------------------------------------------------
@contextmanager
def open_regular(path: str | os.PathLike, limit: int | None, what: str = "file") -> Iterator[io.BufferedIOBase]:
    """Open ``path`` for reading if it is a regular file of at most ``limit`` bytes; a FIFO, device or directory
    is one :class:`InputFileError` line (and opening a FIFO never blocks)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InputFileError(f"{what} {path}: cannot read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        kind = _kind(info.st_mode)
        if kind is not None:
            raise InputFileError(f"{what} {path}: is {kind}, not a regular file")
        if limit is not None and info.st_size > limit:
            raise InputFileError(f"{what} {path}: {info.st_size:,} bytes is more than the {limit:,} allowed")
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        handle = io.BufferedReader(io.FileIO(fd, "rb"))
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle


def read_bytes_bounded(path: str | os.PathLike, limit: int, what: str = "file") -> bytes:
    """The bytes of regular file ``path``, refusing special files and anything over ``limit`` bytes."""
    with open_regular(path, limit, what) as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise InputFileError(f"{what} {path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise InputFileError(f"{what} {path}: more than the {limit:,} bytes allowed")
    return data


def read_text_bounded(path: str | os.PathLike, limit: int, what: str = "file", encoding: str = "utf-8") -> str:
    """The text of regular file ``path`` (see :func:`read_bytes_bounded`); bad encoding raises UnicodeDecodeError."""
    return read_bytes_bounded(path, limit, what).decode(encoding)


# --- JSON -----------------------------------------------------------------------------------------------------
def json_safe(value: Any, _where: str = "", _found: dict[str, str] | None = None) -> Any:
    """A copy of ``value`` with every non-finite float replaced by None; ``_found`` collects ``path -> "nan"``."""
    if isinstance(value, float) and not math.isfinite(value):
        if _found is not None:
            _found[_where or "."] = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return None
    if isinstance(value, dict):
        return {k: json_safe(v, f"{_where}.{k}" if _where else str(k), _found) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, f"{_where}[{i}]", _found) for i, v in enumerate(value)]
    if hasattr(value, "item") and hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0:
        return json_safe(value.item(), _where, _found)
    return value


def dumps_json(value: Any, **kwargs: Any) -> str:
    """Strict JSON (never ``NaN``/``Infinity``): a non-finite number is written as null, and a top-level mapping
    gains ``"non_finite": {"key.path": "nan" | "inf" | "-inf"}`` saying which values those nulls were."""
    found: dict[str, str] = {}
    safe = json_safe(value, "", found)
    if found and isinstance(safe, dict):
        safe["non_finite"] = found
    return json.dumps(safe, allow_nan=False, **kwargs)
