"""Run claims in ``jobs`` forked workers, each claim killed (with its worker, which is replaced) at its time
limit: SymPy hanging on one claim never hangs the run. SymPy is imported and warmed up once in the parent, so
a fork costs milliseconds; a worker then checks claim after claim, keeping SymPy's cache and the checker's
(derivatives of a file's definitions, cancelled differences, compiled functions): so a worker stays with one
file's claims while it has any, longest first, and only then moves to the file with the most work left."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, cast

from autograd_viz.check import verify
from autograd_viz.check.results import CheckReport, ClaimResult, FileResult
from autograd_viz.check.spec import Claim, DerivationError, Spec, UnreadableFileError, load_spec
from autograd_viz.check.verify import check_claim

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "curriculum"  # the top-level derivations/ folder
KILL_GRACE = 0.3  # seconds past the limit before the hard kill (the worker normally answers first)


def builtin_files() -> list[Path]:
    """The built-in derivation files, in name order."""
    return sorted(BUILTIN_DIR.glob("*.toml"))


def _serve(conn: Connection, tasks: list[tuple[Spec, Claim]], timeout: float) -> None:
    """A worker: check the claim whose index arrives, send ``(index, result)`` back, until ``None`` arrives.
    The tasks came with the fork; only indices and results cross the pipe. One worker checks many claims, so
    SymPy's cache (and the checker's) carries over from one claim of a file to the next."""
    try:
        while (k := conn.recv()) is not None:
            spec, claim = tasks[k]
            conn.send((k, check_claim(spec, claim, timeout)))
    except (EOFError, OSError, KeyboardInterrupt):
        pass
    finally:
        conn.close()


def estimated_cost(spec: Spec, claim: Claim) -> float:
    """A rough relative cost, for handing out the longest claims first: matrix claims are checked entry by
    entry, a false claim also runs the diagnosis search, an inequality a search for its extremes."""
    entries = 0
    for r, c in spec.matrices.values():
        entries += (r if isinstance(r, int) else 3) * (c if isinstance(c, int) else 3)
    cost = 1.0 + entries
    if claim.expect == "fails":
        cost *= 2.0
    if claim.relation != "==":
        cost *= 2.0
    return cost


class _Queue:
    """The claims not yet handed out, grouped by file, each group most expensive first (see
    :func:`estimated_cost`). A worker takes from the file it is on; when that is done, from the file with the
    most work left that no other worker is on, else from the one with the most work left: every worker
    starts on a file of its own, and the workers finish together."""

    def __init__(self, tasks: list[tuple[Spec, Claim]]) -> None:
        self.cost = [estimated_cost(spec, claim) for spec, claim in tasks]
        self.file = [id(spec) for spec, _ in tasks]
        self.groups: dict[int, list[int]] = {}
        for k in sorted(range(len(tasks)), key=lambda k: -self.cost[k]):  # a stable sort: file order on ties
            self.groups.setdefault(self.file[k], []).append(k)

    def __bool__(self) -> bool:
        return bool(self.groups)

    def left(self, group: int) -> float:
        return sum(self.cost[k] for k in self.groups[group])

    def take(self, current: int | None, others: set[int]) -> int:
        """The next claim for a worker on file ``current``, the other workers being on files ``others``."""
        if current not in self.groups:
            free = [g for g in self.groups if g not in others] or list(self.groups)
            current = max(free, key=self.left)  # max keeps the first on ties: file order
        group = self.groups[current]
        k = group.pop(0)
        if not group:
            del self.groups[current]
        return k


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


class _Worker:
    """One forked worker process and the claim it is checking (index and start time), if any."""

    def __init__(self, ctx: Any, tasks: list[tuple[Spec, Claim]], timeout: float) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc: BaseProcess = ctx.Process(target=_serve, args=(child, tasks, timeout), daemon=True)
        self.proc.start()
        child.close()
        self.task: int | None = None
        self.file: int | None = None  # the file (its Spec's id) of the claims it has been given
        self.start = 0.0

    def give(self, k: int) -> bool:
        """Send claim ``k``; False when the worker is gone."""
        try:
            self.conn.send(k)
        except (BrokenPipeError, OSError):
            return False
        self.task, self.start = k, time.monotonic()
        return True

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except (BrokenPipeError, OSError):
                self.proc.kill()
        self.proc.join()
        self.conn.close()


def run_claims(tasks: list[tuple[Spec, Claim]], timeout: float, jobs: int) -> list[ClaimResult]:
    """Check every (spec, claim) in ``jobs`` forked workers, handed out by :class:`_Queue` (a file per worker,
    the most expensive claims first, so the workers finish together); results in task order. A claim still
    running at its limit (plus :data:`KILL_GRACE`) has its worker killed and replaced."""
    if jobs <= 1 or "fork" not in mp.get_all_start_methods():
        return [check_claim(spec, claim, timeout) for spec, claim in tasks]
    ctx = mp.get_context("fork")
    warm_up()
    results: list[ClaimResult | None] = [None] * len(tasks)
    order = _Queue(tasks)
    workers = [_Worker(ctx, tasks, timeout) for _ in range(min(jobs, len(tasks)))]
    try:
        while order or any(w.task is not None for w in workers):
            for i, w in enumerate(workers):
                while w.task is None and order:
                    k = order.take(w.file, {v.file for v in workers if v is not w and v.file is not None})
                    w.file = order.file[k]
                    if not w.give(k):  # died between claims: a fresh one takes the claim
                        w.stop(kill=True)
                        w = workers[i] = _Worker(ctx, tasks, timeout)
                        w.file = order.file[k]
                        if not w.give(k):
                            results[k] = ClaimResult(name=tasks[k][1].name, verdict="error",
                                                     expect=tasks[k][1].expect, message="no worker could be started")
            busy = [w for w in workers if w.task is not None]
            if not busy:
                break
            wait_for = min(w.start + timeout + KILL_GRACE for w in busy) - time.monotonic()
            ready = cast("list[Connection]", wait([w.conn for w in busy], timeout=max(wait_for, 0.0)))
            for i, w in enumerate(workers):
                if w.task is None:
                    continue
                k = w.task
                if w.conn in ready:
                    try:
                        got, result = w.conn.recv()
                        results[got] = result
                        w.task = None
                        continue
                    except (EOFError, OSError):
                        results[k] = ClaimResult(name=tasks[k][1].name, verdict="error", expect=tasks[k][1].expect,
                                                 message="the worker died without an answer",
                                                 seconds=round(time.monotonic() - w.start, 3))
                elif time.monotonic() >= w.start + timeout + KILL_GRACE:
                    results[k] = _timeout_result(tasks[k][1], timeout, time.monotonic() - w.start)
                else:
                    continue
                w.stop(kill=True)
                workers[i] = _Worker(ctx, tasks, timeout)
    finally:
        for w in workers:
            w.stop(kill=w.task is not None)
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
