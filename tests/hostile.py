"""Helpers for the hostile-input tests: run the CLI in a subprocess (optionally with a read-only folder), make
FIFOs, and measure a child's peak memory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-c", "import sys; from autograd_viz.cli import main; sys.exit(main())"]


def run_cli(args: list[str], timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run ``autograd-viz ARGS`` in a fresh process (real file descriptors, real signals)."""
    env = {**os.environ, "PYTHONWARNINGS": "default", **kwargs.pop("env", {})}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env, **kwargs)


def assert_one_line_error(done: subprocess.CompletedProcess, *needles: str) -> str:
    """Non-zero exit, no traceback, and one ``error:`` line (or click's usage error) containing each needle."""
    assert done.returncode != 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith(("error:", "Error:"))]
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def readonly_prefix(folder: Path) -> list[str]:
    """A command prefix that runs a program with ``folder`` read-only: a private mount namespace (root with
    ``unshare``), else an unprivileged user on a 0555 folder (root with ``setpriv``), else a 0555 folder for
    a non-root user. Skips when none of those is possible."""
    if os.geteuid() == 0 and shutil.which("unshare"):
        probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
        if probe.returncode == 0:
            script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && shift && exec "$@"'
            return ["unshare", "-m", "sh", "-c", script, str(folder), "sh"]
    if os.geteuid() == 0 and shutil.which("setpriv"):
        folder.chmod(0o555)
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return []
    pytest.skip("a read-only folder needs `unshare` (util-linux) as root, `setpriv` as root, or a non-root user")


def peak_rss_mb(code: str, timeout: float = 120) -> tuple[float, str]:
    """Run Python ``code`` in a child process; return its peak resident memory (MB, getrusage) and its stdout."""
    script = (code + "\nimport resource, sys\n"
              "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")
    # through `sh` (which forks rather than execs, because of the `exit` after it): a process exec'd directly from
    # pytest inherits pytest's peak RSS in ru_maxrss; one forked from a small shell starts from the shell's
    done = subprocess.run(["sh", "-c", '"$0" "$@"; exit $?', sys.executable, "-c", script], capture_output=True,
                          text=True, timeout=timeout)
    assert "Traceback" not in done.stderr, done.stderr
    peak = [line for line in done.stderr.splitlines() if line.startswith("PEAK ")]
    assert peak, done.stderr
    return int(peak[-1].split()[1]) / 1024, done.stdout
