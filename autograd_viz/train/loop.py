"""The training loop: mini-batches, validation, early stopping, NaN/inf detection, checkpoints and resume.

The inner loop does only what a step needs (index a batch, forward, backward, optimizer step, two counters),
so an epoch costs little more than the graph itself. One seed fixes the batch order.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Any, TextIO

import numpy as np

import autograd_viz.functional as F
from autograd_viz.errors import CheckpointError, ShapeError, TrainingConfigError, TrainingDiverged
from autograd_viz.graph import no_grad
from autograd_viz.nn.layers import BatchNorm1d, Dropout
from autograd_viz.nn.module import Module, Sequential
from autograd_viz.ops import OPS
from autograd_viz.optim.optimizers import Optimizer
from autograd_viz.optim.schedules import Schedule
from autograd_viz.tensor import Tensor, apply_unchecked
from autograd_viz.train.checkpoint import Checkpoint, load_checkpoint, restore, save_checkpoint
from autograd_viz.train.metrics import History
from autograd_viz.train.progress import ProgressBar
from autograd_viz.train.threads import blas_threads, have_threadpoolctl

_CROSS_ENTROPY = OPS["cross_entropy"]


def argmax_labels(outputs: np.ndarray) -> np.ndarray:
    """Class predictions from logits or probabilities (N, C)."""
    return outputs.argmax(axis=1)


class Trainer:
    """Trains ``model`` with ``optimizer`` on arrays; ``fit`` returns the :class:`History`.

    ``loss_fn(outputs, targets)`` defaults to softmax cross-entropy with ``label_smoothing``; ``target_fn``
    maps a batch of integer labels to the loss targets (e.g. ``label/10`` for regression) and ``to_labels``
    maps outputs back to class predictions for accuracy. ``penalty(params)`` is added to the loss (L1/L2).
    ``threads``: BLAS threads during ``fit`` ("auto": 1 when threadpoolctl is installed, since a second thread
    does not help at these sizes and can be very slow on a busy machine; None: leave the pools alone).
    ``compile``: replay each step as a fixed list of NumPy kernels (:mod:`autograd_viz.train.compiled`); a model,
    loss or optimizer it cannot compile trains the normal way after a one-line note.
    """

    def __init__(self, model: Module, optimizer: Optimizer, loss_fn: Callable[[Tensor, Any], Tensor] | None = None,
                 *, batch_size: int = 64, label_smoothing: float = 0.0, seed: int | None = 0,
                 schedule: Schedule | None = None, penalty: Callable[[list], Tensor] | None = None,
                 target_fn: Callable[[np.ndarray], Any] | None = None,
                 to_labels: Callable[[np.ndarray], np.ndarray] = argmax_labels, quiet: bool = False,
                 stream: TextIO | None = None, checkpoint_path: str | os.PathLike | None = None,
                 meta: dict[str, Any] | None = None, eval_batch_size: int = 2048,
                 threads: int | str | None = "auto", compile: bool = False) -> None:
        if int(batch_size) < 1:
            raise TrainingConfigError(f"Trainer: batch_size must be >= 1, got {batch_size}")
        self.model, self.optimizer = model, optimizer
        self.params = model.parameters()
        self.dtype = self.params[0].dtype if self.params else np.dtype(np.float32)
        self.batch_size, self.eval_batch_size = int(batch_size), int(eval_batch_size)
        self.label_smoothing = float(label_smoothing)
        self.loss_fn, self.target_fn, self.to_labels = loss_fn, target_fn, to_labels
        self.schedule, self.penalty = schedule, penalty
        self.rng = np.random.default_rng(seed)
        self.quiet, self.stream = quiet, stream
        if isinstance(threads, str) and threads != "auto":
            raise TrainingConfigError(f"Trainer: threads must be 'auto', None or a number >= 1, got {threads!r}")
        self.threads: int | None = (1 if have_threadpoolctl() else None) if threads == "auto" else (
            None if threads is None else int(threads))
        self.checkpoint_path = checkpoint_path
        self.meta = dict(meta or {})
        self.history = History()
        self.epoch = 0
        self.global_step = 0
        self._best_state: dict[str, np.ndarray] | None = None
        self._best_score = math.inf
        self._wait = 0
        self._has_batchnorm = any(isinstance(m, BatchNorm1d) for _, m in model.named_modules())
        self.compile, self.compiled, self.compile_note = bool(compile), None, None  # see train/compiled/

    # --- pieces -------------------------------------------------------------------------------------
    def loss(self, outputs: Tensor, labels: np.ndarray, *, labels_checked: bool = False) -> Tensor:
        """The training loss of a batch (plus the penalty, if any).

        ``labels_checked=True`` promises the labels are valid class indices for ``outputs`` (``fit`` checks
        them once), so the default cross-entropy skips its per-batch checks.
        """
        targets = self.target_fn(labels) if self.target_fn is not None else labels
        if self.loss_fn is not None:
            loss = self.loss_fn(outputs, targets)
        elif labels_checked:
            loss = apply_unchecked(_CROSS_ENTROPY, outputs, target=targets, label_smoothing=self.label_smoothing,
                                   reduction="mean")
        else:
            loss = F.cross_entropy(outputs, targets, label_smoothing=self.label_smoothing)
        if self.penalty is not None:
            loss = loss + self.penalty(self.params)
        return loss

    def _check_labels(self, x: np.ndarray, y: np.ndarray) -> None:
        """Once per fit: are the labels valid class indices for the model's output (so batches need no check)?"""
        if self.loss_fn is not None or self.target_fn is not None:
            return
        probe = self.predict(x[:2])
        if probe.ndim != 2 or y.min() < 0 or y.max() >= probe.shape[1]:
            raise ShapeError(f"fit: labels {y.min()}..{y.max()} do not fit the model's output shape {probe.shape}")

    def _arrays(self, x: Any, y: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
        x = np.ascontiguousarray(x, dtype=self.dtype)
        y = np.asarray(y)
        if x.ndim != 2 or y.ndim != 1 or len(x) != len(y) or len(x) == 0:
            raise ShapeError(f"{what}: expected x (N, features) and integer labels (N,), got {x.shape} and {y.shape}")
        if y.dtype.kind not in "iu":
            raise ShapeError(f"{what}: labels must be integers, got {y.dtype}")
        return x, y.astype(np.intp, copy=False)

    def predict(self, x: Any) -> np.ndarray:
        """Model outputs for ``x`` in evaluation mode, in batches, without building a graph."""
        x = np.ascontiguousarray(x, dtype=self.dtype)
        was_training = self.model.training
        self.model.eval()
        try:
            with no_grad():
                outs = [self.model(x[i:i + self.eval_batch_size]).data for i in range(0, len(x), self.eval_batch_size)]
        finally:
            self.model.train(was_training)
        return np.concatenate(outs)

    def evaluate(self, x: Any, y: Any) -> dict[str, float]:
        """``{"loss", "accuracy"}`` over a whole set (evaluation mode)."""
        x, y = self._arrays(x, y, "evaluate")
        outputs = self.predict(x)
        with no_grad():
            loss = float(self.loss(Tensor(outputs), y).data)
        return {"loss": loss, "accuracy": float(np.mean(self.to_labels(outputs) == y))}

    # --- the loop -------------------------------------------------------------------------------------
    def fit(self, x: Any, y: Any, epochs: int, x_val: Any = None, y_val: Any = None, patience: int | None = None,
            restore_best: bool = True, monitor: str = "val_loss", min_delta: float = 0.0) -> History:
        """Train until ``epochs`` epochs in total (a resumed trainer continues where it stopped).

        With validation data each epoch is evaluated; with ``patience`` training stops after that many
        epochs without improvement of ``monitor`` (val_loss or val_accuracy) and, with ``restore_best``,
        the best weights are put back.
        """
        # a diverging run overflows on its way to NaN: the loss check below stops it with one line, so NumPy's
        # RuntimeWarnings (overflow in exp, invalid value in subtract, ...) would only repeat it, four times over
        with blas_threads(self.threads), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._fit(x, y, epochs, x_val, y_val, patience, restore_best, monitor, min_delta)

    def _fit(self, x: Any, y: Any, epochs: int, x_val: Any, y_val: Any, patience: int | None, restore_best: bool,
             monitor: str, min_delta: float) -> History:
        x, y = self._arrays(x, y, "fit")
        validate = x_val is not None
        if validate:
            x_val, y_val = self._arrays(x_val, y_val, "fit (validation)")
        if patience is not None and (not validate or patience < 1):
            raise TrainingConfigError("fit: early stopping needs validation data and patience >= 1")
        if monitor not in ("val_loss", "val_accuracy"):
            raise TrainingConfigError(f"fit: monitor must be val_loss or val_accuracy, got {monitor!r}")
        self._check_labels(x, y)
        compiled = None
        if self.compile:  # x, y have passed _arrays and _check_labels above: what compiled_step would do again
            from autograd_viz.train.compiled import prepare

            compiled = prepare(self, x, y)
        n, bs = len(x), self.batch_size
        # BatchNorm cannot train on a batch of one sample: drop such a last batch.
        n_used = n - 1 if self._has_batchnorm and n % bs == 1 and n > 1 else n
        steps = -(-n_used // bs)
        bar = ProgressBar(epochs, steps, self.stream, self.quiet)
        model, opt, params, loss_of, to_labels = self.model, self.optimizer, self.params, self.loss, self.to_labels
        checked = self.loss_fn is None and self.target_fn is None
        while self.epoch < epochs and not self.history.stopped_early:
            self.epoch += 1
            epoch = self.epoch
            if self.schedule is not None:
                opt.lr = self.schedule(epoch - 1)
            model.train()
            order = self.rng.permutation(n)
            loss_sum, correct, seen = 0.0, 0, 0
            start_time = time.perf_counter()
            if compiled is not None:
                loss_sum, correct, seen = compiled.run_epoch(x, y, order[:n_used], bar, epoch, start_time)
            for step, start in enumerate(range(0, n_used, bs) if compiled is None else (), 1):
                idx = order[start:start + bs]
                xb, yb = x[idx], y[idx]
                for p in params:
                    p.grad = None
                out = model(xb)
                loss = loss_of(out, yb, labels_checked=checked)
                value = float(loss.data)
                if not math.isfinite(value):
                    self._diverged(xb, value, step)
                loss.backward()
                opt.step()
                self.global_step += 1
                k = len(idx)
                loss_sum += value * k
                correct += int(np.count_nonzero(to_labels(out.data) == yb))
                seen += k
                del out, loss  # free this step's graph before the next one is built (memory is reused)
                if bar.live:
                    elapsed = time.perf_counter() - start_time
                    bar.update(epoch, step, loss_sum / seen, correct / seen, seen / max(elapsed, 1e-9))
            seconds = time.perf_counter() - start_time
            row: dict[str, Any] = {"epoch": epoch, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
                                   "lr": opt.lr, "seconds": seconds, "samples_per_second": seen / seconds}
            extra = ""
            if validate:
                scores = self.evaluate(x_val, y_val)
                row.update(val_loss=scores["loss"], val_accuracy=scores["accuracy"])
                extra = f"  | val loss {scores['loss']:.4f}  val acc {100 * scores['accuracy']:.2f}%"
                self._track_best(row, monitor, min_delta, patience)
            self.history.append(row)
            bar.end_epoch(epoch, row["train_loss"], row["train_accuracy"], row["samples_per_second"], extra)
            if self.checkpoint_path is not None:
                self.save(self.checkpoint_path)
        if self.history.stopped_early:
            bar.message(f"early stopping after epoch {self.epoch}: no improvement of {monitor} for {patience} "
                        f"epochs (best epoch {self.history.best_epoch})")
        if restore_best and self._best_state is not None and self.history.best_epoch != self.epoch:
            model.load_state_dict(self._best_state)
        return self.history

    def compiled_step(self, x: Any, y: Any) -> Any:
        """The compiled step for training on ``x``, ``y`` (built once), or None when it does not compile."""
        from autograd_viz.train.compiled import prepare

        x, y = self._arrays(x, y, "compile")
        self._check_labels(x, y)
        return prepare(self, x, y)

    def _track_best(self, row: dict[str, Any], monitor: str, min_delta: float, patience: int | None) -> None:
        score = row[monitor] if monitor == "val_loss" else -row[monitor]
        if score < self._best_score - min_delta:
            self._best_score, self._wait = score, 0
            self.history.best_epoch = row["epoch"]
            self._best_state = self.model.state_dict()
        else:
            self._wait += 1
            if patience is not None and self._wait >= patience:
                self.history.stopped_early = True

    def _diverged(self, xb: np.ndarray, value: float, step: int) -> None:
        """Raise :class:`TrainingDiverged` naming the epoch, step, first non-finite layer and parameters."""
        parts = [f"training stopped: the loss is {value} at epoch {self.epoch}, step {step} "
                 f"(global step {self.global_step + 1})"]
        bad = [name for name, p in self.model.named_parameters() if not np.isfinite(p.data).all()]
        if isinstance(self.model, Sequential):
            buffers = {k: v.copy() for k, v in self.model.named_buffers()}
            h: Any = xb
            culprit = None
            with no_grad():
                for name, layer in self.model._modules.items():
                    h = layer(h)
                    if not np.isfinite(h.data).all():
                        culprit = f"layer {name!r} ({type(layer).__name__}) is the first whose output is not finite"
                        break
            self.model.load_state_dict(buffers, strict=False)
            parts.append(culprit or "every layer output is finite, so the loss itself overflowed")
        if bad:
            parts.append("non-finite parameters: " + ", ".join(bad))
        raise TrainingDiverged("; ".join(parts) + " (try a lower learning rate)")

    # --- checkpoints --------------------------------------------------------------------------------
    def _dropout_rngs(self) -> dict[str, np.random.Generator]:
        return {path: m.rng for path, m in self.model.named_modules() if isinstance(m, Dropout)}

    def save(self, path: str | os.PathLike) -> None:
        """Checkpoint everything needed to resume exactly: weights, optimizer, RNG states, history."""
        trainer = {"epoch": self.epoch, "global_step": self.global_step, "history": self.history.to_dict(),
                   "rng": self.rng.bit_generator.state,
                   "dropout_rngs": {k: g.bit_generator.state for k, g in self._dropout_rngs().items()},
                   "best_score": self._best_score if math.isfinite(self._best_score) else None, "wait": self._wait}
        extra = {f"best/{k}": v for k, v in (self._best_state or {}).items()}
        save_checkpoint(path, self.model, self.optimizer, {**self.meta, "trainer": trainer}, extra)

    def resume(self, checkpoint: str | os.PathLike | Checkpoint) -> None:
        """Load a checkpoint written by :meth:`save`; the next ``fit`` continues from its epoch."""
        ck = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
        if "trainer" not in ck.meta:
            raise CheckpointError("resume: the checkpoint has no trainer state (it is a final model file)")
        restore(ck, self.model, self.optimizer)
        state = ck.meta["trainer"]
        self.epoch, self.global_step = int(state["epoch"]), int(state["global_step"])
        self.history = History.from_dict(state["history"])
        self.rng.bit_generator.state = state["rng"]
        for path, gen in self._dropout_rngs().items():
            if path in state["dropout_rngs"]:
                gen.bit_generator.state = state["dropout_rngs"][path]
        self._best_score = math.inf if state["best_score"] is None else float(state["best_score"])
        self._wait = int(state["wait"])
        best = {k[5:]: v for k, v in ck.extra.items() if k.startswith("best/")}
        if best:  # checked now, not when early stopping puts them back at the end of a long run
            current = self.model.state_dict()
            wrong = [k for k, v in best.items() if k not in current or v.shape != current[k].shape]
            if wrong or set(best) != set(current):
                raise CheckpointError(f"resume: the checkpoint's best weights do not fit the model "
                                      f"({(wrong or sorted(set(current) - set(best)))[0]!r})")
        self._best_state = best or None
