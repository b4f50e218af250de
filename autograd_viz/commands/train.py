"""`autograd-viz train` and `autograd-viz evaluate`: an MLP on MNIST / Fashion-MNIST from the command line."""

from __future__ import annotations

import importlib
import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np

from autograd_viz.commands.options import SEED, LazyChoice, finite
from autograd_viz.errors import CheckpointError, TrainingConfigError
from autograd_viz.io import check_writable_dir, dumps_json, folder_lock, remove_stale_temps
from autograd_viz.train.checkpoint import MAX_EPOCHS, MAX_PARAMETERS, parameter_count, validate_config

DATASETS = ("mnist", "fashion-mnist", "mnist-test-split")
#: what ``--out`` gets; stale temp files of these names (a killed run's) are removed when the next run starts
OUTPUT_FILES = ("model.npz", "checkpoint.npz", "history.csv", "history.json", "metrics.json", "learning_curves.png",
                "confusion_matrix.png")
#: options a resumed run may change; every other one must match the checkpoint's
RESUMABLE = ("epochs", "patience", "out", "json", "quiet", "threads", "resume", "data-dir")


def _names(module: str, attribute: str) -> Callable[[], tuple[str, ...]]:
    """The names a library module accepts (its own list, the one place they are written), loaded when needed."""
    return lambda: tuple(getattr(importlib.import_module(module), attribute))


_LISTS = {"ACTIVATIONS": ("autograd_viz.nn.layers", "ACTIVATIONS"),
          "OPTIMIZERS": ("autograd_viz.optim.optimizers", "OPTIMIZERS"),
          "INITS": ("autograd_viz.nn.init", "SCHEMES"),
          "SCHEDULES": ("autograd_viz.optim.schedules", "SCHEDULES")}


def __getattr__(name: str) -> tuple[str, ...]:
    """``ACTIVATIONS``, ``OPTIMIZERS``, ``INITS``, ``SCHEDULES``: taken from the modules that define them."""
    if name in _LISTS:
        return _names(*_LISTS[name])()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_dataset(name: str, data_dir: str | None, quiet: bool) -> Any:
    """The Dataset by CLI name (mnist-test-split: MNIST t10k split 8,000 train / 2,000 test)."""
    from autograd_viz import data

    loaders = {"mnist": data.load_mnist, "fashion-mnist": data.load_fashion_mnist,
               "mnist-test-split": data.load_mnist_test_split}
    if name not in loaders:
        raise TrainingConfigError(f"unknown data set {name!r} (expected one of {', '.join(DATASETS)})")
    return loaders[name](data_dir, progress=not quiet)


def parse_layers(text: str) -> list[int]:
    """"128,64" -> [128, 64]; every size a positive integer."""
    sizes = []
    for i, part in enumerate(text.split(",")):
        part = part.strip()
        if not part and text.strip() == "":
            return []
        try:
            size = int(part)
        except ValueError:
            raise click.BadParameter(f"item {i + 1} ({part!r}) is not an integer", param_hint="--layers") from None
        if size < 1:
            raise click.BadParameter(f"item {i + 1} is {size}; layer sizes must be >= 1", param_hint="--layers")
        sizes.append(size)
    return sizes


@click.command("train")
@click.option("--dataset", type=click.Choice(DATASETS), default="mnist", show_default=True,
              help="mnist-test-split: MNIST's 10,000 test images split 8,000 train / 2,000 test.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Folder with the IDX files.")
