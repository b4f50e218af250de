"""`train` / `evaluate` under faults and hostile files: read-only or impossible --out, SIGKILL during a
checkpoint write, two runs into one folder, tampered checkpoints and model files, allocation bombs, NaN.
Each is one clear line and a non-zero exit, no traceback, no hang, nothing left behind or clobbered."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hostile import CLI, assert_one_line_error, peak_rss_mb, readonly_prefix, run_cli

from autograd_viz.data import write_idx
from autograd_viz.errors import CheckpointError

SMALL = ["--dataset", "mnist", "--layers", "16", "--batch-size", "32", "-q"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Fake MNIST: 256 training and 64 test images (random pixels, labels 0..9) under data/mnist/."""
    root = tmp_path_factory.mktemp("data")
    folder = root / "mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 256), ("t10k", 64)):
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(write_idx(rng.integers(0, 256, (n, 28, 28), np.uint8)))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(write_idx(rng.integers(0, 10, n).astype(np.uint8)))
    return root


def _env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(tmp_path / "cache"), "AUTOGRAD_VIZ_MIRROR": "http://127.0.0.1:9/",
            "AUTOGRAD_VIZ_DATA": ""}


def train(data_dir: Path, tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_cli(["train", *SMALL, "--data-dir", str(data_dir), *args], timeout=timeout, env=_env(tmp_path))


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory) -> Path:
    """One real 2-epoch run's output folder (model.npz, checkpoint.npz, ...)."""
    out = tmp_path_factory.mktemp("run") / "out"
    done = train(data_dir, out.parent, "--epochs", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


# --- outputs that cannot be written ------------------------------------------------------------------------------
def test_read_only_out_fails_before_any_training(data_dir, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    prefix = readonly_prefix(ro)
    done = subprocess.run([*prefix, *CLI, "train", *SMALL, "--data-dir", str(data_dir), "--epochs", "1",
                           "--out", str(ro / "run")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **_env(tmp_path)})
    line = assert_one_line_error(done, "--out", str(ro / "run"))
    assert "read-only" in line or "permission" in line
    assert "epoch" not in done.stderr.replace(line, "")  # refused before the first epoch, not after it
    assert os.listdir(ro) == []


@pytest.mark.parametrize("command", ["train", "demo"])
def test_out_under_a_file_is_one_line(data_dir, tmp_path, command):
    blocker = tmp_path / "file"
    blocker.write_text("I am a file")
    args = ["train", *SMALL, "--data-dir", str(data_dir)] if command == "train" else ["demo", "--quick"]
    done = run_cli([*args, "--out", str(blocker / "out")], timeout=120, env=_env(tmp_path))
    assert_one_line_error(done, "--out", "is a file, not a folder")
    assert blocker.read_text() == "I am a file"


@pytest.mark.parametrize("args", [
    ["graph", "a*b", "--at", "a=1,b=2", "-o", "{ro}/g.dot"],
    ["check", "--builtin", "--report", "{ro}/report.md"],
    ["demo", "--quick", "--offline", "--out", "{ro}/demo"],
])
def test_outputs_into_a_read_only_folder_are_one_line_before_work(tmp_path, args):
    ro = tmp_path / "ro"
    ro.mkdir()
    prefix = readonly_prefix(ro)
    start = time.monotonic()
    done = subprocess.run([*prefix, *CLI, *[a.format(ro=ro) for a in args]], capture_output=True, text=True,
                          timeout=120)
    assert_one_line_error(done, str(ro))
    assert time.monotonic() - start < 30  # refused before the checks / drawings / training, not after
    assert done.stdout == ""
    assert os.listdir(ro) == []


# --- SIGKILL and concurrency --------------------------------------------------------------------------------------
KILLABLE = """
import sys, time
import numpy as np
real, calls = np.savez, []
def slow_savez(handle, **arrays):
    calls.append(1)
    if len(calls) == 2:  # the checkpoint after epoch 2: write a little, then hang until killed
        handle.write(b"PK" + bytes(4096)); handle.flush()
        print("WRITING", flush=True)
        time.sleep(120)
    return real(handle, **arrays)
np.savez = slow_savez
from autograd_viz.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_during_checkpoint_write_then_resume(data_dir, tmp_path):
    out = tmp_path / "out"
    args = ["train", *SMALL, "--data-dir", str(data_dir), "--epochs", "3", "--out", str(out)]
    child = subprocess.Popen([sys.executable, "-c", KILLABLE, *args], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, **_env(tmp_path)})
    try:
        assert child.stdout.readline().strip() == "WRITING"
        temps = list(out.glob(".checkpoint.npz.*.tmp"))
        assert len(temps) == 1 and temps[0].stat().st_size > 0
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert temps[0].exists()  # SIGKILL runs no cleanup: the next run must
    from autograd_viz.train import load_checkpoint

    assert load_checkpoint(out / "checkpoint.npz").meta["trainer"]["epoch"] == 1  # epoch 1's file is intact
    done = train(data_dir, tmp_path, "--epochs", "3", "--out", str(out), "--resume")
    assert done.returncode == 0, done.stderr
    assert not list(out.glob(".*.tmp")), os.listdir(out)
    assert load_checkpoint(out / "checkpoint.npz").meta["trainer"]["epoch"] == 3


def test_second_run_into_the_same_out_is_refused(data_dir, tmp_path):
    out = tmp_path / "out"
    first = subprocess.Popen([*CLI, "train", *SMALL, "--data-dir", str(data_dir), "--epochs", "100000",
                              "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **_env(tmp_path)})
    try:
        for _ in range(600):
            if (out / "checkpoint.npz").exists():
                break
            time.sleep(0.1)
        assert (out / "checkpoint.npz").exists(), "the first run never saved a checkpoint"
        before = (out / "checkpoint.npz").stat().st_mtime_ns
        start = time.monotonic()
        second = train(data_dir, tmp_path, "--epochs", "1", "--out", str(out))
        assert time.monotonic() - start < 60
        assert_one_line_error(second, "in use by another run", str(out))
        assert first.poll() is None  # the first run is untouched and still going
        assert (out / "checkpoint.npz").stat().st_mtime_ns >= before
    finally:
        first.kill()
        first.wait()


# --- tampered checkpoints -----------------------------------------------------------------------------------------
def _rewrite(src: Path, dst: Path, meta=None, drop=(), add=None, raw_meta: str | None = None) -> Path:
    """Copy checkpoint ``src`` to ``dst`` with its metadata replaced by ``meta(old)`` and arrays dropped/added."""
    with np.load(src, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    old = json.loads(str(arrays["meta"]))
    if meta is not None:
        arrays["meta"] = np.array(json.dumps(meta(old)))
    if raw_meta is not None:
        arrays["meta"] = np.array(raw_meta)
    for key in drop:
        arrays = {k: v for k, v in arrays.items() if not k.startswith(key)}
    arrays.update(add or {})
    with open(dst, "wb") as handle:
        np.savez(handle, **arrays)
    return dst


def _set(path: str, value):
    def change(meta):
        node = meta
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[key]
        if value is KeyError:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
        return meta
    return change


TAMPERED = {
    "meta is a list": dict(raw_meta="[1, 2, 3]"),
    "meta is not JSON": dict(raw_meta="{not json"),
    "epoch is a word": dict(meta=_set("trainer.epoch", "ten")),
    "epoch is 10**9": dict(meta=_set("trainer.epoch", 10**9)),
    "epoch is missing": dict(meta=_set("trainer.epoch", KeyError)),
    "garbage rng state": dict(meta=_set("trainer.rng", {"bit_generator": "PCG64", "state": "garbage"})),
    "rng is a number": dict(meta=_set("trainer.rng", 7)),
    "optimizer steps too short": dict(meta=_set("optimizer.steps", [1])),
    "optimizer lr is NaN-like": dict(meta=_set("optimizer.lr", "nan")),
    "optimizer state key dropped": dict(drop=("optim/0/exp_avg_sq",)),
    "history is not a mapping": dict(meta=_set("trainer.history", [1])),
    "config sizes are huge": dict(meta=_set("config.sizes", [784, 10**6, 10**6, 10])),
    "config activation unknown": dict(meta=_set("config.activation", "__import__('os')")),
    "object array (pickle)": dict(add={"extra/evil": np.array([{"a": 1}], dtype=object)}),
    "string array": dict(add={"model/fc1.weight": np.array(["x"] * 4)}),
    "weights of the wrong shape": dict(add={"model/fc1.weight": np.zeros((3, 3), np.float32)}),
    "best weights of the wrong shape": dict(add={"extra/best/fc1.weight": np.zeros((3, 3), np.float32)}),
    "history longer than epoch": dict(meta=_set("trainer.history.epochs", [{}] * 7)),
    "epoch is a bool": dict(meta=_set("trainer.epoch", True)),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_tampered_checkpoint_is_one_line_on_resume(trained, tmp_path, data_dir, case):
    out = tmp_path / "out"
    out.mkdir()
    spec = TAMPERED[case]
    try:
        _rewrite(trained / "checkpoint.npz", out / "checkpoint.npz", **spec)
    except ValueError:
        pytest.skip("NumPy refuses to write this case")  # object arrays need allow_pickle on save in some versions
    before = (out / "checkpoint.npz").read_bytes()
    done = train(data_dir, tmp_path, "--epochs", "3", "--out", str(out), "--resume")
    assert_one_line_error(done, "checkpoint")
    assert (out / "checkpoint.npz").read_bytes() == before  # not clobbered by the refused run
    assert not list(out.glob(".*.tmp"))


@pytest.mark.parametrize("case", ["meta is a list", "config sizes are huge", "config activation unknown",
                                  "string array", "object array (pickle)"])
def test_tampered_model_file_is_one_line_on_evaluate(trained, tmp_path, case):
    try:
        bad = _rewrite(trained / "model.npz", tmp_path / "model.npz", **TAMPERED[case])
    except (ValueError, KeyError):
        pytest.skip("not applicable to a final model file")
    done = run_cli(["evaluate", str(bad)], timeout=60, env=_env(tmp_path))
    assert_one_line_error(done)


def test_evaluate_of_an_empty_file_says_so(tmp_path):
    empty = tmp_path / "model.npz"
    empty.write_bytes(b"")
    done = run_cli(["evaluate", str(empty)], timeout=60)
    line = assert_one_line_error(done, "empty")
    assert "Aborted" not in done.stderr and line.startswith("error:")


@pytest.mark.parametrize("target", ["fifo", "/dev/zero", "dir-without-model"])
def test_evaluate_of_special_files_is_one_line(tmp_path, target):
    if target == "fifo":
        path = tmp_path / "model.npz"
        os.mkfifo(path)
    elif target == "dir-without-model":
        path = tmp_path
    else:
        path = Path(target)
    done = run_cli(["evaluate", str(path)], timeout=30)
    assert_one_line_error(done)


def _npy_header(shape: tuple[int, ...]) -> bytes:
    """The bytes of a version-1 .npy header for float64 data of ``shape`` (padded to 64 bytes, as NumPy writes it)."""
    text = repr({"descr": "<f8", "fortran_order": False, "shape": shape}).encode("latin1")
    text += b" " * (64 - (10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text


def _npz_with_member(path: Path, name: str, header_shape: tuple[int, ...], payload: bytes, meta: dict) -> Path:
    """An .npz whose ``name`` entry has an .npy header claiming ``header_shape`` but holds ``payload``."""
    npy = _npy_header(header_shape) + payload
    meta_npy = Path(path.parent / "meta.npy")
    np.save(meta_npy, np.array(json.dumps(meta)))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(meta_npy, "meta.npy")
        archive.writestr(name, npy)
    meta_npy.unlink()
    return path


def _load_checkpoint_in_child(path: Path) -> tuple[float, str]:
    """Peak RSS (MB) and output of a child process that loads ``path``, printing ``ERROR <message>`` if refused."""
    return peak_rss_mb(
        "from autograd_viz.train.checkpoint import load_checkpoint\nfrom autograd_viz.errors import CheckpointError\n"
        f"try:\n    load_checkpoint({str(path)!r})\nexcept CheckpointError as exc:\n    print('ERROR', exc)\n")


def test_npz_header_allocation_bomb_is_refused_before_allocating(tmp_path):
    meta = {"format": "autograd_viz.checkpoint/1"}
    bomb = _npz_with_member(tmp_path / "bomb.npz", "model/fc1.weight.npy", (100_000, 100_000), b"\0" * 64, meta)
    peak, out = _load_checkpoint_in_child(bomb)
    assert out.startswith("ERROR") and "refused before allocating" in out, out
    print(f"\nnpz header declaring 74.5 GiB: peak RSS {peak:.0f} MB")
    assert peak < 300


def test_npz_inflation_bomb_is_refused_by_the_config(tmp_path):
    """256 MiB of zeros in a 0.25 MB archive for a 784-16-10 model (12,730 parameters: 1.6 MB at most)."""
    meta = {"format": "autograd_viz.checkpoint/1", "config": {"sizes": [784, 16, 10]}}
    zeros = b"\0" * (64 << 20)
    path = tmp_path / "model.npz"
    np.save(tmp_path / "meta.npy", np.array(json.dumps(meta)))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(tmp_path / "meta.npy", "meta.npy")
        with archive.open("model/fc1.weight.npy", "w", force_zip64=True) as member:
            member.write(_npy_header((4 * len(zeros) // 8,)))
            for _ in range(4):
                member.write(zeros)
    peak, out = _load_checkpoint_in_child(path)
    assert out.startswith("ERROR") and "refused before inflating" in out, out
    print(f"\nnpz {path.stat().st_size / 2**20:.2f} MB inflating to 256 MiB: peak RSS {peak:.0f} MB")
    assert peak < 200


# --- resume, NaN, JSON, options -----------------------------------------------------------------------------------
def test_resume_with_a_different_lr_is_refused_naming_it(trained, tmp_path, data_dir):
    out = tmp_path / "out"
    out.mkdir()
    (out / "checkpoint.npz").write_bytes((trained / "checkpoint.npz").read_bytes())
    done = train(data_dir, tmp_path, "--epochs", "3", "--out", str(out), "--resume", "--lr", "0.01",
                 "--batch-size", "16")
    line = assert_one_line_error(done, "--lr 0.001 (asked: 0.01)", "--batch-size 32 (asked: 16)")
    assert "--epochs" in line  # says what may change
    ok = train(data_dir, tmp_path, "--epochs", "3", "--out", str(out), "--resume")
    assert ok.returncode == 0, ok.stderr


def test_divergence_stops_with_one_line_and_no_runtime_warning(data_dir, tmp_path):
    done = train(data_dir, tmp_path, "--optimizer", "sgd", "--lr", "10", "--weight-decay", "100", "--epochs", "3")
    assert_one_line_error(done, "training stopped", "not finite")  # w <- (1 - 1000) w blows up in a few steps
    assert "RuntimeWarning" not in done.stderr


def test_trainer_divergence_raises_no_numpy_warning():
    from autograd_viz import nn, optim
    from autograd_viz.train import Trainer, TrainingDiverged

    model = nn.mlp([4, 8, 3], seed=0)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=1.0), batch_size=4, quiet=True)
    x = np.full((8, 4), 3e38, np.float32)  # overflows in the first matmul
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any RuntimeWarning would fail the test
        with pytest.raises(TrainingDiverged, match="training stopped"):
            trainer.fit(x, np.arange(8) % 3, 1)


def test_evaluate_json_of_a_nan_model_is_strict_json(trained, tmp_path, data_dir):
    def nan_weights(meta):
        return meta

    with np.load(trained / "model.npz", allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["model/fc2.bias"] = np.full_like(arrays["model/fc2.bias"], np.nan)
    with open(tmp_path / "model.npz", "wb") as handle:
        np.savez(handle, **arrays)
    env = {**_env(tmp_path), "AUTOGRAD_VIZ_DATA": str(data_dir)}
    done = run_cli(["evaluate", str(tmp_path / "model.npz"), "--json"], timeout=60, env=env)
    assert done.returncode == 0, done.stderr

    def refuse(constant):
        raise AssertionError(f"{constant} is not JSON")

    data = json.loads(done.stdout, parse_constant=refuse)
    assert data["test_loss"] is None and data["non_finite"]["test_loss"] == "nan"


@pytest.mark.parametrize("args, where", [
    (["train", "--lr", "nan"], "--lr"),
    (["train", "--lr", "inf"], "--lr"),
    (["train", "--weight-decay", "inf"], "--weight-decay"),
    (["train", "--dropout", "nan"], "--dropout"),
    (["train", "--seed", "-1"], "--seed"),
    (["train", "--epochs", "1000000000"], "--epochs"),
    (["demo", "--timeout", "nan"], "--timeout"),
    (["demo", "--timeout", "inf"], "--timeout"),
    (["check", "--builtin", "--timeout", "nan"], "--timeout"),
    (["graph", "--mlp", "4,3", "--seed", "-5"], "--seed"),
])
def test_numeric_options_must_be_finite_and_in_range(args, where, tmp_path):
    done = run_cli(args, timeout=60, env=_env(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert where in done.stderr


def test_checkpoint_loader_refuses_a_directory_entry_name_it_does_not_know(tmp_path, trained):
    bad = _rewrite(trained / "model.npz", tmp_path / "m.npz", add={"../../evil": np.zeros(1)})
    with pytest.raises(CheckpointError, match="unexpected entry"):
        from autograd_viz.train import load_checkpoint

        load_checkpoint(bad)


def test_a_run_that_fails_early_leaves_no_out_folder(tmp_path):
    empty = tmp_path / "nodata"
    empty.mkdir()
    out = tmp_path / "new" / "run"
    done = train(empty, tmp_path, "--epochs", "1", "--out", str(out))
    assert_one_line_error(done, "missing")
    assert not out.exists() and not out.parent.exists()
