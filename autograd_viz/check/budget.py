"""A time budget enforced with signals inside a claim's worker: SymPy is pure Python, so a signal interrupts it
between bytecodes and the worker can still answer "numerical" before the parent's hard kill.

The claim's overall deadline is wall-clock time (SIGALRM); one SymPy attempt's own limit is CPU time of the
worker (SIGPROF), so how far SymPy gets does not depend on how busy the machine is, as long as the claim's
wall-clock deadline allows it.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class BudgetExceeded(BaseException):
    """The claim's (or one attempt's) time is up (a BaseException, so SymPy's ``except Exception`` blocks
    cannot swallow it; the alarm also repeats every 50 ms until it is handled)."""


class Budget:
    """``seconds`` of wall-clock time from now; ``attempt(fn, limit)`` runs one step with its own CPU limit."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + max(seconds, 0.01)
        self.armed = False
        self.suspended = False  # while an expired attempt is being wound up, further alarms wait

    def _alarm(self, signum: int, frame: Any) -> None:
        if not self.suspended:
            raise BudgetExceeded

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def _set(self, seconds: float) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001), 0.05)

    def _set_cpu(self, seconds: float) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_PROF, max(seconds, 0.001) if seconds > 0 else 0, 0.05 if seconds > 0
                             else 0)

    @contextmanager
    def enforce(self) -> Iterator[None]:
        """Arm the alarms for the whole budget (only in the main thread; elsewhere the budget is advisory)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGALRM, self._alarm)
        previous_prof = signal.signal(signal.SIGPROF, self._alarm)
        self.armed = True
        self._set(self.remaining())
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGALRM, previous)
            signal.signal(signal.SIGPROF, previous_prof)
            self.armed = False

    def attempt(self, fn: Callable[[], Any], limit: float) -> tuple[bool, Any]:
        """(True, fn()) if it finishes within ``limit`` CPU seconds (and the overall wall-clock deadline), else
        (False, None); the overall deadline still raises :class:`BudgetExceeded`."""
        if self.remaining() <= 0:
            raise BudgetExceeded
        if not self.armed:  # no signals here (a thread): the budget is advisory
            return True, fn()
        self._set_cpu(limit)
        try:
            return True, fn()
        except BudgetExceeded:
            self.suspended = True
            if self.remaining() <= 0.001:
                raise
            return False, None
        finally:
            self.suspended = True
            self._set_cpu(0)
            self._set(self.remaining())
            self.suspended = False
