"""Where the CPU time of `check --builtin` goes: every built-in claim checked in this one process (as one
long-lived worker checks them), CPU seconds per file, per phase of the checker, and the share spent in SymPy
attempts that ran into their own CPU limit (that share is fixed by the limits, not by how fast the code is).

    python benchmarks/profile_checker.py                      # all files
    python benchmarks/profile_checker.py one_hidden_layer     # files whose name contains the text
    python benchmarks/profile_checker.py --cprofile out.prof  # also a cProfile dump (slower)

Phases overlap (the diagnosis runs searches of its own, a search compiles with lambdify): each figure is the
CPU time spent inside that function, however it was reached, not counted twice when it calls itself.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

PHASES = (  # (module, function): the steps of one claim
    ("verify", "_sides"), ("numeric", "search"), ("numeric", "search_points"), ("numeric", "compile_exprs"),
    ("numeric", "compile_precise"), ("numeric", "evaluate"), ("numeric", "evaluate_precise"),
    ("numeric", "differs"), ("verify", "_prove"), ("verify", "_engine"), ("verify", "_diagnose"),
    ("diagnose", "_agrees"), ("diagnose", "_verify"), ("verify", "correct_form"), ("verify", "entry_hint"),
    ("inequality", "check_inequality"), ("model", "Model.full"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="?", default="", help="check only the files whose name contains this")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per claim (default 10)")
    parser.add_argument("--cprofile", metavar="FILE", help="also write a cProfile dump of all claims to FILE")
    args = parser.parse_args()

    import importlib

    import sympy

    from autograd_viz.check import budget as budget_module
    from autograd_viz.check import runner, verify
    from autograd_viz.check.model import Model
    from autograd_viz.check.spec import load_spec

    runner.warm_up()
    spent: dict[str, float] = {}
    active: Counter[str] = Counter()

    def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*a: Any, **k: Any) -> Any:
            active[label] += 1
            start = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                active[label] -= 1
                if not active[label]:  # outermost call only
                    spent[label] = spent.get(label, 0.0) + time.process_time() - start
        return wrapper

    for module_name, name in PHASES:
        module = importlib.import_module(f"autograd_viz.check.{module_name}")
        owner, attr = (Model, "full") if name == "Model.full" else (module, name)
        setattr(owner, attr, timed(f"{module_name}.{name.split('.')[-1]}", getattr(owner, attr)))

    limited: list[tuple[str, float, float]] = []  # (claim, limit, CPU used) of attempts that hit their limit
    current = [""]
    attempt = budget_module.Budget.attempt

    def counted_attempt(self: Any, fn: Callable[[], Any], limit: float) -> tuple[bool, Any]:
        start = time.process_time()
        ok, out = attempt(self, fn, limit)
        if not ok:
            limited.append((current[0], limit, time.process_time() - start))
        return ok, out

    budget_module.Budget.attempt = counted_attempt  # type: ignore[method-assign]
    profiler = None
    if args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
    per_file: dict[str, float] = {}
    per_claim: list[tuple[float, str, str]] = []
    total_start = time.process_time()
    for path in runner.builtin_files():
        if args.only not in path.name:
            continue
        spec = load_spec(path)
        file_start = time.process_time()
        for claim in spec.claims:
            current[0] = f"{path.name}: {claim.name}"
            start = time.process_time()
            if profiler:
                profiler.enable()
            result = verify.check_claim(spec, claim, args.timeout)
            if profiler:
                profiler.disable()
            per_claim.append((time.process_time() - start, current[0], result.verdict))
        per_file[path.name] = time.process_time() - file_start
    total = time.process_time() - total_start
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {platform.python_version()}, sympy {sympy.__version__}, load average {load:.1f}, "
          f"timeout={args.timeout:g} s; one process, claims in file order")
    print(f"CPU seconds, all claims: {total:.1f} ({len(per_claim)} claims)")
    print("per file: " + ", ".join(f"{name} {s:.1f}" for name, s in sorted(per_file.items(), key=lambda x: -x[1])))
    print("per phase: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(spent.items(), key=lambda x: -x[1])))
    stuck = sum(used for _, _, used in limited)
    print(f"SymPy attempts that ran into their CPU limit: {len(limited)}, {stuck:.1f} s "
          f"({100 * stuck / max(total, 1e-9):.0f}% of the CPU time)")
    for where, limit, used in limited:
        print(f"  {used:5.2f} s (limit {limit:.2f})  {where}")
    print("slowest claims:")
    for seconds, name, verdict in sorted(per_claim, reverse=True)[:10]:
        print(f"  {seconds:5.2f} s  {verdict:9s}  {name}")
    if profiler and args.cprofile:
        profiler.dump_stats(args.cprofile)
        print(f"cProfile dump: {args.cprofile} (python -m pstats {args.cprofile})")


if __name__ == "__main__":
    main()
