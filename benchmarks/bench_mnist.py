"""MNIST-training benchmark: autograd_viz (normal and compiled step) vs a hand-written NumPy MLP vs PyTorch CPU vs
JAX (jit-compiled step, optax Adam), side by side in one run.

Workload: MLP 784-128-64-10, ReLU, softmax cross-entropy, Adam lr 1e-3, float32, Fashion-MNIST (60,000
images), one epoch, no DataLoader (arrays indexed directly), same initial weights and batch order for all.
Each (contender, batch size, repeat) runs in a fresh subprocess with pinned threads, so thread pools and peak
memory (ru_maxrss) are per contender. Also: the compute floor (6 x weights x samples / measured matmul FLOP/s)
and, with --accuracy, test accuracy after 10 epochs on Fashion-MNIST and on the MNIST test-set split 8,000/2,000
(our compiled step, PyTorch and JAX-jit from the same initial weights).

    python benchmarks/bench_mnist.py --quick          # 10,000 images, 2 processes x 3 epochs each, 1 seed
    python benchmarks/bench_mnist.py --accuracy       # the full figures (several minutes)

Needs the data (AUTOGRAD_VIZ_DATA or --data-dir) and threadpoolctl (pip install 'autograd-viz[bench]');
PyTorch rows appear when torch is installed, JAX rows when jax and optax are (pip install jax jaxlib optax; one
thread: XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1", set for its worker).
"autograd_viz-compiled" runs Adam as one numba loop when numba is installed (the bench extra has it; the table's
last line says which ran); "autograd_viz-compiled-numpy" is the same step with AUTOGRAD_VIZ_FUSED=0: Adam as
12 NumPy passes, what a machine without numba runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

SIZES = [784, 128, 64, 10]
#: CPU seconds (time.process_time: all threads of the process) of each timed epoch, next to the wall-clock seconds:
#: on a shared machine a process waits for a core, and wall time counts the wait; CPU time does not
CPU_SECONDS: list[float] = []


def _data(dataset: str, data_dir: str | None, limit: int | None):
    from autograd_viz.commands.train import load_dataset

    ds = load_dataset(dataset, data_dir, quiet=True)
    x, y, xt, yt = ds.arrays(np.float32)
    if limit:
        x, y = x[:limit], y[:limit]
    return x, y, xt, yt


def _init_weights(seed: int):
    from autograd_viz import nn

    model = nn.mlp(SIZES, activation="relu", init="he", seed=seed)
    return model, [(m.weight.data.copy(), m.bias.data.copy()) for m in (model.fc1, model.fc2, model.fc3)]


# --- contenders: each trains `epochs` epochs and returns (seconds per epoch list, test accuracy) ----------------
def run_ours(x, y, xt, yt, batch, epochs, seed, compile=False):
    from autograd_viz import optim
    from autograd_viz.train import Trainer

    model, _ = _init_weights(seed)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-3), batch_size=batch, seed=seed, quiet=True,
                      threads=None, compile=compile)  # the worker pins threads itself
    adam = ""
    if compile:  # compiling (recording the step twice, numba's Adam loop) is excluded from the timing, as JAX's jit
        trainer.compiled_step(x, y)
        if trainer.compiled is None:
            raise SystemExit(trainer.compile_note)
        if trainer.compiled.fused is not None:
            import numba

            adam = f"one numba {numba.__version__} loop"
        else:
            adam = "12 NumPy passes"
    for epoch in range(1, epochs + 1):  # one fit call per epoch, for its CPU time
        cpu_start = time.process_time()
        history = trainer.fit(x, y, epoch)
        CPU_SECONDS.append(time.process_time() - cpu_start)
    return history.column("seconds"), trainer.evaluate(xt, yt)["accuracy"], adam


def run_ours_compiled(x, y, xt, yt, batch, epochs, seed):
    return run_ours(x, y, xt, yt, batch, epochs, seed, compile=True)


def run_jax(x, y, xt, yt, batch, epochs, seed):
    """jax.jit over value_and_grad + optax.adam: XLA fuses forward, backward and Adam. Both batch shapes (full,
    and the last partial one) are compiled before the timed epochs; each step gets NumPy batches."""
    import jax
    import jax.numpy as jnp
    import optax

    _, layers = _init_weights(seed)
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in layers]
    opt = optax.adam(1e-3)
    state = opt.init(params)

    def forward(params, xb):
        h = xb
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
        return h

    def loss_fn(params, xb, yb):
        logp = jax.nn.log_softmax(forward(params, xb))
        return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

    @jax.jit
    def step(params, state, xb, yb):
        loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    y32 = y.astype(np.int32)
    for rows in {batch, len(x) % batch} - {0}:  # compile outside the timing; results discarded
        jax.block_until_ready(step(params, state, x[:rows], y32[:rows]))
    rng, times = np.random.default_rng(seed), []
    for _ in range(epochs):
        order = rng.permutation(len(x))
        start, cpu_start = time.perf_counter(), time.process_time()
        losses = []
        for s in range(0, len(x), batch):
            idx = order[s:s + batch]
            params, state, loss = step(params, state, x[idx], y32[idx])
            losses.append(loss)
        jax.block_until_ready((params, losses))
        times.append(time.perf_counter() - start)
        CPU_SECONDS.append(time.process_time() - cpu_start)
    logits = np.asarray(jax.jit(forward)(params, xt))
    return times, float(np.mean(logits.argmax(1) == yt))


def run_numpy(x, y, xt, yt, batch, epochs, seed):
    """Hand-written forward/backward and textbook Adam, in-place ops, subnormals flushed every 16 steps."""
    _, layers = _init_weights(seed)
    params = [a for pair in layers for a in pair]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    tmp = [np.empty_like(p) for p in params]
    rng, rows, step, times = np.random.default_rng(seed), np.arange(batch), 0, []
    (w1, b1), (w2, b2), (w3, b3) = layers
    for _ in range(epochs):
        order = rng.permutation(len(x))
        start, cpu_start = time.perf_counter(), time.process_time()
        for s in range(0, len(x), batch):
            idx = order[s:s + batch]
            xb, yb, n = x[idx], y[idx], len(idx)
            h1 = xb @ w1 + b1
            a1 = np.maximum(h1, 0)
            h2 = a1 @ w2 + b2
            a2 = np.maximum(h2, 0)
            z = a2 @ w3 + b3
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            p[rows[:n], yb] -= 1
            p /= n
            d2 = (p @ w3.T) * (h2 > 0)
            d1 = (d2 @ w2.T) * (h1 > 0)
            grads = [xb.T @ d1, d1.sum(0), a1.T @ d2, d2.sum(0), a2.T @ p, p.sum(0)]
            step += 1
            c1, c2 = 1e-3 / (1 - 0.9**step), 1 / np.sqrt(1 - 0.999**step)
            for P, G, M, V, T in zip(params, grads, m, v, tmp, strict=True):
                M *= 0.9
                np.multiply(G, 0.1, out=T)
                M += T
                V *= 0.999
                np.multiply(G, G, out=T)
                T *= 0.001
                V += T
                np.sqrt(V, out=T)
                T *= c2
                T += 1e-8
                np.divide(M, T, out=T)
                T *= c1
                P -= T
            if step % 16 == 0:
                for M, V, T in zip(m, v, tmp, strict=True):
                    for A in (M, V):
                        np.abs(A, out=T)
                        A[T < 1e-30] = 0
        times.append(time.perf_counter() - start)
        CPU_SECONDS.append(time.process_time() - cpu_start)
    a1 = np.maximum(xt @ w1 + b1, 0)
    logits = np.maximum(a1 @ w2 + b2, 0) @ w3 + b3
    return times, float(np.mean(logits.argmax(1) == yt))


def run_torch(x, y, xt, yt, batch, epochs, seed, threads):
    import torch

    torch.set_num_threads(threads)
    _, layers = _init_weights(seed)
    linears = [torch.nn.Linear(w.shape[0], w.shape[1]) for w, _ in layers]
    with torch.no_grad():
        for lin, (w, b) in zip(linears, layers, strict=True):
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
    model = torch.nn.Sequential(linears[0], torch.nn.ReLU(), linears[1], torch.nn.ReLU(), linears[2])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    X, Y = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    rng, times = np.random.default_rng(seed), []
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(x)))
        start, cpu_start = time.perf_counter(), time.process_time()
        for s in range(0, len(x), batch):
            idx = order[s:s + batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(X[idx]), Y[idx])
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
        CPU_SECONDS.append(time.process_time() - cpu_start)
    with torch.no_grad():
        acc = float((model(torch.from_numpy(xt)).argmax(1).numpy() == yt).mean())
    return times, acc


def matmul_floor(batch: int, n: int, repeats: int = 30) -> dict:
    """Seconds for the 8 matmuls of one forward+backward per batch, scaled to n samples; and the FLOP rate."""
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal((a, b), dtype=np.float32) for a, b in zip(SIZES, SIZES[1:], strict=False)]
    acts = [rng.standard_normal((batch, s), dtype=np.float32) for s in SIZES]
    flops = 6 * sum(w.size for w in ws) * batch - 2 * SIZES[0] * SIZES[1] * batch  # no input gradient for x

    def once():
        for i, w in enumerate(ws):
            acts[i] @ w
            acts[i].T @ acts[i + 1]
            if i:
                acts[i + 1] @ w.T

    once()
    best = min(_timed(once) for _ in range(repeats))
    rate = flops / best
    return {"gflops": rate / 1e9, "floor_seconds": 6 * sum(w.size for w in ws) * n / rate}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --- worker / parent ------------------------------------------------------------------------------------------
def worker(args) -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    x, y, xt, yt = _data(args.dataset, args.data_dir, args.limit)
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with threadpool_limits(limits=args.threads):
        blas = [i.get("num_threads") for i in threadpool_info()]
        kernels = sorted({f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
                          for i in threadpool_info() if i.get("user_api") == "blas"})
        if args.worker == "floor":
            result = matmul_floor(args.batch, len(x))
        else:
            fn = {"autograd_viz": run_ours, "autograd_viz-compiled": run_ours_compiled,
                  "autograd_viz-compiled-numpy": run_ours_compiled, "numpy": run_numpy,
                  "jax-jit": run_jax}.get(args.worker)
            if fn is None:
                times, acc = run_torch(x, y, xt, yt, args.batch, args.epochs, args.seed, args.threads)
            else:
                times, acc, *more = fn(x, y, xt, yt, args.batch, args.epochs, args.seed)
            result = {"seconds": times, "cpu_seconds": CPU_SECONDS[-len(times):], "test_accuracy": acc}
            if fn is run_ours_compiled:
                result["adam"] = more[0]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result.update(peak_rss_mib=rss / 1024, train_rss_mib=(rss - rss_data) / 1024, blas_threads=blas,
                  blas_kernels=kernels)
    print(json.dumps(result))


def spawn(name: str, batch: int, threads: int, args, epochs: int = 1, dataset: str | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, "--batch", str(batch), "--threads", str(threads),
           "--epochs", str(epochs), "--dataset", dataset or args.dataset, "--seed", str(args.seed)]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads)}
    if name == "autograd_viz-compiled-numpy":  # the compiled step without numba: Adam as 12 NumPy passes
        env["AUTOGRAD_VIZ_FUSED"] = "0"
    if name == "jax-jit":  # must be set before jax is imported: XLA's CPU thread pools
        env["XLA_FLAGS"] = ("--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" if threads == 1
                            else env.get("XLA_FLAGS", ""))
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _have_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _have_jax() -> bool:
    try:
        import jax  # noqa: F401
        import optax  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 images, 2 processes x 3 epochs, 1 seed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", default="64,256")
    parser.add_argument("--accuracy", action="store_true",
                        help="also 10-epoch accuracy runs (ours compiled, PyTorch, JAX-jit: those installed)")
    parser.add_argument("--accuracy-only", action="store_true", help="only the accuracy runs (no timing table)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds for the accuracy runs")
    parser.add_argument("--epochs-per-run", type=int, default=1, help="timed epochs per process (all are reported)")
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", dest="json_out", default=None, help="also write all results to this file")
    parser.add_argument("--contenders", default=None,
                        help="comma-separated subset, e.g. autograd_viz-compiled:1,jax-jit (default: all installed)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=64, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.quick:
        args.repeats, args.limit, args.seeds, args.epochs_per_run = 2, args.limit or 10_000, 1, 3
    parser_choice = [c.strip() for c in args.contenders.split(",")] if args.contenders else None
    contenders = [("autograd_viz", 1), ("autograd_viz", 2), ("autograd_viz-compiled", 1),
                  ("autograd_viz-compiled", 2), ("autograd_viz-compiled-numpy", 1), ("numpy", 1), ("numpy", 2)]
    if _have_torch():
        contenders += [("torch", 1), ("torch", 2)]
    if _have_jax():
        contenders += [("jax-jit", 1)]
    if parser_choice:
        contenders = [c for c in contenders if c[0] in parser_choice or f"{c[0]}:{c[1]}" in parser_choice]
    results: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                                f"NumPy {np.__version__}", "load_average": os.getloadavg(), "rows": []}
    n = args.limit or 60_000
    args.accuracy = args.accuracy or args.accuracy_only
    if not args.accuracy_only:
        print(f"# MNIST training benchmark: 784-128-64-10 ReLU, Adam 1e-3, float32, {args.dataset}, {n:,} "
              f"images/epoch, {args.repeats} process(es) x {args.epochs_per_run} epoch(s) per contender; load average "
              f"{os.getloadavg()[0]:.2f}")
        print("| contender | threads | batch | s/epoch min / median / max | vs NumPy (min / median) | vs JAX-jit "
              "(median) | CPU s/epoch min / median (vs JAX-jit) | peak RSS MiB (train part) |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for batch in [] if args.accuracy_only else [int(b) for b in args.batches.split(",")]:
        floor = spawn("floor", batch, 1, args)
        medians = {}
        # Repeats are interleaved (A B C A B C ...) so a burst of load on a shared machine hits every contender.
        all_runs = {c: [] for c in contenders}
        for _ in range(args.repeats):
            for name, threads in contenders:
                all_runs[(name, threads)].append(spawn(name, batch, threads, args, epochs=args.epochs_per_run))
        for name, threads in contenders:
            runs = all_runs[(name, threads)]
            secs = [t for r in runs for t in r["seconds"]]
            cpu = [t for r in runs for t in r.get("cpu_seconds", [])]
            med = statistics.median(secs)
            medians[(name, threads)] = (min(secs), med)
            row = {"contender": name, "threads": threads, "batch": batch, "seconds": secs, "median": med,
                   "cpu_seconds": cpu, "cpu_median": statistics.median(cpu) if cpu else None,
                   "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
                   "train_rss_mib": max(r["train_rss_mib"] for r in runs), "blas_threads": runs[0]["blas_threads"],
                   "blas_kernels": runs[0].get("blas_kernels", []), "load_after": os.getloadavg()[0],
                   "adam": sorted({r["adam"] for r in runs if "adam" in r})}
            results["rows"].append(row)
        jax_median = medians.get(("jax-jit", 1), (None, None))[1]
        jax_cpu = next((r["cpu_median"] for r in results["rows"] if r["batch"] == batch
                        and (r["contender"], r["threads"]) == ("jax-jit", 1)), None)
        for row in [r for r in results["rows"] if r["batch"] == batch]:
            base = medians.get(("numpy", row["threads"]))
            ratio = f"{min(row['seconds']) / base[0]:.2f}x / {row['median'] / base[1]:.2f}x" if base else ""
            vs_jax = f"{row['median'] / jax_median:.2f}x" if jax_median else ""
            cpu = (f"{min(row['cpu_seconds']):.2f} / {row['cpu_median']:.2f}"
                   + (f" ({row['cpu_median'] / jax_cpu:.2f}x)" if jax_cpu else "")) if row["cpu_seconds"] else ""
            print(f"| {row['contender']} | {row['threads']} | {batch} | {min(row['seconds']):.2f} / "
                  f"{row['median']:.2f} / {max(row['seconds']):.2f} | {ratio} | {vs_jax} | {cpu} | "
                  f"{row['peak_rss_mib']:.0f} ({row['train_rss_mib']:.0f}) |")
        print(f"| compute floor ({floor['gflops']:.0f} GFLOP/s, 1 thread) | 1 | {batch} | "
              f"{floor['floor_seconds']:.2f} | | | | |")
        kernels = sorted({k for r in results["rows"] for k in r.get("blas_kernels", [])})
        results["blas_kernels"] = kernels
        results[f"floor_{batch}"] = floor
    if args.accuracy:
        seeds = range(args.seeds)
        # the compiled step gives the normal step's weights bit for bit (tests/test_compiled.py), so it stands
        # for both; PyTorch and JAX get the same initial weights, their own batch order and summation
        names = ["autograd_viz-compiled"] + ["torch"] * _have_torch() + ["jax-jit"] * _have_jax()
        titles = {"autograd_viz-compiled": "autograd_viz (compiled step)", "torch": "PyTorch", "jax-jit": "JAX-jit"}
        print(f"\n# load average {os.getloadavg()[0]:.2f}")
        print(f"| test accuracy after 10 epochs (batch 64), mean and range over seeds {list(seeds)} | "
              + " | ".join(titles[n] for n in names) + " |\n|" + " --- |" * (len(names) + 1))
        saved_limit, saved_seed, args.limit = args.limit, args.seed, None
        for dataset in ("fashion-mnist", "mnist-test-split"):
            found = {}
            for name in names:
                accs = []
                for seed in seeds:
                    args.seed = seed
                    accs.append(spawn(name, 64, 1, args, epochs=10, dataset=dataset)["test_accuracy"])
                found[name] = accs
            results[f"accuracy_{dataset}"] = found
            cells = [f"{100 * statistics.mean(a):.2f}% ({100 * min(a):.2f}-{100 * max(a):.2f})"
                     for a in found.values()]
            print(f"| {dataset} | " + " | ".join(cells) + " |")
        args.limit, args.seed = saved_limit, saved_seed
    adams = sorted({a for r in results["rows"] for a in r.get("adam", [])})
    print(f"# NumPy's BLAS (threadpoolctl): {', '.join(results.get('blas_kernels', [])) or 'not measured'}; "
          + (f"compiled step's Adam: {', '.join(adams)}; " if adams else "")
          + f"load average at the end {os.getloadavg()[0]:.2f}")
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
