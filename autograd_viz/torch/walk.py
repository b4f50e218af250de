"""Reading a PyTorch autograd graph: function names, the tensors it saved for backward, and the walk that lists
every function reachable from a ``grad_fn``, inputs first. No PyTorch import: it reads the objects it is given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd_viz.torch.errors import TorchBridgeError

_U64 = 2**64

#: Saved tensors that are the function's inputs: attribute -> input position (next_functions index).
SAVED_INPUTS: dict[str, dict[str, int]] = {
    "MulBackward0": {"_saved_self": 0, "_saved_other": 1},
    "DivBackward0": {"_saved_self": 0, "_saved_other": 1},
    "PowBackward0": {"_saved_self": 0},
    "PowBackward1": {"_saved_self": 0, "_saved_exponent": 1},
    "PowBackward2": {"_saved_exponent": 0},
    "LogBackward0": {"_saved_self": 0},
    "AbsBackward0": {"_saved_self": 0},
    "LeakyReluBackward0": {"_saved_self": 0},
    "MmBackward0": {"_saved_self": 0, "_saved_mat2": 1},
    "MvBackward0": {"_saved_self": 0, "_saved_vec": 1},
    "DotBackward0": {"_saved_self": 0, "_saved_tensor": 1},
    "BmmBackward0": {"_saved_self": 0, "_saved_mat2": 1},
    "AddmmBackward0": {"_saved_mat1": 1, "_saved_mat2": 2},
    "AmaxBackward0": {"_saved_self": 0},
    "MaxBackward1": {"_saved_self": 0},
    "MseLossBackward0": {"_saved_self": 0, "_saved_target": 1},
    "NllLossBackward0": {"_saved_self": 0},
    "GeluBackward0": {"_saved_self": 0},
    "StdBackward0": {"_saved_self": 0},
    "SinBackward0": {"_saved_self": 0},
    "CosBackward0": {"_saved_self": 0},
    "ErfBackward0": {"_saved_self": 0},
    "SoftplusBackward0": {"_saved_self": 0},
}

_LEAF = "AccumulateGrad"


def _key(fn: Any, nr: int) -> Any:
    """The key of output ``nr`` of ``fn``: the function itself for output 0, ``(fn, nr)`` for the others."""
    return fn if nr == 0 else (fn, nr)


def _fn_name(fn: Any) -> str:
    name = type(fn).__name__
    return _LEAF if name.endswith("AccumulateGrad") else name


def _saved(fn: Any, attr: str) -> Any:
    try:
        return getattr(fn, attr)
    except RuntimeError as exc:
        raise TorchBridgeError(f"draw_torch: PyTorch already freed the saved tensors of {_fn_name(fn)} "
                               f"(backward() ran): build the graph again, call draw_torch before backward(), or "
                               f"use backward(retain_graph=True) ({str(exc).splitlines()[0][:80]})") from None
    except AttributeError:
        return None


def _numpy(t: Any) -> np.ndarray:
    return t.detach().cpu().resolve_conj().resolve_neg().numpy().copy()


def _dim(d: int, ndim: int) -> int:
    d = int(d)
    if d >= 2**63:
        d -= _U64
    return d % max(ndim, 1)


def _functions(root_fn: Any) -> list[Any]:
    """Every function reachable from ``root_fn``, inputs before their consumers (post-order, inputs in order)."""
    order: list[Any] = []
    done: set[Any] = set()
    stack: list[tuple[Any, int]] = [(root_fn, 0)]
    on_stack = {root_fn}
    while stack:
        fn, i = stack.pop()
        nexts = fn.next_functions
        while i < len(nexts) and (nexts[i][0] is None or nexts[i][0] in done or nexts[i][0] in on_stack):
            i += 1
        if i < len(nexts):
            stack.append((fn, i + 1))
            child = nexts[i][0]
            on_stack.add(child)
            stack.append((child, 0))
            continue
        on_stack.discard(fn)
        if fn not in done:
            done.add(fn)
            order.append(fn)
    return order
