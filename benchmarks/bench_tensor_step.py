"""One training step of the tensor engine (MLP 784-128-64-10, batch 128, float32): forward, loss, backward.

Process time per step, min over 5 repeats of 30 steps, random data (no dataset needed). Pin BLAS to one thread
for comparable figures; compare commits by running it with PYTHONPATH pointing at each checkout:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_tensor_step.py
"""

from __future__ import annotations

import time

import numpy as np

import autograd_viz.functional as F
from autograd_viz.nn.layers import mlp


def main() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 784)).astype(np.float32)
    y = rng.integers(0, 10, 128)
    model = mlp([784, 128, 64, 10])
    params = model.parameters()

    def step() -> None:
        for p in params:
            p.grad = None
        F.cross_entropy(model(x), y).backward()

    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(30):
            step()
        best = min(best, time.process_time() - start)
    print(f"step ms {best / 30 * 1e3:.3f}")


if __name__ == "__main__":
    main()
