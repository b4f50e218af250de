"""A small progress bar on stderr: loss, accuracy and samples/s, redrawn at most 10 times a second."""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO


class ProgressBar:
    """One line per epoch; on a terminal it is redrawn in place, elsewhere only the final line is printed."""

    def __init__(self, epochs: int, steps: int, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.epochs, self.steps = epochs, steps
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.live = not quiet and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0

    def _line(self, epoch: int, step: int, loss: float, acc: float, rate: float, columns: int | None = None) -> str:
        """The status line; with ``columns`` it fits in that many characters (a narrower bar, then cut), since a
        line that wraps cannot be redrawn in place with ``\\r``."""
        def text(width: int) -> str:
            filled = int(width * step / max(self.steps, 1))
            return (f"epoch {epoch}/{self.epochs} [{'#' * filled}{'.' * (width - filled)}] {step}/{self.steps}  "
                    f"loss {loss:.4f}  acc {100 * acc:.2f}%  {rate:,.0f} samples/s")

        line = text(20)
        if columns is None or len(line) < columns:
            return line
        line = text(max(20 - (len(line) - columns + 1), 5))
        return line if len(line) < columns else line[:columns - 2] + "…"

    @staticmethod
    def columns() -> int:
        """The terminal's width now (it may be resized during training); 80 when unknown."""
        return shutil.get_terminal_size((80, 24)).columns

    def update(self, epoch: int, step: int, loss: float, acc: float, rate: float) -> None:
        if not self.live:
            return
        now = time.perf_counter()
        if now - self._last < 0.1 and step < self.steps:
            return
        self._last = now
        columns = self.columns()
        self.stream.write("\r" + self._line(epoch, step, loss, acc, rate, columns).ljust(columns - 1))
        self.stream.flush()

    def end_epoch(self, epoch: int, loss: float, acc: float, rate: float, extra: str = "") -> None:
        if self.quiet:
            return
        line = self._line(epoch, self.steps, loss, acc, rate) + extra
        if self.live:  # clear the in-place line first: the final line, printed once, may wrap harmlessly
            line = "\r" + " " * (self.columns() - 1) + "\r" + line
        self.stream.write(line + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        if not self.quiet:
            self.stream.write(text + "\n")
            self.stream.flush()
