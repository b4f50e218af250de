"""Rendering time of backprop graphs: build the DOT with ``draw`` and lay it out with each renderer.

A graph of N DOT nodes is the ``kind="both"`` drawing of a scalar network with N/2 values (each value is drawn
once forward and once as its adjoint), built like a small scalar MLP: products, sums, tanh, parameters.

    python benchmarks/bench_render.py            # 50, 500, 2000, 5000 nodes, 3 repeats, svg
    python benchmarks/bench_render.py --quick    # 50 and 500 nodes, 1 repeat
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from autograd_viz import Value, draw  # noqa: E402
from autograd_viz.graph import topological_order  # noqa: E402
from autograd_viz.viz import available, render  # noqa: E402


def scalar_network(values: int, seed: int = 0) -> Value:
    """A scalar MLP of width 4, grown neuron by neuron until it has about ``values`` values; returns its loss."""
    rng = np.random.default_rng(seed)
    h = [Value(float(v), name=f"x{i}", requires_grad=False, role="input") for i, v in enumerate(rng.normal(size=4))]
    new: list[Value] = []
    created, layer = 4, 1
    target = values - 6  # the loss below adds about 6 values
    while created < target:
        j = len(new)
        acc = Value(float(rng.normal()), name=f"l{layer}.b{j}", role="param")
        created += 1
        for i, x in enumerate(h):
            if created >= target - 1:
                break  # a last, partial neuron lands close to the size asked for
            acc = acc + Value(float(rng.normal() * 0.5), name=f"l{layer}.w{i}{j}", role="param") * x
            created += 3
        new.append(acc.tanh())
        created += 1
        if len(new) == 4:
            h, new, layer = new, [], layer + 1
    outputs = new or h
    out = outputs[0]
    for v in outputs[1:]:
        out = out + v
    return (out * out) * 0.5


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def fmt(times: list[float]) -> str:
    return f"{min(times):.3f} / {statistics.median(times):.3f} / {max(times):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 and 500 nodes, one repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--format", default="svg", choices=("svg", "png"))
    args = parser.parse_args()
    sizes = (50, 500) if args.quick else (50, 500, 2000, 5000)
    repeats = 1 if args.quick else args.repeats
    renderers = available()
    print(f"renderers: {renderers}; format {args.format}; seconds min / median / max over {repeats} run(s)")
    print("| DOT nodes | values | build DOT (draw) | " + " | ".join(renderers) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in renderers) + " |")
    for size in sizes:
        values = size // 2
        while True:  # grow until the drawing has about ``size`` boxes (inputs and constants have no adjoint box)
            loss = scalar_network(values)
            count = len(topological_order(loss))
            graph = draw(loss, kind="both", max_nodes=2 * count + 2)
            nodes = len(re.findall(r"^\s*[ng]\d+ \[", graph.source, flags=re.M))
            if nodes >= size * 0.98:
                break
            values += max(1, (size - nodes) // 2)
        build = timed(lambda loss=loss, count=count: draw(loss, kind="both", max_nodes=2 * count + 2), repeats)
        cells = []
        for name in renderers:
            cells.append(fmt(timed(lambda g=graph, n=name: render(g, args.format, renderer=n, timeout=600), repeats)))
        print(f"| {nodes} | {count} | {fmt(build)} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
