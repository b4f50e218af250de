r"""Learning-rate schedules: ``schedule(s)`` is the rate for step (or epoch) ``s = 0, 1, 2, ...``.

exponential :math:`\eta_0 e^{-ks}`, inverse-time :math:`\eta_0/(1+ks)`, step :math:`\eta_0\gamma^{\lfloor s/n\rfloor}`,
cyclical (triangular, Smith 2017) and cosine with warm restarts (SGDR, Loshchilov & Hutter 2017).
Apply one with ``optimizer.lr = schedule(s)``; the training loop does it once per epoch.
"""

from __future__ import annotations

import math

from autograd_viz.errors import ConfigError


def _positive(owner: str, name: str, value: float, allow_zero: bool = False) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{owner}: {name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return value


class Schedule:
    """Base class: a function of the step count ``s >= 0``."""

    def __call__(self, s: int) -> float:  # pragma: no cover - subclasses override
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class ExponentialDecay(Schedule):
    r""":math:`\eta_s = \eta_0 e^{-ks}`."""

    def __init__(self, lr: float, k: float) -> None:
        self.lr = _positive("ExponentialDecay", "lr", lr)
        self.k = _positive("ExponentialDecay", "k", k, allow_zero=True)

    def __call__(self, s: int) -> float:
        return self.lr * math.exp(-self.k * s)


class InverseTimeDecay(Schedule):
    r""":math:`\eta_s = \eta_0 / (1 + ks)`."""

    def __init__(self, lr: float, k: float) -> None:
        self.lr = _positive("InverseTimeDecay", "lr", lr)
        self.k = _positive("InverseTimeDecay", "k", k, allow_zero=True)

    def __call__(self, s: int) -> float:
        return self.lr / (1.0 + self.k * s)


class StepDecay(Schedule):
    r""":math:`\eta_s = \eta_0 \gamma^{\lfloor s / n \rfloor}` (multiply by gamma every ``step_size`` steps)."""

    def __init__(self, lr: float, step_size: int, gamma: float = 0.1) -> None:
        self.lr, self.gamma = _positive("StepDecay", "lr", lr), _positive("StepDecay", "gamma", gamma)
        if int(step_size) < 1:
            raise ConfigError(f"StepDecay: step_size must be >= 1, got {step_size}")
        self.step_size = int(step_size)

    def __call__(self, s: int) -> float:
        return self.lr * self.gamma ** (s // self.step_size)


class CyclicalLR(Schedule):
    """Triangular cycles between ``base_lr`` and ``max_lr``: up for ``step_size`` steps, down for as many."""

    def __init__(self, base_lr: float, max_lr: float, step_size: int) -> None:
        self.base_lr = _positive("CyclicalLR", "base_lr", base_lr, allow_zero=True)
        self.max_lr = _positive("CyclicalLR", "max_lr", max_lr)
        if self.max_lr < self.base_lr:
            raise ConfigError(f"CyclicalLR: need base_lr <= max_lr, got base_lr={base_lr}, max_lr={max_lr}")
        if int(step_size) < 1:
            raise ConfigError(f"CyclicalLR: step_size must be >= 1, got {step_size}")
        self.step_size = int(step_size)

    def __call__(self, s: int) -> float:
        cycle = math.floor(1 + s / (2 * self.step_size))
        x = abs(s / self.step_size - 2 * cycle + 1)
        return self.base_lr + (self.max_lr - self.base_lr) * max(0.0, 1.0 - x)


class CosineWarmRestarts(Schedule):
    r"""SGDR: :math:`\eta_{min} + \frac12(\eta_0-\eta_{min})(1+\cos(\pi T_{cur}/T_i))`, restarting to
    :math:`\eta_0` after :math:`T_i` steps, with :math:`T_{i+1} = T_{mult} T_i`."""

    def __init__(self, lr: float, t_0: int, t_mult: int = 1, eta_min: float = 0.0) -> None:
        self.lr = _positive("CosineWarmRestarts", "lr", lr)
        self.eta_min = _positive("CosineWarmRestarts", "eta_min", eta_min, allow_zero=True)
        if int(t_0) < 1 or int(t_mult) < 1:
            raise ConfigError(f"CosineWarmRestarts: need t_0 >= 1 and t_mult >= 1, got t_0={t_0}, t_mult={t_mult}")
        self.t_0, self.t_mult = int(t_0), int(t_mult)

    def __call__(self, s: int) -> float:
        t_i, t_cur = self.t_0, s
        while t_cur >= t_i:
            t_cur -= t_i
            t_i *= self.t_mult
        return self.eta_min + 0.5 * (self.lr - self.eta_min) * (1 + math.cos(math.pi * t_cur / t_i))


class Constant(Schedule):
    def __init__(self, lr: float) -> None:
        self.lr = _positive("Constant", "lr", lr, allow_zero=True)

    def __call__(self, s: int) -> float:
        return self.lr


SCHEDULES = ("constant", "exponential", "inverse-time", "step", "cyclical", "cosine-restarts")


def make_schedule(name: str, lr: float, epochs: int) -> Schedule:
    """A schedule by name with settings that suit ``epochs`` epochs (for the CLI's ``--schedule``)."""
    if name == "constant":
        return Constant(lr)
    if name == "exponential":
        return ExponentialDecay(lr, k=math.log(10.0) / max(epochs, 1))  # 10x lower by the end
    if name == "inverse-time":
        return InverseTimeDecay(lr, k=9.0 / max(epochs, 1))
    if name == "step":
        return StepDecay(lr, step_size=max(epochs // 3, 1), gamma=0.1)
    if name == "cyclical":
        return CyclicalLR(lr / 10.0, lr, step_size=max(epochs // 4, 1))
    if name == "cosine-restarts":
        return CosineWarmRestarts(lr, t_0=max(epochs // 3, 1), t_mult=2)
    raise ConfigError(f"make_schedule: unknown schedule {name!r} (expected one of {', '.join(SCHEDULES)})")
