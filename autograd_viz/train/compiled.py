"""A compiled training step: record one step's graph once, then replay it as a fixed list of NumPy kernels.

``Trainer(..., compile=True)`` (CLI: ``autograd-viz train --compile``) records the forward graph and the loss of
one batch with the normal engine, checks that it can replay it, and from then on runs every step as a list of
NumPy calls that write into preallocated buffers (``out=``): no ``Tensor`` nodes per step, the batch gathered into
a preallocated array, the gradients written straight into one flat gradient buffer, and one fused Adam update
over one flat parameter buffer (the model's parameters become views into it). Each kernel is this module's own
NumPy code for an op name, with the engine's formulas in the engine's order, so the replay gives the engine's
numbers (tests/test_compiled.py compares them). ``str(step)`` / :meth:`CompiledStep.explain` prints the kernel
list: what backprop executes, one line per call.

With numba installed (optional: ``pip install 'autograd-viz[fast]'``; ``AUTOGRAD_VIZ_FUSED=0`` switches it off),
three kinds of kernels become loops compiled by numba that do per element the same float operations as the NumPy
calls they replace, so the bits stay the same: Adam (one pass instead of 12), ``relu(a + bias)`` and the ReLU
gradient. Without numba everything is NumPy, as fast as NumPy calls go.

What compiles: graphs of matmul, add, sub, mul, relu, leaky_relu, sigmoid, tanh ending in the trainer's softmax
cross-entropy, with Adam (no AMSGrad) and parameters of one float dtype. Anything else (Dropout, BatchNorm,
a custom loss or penalty, other optimizers, ops outside that list, a graph that changes from batch to batch)
raises :class:`~autograd_viz.errors.ConfigError` with the reason, and the trainer falls back to the normal step.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from autograd_viz.errors import ConfigError
from autograd_viz.graph import Node, topological_order
from autograd_viz.optim.optimizers import FLUSH_BELOW, FLUSH_EVERY, Adam

#: op names the compiler has kernels for (forward and backward)
SUPPORTED_OPS = ("matmul", "add", "sub", "mul", "relu", "leaky_relu", "sigmoid", "tanh", "cross_entropy")


def _adam_loop(p: Any, g: Any, m: Any, v: Any, wd: Any, b1: Any, ob1: Any, b2: Any, ob2: Any, eps_c: Any,
               scale: Any) -> None:  # pragma: no cover - runs compiled by numba (tests/test_compiled.py)
    """Adam in one pass: per element, the same float operations in the same order as the NumPy passes of
    :meth:`CompiledStep._adam` (numba compiles it without fast-math, so nothing is fused into an FMA or
    reordered: the bits are the same)."""
    for i in range(p.shape[0]):
        gi = g[i]
        if wd:
            gi = gi + p[i] * wd
        vi = v[i] * b2 + (gi * ob2) * gi
        mi = m[i] * b1 + gi * ob1
        v[i] = vi
        m[i] = mi
        p[i] = p[i] - (mi / (np.sqrt(vi) + eps_c)) * scale


def _bias_relu_loop(a: Any, b: Any, out: Any) -> None:  # pragma: no cover - runs compiled by numba
    """``out = maximum(a + b, 0)`` for a (rows, n) matrix and an (n,) bias, as NumPy's add then maximum give it:
    a + b rounded once, then +0.0 for anything not above 0 except NaN, which stays."""
    rows, n = a.shape
    for r in range(rows):
        for j in range(n):
            s = a[r, j] + b[j]
            out[r, j] = s if s > 0 else (s if s != s else 0.0)


def _relu_grad_loop(g: Any, y: Any, out: Any) -> None:  # pragma: no cover - runs compiled by numba
    """``out = g ⊙ [y > 0]`` as NumPy's ``g * (y > 0)`` gives it (the bool becomes 1.0 or 0.0, then one product:
    g·0 keeps g's sign and turns inf and NaN into NaN, as NumPy does)."""
    rows, n = g.shape
    for r in range(rows):
        for j in range(n):
            out[r, j] = g[r, j] * (1.0 if y[r, j] > 0 else 0.0)


_FUSED: Any = None  # None: not looked for yet; False: numba is missing or switched off; else {name: kernel}


