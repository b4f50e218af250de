"""Training loop on synthetic data: learning, early stopping, NaN detection, checkpoints, resume, reproducibility."""

import io
import json

import numpy as np
import pytest

from autograd_viz import nn, optim
from autograd_viz.errors import AutogradVizError, ShapeError
from autograd_viz.train import (
    CheckpointError,
    History,
    Trainer,
    TrainingDiverged,
    accuracy,
    confusion_matrix,
    have_matplotlib,
    load_checkpoint,
    per_class_accuracy,
    plot_confusion_matrix,
    plot_learning_curves,
    save_checkpoint,
)


def blobs(n=600, seed=0, classes=3, dim=10):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, dim)) * 3
    y = rng.integers(0, classes, n)
    return (centers[y] + rng.standard_normal((n, dim))).astype(np.float32), y


def make(seed=0, dropout=0.0, batchnorm=False, lr=0.01):
    model = nn.mlp([10, 16, 3], seed=seed, dropout=dropout, batchnorm=batchnorm)
    return model, optim.Adam(model.parameters(), lr=lr)


def test_trainer_learns_and_records_history():
    x, y = blobs()
    model, opt = make()
    stream = io.StringIO()
    history = Trainer(model, opt, batch_size=32, stream=stream).fit(x[:500], y[:500], 5, x[500:], y[500:])
    assert len(history) == 5 and history.rows[-1]["val_accuracy"] > 0.95
    assert history.rows[-1]["train_loss"] < history.rows[0]["train_loss"]
    assert "epoch 5/5" in stream.getvalue() and "samples/s" in stream.getvalue()
    quiet = io.StringIO()
    Trainer(*make(), quiet=True, stream=quiet).fit(x, y, 1)
    assert quiet.getvalue() == ""


def test_same_seed_identical_weights_different_seed_not():
    x, y = blobs()
    runs = []
    for seed in (1, 1, 2):
        model, opt = make(seed, dropout=0.3)
        Trainer(model, opt, batch_size=50, seed=seed, quiet=True).fit(x, y, 2)
        runs.append(model.state_dict())
    assert all(np.array_equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not np.array_equal(runs[0]["fc1.weight"], runs[2]["fc1.weight"])


def test_early_stopping_restores_best_weights():
    x, y = blobs()
    noise = np.random.default_rng(9).integers(0, 3, 200)  # unlearnable validation labels: val loss rises
    model, opt = make(lr=0.05)
    trainer = Trainer(model, opt, batch_size=16, quiet=True)
    history = trainer.fit(x, y, 50, x[:200], noise, patience=2)
    assert history.stopped_early and len(history) < 50
    best = history.best_epoch
    assert len(history) == best + 2
    best_loss = history.rows[best - 1]["val_loss"]
    assert trainer.evaluate(x[:200], noise)["loss"] == pytest.approx(best_loss, rel=1e-5)
    with pytest.raises(AutogradVizError, match="validation data"):
        Trainer(*make(), quiet=True).fit(x, y, 2, patience=2)


def test_nan_detection_names_step_and_layer():
    x, y = blobs()
    model, opt = make()
    model.fc2.weight.data[0, 0] = np.nan
    with pytest.raises(TrainingDiverged) as info:
        Trainer(model, opt, quiet=True).fit(x, y, 1)
    message = str(info.value)
    assert "epoch 1, step 1" in message and "layer 'fc2'" in message and "fc2.weight" in message
    model, _ = make()
    with np.errstate(all="ignore"), pytest.raises(TrainingDiverged, match=r"loss is (nan|inf).*step \d+"):
        Trainer(model, optim.SGD(model.parameters(), lr=1e30), quiet=True).fit(x * 1e3, y, 3)  # diverges


def test_labels_that_do_not_fit_the_output_are_rejected():
    x, y = blobs()
    with pytest.raises(ShapeError, match=r"labels 0\.\.5 do not fit"):
        Trainer(*make(), quiet=True).fit(x, np.where(y == 2, 5, y), 1)


def test_checkpoint_round_trip(tmp_path):
    model, opt = make(batchnorm=True)
    x, y = blobs()
    Trainer(model, opt, quiet=True).fit(x, y, 1)
    path = save_checkpoint(tmp_path / "ck.npz", model, opt, meta={"note": "hi"})
    ck = load_checkpoint(path)
    assert ck.meta["note"] == "hi" and ck.meta["optimizer"]["class"] == "Adam"
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(ck.model_state[name], value)
    assert "bn1.running_mean" in ck.model_state
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(tmp_path / "bad.npz")
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.npz")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left behind


def test_resume_continues_exactly(tmp_path):
    x, y = blobs()
    straight, opt = make(dropout=0.2)
    Trainer(straight, opt, batch_size=40, seed=3, quiet=True).fit(x, y, 3)

    first, opt1 = make(dropout=0.2)
    Trainer(first, opt1, batch_size=40, seed=3, quiet=True, checkpoint_path=tmp_path / "ck.npz").fit(x, y, 2)
    resumed, opt2 = make(seed=99, dropout=0.2)  # different initial weights and RNGs: all replaced by the checkpoint
    trainer = Trainer(resumed, opt2, batch_size=40, seed=123, quiet=True)
    trainer.resume(tmp_path / "ck.npz")
    history = trainer.fit(x, y, 3)
    assert [r["epoch"] for r in history.rows] == [1, 2, 3]
    for name, value in straight.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[name], value)


