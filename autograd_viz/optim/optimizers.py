r"""Optimizers with PyTorch's update rules: SGD (+momentum, Nesterov), Adagrad, RMSprop, Adam, Adamax.

Each ``step()`` updates ``p.data`` in place from ``p.grad`` (never modified) with in-place NumPy ops into
preallocated scratch arrays, so a step allocates nothing; when every parameter has a gradient, one pass over flat
buffers updates them all. Weight decay is the L2 form, ``g + λw``.
In float32, state values below 1e-30 are flushed to zero every 16 steps: moving averages of gradients that
have become exactly zero would otherwise decay into subnormal floats, which make NumPy 6-9x slower.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from autograd_viz.errors import ConfigError, OptimizerError
from autograd_viz.tensor import Tensor

FLUSH_EVERY = 16
FLUSH_BELOW = 1e-30
#: version of what ``state_dict`` returns. 2: Adam keeps ``exp_avg``/``exp_avg_sq`` as PyTorch does; states
#: without a version (1) held them divided by (1 - beta), and :meth:`Adam.load_state_dict` converts them.
STATE_VERSION = 2


def flush_tiny(arr: np.ndarray, tmp: np.ndarray, small: np.ndarray | None = None) -> None:
    """Set the entries of ``arr`` below ``FLUSH_BELOW`` in magnitude to 0, in place (``tmp``: a float scratch of
    its shape; ``small``: an optional bool one). Shared by the optimizers and the compiled step's Adam."""
    np.abs(arr, out=tmp)
    np.copyto(arr, 0.0, where=np.less(tmp, FLUSH_BELOW, out=small))


def _check(owner: str, name: str, value: float, low: float = 0.0, high: float | None = None,
           open_high: bool = False) -> float:
    """``value`` as a float, or a ConfigError naming ``owner``'s setting when it is not finite and in range."""
    value = float(value)
    bad = not math.isfinite(value) or value < low or (high is not None and (value >= high if open_high
                                                                          else value > high))
    if bad:
        bound = f"in [{low}, {high}{')' if open_high else ']'}" if high is not None else f">= {low}"
        raise ConfigError(f"{owner}: {name} must be {bound}, got {value}")
    return value


class _Flat:
    """One contiguous buffer per state key, plus gradient and scratch buffers, with a view per parameter."""

    def __init__(self, params: list[Tensor], keys: tuple[str, ...], step: int) -> None:
        sizes = [p.size for p in params]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        dtype = params[0].dtype

        def views(buffer: np.ndarray) -> list[np.ndarray]:
            return [buffer[a:b].reshape(p.shape) for a, b, p in zip(offsets, offsets[1:], params, strict=False)]

        total = offsets[-1]
        self.grad, self.tmp = np.empty(total, dtype), np.empty(total, dtype)
        self.grad_views, self.tmp_views = views(self.grad), views(self.tmp)
        self.state: dict[str, Any] = {"step": step}
        per_key = {}
        for key in keys:
            self.state[key] = np.zeros(total, dtype)
            per_key[key] = views(self.state[key])
        self.state_views = [{key: per_key[key][i] for key in keys} for i in range(len(params))]


