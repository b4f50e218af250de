"""Fetch one file from a list of mirrors: retries with backoff, a text progress bar on stderr, sha256 check, and an
atomic write (temp file + rename), so a failed, cut or corrupt download leaves nothing behind."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import socket
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import BinaryIO, TextIO

from autograd_viz.errors import DataError, DeadlineExceeded
from autograd_viz.io import make_temp, remove_stale_temps

#: refuse anything bigger than this (MNIST's largest file is 26 MB gzipped).
MAX_BYTES = 128 * 1024 * 1024
_CHUNK = 1 << 16
#: seconds one file may take in total, over every mirror and retry (MNIST's largest file is 10 MB gzipped)
DEADLINE = 600.0
_GZIP_MAGIC = b"\x1f\x8b"


class _Progress:
    """``\\r downloading name [########............]  42%  4.1/9.9 MB`` on one stderr line, redrawn only when the
    shown text changes."""

    def __init__(self, name: str, total: int | None, stream: TextIO | None) -> None:
        self.name, self.total, self.stream, self.last = name, total, stream, ""

    def update(self, done: int) -> None:
        if self.stream is None:
            return
        mb = f"{done / 1e6:.1f}"
        if self.total:
            filled = min(20, 20 * done // self.total)
            bar = "#" * filled + "." * (20 - filled)
            text = f"[{bar}] {100 * done // self.total:3d}%  {mb}/{self.total / 1e6:.1f} MB"
        else:
            text = f"{mb} MB"
        if text != self.last:
            self.last = text
            self.stream.write(f"\rdownloading {self.name}  {text}")
            self.stream.flush()

    def close(self) -> None:
        if self.stream is not None and self.last:
            self.stream.write("\n")
            self.stream.flush()


def _fetch(url: str, handle: BinaryIO, timeout: float, progress: _Progress, ends: float | None = None,
           clock: Callable[[], float] = time.monotonic) -> str:
    """Stream ``url`` into ``handle``; return the sha256 of the bytes. Raises OSError/HTTPException on failure,
    :class:`DeadlineExceeded` once the clock passes ``ends`` (checked after every read, however small)."""
    digest = hashlib.sha256()

    def remaining() -> float:
        if ends is None:
            return timeout
        left = ends - clock()
        if left <= 0:
            raise DeadlineExceeded(f"{url}: the download deadline passed")
        return min(timeout, left)

    with urllib.request.urlopen(url, timeout=remaining()) as response:  # noqa: S310 (scheme checked by the caller)
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if total is not None and total > MAX_BYTES:
            raise DataError(f"{url}: {total} bytes is more than the {MAX_BYTES} allowed")
        progress.total, done = total, 0
        read = getattr(response, "read1", response.read)  # read1: return what has arrived, do not wait for 64 kB
        sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
        while True:
            if sock is not None:
                sock.settimeout(remaining())  # each wait is bounded by what is left of the deadline
            else:
                remaining()
            chunk = read(_CHUNK)
            if not chunk:
                break
            done += len(chunk)
            if done > MAX_BYTES:
                raise DataError(f"{url}: more than the {MAX_BYTES} bytes allowed")
            handle.write(chunk)
            digest.update(chunk)
            progress.update(done)
        if total is not None and done != total:
            raise http.client.IncompleteRead(b"", total - done)
    return digest.hexdigest()


def _gunzipped_sha256(path: Path, where: str) -> str:
    """sha256 of the gunzipped content, streamed (a gzip bomb costs time, bounded, never memory); '' if not gzip."""
    with path.open("rb") as handle:
        if handle.read(2) != _GZIP_MAGIC:
            return ""
    digest, total = hashlib.sha256(), 0
    try:
        with gzip.open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                total += len(chunk)
                if total > 4 * MAX_BYTES:
                    raise DataError(f"{where}: expands to more than {4 * MAX_BYTES} bytes")
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{where}: bad gzip data ({exc}): truncated or corrupt") from None
    return digest.hexdigest()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if _unreachable(exc):
        return f"cannot resolve the host ({getattr(exc, 'reason', exc)}; offline?)"
    if isinstance(exc, urllib.error.URLError):
        return f"{exc.reason}"
    if isinstance(exc, http.client.IncompleteRead):
        return f"connection closed early ({exc.expected} bytes missing)"
    return f"{type(exc).__name__}: {exc}"


def _unreachable(exc: BaseException) -> bool:
    """A host that does not resolve will not resolve on a retry either (offline machine): skip its retries."""
    return isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, socket.gaierror)


def download(filename: str, mirrors: Sequence[str], dest: str | os.PathLike, accepted_sha256: Collection[str], *,
             retries: int = 3, timeout: float = 30.0, backoff: float = 1.0, progress: bool = True,
             stream: TextIO | None = None, sleep: Callable[[float], None] = time.sleep,
             deadline: float | None = DEADLINE, clock: Callable[[], float] = time.monotonic) -> Path:
    """Download ``<mirror>/<filename>`` (trying mirrors in order, each up to ``retries`` times, waiting
    ``backoff * 2**k`` s in between) to ``dest``; the file is kept only if its sha256, or the sha256 of its
    gunzipped content, is in ``accepted_sha256``. ``timeout`` bounds each wait for bytes, ``deadline`` the whole
    call (all mirrors and retries). Raises DataError naming the file and every URL's failure; on any failure no
    ``.part`` file is left (and those a killed run left beside ``dest`` are removed)."""
    dest = Path(dest)
    if deadline is not None and not (math.isfinite(deadline) and deadline > 0):
        raise DataError(f"{filename}: the download deadline must be a positive number of seconds, got {deadline!r}")
    if not (math.isfinite(timeout) and timeout > 0):
        raise DataError(f"{filename}: the download timeout must be a positive number of seconds, got {timeout!r}")
    ends = None if deadline is None else clock() + deadline
    accepted = {c.lower() for c in accepted_sha256}
    if not accepted:
        raise DataError(f"{filename}: no known sha256 checksum, refusing to download an unverifiable file")
    created = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]  # removed again on failure
    failures: list[str] = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        if not url.startswith(("http://", "https://")):
            failures.append(f"{url}: only http:// and https:// mirrors are allowed")
            continue
        for attempt in range(max(1, retries)):
            if attempt:
                sleep(backoff * 2 ** (attempt - 1))
            if ends is not None and clock() >= ends:
                error: BaseException | None = DeadlineExceeded(f"{url}: not tried, the deadline had passed")
            else:
                error = _try_once(url, filename, dest, accepted, timeout, progress, stream, ends, clock)
            if error is None:
                return dest
            if isinstance(error, DeadlineExceeded):
                failures.append(f"{url}: no complete file within the {deadline:g} s deadline (a mirror that "
                                "sends too slowly; try again later, another mirror, or put the file there yourself)")
                break
            failures.append(f"{url}: {_describe(error) if not isinstance(error, DataError) else error}")
            if isinstance(error, DataError) or _unreachable(error):
                break  # a wrong file will not get right on a retry; try the next mirror
        if failures and "deadline" in failures[-1]:
            break
    for folder in created:  # deepest first; only folders this call made, and only if still empty
        try:
            folder.rmdir()
        except OSError:
            break
    raise DataError(f"{filename}: download failed: " + "; ".join(failures or ["no mirrors given"]))


def _try_once(url: str, filename: str, dest: Path, accepted: set[str], timeout: float, progress: bool,
              stream: TextIO | None, ends: float | None = None,
              clock: Callable[[], float] = time.monotonic) -> BaseException | None:
    """One attempt: fetch into a temp file beside ``dest``, verify, rename. Returns the error, or None."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(dest.parent, [dest.name])  # .part files of runs that were killed
        fd, tmp = make_temp(dest, "part")
    except OSError as exc:
        return DataError(f"cannot write {filename} into {dest.parent}: {exc.strerror or exc}")
    bar = _Progress(filename, None, (stream or sys.stderr) if progress else None)
    try:
        with os.fdopen(fd, "wb") as handle:
            try:
                sha = _fetch(url, handle, timeout, bar, ends, clock)
            finally:
                bar.close()
            handle.flush()
            os.fsync(handle.fileno())
        if sha not in accepted:
            raw_sha = _gunzipped_sha256(Path(tmp), f"{filename} from {url}")
            if raw_sha not in accepted:
                content = f" (gunzipped {raw_sha})" if raw_sha else ""
                raise DataError(f"checksum mismatch for {filename}: got sha256 {sha}{content}, "
                                f"expected {' or '.join(sorted(accepted))}")
        os.replace(tmp, dest)
        return None
    except (OSError, http.client.HTTPException, DataError, ValueError) as exc:
        return exc
    finally:
        Path(tmp).unlink(missing_ok=True)
