"""Samples per second of each implementation, side by side, against this machine's limit.

    python benchmarks/report.py [--quick] [--plot FILE.png] [--repeats N]

For each network and batch size it trains every implementation (see ``implementations.py``) in
turn, round after round, and keeps each one's best round: on a machine shared with other work
the best round is the one least disturbed. It prints a markdown table of samples per second,
the ratio to the faster of numpy with its default BLAS threads and numpy on one BLAS thread,
and the fraction of the one-thread compute bound: numpy's float64 matrix-multiply GFLOP/s on one
thread (measured here, in a subprocess with OPENBLAS_NUM_THREADS=1 and the environment otherwise
as it is) divided by the FLOPs per sample of the network (``implementations.flops_per_sample``).
Every implementation's epoch is also checked against the vectorized one (column "max diff").
Then float32 against float64, and the first call of a fresh process once numba's cache is warm.
"""
import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from implementations import (BATCHES, SHAPES, Torch, flops_per_sample,  # noqa: E402
                             implementations, largest_difference, make_data, make_net, state)

GEMM = """
import time, numpy as np
n = 512
a, b = np.random.default_rng(0).random((2, n, n))
best = float("inf")
for _ in range(REPEATS):
    start = time.perf_counter()
    a @ b
    best = min(best, time.perf_counter() - start)
print(2 * n**3 / best / 1e9)
"""

COLD_START = """
import time
t0 = time.perf_counter()
import numpy as np
from neuronet import Network
imported = time.perf_counter()
net = Network((784, 100, 10), seed=0)
x, y = np.random.default_rng(0).random((1, 784)), np.eye(10)[[3]]
t1 = time.perf_counter()
net.step(x, y, 0.5)
t2 = time.perf_counter()
net.step(x, y, 0.5)
t3 = time.perf_counter()
print(imported - t0, t2 - t1, t3 - t2)
"""


