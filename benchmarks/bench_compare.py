"""The README's comparison: one task, four tools. For the notes' L = ½(σ(a·x₀ + b) − y₀)² at a = 0.5, b = −1,
x₀ = 2, y₀ = 1: compute ∂L/∂a and ∂L/∂b, then draw the graph, and see what the picture shows.

Tools: autograd_viz (Value + draw), micrograd 0.1.0 (only +, *, ** and relu), PyTorch + torchviz 0.0.3
(make_dot), SymPy (diff + subs; dotprint draws the expression tree). Pictures are laid out by the same renderer
(system dot, else graphviz-pure), so only the DOT differs. Peers that are not installed are skipped.

    python benchmarks/bench_compare.py            # 2,000 gradient repeats, 5 render repeats
    python benchmarks/bench_compare.py --quick    # 200 and 1
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autograd_viz import draw  # noqa: E402
from autograd_viz.graph import topological_order  # noqa: E402
from autograd_viz.viz import available, render  # noqa: E402
from autograd_viz.viz.examples import notes_example  # noqa: E402

POINT = {"a": 0.5, "b": -1.0, "x0": 2.0, "y0": 1.0}
EXPECTED = (-0.25, -0.125)  # dL/da = (y - y0) σ'(z) x0 = -0.5 · 0.25 · 2, dL/db = -0.5 · 0.25


def median_us(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn()`` in microseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e6 * statistics.median(times)


def shows(dot: str) -> str:
    """What a reader finds in the picture: values, gradient numbers, local derivatives on edges."""
    found = [what for what, needle in (("values (0.125)", "0.125"), ("∂L/∂a (-0.25)", "-0.25"),
                                       ("local derivatives on edges", "∂")) if needle in dot]
    return ", ".join(found) or "structure only: operations, no values or gradients"


def ours(repeats: int) -> dict:
    def grads() -> tuple[float, float]:
        loss = notes_example(**POINT)
        loss.backward()
        leaves = {n.name: n for n in topological_order(loss)}
        return leaves["a"].grad, leaves["b"].grad

    loss = notes_example(**POINT)
    dot = draw(loss, kind="both").source
    return {"tool": "autograd_viz 0.1.0 (`Value`, `draw`)", "grads": grads(), "grad_us": median_us(grads, repeats),
            "dot": dot, "dot_us": median_us(lambda: draw(notes_example(**POINT), kind="both"), max(repeats // 10, 1))}


def micrograd(repeats: int) -> dict | None:
    """micrograd's ``Value`` has only +, *, ** and relu: σ cannot be written, so L cannot be built at all."""
    try:
        from micrograd.engine import Value as MValue
    except ImportError:
        return None
    ops = sorted(m for m in ("exp", "tanh", "sigmoid", "log") if hasattr(MValue, m))
    return {"tool": "micrograd 0.1.0", "grads": None, "grad_us": None, "dot": None, "dot_us": None,
            "note": (f"has {', '.join(ops)}" if ops else "cannot build L: its Value has only +, *, ** and relu (no "
                     "exp, tanh or sigmoid)") + "; no drawing in the package (draw_dot is in its demo notebook)"}


def torchviz(repeats: int) -> dict | None:
    try:
        import torch
        from torchviz import make_dot
    except ImportError:
        return None
    import importlib.metadata as md

    def build() -> tuple:
        a = torch.tensor(POINT["a"], dtype=torch.float64, requires_grad=True)
        b = torch.tensor(POINT["b"], dtype=torch.float64, requires_grad=True)
        loss = 0.5 * (torch.sigmoid(a * POINT["x0"] + b) - POINT["y0"]) ** 2
        return loss, a, b

    def grads() -> tuple[float, float]:
        loss, a, b = build()
        loss.backward()
        return float(a.grad), float(b.grad)

    loss, a, b = build()
    dot = make_dot(loss, params={"a": a, "b": b}).source
    return {"tool": f"PyTorch {torch.__version__.split('+')[0]} + torchviz {md.version('torchviz')} (`make_dot`)",
            "grads": grads(), "grad_us": median_us(grads, repeats), "dot": dot,
            "dot_us": median_us(lambda: make_dot(build()[0], params={"a": a, "b": b}).source,
                                max(repeats // 10, 1))}


def sympy_tool(repeats: int) -> dict:
    import sympy as sp
    from sympy.printing.dot import dotprint

    a, b, x0, y0 = sp.symbols("a b x0 y0", real=True)
    expr = sp.Rational(1, 2) * (1 / (1 + sp.exp(-(a * x0 + b))) - y0) ** 2
    point = {a: sp.Rational(1, 2), b: -1, x0: 2, y0: 1}

    def grads() -> tuple[float, float]:
        return tuple(float(sp.diff(expr, v).subs(point)) for v in (a, b))

    return {"tool": f"SymPy {sp.__version__} (`diff`, `subs`; `dotprint`)", "grads": grads(),
            "grad_us": median_us(grads, max(repeats // 10, 1)), "dot": dotprint(expr),
            "dot_us": median_us(lambda: dotprint(expr), max(repeats // 10, 1))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats, render_repeats = (200, 1) if args.quick else (2000, 5)
    renderer = next(iter(available()), None)
    rows = [r for r in (ours(repeats), micrograd(repeats), torchviz(repeats), sympy_tool(repeats)) if r]
    print(f"# Python {platform.python_version()}, {platform.machine()}, renderer {renderer}, gradient median of "
          f"{repeats} (SymPy {max(repeats // 10, 1)}), render median of {render_repeats}")
    print("| tool | ∂L/∂a, ∂L/∂b | gradients µs | DOT µs | DOT nodes | render SVG ms | the picture shows |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        if r["grads"] is None:
            print(f"| {r['tool']} | — | | | | | {r['note']} |")
            continue
        ok = all(math.isclose(g, e, rel_tol=1e-9) for g, e in zip(r["grads"], EXPECTED, strict=True))
        grads = ", ".join(f"{g:.6g}" for g in r["grads"]) + ("" if ok else " (WRONG)")
        if r["dot"] is None:
            print(f"| {r['tool']} | {grads} | {r['grad_us']:.0f} | | | | {r['note']} |")
            continue
        nodes = sum(1 for line in r["dot"].splitlines() if "[" in line and "->" not in line and "=" in line
                    and not line.strip().startswith(("graph", "node", "edge")))
        render_ms = (1e-3 * median_us(lambda d=r["dot"]: render(d, "svg"), render_repeats)) if renderer else math.nan
        print(f"| {r['tool']} | {grads} | {r['grad_us']:.0f} | {r['dot_us']:.0f} | {nodes} | {render_ms:.0f} | "
              f"{shows(r['dot'])} |")


if __name__ == "__main__":
    main()