def _fused_kernels() -> dict[str, Callable[..., None]] | None:
    """The loops above compiled by numba (an optional package: ``pip install 'autograd-viz[fast]'``), or None when
    numba is not installed or ``AUTOGRAD_VIZ_FUSED=0``: the compiled step then runs NumPy calls only."""
    global _FUSED
    if _FUSED is None:
        _FUSED = False
        if os.environ.get("AUTOGRAD_VIZ_FUSED", "1") != "0":
            try:
                import numba
            except ImportError:
                pass
            else:
                loops = {"adam": _adam_loop, "bias_relu": _bias_relu_loop, "relu_grad": _relu_grad_loop}
                try:  # cached next to this module, or in numba's per-user folder
                    _FUSED = {k: numba.njit(cache=True, nogil=True, error_model="numpy")(f) for k, f in loops.items()}
                except RuntimeError:  # no writable place for the cache: compile them in each process
                    _FUSED = {k: numba.njit(nogil=True, error_model="numpy")(f) for k, f in loops.items()}
    return _FUSED or None


def fused_adam() -> Callable[..., None] | None:
    """The Adam loop compiled by numba, or None without numba (or with ``AUTOGRAD_VIZ_FUSED=0``): the compiled step
    then runs Adam as 12 NumPy passes."""
    kernels = _fused_kernels()
    return kernels["adam"] if kernels else None


def _op_name(node: Node) -> str:
    return node.op.name if node.op is not None else "leaf"


