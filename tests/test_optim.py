"""Optimizers: each step equals its formula (hand-computed) and PyTorch's step (float64, 1e-12, when installed)."""

import math

import numpy as np
import pytest

from autograd_viz import optim
from autograd_viz.errors import ConfigError, OptimizerError
from autograd_viz.nn import Parameter

SHAPES = [(5, 4), (4,), (3,)]


def _params(dtype=np.float64):
    rng = np.random.default_rng(7)
    return [Parameter(rng.standard_normal(s), dtype=dtype, name=f"p{i}") for i, s in enumerate(SHAPES)]


def _grads(steps, dtype=np.float64):
    rng = np.random.default_rng(11)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]


CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.02}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.01, "initial_accumulator_value": 0.2}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "weight_decay": 0.01, "momentum": 0.5}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.95, "centered": True, "momentum": 0.3}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.02, "betas": (0.8, 0.99), "weight_decay": 0.03}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.01}),
    ("Adamax", {"lr": 0.02}),
    ("Adamax", {"lr": 0.02, "betas": (0.85, 0.95), "weight_decay": 0.02}),
]


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_matches_pytorch_float64(name, kwargs):
    torch = pytest.importorskip("torch", reason="PyTorch parity needs torch (pip install torch==2.13.0)")
    ours = _params()
    theirs = [torch.tensor(p.data.copy(), requires_grad=True) for p in ours]
    opt = getattr(optim, name)(ours, **kwargs)
    ref = getattr(torch.optim, name)(theirs, foreach=False, **kwargs)
    for grads in _grads(8):
        for p, t, g in zip(ours, theirs, grads, strict=True):
            p.grad = g
            t.grad = torch.tensor(g)
        opt.step()
        ref.step()
        for p, t in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=0, atol=1e-12)
    # the state holds what PyTorch's holds, under the same keys (exp_avg is Adam's m, not a rescaled m)
    for st, t in zip(opt.state, theirs, strict=True):
        arrays = {k: v for k, v in st.items() if isinstance(v, np.ndarray)}
        assert bool(arrays) == (name != "SGD" or "momentum" in kwargs)  # plain SGD keeps none
        for key, value in arrays.items():
            np.testing.assert_allclose(value, ref.state[t][key].numpy(), rtol=1e-12, atol=1e-15, err_msg=key)


def _run(opt_cls, kwargs, steps=3):
    p = Parameter(np.array([0.5, -1.0, 2.0]))
    opt = opt_cls([p], **kwargs)
    gs = [np.array([0.3, -0.2, 0.1]), np.array([-0.1, 0.4, 0.0]), np.array([0.2, 0.2, -0.5])][:steps]
    history = []
    for g in gs:
        p.grad = g.copy()
        opt.step()
        history.append(p.data.copy())
    return gs, history


def test_sgd_momentum_is_the_lecture_velocity_formula():
    gs, hist = _run(optim.SGD, {"lr": 0.1, "momentum": 0.9})
    w, v = np.array([0.5, -1.0, 2.0]), np.zeros(3)
    for g, got in zip(gs, hist, strict=True):
        v = 0.9 * v - 0.1 * g  # v = γv − η∇L ; w = w + v
        w = w + v
        np.testing.assert_allclose(got, w, rtol=0, atol=1e-15)


def test_nesterov_formula():
    gs, hist = _run(optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True})
    w, b = np.array([0.5, -1.0, 2.0]), None
    for g, got in zip(gs, hist, strict=True):
        b = g if b is None else 0.9 * b + g
        w = w - 0.1 * (g + 0.9 * b)
        np.testing.assert_allclose(got, w, rtol=0, atol=1e-15)