def test_metrics_and_history_files(tmp_path):
    t = np.array([0, 0, 1, 2, 2, 2])
    p = np.array([0, 1, 1, 2, 0, 2])
    cm = confusion_matrix(t, p, 4)
    assert cm.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]
    assert per_class_accuracy(cm) == [0.5, 1.0, pytest.approx(2 / 3), None]
    assert accuracy(t, p) == pytest.approx(4 / 6)
    h = History([{"epoch": 1, "train_loss": 0.5, "val_loss": float("nan")}, {"epoch": 2, "train_loss": 0.25}])
    h.save(tmp_path / "h.csv", tmp_path / "h.json")
    assert (tmp_path / "h.csv").read_text().splitlines()[0] == "epoch,train_loss,val_loss"
    data = json.loads((tmp_path / "h.json").read_text())
    assert data["epochs"][0]["val_loss"] is None and data["epochs"][1]["train_loss"] == 0.25


@pytest.mark.skipif(not have_matplotlib(), reason="plots need matplotlib: pip install 'autograd-viz[plot]'")
def test_plots_are_pngs(tmp_path):
    h = History([{"epoch": e, "train_loss": 1 / e, "train_accuracy": e / 10, "val_loss": 1.2 / e,
                  "val_accuracy": e / 11} for e in (1, 2, 3)], best_epoch=3)
    plot_learning_curves(h, tmp_path / "curves.png")
    plot_confusion_matrix(np.array([[5, 1], [2, 7]]), tmp_path / "cm.png", ["a", "b"])
    for name in ("curves.png", "cm.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_regression_framing_with_custom_loss():
    """Note 002's framing: one sigmoid output, MSE against label/10, rounded back to a class."""
    x, y = blobs(n=400)
    model = nn.mlp([10, 21, 1], activation="sigmoid", output_activation="sigmoid", seed=0)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=0.02), lambda out, t: 0.5 * nn.mse_loss(out, t),
                      target_fn=lambda labels: (labels / 10.0).reshape(-1, 1), batch_size=32, quiet=True,
                      to_labels=lambda out: np.clip(np.rint(out[:, 0] * 10), 0, 9).astype(int))
    history = trainer.fit(x, y, 15)
    assert history.rows[-1]["train_accuracy"] > 0.8


def test_schedule_sets_the_learning_rate_each_epoch():
    x, y = blobs(n=200)
    model, opt = make()
    schedule = optim.StepDecay(0.02, step_size=2, gamma=0.5)
    history = Trainer(model, opt, batch_size=50, schedule=schedule, quiet=True).fit(x, y, 5)
    assert history.column("lr") == [0.02, 0.02, 0.01, 0.01, 0.005]
    assert opt.lr == 0.005
