"""The set of values a declared symbol may take: the one place that turns ``[symbols]`` assumptions (``positive``,
``integer``, ``interval(0, 1)``, ...) into SymPy assumptions, SymPy sets, membership tests and sample points, so
proofs, searches and counterexamples all respect the same domain.

>>> d = parse_domain("interval(0, 1]", "p")
>>> d.contains(sp.Integer(1)), d.contains(sp.Integer(0))
(True, False)
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import sympy as sp

from autograd_viz.errors import DomainSpecError

WORDS = frozenset({"real", "positive", "negative", "nonnegative", "nonpositive", "integer", "nonzero"})
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?:\s*/\s*\d+)?|[+-]?(?:inf|oo)"
_INTERVAL = re.compile(rf"interval\s*([\[(])\s*({_NUMBER})\s*,\s*({_NUMBER})\s*([\])])")
MAGNITUDE = 1e6  # the search reaches values this large (log-uniform), where the domain allows


def _bound(text: str) -> sp.Expr:
    t = text.replace(" ", "")
    if t.lstrip("+-") in ("inf", "oo"):
        return -sp.oo if t.startswith("-") else sp.oo
    if "/" in t:
        a, b = t.split("/")
        return sp.Rational(sp.Rational(a), sp.Integer(b))
    return sp.Rational(t)


@dataclass(frozen=True)
class Domain:
    """Real numbers between ``lo`` and ``hi`` (ends open or closed), optionally integers and/or nonzero."""

    lo: sp.Expr = -sp.oo
    hi: sp.Expr = sp.oo
    lo_open: bool = True
    hi_open: bool = True
    integer: bool = False
    nonzero: bool = False
    interval: bool = False  # an explicit interval(...) was declared (reported in texts)

    # --- what SymPy may assume -------------------------------------------------------------------------
    def assumptions(self) -> dict[str, bool]:
        """The strongest SymPy assumptions implied by the domain (weaker than the domain for intervals, which
        keeps every SymPy proof valid on the declared set)."""
        out = {"real": True}
        if self.integer:
            out["integer"] = True
        if self.lo > 0 or self.lo == 0 and self.lo_open:
            out["positive"] = True
        elif self.lo >= 0:
            out["nonnegative"] = True
        if self.hi < 0 or self.hi == 0 and self.hi_open:
            out["negative"] = True
        elif self.hi <= 0:
            out["nonpositive"] = True
        if self.nonzero and "positive" not in out and "negative" not in out:
            out["nonzero"] = True
        return out

    def as_set(self) -> sp.Set:
        """The domain as a SymPy set (for SymPy's extremum search)."""
        if self.integer:
            lo = sp.ceiling(self.lo) if self.lo.is_finite else self.lo
            hi = sp.floor(self.hi) if self.hi.is_finite else self.hi
            if self.lo.is_finite and self.lo_open and lo == self.lo:
                lo += 1
            if self.hi.is_finite and self.hi_open and hi == self.hi:
                hi -= 1
            s: sp.Set = sp.Range(lo if lo.is_finite else -sp.oo, hi + 1 if hi.is_finite else sp.oo) \
                if lo.is_finite or hi.is_finite else sp.S.Integers
        else:
            s = sp.Interval(self.lo, self.hi, self.lo_open or not self.lo.is_finite,
                            self.hi_open or not self.hi.is_finite)
        return s - sp.FiniteSet(0) if self.nonzero else s

    # --- membership --------------------------------------------------------------------------------------
    @cached_property
    def _fractions(self) -> tuple[Fraction | None, Fraction | None]:
        def frac(e: sp.Expr) -> Fraction | None:
            return Fraction(int(e.p), int(e.q)) if e.is_finite else None

        return frac(self.lo), frac(self.hi)

    def contains(self, v: sp.Expr | float) -> bool:
        """Whether the exact value ``v`` is allowed."""
        if isinstance(v, sp.Rational | int):
            return self._contains_fraction(Fraction(int(v.p), int(v.q)) if isinstance(v, sp.Rational)
                                           else Fraction(v))
        v = sp.nsimplify(v) if isinstance(v, float) else sp.sympify(v)
        if not v.is_real or not v.is_finite:
            return False
        if self.integer and not v.is_integer:
            return False
        if self.nonzero and v == 0:
            return False
        if v < self.lo or v > self.hi or self.lo_open and v == self.lo or self.hi_open and v == self.hi:
            return False
        return True

    def _contains_fraction(self, f: Fraction) -> bool:
        lo, hi = self._fractions
        if self.integer and f.denominator != 1 or self.nonzero and f == 0:
            return False
        if lo is not None and (f < lo or self.lo_open and f == lo):
            return False
        return not (hi is not None and (f > hi or self.hi_open and f == hi))

    def describe(self) -> str:
        """``(0, 1)``, ``integers ≥ 1``, ``reals``: for the texts of verdicts."""
        if self.integer:
            if self.lo.is_finite and self.hi.is_finite:
                return f"integers in {self._interval_text()}"
            if self.lo.is_finite:
                return f"integers {'>' if self.lo_open else '≥'} {self.lo}"
            return "integers"
        if not self.lo.is_finite and not self.hi.is_finite:
            return "nonzero reals" if self.nonzero else "reals"
        return self._interval_text() + (" without 0" if self.nonzero else "")

    def _interval_text(self) -> str:
        left = "(" if self.lo_open or not self.lo.is_finite else "["
        right = ")" if self.hi_open or not self.hi.is_finite else "]"
        lo = "−∞" if self.lo == -sp.oo else str(self.lo)
        hi = "∞" if self.hi == sp.oo else str(self.hi)
        return f"{left}{lo}, {hi}{right}"

    # --- values -----------------------------------------------------------------------------------------
    def clip(self, v: sp.Expr) -> sp.Expr | None:
        """``v`` if allowed; for integer domains the nearest allowed integer; otherwise None."""
        if self.integer:
            v = sp.Integer(round(float(v)))
        return v if self.contains(v) else None

    def special(self) -> list[sp.Expr]:
        """The values a search must try first: the ends of the domain and the numbers just inside them,
        0, ±1, ±1/2 where allowed."""
        out: list[sp.Expr] = []
        for end, _open, inward in ((self.lo, self.lo_open, 1), (self.hi, self.hi_open, -1)):
            if not end.is_finite:
                continue
            out.append(end)
            for step in (sp.Rational(1, 10**9), sp.Rational(1, 1000), sp.Rational(1, 10)):
                out.append(end + inward * step)
            if self.integer:
                out.append(end + inward)
        out += [sp.Integer(0), sp.Integer(1), sp.Integer(-1), sp.Rational(1, 2), sp.Rational(-1, 2),
                sp.Integer(2), sp.Integer(-2)]
        if self.lo.is_finite and self.hi.is_finite:
            out.append((self.lo + self.hi) / 2)
        return list(dict.fromkeys(v for v in (self.clip(x) for x in out) if v is not None))

    @cached_property
    def _floats(self) -> tuple[float | None, float | None]:
        """The ends as floats (None when infinite): computed once, not on every draw."""
        return (float(self.lo) if self.lo.is_finite else None, float(self.hi) if self.hi.is_finite else None)

    def sample(self, rng: random.Random, wide: bool = False) -> sp.Expr:
        """A random exact value in the domain: moderate values, or (``wide``) log-uniform magnitudes from 1e-6
        to 1e6 of either sign, folded into the domain."""
        flo, fhi = self._floats
        for _ in range(50):
            if flo is not None and fhi is not None:
                lo, hi = flo, fhi
                if wide:  # close to either end, at every scale down to 1e-9 of the width
                    t = (hi - lo) * 10 ** rng.uniform(-9, 0)
                    x = lo + t if rng.random() < 0.5 else hi - t
                else:
                    x = rng.uniform(lo, hi)
            else:
                top = 3.0 if self.integer and wide else math.log10(MAGNITUDE)
                x = 10 ** rng.uniform(-6, top) * (1 if rng.random() < 0.5 else -1) if wide else rng.uniform(-3, 3)
                if flo is not None:
                    x = flo + abs(x)
                elif fhi is not None:
                    x = fhi - abs(x)
            if self.integer:  # the membership test on a Fraction, the SymPy number built only when it passes
                f = Fraction(round(x))
                if self._contains_fraction(f):
                    return sp.Integer(f.numerator)
                continue
            num, den = _four_digits(x)
            if flo is None and fhi is None:  # no ends to compare with (the common case; drawn in bulk)
                if not (self.nonzero and num == 0):
                    return sp.Rational(num, den)
            elif self._contains_fraction(Fraction(num, den)):
                return sp.Rational(num, den)
        specials = self.special()
        if specials:
            return rng.choice(specials)
        raise DomainSpecError(f"no value could be drawn from {self.describe()}")


def _four_digits(x: float) -> tuple[int, int]:
    """``x`` rounded to 4 significant digits, exactly, as numerator and (power-of-ten) denominator."""
    if x == 0:
        return 0, 1
    k = 3 - math.floor(math.log10(abs(x)))
    return (round(x * 10**k), 10**k) if k >= 0 else (round(x / 10**-k) * 10**-k, 1)


def parse_domain(text: str, name: str) -> Domain:
    """Read an assumption string: words from :data:`WORDS` and at most one ``interval(a, b)`` (brackets for
    closed ends: ``interval[0, 1)``); raise :class:`DomainSpecError` naming what is wrong."""
    rest = text
    lo, hi, lo_open, hi_open, has_interval = -sp.oo, sp.oo, True, True, False
    m = _INTERVAL.search(text)
    if m:
        if _INTERVAL.search(text[m.end():]):
            raise DomainSpecError(f"{name}: at most one interval")
        lo, hi = _bound(m.group(2)), _bound(m.group(3))
        lo_open, hi_open, has_interval = m.group(1) == "(", m.group(4) == ")", True
        if (lo.is_infinite and not lo_open) or (hi.is_infinite and not hi_open):
            raise DomainSpecError(f"{name}: an infinite end of an interval must be open")
        rest = text[:m.start()] + " " + text[m.end():]
    elif "interval" in text:
        raise DomainSpecError(f"{name}: cannot read the interval in {text!r} (write interval(0, 1), "
                              "interval[0, 1), ...)")
    words = set(rest.replace(",", " ").split())
    bad = words - WORDS
    if bad:
        raise DomainSpecError(f"{name}: unknown assumption(s) {sorted(bad)} (known: {', '.join(sorted(WORDS))}, "
                              "interval(a, b))")

    def raise_lo(v: sp.Expr, is_open: bool) -> None:
        nonlocal lo, lo_open
        if v > lo or v == lo and is_open:
            lo, lo_open = v, is_open

    def lower_hi(v: sp.Expr, is_open: bool) -> None:
        nonlocal hi, hi_open
        if v < hi or v == hi and is_open:
            hi, hi_open = v, is_open

    if "positive" in words:
        raise_lo(sp.Integer(0), True)
    if "nonnegative" in words:
        raise_lo(sp.Integer(0), False)
    if "negative" in words:
        lower_hi(sp.Integer(0), True)
    if "nonpositive" in words:
        lower_hi(sp.Integer(0), False)
    d = Domain(lo, hi, lo_open, hi_open, "integer" in words, "nonzero" in words, has_interval)
    if lo > hi or lo == hi and (lo_open or hi_open) or (d.integer and d.as_set().is_empty):
        raise DomainSpecError(f"{name}: the assumptions {text!r} allow no value")
    return d
