"""Every op's backward against central finite differences in float64 (``gradcheck``), on generated shapes.

Tensor ops run on Hypothesis-drawn shapes, broadcasting included; scalar ops run through ``Value``.
A new op in the table fails ``test_every_op_has_a_case`` until ``op_cases.CASES`` covers it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from op_cases import CASES, SCALAR_STEPS, TENSOR_STEPS, HypothesisPick, N, Pick, random_program, run_program

from autograd_viz import Tensor, Value, gradcheck
from autograd_viz.errors import GradcheckError
from autograd_viz.ops import OPS, SCALAR_OPS
from autograd_viz.tensor import apply_unchecked

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_every_op_has_a_case():
    assert set(CASES) == set(OPS), f"ops without a finite-difference case: {sorted(set(OPS) - set(CASES))}"


@pytest.mark.parametrize("name", sorted(OPS))
@FAST
@given(data=st.data())
def test_tensor_op_matches_finite_differences(name, data):
    fn, arrays = CASES[name](HypothesisPick(data))
    inputs = [Tensor(a, requires_grad=True, name=f"x{i}") for i, a in enumerate(arrays)]
    out = fn(*inputs)
    assert out.requires_grad and (out.op is None or out.op.name in OPS)
    assert gradcheck(fn, *inputs)


@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
@pytest.mark.parametrize("seed", range(4))
def test_scalar_op_matches_finite_differences(name, seed):
    fn, arrays = CASES[name](Pick(seed))
    points = [Value(float(a.reshape(-1)[0]), name=f"x{i}") for i, a in enumerate(arrays)]
    assert gradcheck(fn, *points)


@pytest.mark.parametrize("seed", range(12))
def test_random_scalar_graph_matches_finite_differences(seed):
    """Composed ops with reused intermediates (the same programs the PyTorch parity test runs)."""
    program = random_program(seed, SCALAR_STEPS, 3, 25)
    fns = {k: fn for k, (_, fn) in SCALAR_STEPS.items()}
    leaves = [Value(x, name=f"x{i}") for i, x in enumerate(np.random.default_rng(seed).uniform(-2, 2, 3))]
    assert gradcheck(lambda *xs: sum(v * (0.5 + i % 3) for i, v in enumerate(run_program(program, xs, fns))),
                     *leaves)


@pytest.mark.parametrize("seed", range(12))
def test_random_tensor_graph_matches_finite_differences(seed):
    program = random_program(seed, TENSOR_STEPS, 3, 10)
    fns = {k: fn for k, (_, fn) in TENSOR_STEPS.items()}
    rng = np.random.default_rng(seed)
    leaves = [Tensor(rng.standard_normal((N, N)), requires_grad=True) for _ in range(3)]
    weights = [float(w) for w in rng.standard_normal(3 + len(program))]
    assert gradcheck(lambda *xs: sum((t * w).sum() for t, w in zip(run_program(program, xs, fns), weights,
                                                                   strict=True)), *leaves)


def test_gradcheck_catches_a_wrong_backward():
    """The checker itself can fail: a sign error in mul's backward is reported with input, index and numbers."""
    wrong = dataclasses.replace(OPS["mul"], backward=lambda m, g, x, out, attrs, saved, needs: (-g * x[1], g * x[0]))
    x = Tensor(np.array([[1.0, 2.0]]), requires_grad=True, name="x")
    y = Tensor(np.array([[3.0, 4.0]]), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 0 \(x\) index \(0, 0\): analytic -3 vs numeric 3"):
        gradcheck(lambda a, b: apply_unchecked(wrong, a, b).sum(), x, y)
