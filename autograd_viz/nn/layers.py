"""Layers: Linear, activations, Dropout (inverted), BatchNorm1d (running statistics), and the ``mlp`` builder."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograd_viz.errors import ConfigError, OperandError, ShapeError
from autograd_viz.nn import init as initializers
from autograd_viz.nn.module import Module, Parameter, Sequential
from autograd_viz.ops import OPS
from autograd_viz.tensor import Tensor, apply_unchecked

_MATMUL, _ADD, _RELU = OPS["matmul"], OPS["add"], OPS["relu"]


def _as_tensor(x: Any, dtype: np.dtype, layer: str) -> Tensor:
    """Wrap array input (cast to the layer's dtype once, so float32 training never upcasts)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor(x if x.dtype == dtype else x.astype(dtype), role="input")
    raise OperandError(f"{layer}: expected a Tensor or ndarray input, got {type(x).__name__}")


class Linear(Module):
    """``x @ W + b`` with W stored (in_features, out_features); PyTorch's default init unless ``init`` is given."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = np.float32,
                 init: str = "default", nonlinearity: str = "relu", rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ConfigError(f"Linear: in_features and out_features must be >= 1, got {in_features} -> {out_features}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        rng = rng if rng is not None else np.random.default_rng()
        self.bias: Parameter | None
        self.weight = Parameter(np.empty((self.in_features, self.out_features), dtype=dtype))
        initializers.init_weight(self.weight, init, nonlinearity, rng)
        if bias:
            self.bias = Parameter(np.zeros(self.out_features, dtype=dtype))
            if init == "default":  # PyTorch: U(±1/sqrt(fan_in)) for the bias too
                bound = 1.0 / math.sqrt(self.in_features)
                initializers.uniform_(self.bias, -bound, bound, rng)
        else:
            self.bias = None

    def forward(self, x: Any) -> Tensor:
        weight = self.weight
        if type(x) is np.ndarray:  # the training hot path: a batch of inputs
            x = Tensor(x if x.dtype == weight.data.dtype else x.astype(weight.data.dtype), role="input")
        else:
            x = _as_tensor(x, weight.data.dtype, "Linear")
        shape = x.data.shape
        if len(shape) != 2 or shape[1] != self.in_features:
            raise ShapeError(f"Linear {self._prefix.rstrip('.')}: expected input (N, {self.in_features}), "
                             f"got {shape}")
        # Shapes are checked above, so go straight to the op table (the generic operators re-check them).
        out = apply_unchecked(_MATMUL, x, weight)
        return apply_unchecked(_ADD, out, self.bias) if self.bias is not None else out

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    def forward(self, x: Any) -> Any:
        return x


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return apply_unchecked(_RELU, x) if type(x) is Tensor else x.relu()


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        return x.leaky_relu(self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Dropout(Module):
    """Inverted dropout: in training zero each unit with probability p and scale the rest by 1/(1-p)."""

    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = rng if rng is not None else np.random.default_rng()

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype if x.dtype in (np.float32, np.float64) else np.float64)
        mask = (keep >= self.p).astype(x.dtype)
        mask *= x.dtype.type(1.0 / (1.0 - self.p))
        return x * Tensor(mask, role="const", name="dropout mask")

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BatchNorm1d(Module):
    """Normalise each feature over the batch, then scale and shift (γ, β).

    Training uses the batch mean and (biased) variance and updates running estimates with ``momentum``
    (the running variance uses the unbiased variance, as PyTorch does); evaluation uses the running estimates.
    """

    running_mean: np.ndarray  # buffers (saved with the parameters), set by register_buffer
    running_var: np.ndarray

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, dtype: Any = np.float32) -> None:
        super().__init__()
        if num_features < 1:
            raise ConfigError(f"BatchNorm1d: num_features must be >= 1, got {num_features}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        self.weight = Parameter(np.ones(num_features, dtype=dtype))
        self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype=dtype))

    def forward(self, x: Any) -> Tensor:
        x = _as_tensor(x, self.weight.dtype, "BatchNorm1d")
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ShapeError(f"BatchNorm1d: expected input (N, {self.num_features}), got {x.shape}")
        if not self.training:
            scale = 1.0 / np.sqrt(self.running_var + self.eps)
            shift = Tensor((-self.running_mean * scale).astype(x.dtype), role="const")
            return (x * Tensor(scale.astype(x.dtype), role="const") + shift) * self.weight + self.bias
        n = x.shape[0]
        if n < 2:
            raise ShapeError("BatchNorm1d: training needs more than 1 sample per batch (got 1)")
        mean = x.mean(axis=0)
        centered = x - mean
        var = (centered * centered).mean(axis=0)
        out = centered / (var + self.eps).sqrt() * self.weight + self.bias
        m = self.momentum
        self.running_mean *= 1.0 - m
        self.running_mean += m * mean.data
        self.running_var *= 1.0 - m
        self.running_var += (m * n / (n - 1)) * var.data
        return out

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "leaky_relu": LeakyReLU, "identity": Identity}


def mlp(sizes: list[int], activation: str = "relu", init: str = "he", dropout: float = 0.0,
        batchnorm: bool = False, dtype: Any = np.float32, seed: int | None = None,
        output_activation: str | None = None) -> Sequential:
    """A multilayer perceptron ``sizes[0] -> ... -> sizes[-1]``, layers named fc1, bn1, act1, drop1, ..., fcN.

    Each hidden block is Linear -> [BatchNorm1d] -> activation -> [Dropout]; the output layer has no
    activation unless ``output_activation`` is given (logits for cross-entropy). One ``seed`` fixes every
    weight and dropout mask.
    """
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ConfigError(f"mlp: sizes must be at least two layer sizes, all >= 1, got {sizes}")
    if activation not in ACTIVATIONS:
        raise ConfigError(f"mlp: unknown activation {activation!r} (expected one of {', '.join(ACTIVATIONS)})")
    weight_rng, dropout_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    nonlinearity = "linear" if activation == "identity" else activation
    model = Sequential()
    last = len(sizes) - 1
    for i in range(1, len(sizes)):
        model.add(f"fc{i}", Linear(sizes[i - 1], sizes[i], dtype=dtype, init=init, nonlinearity=nonlinearity,
                                   rng=weight_rng))
        if i < last:
            if batchnorm:
                model.add(f"bn{i}", BatchNorm1d(sizes[i], dtype=dtype))
            model.add(f"act{i}", ACTIVATIONS[activation]())
            if dropout > 0:
                model.add(f"drop{i}", Dropout(dropout, rng=dropout_rng))
    if output_activation is not None:
        if output_activation not in ACTIVATIONS:
            raise ConfigError(f"mlp: unknown output_activation {output_activation!r} "
                              f"(expected one of {', '.join(ACTIVATIONS)})")
        model.add("out", ACTIVATIONS[output_activation]())
    return model
