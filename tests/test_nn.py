"""Layers, naming, summary, losses and penalties: shapes, float64 gradcheck, train/eval behaviour."""

import math

import numpy as np
import pytest

import autograd_viz.functional as F
from autograd_viz import Tensor, gradcheck, nn
from autograd_viz.errors import ConfigError, DomainError, ModelError, OperandError, ShapeError

RNG = np.random.default_rng(3)


def test_summary_counts_match_the_lecture_network():
    model = nn.mlp([784, 512, 512, 10], seed=0)
    text = nn.summary(model)
    rows = {line.split()[0]: line.split()[-1] for line in text.splitlines()[2:] if line[:1].isalnum()}
    assert rows == {"fc1": "401,920", "fc2": "262,656", "fc3": "5,130", "total": "669,706"}
    assert model.num_parameters() == 669_706


def test_parameters_are_named_by_their_path():
    model = nn.mlp([4, 3, 2], batchnorm=True, dropout=0.2, seed=0)
    names = [name for name, _ in model.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "bn1.weight", "bn1.bias", "fc2.weight", "fc2.bias"]
    assert [p.name for p in model.parameters()] == names
    assert all(p.role == "param" and p.requires_grad for p in model.parameters())
    outer = nn.Sequential(("block", model))
    assert outer.parameters()[0].name == "block.fc1.weight"


@pytest.mark.parametrize("layer", [nn.Sigmoid(), nn.Tanh(), nn.ReLU(), nn.LeakyReLU(0.1), nn.Identity()])
def test_activation_layers_gradcheck(layer):
    x = Tensor(RNG.standard_normal((3, 4)) + 0.05, requires_grad=True)  # away from relu's kink at 0
    assert layer(x).shape == (3, 4)
    assert gradcheck(lambda x: layer(x), x)


def test_linear_shapes_and_gradcheck():
    lin = nn.Linear(5, 3, dtype=np.float64, rng=np.random.default_rng(0))
    x = Tensor(RNG.standard_normal((4, 5)), requires_grad=True)
    assert lin(x).shape == (4, 3)
    assert gradcheck(lambda x, w, b: lin(x), x, lin.weight, lin.bias)
    np.testing.assert_allclose(lin(x).data, x.data @ lin.weight.data + lin.bias.data)
    with pytest.raises(ShapeError, match="expected input"):
        lin(np.ones((2, 4)))


def test_dropout_train_and_eval():
    drop = nn.Dropout(0.25, rng=np.random.default_rng(1))
    x = Tensor(np.ones((200, 100)))
    y = drop(x).data
    zeros = np.mean(y == 0)
    assert 0.22 < zeros < 0.28
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.75])
    drop.eval()
    assert drop(x) is x
    d64 = nn.Dropout(0.3)
    w = Tensor(RNG.standard_normal((3, 4)), requires_grad=True)

    def f(w):
        d64.rng = np.random.default_rng(5)  # the same mask on every call
        return d64(w * 2.0)

    assert gradcheck(f, w)
    with pytest.raises(ConfigError, match=r"Dropout: p must be in \[0, 1\), got 1.0"):
        nn.Dropout(1.0)


def test_batchnorm_train_statistics_running_estimates_and_eval():
    bn = nn.BatchNorm1d(3, momentum=0.1, dtype=np.float64)
    x = RNG.standard_normal((50, 3)) * [1.0, 2.0, 5.0] + [0.0, 1.0, -3.0]
    out = bn(x).data
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-3)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(axis=0, ddof=1), atol=1e-12)
    bn.eval()
    expected = (x - bn.running_mean) / np.sqrt(bn.running_var + bn.eps)
    np.testing.assert_allclose(bn(x).data, expected, atol=1e-12)
    bn.train()
    xt = Tensor(RNG.standard_normal((6, 3)), requires_grad=True)
    bn.weight.data[:] = [1.5, -0.5, 2.0]
    assert gradcheck(lambda x, g, b: bn(x), xt, bn.weight, bn.bias)
    with pytest.raises(ShapeError, match="more than 1 sample"):
        bn(np.ones((1, 3)))