class Optimizer:
    """Base: holds the parameters, per-parameter state and scratch arrays; subclasses write ``_update``."""

    #: names of per-parameter state arrays (zeros at the first step unless ``_init_state`` says otherwise)
    state_keys: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Tensor], lr: float, weight_decay: float = 0.0) -> None:
        self.params = list(params)
        owner = type(self).__name__
        if not self.params:
            raise OptimizerError(f"{owner}: got an empty parameter list (pass model.parameters())")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad or p.op is not None:
                raise OptimizerError(f"{owner}: parameter {i} ({getattr(p, 'name', p)!r}) is not a leaf "
                                     "Tensor that requires grad")
        seen: dict[int, int] = {}
        for i, p in enumerate(self.params):
            if id(p) in seen:
                raise OptimizerError(f"{owner}: parameters {seen[id(p)]} and {i} are the same Tensor "
                                     f"({p.name!r}); pass each parameter once")
            seen[id(p)] = i
        self.lr = _check(owner, "lr", lr)
        self.weight_decay = _check(owner, "weight_decay", weight_decay)
        self.step_count = 0
        self.state: list[dict[str, Any]] = [{} for _ in self.params]
        self._scratch: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(self.params)
        self._flat: _Flat | None = None
        self._flat_possible = len({p.dtype for p in self.params}) == 1

    def zero_grad(self) -> None:
        """Forget the gradients (leaves accumulate across backward calls)."""
        for p in self.params:
            p.grad = None

    def _init_state(self, p: np.ndarray) -> dict[str, Any]:
        return {"step": 0, **{k: np.zeros_like(p) for k in self.state_keys}}

    def step(self) -> None:
        """One update of every parameter that has a gradient.

        When every parameter has a gradient the update runs once over all of them (state, gradients and
        scratch live in one flat buffer each, with per-parameter views), which saves NumPy calls per step.
        """
        self.step_count += 1
        grads = [p.grad for p in self.params]
        flat_ok = self._flat_possible and all(g is not None for g in grads)
        if flat_ok and (self._flat is not None or self._make_flat()):
            self._flat_step(grads)
        else:
            self._flat = None  # per-parameter steps may now differ; _make_flat re-checks before flattening again
            self._param_steps(grads)
        if self.step_count % FLUSH_EVERY == 0:
            self.flush_subnormals()

    def _param_steps(self, grads: list[np.ndarray | None]) -> None:
        wd = self.weight_decay
        for i, (p, g) in enumerate(zip(self.params, grads, strict=True)):
            if g is None:
                continue
            data = p.data
            scratch = self._scratch[i]
            if scratch is None:
                scratch = self._scratch[i] = (np.empty_like(data), np.empty_like(data))
            st = self.state[i]
            if not st:
                st.update(self._init_state(data))
            st["step"] += 1
            if wd:
                g = np.multiply(data, wd, out=scratch[0])
                g += p.grad
            data -= self._update(g, st, scratch[1])

    def _make_flat(self) -> bool:
        """Move the state into flat buffers (possible while every parameter is at the same step)."""
        for i, p in enumerate(self.params):
            if not self.state[i]:
                self.state[i].update(self._init_state(p.data))
        steps = {st["step"] for st in self.state}
        keys = {tuple(sorted(k for k in st if k != "step")) for st in self.state}
        if len(steps) != 1 or len(keys) != 1:
            return False
        flat = _Flat(self.params, next(iter(keys)), steps.pop())
        for st, views in zip(self.state, flat.state_views, strict=True):
            for key, view in views.items():
                np.copyto(view, st[key])
                st[key] = view
        self._flat = flat
        for i, (g_view, t_view) in enumerate(zip(flat.grad_views, flat.tmp_views, strict=True)):
            self._scratch[i] = (g_view, t_view)
        return True

    def _flat_step(self, grads: list[np.ndarray]) -> None:
        flat = self._flat
        assert flat is not None  # step() calls this only once the flat buffers exist
        for g, view in zip(grads, flat.grad_views, strict=True):
            np.copyto(view, g)
        if self.weight_decay:
            for p, g_view, t_view in zip(self.params, flat.grad_views, flat.tmp_views, strict=True):
                np.multiply(p.data, self.weight_decay, out=t_view)
                g_view += t_view
        flat.state["step"] += 1
        for st in self.state:
            st["step"] += 1
        delta = self._update(flat.grad, flat.state, flat.tmp)
        if delta is not flat.tmp:  # pragma: no cover - every _update returns its tmp
            raise AssertionError("optimizer: _update must return tmp")
        for p, view in zip(self.params, flat.tmp_views, strict=True):
            p.data -= view

    def _update(self, g: np.ndarray, st: dict[str, Any], tmp: np.ndarray) -> np.ndarray:
        """Update the state ``st`` from gradient ``g`` and return the step (written into ``tmp``): p -= step."""
        raise NotImplementedError  # pragma: no cover

    def flush_subnormals(self) -> None:
        """Set float32/float16 state entries below 1e-30 in magnitude to 0 (they are far below any update)."""
        if self._flat is not None:
            groups = [(self._flat.state, self._flat.tmp)]
        else:
            groups = [(st, sc[1]) for st, sc in zip(self.state, self._scratch, strict=True) if sc is not None]
        for st, tmp in groups:
            for arr in st.values():
                if isinstance(arr, np.ndarray) and arr.dtype.itemsize < 8:
                    flush_tiny(arr, tmp)

    # --- state for checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"version", "step_count", "lr", "params": [{"step": n, key: array, ...} per parameter]}`` (copies)."""
        return {"version": STATE_VERSION, "step_count": self.step_count, "lr": self.lr,
                "params": [{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in st.items()}
                           for st in self.state]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (shapes must match the parameters); a state without
        ``version`` is taken as version 1 and converted."""
        params = state["params"]
        owner = type(self).__name__
        version = int(state.get("version", 1))
        if version > STATE_VERSION:
            raise OptimizerError(f"{owner}.load_state_dict: state version {version} is newer than this library's "
                                 f"{STATE_VERSION}; upgrade autograd-viz to load it")
        if len(params) != len(self.params):
            raise OptimizerError(f"{owner}.load_state_dict: the state has {len(params)} parameters, the optimizer "
                                 f"has {len(self.params)}")
        for p, st in zip(self.params, params, strict=True):
            for k, v in st.items():
                if isinstance(v, np.ndarray) and v.shape != p.shape:
                    raise OptimizerError(f"{owner}.load_state_dict: state {k!r} of {p.name!r} has shape "
                                         f"{v.shape}, the parameter has {p.shape}")
        self.step_count = int(state["step_count"])
        self.lr = float(state["lr"])
        self.state = [{k: (np.array(v, dtype=p.dtype) if isinstance(v, np.ndarray) else int(v))
                       for k, v in st.items()} for p, st in zip(self.params, params, strict=True)]
        if version < STATE_VERSION:
            for st in self.state:
                self._upgrade_state(st)
        self._flat = None  # rebuilt from these arrays at the next step
        self._scratch = [None] * len(self.params)

    def _upgrade_state(self, st: dict[str, Any]) -> None:
        """Convert one parameter's version-1 state in place (only Adam's changed)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr}, weight_decay={self.weight_decay}, {len(self.params)} params)"


