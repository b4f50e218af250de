"""Where the microseconds of one training step go: the engine's step and the compiled step, per part / kernel.

Workload of bench_mnist.py (MLP 784-128-64-10, ReLU, softmax cross-entropy, Adam 1e-3, float32, Fashion-MNIST),
one BLAS thread. Each part is timed on its own with perf_counter around it, over ``--steps`` real training steps
(after ``--warmup`` steps, so Adam's state is past its first steps); the table gives the median and the minimum
per step. The parts add up to a little more than a step timed whole (the timer calls cost ~0.1 µs each).

    AUTOGRAD_VIZ_DATA=/work/shared/data python benchmarks/profile_step.py --batches 64,256
    AUTOGRAD_VIZ_FUSED=0 ... (the compiled step's Adam as NumPy passes even when numba is installed)
    python benchmarks/profile_step.py --adam --steps 2000   # Adam alone: NumPy passes, numba loop, numexpr
    python benchmarks/profile_step.py --calls --steps 3000  # single calls of the step and their alternatives
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from typing import Any

import numpy as np

SIZES = [784, 128, 64, 10]


def _setup(batch: int, compile: bool, data_dir: str | None):
    from autograd_viz import nn, optim
    from autograd_viz.commands.train import load_dataset
    from autograd_viz.train import Trainer

    ds = load_dataset("fashion-mnist", data_dir, quiet=True)
    x, y, _, _ = ds.arrays(np.float32)
    model = nn.mlp(SIZES, activation="relu", init="he", seed=0)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-3), batch_size=batch, seed=0, quiet=True,
                      threads=None, compile=compile)
    return trainer, x, y


def profile_engine(batch: int, steps: int, warmup: int, data_dir: str | None) -> list[tuple[str, list[float]]]:
    """The normal step, in the parts Trainer.fit runs."""
    from autograd_viz.graph import _creation_counter

    trainer, x, y = _setup(batch, False, data_dir)
    trainer._check_labels(x, y)
    order = np.random.default_rng(0).permutation(len(x))
    model, opt, params = trainer.model, trainer.optimizer, trainer.params
    parts: dict[str, list[float]] = {k: [] for k in ("gather batch x[idx], y[idx]", "forward (model(xb): nodes)",
                                                     "loss (cross-entropy node)", "backward (run_backward)",
                                                     "optimizer.step (flat Adam, grads copied in)",
                                                     "bookkeeping (loss value, accuracy count)")}
    names = list(parts)
    nodes = 0
    pc = time.perf_counter
    for s in range(warmup + steps):
        start = (s * batch) % (len(x) - batch)
        idx = order[start:start + batch]
        t0 = pc()
        xb, yb = x[idx], y[idx]
        t1 = pc()
        for p in params:
            p.grad = None
        c0 = next(_creation_counter)
        out = model(xb)
        t2 = pc()
        loss = trainer.loss(out, yb, labels_checked=True)  # as fit does once _check_labels passed
        t3 = pc()
        nodes = next(_creation_counter) - c0 - 1
        loss.backward()
        t4 = pc()
        opt.step()
        t5 = pc()
        value = float(loss.data)
        int(np.count_nonzero(trainer.to_labels(out.data) == yb)) + value
        t6 = pc()
        out = loss = None
        if s >= warmup:
            for name, a, b in zip(names, (t0, t1, t2, t3, t4, t5), (t1, t2, t3, t4, t5, t6), strict=True):
                parts[name].append(b - a)
    parts_list = list(parts.items())
    parts_list.append((f"(nodes made per step: {nodes})", []))
    return parts_list


def profile_compiled(batch: int, steps: int, warmup: int, data_dir: str | None) -> list[tuple[str, list[float]]]:
    """The compiled step: the gather, every kernel, the Adam update."""
    trainer, x, y = _setup(batch, True, data_dir)
    step = trainer.compiled_step(x, y)
    if step is None:
        raise SystemExit(trainer.compile_note)
    step._sync_in()
    plan = step.plans[batch]
    order = np.random.default_rng(0).permutation(len(x))
    texts = [text for _, text in plan.lines if "no kernel" not in text]
    calls = plan.calls
    # lines and calls pair up except for "(into scratch, then added)" adds (none in this MLP)
    labels = texts if len(texts) == len(calls) else [f"kernel {i}" for i in range(len(calls))]
    parts: dict[str, list[float]] = {"gather batch (np.take into preallocated x, y)": []}
    for label in labels:
        parts[label] = []
    adam_label = (f"Adam, {'one numba-compiled loop' if step.fused is not None else '12 NumPy passes'} over the "
                  "flat buffers (+ flush every 16 steps)")
    parts[adam_label] = []
    parts["bookkeeping (loss value, argmax into the epoch's predictions)"] = []
    preds = np.empty(len(x), np.intp)
    pc = time.perf_counter
    kernel_times = [parts[label] for label in labels]
    for s in range(warmup + steps):
        start = (s * batch) % (len(x) - batch)
        idx = order[start:start + batch]
        record = s >= warmup
        t0 = pc()
        np.take(x, idx, axis=0, out=plan.xb, mode="clip")
        np.take(y, idx, out=plan.yb, mode="clip")
        t1 = pc()
        if record:
            parts["gather batch (np.take into preallocated x, y)"].append(t1 - t0)
        for call, bucket in zip(calls, kernel_times, strict=True):
            a = pc()
            call()
            b = pc()
            if record:
                bucket.append(b - a)
        a = pc()
        step._adam()
        b = pc()
        value = float(plan.loss[0])
        math.isfinite(value)
        plan.logits.argmax(1, preds[start:start + batch])
        c = pc()
        if record:
            parts[adam_label].append(b - a)
            parts["bookkeeping (loss value, argmax into the epoch's predictions)"].append(c - b)
    return list(parts.items())


def whole_steps(batch: int, compile: bool, steps: int, data_dir: str | None) -> float:
    """Median seconds per step of Trainer.fit itself on ``steps`` batches (1 epoch over steps × batch images)."""
    trainer, x, y = _setup(batch, compile, data_dir)
    n = steps * batch
    trainer.fit(x[:n], y[:n], 1)
    times = []
    for _ in range(3):
        trainer.fit(x[:n], y[:n], trainer.epoch + 1)
        times.append(trainer.history.rows[-1]["seconds"] / steps)
    return statistics.median(times)


def table(title: str, parts: list[tuple[str, list[float]]]) -> str:
    total = sum(statistics.median(v) for _, v in parts if v)
    lines = [f"{title}", "", "| part | µs per step (median) | min | share |", "| --- | ---: | ---: | ---: |"]
    for name, values in parts:
        if not values:
            lines.append(f"| {name} | | | |")
            continue
        med = statistics.median(values)
        lines.append(f"| {name.replace('|', '/')} | {1e6 * med:.1f} | {1e6 * min(values):.1f} | "
                     f"{100 * med / total:.0f}% |")
    lines.append(f"| **sum of parts** | **{1e6 * total:.0f}** | | |")
    return "\n".join(lines)


def adam_variants(n: int, repeats: int) -> list[tuple[str, list[float]]]:
    """Adam over ``n`` float32 parameters, alone, several ways: the compiled step's NumPy passes and numba loop
    (checked bit for bit against each other), and numexpr's three fused expressions when numexpr is installed."""
    import math

    from autograd_viz.train.compiled import CompiledStep, fused_adam

    rng = np.random.default_rng(0)
    f = np.float32
    p, g = rng.standard_normal(n).astype(f), (rng.standard_normal(n) * 1e-3).astype(f)
    m, v = (rng.standard_normal(n) * 1e-3).astype(f), (rng.random(n) * 1e-6).astype(f)
    tmp = np.empty_like(p)
    b1, b2, eps, lr, t = 0.9, 0.999, 1e-8, 1e-3, 500
    c = math.sqrt(1.0 - b2**t)
    scale = lr * c / (1.0 - b1**t)
    consts = [f(0.0), f(b1), f(1 - b1), f(b2), f(1 - b2), f(eps * c), f(scale)]
    variants: dict[str, Any] = {
        "12 NumPy passes (CompiledStep._numpy_adam)":
            lambda a: CompiledStep._numpy_adam(*a, tmp, 0.0, b1, b2, eps * c, scale)}
    kernel = fused_adam()
    if kernel is not None:
        variants["one numba loop (compiled.fused_adam)"] = lambda a: kernel(*a, *consts)
    try:
        import numexpr as ne
    except ImportError:
        pass
    else:
        ne.set_num_threads(1)
        sig = [("a", float), ("b", float), ("c", float), ("d", float), ("e", float)]
        e_m = ne.NumExpr("a*b + c*d", sig[:4])  # m·β₁ + g·(1−β₁): numexpr's 'float' is float32
        e_v = ne.NumExpr("a*b + (c*d)*c", sig[:4])
        e_p = ne.NumExpr("a - (b/(sqrt(c)+d))*e", sig)
        k = [np.array(x, f) for x in consts]

        def numexpr_adam(a: list[np.ndarray]) -> None:
            pp, gg, mm, vv = a
            e_v(vv, k[3], gg, k[4], out=vv, ex_uses_vml=False)
            e_m(mm, k[1], gg, k[2], out=mm, ex_uses_vml=False)
            e_p(pp, mm, vv, k[5], k[6], out=pp, ex_uses_vml=False)
        variants[f"numexpr {ne.__version__}, 1 thread: 3 expressions"] = numexpr_adam
    states = {name: [a.copy() for a in (p, g, m, v)] for name in variants}
    for name, fn in variants.items():  # one update each from the same state: same bits?
        fn(states[name])
    first = next(iter(states.values()))
    out: list[tuple[str, list[float]]] = []
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):  # interleaved, so load bursts hit every variant
        for name, fn in variants.items():
            state = states[name]
            np.copyto(state[1], g)  # the NumPy passes use g as scratch
            start = time.perf_counter()
            fn(state)
            times[name].append(time.perf_counter() - start)
    for name in variants:
        same = all(np.array_equal(states[name][i], first[i]) for i in (0, 2, 3))  # weights, m, v
        out.append((f"{name}{'' if same else ' (NOT the same bits)'}", times[name]))
    return out