def test_batchnorm_matches_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch parity needs torch (pip install torch==2.13.0)")
    x = RNG.standard_normal((8, 4))
    ours, theirs = nn.BatchNorm1d(4, dtype=np.float64), torch.nn.BatchNorm1d(4).double()
    for _ in range(3):
        np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), atol=1e-12)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).detach().numpy(), atol=1e-12)


def test_state_dict_round_trip_and_errors():
    a = nn.mlp([4, 3, 2], batchnorm=True, seed=1, dtype=np.float64)
    b = nn.mlp([4, 3, 2], batchnorm=True, seed=2, dtype=np.float64)
    a.bn1.running_mean[:] = 7.0
    b.load_state_dict(a.state_dict())
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    np.testing.assert_array_equal(b.bn1.running_mean, 7.0)
    bad = a.state_dict()
    bad["fc1.weight"] = np.zeros((5, 3))
    with pytest.raises(ShapeError, match=r"fc1.weight has shape \(5, 3\)"):
        b.load_state_dict(bad)
    del bad["fc1.weight"]
    with pytest.raises(ModelError, match=r"the state does not fit Sequential: missing \['fc1.weight'\]"):
        b.load_state_dict(bad)


def test_same_seed_same_weights():
    a, b, c = (nn.mlp([10, 8, 3], seed=s, dropout=0.5) for s in (4, 4, 5))
    assert all(np.array_equal(p.data, q.data) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not np.array_equal(a.fc1.weight.data, c.fc1.weight.data)


# --- losses ------------------------------------------------------------------------------------------------------
def test_mse_loss_is_the_functional_one_with_its_reductions():
    assert nn.mse_loss is F.mse_loss  # one implementation, one set of keywords
    pred = Tensor(RNG.standard_normal((5, 2)), requires_grad=True)
    target = RNG.standard_normal((5, 2))
    sq = (pred.data - target) ** 2
    for reduction, value in (("mean", sq.mean()), ("sum", sq.sum()), ("none", sq)):
        loss = nn.mse_loss(pred, target, reduction=reduction)
        assert np.allclose(loss.data, value, rtol=1e-14, atol=0)
        assert np.allclose(nn.MSELoss(reduction)(pred, target).data, value, rtol=1e-14, atol=0)
    # the lecture's L = ||Y - Ŷ||² / 2n: half the mean, and its gradient (Ŷ - Y) / n
    half = 0.5 * nn.mse_loss(pred, target)
    assert half.item() == pytest.approx(0.5 * sq.mean(), rel=1e-14)
    half.backward()
    assert np.allclose(pred.grad, (pred.data - target) / sq.size, rtol=1e-12, atol=0)
    assert gradcheck(lambda p: 0.5 * nn.mse_loss(p, target, reduction="sum"), pred)
    with pytest.raises(DomainError, match="mse_loss: reduction must be one of mean, sum, none, got 'rms'"):
        nn.mse_loss(pred, target, reduction="rms")
    with pytest.raises(DomainError, match="MSELoss: reduction must be"):
        nn.MSELoss("half_mean")


def test_binary_cross_entropy_from_logits_is_stable_and_exact():
    z = np.array([-1000.0, -3.0, 0.0, 0.5, 40.0, 1000.0])
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    logits = Tensor(z, requires_grad=True)
    loss = nn.binary_cross_entropy_with_logits(logits, y, reduction="sum")
    expected = np.sum(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    assert loss.item() == pytest.approx(expected, rel=1e-12)
    loss.backward()
    np.testing.assert_allclose(logits.grad, 0.5 * (1 + np.tanh(z / 2)) - y, atol=1e-15)  # includes z = 0 exactly
    small = Tensor(RNG.standard_normal((3, 2)), requires_grad=True)
    assert gradcheck(lambda t: nn.binary_cross_entropy_with_logits(t, np.eye(3, 2)), small)


def test_binary_cross_entropy_from_probabilities():
    p = Tensor(np.array([0.2, 0.7, 0.9]), requires_grad=True)
    y = np.array([0.0, 1.0, 1.0])
    expected = -np.mean(y * np.log(p.data) + (1 - y) * np.log(1 - p.data))
    assert nn.binary_cross_entropy(p, y).item() == pytest.approx(expected, rel=1e-14)
    assert gradcheck(lambda p: nn.binary_cross_entropy(p, y), p)
    edge = nn.binary_cross_entropy(Tensor(np.array([0.0, 1.0])), np.array([1.0, 0.0]))
    assert math.isfinite(edge.item()) and edge.item() > 30


def test_cross_entropy_with_label_smoothing_matches_formula():
    logits = Tensor(RNG.standard_normal((4, 5)), requires_grad=True)
    target = np.array([0, 3, 4, 1])
    s = 0.1
    logp = logits.data - np.log(np.exp(logits.data).sum(1, keepdims=True))
    y = np.full((4, 5), s / 5)
    y[np.arange(4), target] += 1 - s
    assert nn.CrossEntropyLoss(label_smoothing=s)(logits, target).item() == pytest.approx(-(y * logp).sum(1).mean())
    assert gradcheck(lambda t: nn.cross_entropy(t, target, label_smoothing=s), logits)


def test_l1_l2_penalties():
    w1 = Tensor(np.array([[1.0, -2.0], [0.5, 3.0]]), requires_grad=True)
    w2 = Tensor(np.array([-1.5, 0.25]), requires_grad=True)
    assert nn.l1_penalty([w1, w2], 0.1).item() == pytest.approx(0.1 * 8.25)
    l2 = nn.l2_penalty([w1, w2], 0.01)
    assert l2.item() == pytest.approx(0.01 * (1 + 4 + 0.25 + 9 + 2.25 + 0.0625))
    l2.backward()
    np.testing.assert_allclose(w1.grad, 0.02 * w1.data)
    with pytest.raises(ModelError, match=r"l1_penalty: got no parameters"):
        nn.l1_penalty([], 0.1)
    with pytest.raises(ModelError, match=r"l2_penalty: got no parameters"):
        nn.l2_penalty([], 0.1)


def test_model_building_errors_name_the_layer_and_the_setting():
    with pytest.raises(ConfigError, match=r"Linear: in_features and out_features must be >= 1, got 0 -> 3"):
        nn.Linear(0, 3)
    with pytest.raises(ConfigError, match=r"BatchNorm1d: num_features must be >= 1, got 0"):
        nn.BatchNorm1d(0)
    with pytest.raises(ConfigError, match=r"mlp: sizes must be at least two layer sizes"):
        nn.mlp([4])
    with pytest.raises(ConfigError, match=r"mlp: unknown activation 'swish' \(expected one of relu, "):
        nn.mlp([4, 2], activation="swish")
    with pytest.raises(ConfigError, match=r"mlp: unknown output_activation 'softmax'"):
        nn.mlp([4, 2], output_activation="softmax")
    with pytest.raises(OperandError, match=r"BatchNorm1d: expected a Tensor or ndarray input, got list"):
        nn.BatchNorm1d(2)([[1.0, 2.0]])
    with pytest.raises(ModelError, match=r"Sequential: layer 'x' is a int, not a Module"):
        nn.Sequential(("x", 3))
    with pytest.raises(ModelError, match=r"Sequential: layer name 'a' is already taken"):
        nn.Sequential(("a", nn.ReLU()), ("a", nn.Tanh()))
    with pytest.raises(ModelError, match=r"Sequential: layer name 'a b' is not an identifier or a number"):
        nn.Sequential(("a b", nn.ReLU()))

    class Forgetful(nn.Module):
        def __init__(self) -> None:
            self.w = 1  # before super().__init__()

    with pytest.raises(ModelError, match=r"Forgetful: cannot set 'w' before Module.__init__ ran"):
        Forgetful()
