"""Float32 stays float32: every op's forward and its raw vector-Jacobian product, and whole training steps."""

from __future__ import annotations

import numpy as np
import pytest
from op_cases import CASES, Pick

import autograd_viz.functional as F
from autograd_viz import Tensor, Value, topological_order
from autograd_viz.ops import OPS, ArrayMath


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("seed", range(3))
def test_op_keeps_float32_forward_and_backward(name, seed):
    fn, arrays = CASES[name](Pick(seed))
    inputs = [Tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    out = fn(*inputs)
    assert out.dtype == np.float32, f"{name} forward gave {out.dtype}"
    out.backward(np.ones(out.shape, dtype=np.float32))
    for node in topological_order(out):
        assert node.data.dtype == np.float32, f"{name}: node {node.label()} ({node.op}) is {node.data.dtype}"
        if node.op is None:
            continue
        # The op's own VJP, before the engine casts anything: an upcast here would cost time every step.
        inputs_data = tuple(p.data for p in node.parents)
        grads = node.op.backward(ArrayMath, node.grad, inputs_data, node.data, node.attrs, node.saved,
                                 (True,) * len(node.parents))
        for parent, g in zip(node.parents, grads, strict=True):
            if g is not None and parent.requires_grad:
                assert np.asarray(g).dtype == np.float32, f"{node.op.name} backward gave {np.asarray(g).dtype}"
    for x in inputs:
        assert x.grad.dtype == np.float32


def test_float32_mlp_step_with_float64_data_stays_float32():
    rng = np.random.default_rng(0)
    W = Tensor(rng.standard_normal((5, 3)).astype(np.float32), requires_grad=True)
    b = Tensor(np.zeros(3, np.float32), requires_grad=True)
    x = rng.standard_normal((4, 5))  # float64 ndarray constants are cast to the graph's dtype
    loss = F.cross_entropy(F.relu(x @ W + b) * 2.0 - 1, np.array([0, 1, 2, 0]), label_smoothing=0.1)
    assert loss.dtype == np.float32
    loss.backward()
    assert W.grad.dtype == np.float32 and b.grad.dtype == np.float32


def test_default_dtypes_are_float64_and_float32_is_kept():
    assert type(Value(1).data) is float and type(Value(np.float32(0.5)).data) is float
    assert Tensor([1, 2]).dtype == np.float64 and Tensor(np.arange(3)).dtype == np.float64
    assert Tensor(np.ones(2, np.float32)).dtype == np.float32
    assert Tensor([1.0, 2.0], dtype=np.float32).dtype == np.float32
    assert (Tensor(np.ones(2, np.float32), requires_grad=True) * 3 + 1).dtype == np.float32
