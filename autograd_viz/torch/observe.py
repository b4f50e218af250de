"""What PyTorch computed: the forward values it kept (and :func:`record_values` for the others), and its backward
run function by function, without hooks or ``.grad``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from autograd_viz.torch.errors import require_torch

torch: Any = require_torch("autograd_viz.torch.trace_torch")

from autograd_viz.torch.errors import TorchBridgeError  # noqa: E402
from autograd_viz.torch.walk import _LEAF, SAVED_INPUTS, _fn_name, _functions, _key, _numpy, _saved  # noqa: E402


class ValueRecord(dict):
    """Forward outputs seen while :func:`record_values` was active, by the ``grad_fn`` that produced them."""


@contextmanager
def record_values() -> Iterator[ValueRecord]:
    """Record the output of every PyTorch function called in the block (a ``TorchFunctionMode``), so values
    PyTorch does not save for backward (a BatchNorm's output before a ReLU) are drawn too::

        with record_values() as values:
            loss = F.cross_entropy(model(x), y)
        draw_torch(loss, params=model, values=values)
    """
    from torch.overrides import TorchFunctionMode

    record = ValueRecord()

    def keep(out: Any) -> None:
        if isinstance(out, torch.Tensor):
            key = _key(out.grad_fn, out.output_nr) if out.grad_fn is not None else None
            if key is not None and key not in record:
                record[key] = _numpy(out)
        elif isinstance(out, tuple | list):
            for item in out:
                keep(item)

    class _Recorder(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            out = func(*args, **(kwargs or {}))
            keep(out)
            return out

    with _Recorder():
        yield record


def _observed_values(root: Any, fns: list[Any], recorded: Mapping[Any, np.ndarray]) -> dict[Any, np.ndarray]:
    """PyTorch's own output value of each function where it kept one: the root, ``_saved_result``, a consumer's
    saved input, or a value from :func:`record_values`."""
    seen: dict[Any, np.ndarray] = {_key(root.grad_fn, root.output_nr): _numpy(root)}
    members = set(fns)
    seen.update((key, np.asarray(value)) for key, value in recorded.items()
                if (key[0] if isinstance(key, tuple) else key) in members)
    for fn in fns:
        name = _fn_name(fn)
        if name == _LEAF:
            continue
        result = _saved(fn, "_saved_result")
        if isinstance(result, torch.Tensor):
            seen.setdefault(fn, _numpy(result))
        for attr, i in SAVED_INPUTS.get(name, {}).items():
            producer, nr = fn.next_functions[i] if i < len(fn.next_functions) else (None, 0)
            t = _saved(fn, attr)
            if producer is not None and isinstance(t, torch.Tensor) and _fn_name(producer) != _LEAF:
                seen.setdefault(_key(producer, nr), _numpy(t))
    for fn in reversed(fns):  # consumers first, so a chain is solved from its known end
        if _fn_name(fn) != "MulBackward1" or fn not in seen:
            continue
        producer, nr = fn.next_functions[0]
        factor = _saved(fn, "_saved_other")
        if producer is None or _fn_name(producer) == _LEAF or _key(producer, nr) in seen or isinstance(
                factor, torch.Tensor | complex) or factor is None:
            continue
        k = float(factor)
        if k != 0.0 and math.isfinite(k) and math.frexp(k)[0] == 0.5:  # x·2^n: out / 2^n is x exactly
            seen[_key(producer, nr)] = seen[fn] / np.asarray(k, dtype=seen[fn].dtype)
    return seen


def _torch_gradients(root: Any, fns: list[Any]) -> tuple[dict[Any, tuple], list[Any]]:
    """PyTorch's backward, run function by function (each ``grad_fn`` called directly, consumers first): per
    function, the gradients it gives its inputs and the upstream gradient of its output 0; and the leaves'
    gradients. Calling the functions directly runs no tensor hooks, fills no ``.grad`` (leaves' or
    ``retain_grad()``'s) and frees nothing, so the user's own ``backward()`` afterwards is unaffected."""
    grads: dict[Any, tuple] = {}
    leaves = [fn for fn in fns if _fn_name(fn) == _LEAF]
    if root.numel() != 1:
        return grads, [None] * len(leaves)
    pending: dict[Any, Any] = {_key(root.grad_fn, root.output_nr): torch.ones_like(root)}
    with torch.no_grad():
        for fn in reversed(fns):  # ``fns`` lists inputs before consumers
            if _fn_name(fn) == _LEAF:
                continue
            metas = list(getattr(fn, "_input_metadata", ())) or [None]
            upstream = [pending.pop(_key(fn, nr), None) for nr in range(len(metas))]
            if all(g is None for g in upstream):
                continue
            args = [g if g is not None else torch.zeros(tuple(m.shape), dtype=m.dtype)
                    for g, m in zip(upstream, metas, strict=True)]
            try:
                out = fn(*args)
            except RuntimeError as exc:
                raise TorchBridgeError(f"draw_torch: PyTorch's {_fn_name(fn)} failed in backward: "
                                       f"{str(exc).splitlines()[0][:160]}") from None
            out = (out,) if isinstance(out, torch.Tensor) else tuple(out)
            out = tuple(None if g is None or nxt is None else _fit(g, nxt, nr)
                        for (nxt, nr), g in zip(fn.next_functions, out, strict=False))
            grads[fn] = ([None if g is None else _numpy(g) for g in out],
                         None if upstream[0] is None else _numpy(upstream[0]))
            for (nxt, nr), g in zip(fn.next_functions, out, strict=False):
                if nxt is None or g is None:
                    continue
                key = _key(nxt, nr)
                pending[key] = g if key not in pending else pending[key] + g
    return grads, [None if pending.get(fn) is None else _numpy(pending[fn]) for fn in leaves]


def gradients_of(root: Any, tensors: list[Any]) -> list[Any]:
    """PyTorch's gradient of the one-number ``root`` w.r.t. each tensor (leaf or intermediate) as an array, ``None``
    where it has none; like ``torch.autograd.grad`` but without running hooks or filling ``.grad``."""
    if root.grad_fn is None:
        return [None] * len(tensors)
    fns = _functions(root.grad_fn)
    grads, leaf_grads = _torch_gradients(root, fns)
    by_leaf = {id(fn.variable): g for fn, g in zip([f for f in fns if _fn_name(f) == _LEAF], leaf_grads,
                                                      strict=True)}
    out: list[Any] = []
    for t in tensors:
        if t.grad_fn is None:
            out.append(by_leaf.get(id(t)))
        elif t.output_nr == 0 and t.grad_fn in grads:
            out.append(grads[t.grad_fn][1])
        else:
            out.append(None)
    return out


def _fit(g: Any, fn: Any, nr: int) -> Any:
    """What PyTorch's engine does between functions: sum a broadcast gradient back to the shape (and cast it to
    the dtype) of output ``nr`` of ``fn``."""
    metas = getattr(fn, "_input_metadata", ())
    if nr >= len(metas):
        return g
    shape, dtype = tuple(metas[nr].shape), metas[nr].dtype
    if tuple(g.shape) != shape:
        extra = g.dim() - len(shape)
        if extra > 0:
            g = g.sum(dim=tuple(range(extra)))
        g = g.sum_to_size(shape)
    return g.to(dtype) if g.dtype != dtype else g