@click.option("--layers", default="128,64", show_default=True, help="Hidden layer sizes, comma-separated.")
@click.option("--activation", type=LazyChoice(_names(*_LISTS["ACTIVATIONS"])), default="relu", show_default=True)
@click.option("--optimizer", type=LazyChoice(_names(*_LISTS["OPTIMIZERS"])), default="adam", show_default=True)
@click.option("--lr", type=finite(0, 10, min_open=True), default=1e-3, show_default=True)
@click.option("--epochs", type=click.IntRange(1, MAX_EPOCHS), default=10, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--init", "init_scheme", type=LazyChoice(_names(*_LISTS["INITS"])), default="he", show_default=True)
@click.option("--dropout", type=finite(0, 1, max_open=True), default=0.0, show_default=True)
@click.option("--batchnorm", is_flag=True, help="BatchNorm1d after each hidden linear layer.")
@click.option("--weight-decay", type=finite(0, 1e3), default=0.0, show_default=True)
@click.option("--label-smoothing", type=finite(0, 1), default=0.0, show_default=True)
@click.option("--val-split", type=finite(0, 1, max_open=True), default=0.0, show_default=True,
              help="Fraction of the training set held out for validation each epoch.")
@click.option("--patience", type=click.IntRange(1, MAX_EPOCHS), default=None,
              help="Early stopping: epochs without val-loss improvement (needs --val-split); restores the best.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--dtype", type=click.Choice(("float32", "float64")), default="float32", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Use only the first N training images.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for model.npz, checkpoint.npz, history.csv/json, metrics.json and PNG plots.")
@click.option("--json", "as_json", is_flag=True, help="Print the final metrics as JSON on stdout.")
@click.option("--schedule", type=LazyChoice(_names(*_LISTS["SCHEDULES"])), default="constant", show_default=True,
              help="Learning-rate schedule over the epochs.")
@click.option("--downsample", is_flag=True, help="Train on 14x14 images (every second pixel, as in note 000).")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.npz (same options; only --epochs, "
              "--patience and the output options may change).")
@click.option("--threads", type=click.IntRange(1, 1024), default=None,
              help="BLAS threads (needs threadpoolctl; default 1 when it is installed, else the library default).")
@click.option("--compile", "compile_step", is_flag=True,
              help="Replay each step as a fixed list of NumPy kernels (same numbers, faster); models it cannot "
                   "compile train normally after a one-line note.")
@click.option("--show-kernels", is_flag=True,
              help="Print the compiled step's kernel list on stderr (implies --compile).")
@click.option("--quiet", "-q", is_flag=True, help="No progress output on stderr.")
def train_command(dataset: str, data_dir: str | None, layers: str, activation: str, optimizer: str, lr: float,
                  epochs: int, batch_size: int, init_scheme: str, dropout: float, batchnorm: bool,
                  weight_decay: float, label_smoothing: float, val_split: float, patience: int | None, seed: int,
                  dtype: str, limit: int | None, out: str | None, as_json: bool, schedule: str, downsample: bool,
                  resume: bool, threads: int | None, quiet: bool, compile_step: bool = False,
                  show_kernels: bool = False) -> None:
    """Train an MLP (softmax cross-entropy) and report test accuracy."""
    from autograd_viz.train.threads import blas_threads, have_threadpoolctl

    if threads is None and have_threadpoolctl():
        threads = 1
    with blas_threads(threads):
        _train(dataset, data_dir, layers, activation, optimizer, lr, epochs, batch_size, init_scheme, dropout,
               batchnorm, weight_decay, label_smoothing, val_split, patience, seed, dtype, limit, out, as_json,
               schedule, downsample, resume, quiet, compile_step=compile_step or show_kernels,
               show_kernels=show_kernels)


def _train(dataset: str, data_dir: str | None, layers: str, activation: str, optimizer: str, lr: float,
           epochs: int, batch_size: int, init_scheme: str, dropout: float, batchnorm: bool, weight_decay: float,
           label_smoothing: float, val_split: float, patience: int | None, seed: int, dtype: str, limit: int | None,
           out: str | None, as_json: bool, schedule: str, downsample: bool, resume: bool, quiet: bool,
           compile_step: bool = False, show_kernels: bool = False) -> None:
    hidden = parse_layers(layers)
    features = 196 if downsample else 784
    sizes = [features, *hidden, 10]
    if parameter_count(sizes, batchnorm) > MAX_PARAMETERS:
        raise click.BadParameter(f"{sizes} has {parameter_count(sizes, batchnorm):,} parameters, more than the "
                                 f"{MAX_PARAMETERS:,} this trainer accepts", param_hint="--layers")
    if patience is not None and val_split == 0:
        raise click.UsageError("--patience needs a validation set: pass --val-split F (e.g. 0.1)")
    if resume and out is None:
        raise click.UsageError("--resume needs --out DIR (it continues from DIR/checkpoint.npz)")
    config = {"sizes": sizes, "activation": activation, "dropout": dropout, "batchnorm": batchnorm, "dtype": dtype,
              "init": init_scheme, "dataset": dataset, "downsample": downsample, "seed": seed,
              "optimizer": optimizer, "lr": lr, "batch_size": batch_size, "weight_decay": weight_decay,
              "label_smoothing": label_smoothing, "val_split": val_split, "limit": limit, "schedule": schedule}
    if out is None:
        _run(config, data_dir, epochs, patience, None, as_json, resume, quiet, compile_step, show_kernels)
        return
    out_dir = Path(out)
    check_writable_dir(out_dir, "--out")  # a read-only or impossible --out fails now, not after the first epoch
    with folder_lock(out_dir, "--out"):  # a second run into the same folder is refused, not interleaved
        remove_stale_temps(out_dir, OUTPUT_FILES, every=True)  # what a killed run (SIGKILL) left half-written
        _run(config, data_dir, epochs, patience, out_dir, as_json, resume, quiet, compile_step, show_kernels)


def _resume_mismatch(saved: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """``--lr 0.001 (asked: 0.01)`` for each option whose value differs from the checkpoint's configuration."""
    names = {"sizes": "layers", "init": "init", "batchnorm": "batchnorm", "downsample": "downsample"}

    def shown(key: str, value: Any) -> str:
        if key == "sizes" and isinstance(value, list):
            return ",".join(map(str, value[1:-1]))
        return str(value)

    return [f"--{names.get(key, key.replace('_', '-'))} {shown(key, saved.get(key))} (asked: {shown(key, value)})"
            for key, value in config.items() if key in saved and saved[key] != value]


def _run(config: dict[str, Any], data_dir: str | None, epochs: int, patience: int | None, out_dir: Path | None,
         as_json: bool, resume: bool, quiet: bool, compile_step: bool = False, show_kernels: bool = False) -> None:
    from autograd_viz import nn, optim
    from autograd_viz.train import Trainer, load_checkpoint

    checkpoint = None
    if resume:
        assert out_dir is not None
        checkpoint = load_checkpoint(out_dir / "checkpoint.npz")
        if "trainer" not in checkpoint.meta:
            raise CheckpointError(f"--resume: {out_dir / 'checkpoint.npz'} has no trainer state (a final model?)")
        saved = validate_config(checkpoint.meta.get("config"), f"checkpoint {out_dir / 'checkpoint.npz'}")
        different = _resume_mismatch(saved, config)
        if different:
            raise TrainingConfigError(
                f"--resume: {out_dir / 'checkpoint.npz'} was trained with other options: {'; '.join(different)}. "
                f"Rerun with the checkpoint's values (only {', '.join('--' + o for o in RESUMABLE[:2])} and the "
                "output options may change), or start afresh without --resume")
    ds = load_dataset(config["dataset"], data_dir, quiet)
    x, y, x_test, y_test = ds.arrays(np.dtype(config["dtype"]), config["downsample"])
    limit, val_split, seed, lr = config["limit"], config["val_split"], config["seed"], config["lr"]
    if limit is not None:
        x, y = x[:limit], y[:limit]
    x_val = y_val = None
    if val_split > 0:
        from autograd_viz.data import train_val_split

        n_val = int(round(val_split * len(x)))
        if not 0 < n_val < len(x):
            raise click.BadParameter(f"{val_split} of {len(x)} samples leaves no validation or no training data",
                                     param_hint="--val-split")
        x, y, x_val, y_val = train_val_split(x, y, val_split, seed=seed)
    if config["batch_size"] > len(x):
        raise click.BadParameter(f"{config['batch_size']} is larger than the {len(x)} training samples",
                                 param_hint="--batch-size")

    model = nn.mlp(config["sizes"], activation=config["activation"], init=config["init"], dropout=config["dropout"],
                   batchnorm=config["batchnorm"], dtype=np.dtype(config["dtype"]), seed=seed)
    opt = optim.make_optimizer(config["optimizer"], model.parameters(), lr=lr, weight_decay=config["weight_decay"])
    schedule = config["schedule"]
    trainer = Trainer(model, opt, batch_size=config["batch_size"], label_smoothing=config["label_smoothing"],
                      seed=seed, schedule=optim.make_schedule(schedule, lr, epochs) if schedule != "constant" else None,
                      quiet=quiet, checkpoint_path=out_dir / "checkpoint.npz" if out_dir else None,
                      meta={"config": config, "classes": list(ds.classes)}, compile=compile_step)
    if checkpoint is not None:
        trainer.resume(checkpoint)
    if not quiet and not as_json:
        click.echo(f"{ds.name}: {len(x):,} training images" + (f", {len(x_val):,} validation" if x_val is not None
                                                                else ""), err=True)
        click.echo(nn.summary(model), err=True)
    if show_kernels:  # the compiled step's kernel list (our readable "jaxpr"), or why it does not compile
        step = trainer.compiled_step(x, y)
        if step is not None or quiet:  # (without --quiet the trainer has printed the fallback note itself)
            click.echo(str(step) if step is not None else trainer.compile_note, err=True)
    history = trainer.fit(x, y, epochs, x_val, y_val, patience=patience)
    metrics = _test_metrics(trainer, ds, x_test, y_test)
    metrics.update(epochs=len(history), best_epoch=history.best_epoch, stopped_early=history.stopped_early,
                   seconds_per_epoch=statistics.mean(history.column("seconds")),
                   samples_per_second=statistics.mean(history.column("samples_per_second")),
                   train_accuracy=history.rows[-1]["train_accuracy"], parameters=model.num_parameters())
    if x_val is not None:
        metrics["val_accuracy"] = history.rows[-1]["val_accuracy"]
    if out_dir is not None:
        _write_outputs(out_dir, trainer, metrics, ds.classes, quiet or as_json)
        metrics["out"] = str(out_dir)
    _report(metrics, as_json)


def _test_metrics(trainer: Any, ds: Any, x_test: np.ndarray, y_test: np.ndarray) -> dict[str, Any]:
    from autograd_viz.train import confusion_matrix, per_class_accuracy

    scores = trainer.evaluate(x_test, y_test)
    cm = confusion_matrix(y_test, trainer.to_labels(trainer.predict(x_test)), 10)
    return {"dataset": ds.name, "test_accuracy": scores["accuracy"], "test_loss": scores["loss"],
            "test_samples": int(len(y_test)), "classes": list(ds.classes),
            "per_class_accuracy": per_class_accuracy(cm), "confusion_matrix": cm.tolist()}


def _write_outputs(out_dir: Path, trainer: Any, metrics: dict[str, Any], classes: Any, quiet: bool) -> None:
    from autograd_viz.io import atomic_write_text
    from autograd_viz.train import have_matplotlib, plot_confusion_matrix, plot_learning_curves, save_checkpoint

    save_checkpoint(out_dir / "model.npz", trainer.model, meta={**trainer.meta, "metrics": json.loads(
        dumps_json(metrics))})
    trainer.history.save(out_dir / "history.csv", out_dir / "history.json")
    atomic_write_text(out_dir / "metrics.json", dumps_json(metrics, indent=2) + "\n")
    metrics["plots"] = have_matplotlib()
    if metrics["plots"]:
        plot_learning_curves(trainer.history, out_dir / "learning_curves.png", title=metrics["dataset"])
        plot_confusion_matrix(np.array(metrics["confusion_matrix"]), out_dir / "confusion_matrix.png", classes,
                              title=f"{metrics['dataset']}: test accuracy {100 * metrics['test_accuracy']:.2f}%")
    elif not quiet:
        click.echo("note: PNG plots skipped: matplotlib is missing (pip install 'autograd-viz[plot]')", err=True)


def _report(metrics: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(dumps_json(metrics, indent=2))  # a NaN loss is null plus "non_finite", never bare NaN
        return
    loss = metrics.get("test_loss")
    if isinstance(loss, float) and not np.isfinite(loss):
        click.echo(f"warning: the test loss is {loss} (the model outputs non-finite values)", err=True)
    click.echo(f"test accuracy {100 * metrics['test_accuracy']:.2f}% on {metrics['test_samples']:,} images "
               f"({metrics['dataset']})")
    if "epochs" in metrics:
        n = metrics["epochs"]
        click.echo(f"{n} epoch{'s' if n != 1 else ''}, {metrics['seconds_per_epoch']:.2f} s per epoch")
    width = max(len(name) for name in metrics["classes"])
    for name, acc in zip(metrics["classes"], metrics["per_class_accuracy"], strict=True):
        click.echo(f"  {name:>{width}}: " + ("no samples" if acc is None else f"{100 * acc:.1f}%"))
    if "out" in metrics:
        pngs = ", learning_curves.png, confusion_matrix.png" if metrics.get("plots") else ""
        click.echo(f"wrote {metrics['out']}/: model.npz, checkpoint.npz, history.csv, history.json, metrics.json{pngs}")


@click.command("evaluate")
@click.argument("model_path", metavar="DIR_OR_NPZ", type=click.Path(exists=True))
@click.option("--dataset", type=click.Choice(DATASETS), default=None, help="Default: the one it was trained on.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON on stdout.")
def evaluate_command(model_path: str, dataset: str | None, data_dir: str | None, as_json: bool) -> None:
    """Test accuracy, per-class accuracy and confusion matrix of a trained model (model.npz)."""
    from autograd_viz.train.threads import blas_threads, have_threadpoolctl

    with blas_threads(1 if have_threadpoolctl() else None):
        _evaluate(model_path, dataset, data_dir, as_json)


def _evaluate(model_path: str, dataset: str | None, data_dir: str | None, as_json: bool) -> None:
    from autograd_viz import nn, optim
    from autograd_viz.train import Trainer, load_checkpoint, restore

    ck = load_checkpoint(model_path)
    if "config" not in ck.meta:
        raise CheckpointError(f"evaluate: {model_path} has no model configuration (not written by `train`)")
    config = validate_config(ck.meta["config"], f"evaluate: {model_path}")  # before allocating anything
    name = dataset or config.get("dataset")
    if name not in DATASETS:
        raise CheckpointError(f"evaluate: {model_path} names data set {name!r}; pass --dataset "
                              f"({', '.join(DATASETS)})")
    model = nn.mlp(config["sizes"], activation=config.get("activation", "relu"), dropout=config.get("dropout", 0.0),
                   batchnorm=config.get("batchnorm", False), dtype=np.dtype(config.get("dtype", "float32")),
                   init="zeros")
    restore(ck, model)
    ds = load_dataset(name, data_dir, quiet=as_json)
    _, _, x_test, y_test = ds.arrays(np.dtype(config.get("dtype", "float32")), config.get("downsample", False))
    if x_test.shape[1] != config["sizes"][0]:
        raise CheckpointError(f"evaluate: the model takes {config['sizes'][0]} inputs, the images have "
                              f"{x_test.shape[1]} (config.downsample does not fit config.sizes)")
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=1.0), quiet=True)
    _report(_test_metrics(trainer, ds, x_test, y_test), as_json)