def gemm_gflops(repeats):
    """numpy float64 GEMM GFLOP/s on one BLAS thread, in a fresh process."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    program = GEMM.replace("REPEATS", str(repeats))
    out = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                         text=True, check=True)
    return float(out.stdout)


def environment():
    """What the numbers depend on: versions, BLAS, threads, OpenBLAS settings."""
    lines = [f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}"
             f" (threading layer {numba.config.THREADING_LAYER}, {numba.get_num_threads()} threads)"
             f", {os.cpu_count()} CPUs ({platform.processor() or platform.machine()})"]
    try:
        from threadpoolctl import threadpool_info
        for pool in threadpool_info():
            lines.append(f"BLAS: {pool.get('internal_api')} {pool.get('version')}, "
                         f"{pool.get('architecture')}, {pool.get('num_threads')} threads")
    except ImportError:
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        lines.append(f"BLAS: {config.get('name')} {config.get('version')} (threadpoolctl not "
                     "installed, threads unknown)")
    for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                 "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        lines.append(f"{name}={os.environ.get(name, '(unset)')}")
    try:
        import torch
        lines.append(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    except ImportError:
        lines.append("torch: not installed")
    return lines


class OneBlasThread:
    """numpy with BLAS held to one thread (on 2 shared cores its second thread often waits)."""

    def __init__(self, impl):
        from threadpoolctl import threadpool_limits
        self.impl, self.limits = impl, threadpool_limits

    def sgd_epoch(self, *args):
        with self.limits(1):
            self.impl.sgd_epoch(*args)


def contenders(shape_id, batch, dtype="float64"):
    found = implementations()
    if (shape_id, batch) != ("784-30-10", 1) or dtype != "float64":
        del found["python"]
    try:
        found["vectorized-1thread"] = OneBlasThread(found["vectorized"])
    except ImportError:
        pass
    if "torch" in found:
        found["torch-1thread"] = Torch(threads=1)
    if dtype != "float64":
        found = {name: impl for name, impl in found.items() if name.startswith("loops")}
    return found


def samples_per_second(impls, shape, batch, dtype, repeats, seconds):
    """Best-of-``repeats`` samples/s of each implementation, the rounds interleaved.

    ``dtype`` is one dtype for all, or a dict giving each implementation's.
    """
    dtypes = dtype if isinstance(dtype, dict) else {name: dtype for name in impls}
    data = {d: make_data(4000, shape, d) for d in set(dtypes.values())}
    nets, sizes, best = {}, {}, {}
    for name, impl in impls.items():
        x, y = data[dtypes[name]]
        nets[name] = make_net(shape, dtypes[name])
        impl.sgd_epoch(nets[name], x, y, np.arange(batch), batch)  # compile or load the JIT
        start = time.perf_counter()
        impl.sgd_epoch(nets[name], x, y, np.arange(batch), batch)
        once = max(time.perf_counter() - start, 1e-7)
        steps = int(min(4000 // batch, max(1, seconds / once)))
        sizes[name], best[name] = steps * batch, float("inf")
    for _ in range(repeats):
        for name, impl in impls.items():
            x, y = data[dtypes[name]]
            order = np.arange(sizes[name])
            start = time.perf_counter()
            impl.sgd_epoch(nets[name], x, y, order, batch)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: sizes[name] / best[name] for name in impls}


def check(impls, shape, batch, dtype):
    """Largest difference after a 20-sample epoch from the same start, against vectorized."""
    x, y = make_data(20, shape, "float64")
    order = np.random.default_rng(3).permutation(20)
    reference = make_net(shape)
    implementations()["vectorized"].sgd_epoch(reference, x, y, order, batch)
    differences = {}
    for name, impl in impls.items():
        if name == "python":  # the same code as loops-plain, uncompiled: 20 samples take minutes
            net = make_net(shape)
            impl.sgd_epoch(net, x[:1], y[:1], np.arange(1), 1)
            first = make_net(shape)
            implementations()["vectorized"].sgd_epoch(first, x[:1], y[:1], np.arange(1), 1)
            differences[name] = largest_difference(state(net), state(first))
            continue
        net = make_net(shape, dtype)
        impl.sgd_epoch(net, x.astype(dtype), y.astype(dtype), order, batch)
        differences[name] = largest_difference(state(net), state(reference))
    return differences


def cold_start(runs=3):
    """Seconds of the first ``net.step`` in a fresh process, the cache warm (best of runs)."""
    times = []
    for _ in range(runs + 1):  # the first run fills the cache if it was empty
        out = subprocess.run([sys.executable, "-c", COLD_START], capture_output=True, text=True,
                             check=True)
        times.append([float(t) for t in out.stdout.split()])
    return min(times[1:], key=lambda t: t[1])


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"\nNo plot: matplotlib is not installed (pip install matplotlib); {path} not written")
        return
    fig, axes = plt.subplots(1, len(BATCHES), figsize=(5 * len(BATCHES), 4), sharey=True)
    everyone = sorted({row["name"] for row in rows})
    colour = {name: f"C{i}" for i, name in enumerate(everyone)}
    for ax, batch in zip(axes, BATCHES):
        names = sorted({row["name"] for row in rows if row["batch"] == batch})
        for name in names:
            points = sorted((SHAPES[row["shape"]][1], row["rate"]) for row in rows
                            if row["batch"] == batch and row["name"] == name)
            ax.plot(*zip(*points), marker="o", label=name, color=colour[name])
        hidden = [shape[1] for shape in SHAPES.values()]
        ax.set(xscale="log", yscale="log", title=f"batch {batch}", xlabel="hidden neurons H",
               xticks=hidden, xticklabels=[str(h) for h in hidden])
        ax.minorticks_off()
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("samples / s (784-H-10, float64)")
    handles = {label: line for ax in axes for line, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(handles.values(), handles.keys(), loc="center right", fontsize=8)
    fig.subplots_adjust(right=0.85)
    fig.savefig(path, dpi=120)
    print(f"\nPlot written to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter rounds")
    parser.add_argument("--plot", default="benchmarks/speed.png", help="where to write the plot")
    parser.add_argument("--repeats", type=int, default=None, help="rounds per implementation")
    args = parser.parse_args(argv)
    # Many short rounds: on a shared machine a 10 ms round often runs undisturbed, a long one not.
    repeats = args.repeats or (5 if args.quick else 30)
    seconds = 0.005 if args.quick else 0.01

    print("## neuronet speed report\n")
    print(f"`python benchmarks/report.py {' '.join(argv if argv is not None else sys.argv[1:])}`"
          f", {time.strftime('%Y-%m-%d %H:%M')}\n")
    for line in environment():
        print(f"- {line}")
    gflops = gemm_gflops(20 if args.quick else 100)
    print(f"- numpy float64 GEMM, one BLAS thread (512 x 512, best round): {gflops:.1f} GFLOP/s\n")

    rows = []
    print("| network | batch | implementation | samples/s | x vectorized | of 1-thread bound "
          "| max diff |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for shape_id, shape in SHAPES.items():
        for batch in BATCHES:
            impls = contenders(shape_id, batch)
            rates = samples_per_second(impls, shape, batch, "float64", repeats, seconds)
            differences = check(impls, shape, batch, "float64")
            numpy_best = max(rate for name, rate in rates.items() if name.startswith("vectorized"))
            bound = gflops * 1e9 / flops_per_sample(shape, batch)
            for name, rate in sorted(rates.items(), key=lambda item: -item[1]):
                rows.append(dict(shape=shape_id, batch=batch, name=name, rate=rate,
                                 bound=bound))
                print(f"| {shape_id} | {batch} | {name} | {rate:,.0f} | {rate / numpy_best:.2f} "
                      f"| {rate / bound:.0%} | {differences[name]:.1e} |", flush=True)

    print("\n### float32 against float64 (loops backends, 784-100-10)\n")
    print("| batch | implementation | float64 samples/s | float32 samples/s | float32 / float64 "
          "| max diff float32 |")
    print("|---:|---|---:|---:|---:|---:|")
    shape = SHAPES["784-100-10"]
    float32 = {}
    for batch in BATCHES:
        impls = contenders("784-100-10", batch, "float32")
        # float64 and float32 side by side in the same rounds, so both see the same load
        pairs = {(name, d): impl for name, impl in impls.items() for d in ("float64", "float32")}
        rates = samples_per_second(pairs, shape, batch, {pair: pair[1] for pair in pairs},
                                   repeats, seconds)
        both = {d: {name: rates[name, d] for name in impls} for d in ("float64", "float32")}
        differences = check(impls, shape, batch, "float32")
        float32[batch] = both
        for name in impls:
            print(f"| {batch} | {name} | {both['float64'][name]:,.0f} | {both['float32'][name]:,.0f}"
                  f" | {both['float32'][name] / both['float64'][name]:.2f} "
                  f"| {differences[name]:.1e} |", flush=True)

    imported, first, second = cold_start(2 if args.quick else 3)
    print(f"\n### numba's on-disk cache\n\nA fresh process, cache warm: `import neuronet` "
          f"{imported:.2f} s, first `net.step` (784-100-10, one sample) {first:.3f} s, "
          f"second {second * 1e3:.2f} ms.")
    targets(rows, float32, first)
    plot(rows, args.plot)


def targets(rows, float32, first):
    """Issue 4's targets for 784-100-10, float64, from the numbers above."""
    rate = {(row["batch"], row["name"]): row["rate"] for row in rows if row["shape"] == "784-100-10"}
    bound = {row["batch"]: row["bound"] for row in rows if row["shape"] == "784-100-10"}

    def best(batch, prefix):
        found = [r for (b, name), r in rate.items() if b == batch and name.startswith(prefix)]
        return max(found) if found else None

    loops1 = rate[1, "loops"]
    print("\n### Targets (784-100-10, float64; numpy and torch: the faster of their thread "
          "settings)\n")
    print("| target | wanted | reached |\n|---|---:|---:|")
    print(f"| loops batch 1 / vectorized batch 1 | >= 8 | {loops1 / best(1, 'vectorized'):.1f} |")
    if best(1, "torch"):
        print(f"| loops batch 1 / torch batch 1 | >= 15 | {loops1 / best(1, 'torch'):.1f} |")
    print(f"| loops batch 1 / one-thread compute bound | >= 50% | {loops1 / bound[1]:.0%} |")
    print(f"| loops batch 10 / vectorized batch 10 | >= 1.0 "
          f"| {rate[10, 'loops'] / best(10, 'vectorized'):.2f} |")
    print(f"| loops batch 100 / vectorized batch 100 | >= 0.6 "
          f"| {rate[100, 'loops'] / best(100, 'vectorized'):.2f} |")
    for batch, both in float32.items():
        print(f"| loops float32 / float64, batch {batch} | >= 1.5 "
              f"| {both['float32']['loops'] / both['float64']['loops']:.2f} |")
    print(f"| first call of a fresh process, cache warm | <= 0.5 s | {first:.2f} s |")


if __name__ == "__main__":
    main()
