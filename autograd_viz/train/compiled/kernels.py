"""The kernels of each op the compiled step supports: the NumPy (or numba) calls of its forward and backward,
with the engine's formulas in the engine's order, each with its line of the readable kernel list.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from autograd_viz.errors import ConfigError
from autograd_viz.graph import Node


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



class _KernelWriter:
    """The part of :class:`~autograd_viz.train.compiled.step.CompiledStep` that writes each op's calls."""

    kernels: dict[str, Callable[..., None]] | None

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
