"""Initialisers: PyTorch's gain table and formulas, checked by the statistics of large samples."""

import math

import numpy as np
import pytest

from autograd_viz import Tensor
from autograd_viz.errors import ConfigError, ShapeError
from autograd_viz.nn import Linear, init


def _t(shape=(400, 300)):
    return Tensor(np.empty(shape))


def test_gain_table():
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ConfigError, match="calculate_gain: unknown nonlinearity"):
        init.calculate_gain("swish")


def test_gain_table_matches_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch parity needs torch (pip install torch==2.13.0)")
    for name, param in (("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
                        ("leaky_relu", 0.3), ("selu", None)):
        assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_constant_zeros_uniform_normal():
    rng = np.random.default_rng(0)
    assert np.all(init.zeros_(_t()).data == 0)
    assert np.all(init.constant_(_t(), 0.5).data == 0.5)
    u = init.uniform_(_t(), 0.0, 1.0, rng).data
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    n = init.normal_(_t(), 1.0, 2.0, rng).data
    assert abs(n.mean() - 1.0) < 0.02 and abs(n.std() - 2.0) < 0.02


@pytest.mark.parametrize("fn, expected_std, bound", [
    (lambda t, r: init.xavier_uniform_(t, rng=r), math.sqrt(2 / 700), math.sqrt(6 / 700)),
    (lambda t, r: init.xavier_normal_(t, gain=2.0, rng=r), 2 * math.sqrt(2 / 700), None),
    (lambda t, r: init.kaiming_uniform_(t, nonlinearity="relu", rng=r), math.sqrt(2 / 400), math.sqrt(6 / 400)),
    (lambda t, r: init.kaiming_normal_(t, nonlinearity="relu", rng=r), math.sqrt(2 / 400), None),
    (lambda t, r: init.kaiming_normal_(t, mode="fan_out", nonlinearity="tanh", rng=r), (5 / 3) / math.sqrt(300), None),
])
def test_xavier_and_he_statistics(fn, expected_std, bound):
    w = fn(_t((400, 300)), np.random.default_rng(1)).data  # stored (fan_in, fan_out)
    assert abs(w.mean()) < 0.05 * expected_std * 10
    assert w.std() == pytest.approx(expected_std, rel=0.02)
    if bound is not None:
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound


def test_linear_default_init_is_pytorchs():
    lin = Linear(100, 20, rng=np.random.default_rng(0))
    assert np.abs(lin.weight.data).max() <= 0.1 and np.abs(lin.bias.data).max() <= 0.1
    he = Linear(100, 20, init="he", rng=np.random.default_rng(0))
    assert np.all(he.bias.data == 0)


def test_fans_need_two_dimensions_and_schemes_are_checked():
    with pytest.raises(ShapeError, match="at least 2 dimensions"):
        init.xavier_uniform_(Tensor(np.empty(5)))
    with pytest.raises(ConfigError, match="init: unknown scheme"):
        init.init_weight(_t(), "orthogonal")


def test_zero_init_gives_identical_hidden_units():
    """The symmetry problem: with all-zero weights every hidden unit gets the same gradient forever."""
    from autograd_viz import nn, optim
    from autograd_viz.train import Trainer

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 6)), rng.integers(0, 3, 64)
    model = nn.mlp([6, 5, 3], activation="sigmoid", init="zeros", dtype=np.float64, seed=0)
    Trainer(model, optim.SGD(model.parameters(), lr=0.5), batch_size=16, quiet=True).fit(x, y, 3)
    w = model.fc1.weight.data
    assert np.abs(w).max() > 0 and np.abs(model.fc2.weight.data).max() > 0  # the weights did move
    np.testing.assert_allclose(w, np.repeat(w[:, :1], 5, axis=1), atol=1e-12)  # hidden units stay identical
    np.testing.assert_allclose(model.fc2.weight.data, np.repeat(model.fc2.weight.data[:1], 5, axis=0), atol=1e-12)
