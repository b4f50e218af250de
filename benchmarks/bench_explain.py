"""Speed of ``explain`` (worked solutions): the notes' example, a ~200-node scalar graph, and ``--unroll`` of a
4×4 @ 4×3 product with softmax cross-entropy including the drawing.

Each case is timed warm (in this process, after one run; median of ``--repeat``) and cold (a fresh
``autograd-viz explain`` process: interpreter start, imports including SymPy, the run, the output).

    python benchmarks/bench_explain.py              # 5 repeats
    python benchmarks/bench_explain.py --repeat 3
    python benchmarks/bench_explain.py --cold-compare ../other-checkout --repeat 5

``--cold-compare DIR`` times only the cold notes' example, alternating run by run between ``DIR`` (put first on
``PYTHONPATH``) and this checkout, with ``python -c "import sympy"`` as the floor: min and median of each, wall
clock and the child's CPU time (user + system; less sensitive to a shared machine's load).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from autograd_viz import Value
from autograd_viz.explain import explain
from autograd_viz.explain.unroll import build_tensor_program
from autograd_viz.graph import topological_order
from autograd_viz.viz.examples import notes_example

NOTES = "z = a*x0 + b; y = sigmoid(z); L = (y - y0)**2/2"
UNROLL = "G = X @ W; L = cross_entropy(G)"


def mlp_graph(n_in: int = 4, n_hidden: int = 11, seed: int = 0) -> Value:
    """A 4-11-1 tanh network with a sigmoid output and squared error: ~200 scalar nodes."""
    rng = random.Random(seed)
    xs = [Value(rng.uniform(-1, 1), name=f"x{i}", requires_grad=False) for i in range(n_in)]
    out = Value(0.1, name="c")
    for j in range(n_hidden):
        acc = Value(rng.uniform(-1, 1), name=f"b{j}")
        for i in range(n_in):
            acc = acc + Value(rng.uniform(-1, 1), name=f"w{j}_{i}") * xs[i]
        out = out + Value(rng.uniform(-1, 1), name=f"u{j}") * acc.tanh()
    loss = (out.sigmoid() - Value(0.5, name="t", requires_grad=False)) ** 2
    loss.name = "L"
    return loss


def warm(fn: Callable[[], object], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cold(args: list[str], repeat: int) -> float:
    exe = Path(sys.executable).with_name("autograd-viz")
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([str(exe), "explain", *args], check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cold_mlp(repeat: int) -> float:
    code = ("import sys; sys.path.insert(0, 'benchmarks'); from bench_explain import mlp_graph; "
            "from autograd_viz.explain import explain; explain(mlp_graph())")
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                       cwd=Path(__file__).resolve().parents[1])
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def cold_compare(other: Path, repeat: int) -> None:
    """Cold notes' example in ``other`` and here, alternating, and the ``import sympy`` floor: min/median."""
    exe = str(Path(sys.executable).with_name("autograd-viz"))
    here = str(Path(__file__).resolve().parents[1])
    notes = [exe, "explain", NOTES, "--at", "a=0.5,b=-1,x0=2,y0=1"]
    cases = {f"before ({other})": (notes, str(other.resolve())), f"after ({here})": (notes, here),
             'python -c "import sympy"': ([sys.executable, "-c", "import sympy"], here)}
    times: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    load = os.getloadavg()
    for _ in range(repeat):
        for name, (cmd, path) in cases.items():
            env = {**os.environ, "PYTHONPATH": path}
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            times[name].append(time.perf_counter() - t)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    print(f"# Python {platform.python_version()}, {os.cpu_count()} cores, load average {load[0]:.2f} at the start, "
          f"{os.getloadavg()[0]:.2f} at the end; {repeat} runs each, alternating")
    print("| cold run | wall min s | wall median s | CPU min s | CPU median s | wall runs |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, ts in times.items():
        cs = cpu[name]
        print(f"| {name} | {min(ts):.3f} | {statistics.median(ts):.3f} | {min(cs):.3f} | {statistics.median(cs):.3f} "
              f"| {' '.join(f'{t:.2f}' for t in ts)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cold-compare", type=Path, metavar="DIR",
                        help="only the cold notes' example: DIR's checkout against this one, alternating")
    args = parser.parse_args()
    r = args.repeat
    if args.cold_compare is not None:
        cold_compare(args.cold_compare, r)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench_explain_"))
    print(f"# Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}, median of {r}")
    nodes_notes = len(topological_order(notes_example()))
    nodes_mlp = len(topological_order(mlp_graph()))
    root, _ = build_tensor_program(UNROLL, {"X": (4, 4), "W": (4, 3)}, {}, 0)
    from autograd_viz.explain.unroll import unroll

    nodes_unrolled = len(topological_order(unroll(root)[0]))
    rows = [
        ("notes' example, explain() md", nodes_notes, warm(lambda: explain(notes_example()), r),
         cold([NOTES, "--at", "a=0.5,b=-1,x0=2,y0=1"], r), "< 1 s"),
        ("notes' example, --toml too", nodes_notes, float("nan"),
         cold([NOTES, "--at", "a=0.5,b=-1,x0=2,y0=1", "--toml", str(tmp / "k.toml")], r), "-"),
        ("4-11-1 MLP, all 60 gradients", nodes_mlp, warm(lambda: explain(mlp_graph()), r), cold_mlp(r), "< 5 s"),
        ("--unroll 4×4 @ 4×3 + softmax CE, with .svg", nodes_unrolled,
         warm(lambda: _unroll_and_draw(tmp), r),
         cold([UNROLL, "--unroll", "--shapes", "X=4x4,W=4x3", "--wrt", "W", "--draw", str(tmp / "u.svg")], r),
         "< 3 s"),
    ]
    print("| case | scalar nodes | warm s (in process) | cold s (new `autograd-viz` process) | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, nodes, w, c, target in rows:
        ws = "-" if w != w else f"{w:.3f}"
        print(f"| {name} | {nodes} | {ws} | {c:.3f} | {target} |")


def _unroll_and_draw(tmp: Path) -> None:
    from autograd_viz.explain.unroll import explain_unrolled

    root, _ = build_tensor_program(UNROLL, {"X": (4, 4), "W": (4, 3)}, {}, 0)
    explain_unrolled(root, ["W"], "md", draw_path=str(tmp / "unrolled.svg"))


if __name__ == "__main__":
    main()
