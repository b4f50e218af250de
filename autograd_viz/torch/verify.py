"""Checking our rebuilt ops against PyTorch: values and local vector-Jacobian products within a dtype's tolerance."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from autograd_viz.graph import input_gradients
from autograd_viz.scalar import Value
from autograd_viz.torch.walk import _key

if TYPE_CHECKING:
    from autograd_viz.torch.build import _Builder


def _tolerance(dtype: Any) -> tuple[float, float]:
    return (1e-4, 1e-6) if np.dtype(dtype).itemsize <= 4 else (1e-9, 1e-12)


def _diff(ours: Any, theirs: Any) -> float:
    a, b = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    if a.shape != b.shape:
        try:
            a = np.broadcast_to(a, b.shape)
        except ValueError:
            return math.inf
    both_nan = np.isnan(a) & np.isnan(b)
    d = np.where(both_nan, 0.0, np.abs(a - b))
    return float(np.max(d)) if d.size else 0.0


def _close(ours: Any, theirs: Any) -> bool:
    b = np.asarray(theirs)
    rtol, atol = _tolerance(b.dtype if b.dtype.kind == "f" else np.float64)
    scale = float(np.max(np.abs(b[np.isfinite(b)]))) if b.size and np.isfinite(b).any() else 0.0
    return _diff(ours, theirs) <= atol + rtol * scale


def _local_grads(b: _Builder, fn: Any, seed: Any) -> dict[int, Any]:
    """Our VJP of ``seed`` through the nodes made for ``fn``: gradient per input slot (next_functions index)."""
    made = b.created[fn]
    inside = {id(n) for n in made}
    acc: dict[int, Any] = {id(b.nodes[fn]): seed}  # mapped functions have one output
    out: dict[int, Any] = {}
    for node in sorted(made, key=lambda n: n.index, reverse=True):
        g = acc.get(id(node))
        if g is None or node.op is None:
            continue
        for parent, part in zip(node.parents, input_gradients(node, g), strict=True):
            if part is None:
                continue
            key = id(parent)
            if key in inside:
                acc[key] = part if key not in acc else acc[key] + part
            else:
                out[key] = part if key not in out else out[key] + part
    source = b.fused.get(fn, fn)
    return {k: out.get(id(b.nodes[_key(nxt, nr)])) for k, (nxt, nr) in enumerate(source.next_functions)
            if nxt is not None and _key(nxt, nr) in b.nodes}


def _verify(b: _Builder, fns: list[Any]) -> dict[Any, str]:
    """Check each mapped function: output value and local VJP against PyTorch's. Returns the disagreements."""
    bad: dict[Any, str] = {}
    for fn in fns:
        rec = b.records[fn]
        if not rec.ops or fn not in b.nodes:
            continue
        node = b.nodes[fn]
        if fn in b.observed and fn not in b.tainted:
            rec.value_diff = _diff(node.data, b.observed[fn])
            if not _close(node.data, b.observed[fn]):
                bad[fn] = f"our {'+'.join(rec.ops)} gives a different value (max diff {rec.value_diff:.3g})"
                continue
        got = b.grads.get(fn)
        source = b.fused.get(fn, fn)
        theirs = b.grads.get(source)
        if got is None or got[1] is None or theirs is None:
            continue
        seed = got[1]
        if isinstance(node, Value):
            seed = float(np.asarray(seed).reshape(-1)[0])
        else:
            seed = seed.astype(node.data.dtype, copy=False)
        ours = _local_grads(b, fn, seed)
        worst = 0.0
        for k, g in ours.items():
            t = theirs[0][k] if k < len(theirs[0]) else None
            if g is None or t is None:
                continue
            worst = max(worst, _diff(g, t))
            if not _close(g, t):
                bad[fn] = f"our {'+'.join(rec.ops)} gives a different gradient for input {k} (max diff " \
                          f"{_diff(g, t):.3g})"
                if fn in b.tainted:
                    bad[fn] = "not checkable: an input's value was not recorded by PyTorch"
        rec.grad_diff = worst
    return bad
