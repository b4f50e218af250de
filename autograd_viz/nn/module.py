"""``Module``, ``Parameter``, ``Sequential`` and ``summary``: named layers whose parameters carry dotted names.

A parameter's ``name`` is its path in the model (``"fc1.weight"``), so drawings and checkpoints can name it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from autograd_viz.errors import ModelError, ShapeError
from autograd_viz.tensor import Tensor


class Parameter(Tensor):
    """A trainable leaf: a Tensor with ``requires_grad=True`` and ``role="param"``."""

    __slots__ = ()

    def __init__(self, data: Any, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=True, name=name, dtype=dtype, role="param")

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype}, name={self.name!r})"


class Module:
    """Base layer: registers ``Parameter`` and ``Module`` attributes, names them, switches train/eval."""

    _params: dict[str, Parameter]
    _modules: dict[str, Module]
    _buffers: list[str]
    _prefix: str
    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_params", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", [])
        object.__setattr__(self, "_prefix", "")
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_params" not in self.__dict__:
            raise ModelError(f"{type(self).__name__}: cannot set {name!r} before Module.__init__ ran; call "
                             "super().__init__() first in __init__")
        if isinstance(value, Parameter):
            self._params[name] = value
            value.name = self._prefix + name
        elif isinstance(value, Module):
            self._modules[name] = value
            value._relabel(self._prefix + name + ".")
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Keep a non-trainable array (running statistics) that is saved and loaded with the parameters."""
        self._buffers.append(name)
        object.__setattr__(self, name, array)

    def _relabel(self, prefix: str) -> None:
        object.__setattr__(self, "_prefix", prefix)
        for name, p in self._params.items():
            p.name = prefix + name
        for name, child in self._modules.items():
            child._relabel(prefix + name + ".")

    # --- forward ----------------------------------------------------------------------------------
    def forward(self, x: Any) -> Any:  # pragma: no cover - every layer overrides
        raise NotImplementedError

    def __call__(self, x: Any) -> Any:
        return self.forward(x)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Make ``layer(x)`` call the subclass's ``forward`` directly (one Python frame less per layer and step)."""
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__ and "__call__" not in cls.__dict__:
            cls.__call__ = cls.forward  # type: ignore[method-assign]

    # --- traversal --------------------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every descendant, with dotted paths (the root's path is ``prefix``)."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs in registration order."""
        for path, module in self.named_modules():
            for name, p in module._params.items():
                yield (f"{path}.{name}" if path else name), p

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        for path, module in self.named_modules():
            for name in module._buffers:
                yield (f"{path}.{name}" if path else name), getattr(module, name)

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    # --- modes and gradients ------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (Dropout drops, BatchNorm uses batch statistics); returns self."""
        for _, module in self.named_modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (Dropout is the identity, BatchNorm uses running statistics); returns self."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget the gradients (leaves accumulate across backward calls)."""
        for p in self.parameters():
            p.grad = None

    # --- state ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, by dotted name."""
        state = {name: p.data.copy() for name, p in self.named_parameters()}
        state.update({name: np.array(b, copy=True) for name, b in self.named_buffers()})
        return state

    def load_state_dict(self, state: dict[str, np.ndarray], strict: bool = True) -> None:
        """Copy arrays into the parameters and buffers in place (names and shapes must match)."""
        targets = dict(self.named_parameters())
        buffers = {name: b for name, b in self.named_buffers()}
        missing = [n for n in (*targets, *buffers) if n not in state]
        unexpected = [n for n in state if n not in targets and n not in buffers]
        if strict and (missing or unexpected):
            raise ModelError(f"load_state_dict: the state does not fit {type(self).__name__}: missing "
                             f"{missing or 'none'}, unexpected {unexpected or 'none'}")
        for name, array in state.items():
            target = targets[name].data if name in targets else buffers.get(name)
            if target is None:
                continue
            array = np.asarray(array)
            if array.shape != target.shape:
                raise ShapeError(f"load_state_dict: {name} has shape {array.shape}, the model expects {target.shape}")
            np.copyto(target, array, casting="same_kind")

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in self._modules.items():
            lines.append(f"  ({name}): " + repr(child).replace("\n", "\n  "))
        return "\n".join(lines) + "\n)"


class Sequential(Module):
    """Layers applied in order. ``Sequential(a, b)`` names them "0", "1"; pass ``(name, layer)`` pairs to name."""

    def __init__(self, *layers: Module | tuple[str, Module]) -> None:
        super().__init__()
        for i, item in enumerate(layers):
            name, layer = item if isinstance(item, tuple) else (str(i), item)
            self.add(name, layer)

    def add(self, name: str, layer: Module) -> None:
        """Append ``layer`` under ``name`` (its parameters become ``name.weight`` ...)."""
        if not isinstance(layer, Module):
            raise ModelError(f"Sequential: layer {name!r} is a {type(layer).__name__}, not a Module")
        if name in self._modules or not name.isidentifier() and not name.isdigit():
            what = "is already taken" if name in self._modules else "is not an identifier or a number"
            raise ModelError(f"Sequential: layer name {name!r} {what}")
        setattr(self, name, layer)

    def forward(self, x: Any) -> Any:
        for layer in self._modules.values():
            x = layer(x)
        return x

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, index: int | str) -> Module:
        if isinstance(index, str):
            return self._modules[index]
        return list(self._modules.values())[index]


def summary(model: Module) -> str:
    """A table of the layers that own parameters: name, type, parameter shapes, count, and the total."""
    rows = []
    for path, module in model.named_modules():
        own = list(module._params.values())
        if not own:
            continue
        shapes = " + ".join("×".join(str(s) for s in p.shape) for p in own)
        rows.append((path or type(module).__name__, type(module).__name__, shapes, sum(p.size for p in own)))
    total = sum(r[3] for r in rows)
    header = ("layer", "type", "parameter shapes", "parameters")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *[(a, b, c, f"{d:,}") for a, b, c, d in rows],
                                                           ("total", "", "", f"{total:,}"), strict=True)]
    line = lambda cells: "  ".join(  # noqa: E731
        str(c).rjust(w) if i == 3 else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
    out = [line(header), line(["-" * w for w in widths])]
    out += [line((a, b, c, f"{d:,}")) for a, b, c, d in rows]
    out += [line(["-" * w for w in widths]), line(("total", "", "", f"{total:,}"))]
    return "\n".join(s.rstrip() for s in out)