def test_adagrad_rmsprop_adam_adamax_formulas():
    w0 = np.array([0.5, -1.0, 2.0])
    # Adagrad: G += g², w -= η g / (√G + ε)
    gs, hist = _run(optim.Adagrad, {"lr": 0.1, "eps": 1e-10})
    w, G = w0.copy(), np.zeros(3)
    for g, got in zip(gs, hist, strict=True):
        G += g * g
        w = w - 0.1 * g / (np.sqrt(G) + 1e-10)
        np.testing.assert_allclose(got, w, rtol=0, atol=1e-14)
    # RMSprop: s = αs + (1-α)g², w -= η g / (√s + ε)
    gs, hist = _run(optim.RMSprop, {"lr": 0.01, "alpha": 0.9, "eps": 1e-8})
    w, s = w0.copy(), np.zeros(3)
    for g, got in zip(gs, hist, strict=True):
        s = 0.9 * s + 0.1 * g * g
        w = w - 0.01 * g / (np.sqrt(s) + 1e-8)
        np.testing.assert_allclose(got, w, rtol=0, atol=1e-14)
    # Adam with bias correction
    gs, hist = _run(optim.Adam, {"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8})
    w, m, v = w0.copy(), np.zeros(3), np.zeros(3)
    for t, (g, got) in enumerate(zip(gs, hist, strict=True), start=1):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(got, w, rtol=0, atol=1e-14)
    # Adamax: u = max(β2 u, |g| + ε)
    gs, hist = _run(optim.Adamax, {"lr": 0.02, "betas": (0.9, 0.999), "eps": 1e-8})
    w, m, u = w0.copy(), np.zeros(3), np.zeros(3)
    for t, (g, got) in enumerate(zip(gs, hist, strict=True), start=1):
        m = 0.9 * m + 0.1 * g
        u = np.maximum(0.999 * u, np.abs(g) + 1e-8)
        w = w - 0.02 / (1 - 0.9**t) * m / u
        np.testing.assert_allclose(got, w, rtol=0, atol=1e-14)


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "Adamax"])
def test_updates_data_in_place_and_never_touches_grad(name):
    ps = _params()
    opt = getattr(optim, name)(ps, lr=0.01, weight_decay=0.1, **({"momentum": 0.9} if name == "SGD" else {}))
    arrays = [p.data for p in ps]
    before = [p.data.copy() for p in ps]
    grads = _grads(1)[0]
    copies = [g.copy() for g in grads]
    for _ in range(2):
        for p, g in zip(ps, grads, strict=True):
            p.grad = g
        opt.step()
    for p, arr, old, g, c in zip(ps, arrays, before, grads, copies, strict=True):
        assert p.data is arr and not np.array_equal(p.data, old)
        assert p.grad is g
        np.testing.assert_array_equal(g, c)


def test_float32_adam_state_has_no_subnormals():
    p = Parameter(np.ones((50,), dtype=np.float32))
    opt = optim.Adam([p], lr=1e-3)
    p.grad = np.full(50, 1e-3, dtype=np.float32)
    opt.step()
    p.grad = np.zeros(50, dtype=np.float32)  # gradient exactly zero from now on: m decays by 0.9 per step
    tiny = np.finfo(np.float32).tiny
    for _ in range(1200):
        opt.step()
        for arr in (opt.state[0]["exp_avg"], opt.state[0]["exp_avg_sq"]):
            assert not np.any((arr != 0) & (np.abs(arr) < tiny))


def _step(grads, *runs):
    """For each gradient list in ``grads``, give it to every ``(optimizer, params)`` run and step that optimizer."""
    for g in grads:
        for opt, params in runs:
            for p, x in zip(params, g, strict=True):
                p.grad = x
            opt.step()


def test_state_dict_round_trip_continues_identically():
    a, b = _params(), _params()
    opt_a = optim.Adam(a, lr=0.01)
    grads = _grads(4)
    _step(grads[:2], (opt_a, a))
    for p, q in zip(a, b, strict=True):
        q.data[...] = p.data
    opt_b = optim.Adam(b, lr=0.5)
    opt_b.load_state_dict(opt_a.state_dict())
    _step(grads[2:], (opt_a, a), (opt_b, b))
    for p, q in zip(a, b, strict=True):
        np.testing.assert_array_equal(p.data, q.data)