class _Plan:
    """The kernels of one batch size: buffers, forward + loss + backward as zero-argument calls, their text."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.calls: list[Callable[[], Any]] = []
        self.lines: list[tuple[str, str]] = []  # (section, text)
        self.loss = np.zeros(1)
        self.xb: np.ndarray
        self.yb: np.ndarray
        self.logits: np.ndarray
        self.dlogits: np.ndarray
        self.flat_y: np.ndarray

    def add(self, section: str, text: str, call: Callable[[], Any]) -> None:
        self.calls.append(call)
        self.lines.append((section, text))


def _signature(order: list[Node], index: dict[int, int], skip: Any, xb: np.ndarray) -> list[tuple]:
    """Structure of a recorded graph: op, input positions, shapes, attributes (minus the batch labels) and the
    values of constant leaves (not the batch)."""
    sig = []
    for node in order:
        attrs: list[tuple[str, Any]] = []
        if node.op is None and not node.requires_grad and node.data is not xb:
            attrs.append(("value", np.asarray(node.data).tobytes()))
        for key, value in sorted((node.attrs or {}).items()):
            if value is skip:
                continue
            attrs.append((key, value.tobytes() if isinstance(value, np.ndarray) else repr(value)))
        sig.append((node.op.name if node.op is not None else None, tuple(index[id(p)] for p in node.parents),
                    node.data.shape, str(node.data.dtype), node.requires_grad, tuple(attrs)))
    return sig


class CompiledStep:
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
        trainer._checked_labels = yb  # the trainer's own fast path (fit has validated the labels)
        out = trainer.model(xb)
        loss = trainer.loss(out, yb)
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

    def _build(self, plan: _Plan, order: list[Node], index: dict[int, int], out: Node, loss: Node,
               xb: np.ndarray, yb: np.ndarray) -> None:
        param_pos = {id(p): i for i, p in enumerate(self.params)}
        if loss.op is None or loss.op.name != "cross_entropy" or loss.parents[0] is not out:
            raise ConfigError("compile: the loss is not the trainer's cross-entropy of the model output")
        attrs = loss.attrs or {}
        if attrs.get("reduction") != "mean" or attrs.get("target") is not yb or out.data.ndim != 2:
            raise ConfigError("compile: cross-entropy must take the batch's class indices with reduction 'mean'")
        buf: dict[int, np.ndarray] = {}  # node position -> forward value buffer
        names: dict[int, str] = {}
        used = {id(p) for p in self.params}
        pos = index
        consumers: dict[int, int] = {}
        for node in order:
            if node.op is not None:
                for p in node.parents:
                    consumers[pos[id(p)]] = consumers.get(pos[id(p)], 0) + 1
        inplace: set[int] = set()  # add/sub nodes that write into their first input's buffer
        for i, node in enumerate(order):
            if node.op is None:
                if id(node) in param_pos:
                    buf[i] = self.pviews[param_pos[id(node)]]
                    names[i] = self.names.get(id(node), f"param{param_pos[id(node)]}")
                    used.discard(id(node))
                elif node.data is xb:
                    plan.xb = buf[i] = np.empty_like(xb)
                    names[i] = "x"
                elif node.requires_grad:
                    raise ConfigError(f"compile: leaf {node.label()} requires grad but is not an optimizer parameter")
                else:
                    buf[i] = np.array(node.data, copy=True)
                    names[i] = f"c{i}"
            elif node.op.name not in SUPPORTED_OPS:
                raise ConfigError(f"compile: no kernel for op {node.op.name!r} (compiled: {', '.join(SUPPORTED_OPS)})")
            else:
                names[i] = "L" if node is loss else f"t{i}"
                first = pos[id(node.parents[0])]
                if (node.op.name in ("add", "sub") and order[first].op is not None and consumers[first] == 1
                        and _op_name(order[first]) not in ("tanh", "sigmoid") and order[first] is not out
                        and order[first].data.shape == node.data.shape):
                    # e.g. the bias add after a matmul: nothing reads the matmul's value again (its backward
                    # needs its inputs, the add's backward no value), so the sum overwrites it in place
                    buf[i] = buf[first]
                    inplace.add(i)
                elif node is not loss:
                    buf[i] = np.empty(node.data.shape, node.data.dtype)
        if used:
            raise ConfigError("compile: a parameter is not used by the loss")
        if not hasattr(plan, "xb"):
            raise ConfigError("compile: the batch does not enter the graph directly (as the first layer's input)")
        rows = plan.rows
        plan.yb = np.empty(rows, np.intp)
        plan.logits = buf[index[id(out)]]
        shape = lambda i: "×".join(map(str, order[i].data.shape)) or "scalar"  # noqa: E731
        # --- forward kernels (with numba: a bias add whose only use is a ReLU runs inside the ReLU's loop)
        fused_relu = self._fusable_relus(order, pos, consumers) if self.kernels else {}
        fused_adds = set(fused_relu.values())
        for i, node in enumerate(order):
            if node.op is None or node is loss:
                continue
            args = [pos[id(p)] for p in node.parents]
            if i in fused_adds:
                plan.lines.append(("forward", f"{names[i]} ← add({', '.join(names[p] for p in args)})  {shape(i)}  "
                                              "(no kernel: computed inside the ReLU's loop, not stored)"))
                continue
            if i in fused_relu and self.kernels:
                a, b = (pos[id(p)] for p in order[fused_relu[i]].parents)
                plan.add("forward", f"{names[i]} ← relu({names[a]} + {names[b]})  {shape(i)}  (one numba loop)",
                         partial(self.kernels["bias_relu"], buf[a], buf[b], buf[i]))
                continue
            self._forward_kernel(plan, node, i, args, buf, names, shape)
            if i in inplace:
                plan.lines[-1] = ("forward", plan.lines[-1][1] + f"  (in place: {names[pos[id(node.parents[0])]]}'s "
                                                                 "buffer)")
        # --- loss and its gradient
        lpos = pos[id(loss)]
        self._cross_entropy_kernels(plan, loss, buf[pos[id(out)]], names[pos[id(out)]], names[lpos])
        # --- backward: gradient buffers (parameters write into the flat gradient buffer)
        gbuf: dict[int, np.ndarray] = {}
        for i, node in enumerate(order):
            if not node.requires_grad or node is loss:
                continue
            gbuf[i] = self.gviews[param_pos[id(node)]] if id(node) in param_pos else np.empty_like(buf[i])
        gbuf[pos[id(out)]] = plan.dlogits
        zeroed = [i for i, c in consumers.items() if c > 1 and i in gbuf]
        for i in zeroed:
            plan.add("backward", f"d{names[i]} ← 0  (it feeds {consumers[i]} ops: contributions add up)",
                     partial(gbuf[i].fill, 0))
        for i in reversed(range(len(order))):
            node = order[i]
            if node.op is None or node is loss:
                continue
            self._backward_kernels(plan, node, i, [pos[id(p)] for p in node.parents], buf, gbuf, names,
                                   consumers, order)

    def _fusable_relus(self, order: list[Node], pos: dict[int, int], consumers: dict[int, int]) -> dict[int, int]:
        """ReLU position -> position of the add it reads, for ``relu(a + bias)`` with a (rows, n) matrix, an (n,)
        bias and nothing else reading the sum: one numba loop computes both."""
        found = {}
        for i, node in enumerate(order):
            if _op_name(node) != "relu":
                continue
            j = pos[id(node.parents[0])]
            add = order[j]
            if _op_name(add) != "add" or consumers.get(j) != 1:
                continue
            a, b = add.parents
            if (a.data.ndim == 2 and b.data.ndim == 1 and b.data.shape[0] == a.data.shape[1] and a is not b
                    and add.data.shape == a.data.shape
                    and {a.data.dtype, b.data.dtype, add.data.dtype, node.data.dtype} == {self.dtype}):
                found[i] = j
        return found

    def _target(self, plan: _Plan, j: int, gbuf: dict[int, np.ndarray], consumers: dict[int, int],
                names: dict[int, str]) -> tuple[np.ndarray, Callable[[], None] | None, str]:
        """Where a gradient contribution to node ``j`` goes: its buffer, or scratch + an add when shared."""
        if consumers[j] == 1:
            return gbuf[j], None, f"d{names[j]}"
        scratch = np.empty_like(gbuf[j])
        return scratch, partial(np.add, gbuf[j], scratch, gbuf[j]), f"d{names[j]} +="

    def _forward_kernel(self, plan: _Plan, node: Node, i: int, ps: list[int], buf: dict, names: dict,
                        shape: Callable[[int], str]) -> None:
        op, o = _op_name(node), buf[i]
        a = buf[ps[0]]
        b = buf[ps[1]] if len(ps) > 1 else None
        args = ", ".join(names[p] for p in ps)
        text = f"{names[i]} ← {op}({args})  {shape(i)}"
        if op == "matmul":
            if a.ndim != 2 or b is None or b.ndim != 2:
                raise ConfigError("compile: only 2-D matmul compiles")
            call: Callable[[], Any] = partial(np.matmul, a, b, o)
        elif op in ("add", "sub", "mul"):
            call = partial({"add": np.add, "sub": np.subtract, "mul": np.multiply}[op], a, b, o)
        elif op == "relu":
            call = partial(np.maximum, a, 0.0, out=o)
        elif op == "tanh":
            call = partial(np.tanh, a, o)
        elif op == "leaky_relu":
            alpha = (node.attrs or {})["alpha"]
            mask = np.empty(a.shape, bool)
            scaled = np.empty_like(o)

            def call() -> None:  # where(x > 0, x, alpha x)
                np.greater(a, 0, out=mask)
                np.multiply(a, alpha, out=scaled)
                np.copyto(o, scaled)
                np.copyto(o, a, where=mask)
            text = f"{names[i]} ← where({args} > 0, {args}, {alpha:g}·{args})  {shape(i)}"
        elif op == "sigmoid":
            e = np.empty_like(o)
            ones = np.empty_like(o)

            def call() -> None:  # where(x >= 0, 1, e) / (1 + e), e = exp(-|x|)
                np.abs(a, out=e)
                np.negative(e, out=e)
                np.exp(e, out=e)
                np.copyto(ones, e)
                np.copyto(ones, 1.0, where=a >= 0)
                np.add(e, 1.0, out=e)
                np.divide(ones, e, out=o)
            text = f"{names[i]} ← σ({args}) = where({args} ≥ 0, 1, e)/(1+e), e = exp(−|{args}|)  {shape(i)}"
        else:  # pragma: no cover - _build checked the op names
            raise ConfigError(f"compile: no kernel for op {op!r}")
        plan.add("forward", text, call)

    def _cross_entropy_kernels(self, plan: _Plan, loss: Node, logits: np.ndarray, lname: str, name: str) -> None:
        """Softmax cross-entropy with the engine's formulas (log-softmax of the max-shifted logits; the mean of
        −log p[y]; ḡ = (p − y)/N), each step in as few NumPy calls as give the same bits."""
        rows, classes = logits.shape
        dt = logits.dtype
        smoothing = float((loss.attrs or {})["label_smoothing"])
        logits_t = np.empty((classes, rows), dt)  # the max over a row, as a reduce over contiguous rows
        mx = np.empty(rows, dt)
        mx_col = mx.reshape(rows, 1)
        shifted = np.empty_like(logits)
        e = np.empty_like(logits)
        lse = np.empty((rows, 1), dt)
        logp = np.empty_like(logits)
        p = np.empty_like(logits)
        dl = plan.dlogits = np.empty_like(logits)
        yb, out = plan.yb, plan.loss
        flat = plan.flat_y = np.empty(rows, np.intp)  # row · classes + y: where each row's label sits in logp
        row_start = np.arange(rows) * classes
        picked = np.empty(rows, dt)
        onehot = np.zeros_like(logits)
        dense = np.empty_like(logits)
        dense_sum = np.empty((rows, 1), dt)
        scale = np.ones((), dt) / rows  # the engine's seed (ones) / N
        logp_flat, onehot_flat = logp.reshape(-1), onehot.reshape(-1)
        one = np.ones((), dt)

        def forward() -> None:
            np.copyto(logits_t, logits.T)  # max is exact in any order: the transposed reduce is 2x faster
            np.maximum.reduce(logits_t, 0, out=mx)
            np.subtract(logits, mx_col, shifted)
            np.exp(shifted, e)
            np.add.reduce(e, 1, out=lse, keepdims=True)  # the engine's np.sum(axis=1): same order, same bits
            np.log(lse, lse)
            np.subtract(shifted, lse, logp)
            np.add(row_start, yb, flat)
            if smoothing:
                losses = -logp_flat[flat]
                losses = (1.0 - smoothing) * losses - (smoothing / classes) * logp.sum(axis=1)
                out[0] = np.asarray(losses.sum() / rows, dtype=dt)
            else:  # −Σ log p[y] / N; Σ(−a) is −Σa bit for bit (rounding is symmetric)
                np.take(logp_flat, flat, 0, picked, "clip")
                out[0] = -np.add.reduce(picked) / rows
            np.exp(logp, p)

        def backward() -> None:
            if smoothing:
                dense.fill(0)
                dense.reshape(-1)[flat] = 1.0
                np.multiply(dense, 1.0 - smoothing, out=dense)
                np.add(dense, smoothing / classes, out=dense)
                np.sum(dense, axis=1, keepdims=True, out=dense_sum)
                np.multiply(p, dense_sum, out=dl)
                np.subtract(dl, dense, out=dl)
            else:  # p − onehot(y): the engine's p.copy(); grad[rows, y] −= 1 (p − 0 is p exactly)
                onehot.fill(0)
                np.put(onehot_flat, flat, one, "clip")
                np.subtract(p, onehot, dl)
            np.multiply(dl, scale, dl)

        smooth = f", smoothing {smoothing:g}" if smoothing else ""
        plan.add("loss", f"{name} ← cross_entropy({lname}, y{smooth}): p = softmax({lname}); "
                         f"L = −mean(log p[y])  scalar", forward)
        y_text = f"((1−{smoothing:g})·onehot(y) + {smoothing:g}/{classes})" if smoothing else "onehot(y)"
        plan.add("backward", f"d{lname} ← (p − {y_text}) / {rows}  {rows}×{classes}", backward)

    def _backward_kernels(self, plan: _Plan, node: Node, i: int, ps: list[int], buf: dict, gbuf: dict,
                          names: dict, consumers: dict, order: list[Node]) -> None:
        op, g = _op_name(node), gbuf[i]
        gname = f"d{names[i]}"
        for k, j in enumerate(ps):
            if not order[j].requires_grad:
                continue
            passes_through = op == "add" or (op == "sub" and k == 0)
            if (passes_through and order[j].op is not None and consumers[j] == 1
                    and gbuf[j].shape == g.shape):
                gbuf[j] = g  # the engine passes ḡ on unchanged here: share the buffer, no kernel
                plan.lines.append(("backward", f"d{names[j]} = {gname}  (same buffer, no kernel)"))
                continue
            target, accumulate, tname = self._target(plan, j, gbuf, consumers, names)
            other = buf[ps[1 - k]] if len(ps) == 2 else None
            x = buf[ps[0]]
            if op == "matmul":
                if k == 0:
                    call: Callable[[], Any] = partial(np.matmul, g, buf[ps[1]].T, target)
                    text = f"{tname} ← {gname} @ {names[ps[1]]}ᵀ"
                else:
                    call = partial(np.matmul, buf[ps[0]].T, g, target)
                    text = f"{tname} ← {names[ps[0]]}ᵀ @ {gname}"
            elif op in ("add", "sub", "mul"):
                call, text = self._elementwise_grad(op, k, g, gname, other, names.get(ps[1 - k], ""), target, tname)
            elif op == "relu" and self.kernels and g.ndim == 2 and g.shape == x.shape == target.shape:
                # [y > 0] is [x > 0] for y = max(x, 0) (NaN: both false), and y is stored even when x is not
                call = partial(self.kernels["relu_grad"], g, buf[i], target)
                text = f"{tname} ← {gname} ⊙ [{names[i]} > 0]  (one numba loop)"
            elif op == "relu":
                mask = np.empty(x.shape, bool)

                def call(x: np.ndarray = x, mask: np.ndarray = mask, g: np.ndarray = g,
                         target: np.ndarray = target) -> None:
                    np.greater(x, 0, out=mask)
                    np.multiply(g, mask, out=target)
                text = f"{tname} ← {gname} ⊙ [{names[ps[0]]} > 0]"
            elif op == "leaky_relu":
                alpha, mask = (node.attrs or {})["alpha"], np.empty(x.shape, bool)

                def call(x: np.ndarray = x, mask: np.ndarray = mask, g: np.ndarray = g,
                         target: np.ndarray = target, alpha: float = alpha) -> None:
                    np.greater(x, 0, out=mask)
                    np.multiply(g, alpha, out=target)
                    np.copyto(target, g, where=mask)
                text = f"{tname} ← where({names[ps[0]]} > 0, {gname}, {alpha:g}·{gname})"
            elif op in ("tanh", "sigmoid"):
                y, scratch = buf[i], np.empty_like(buf[i])
                if op == "tanh":
                    def call(y: np.ndarray = y, s: np.ndarray = scratch, g: np.ndarray = g,
                             target: np.ndarray = target) -> None:  # g (1 − y²)
                        np.multiply(y, y, out=s)
                        np.subtract(1.0, s, out=s)
                        np.multiply(g, s, out=target)
                    text = f"{tname} ← {gname} ⊙ (1 − {names[i]}²)"
                else:
                    def call(y: np.ndarray = y, s: np.ndarray = scratch, g: np.ndarray = g,
                             target: np.ndarray = target) -> None:  # g y (1 − y)
                        np.subtract(1.0, y, out=s)
                        np.multiply(g, y, out=target)
                        np.multiply(target, s, out=target)
                    text = f"{tname} ← {gname} ⊙ {names[i]} ⊙ (1 − {names[i]})"
            else:  # pragma: no cover - _build checked the op names
                raise ConfigError(f"compile: no kernel for op {op!r}")
            plan.add("backward", text, call)
            if accumulate is not None:
                plan.calls.append(accumulate)
                plan.lines[-1] = ("backward", plan.lines[-1][1] + "  (into scratch, then added)")

    def _elementwise_grad(self, op: str, k: int, g: np.ndarray, gname: str, other: np.ndarray | None,
                          oname: str, target: np.ndarray, tname: str) -> tuple[Callable[[], Any], str]:
        """add/sub/mul contribution to input ``k``, summed over broadcast axes to the input's shape."""
        if op == "mul":
            full = np.empty(g.shape, g.dtype) if target.shape != g.shape else target
            first: Callable[[], Any] | None = partial(np.multiply, g, other, full)
            text = f"{tname} ← {gname} ⊙ {oname}"
        elif op == "sub" and k == 1:
            full = np.empty(g.shape, g.dtype) if target.shape != g.shape else target
            first = partial(np.negative, g, full)
            text = f"{tname} ← −{gname}"
        else:
            full, first, text = g, None, f"{tname} ← {gname}"
        if target.shape == g.shape:
            if first is None:
                return partial(np.copyto, target, g), text
            return first, text
        extra = g.ndim - target.ndim
        stretched = tuple(a for a, size in enumerate(target.shape) if size == 1 and g.shape[a + extra] != 1)
        lead = tuple(range(extra))
        text += f", summed over axes {lead + tuple(a + extra for a in stretched)}"
        if first is None and lead and not stretched:  # a bias gradient: one reduce call (what np.sum runs)
            return partial(np.add.reduce, full, lead, None, target), text

        def call() -> None:  # the engine's unbroadcast: leading axes first, then the stretched ones
            if first is not None:
                first()
            if lead and not stretched:
                np.sum(full, axis=lead, out=target)
            elif stretched and not lead:
                np.sum(full, axis=stretched, keepdims=True, out=target)
            else:
                np.copyto(target, full.sum(axis=lead).sum(axis=stretched, keepdims=True))
        return call, text

    # --- running ------------------------------------------------------------------------------------------
    def _adam(self) -> None:
        """The engine's Adam update (the same float operations in the same order) over the whole flat buffers:
        one fused pass when numba is installed (:func:`fused_adam`), else 12 NumPy passes."""
        opt = self.trainer.optimizer
        self.step += 1
        t = self.step
        b1, b2, eps, lr, wd = opt.beta1, opt.beta2, opt.eps, opt.lr, opt.weight_decay
        c = math.sqrt(1.0 - b2**t)
        scale = lr * c / (1.0 - b1**t)
        p, g, m, v, tmp = self.flat, self.grad, self.m, self.v, self.tmp
        if self.fused is not None and all(type(k) is float for k in (wd, b1, b2, eps, scale)):
            # one pass; each Python float rounded to the dtype, as NumPy rounds it (a NumPy float64 constant,
            # say an lr set to np.float64, would make NumPy compute in float64: the passes below do that)
            f = self.dtype.type
            self.fused(p, g, m, v, f(wd), f(b1), f(1.0 - b1), f(b2), f(1.0 - b2), f(eps * c), f(scale))
        else:
            self._numpy_adam(p, g, m, v, tmp, wd, b1, b2, eps * c, scale)
        opt.step_count += 1
        if opt.step_count % FLUSH_EVERY == 0 and self.dtype.itemsize < 8:
            # as the optimizer does: state that decays into subnormal floats makes NumPy 6-9x slower
            small = self._small
            for arr in (m, v):
                np.abs(arr, out=tmp)
                np.less(tmp, FLUSH_BELOW, out=small)
                np.copyto(arr, 0.0, where=small)

    @staticmethod
    def _numpy_adam(p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, tmp: np.ndarray, wd: float,
                    b1: float, b2: float, eps_c: float, scale: float) -> None:
        """Adam as 12 NumPy passes (14 with weight decay), the engine's operations in the engine's order.

        The gradient buffer is scratch once the moments have read it (the backward rewrites it every step), so
        the passes touch four arrays, not five. Chunks small enough for the L2 cache measured slower (at 109,386
        parameters the ~1 µs per NumPy call costs more than the cache saves), and so did numexpr, whose float32
        loops are not vectorized here (BENCHMARKS.md)."""
        mul, add = np.multiply, np.add
        if wd:
            mul(p, wd, tmp)
            add(g, tmp, g)
        mul(v, b2, v)  # v ← β₂v + ((1−β₂)g)g
        mul(g, 1.0 - b2, tmp)
        mul(tmp, g, tmp)
        add(v, tmp, v)
        mul(m, b1, m)  # m ← β₁m + (1−β₁)g, the product written over g (its last use)
        mul(g, 1.0 - b1, g)
        add(m, g, m)
        np.sqrt(v, g)  # w ← w − scale · m / (√v + ε c), in g's buffer
        add(g, eps_c, g)
        np.divide(m, g, g)
        mul(g, scale, g)
        np.subtract(p, g, p)

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


