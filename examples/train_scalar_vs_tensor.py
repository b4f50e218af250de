"""Why we vectorize: one small network (2-16-16-1, tanh, MSE, full-batch gradient descent on 100 points of two
interleaved half-moons) trained with the scalar ``Value`` engine and with ``Tensor``, from the same weights.

Both give the same weights (float64, to ~1e-12); the Tensor engine builds ~10 nodes per step instead of ~10^4
scalar nodes, and is hundreds of times faster.

    python examples/train_scalar_vs_tensor.py            # 30 steps each
    python examples/train_scalar_vs_tensor.py --quick    # 3 steps
"""

import argparse
import os
import time

import numpy as np

from autograd_viz import Tensor, Value, topological_order


def moons(n: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper[:, None], np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)])
    return x + 0.1 * rng.standard_normal((n, 2)), np.where(upper, 1.0, -1.0)


def init(seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = [2, 16, 16, 1]
    out = []
    for a, b in zip(sizes, sizes[1:], strict=False):
        out += [rng.standard_normal((a, b)) / np.sqrt(a), np.zeros(b)]
    return out


def scalar_step(weights: list[list], x: np.ndarray, y: np.ndarray, lr: float) -> tuple[float, int]:
    """Forward, backward and update with one Value per number; returns the loss and the graph size."""
    loss = Value(0.0, requires_grad=False)
    for xi, yi in zip(x, y, strict=True):
        h = [Value(float(v), requires_grad=False) for v in xi]
        for layer in range(3):
            w, b = weights[2 * layer], weights[2 * layer + 1]
            z = [sum((h[i] * w[i][j] for i in range(len(h))), b[j]) for j in range(len(b))]
            h = [v.tanh() for v in z] if layer < 2 else z
        diff = h[0] - float(yi)
        loss = loss + diff * diff
    loss = loss * (1.0 / len(x))
    nodes = len(topological_order(loss))
    for p in (v for layer in weights for row in layer for v in (row if isinstance(row, list) else [row])):
        p.grad = 0.0
    loss.backward()
    for p in (v for layer in weights for row in layer for v in (row if isinstance(row, list) else [row])):
        p.data -= lr * p.grad
    return loss.data, nodes


def tensor_step(params: list[Tensor], x: Tensor, y: np.ndarray, lr: float) -> tuple[float, int]:
    h = x
    for layer in range(3):
        h = h @ params[2 * layer] + params[2 * layer + 1]
        h = h.tanh() if layer < 2 else h
    diff = h.reshape(-1) - y
    loss = (diff * diff).mean()
    for p in params:
        p.grad = None
    loss.backward()
    for p in params:
        p.data -= lr * p.grad
    return loss.item(), len(topological_order(loss))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("AUTOGRAD_VIZ_QUICK")))
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    steps, lr = (3 if args.quick else args.steps), 0.1
    x, y = moons()
    start = init()
    scalar = [[[Value(float(v)) for v in row] for row in w] if w.ndim == 2 else [Value(float(v)) for v in w]
              for w in start]
    tensors = [Tensor(w.copy(), requires_grad=True) for w in start]
    t0 = time.perf_counter()
    for _ in range(steps):
        s_loss, s_nodes = scalar_step(scalar, x, y, lr)
    t_scalar = (time.perf_counter() - t0) / steps
    t0 = time.perf_counter()
    for _ in range(steps):
        t_loss, t_nodes = tensor_step(tensors, Tensor(x), y, lr)
    t_tensor = (time.perf_counter() - t0) / steps
    gap = max(np.max(np.abs(np.array([[v.data for v in row] for row in s] if isinstance(s[0], list) else
                                     [v.data for v in s]) - t.data)) for s, t in zip(scalar, tensors, strict=True))
    print(f"after {steps} steps: loss {s_loss:.6f} (Value) vs {t_loss:.6f} (Tensor); max weight difference {gap:.1e}")
    print(f"Value : {s_nodes:>7,} nodes per step, {1e3 * t_scalar:9.2f} ms per step")
    print(f"Tensor: {t_nodes:>7,} nodes per step, {1e3 * t_tensor:9.2f} ms per step "
          f"({t_scalar / t_tensor:,.0f}x faster)")


if __name__ == "__main__":
    main()
