"""Time `check --builtin`: the whole built-in derivation set (wall time, summed claim time, slowest claims).

    python benchmarks/bench_derivations.py            # 3 runs of the whole set, 2 workers
    python benchmarks/bench_derivations.py --quick    # 1 run
    python benchmarks/bench_derivations.py --jobs 1   # one worker (no parallelism)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections import Counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run instead of three")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per claim (default 10)")
    args = parser.parse_args()

    import resource

    import sympy

    from autograd_viz.check import check_builtin

    def cpu() -> float:  # user + system seconds of this process and its (forked, reaped) workers
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    walls, cpus, last = [], [], None
    for _ in range(1 if args.quick else 3):
        t0, c0 = time.perf_counter(), cpu()
        last = check_builtin(timeout=args.timeout, jobs=args.jobs)
        walls.append(time.perf_counter() - t0)
        cpus.append(cpu() - c0)
    claims = [(f.file.rsplit("/", 1)[-1], c) for f in last.files for c in f.claims]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {platform.python_version()}, sympy {sympy.__version__}, {os.cpu_count()} cores, "
          f"load average {load:.1f}, jobs={args.jobs}, timeout={args.timeout:g} s")
    print(f"{len(last.files)} files, {len(claims)} claims: "
          + ", ".join(f"{k} {v}" for k, v in sorted(Counter(c.verdict for _, c in claims).items())))
    print(f"wall seconds per run: min {min(walls):.1f} / median {statistics.median(walls):.1f} / "
          f"max {max(walls):.1f}; summed claim seconds (last run) {sum(c.seconds for _, c in claims):.1f}")
    print(f"CPU seconds per run (parent + workers): min {min(cpus):.1f} / median {statistics.median(cpus):.1f}; "
          f"wall estimate on an idle 2-core machine: ~{statistics.median(cpus) / min(args.jobs, 2):.1f} s")
    print("slowest claims (last run):")
    for name, c in sorted(claims, key=lambda fc: -fc[1].seconds)[:5]:
        print(f"  {c.seconds:6.2f} s  {c.verdict:9s}  {name}: {c.name}")
    print(f"exit code {last.exit_code}")


if __name__ == "__main__":
    main()