def compile_step(trainer: Any, x: np.ndarray, y: np.ndarray) -> CompiledStep:
    """Compile ``trainer``'s step on the training arrays (``x`` float, ``y`` class indices).

    Raises :class:`~autograd_viz.errors.ConfigError` naming what does not compile.
    """
    return CompiledStep(trainer, x, y)


def prepare(trainer: Any, x: np.ndarray, y: np.ndarray, stream: Any = None) -> CompiledStep | None:
    """The trainer's compiled step for these arrays (built once and kept as ``trainer.compiled``), or ``None``
    after a one-line note (``trainer.compile_note``) when the step does not compile: training then takes the
    normal path."""
    import sys

    step = getattr(trainer, "compiled", None)
    if step is not None and step.batch_size == trainer.batch_size:
        return step
    if getattr(trainer, "compile_note", None):  # it did not compile before: do not record (and note) again
        return None
    try:
        step = compile_step(trainer, x, y)
    except ConfigError as exc:
        reason = str(exc).removeprefix("compile: ")
        trainer.compile_note = f"note: compile: falling back to the normal step: {reason}"
        trainer.compiled = None
        if not trainer.quiet:
            print(trainer.compile_note, file=stream or trainer.stream or sys.stderr)
        return None
    trainer.compiled = step
    return step