def call_variants(rows: int, repeats: int) -> list[tuple[str, list[float]]]:
    """Single NumPy calls of the step at ``rows`` samples, and the alternatives measured for them (all give the same
    bits; the numba rows need numba): what the second round of issue 16 chose from."""
    from functools import partial

    from autograd_viz.train.compiled import _fused_kernels

    rng = np.random.default_rng(0)
    f = np.float32
    a, g = rng.standard_normal((rows, 128), dtype=f), rng.standard_normal((rows, 128), dtype=f)
    b, o, mask = rng.standard_normal(128, dtype=f), np.empty((rows, 128), f), np.empty((rows, 128), bool)
    maskf, db = np.empty((rows, 128), f), np.empty(128, f)
    logits, mx, mx1 = rng.standard_normal((rows, 10), dtype=f), np.empty((rows, 1), f), np.empty(rows, f)
    logits_t = np.empty((10, rows), f)

    def relu_grad_numpy() -> None:
        np.greater(a, 0, mask)
        np.multiply(g, mask, o)

    def relu_grad_float_mask() -> None:
        np.greater(a, 0, out=maskf)
        np.multiply(g, maskf, o)

    def relu_grad_where() -> None:
        o.fill(0)
        np.copyto(o, g, where=mask)

    def bias_relu_numpy() -> None:
        np.add(a, b, o)
        np.maximum(o, 0.0, out=o)

    def row_max_transposed() -> None:
        np.copyto(logits_t, logits.T)
        np.maximum.reduce(logits_t, 0, out=mx1)

    variants: dict[str, Any] = {
        f"bias add {rows}×128, out= keyword": partial(np.add, a, b, out=o),
        f"bias add {rows}×128, out positional": partial(np.add, a, b, o),
        f"bias add {rows}×128, in place": partial(np.add, o, b, o),
        f"bias gradient {rows}×128 → 128, np.sum(axis=0, out=)": partial(np.sum, g, axis=0, out=db),
        f"bias gradient {rows}×128 → 128, np.add.reduce": partial(np.add.reduce, g, 0, None, db),
        f"cross-entropy row max {rows}×10, np.max(axis=1)": partial(np.max, logits, axis=1, keepdims=True, out=mx),
        f"cross-entropy row max {rows}×10, transposed copy + reduce": row_max_transposed,
        f"ReLU gradient {rows}×128: greater + multiply by the bool mask": relu_grad_numpy,
        f"ReLU gradient {rows}×128: greater into float32 + multiply": relu_grad_float_mask,
        f"ReLU gradient {rows}×128: fill + copyto(where=)": relu_grad_where,
        f"bias add + ReLU {rows}×128: add + maximum": bias_relu_numpy,
    }
    kernels = _fused_kernels()
    if kernels is not None:
        variants[f"ReLU gradient {rows}×128: one numba loop"] = partial(kernels["relu_grad"], g, a, o)
        variants[f"bias add + ReLU {rows}×128: one numba loop"] = partial(kernels["bias_relu"], a, b, o)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():
        fn()
    for _ in range(repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return list(times.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", default="64,256")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--adam", action="store_true", help="only Adam over 109,386 parameters, several ways")
    parser.add_argument("--calls", action="store_true", help="only single calls of the step and their alternatives")
    args = parser.parse_args()
    from threadpoolctl import threadpool_info, threadpool_limits

    with threadpool_limits(limits=1):
        blas = ", ".join(f"{i['internal_api']} {i.get('version')} {i.get('architecture')} ({i['num_threads']} "
                         f"thread)" for i in threadpool_info())
        if args.calls:
            print(f"# NumPy {np.__version__}, load average {os.getloadavg()[0]:.2f}: single calls, {args.steps} "
                  "times each, interleaved (µs per call)\n")
            print("| call | µs, min | median |\n| --- | ---: | ---: |")
            for batch in [int(b) for b in args.batches.split(",")]:
                for name, values in call_variants(batch, args.steps):
                    print(f"| {name} | {1e6 * min(values):.1f} | {1e6 * statistics.median(values):.1f} |")
            print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
            return
        if args.adam:
            n = sum(a * b + b for a, b in zip(SIZES, SIZES[1:], strict=False))
            print(f"# NumPy {np.__version__}, load average {os.getloadavg()[0]:.2f}: Adam over {n:,} float32 "
                  f"parameters, {args.steps} updates each, interleaved (µs per update)\n")
            print("| Adam | µs per update, min | median |\n| --- | ---: | ---: |")
            for name, values in adam_variants(n, args.steps):
                print(f"| {name} | {1e6 * min(values):.0f} | {1e6 * statistics.median(values):.0f} |")
            print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
            return
        print(f"# NumPy {np.__version__}, BLAS {blas}, load average {os.getloadavg()[0]:.2f}, "
              f"{args.steps} steps after {args.warmup} warm-up steps")
        for batch in [int(b) for b in args.batches.split(",")]:
            engine = profile_engine(batch, args.steps, args.warmup, args.data_dir)
            compiled = profile_compiled(batch, args.steps, args.warmup, args.data_dir)
            print()
            print(table(f"### batch {batch}: normal step (Trainer, engine graph)", engine))
            print()
            print(table(f"### batch {batch}: compiled step (Trainer(compile=True))", compiled))
            whole = {c: whole_steps(batch, c, 200, args.data_dir) for c in (False, True)}
            print(f"\nwhole steps inside Trainer.fit (200 steps, median of 3): normal {1e6 * whole[False]:.0f} µs, "
                  f"compiled {1e6 * whole[True]:.0f} µs per step; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
