"""Option types every command shares, so each number is validated in one place: finite (no ``nan``/``inf``)
and in range, with click's one-line usage error naming the option."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import click

from autograd_viz.errors import ExpressionError

#: NumPy's random generators take seeds 0 .. 2**32-1 for a plain integer seed (negative seeds are refused).
MAX_SEED = 2**32 - 1


class FiniteFloatRange(click.FloatRange):
    """A float in a range that must also be finite: click's FloatRange lets ``nan`` through every bound
    (comparisons with nan are false) and ``inf`` through any open upper end."""

    name = "finite float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(number, param, ctx)


def finite(min: float | None = None, max: float | None = None, *, min_open: bool = False,
           max_open: bool = False) -> FiniteFloatRange:
    """A finite float option type in ``[min, max]`` (either end open or absent)."""
    return FiniteFloatRange(min, max, min_open=min_open, max_open=max_open)


#: ``--timeout`` of every command that runs claims with a time limit (seconds; a day at most)
TIMEOUT = finite(0.1, 86_400.0)
#: ``--seed`` of every command that draws random numbers
SEED = click.IntRange(0, MAX_SEED)


class LazyChoice(click.Choice):
    """A Choice whose names come from ``loader()`` on first use: the names live in their own modules (optimizers,
    schedules, ...), which need not load for ``autograd-viz --help``."""

    def __init__(self, loader: Callable[[], Sequence[str]], case_sensitive: bool = True) -> None:
        self._loader = loader
        self._names: tuple[str, ...] | None = None
        super().__init__((), case_sensitive)

    @property
    def choices(self) -> tuple[str, ...]:
        if self._names is None:
            self._names = tuple(self._loader())
        return self._names

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:
        """click's __init__ assigns the (empty) tuple passed to it: the loader decides instead."""


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def parse_assignments(text: str) -> dict[str, float]:
    """``"a=0.5,b=-1"`` -> ``{"a": 0.5, "b": -1.0}``; errors name the item and what is wrong with it."""
    values: dict[str, float] = {}
    if not text.strip():
        return values
    for k, item in enumerate(text.split(","), start=1):
        name, sep, raw = item.partition("=")
        name, raw = name.strip(), raw.strip()
        where = f"--at item {k} {item.strip()!r}"
        if not sep or not name or not raw:
            raise ExpressionError(f"{where}: expected name=value, e.g. --at a=0.5,b=-1")
        if not _NAME.match(name):
            raise ExpressionError(f"{where}: {name!r} is not a valid name (letters, digits, _; starts with a letter)")
        try:
            value = float(raw)
        except ValueError:
            raise ExpressionError(f"{where}: {raw!r} is not a number") from None
        if not math.isfinite(value):
            raise ExpressionError(f"{where}: the value must be finite")
        if name in values:
            raise ExpressionError(f"{where}: {name!r} is given twice")
        values[name] = value
    return values


def merge_assignments(groups: tuple[str, ...] | list[str] | str) -> dict[str, float]:
    """Several ``--at`` lists merged into one (``--at a=1 --at b=2``); a name given twice, in one list or
    across them, is an error rather than a silent last-one-wins."""
    if isinstance(groups, str):
        groups = [groups]
    merged: dict[str, float] = {}
    for group in groups:
        for name, value in parse_assignments(group).items():
            if name in merged:
                raise ExpressionError(f"--at gives {name!r} twice ({merged[name]:g} and {value:g}); give it once")
            merged[name] = value
    return merged
