"""A time limit for one SymPy step (simplification): SIGALRM in the main thread, a size limit elsewhere.

SymPy is pure Python, so the alarm interrupts it between bytecodes; the caller then keeps the unsimplified
form and says so, instead of hanging on a large graph.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Without an alarm (not the main thread), only expressions with at most this many operations are simplified.
MAX_OPS_WITHOUT_ALARM = 200


class _TimeUp(BaseException):
    """Raised by the alarm; a BaseException so SymPy's ``except Exception`` blocks do not swallow it."""


def within(seconds: float, fn: Callable[[], T], size: int = 0) -> tuple[bool, T | None]:
    """``(True, fn())`` if ``fn`` finishes within ``seconds``, else ``(False, None)``."""
    if seconds <= 0:
        return False, None
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        if size > MAX_OPS_WITHOUT_ALARM:
            return False, None
        return True, fn()

    def alarm(signum: int, frame: Any) -> None:
        raise _TimeUp

    previous = signal.signal(signal.SIGALRM, alarm)
    result: tuple[bool, T | None] = (False, None)
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
            result = (True, fn())
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _TimeUp:  # also an alarm that lands between fn's return and the timer's reset
        pass
    finally:
        signal.signal(signal.SIGALRM, previous)
    return result
