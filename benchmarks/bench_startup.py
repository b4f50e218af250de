"""Start-up cost: ``import autograd_viz`` and ``autograd-viz --help``, each in a fresh interpreter.

Each command runs ``--runs`` times, alternating between the checkouts given (so a before/after comparison sees
the same machine load); the table shows min and median wall time, and the cumulative import time of
``autograd_viz`` that ``python -X importtime`` reports (median).

    python benchmarks/bench_startup.py                              # this checkout
    python benchmarks/bench_startup.py --compare /tmp/old-checkout  # and another one, side by side
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASKS = {
    "import autograd_viz": ["-c", "import autograd_viz"],
    "autograd-viz --help": ["-c", "import sys; sys.argv = ['autograd-viz', '--help']\n"
                                  "from autograd_viz.cli import main\nmain()"],
}


def run_once(checkout: Path, args: list[str]) -> float:
    """Wall seconds of one fresh interpreter running ``args`` in ``checkout`` (first on sys.path: ``-c`` puts the
    working directory there)."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, cwd=checkout, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def import_time_us(checkout: Path) -> int:
    """Cumulative µs that ``-X importtime`` gives the ``autograd_viz`` package."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import autograd_viz"], env=env, cwd=checkout,
                          check=True, capture_output=True, text=True)
    line = next(line for line in done.stderr.splitlines() if line.rstrip().endswith("| autograd_viz"))
    return int(line.split("|")[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--compare", type=Path, action="append", default=[], help="another checkout to measure")
    args = parser.parse_args()
    checkouts = [ROOT, *(p.resolve() for p in args.compare)]
    times: dict[tuple[str, Path], list[float]] = {(t, c): [] for t in TASKS for c in checkouts}
    imports: dict[Path, list[int]] = {c: [] for c in checkouts}
    for checkout in checkouts:  # warm-up: compile the .pyc files once
        for task in TASKS.values():
            run_once(checkout, task)
    for _ in range(args.runs):
        for checkout in checkouts:
            for name, task in TASKS.items():
                times[name, checkout].append(run_once(checkout, task))
            imports[checkout].append(import_time_us(checkout))
    print(f"# Python {platform.python_version()}, {platform.machine()}, {args.runs} runs each, alternating; "
          f"load average {os.getloadavg()[0]:.2f}")
    print("| checkout | command | min ms | median ms |")
    print("| --- | --- | ---: | ---: |")
    for (name, checkout), values in times.items():
        print(f"| {checkout} | `{name}` | {1e3 * min(values):.0f} | {1e3 * statistics.median(values):.0f} |")
    for checkout, values in imports.items():
        print(f"| {checkout} | `-X importtime`: autograd_viz cumulative | | {statistics.median(values) / 1e3:.1f} |")


if __name__ == "__main__":
    main()