def test_adam_moments_are_the_moving_averages_of_the_formula():
    p = Parameter(np.array([1.0, -2.0]))
    opt = optim.Adam([p], lr=0.1, betas=(0.9, 0.99), amsgrad=True)
    g1, g2 = np.array([0.5, -1.0]), np.array([-0.25, 2.0])
    for g in (g1, g2):
        p.grad = g
        opt.step()
    st = opt.state[0]
    m = 0.9 * (0.1 * g1) + 0.1 * g2
    v = 0.99 * (0.01 * g1**2) + 0.01 * g2**2
    np.testing.assert_allclose(st["exp_avg"], m, rtol=1e-15)
    np.testing.assert_allclose(st["exp_avg_sq"], v, rtol=1e-15)
    np.testing.assert_allclose(st["max_exp_avg_sq"], np.maximum(0.01 * g1**2, v), rtol=1e-15)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_state_saved_before_version_2_loads_and_continues_identically(amsgrad):
    """Version-1 states (no "version" key) held exp_avg = m/(1-b1) and exp_avg_sq = v/(1-b2)."""
    a, b = _params(), _params()
    opt_a = optim.Adam(a, lr=0.01, betas=(0.8, 0.95), amsgrad=amsgrad)
    grads = _grads(5)
    _step(grads[:3], (opt_a, a))
    old = opt_a.state_dict()
    assert old.pop("version") == optim.optimizers.STATE_VERSION == 2
    for st in old["params"]:  # what the old code stored
        st["exp_avg"] /= 1 - 0.8
        st["exp_avg_sq"] /= 1 - 0.95
        if amsgrad:
            st["max_exp_avg_sq"] /= 1 - 0.95
    for p, q in zip(a, b, strict=True):
        q.data[...] = p.data
    opt_b = optim.Adam(b, lr=0.01, betas=(0.8, 0.95), amsgrad=amsgrad)
    opt_b.load_state_dict(old)
    _step(grads[3:], (opt_a, a), (opt_b, b))
    for p, q in zip(a, b, strict=True):
        np.testing.assert_allclose(q.data, p.data, rtol=1e-14, atol=1e-15)


def test_a_state_from_a_newer_version_is_refused():
    ps = _params()
    state = optim.SGD(ps, lr=0.1).state_dict()
    state["version"] = 99
    with pytest.raises(OptimizerError, match="state version 99 is newer"):
        optim.SGD(ps, lr=0.1).load_state_dict(state)


def test_bad_settings_are_rejected():
    ps = _params()
    with pytest.raises(ConfigError, match=r"SGD: lr must be >= 0.0, got -1.0"):
        optim.SGD(ps, lr=-1)
    with pytest.raises(ConfigError, match=r"Adam: beta1 must be in \[0.0, 1.0\), got 1.0"):
        optim.Adam(ps, betas=(1.0, 0.9))
    with pytest.raises(ConfigError, match=r"Adamax: eps must be >= 0.0, got nan"):
        optim.Adamax(ps, eps=float("nan"))
    with pytest.raises(ConfigError, match="SGD: Nesterov momentum needs momentum > 0 and dampening = 0"):
        optim.SGD(ps, lr=0.1, nesterov=True)
    with pytest.raises(OptimizerError, match="Adam: got an empty parameter list"):
        optim.Adam([])
    with pytest.raises(OptimizerError, match=r"RMSprop: parameter 1 \(.*\) is not a leaf Tensor"):
        optim.RMSprop([ps[0], ps[0] * 2.0])
    with pytest.raises(OptimizerError, match=r"SGD: parameters 0 and 2 are the same Tensor"):
        optim.SGD([ps[0], ps[1], ps[0]])
    with pytest.raises(ConfigError, match="make_optimizer: unknown optimizer 'lbfgs'"):
        optim.make_optimizer("lbfgs", ps, lr=0.1)


def test_load_state_dict_rejects_a_state_that_does_not_fit():
    ps = _params()
    opt = optim.Adam(ps)
    state = opt.state_dict()
    with pytest.raises(OptimizerError, match=rf"Adam.load_state_dict: the state has {len(ps)} parameters, the "
                                             r"optimizer has 1"):
        optim.Adam(ps[:1]).load_state_dict(state)
    for p in ps:
        p.grad = np.ones_like(p.data)
    opt.step()
    state = opt.state_dict()
    state["params"][0]["exp_avg"] = np.zeros(7)
    with pytest.raises(OptimizerError, match=r"Adam.load_state_dict: state 'exp_avg' of .* has shape \(7,\)"):
        optim.Adam(ps).load_state_dict(state)


