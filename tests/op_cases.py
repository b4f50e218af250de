"""One test case builder per op of the op table, shared by the finite-difference, float32 and parity tests.

A builder takes a :class:`Pick` (random choices: from Hypothesis in property tests, from a seeded NumPy
generator elsewhere) and returns ``(fn, arrays)``: ``fn(*tensors)`` builds the op through the public API,
``arrays`` are the float64 inputs to differentiate. Values stay away from kinks, poles and ties.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_viz.functional as F

Case = tuple[Callable[..., Any], list[np.ndarray]]


class Pick:
    """Random choices from a seeded NumPy generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def integer(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))

    def choice(self, options: list) -> Any:
        return options[self.integer(0, len(options) - 1)]

    def shape(self, min_dims: int = 0, max_dims: int = 3, max_side: int = 4) -> tuple[int, ...]:
        return tuple(self.integer(1, max_side) for _ in range(self.integer(min_dims, max_dims)))

    def broadcast_pair(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        full = self.shape(0, 3, 3)
        a = tuple(1 if self.integer(0, 3) == 0 else s for s in full)
        b = tuple(1 if self.integer(0, 3) == 0 else s for s in full)
        return a[self.integer(0, len(a)):], b  # drop leading axes of one side sometimes

    def values(self, shape: tuple[int, ...], positive: bool = False, lo: float = 0.3, hi: float = 2.0) -> np.ndarray:
        """Float64 values with ``lo <= |x| <= hi`` (random signs unless ``positive``), all distinct."""
        size = int(np.prod(shape, dtype=np.int64))
        magnitudes = lo + (hi - lo) * (np.arange(size) + self.rng.uniform(0.1, 0.9, size)) / max(size, 1)
        magnitudes = self.rng.permutation(magnitudes)
        signs = 1.0 if positive else self.rng.choice([-1.0, 1.0], size)
        return (magnitudes * signs).reshape(shape)


class HypothesisPick(Pick):
    """Choices drawn by Hypothesis (so failures shrink); array values from a drawn seed."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data
        super().__init__(data.draw(st.integers(0, 2**32 - 1), label="seed"))

    def integer(self, lo: int, hi: int) -> int:
        return self.data.draw(st.integers(lo, hi))

    def shape(self, min_dims: int = 0, max_dims: int = 3, max_side: int = 4) -> tuple[int, ...]:
        return self.data.draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side),
                              label="shape")

    def broadcast_pair(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        shapes = self.data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
                                label="shapes")
        return shapes.input_shapes


def _binary(fn: Callable, positive_left: bool = False, nonzero_right: bool = True) -> Callable[[Pick], Case]:
    def build(pick: Pick) -> Case:
        sa, sb = pick.broadcast_pair()
        return fn, [pick.values(sa, positive=positive_left), pick.values(sb, lo=0.5 if nonzero_right else 0.3)]
    return build


def _unary(fn: Callable, positive: bool = False) -> Callable[[Pick], Case]:
    def build(pick: Pick) -> Case:
        return fn, [pick.values(pick.shape(), positive=positive)]
    return build


def _powc(pick: Pick) -> Case:
    p = pick.choice([2, 3, -1, 0.5, 1.5, -2.5])
    return (lambda x: x**p), [pick.values(pick.shape(), positive=not float(p).is_integer())]


def _leaky_relu(pick: Pick) -> Case:
    alpha = pick.choice([0.01, 0.2, 0.5])
    return (lambda x: F.leaky_relu(x, alpha)), [pick.values(pick.shape())]


def _matmul(pick: Pick) -> Case:
    n, k, m, b = (pick.integer(1, 4) for _ in range(4))
    sa, sb = pick.choice([((n, k), (k, m)), ((k,), (k, m)), ((n, k), (k,)), ((k,), (k,)), ((b, n, k), (k, m)),
                          ((b, 1, n, k), (2, k, m)), ((n, k), (b, k, m))])
    return (lambda x, y: x @ y), [pick.values(sa), pick.values(sb)]


def _axis_and_keepdims(pick: Pick, ndim: int) -> tuple[Any, bool]:
    kind = pick.integer(0, 2) if ndim else 0
    if kind == 0:
        axis: Any = None
    elif kind == 1:
        axis = pick.integer(-ndim, ndim - 1)
    else:
        axis = tuple(sorted({pick.integer(0, ndim - 1) for _ in range(pick.integer(1, ndim))}))
    return axis, bool(pick.integer(0, 1))


def _reduction(method: str) -> Callable[[Pick], Case]:
    def build(pick: Pick) -> Case:
        shape = pick.shape(1, 3)
        axis, keepdims = _axis_and_keepdims(pick, len(shape))
        return (lambda x: getattr(x, method)(axis=axis, keepdims=keepdims)), [pick.values(shape)]
    return build


def _reshape(pick: Pick) -> Case:
    shape = pick.shape(1, 3)
    target = pick.choice([(-1,), tuple(reversed(shape)), (1, *shape), (int(np.prod(shape)), 1)])
    return (lambda x: x.reshape(target)), [pick.values(shape)]


def _transpose(pick: Pick) -> Case:
    shape = pick.shape(1, 4)
    if pick.integer(0, 1):
        return (lambda x: x.T), [pick.values(shape)]
    axes = tuple(int(a) for a in pick.rng.permutation(len(shape)))
    return (lambda x: x.transpose(axes)), [pick.values(shape)]


def _getitem(pick: Pick) -> Case:
    shape = (pick.integer(2, 5), pick.integer(1, 4))
    n = shape[0]
    index = pick.choice([
        1, -1, slice(None, None, -1), slice(1, None, 2), (slice(None), 0), (Ellipsis, None, 0),
        np.array([0, n - 1, 0, 1]),  # repeated rows accumulate
        pick.rng.integers(0, 2, shape).astype(bool) | np.eye(*shape, dtype=bool),  # a boolean mask
        (np.array([1, 0, 1]), np.array([0, 0, 0])),  # fancy indexing, repeated element
    ])
    return (lambda x: x[index]), [pick.values(shape)]


def _softmax(name: str) -> Callable[[Pick], Case]:
    def build(pick: Pick) -> Case:
        shape = pick.shape(1, 3)
        axis = pick.integer(-len(shape), len(shape) - 1)
        return (lambda x: getattr(F, name)(x, axis=axis)), [pick.values(shape)]
    return build


def _cross_entropy(pick: Pick) -> Case:
    n, c = pick.integer(1, 5), pick.integer(2, 5)
    smoothing = pick.choice([0.0, 0.1])
    reduction = pick.choice(["mean", "sum", "none"])
    kind = pick.integer(0, 2)
    if kind == 0:
        target: Any = pick.rng.integers(0, c, n)
    elif kind == 1:
        target = np.eye(c)[pick.rng.integers(0, c, n)]  # one-hot rows
    else:
        target = pick.rng.dirichlet(np.ones(c), n)  # soft targets
    return (lambda x: F.cross_entropy(x, target, label_smoothing=smoothing, reduction=reduction)), \
        [pick.values((n, c))]


def _mse(pick: Pick) -> Case:
    shape = pick.shape(1, 3)
    reduction = pick.choice(["mean", "sum", "none"])
    return (lambda x, y: F.mse_loss(x, y, reduction=reduction)), [pick.values(shape), pick.values(shape)]


CASES: dict[str, Callable[[Pick], Case]] = {
    "add": _binary(lambda a, b: a + b, nonzero_right=False),
    "sub": _binary(lambda a, b: a - b, nonzero_right=False),
    "neg": _unary(lambda a: -a),
    "mul": _binary(lambda a, b: a * b, nonzero_right=False),
    "div": _binary(lambda a, b: a / b),
    "pow": _binary(lambda a, b: a**b, positive_left=True),
    "powc": _powc,
    "exp": _unary(lambda a: a.exp()),
    "log": _unary(lambda a: a.log(), positive=True),
    "sqrt": _unary(lambda a: a.sqrt(), positive=True),
    "abs": _unary(abs),
    "tanh": _unary(F.tanh),
    "sigmoid": _unary(F.sigmoid),
    "relu": _unary(F.relu),
    "leaky_relu": _leaky_relu,
    "sin": _unary(F.sin),
    "cos": _unary(lambda a: a.cos()),
    "erf": _unary(F.erf),
    "Phi": _unary(lambda a: a.Phi()),
    "softplus": _unary(F.softplus),
    "step": _unary(lambda a: a.step()),  # |x| >= 0.3: away from the jump, where the derivative is 0
    "sign": _unary(F.sign),
    "matmul": _matmul,
    "sum": _reduction("sum"),
    "mean": _reduction("mean"),
    "max": _reduction("max"),
    "reshape": _reshape,
    "transpose": _transpose,
    "getitem": _getitem,
    "softmax": _softmax("softmax"),
    "log_softmax": _softmax("log_softmax"),
    "cross_entropy": _cross_entropy,
    "mse_loss": _mse,
}


# --- random graphs: a "program" of steps over a growing pool, run on any engine (ours, torch) ---------------
N = 4  # every tensor in the random tensor graphs is N x N, so any step can follow any other

#: name -> (arity, fn); each fn works on Value and on 0-d torch tensors alike and stays inside every domain.
SCALAR_STEPS: dict[str, tuple[int, Callable[..., Any]]] = {
    "add": (2, lambda a, b: a + b),
    "sub": (2, lambda a, b: a - b),
    "mul": (2, lambda a, b: a * b),
    "div": (2, lambda a, b: a / (b * b + 1.0)),
    "pow": (2, lambda a, b: (a * a + 0.5) ** (b * 0.3)),
    "rpow": (1, lambda a: 1.5 ** (a * 0.2)),
    "numbers": (1, lambda a: 2 - a * 3 + 1 / (a * a + 2)),
    "powc": (1, lambda a: (a * a + 1.0) ** 0.5 + a**2),
    "neg": (1, lambda a: -a),
    "exp": (1, lambda a: (a * 0.3).exp()),
    "log": (1, lambda a: (a * a + 0.1).log()),
    "sqrt": (1, lambda a: (a * a + 0.1).sqrt()),
    "abs": (1, abs),
    "tanh": (1, lambda a: a.tanh()),
    "sigmoid": (1, lambda a: a.sigmoid()),
    "relu": (1, lambda a: a.relu()),
    "sin": (1, lambda a: a.sin()),
    "cos": (1, lambda a: a.cos() * 2),
    "erf": (1, lambda a: a.erf()),
    # Phi, softplus and step are not methods of torch tensors: test_torch_parity.TORCH_SCALAR_STEPS has their twins
    "Phi": (1, lambda a: a.Phi() - a * 0.5),
    "softplus": (1, lambda a: a.softplus()),
    "step": (1, lambda a: a + a.step()),  # the step adds no gradient: a's own keeps the path alive
    "sign": (1, lambda a: a * 0.5 + a.sign()),
}

#: name -> (arity, fn) on (N, N) Tensors; test_torch_parity pairs each with its PyTorch twin.
TENSOR_STEPS: dict[str, tuple[int, Callable[..., Any]]] = {
    "add": (2, lambda a, b: a + b),
    "sub": (2, lambda a, b: a - b),
    "mul": (2, lambda a, b: a * b),
    "div": (2, lambda a, b: a / (b * b + 1.0)),
    "pow": (2, lambda a, b: (a * a + 0.5) ** (b * 0.3)),
    "rsub-number": (1, lambda a: 2.0 - a / 3),
    "powc": (1, lambda a: (a * a + 1.0) ** -1.5 + a**3 * 0.1),
    "neg": (1, lambda a: -a),
    "exp": (1, lambda a: (a * 0.3).exp()),
    "log": (1, lambda a: (a * a + 0.1).log()),
    "sqrt": (1, lambda a: (a * a + 0.1).sqrt()),
    "abs": (1, abs),
    "tanh": (1, F.tanh),
    "sigmoid": (1, F.sigmoid),
    "relu": (1, F.relu),
    "leaky_relu": (1, lambda a: F.leaky_relu(a, 0.1)),
    "sin": (1, F.sin),
    "cos": (1, lambda a: F.cos(a) * 2),
    "erf": (1, F.erf),
    "Phi": (1, lambda a: F.Phi(a) - a * 0.5),
    "gelu": (1, F.gelu),
    "softplus": (1, F.softplus),
    "step": (1, lambda a: a + F.step(a)),
    "sign": (1, lambda a: a * 0.5 + F.sign(a)),
    "matmul": (2, lambda a, b: a @ b * 0.5),
    "sum": (1, lambda a: a + a.sum(axis=0, keepdims=True) * 0.1),
    "mean": (1, lambda a: a - a.mean(axis=1, keepdims=True) + a.mean()),
    "max": (1, lambda a: a - a.max(axis=1, keepdims=True) + a.max()),
    "reshape": (1, lambda a: a.reshape(-1)[::-1].reshape(N, N)),
    "transpose": (1, lambda a: a.T),
    "getitem": (1, lambda a: a[np.array([0, 0, 3, 1])]),
    "softmax": (1, lambda a: F.softmax(a, axis=0)),
    "log_softmax": (1, lambda a: F.log_softmax(a, axis=1)),
}

Program = list[tuple[str, tuple[int, ...]]]


def random_program(seed: int, steps: dict[str, tuple[int, Callable]], leaves: int, length: int) -> Program:
    """Steps ``(name, input positions)`` over a pool that starts with ``leaves`` inputs and grows by one per
    step; inputs are drawn with reuse, so intermediates feed several steps. The first steps rotate with
    ``seed`` so that a range of seeds uses every step."""
    rng = random.Random(seed)
    names = list(steps)
    program = []
    for k in range(length):
        name = names[(seed * 3 + k) % len(names)] if k < 3 else rng.choice(names)
        program.append((name, tuple(rng.randrange(leaves + k) for _ in range(steps[name][0]))))
    return program


def run_program(program: Program, inputs: list, fns: dict[str, Callable], hook: Callable = lambda x: x) -> list:
    """The pool after running ``program`` on ``inputs`` with ``fns[name]``; ``hook`` sees each new node."""
    pool = list(inputs)
    for name, positions in program:
        pool.append(hook(fns[name](*(pool[i] for i in positions))))
    return pool
