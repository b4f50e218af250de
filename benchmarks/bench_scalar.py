"""Scalar engine vs the ``micrograd`` package: the same 2-16-16-1 MLP over 100 samples, build + backward.

Both engines run the same code (micrograd's own ``Neuron``/``MLP`` layout and its max-margin loss with L2
regularisation), alternating in one process, with Python's garbage collector on (as users run it) and off.

    python benchmarks/bench_scalar.py            # 5 repeats per configuration
    python benchmarks/bench_scalar.py --quick    # 1 repeat (a smoke run)

Needs ``pip install -e ".[bench]"`` for micrograd; without it only this engine is measured.
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

SIZES = (2, 16, 16, 1)
SAMPLES = 100


def make_data(seed: int = 0) -> tuple[list[list[float]], list[float]]:
    """Two noisy interleaved half-moons (like micrograd's demo), labels -1/+1, deterministic."""
    import math

    rng = random.Random(seed)
    xs, ys = [], []
    for i in range(SAMPLES):
        t = math.pi * (i // 2) / (SAMPLES // 2)
        if i % 2:
            xs.append([1 - math.cos(t) + rng.gauss(0, 0.1), 0.5 - math.sin(t) + rng.gauss(0, 0.1)])
            ys.append(1.0)
        else:
            xs.append([math.cos(t) + rng.gauss(0, 0.1), math.sin(t) + rng.gauss(0, 0.1)])
            ys.append(-1.0)
    return xs, ys


def make_params(value_cls: type, seed: int = 1) -> list[list[tuple[list[Any], Any]]]:
    """Layers of neurons ``(weights, bias)``, uniform(-1, 1) like micrograd's ``Neuron``."""
    rng = random.Random(seed)
    layers = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:], strict=True):
        layers.append([([value_cls(rng.uniform(-1, 1)) for _ in range(fan_in)], value_cls(0.0))
                       for _ in range(fan_out)])
    return layers


def loss_graph(layers: list, xs: list[list[float]], ys: list[float]) -> Any:
    """micrograd's demo loss: mean max-margin hinge over the samples + 1e-4 * sum of squared parameters."""
    losses = []
    last = len(layers) - 1
    for x, y in zip(xs, ys, strict=True):
        act = x
        for depth, layer in enumerate(layers):
            out = []
            for w, b in layer:
                z = sum((wi * xi for wi, xi in zip(w, act, strict=True)), b)
                out.append(z.relu() if depth < last else z)
            act = out
        losses.append((1 + -y * act[0]).relu())
    data_loss = sum(losses) * (1.0 / len(losses))
    params = [p for layer in layers for w, b in layer for p in (*w, b)]
    return data_loss + 1e-4 * sum(p * p for p in params)


def count_nodes(root: Any, parents: Callable[[Any], Any]) -> int:
    """Nodes reachable from ``root`` (iterative, so deep graphs are fine)."""
    seen = {id(root)}
    stack = [root]
    while stack:
        for p in parents(stack.pop()):
            if id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
    return len(seen)


def run_once(value_cls: type, xs, ys, gc_on: bool) -> tuple[float, float, Any]:
    """Build the loss graph and backprop once; returns (build seconds, backward seconds, loss node)."""
    layers = make_params(value_cls)
    gc.collect()
    was_enabled = gc.isenabled()
    (gc.enable if gc_on else gc.disable)()
    try:
        t0 = time.perf_counter()
        loss = loss_graph(layers, xs, ys)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
    finally:
        (gc.enable if was_enabled else gc.disable)()
    return t1 - t0, t2 - t1, loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat per configuration")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats

    from autograd_viz import Value

    engines: dict[str, tuple[type, Callable[[Any], Any]]] = {"autograd_viz": (Value, lambda v: v.parents)}
    try:
        from micrograd.engine import Value as MicroValue

        engines["micrograd"] = (MicroValue, lambda v: v._prev)
    except ImportError:
        print("micrograd not installed (pip install -e '.[bench]'): measuring autograd_viz only")

    xs, ys = make_data()
    results: dict[tuple[str, bool], list[tuple[float, float]]] = {}
    nodes: dict[str, int] = {}
    losses: dict[str, float] = {}
    for _ in range(repeats):
        for gc_on in (True, False):
            for name, (cls, parents) in engines.items():
                build, back, loss = run_once(cls, xs, ys, gc_on)
                results.setdefault((name, gc_on), []).append((build, back))
                nodes[name] = count_nodes(loss, parents)
                losses[name] = loss.data
                del loss
    print(f"# Python {platform.python_version()}, {platform.machine()}, {repeats} repeat(s), "
          f"MLP {'-'.join(map(str, SIZES))} over {SAMPLES} samples")
    print("# loss per engine (must agree): " + ", ".join(f"{k} {v:.12g}" for k, v in losses.items()))
    print("| engine | GC | nodes | build s (median) | backward s (median) | build nodes/s | backward µs/node "
          "| build+backward s | vs micrograd |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for gc_on in (True, False):
        totals = {name: statistics.median(b + k for b, k in results[(name, gc_on)]) for name in engines}
        for name in engines:
            runs = results[(name, gc_on)]
            build = statistics.median(b for b, _ in runs)
            back = statistics.median(k for _, k in runs)
            speedup = f"{totals['micrograd'] / totals[name]:.2f}x" if "micrograd" in totals else "n/a"
            print(f"| {name} | {'on' if gc_on else 'off'} | {nodes[name]:,} | {build:.4f} | {back:.4f} | "
                  f"{nodes[name] / build:,.0f} | {1e6 * back / nodes[name]:.2f} | {build + back:.4f} | {speedup} |")


if __name__ == "__main__":
    main()
