"""The compiled step itself: flat parameter and optimizer buffers, recording the graph, running an epoch of plans,
and the readable kernel list (``str(step)``); the plan building and the update are its mixins.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from autograd_viz.errors import ConfigError
from autograd_viz.graph import Node, topological_order
from autograd_viz.optim.optimizers import FLUSH_BELOW, FLUSH_EVERY, Adam
from autograd_viz.train.compiled.adam import _AdamUpdate
from autograd_viz.train.compiled.plan import _Plan, _PlanBuilder, _signature


class CompiledStep(_PlanBuilder, _AdamUpdate):
    """One training step of ``trainer``'s model, optimizer and loss, replayed as NumPy kernels (see the module).

    Build it with :func:`compile_step`; :meth:`run_epoch` trains one epoch; ``str()`` lists the kernels.
    """

    def __init__(self, trainer: Any, x: np.ndarray, y: np.ndarray) -> None:
        self.trainer = trainer
        opt = trainer.optimizer
        if trainer.loss_fn is not None or trainer.target_fn is not None or trainer.penalty is not None:
            raise ConfigError("compile: only the built-in cross-entropy loss compiles (no loss_fn, target_fn or "
                              "penalty)")
        if type(opt) is not Adam or opt.amsgrad:
            raise ConfigError(f"compile: only Adam (without AMSGrad) has a fused update, got {opt!r}")
        params = list(trainer.params)
        if [id(p) for p in params] != [id(p) for p in opt.params]:
            raise ConfigError("compile: the optimizer must hold exactly the model's parameters, in order")
        dtypes = {p.dtype for p in params}
        if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
            raise ConfigError(f"compile: parameters must share one float dtype, got {sorted(map(str, dtypes))}")
        from autograd_viz.nn.layers import BatchNorm1d, Dropout

        for name, module in trainer.model.named_modules():
            if isinstance(module, BatchNorm1d) or (isinstance(module, Dropout) and module.p > 0):
                raise ConfigError(f"compile: layer {name!r} ({type(module).__name__}) changes from step to step")
        if any(True for _ in trainer.model.named_buffers()):
            raise ConfigError("compile: the model has buffers (state updated outside the graph)")
        self.dtype = next(iter(dtypes))
        self.params = params
        self.names = {id(p): name for name, p in trainer.model.named_parameters()}
        sizes = [p.size for p in params]
        self.offsets = [0, *np.cumsum(sizes).tolist()]
        total = self.offsets[-1]
        self.flat = np.empty(total, self.dtype)  # parameters (the model's p.data are views into it)
        self.grad = np.zeros(total, self.dtype)
        self.m = np.zeros(total, self.dtype)
        self.v = np.zeros(total, self.dtype)
        self.tmp = np.empty(total, self.dtype)
        self._small = np.empty(total, bool)  # where the flush of subnormal state applies
        self.step = 0
        self.fused = self._warm_fused()
        self.pviews = self._views(self.flat)
        self.gviews = self._views(self.grad)
        self.mviews, self.vviews = self._views(self.m), self._views(self.v)
        self._sync_in()
        self.plans: dict[int, _Plan] = {}
        self.batch_size = trainer.batch_size
        rows = min(self.batch_size, len(x))
        self._plan(rows, x, y)

    def _warm_fused(self) -> Callable[..., None] | None:
        """The numba loops for this dtype, compiled now (or loaded from numba's cache): like JAX's jit, the compile
        happens when the step is built, not in the first epoch. Returns the Adam loop (``self.kernels`` has all),
        None for NumPy calls only."""
        from autograd_viz.train.compiled import _fused_kernels  # the package holds numba's switch (_FUSED)

        self.kernels: dict[str, Callable[..., None]] | None = None
        kernels = _fused_kernels() if self.dtype in (np.float32, np.float64) else None
        if kernels is None:
            return None
        one = np.zeros(1, self.dtype)
        c = self.dtype.type(0.5)
        m = np.zeros((1, 1), self.dtype)
        try:
            kernels["adam"](one, one.copy(), one.copy(), one.copy(), c, c, c, c, c, c, c)
            kernels["bias_relu"](m, one, m.copy())
            kernels["relu_grad"](m, m.copy(), m.copy())
        except Exception:  # noqa: BLE001 - numba could not compile (or cache) here: the NumPy calls still work
            return None
        self.kernels = kernels
        return kernels["adam"]

    # --- parameters and optimizer state live in flat buffers -------------------------------------------
    def _views(self, buffer: np.ndarray) -> list[np.ndarray]:
        return [buffer[a:b].reshape(p.shape) for a, b, p in zip(self.offsets, self.offsets[1:], self.params,
                                                                   strict=False)]

    def _sync_in(self) -> None:
        """Make the parameters views of the flat buffer and the optimizer's state views of m, v (copying values in).

        Called before each epoch: cheap when nothing changed; after ``load_state_dict`` or uncompiled steps it
        takes the current values over.
        """
        opt = self.trainer.optimizer
        for p, view in zip(self.params, self.pviews, strict=True):
            if p.data is not view:
                np.copyto(view, p.data)
                p.data = view
        steps = {st.get("step", 0) for st in opt.state}
        if len(steps) != 1:
            raise ConfigError("compile: the optimizer's parameters are at different steps")
        self.step = steps.pop()
        for i, st in enumerate(opt.state):
            for key, views in (("exp_avg", self.mviews), ("exp_avg_sq", self.vviews)):
                if st.get(key) is not views[i]:
                    if key in st:
                        np.copyto(views[i], st[key])
                    else:
                        views[i].fill(0)
                    st[key] = views[i]
            st["step"] = self.step
        opt._flat = None  # the optimizer rebuilds its own flat buffers from these views if it steps itself

    def _sync_out(self) -> None:
        for st in self.trainer.optimizer.state:
            st["step"] = self.step

    # --- recording --------------------------------------------------------------------------------------
    def _record(self, xb: np.ndarray, yb: np.ndarray) -> tuple[list[Node], Node, Any]:
        trainer = self.trainer
        trainer.model.train()
        out = trainer.model(xb)
        loss = trainer.loss(out, yb)  # the checked cross-entropy: recording runs twice per plan, not per step
        return topological_order(loss), out, loss

    def _plan(self, rows: int, x: np.ndarray, y: np.ndarray, idx: np.ndarray | None = None) -> _Plan:
        """Record the graph on two batches of ``rows`` samples, check they agree, and build the kernels."""
        n = len(x)
        if idx is None:
            idx = np.arange(rows)
        xb = np.ascontiguousarray(x[idx])
        yb = np.asarray(y[idx])
        order, out, loss = self._record(xb, yb)
        other = (idx + rows) % n if n > rows else idx[::-1].copy()
        xb2, yb2 = np.ascontiguousarray(x[other]), np.asarray(y[other])
        order2, _, _ = self._record(xb2, yb2)
        index = {id(node): i for i, node in enumerate(order)}
        index2 = {id(node): i for i, node in enumerate(order2)}
        if _signature(order, index, yb, xb) != _signature(order2, index2, yb2, xb2):
            raise ConfigError("compile: the graph differs between two batches (data-dependent structure or "
                              "constants)")
        plan = _Plan(rows)
        self._build(plan, order, index, out, loss, xb, yb)
        self.plans[rows] = plan
        return plan

    # --- running ------------------------------------------------------------------------------------------
    def run_epoch(self, x: np.ndarray, y: np.ndarray, order: np.ndarray, bar: Any, epoch: int,
                  start_time: float) -> tuple[float, int, int]:
        """Train one epoch over ``order`` (batches of ``batch_size``); returns (loss sum, correct, seen).

        With the default ``to_labels`` (argmax) and no live progress bar, each step writes its predictions
        into one array and they are compared with the labels once, after the epoch."""
        import time

        from autograd_viz.train.loop import argmax_labels

        trainer = self.trainer
        self._sync_in()
        bs, n = self.batch_size, len(order)
        loss_sum, correct, seen = 0.0, 0, 0
        to_labels = trainer.to_labels
        preds = np.empty(n, np.intp) if to_labels is argmax_labels and not bar.live else None
        isfinite, take, plans, adam = math.isfinite, np.take, self.plans, self._adam
        try:
            for step, start in enumerate(range(0, n, bs), 1):
                idx = order[start:start + bs]
                k = len(idx)
                plan = plans.get(k)
                if plan is None:
                    plan = self._plan(k, x, y, idx)
                take(x, idx, 0, plan.xb, "clip")  # clip: unbuffered (order is a permutation)
                take(y, idx, 0, plan.yb, "clip")
                for call in plan.calls:
                    call()
                value = float(plan.loss[0])
                if not isfinite(value):
                    trainer._diverged(plan.xb.copy(), value, step)
                adam()
                trainer.global_step += 1
                loss_sum += value * k
                seen += k
                if preds is not None:
                    plan.logits.argmax(1, preds[start:start + k])
                    continue
                correct += int(np.count_nonzero(to_labels(plan.logits) == plan.yb))
                if bar.live:
                    elapsed = time.perf_counter() - start_time
                    bar.update(epoch, step, loss_sum / seen, correct / seen, seen / max(elapsed, 1e-9))
            if preds is not None:
                correct = int(np.count_nonzero(preds == y[order]))
        finally:
            self._sync_out()
        return loss_sum, correct, seen

    # --- the readable kernel list ------------------------------------------------------------------------
    def explain(self, rows: int | None = None) -> str:
        """The kernel list of the step at ``rows`` samples (default: the batch size): our readable "jaxpr"."""
        plan = self.plans.get(rows or min(self.plans, key=lambda r: -r))
        if plan is None:
            raise ConfigError(f"compile: no plan for {rows} rows (compiled: {sorted(self.plans)})")
        total = self.offsets[-1]
        lines = [f"compiled step: batch {plan.rows}, {len(plan.calls)} kernel calls + gather + Adam over "
                 f"{total:,} parameters in one flat {self.dtype} buffer"]
        section = None
        x_shape = "×".join(map(str, plan.xb.shape))
        for sec, text in [("forward", f"x ← gather(X, batch)  {x_shape}  (into a preallocated array)"),
                          *plan.lines]:
            if sec != section:
                lines.append(f"{sec}:")
                section = sec
            lines.append(f"  {text}")
        opt = self.trainer.optimizer
        wd = f"g += {opt.weight_decay:g}·w; " if opt.weight_decay else ""
        lines.append("update (flat, in place):")
        lines.append(f"  adam: {wd}v ← {opt.beta2:g}·v + {1 - opt.beta2:g}·g²; m ← {opt.beta1:g}·m + "
                     f"{1 - opt.beta1:g}·g; w ← w − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε√(1−β₂ᵗ))")
        if self.fused is not None:
            lines.append("  (one fused pass over the flat buffers: a loop compiled by numba, the same float operations "
                         "per element as the NumPy passes)")
        else:
            lines.append(f"  ({12 + 2 * bool(opt.weight_decay)} NumPy passes over the flat buffers; g's buffer is "
                         "the scratch once m and v have read it; with numba it is one fused pass)")
        lines.append(f"  every {FLUSH_EVERY} steps: m, v entries below {FLUSH_BELOW:g} set to 0 (no subnormals)")
        logits = next((text.split(" ← ")[0] for sec, text in reversed(plan.lines) if sec == "forward"), "logits")
        lines.append(f"bookkeeping: the loss for the epoch's mean; argmax({logits}) into the epoch's predictions, "
                     "compared with the labels once per epoch (each step while a progress bar shows)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()
