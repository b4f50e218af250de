"""Parity with PyTorch: gradients of random graphs agree to 1e-10 in float64 (leaves and intermediates).

Skipped when torch is absent; it is never a dependency of the package.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch parity tests need torch: pip install torch==2.13.0",
                            exc_type=ImportError)
TF = torch.nn.functional

from op_cases import SCALAR_STEPS, TENSOR_STEPS, N, random_program, run_program  # noqa: E402

import autograd_viz.functional as F  # noqa: E402
from autograd_viz import Tensor, Value  # noqa: E402

RTOL, ATOL = 1e-10, 1e-10

#: The PyTorch twin of each step of ``op_cases.TENSOR_STEPS`` (same name, same math).
TORCH_STEPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1.0),
    "pow": lambda a, b: (a * a + 0.5) ** (b * 0.3),
    "rsub-number": lambda a: 2.0 - a / 3,
    "powc": lambda a: (a * a + 1.0) ** -1.5 + a**3 * 0.1,
    "neg": lambda a: -a,
    "exp": lambda a: (a * 0.3).exp(),
    "log": lambda a: (a * a + 0.1).log(),
    "sqrt": lambda a: (a * a + 0.1).sqrt(),
    "abs": torch.abs,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": TF.relu,
    "leaky_relu": lambda a: TF.leaky_relu(a, 0.1),
    "sin": torch.sin,
    "cos": lambda a: torch.cos(a) * 2,
    "erf": torch.erf,
    "Phi": lambda a: torch.special.ndtr(a) - a * 0.5,
    "gelu": TF.gelu,
    # threshold=inf: PyTorch's default switches softplus to the identity above 20 (off by up to 2e-9 there)
    "softplus": lambda a: TF.softplus(a, threshold=math.inf),
    "step": lambda a: a + (a > 0).to(a.dtype),
    "sign": lambda a: a * 0.5 + torch.sign(a),
    "matmul": lambda a, b: a @ b * 0.5,
    "sum": lambda a: a + a.sum(0, keepdim=True) * 0.1,
    "mean": lambda a: a - a.mean(1, keepdim=True) + a.mean(),
    "max": lambda a: a - a.amax(1, keepdim=True) + a.amax(),
    "reshape": lambda a: a.reshape(-1).flip(0).reshape(N, N),
    "transpose": lambda a: a.T,
    "getitem": lambda a: a[torch.tensor([0, 0, 3, 1])],
    "softmax": lambda a: torch.softmax(a, 0),
    "log_softmax": lambda a: torch.log_softmax(a, 1),
}


#: Twins of the ``op_cases.SCALAR_STEPS`` that call a method 0-d torch tensors lack; the others run as they are.
TORCH_SCALAR_STEPS = {
    "Phi": lambda a: torch.special.ndtr(a) - a * 0.5,
    "softplus": lambda a: TF.softplus(a, threshold=math.inf),
    "step": lambda a: a + (a > 0).to(a.dtype),
}


def _pair(array: np.ndarray) -> tuple[Tensor, torch.Tensor]:
    return Tensor(array.copy(), requires_grad=True), torch.tensor(array, requires_grad=True)


def _retain(t):
    t.retain_grad()
    return t


def _losses(rng: random.Random, nprng: np.random.Generator):
    """Pairs of scalar losses over one node: cross-entropy (indices or soft targets, smoothing) and MSE."""
    idx = nprng.integers(0, N, N)
    soft = nprng.dirichlet(np.ones(N), N)
    s = rng.choice([0.0, 0.2])
    target = nprng.standard_normal((N, N))
    return [
        (lambda a: F.cross_entropy(a, idx, label_smoothing=s),
         lambda a: TF.cross_entropy(a, torch.tensor(idx), label_smoothing=s)),
        (lambda a: F.cross_entropy(a, soft, label_smoothing=s, reduction="sum"),
         lambda a: TF.cross_entropy(a, torch.tensor(soft), label_smoothing=s, reduction="sum")),
        (lambda a: F.mse_loss(a, target), lambda a: TF.mse_loss(a, torch.tensor(target))),
        (lambda a: F.mse_loss(a, target, reduction="sum"),
         lambda a: TF.mse_loss(a, torch.tensor(target), reduction="sum")),
    ]


def test_every_tensor_step_has_a_torch_twin():
    assert set(TORCH_STEPS) == set(TENSOR_STEPS)


@pytest.mark.parametrize("seed", range(40))
def test_random_tensor_graph_matches_torch(seed):
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    arrays = [nprng.standard_normal((N, N)) for _ in range(3)]
    program = random_program(seed, TENSOR_STEPS, len(arrays), 14)
    ours = run_program(program, [Tensor(a.copy(), requires_grad=True) for a in arrays],
                       {k: fn for k, (_, fn) in TENSOR_STEPS.items()})
    theirs = run_program(program, [torch.tensor(a, requires_grad=True) for a in arrays], TORCH_STEPS, _retain)
    weights = [float(w) for w in nprng.standard_normal(len(ours))]
    ce_ours, ce_theirs = rng.choice(_losses(rng, nprng))
    ours_loss = sum((a * w).sum() for a, w in zip(ours, weights, strict=True)) + ce_ours(ours[-1])
    theirs_loss = sum((t * w).sum() for t, w in zip(theirs, weights, strict=True)) + ce_theirs(theirs[-1])
    np.testing.assert_allclose(ours_loss.data, theirs_loss.detach().numpy(), rtol=RTOL, atol=ATOL)
    ours_loss.backward()
    theirs_loss.backward()
    for i, (a, t) in enumerate(zip(ours, theirs, strict=True)):  # leaves and every intermediate
        np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=f"node {i}, {program}")


@pytest.mark.parametrize("seed", range(40))
def test_random_scalar_graph_matches_torch(seed):
    rng = random.Random(1000 + seed)
    leaves = [rng.uniform(-2, 2) for _ in range(3)]
    program = random_program(seed, SCALAR_STEPS, len(leaves), 25)
    fns = {k: fn for k, (_, fn) in SCALAR_STEPS.items()}  # the same code runs on 0-d torch tensors
    ours = run_program(program, [Value(x, name=f"x{i}") for i, x in enumerate(leaves)], fns)
    theirs = run_program(program, [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in leaves],
                         {**fns, **TORCH_SCALAR_STEPS}, _retain)
    ours_loss = sum(a * (0.5 + i % 3) for i, a in enumerate(ours))
    theirs_loss = sum(t * (0.5 + i % 3) for i, t in enumerate(theirs))
    assert ours_loss.data == pytest.approx(theirs_loss.item(), rel=RTOL, abs=ATOL)
    ours_loss.backward()
    theirs_loss.backward()
    for i, (a, t) in enumerate(zip(ours, theirs, strict=True)):
        assert a.grad == pytest.approx(t.grad.item(), rel=RTOL, abs=ATOL), f"node {i}, {program}"


def test_max_ties_share_the_gradient_like_amax():
    data = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    ours, theirs = _pair(data)
    (ours.max(axis=1) * Tensor(np.array([1.0, 2.0]))).sum().backward()
    (theirs.amax(1) * torch.tensor([1.0, 2.0], dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=RTOL)


def test_batched_matmul_and_broadcast_match_torch():
    rng = np.random.default_rng(7)
    (a, ta), (b, tb), (c, tc) = (_pair(rng.standard_normal(s)) for s in [(2, 1, 3, 4), (3, 4, 5), (5,)])
    ((a @ b + c).tanh() @ c).sum().backward()
    ((ta @ tb + tc).tanh() @ tc).sum().backward()
    for ours, theirs in [(a, ta), (b, tb), (c, tc)]:
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_pow_at_a_negative_base_matches_pytorch_nan_pattern():
    """d(x^y)/dy at x < 0 is nan in both engines (undefined), d/dx agrees; x = 0 gives 0 for y > 0 in both."""
    xs, ys = np.array([-2.0, -0.5, 0.0, 1.5]), np.array([3.0, 2.0, 2.0, -1.5])
    x, y = Tensor(xs, requires_grad=True), Tensor(ys, requires_grad=True)
    (x**y).sum().backward()
    tx = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(ys, dtype=torch.float64, requires_grad=True)
    (tx**ty).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(np.isnan(y.grad), np.isnan(ty.grad.numpy()))
    finite = ~np.isnan(y.grad)
    np.testing.assert_allclose(y.grad[finite], ty.grad.numpy()[finite], rtol=RTOL, atol=ATOL)
    assert np.isnan(y.grad[:2]).all()


# --- the vocabulary of issue 12, op by op: values and gradients on a grid, float64 and float32 ------------------
#: (our method, the PyTorch function) for each; step is not a torch op: (x > 0) as a float, with no gradient.
VOCABULARY = {
    "sin": torch.sin,
    "cos": torch.cos,
    "erf": torch.erf,
    "Phi": torch.special.ndtr,
    "softplus": TF.softplus,
    "sign": torch.sign,
    "step": lambda t: (t > 0).to(t.dtype),
}
#: Inputs: both signs, 0 (the jump of step and sign), the tails of erf and Phi, softplus up to its threshold 20.
GRID = np.array([-20.0, -7.5, -3.0, -1.3, -0.4, -1e-8, 0.0, 1e-8, 0.25, 0.9, 2.2, 4.0, 6.5, 19.5])


def test_every_function_of_the_vocabulary_has_a_torch_twin():
    from autograd_viz.ops.extra import EXTRA_NAMES

    assert set(VOCABULARY) == set(EXTRA_NAMES)


@pytest.mark.parametrize(("dtype", "tol"), [(np.float64, 1e-12), (np.float32, 2e-6)])
@pytest.mark.parametrize("name", sorted(VOCABULARY))
def test_vocabulary_matches_torch(name, dtype, tol):
    data = GRID.astype(dtype)
    ours = Tensor(data.copy(), requires_grad=True)
    theirs = torch.tensor(data.copy(), requires_grad=True)
    upstream = np.linspace(-1.5, 2.0, GRID.size).astype(dtype)
    out, tout = getattr(ours, name)(), VOCABULARY[name](theirs)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=tol, atol=tol * 1e-3)
    out.backward(upstream)
    if tout.requires_grad:
        tout.backward(torch.tensor(upstream))
        expected = theirs.grad.numpy()
    else:  # (x > 0).float() is not differentiable in PyTorch: the gradient of our step is 0 everywhere
        expected = np.zeros_like(data)
    assert ours.grad.dtype == dtype
    np.testing.assert_allclose(ours.grad, expected, rtol=tol, atol=tol * 1e-3)


@pytest.mark.parametrize("name", sorted(VOCABULARY))
def test_vocabulary_on_values_matches_torch(name):
    """The scalar engine (Python's math) agrees with PyTorch too, gradient included."""
    for x in GRID:
        v = Value(float(x), name="x")
        out = getattr(v, name)()
        out.backward()
        t = torch.tensor(float(x), dtype=torch.float64, requires_grad=True)
        tout = VOCABULARY[name](t)
        assert out.data == pytest.approx(tout.item(), rel=1e-12, abs=1e-15), (name, x)
        grad = torch.autograd.grad(tout, t)[0].item() if tout.requires_grad else 0.0
        assert v.grad == pytest.approx(grad, rel=1e-12, abs=1e-15), (name, x)


def test_phi_left_tail_is_more_accurate_than_one_plus_erf():
    """Φ(−10) = 7.62e−24 (mpmath); 1 + erf(−10/√2) rounds to 0, which is what torch.special.ndtr returns."""
    assert Value(-10.0).Phi().data == pytest.approx(7.619853024160525e-24, rel=1e-13)
    assert Tensor(np.array([-10.0])).Phi().data[0] == pytest.approx(7.619853024160525e-24, rel=1e-13)


def test_softplus_beyond_torch_threshold():
    """Above PyTorch's threshold (20) softplus is the identity there, ours the exact log(1 + e^x): they differ
    by e^−x, below 2.1e−9, and agree with threshold=inf."""
    x = np.array([20.5, 30.0, 100.0, 700.0])
    ours = Tensor(x, requires_grad=True)
    ours.softplus().sum().backward()
    t = torch.tensor(x, requires_grad=True)
    TF.softplus(t, threshold=math.inf).sum().backward()
    np.testing.assert_allclose(Tensor(x).softplus().data, TF.softplus(torch.tensor(x)).numpy(), rtol=0, atol=2.1e-9)
    np.testing.assert_allclose(ours.grad, t.grad.numpy(), rtol=1e-15)
