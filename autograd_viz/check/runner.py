"""Run claims in forked workers, at most ``jobs`` at a time, each killed at its time limit: SymPy hanging on
one claim never hangs the run. SymPy is imported once in the parent, so a fork costs milliseconds."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import cast

from autograd_viz.check import verify
from autograd_viz.check.results import CheckReport, ClaimResult, FileResult
from autograd_viz.check.spec import Claim, DerivationError, Spec, UnreadableFileError, load_spec
from autograd_viz.check.verify import check_claim

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "curriculum"  # the top-level derivations/ folder
KILL_GRACE = 0.3  # seconds past the limit before the hard kill (the worker normally answers first)


def builtin_files() -> list[Path]:
    """The built-in derivation files, in name order."""
    return sorted(BUILTIN_DIR.glob("*.toml"))


def _work(conn: Connection, spec: Spec, claim: Claim, timeout: float) -> None:
    try:
        conn.send(check_claim(spec, claim, timeout))
    finally:
        conn.close()


def _timeout_result(claim: Claim, timeout: float, seconds: float) -> ClaimResult:
    return ClaimResult(name=claim.name, verdict="timeout", expect=claim.expect, relation=claim.relation,
                       method="killed", seconds=round(seconds, 3), message=f"no verdict within {timeout:g} s "
                       "(the worker was killed)", lhs_tex=claim.lhs_latex, rhs_tex=claim.rhs_latex)


_WARM = """
title = "warm-up"
[symbols]
x = "real"
[define]
s = "sigmoid(x)"
[[claim]]
name = "d"
lhs = "diff(s, x)"
rhs = "s*(1 - s)"
[[claim]]
name = "b"
lhs = "s"
rhs = "1"
relation = "<="
"""
_warmed = False


def warm_up() -> None:
    """Run a tiny file in the parent once, so each forked worker starts with SymPy's lazy imports done."""
    global _warmed
    if _warmed:
        return
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "warm.toml"
        path.write_text(_WARM, encoding="utf-8")
        spec = load_spec(path)
        for claim in spec.claims:
            verify.check_claim(spec, claim, 5.0)
    _warmed = True


def run_claims(tasks: list[tuple[Spec, Claim]], timeout: float, jobs: int) -> list[ClaimResult]:
    """Check every (spec, claim), ``jobs`` forked workers at a time; results in task order."""
    if jobs <= 1 or "fork" not in mp.get_all_start_methods():
        return [check_claim(spec, claim, timeout) for spec, claim in tasks]
    ctx = mp.get_context("fork")
    warm_up()
    results: list[ClaimResult | None] = [None] * len(tasks)
    pending = list(range(len(tasks)))[::-1]
    running: dict[Connection, tuple[int, BaseProcess, float]] = {}
    while pending or running:
        while pending and len(running) < jobs:
            k = pending.pop()
            receiver, sender = ctx.Pipe(duplex=False)
            proc: BaseProcess = ctx.Process(target=_work, args=(sender, *tasks[k], timeout), daemon=True)
            proc.start()
            sender.close()
            running[receiver] = (k, proc, time.monotonic())
        now = time.monotonic()
        wait_for = min(start + timeout + KILL_GRACE for _, _, start in running.values()) - now
        for conn in cast("list[Connection]", wait(list(running), timeout=max(wait_for, 0.0))):  # a subset of running
            k, proc, start = running.pop(conn)
            try:
                results[k] = conn.recv()
            except (EOFError, OSError):
                results[k] = ClaimResult(name=tasks[k][1].name, verdict="error", expect=tasks[k][1].expect,
                                         message="the worker died without an answer",
                                         seconds=round(time.monotonic() - start, 3))
            conn.close()
            proc.join()
        now = time.monotonic()
        for conn, (k, proc, start) in list(running.items()):
            if now >= start + timeout + KILL_GRACE:
                proc.kill()
                proc.join()
                conn.close()
                del running[conn]
                results[k] = _timeout_result(tasks[k][1], timeout, now - start)
    return [r for r in results if r is not None]


def check_files(paths: Sequence[str | os.PathLike[str]], timeout: float = 10.0, jobs: int | None = None,
                strict: bool = False) -> CheckReport:
    """Check every claim of every file; a file that cannot be read gets one ``error`` entry. With ``strict``,
    a ``numerical`` verdict does not count as agreeing with ``expect = "holds"``."""
    jobs = jobs or min(2, os.cpu_count() or 1)
    files: list[FileResult] = []
    tasks: list[tuple[Spec, Claim]] = []
    owners: list[int] = []
    for path in paths:
        try:
            spec = load_spec(path)
        except DerivationError as exc:
            files.append(FileResult(str(path), None, [ClaimResult(name="(file)", verdict="error",
                                                                  message=str(exc))],
                                    unreadable=isinstance(exc, UnreadableFileError)))
            continue
        files.append(FileResult(str(path), spec.title, [], source=spec.source))
        if not spec.claims:
            files[-1].claims.append(ClaimResult(name="(file)", verdict="error",
                                                message=spec.error or f"{path}: no [[claim]] tables"))
        for claim in spec.claims:
            tasks.append((spec, claim))
            owners.append(len(files) - 1)
    for owner, result in zip(owners, run_claims(tasks, timeout, jobs), strict=True):
        files[owner].claims.append(result)
    for f in files:
        for c in f.claims:
            c.strict = strict
    return CheckReport(files, strict=strict)


def check_file(path: str | os.PathLike[str], timeout: float = 10.0, jobs: int | None = None,
               strict: bool = False) -> FileResult:
    """Check one file's claims."""
    return check_files([path], timeout, jobs, strict).files[0]


def check_builtin(timeout: float = 10.0, jobs: int | None = None, strict: bool = False) -> CheckReport:
    """Check the built-in derivations of the lecture notes (derivations/*.toml)."""
    return check_files(builtin_files(), timeout, jobs, strict)