def test_schedule_formulas():
    assert optim.ExponentialDecay(0.1, 0.5)(3) == pytest.approx(0.1 * math.exp(-1.5), abs=1e-15)
    assert optim.InverseTimeDecay(0.1, 0.5)(4) == pytest.approx(0.1 / 3.0, abs=1e-15)
    step = optim.StepDecay(1.0, step_size=3, gamma=0.5)
    assert [step(s) for s in range(7)] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    cyc = optim.CyclicalLR(0.1, 1.0, step_size=2)
    assert [round(cyc(s), 12) for s in range(5)] == [0.1, 0.55, 1.0, 0.55, 0.1]
    cos = optim.CosineWarmRestarts(1.0, t_0=2, t_mult=2)
    assert [round(cos(s), 12) for s in (0, 1, 2, 3, 4, 5, 6)] == [1.0, 0.5, 1.0, round(0.5 + 0.5 * math.cos(
        math.pi / 4), 12), 0.5, round(0.5 + 0.5 * math.cos(3 * math.pi / 4), 12), 1.0]
    with pytest.raises(ConfigError, match="make_schedule: unknown schedule 'warmup'"):
        optim.make_schedule("warmup", 0.1, 10)
    with pytest.raises(ConfigError, match=r"StepDecay: step_size must be >= 1, got 0"):
        optim.StepDecay(0.1, step_size=0)
    with pytest.raises(ConfigError, match=r"CyclicalLR: need base_lr <= max_lr, got base_lr=1.0, max_lr=0.1"):
        optim.CyclicalLR(1.0, 0.1, step_size=2)
    with pytest.raises(ConfigError, match=r"ExponentialDecay: k must be >= 0, got -1.0"):
        optim.ExponentialDecay(0.1, -1.0)


def test_schedules_match_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch parity needs torch (pip install torch==2.13.0)")
    p = torch.zeros(1, requires_grad=True)
    cases = [
        (optim.CosineWarmRestarts(0.1, t_0=3, t_mult=2, eta_min=0.01),
         lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01)),
        (optim.StepDecay(0.1, step_size=2, gamma=0.3), lambda o: torch.optim.lr_scheduler.StepLR(o, 2, 0.3)),
        (optim.ExponentialDecay(0.1, 0.2), lambda o: torch.optim.lr_scheduler.ExponentialLR(o, math.exp(-0.2))),
    ]
    for ours, make in cases:
        opt = torch.optim.SGD([p], lr=0.1)
        sched = make(opt)
        for s in range(15):
            assert ours(s) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12, abs=1e-15)
            opt.step()
            sched.step()


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "Adamax"])
def test_parameters_without_gradient_are_skipped_like_pytorch(name):
    """Steps where one parameter has no gradient take the per-parameter path; later steps go back to flat."""
    torch = pytest.importorskip("torch", reason="PyTorch parity needs torch (pip install torch==2.13.0)")
    kwargs = {"lr": 0.02, "weight_decay": 0.01, **({"momentum": 0.9} if name == "SGD" else {})}
    ours = _params()
    theirs = [torch.tensor(p.data.copy(), requires_grad=True) for p in ours]
    opt, ref = getattr(optim, name)(ours, **kwargs), getattr(torch.optim, name)(theirs, foreach=False, **kwargs)
    for step, grads in enumerate(_grads(7)):
        for i, (p, t, g) in enumerate(zip(ours, theirs, grads, strict=True)):
            missing = (step in (0, 3, 4) and i == 1)
            p.grad = None if missing else g
            t.grad = None if missing else torch.tensor(g)
        opt.step()
        ref.step()
        for p, t in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=0, atol=1e-12)
    # the state holds what PyTorch's holds, under the same keys (exp_avg is Adam's m, not a rescaled m)
    for st, t in zip(opt.state, theirs, strict=True):
        arrays = {k: v for k, v in st.items() if isinstance(v, np.ndarray)}
        assert bool(arrays) == (name != "SGD" or "momentum" in kwargs)  # plain SGD keeps none
        for key, value in arrays.items():
            np.testing.assert_allclose(value, ref.state[t][key].numpy(), rtol=1e-12, atol=1e-15, err_msg=key)
