"""The compiled training step (train/compiled.py) gives the engine's numbers, and falls back when it must."""

from __future__ import annotations

import io
import math
import os

import numpy as np
import pytest

from autograd_viz import graph, nn, optim
from autograd_viz.errors import ConfigError
from autograd_viz.tensor import Tensor
from autograd_viz.train import Trainer, compiled
from autograd_viz.train.compiled import SUPPORTED_OPS, CompiledStep, compile_step

NO_NUMBA = "numba is not installed: pip install numba (it is in the test extra) to test the fused Adam loop"


@pytest.fixture(params=["numpy", "fused"])
def adam_path(request, monkeypatch) -> str:
    """Run a test with Adam as NumPy passes, and again as the numba-fused loop (skipped without numba)."""
    if request.param == "numpy":
        monkeypatch.setattr(compiled, "_FUSED", False)
    else:
        pytest.importorskip("numba", reason=NO_NUMBA)
        monkeypatch.delenv("AUTOGRAD_VIZ_FUSED", raising=False)
        monkeypatch.setattr(compiled, "_FUSED", None)
    return request.param


def _data(n: int = 700, features: int = 20, classes: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, features), dtype=np.float32)
    y = (x[:, :classes].argmax(1) + (rng.random(n) < 0.2)) % classes  # learnable, with label noise
    return x, y.astype(np.intp)


def _trainer(compile: bool, activation: str = "relu", dtype: type = np.float32, sizes: tuple = (20, 16, 12, 5),
             optimizer: str = "adam", weight_decay: float = 0.0, **kw) -> Trainer:
    model = nn.mlp(list(sizes), activation=activation, seed=1, dtype=dtype, dropout=kw.pop("dropout", 0.0))
    opt = optim.make_optimizer(optimizer, model.parameters(), lr=1e-2, weight_decay=weight_decay)
    return Trainer(model, opt, batch_size=kw.pop("batch_size", 64), seed=3, quiet=True, compile=compile, **kw)


def _weights(trainer: Trainer) -> list[np.ndarray]:
    return [p.data.copy() for p in trainer.params]


