"""A 1,000,000-op chain on the scalar engine: build and backward time, with Python's GC on and off.

Two chains: ``y = y * 1.0000001`` (each step adds a constant leaf too: 2,000,001 nodes) and ``y = -y``
(1,000,001 nodes). Backward must not hit the recursion limit; micrograd (when installed) is tried on a short
chain to show where its recursive sort stops.

    python benchmarks/bench_chain.py            # 1,000,000 ops per chain
    python benchmarks/bench_chain.py --quick    # 100,000 ops
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import time
from collections.abc import Callable

from autograd_viz import Value

CHAINS: dict[str, Callable[[Value], Value]] = {
    "y = y * 1.0000001": lambda y: y * 1.0000001,
    "y = -y": lambda y: -y,
}


def run(step: Callable[[Value], Value], ops: int, gc_on: bool) -> tuple[float, float, float]:
    """Build the chain and backprop; returns (build s, backward s, d y / d x)."""
    gc.collect()
    was_enabled = gc.isenabled()
    (gc.enable if gc_on else gc.disable)()
    try:
        x = Value(1.0, name="x")
        t0 = time.perf_counter()
        y = x
        for _ in range(ops):
            y = step(y)
        t1 = time.perf_counter()
        y.backward()
        t2 = time.perf_counter()
        del y
    finally:
        (gc.enable if was_enabled else gc.disable)()
    return t1 - t0, t2 - t1, x.grad


def micrograd_limit(depths: tuple[int, ...] = (500, 1_000, 2_000, 10_000)) -> str:
    """The first chain depth at which micrograd's recursive backward fails, if micrograd is installed."""
    try:
        from micrograd.engine import Value as MicroValue
    except ImportError:
        return "micrograd not installed (pip install -e '.[bench]')"
    for depth in depths:
        y = x = MicroValue(1.0)
        for _ in range(depth):
            y = y * 1.0000001
        try:
            y.backward()
        except RecursionError:
            return f"micrograd: RecursionError at depth {depth:,} (recursion limit {sys.getrecursionlimit()})"
        assert x.grad > 0
    return f"micrograd: fine up to depth {depths[-1]:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 ops instead of 1,000,000")
    parser.add_argument("--ops", type=int, default=None, help="ops per chain")
    args = parser.parse_args()
    ops = args.ops or (100_000 if args.quick else 1_000_000)
    print(f"# Python {platform.python_version()}, {platform.machine()}, {ops:,} ops per chain")
    print("| chain | nodes | GC | build s | backward s | backward µs per op | d y/d x |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for name, step in CHAINS.items():
        nodes = 2 * ops + 1 if "*" in name else ops + 1
        for gc_on in (True, False):
            build, back, grad = run(step, ops, gc_on)
            print(f"| `{name}` | {nodes:,} | {'on' if gc_on else 'off'} | {build:.2f} | {back:.2f} | "
                  f"{1e6 * back / ops:.2f} | {grad:.6g} |")
    print(f"# {micrograd_limit()}")


if __name__ == "__main__":
    main()