class SGD(Optimizer):
    r"""SGD, with optional momentum :math:`b \leftarrow \mu b + (1-\tau)g` and Nesterov :math:`g + \mu b`.

    With constant lr this is the lecture's :math:`v \leftarrow \gamma v - \eta g,\ w \leftarrow w + v`
    (:math:`v = -\eta b`).
    """

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-2, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay)
        self.momentum = _check("SGD", "momentum", momentum, 0.0, 1.0, open_high=True)
        self.dampening = _check("SGD", "dampening", dampening, 0.0, 1.0)
        if nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ConfigError(f"SGD: Nesterov momentum needs momentum > 0 and dampening = 0, got "
                              f"momentum={self.momentum}, dampening={self.dampening}")
        self.nesterov = bool(nesterov)

    def _init_state(self, p: np.ndarray) -> dict[str, Any]:
        return {"step": 0, **({"momentum_buffer": np.zeros_like(p)} if self.momentum else {})}

    def _update(self, g: np.ndarray, st: dict[str, Any], tmp: np.ndarray) -> np.ndarray:
        mu = self.momentum
        if mu:
            buf = st["momentum_buffer"]
            if st["step"] == 1:
                np.copyto(buf, g)
            else:
                buf *= mu
                if self.dampening:
                    np.multiply(g, 1.0 - self.dampening, out=tmp)
                    buf += tmp
                else:
                    buf += g
            if self.nesterov:
                np.multiply(buf, mu, out=tmp)
                tmp += g
                g = tmp
            else:
                g = buf
        np.multiply(g, self.lr, out=tmp)
        return tmp


