"""Smoke test of the public API named in the engine issue."""

import numpy as np

import autograd_viz.functional as F
from autograd_viz import Tensor, Value, gradcheck, no_grad


def test_public_api_round_trip():
    a = Value(2.0, name="a")
    y = (a * 3 + 1).sigmoid()
    y.backward()
    s = 1 / (1 + np.exp(-7.0))
    assert abs(a.grad - 3 * s * (1 - s)) < 1e-15
    x = Tensor(np.random.default_rng(0).standard_normal((4, 3)))
    W = Tensor(np.random.default_rng(1).standard_normal((3, 2)), requires_grad=True, name="W")
    assert gradcheck(lambda W: F.cross_entropy(x @ W, np.array([0, 1, 1, 0])), W)
    with no_grad():
        assert not (x @ W).requires_grad