@pytest.mark.parametrize("activation, kw", [
    ("relu", {}),
    ("relu", {"label_smoothing": 0.1}),
    ("tanh", {"weight_decay": 0.01}),
    ("sigmoid", {}),
    ("leaky_relu", {"batch_size": 100}),
])
def test_compiled_and_engine_give_the_same_weights_after_epochs(activation: str, kw: dict, adam_path: str) -> None:
    x, y = _data()  # 700 samples: the last batch is partial (700 % 64 = 60), so a second plan is compiled
    plain, fast = _trainer(False, activation, **dict(kw)), _trainer(True, activation, **dict(kw))
    h_plain, h_fast = plain.fit(x, y, 3), fast.fit(x, y, 3)
    assert fast.compiled is not None and fast.compile_note is None
    assert (fast.compiled.fused is not None) == (adam_path == "fused")
    assert sorted(fast.compiled.plans) == sorted({fast.batch_size, 700 % fast.batch_size} - {0})
    for a, b in zip(_weights(plain), _weights(fast), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)  # float32 rounding (in practice: bit for bit)
    assert not np.array_equal(_weights(fast)[0], _trainer(False, activation).params[0].data)  # it did train
    np.testing.assert_allclose(h_fast.column("train_loss"), h_plain.column("train_loss"), rtol=1e-5)
    assert h_fast.column("train_accuracy") == pytest.approx(h_plain.column("train_accuracy"), abs=2 / 700)
    # the optimizer's state (what checkpoints save) matches too, and the step counters
    sa, sb = plain.optimizer.state_dict(), fast.optimizer.state_dict()
    assert sa["step_count"] == sb["step_count"] == 3 * -(-700 // plain.batch_size)
    for pa, pb in zip(sa["params"], sb["params"], strict=True):
        assert pa["step"] == pb["step"]
        for key in ("exp_avg", "exp_avg_sq"):
            np.testing.assert_allclose(pb[key], pa[key], rtol=1e-5, atol=1e-9)


def test_float64_model_compiles_and_matches(adam_path: str) -> None:
    x, y = _data()
    plain, fast = _trainer(False, dtype=np.float64), _trainer(True, dtype=np.float64)
    plain.fit(x, y, 2)
    fast.fit(x, y, 2)
    assert fast.compiled is not None and fast.compiled.dtype == np.float64
    assert (fast.compiled.fused is not None) == (adam_path == "fused")
    for a, b in zip(_weights(plain), _weights(fast), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


def test_each_kernel_matches_the_engine_on_one_step() -> None:
    """Forward value and every parameter gradient of one compiled step against the engine's backward."""
    x, y = _data()
    trainer = _trainer(True, activation="tanh")
    step = trainer.compiled_step(x, y)
    assert isinstance(step, CompiledStep)
    plan = step.plans[64]
    idx = np.arange(64, 128)
    np.take(x, idx, axis=0, out=plan.xb)
    np.take(y, idx, out=plan.yb)
    for call in plan.calls:
        call()
    for p in trainer.params:
        p.grad = None
    out = trainer.model(x[idx])
    loss = trainer.loss(out, y[idx])
    loss.backward()
    assert float(plan.loss[0]) == pytest.approx(float(loss.data), rel=1e-6)
    np.testing.assert_allclose(plan.logits, out.data, rtol=1e-6, atol=1e-7)
    for p, g in zip(trainer.params, step.gviews, strict=True):
        np.testing.assert_allclose(g, p.grad, rtol=1e-5, atol=1e-8)


def test_parameters_become_views_of_one_flat_buffer_and_no_nodes_are_made_per_step() -> None:
    x, y = _data(n=2000)
    trainer = _trainer(True)
    trainer.fit(x, y, 1)
    step = trainer.compiled
    assert step is not None
    for p in trainer.params:
        assert np.shares_memory(p.data, step.flat)
    made = []
    for more in (1, 3):  # 32 and 96 more steps: what fit makes besides the steps (a label probe) is the same
        before = Tensor(0.0).index
        trainer.fit(x, y, trainer.epoch + more)
        made.append(Tensor(0.0).index - before - 1)
    assert made[0] == made[1] < 32, f"graph nodes made by 1 and 3 compiled epochs: {made}"


def test_load_state_dict_and_switching_back_keep_the_numbers() -> None:
    """Weights loaded in place, and an uncompiled epoch in between, are picked up by the next compiled epoch."""
    x, y = _data()
    plain, fast = _trainer(False), _trainer(True)
    plain.fit(x, y, 1)
    fast.fit(x, y, 1)
    fast.compile = plain.compile = False
    plain.fit(x, y, 2)
    fast.fit(x, y, 2)  # the optimizer's own flat Adam on state that lives in the compiled buffers
    fast.compile = True
    plain.fit(x, y, 3)
    fast.fit(x, y, 3)
    for a, b in zip(_weights(plain), _weights(fast), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    fresh = _trainer(False).model.state_dict()
    fast.model.load_state_dict(fresh)
    assert np.array_equal(fast.compiled.pviews[0], fresh["fc1.weight"])


def test_resume_from_a_checkpoint_written_by_a_compiled_trainer(tmp_path) -> None:
    x, y = _data()
    plain = _trainer(False)
    plain.fit(x, y, 2)
    fast = _trainer(True, checkpoint_path=tmp_path / "ck.npz")
    fast.fit(x, y, 1)
    again = _trainer(True)
    again.resume(tmp_path / "ck.npz")
    again.fit(x, y, 2)
    for a, b in zip(_weights(plain), _weights(again), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kw, reason", [
    ({"dropout": 0.3}, "Dropout"),
    ({"optimizer": "sgd"}, "only Adam"),
    ({"penalty": lambda params: (params[0] * params[0]).sum() * 1e-4}, "penalty"),
])
def test_what_does_not_compile_trains_normally_after_a_one_line_note(kw: dict, reason: str) -> None:
    x, y = _data()
    stream = io.StringIO()
    plain = _trainer(False, **dict(kw))
    fast = _trainer(True, **dict(kw))
    fast.quiet, fast.stream = False, stream
    plain.fit(x, y, 2)
    fast.fit(x, y, 2)
    assert fast.compiled is None
    notes = [line for line in stream.getvalue().splitlines() if line.startswith("note: compile")]
    assert len(notes) == 1 and reason in notes[0], stream.getvalue()
    for a, b in zip(_weights(plain), _weights(fast), strict=True):
        np.testing.assert_array_equal(b, a)


def test_a_graph_with_an_op_it_has_no_kernel_for_is_refused_by_name() -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(20, 5, rng=np.random.default_rng(0))

        def forward(self, x):
            return self.fc(x).exp().log()  # exp and log have no compiled kernels

    x, y = _data()
    model = Scaled()
    trainer = Trainer(model, optim.Adam(model.parameters()), quiet=True, compile=True)
    with pytest.raises(ConfigError, match="no kernel for op 'exp'"):
        compile_step(trainer, x, y)
    assert "exp" not in SUPPORTED_OPS and trainer.compiled_step(x, y) is None
    assert "no kernel for op 'exp'" in trainer.compile_note


def test_a_graph_that_changes_between_batches_is_refused() -> None:
    class Noisy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(20, 5, rng=np.random.default_rng(0))
            self.rng = np.random.default_rng(1)

        def forward(self, x):
            return self.fc(x) + Tensor(self.rng.random(5, dtype=np.float32), role="const")

    x, y = _data()
    model = Noisy()
    with pytest.raises(ConfigError, match="differs between two batches"):
        compile_step(Trainer(model, optim.Adam(model.parameters()), quiet=True), x, y)


def test_the_kernel_list_reads_like_backprop(adam_path: str) -> None:
    x, y = _data()
    trainer = _trainer(True)
    step = trainer.compiled_step(x, y)
    text = str(step)
    assert text == step.explain()
    lines = text.splitlines()
    assert lines[0].startswith("compiled step: batch 64") and "605 parameters" in lines[0]
    for expected in ("x ← gather(X, batch)  64×20", "matmul(x, fc1.weight)  64×16", "relu(", "cross_entropy(",
                     "(p − onehot(y)) / 64", "dfc1.weight ← xᵀ @ ", "dfc3.bias ← ", "⊙ [", "adam: v ← 0.999·v",
                     "m ← 0.9·m + 0.1·g", "t14 ← add(t13, fc3.bias)  64×5  (in place: t13's buffer)"):
        assert any(expected in line for line in lines), expected
    if adam_path == "fused":  # the bias add runs inside the ReLU's numba loop; the ReLU's gradient is one loop
        expected = ["t8 ← add(t7, fc1.bias)  64×16  (no kernel: computed inside the ReLU's loop, not stored)",
                    "t9 ← relu(t7 + fc1.bias)  64×16  (one numba loop)", "dt8 ← dt9 ⊙ [t9 > 0]  (one numba loop)",
                    "(one fused pass over the flat buffers"]
    else:
        expected = ["t8 ← add(t7, fc1.bias)  64×16  (in place: t7's buffer)", "t9 ← relu(t8)  64×16",
                    "dt8 ← dt9 ⊙ [t8 > 0]", "(12 NumPy passes over the flat buffers"]
    for line in expected:
        assert any(line in shown for shown in lines), line
    assert lines[0].startswith(f"compiled step: batch 64, {18 if adam_path == 'fused' else 20} kernel calls")
    assert [s for s in ("forward:", "loss:", "backward:", "update (flat, in place):") if s in lines] == \
        ["forward:", "loss:", "backward:", "update (flat, in place):"]
    # forward lines come in creation order: layer 1 before layer 3
    assert text.index("fc1.weight)") < text.index("fc3.weight)")


def test_no_graph_node_type_is_touched_beyond_the_stable_fields() -> None:
    """The compiler reads op.name, parents, attrs, data, requires_grad only (the engine may change the rest)."""
    import importlib
    import inspect
    import pkgutil

    from autograd_viz.train import compiled

    modules = [compiled] + [importlib.import_module(f"{compiled.__name__}.{m.name}")
                            for m in pkgutil.iter_modules(compiled.__path__)]
    assert len(modules) > 3  # the package's modules, not just its __init__
    for module in modules:
        source = inspect.getsource(module)
        for private in (".saved", ".backward(", "op.forward", "_fit_grad", "_accumulate"):
            assert private not in source, (module.__name__, private)
    assert graph.topological_order is compiled.topological_order


DATA = os.environ.get("AUTOGRAD_VIZ_DATA")


@pytest.mark.skipif(not DATA or not os.path.isdir(os.path.join(DATA or "", "mnist")),
                    reason="set AUTOGRAD_VIZ_DATA to the folder with mnist/ to run the CLI on real data")
def test_cli_compile_and_show_kernels() -> None:
    from click.testing import CliRunner

    from autograd_viz.cli import main

    args = ["train", "--dataset", "mnist-test-split", "--data-dir", DATA, "--limit", "1000", "--epochs", "1",
            "--json", "-q"]
    plain = CliRunner().invoke(main, args)
    fast = CliRunner().invoke(main, [*args, "--show-kernels"])
    assert plain.exit_code == 0 and fast.exit_code == 0, fast.output
    assert "dfc1.weight ← xᵀ @ " in fast.stderr and "adam:" in fast.stderr
    import json

    a, b = json.loads(plain.stdout), json.loads(fast.stdout)
    assert b["test_accuracy"] == pytest.approx(a["test_accuracy"], abs=1e-3)
    dropout = CliRunner().invoke(main, [*args, "--compile", "--dropout", "0.2"])
    assert dropout.exit_code == 0


def test_no_subnormal_state_after_gradients_become_exactly_zero(adam_path: str) -> None:
    """Inputs whose features go blank (MNIST's border pixels) leave Adam's moments decaying towards 0: the
    compiled step flushes them before they become float32 subnormals (slow NumPy), as the optimizer does."""
    x, y = _data(n=640)
    blank = x.copy()
    blank[:, :6] = 0.0  # from epoch 2 on, these six inputs are always 0: their weights get exactly zero gradient
    plain, fast = _trainer(False), _trainer(True)
    for trainer in (plain, fast):
        trainer.fit(x, y, 1)
        trainer.fit(blank, y, 80)  # 800 steps: 0.9^800 ≈ 1e-37, below float32's normal range without the flush
    m = fast.compiled.m
    tiny = np.finfo(np.float32).tiny
    assert np.count_nonzero(m) < m.size  # the blank inputs' moments were flushed to exactly zero
    assert np.all((m == 0) | (np.abs(m) >= tiny)) and np.all((fast.compiled.v == 0) | (fast.compiled.v >= tiny))
    for a, b in zip(_weights(plain), _weights(fast), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_the_fused_adam_loop_gives_the_bits_of_the_numpy_passes(dtype: type, wd: float) -> None:
    """One update over 10,000 parameters whose moments span many magnitudes (and exact zeros): the numba loop
    does per element what the NumPy passes do, so the parameters and both moments agree bit for bit."""
    pytest.importorskip("numba", reason=NO_NUMBA)
    kernel = compiled.fused_adam() if compiled._FUSED is not False else None
    if kernel is None:
        pytest.skip("the fused loop is switched off (AUTOGRAD_VIZ_FUSED=0)")
    rng = np.random.default_rng(0)
    n = 10_000
    p = rng.standard_normal(n).astype(dtype)
    g = (rng.standard_normal(n) * 10.0 ** rng.integers(-12, 1, n)).astype(dtype)
    m = (rng.standard_normal(n) * 10.0 ** rng.integers(-20, -1, n)).astype(dtype)
    v = (rng.random(n) * 10.0 ** rng.integers(-30, -2, n)).astype(dtype)
    g[:100] = m[:50] = v[:50] = 0.0
    b1, b2, eps, lr, t = 0.9, 0.999, 1e-8, 1e-3, 7
    c = math.sqrt(1.0 - b2**t)  # Python floats, as the step computes them (NumPy rounds them to the dtype)
    scale = lr * c / (1.0 - b1**t)
    ref = [a.copy() for a in (p, g, m, v)]
    before = p.copy()
    CompiledStep._numpy_adam(*ref, np.empty_like(p), wd, b1, b2, eps * c, scale)
    f = np.dtype(dtype).type
    kernel(p, g, m, v, f(wd), f(b1), f(1 - b1), f(b2), f(1 - b2), f(eps * c), f(scale))
    assert np.count_nonzero(p != before) > n // 2  # it did update
    for name, a, b in (("weights", p, ref[0]), ("m", m, ref[2]), ("v", v, ref[3])):
        assert np.array_equal(a, b), f"{name}: {np.count_nonzero(a != b)} of {n} differ"


def test_a_numpy_float64_learning_rate_takes_the_numpy_passes_with_float32_weights(adam_path: str) -> None:
    """NumPy computes float32 ⊙ np.float64 in float64: the fused loop (float32 constants) would not give the
    engine's bits then, so that step runs as NumPy passes."""
    x, y = _data()
    plain, fast = _trainer(False), _trainer(True)
    plain.optimizer.lr = fast.optimizer.lr = np.float64(0.01)
    plain.fit(x, y, 2)
    fast.fit(x, y, 2)
    for a, b in zip(_weights(plain), _weights(fast), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_without_numba_adam_runs_as_numpy_passes_and_says_so(monkeypatch) -> None:
    monkeypatch.setattr(compiled, "_FUSED", None)
    monkeypatch.setenv("AUTOGRAD_VIZ_FUSED", "0")  # what a machine without numba gets too
    assert compiled.fused_adam() is None
    x, y = _data()
    step = _trainer(True).compiled_step(x, y)
    assert step is not None and step.fused is None
    assert "12 NumPy passes over the flat buffers" in str(step)
    monkeypatch.setattr(compiled, "_FUSED", None)
    monkeypatch.delenv("AUTOGRAD_VIZ_FUSED")
    if compiled.fused_adam() is not None:
        step = _trainer(True).compiled_step(x, y)
        assert step is not None and step.fused is not None and "one fused pass" in str(step)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_relu_loops_give_numpys_bits_on_edge_values(dtype: type) -> None:
    """relu(a + bias) and g ⊙ [y > 0] as numba loops against NumPy's add + maximum and g * (y > 0), bit for bit
    (signed zeros included), with ±0, ±inf, NaN, subnormals and huge values in every role."""
    pytest.importorskip("numba", reason=NO_NUMBA)
    kernels = compiled._fused_kernels() if compiled._FUSED is not False else None
    if kernels is None:
        pytest.skip("the fused loops are switched off (AUTOGRAD_VIZ_FUSED=0)")
    info = np.finfo(dtype)
    edge = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, info.tiny / 4, -info.tiny / 4, info.max,
                     -info.max, 1e-30, -1e-30], dtype)
    rng = np.random.default_rng(0)
    a = rng.choice(edge, size=(40, edge.size)).astype(dtype)
    a[:edge.size] = np.repeat(edge[:, None], edge.size, axis=1)  # every value against every bias value
    bias = np.resize(edge, edge.size)[rng.permutation(edge.size)]
    g = rng.choice(edge, size=a.shape).astype(dtype)

    def same_bits(x: np.ndarray, y: np.ndarray) -> bool:
        nan = np.isnan(x)
        return bool(np.array_equal(nan, np.isnan(y)) and np.array_equal(x[~nan].tobytes(), y[~nan].tobytes()))

    with np.errstate(invalid="ignore", over="ignore"):
        out = np.empty_like(a)
        kernels["bias_relu"](a, bias, out)
        assert same_bits(out, np.maximum(a + bias, 0.0))
        grad = np.empty_like(a)
        kernels["relu_grad"](g, a, grad)
        assert same_bits(grad, g * (a > 0))
