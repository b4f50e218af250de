"""A compiled training step: record one step's graph once, then replay it as a fixed list of NumPy kernels.

``Trainer(..., compile=True)`` (CLI: ``autograd-viz train --compile``) records the forward graph and the loss of
one batch with the normal engine, checks that it can replay it, and from then on runs every step as a list of
NumPy calls that write into preallocated buffers (``out=``): no ``Tensor`` nodes per step, the batch gathered into
a preallocated array, the gradients written straight into one flat gradient buffer, and one fused Adam update
over one flat parameter buffer (the model's parameters become views into it). Each kernel is this package's own
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

The package: ``step`` (:class:`CompiledStep`: buffers, recording, the epoch loop, the kernel listing), ``plan``
(the recorded graph turned into a plan of calls), ``kernels`` (each op's forward and backward calls), ``adam``
(the flat update), ``loops`` (the numba loops); here the entry points and the numba switch, whose state
(``_FUSED``) has one home.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from autograd_viz.errors import ConfigError
from autograd_viz.graph import topological_order as topological_order  # the compiler's only graph walk
from autograd_viz.train.compiled.loops import _adam_loop, _bias_relu_loop, _relu_grad_loop
from autograd_viz.train.compiled.plan import SUPPORTED_OPS as SUPPORTED_OPS
from autograd_viz.train.compiled.step import CompiledStep

_FUSED: Any = None  # None: not looked for yet; False: numba is missing or switched off; else {name: kernel}


def _fused_kernels() -> dict[str, Callable[..., None]] | None:
    """The loops of :mod:`~autograd_viz.train.compiled.loops` compiled by numba (an optional package:
    ``pip install 'autograd-viz[fast]'``), or None when numba is not installed or ``AUTOGRAD_VIZ_FUSED=0``: the
    compiled step then runs NumPy calls only."""
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
