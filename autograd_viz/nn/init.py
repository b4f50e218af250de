"""Weight initialisers with PyTorch's ``nn.init`` formulas, filling a Tensor's array in place.

Weights here are stored ``(fan_in, fan_out)`` (``x @ W``), so ``fan_in = shape[0]``, ``fan_out = shape[1]``.
Every random initialiser takes ``rng`` (a ``numpy.random.Generator``) so a seed gives identical weights.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograd_viz.errors import ConfigError, ShapeError
from autograd_viz.tensor import Tensor

_GAINS = ("linear", "identity", "sigmoid", "tanh", "relu", "leaky_relu", "selu")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for an activation (PyTorch's table): relu √2, tanh 5/3, leaky_relu √(2/(1+a²))."""
    if nonlinearity in ("linear", "identity", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ConfigError(f"calculate_gain: unknown nonlinearity {nonlinearity!r} (expected one of {', '.join(_GAINS)})")


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight stored ``(in, out)``; extra trailing axes count as a receptive field."""
    if len(shape) < 2:
        raise ShapeError(f"init: fan in/out need a tensor with at least 2 dimensions, got shape {tuple(shape)}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[0] * receptive, shape[1] * receptive


def _array(t: Any) -> np.ndarray:
    return t.data if isinstance(t, Tensor) else t


def _rng(rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else np.random.default_rng()


def zeros_(t: Any) -> Any:
    """Fill with 0 (every hidden unit then computes the same thing: the symmetry problem)."""
    _array(t)[...] = 0.0
    return t


def constant_(t: Any, value: float) -> Any:
    _array(t)[...] = value
    return t


def uniform_(t: Any, a: float = 0.0, b: float = 1.0, rng: np.random.Generator | None = None) -> Any:
    """Fill with U(a, b)."""
    if not b >= a:
        raise ConfigError(f"uniform_: need a <= b, got a={a}, b={b}")
    arr = _array(t)
    arr[...] = _rng(rng).uniform(a, b, size=arr.shape)
    return t


def normal_(t: Any, mean: float = 0.0, std: float = 1.0, rng: np.random.Generator | None = None) -> Any:
    """Fill with N(mean, std²)."""
    if std < 0:
        raise ConfigError(f"normal_: std must be >= 0, got {std}")
    arr = _array(t)
    arr[...] = _rng(rng).normal(mean, std, size=arr.shape)
    return t


def xavier_uniform_(t: Any, gain: float = 1.0, rng: np.random.Generator | None = None) -> Any:
    """Glorot: U(-a, a) with a = gain·√(6/(fan_in+fan_out))."""
    fan_in, fan_out = fans(_array(t).shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, rng)


def xavier_normal_(t: Any, gain: float = 1.0, rng: np.random.Generator | None = None) -> Any:
    """Glorot: N(0, std²) with std = gain·√(2/(fan_in+fan_out))."""
    fan_in, fan_out = fans(_array(t).shape)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def _kaiming_std(shape: tuple[int, ...], a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ConfigError(f"kaiming: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fans(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(t: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     rng: np.random.Generator | None = None) -> Any:
    """He: U(-b, b) with b = gain·√(3/fan)."""
    bound = math.sqrt(3.0) * _kaiming_std(_array(t).shape, a, mode, nonlinearity)
    return uniform_(t, -bound, bound, rng)


def kaiming_normal_(t: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    rng: np.random.Generator | None = None) -> Any:
    """He: N(0, std²) with std = gain/√fan."""
    return normal_(t, 0.0, _kaiming_std(_array(t).shape, a, mode, nonlinearity), rng)


# Glorot / He aliases (the names the lecture notes use), and the same functions without PyTorch's trailing "_".
glorot_uniform_, glorot_normal_ = xavier_uniform_, xavier_normal_
he_uniform_, he_normal_ = kaiming_uniform_, kaiming_normal_
zeros, constant, uniform, normal = zeros_, constant_, uniform_, normal_
xavier_uniform, xavier_normal, glorot_uniform, glorot_normal = xavier_uniform_, xavier_normal_, xavier_uniform_, \
    xavier_normal_
kaiming_uniform, kaiming_normal, he_uniform, he_normal = kaiming_uniform_, kaiming_normal_, kaiming_uniform_, \
    kaiming_normal_

#: Schemes by name for ``init_weights`` and the CLI's ``--init``.
SCHEMES = ("default", "zeros", "uniform", "normal", "xavier", "xavier_uniform", "glorot", "he", "he_uniform",
           "kaiming")


def init_weight(t: Any, scheme: str, nonlinearity: str = "relu", rng: np.random.Generator | None = None) -> Any:
    """Fill a weight by scheme name: zeros, uniform (U[0,1]), normal (N(0,1)), xavier (Glorot, gain 1), he, ...

    ``default`` is PyTorch's Linear default, U(±1/√fan_in).
    """
    slope = 0.01 if nonlinearity == "leaky_relu" else 0.0
    if scheme == "zeros":
        return zeros_(t)
    if scheme == "uniform":
        return uniform_(t, 0.0, 1.0, rng)
    if scheme == "normal":
        return normal_(t, 0.0, 1.0, rng)
    if scheme in ("xavier", "glorot"):
        return xavier_normal_(t, 1.0, rng)
    if scheme == "xavier_uniform":
        return xavier_uniform_(t, 1.0, rng)
    if scheme in ("he", "kaiming"):
        return kaiming_normal_(t, slope, "fan_in", nonlinearity, rng)
    if scheme == "he_uniform":
        return kaiming_uniform_(t, slope, "fan_in", nonlinearity, rng)
    if scheme == "default":
        return kaiming_uniform_(t, math.sqrt(5.0), "fan_in", "leaky_relu", rng)
    raise ConfigError(f"init: unknown scheme {scheme!r} (expected one of {', '.join(SCHEMES)})")
