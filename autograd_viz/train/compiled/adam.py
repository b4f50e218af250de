"""The compiled step's Adam: the engine's update over the flat buffers, as one numba loop or 12 NumPy passes."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from autograd_viz.optim.optimizers import FLUSH_EVERY, flush_tiny


class _AdamUpdate:
    """The part of :class:`~autograd_viz.train.compiled.step.CompiledStep` that updates the parameters."""

    trainer: Any
    step: int
    dtype: np.dtype
    fused: Callable[..., None] | None
    flat: np.ndarray
    grad: np.ndarray
    m: np.ndarray
    v: np.ndarray
    tmp: np.ndarray
    _small: np.ndarray

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
            for arr in (m, v):
                flush_tiny(arr, tmp, self._small)

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
