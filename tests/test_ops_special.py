"""The array erf and erfc (ops/special.py; NumPy has neither and SciPy is not a dependency) against mpmath at
40 digits and against Python's ``math.erf``/``math.erfc`` (the C library's), on many points: near 0 (down to
subnormals), the switch points of the three formulas, the tails, ±inf and nan; float32 keeps its dtype."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from autograd_viz.ops.special import erf, erfc, exp_minus_square

mpmath.mp.dps = 40


def _points() -> np.ndarray:
    rng = np.random.default_rng(12)
    switch = np.array([1.0, 1.5, 2.0, 3.0, 6.0])  # where the formula or the continued fraction's depth changes
    near_switch = np.concatenate([np.nextafter(switch, 0), switch, np.nextafter(switch, 10)])
    positive = np.concatenate([
        np.geomspace(5e-324, 1e-3, 200), np.linspace(0, 7, 2001), near_switch, rng.uniform(0, 6, 1000),
        np.geomspace(6, 27, 100),
    ])
    return np.concatenate([positive, -positive])


POINTS = _points()


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.abs(got - want) / np.spacing(np.maximum(np.abs(want), np.finfo(np.float64).tiny))


def test_erf_is_within_two_ulps_of_mpmath():
    want = np.array([float(mpmath.erf(mpmath.mpf(float(x)))) for x in POINTS])
    ulps = _ulps(erf(POINTS), want)
    assert ulps.max() <= 2, (POINTS[ulps.argmax()], ulps.max())


def test_erf_matches_math_erf():
    want = np.array([math.erf(x) for x in POINTS])
    np.testing.assert_allclose(erf(POINTS), want, rtol=5e-16, atol=0)


def test_erfc_keeps_its_relative_accuracy_in_the_right_tail():
    """erfc(x) for x up to 26.5 (erfc = 5e-307, still a normal float): relative error below 1.5e-15."""
    xs = POINTS[POINTS < 26.5]
    want = np.array([float(mpmath.erfc(mpmath.mpf(float(x)))) for x in xs])
    rel = np.abs(erfc(xs) - want) / want
    assert rel.max() < 1.5e-15, (xs[rel.argmax()], rel.max())
    np.testing.assert_allclose(erfc(xs), [math.erfc(x) for x in xs], rtol=2e-15, atol=0)


def test_a_wrong_erf_would_be_caught():
    """The tolerance means something: the textbook 1 + erf shortcut for erfc, or erf from float32, fails it."""
    xs = np.linspace(2, 5, 50)
    want = np.array([float(mpmath.erfc(mpmath.mpf(float(x)))) for x in xs])
    assert (np.abs((1.0 - erf(xs)) - want) / want).max() > 1e-13
    assert _ulps(erf(xs.astype(np.float32)).astype(np.float64), 1.0 - want).max() > 2


def test_special_values_and_dtypes():
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e300, -1e300])
    np.testing.assert_array_equal(erf(special), [0.0, -0.0, 1.0, -1.0, np.nan, 1.0, -1.0])
    np.testing.assert_array_equal(erfc(special), [1.0, 1.0, 0.0, 2.0, np.nan, 0.0, 2.0])
    assert math.copysign(1.0, erf(np.array([-0.0]))[0]) == -1.0  # erf is odd, at -0.0 too
    tiny = np.array([1e-310, 1e-300, 1e-20])
    np.testing.assert_array_equal(erf(tiny), tiny * (2 / math.sqrt(math.pi)))  # erf x = 2x/√π + O(x³)
    for dtype in (np.float32, np.float64):
        x = np.linspace(-3, 3, 7, dtype=dtype)
        assert erf(x).dtype == dtype and erfc(x).dtype == dtype
        np.testing.assert_allclose(erf(x), [math.erf(v) for v in x.astype(np.float64)], rtol=1e-7 if dtype ==
                                   np.float32 else 1e-15)
    assert erf(np.arange(3)).dtype == np.float64 and erf(0.5).shape == ()
    assert erf(np.ones((2, 3, 4))).shape == (2, 3, 4)


@pytest.mark.parametrize("x", [0.1, 3.0, 9.7, 26.0])
def test_exp_minus_square_does_not_round_the_square_first(x):
    want = float(mpmath.exp(-mpmath.mpf(x) ** 2))
    assert exp_minus_square(np.array([x]))[0] == pytest.approx(want, rel=4e-16)