class Adagrad(Optimizer):
    r""":math:`G \leftarrow G + g^2,\ w \leftarrow w - \frac{\eta_t}{\sqrt{G}+\epsilon} g` with
    :math:`\eta_t = \eta / (1 + (t-1)\,\text{lr\_decay})`."""

    state_keys: tuple[str, ...] = ("sum",)

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> None:
        super().__init__(params, lr, weight_decay)
        self.lr_decay = _check("Adagrad", "lr_decay", lr_decay)
        self.initial_accumulator_value = _check("Adagrad", "initial_accumulator_value", initial_accumulator_value)
        self.eps = _check("Adagrad", "eps", eps)

    def _init_state(self, p: np.ndarray) -> dict[str, Any]:
        return {"step": 0, "sum": np.full_like(p, self.initial_accumulator_value)}

    def _update(self, g: np.ndarray, st: dict[str, Any], tmp: np.ndarray) -> np.ndarray:
        clr = self.lr / (1.0 + (st["step"] - 1) * self.lr_decay)
        s = st["sum"]
        np.multiply(g, g, out=tmp)
        s += tmp
        np.sqrt(s, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        tmp *= clr
        return tmp


class RMSprop(Optimizer):
    r""":math:`s \leftarrow \alpha s + (1-\alpha) g^2,\ w \leftarrow w - \eta\, g / (\sqrt{s} + \epsilon)`;
    optional momentum on the scaled step, and ``centered`` (subtract the squared mean gradient)."""

    state_keys: tuple[str, ...] = ("square_avg",)

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(params, lr, weight_decay)
        self.alpha = _check("RMSprop", "alpha", alpha, 0.0, 1.0)
        self.eps = _check("RMSprop", "eps", eps)
        self.momentum = _check("RMSprop", "momentum", momentum, 0.0, 1.0, open_high=True)
        self.centered = bool(centered)
        self.state_keys = ("square_avg",) + (("momentum_buffer",) if self.momentum else ()) + \
            (("grad_avg",) if self.centered else ())

    def _update(self, g: np.ndarray, st: dict[str, Any], tmp: np.ndarray) -> np.ndarray:
        a = self.alpha
        sq = st["square_avg"]
        sq *= a
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - a
        sq += tmp
        if self.centered:
            ga = st["grad_avg"]
            ga *= a
            np.multiply(g, 1.0 - a, out=tmp)
            ga += tmp
            np.multiply(ga, ga, out=tmp)
            np.subtract(sq, tmp, out=tmp)
            np.sqrt(tmp, out=tmp)
        else:
            np.sqrt(sq, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        if self.momentum:
            buf = st["momentum_buffer"]
            buf *= self.momentum
            buf += tmp
            np.multiply(buf, self.lr, out=tmp)
        else:
            tmp *= self.lr
        return tmp


class Adam(Optimizer):
    r""":math:`m \leftarrow \beta_1 m + (1-\beta_1)g,\ v \leftarrow \beta_2 v + (1-\beta_2)g^2,\
    w \leftarrow w - \frac{\eta}{1-\beta_1^t}\, m / (\sqrt{v/(1-\beta_2^t)} + \epsilon)` (optional AMSGrad).

    The state holds :math:`m` as ``exp_avg`` and :math:`v` as ``exp_avg_sq`` (with AMSGrad, the running maximum
    of :math:`v` as ``max_exp_avg_sq``): the same keys and values as ``torch.optim.Adam``'s state.
    """

    state_keys: tuple[str, ...] = ("exp_avg", "exp_avg_sq")

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, lr, weight_decay)
        self.beta1 = _check("Adam", "beta1", betas[0], 0.0, 1.0, open_high=True)
        self.beta2 = _check("Adam", "beta2", betas[1], 0.0, 1.0, open_high=True)
        self.eps = _check("Adam", "eps", eps)
        self.amsgrad = bool(amsgrad)
        if self.amsgrad:
            self.state_keys = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def _update(self, g: np.ndarray, st: dict[str, Any], tmp: np.ndarray) -> np.ndarray:
        b1, b2, t = self.beta1, self.beta2, st["step"]
        m, v = st["exp_avg"], st["exp_avg_sq"]
        m *= b1  # m = b1 m + (1 - b1) g
        np.multiply(g, 1.0 - b1, out=tmp)
        m += tmp
        v *= b2  # v = b2 v + (1 - b2) g²
        np.multiply(g, 1.0 - b2, out=tmp)
        tmp *= g
        v += tmp
        if self.amsgrad:
            v = np.maximum(st["max_exp_avg_sq"], v, out=st["max_exp_avg_sq"])
        # step = lr/(1-b1^t) · m / (sqrt(v/(1-b2^t)) + eps) = lr·c/(1-b1^t) · m / (sqrt(v) + eps·c), c = sqrt(1-b2^t)
        c = math.sqrt(1.0 - b2**t)
        np.sqrt(v, out=tmp)
        tmp += self.eps * c
        np.divide(m, tmp, out=tmp)
        tmp *= self.lr * c / (1.0 - b1**t)
        return tmp

    def _upgrade_state(self, st: dict[str, Any]) -> None:
        """Version 1 kept exp_avg = m/(1-b1) and exp_avg_sq (and its maximum) = v/(1-b2)."""
        if "exp_avg" in st:
            st["exp_avg"] *= 1.0 - self.beta1
        for key in ("exp_avg_sq", "max_exp_avg_sq"):
            if key in st:
                st[key] *= 1.0 - self.beta2


class Adamax(Optimizer):
    r"""Adam with the infinity norm: :math:`u \leftarrow \max(\beta_2 u, |g| + \epsilon)`,
    :math:`w \leftarrow w - \frac{\eta}{1-\beta_1^t}\, m / u`."""

    state_keys: tuple[str, ...] = ("exp_avg", "exp_inf")

    def __init__(self, params: Iterable[Tensor], lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay)
        self.beta1 = _check("Adamax", "beta1", betas[0], 0.0, 1.0, open_high=True)
        self.beta2 = _check("Adamax", "beta2", betas[1], 0.0, 1.0, open_high=True)
        self.eps = _check("Adamax", "eps", eps)

    def _update(self, g: np.ndarray, st: dict[str, Any], tmp: np.ndarray) -> np.ndarray:
        b1, t = self.beta1, st["step"]
        m, u = st["exp_avg"], st["exp_inf"]
        m *= b1
        np.multiply(g, 1.0 - b1, out=tmp)
        m += tmp
        u *= self.beta2
        np.abs(g, out=tmp)
        tmp += self.eps
        np.maximum(u, tmp, out=u)
        np.divide(m, u, out=tmp)
        tmp *= self.lr / (1.0 - b1**t)
        return tmp


#: CLI names -> (class, fixed keyword arguments)
OPTIMIZERS: dict[str, tuple[type[Optimizer], dict[str, Any]]] = {
    "sgd": (SGD, {}),
    "momentum": (SGD, {"momentum": 0.9}),
    "nesterov": (SGD, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (Adagrad, {}),
    "rmsprop": (RMSprop, {}),
    "adam": (Adam, {}),
    "adamax": (Adamax, {}),
}


def make_optimizer(name: str, params: Iterable[Tensor], lr: float, weight_decay: float = 0.0,
                   **kwargs: Any) -> Optimizer:
    """An optimizer by name (sgd, momentum, nesterov, adagrad, rmsprop, adam, adamax)."""
    if name not in OPTIMIZERS:
        raise ConfigError(f"make_optimizer: unknown optimizer {name!r} (expected one of {', '.join(OPTIMIZERS)})")
    cls, fixed = OPTIMIZERS[name]
    return cls(params, lr=lr, weight_decay=weight_decay, **{**fixed, **kwargs})
