"""The numba loops of the compiled step: plain Python loops doing per element the float operations of the NumPy
calls they replace (so the bits stay the same); ``_fused_kernels`` in the package compiles them when numba is there.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _adam_loop(p: Any, g: Any, m: Any, v: Any, wd: Any, b1: Any, ob1: Any, b2: Any, ob2: Any, eps_c: Any,
               scale: Any) -> None:  # pragma: no cover - runs compiled by numba (tests/test_compiled.py)
    """Adam in one pass: per element, the same float operations in the same order as the NumPy passes of
    :meth:`CompiledStep._adam` (numba compiles it without fast-math, so nothing is fused into an FMA or
    reordered: the bits are the same)."""
    for i in range(p.shape[0]):
        gi = g[i]
        if wd:
            gi = gi + p[i] * wd
        vi = v[i] * b2 + (gi * ob2) * gi
        mi = m[i] * b1 + gi * ob1
        v[i] = vi
        m[i] = mi
        p[i] = p[i] - (mi / (np.sqrt(vi) + eps_c)) * scale


def _bias_relu_loop(a: Any, b: Any, out: Any) -> None:  # pragma: no cover - runs compiled by numba
    """``out = maximum(a + b, 0)`` for a (rows, n) matrix and an (n,) bias, as NumPy's add then maximum give it:
    a + b rounded once, then +0.0 for anything not above 0 except NaN, which stays."""
    rows, n = a.shape
    for r in range(rows):
        for j in range(n):
            s = a[r, j] + b[j]
            out[r, j] = s if s > 0 else (s if s != s else 0.0)


def _relu_grad_loop(g: Any, y: Any, out: Any) -> None:  # pragma: no cover - runs compiled by numba
    """``out = g ⊙ [y > 0]`` as NumPy's ``g * (y > 0)`` gives it (the bool becomes 1.0 or 0.0, then one product:
    g·0 keeps g's sign and turns inf and NaN into NaN, as NumPy does)."""
    rows, n = g.shape
    for r in range(rows):
        for j in range(n):
            out[r, j] = g[r, j] * (1.0 if y[r, j] > 0 else 0.0)
