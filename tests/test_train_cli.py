"""`autograd-viz train` / `evaluate`: option validation (no data needed) and a short real-data run."""

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograd_viz.cli import main

DATA = os.environ.get("AUTOGRAD_VIZ_DATA")
needs_data = pytest.mark.skipif(not DATA or not Path(DATA, "fashion-mnist").is_dir(),
                                reason="set AUTOGRAD_VIZ_DATA to the folder with fashion-mnist/ and mnist/")


@pytest.mark.parametrize("args, where", [
    (["--lr", "-0.1"], "--lr"),
    (["--lr", "0"], "--lr"),
    (["--batch-size", "0"], "--batch-size"),
    (["--epochs", "0"], "--epochs"),
    (["--layers", "128,0"], "--layers"),
    (["--layers", "128,abc"], "--layers"),
    (["--layers", "100000,100000"], "--layers"),
    (["--dropout", "1"], "--dropout"),
    (["--weight-decay", "-1"], "--weight-decay"),
    (["--label-smoothing", "1.5"], "--label-smoothing"),
    (["--val-split", "1"], "--val-split"),
    (["--patience", "3"], "--val-split"),
    (["--dataset", "cifar"], "--dataset"),
    (["--optimizer", "lbfgs"], "--optimizer"),
    (["--frobnicate"], "--frobnicate"),
])
def test_bad_options_are_rejected_up_front(args, where, tmp_path):
    result = CliRunner().invoke(main, ["train", "--data-dir", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert where in result.output
    assert "Traceback" not in result.output


def test_evaluate_rejects_a_file_that_is_not_a_checkpoint(tmp_path):
    bad = tmp_path / "m.npz"
    bad.write_bytes(b"junk")
    result = CliRunner().invoke(main, ["evaluate", str(bad)])
    assert result.exit_code == 2 and "error: checkpoint" in result.output


def test_missing_data_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTOGRAD_VIZ_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    result = CliRunner().invoke(main, ["train", "--dataset", "mnist-test-split", "--data-dir", str(tmp_path),
                                       "--quiet"], env={"AUTOGRAD_VIZ_MIRROR": "http://127.0.0.1:9/"})
    assert result.exit_code == 2 and result.output.startswith("error:")


@needs_data
def test_short_real_training_run_then_evaluate(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "--dataset", "fashion-mnist", "--limit", "2000", "--epochs", "1",
                                       "--val-split", "0.1", "--out", str(out), "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["test_accuracy"] > 0.6  # chance is 0.1
    assert metrics["epochs"] == 1 and metrics["seconds_per_epoch"] > 0
    for name in ("model.npz", "checkpoint.npz", "history.csv", "history.json", "metrics.json"):
        assert (out / name).is_file()
    again = CliRunner().invoke(main, ["evaluate", str(out), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["test_accuracy"] == pytest.approx(metrics["test_accuracy"])
    big = CliRunner().invoke(main, ["train", "--dataset", "fashion-mnist", "--limit", "100", "--batch-size", "500",
                                    "--quiet"])
    assert big.exit_code == 2 and "--batch-size" in big.output
