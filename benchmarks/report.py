"""Samples per second of each implementation, side by side, against this machine's limit.

    python benchmarks/report.py [--quick] [--plot FILE.png] [--repeats N]

For each network and batch size it trains every implementation (see ``implementations.py``) in
turn, round after round, and keeps each one's best round: on a machine shared with other work
the best round is the one least disturbed. It prints a markdown table of samples per second,
the ratio to the best numpy of the run (the twin, or numpy-textbook on one or two BLAS threads)
and to the best PyTorch (autograd or manual, one or two threads), and the fraction of the
one-thread compute bound: numpy's float64 matrix-multiply GFLOP/s on one thread (measured here,
in a subprocess with OPENBLAS_NUM_THREADS=1 and the environment otherwise as it is) divided by
the FLOPs per sample of the network (``implementations.flops_per_sample``). Every
implementation's epoch is also checked against the vectorized one (column "max diff").
Then: the README table (784-100-10; the twin and numpy-textbook each on the faster of one and two
BLAS threads), plain SGD (momentum 0, no L2: the twin against numpy-textbook), this machine's streaming bandwidth from L2, L3 and DRAM (measured as GEMM is)
and batch 1 against the lower of the compute and bandwidth bounds, scikit-learn's
MLPClassifier (when installed), float32 against float64, and the first call of a fresh process
once numba's cache is warm.
"""
import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import itertools

from implementations import (
    BATCHES,
    SHAPES,
    Backend,
    NumpyTextbook,
    Torch,
    TorchManual,
    flops_per_sample,
    implementations,
    largest_difference,
    make_data,
    make_net,
    state,
)

from neuronet import Network, backends
from neuronet.network import BACKENDS
from neuronet.vectorized import VectorizedBackend

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

BANDWIDTH = """
import time, numpy as np
for total in SIZES:  # bytes of a and b together
    a, b = np.ones((2, total // 16))
    passes = max(1, int(2e8 // total))
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(passes):
            np.add(a, b, out=a)
        best = min(best, (time.perf_counter() - start) / passes)
    print(total, 3 * a.nbytes / best / 1e9)  # a read, b read, a written
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


def cache_sizes():
    """{level: bytes} of the data caches of CPU 0, from /sys (empty where it is not there)."""
    sizes = {}
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            if (index / "type").read_text().strip() == "Instruction":
                continue
            text = (index / "size").read_text().strip()
            sizes[int((index / "level").read_text())] = int(text[:-1]) * 1024 if text.endswith(
                "K") else int(text)
        except (OSError, ValueError):
            continue
    return sizes


def bandwidth(repeats, caches):
    """{level: GB/s} of ``a += b`` on one thread, in a fresh process, for a and b together half
    of L2, 8 times L2 (within L3 when L3 is larger) and 1 GiB (DRAM: beyond this L3)."""
    l2 = caches.get(2, 2**21)
    sizes = {"L2": l2 // 2, "L3": 8 * l2, "DRAM": 2**30}
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    program = BANDWIDTH.replace("SIZES", str(list(sizes.values()))).replace("REPEATS",
                                                                             str(repeats))
    out = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                         text=True, check=True)
    rates = dict(line.split() for line in out.stdout.splitlines())
    return {level: (size, float(rates[str(size)])) for level, size in sizes.items()}


def environment():
    """What the numbers depend on: versions, BLAS, threads, OpenBLAS settings."""
    lines = [(f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}"
             f" (threading layer {numba.config.THREADING_LAYER}, {numba.get_num_threads()} threads)"
             f", {os.cpu_count()} CPUs ({platform.processor() or platform.machine()})")]
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


PLAIN = (0.5, 0.0, 0.0)  # the post's SGD: learning rate 0.5, no momentum, no L2
NUMPY = ("vectorized", "numpy-textbook")
TORCH = ("torch",)


def contenders(shape_id, batch, dtype="float64"):
    """Every implementation, and the peers on both thread counts: "numpy-textbook" and
    "torch-manual" run one thread, "torch" torch's default (2 here)."""
    found = implementations()
    if (shape_id, batch) != ("784-30-10", 1) or dtype != "float64":
        del found["python"]
    if batch == 1:  # what the blocks of one-sample steps buy
        found["loops-unblocked"] = Backend(backends.FastBackend(backends.FUSED, block=1))
    found["numpy-textbook-2threads"] = NumpyTextbook(threads=2)
    if "torch" in found:
        found["torch-1thread"] = Torch(threads=1)
        found["torch-manual-2threads"] = TorchManual(threads=2)
    if dtype != "float64":
        found = {name: impl for name, impl in found.items() if name.startswith("loops")}
    return found


def samples_per_second(impls, shape, batch, dtype, repeats, seconds):
    """Best-of-``repeats`` samples/s of each implementation, the rounds interleaved, each round
    in a new order.

    ``dtype`` is one dtype for all, or a dict giving each implementation's.
    """
    dtypes = dtype if isinstance(dtype, dict) else {name: dtype for name in impls}
    data = {d: make_data(4000, shape, d) for d in set(dtypes.values())}
    nets, sizes, best = {}, {}, {}
    for name, impl in impls.items():
        x, y = data[dtypes[name]]
        nets[name] = make_net(shape, dtypes[name])
        impl.sgd_epoch(nets[name], x, y, np.arange(batch), batch)  # compile or load the JIT
        # A round's size comes from one step's time: the fastest of five, as one disturbed step
        # made the rounds a few samples long and measured call overhead (784-100-10 batch 1 at
        # 8,348 samples/s in one run, 41,401 in the run before).
        once = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            impl.sgd_epoch(nets[name], x, y, np.arange(batch), batch)
            once = min(once, max(time.perf_counter() - start, 1e-7))
        steps = int(min(4000 // batch, max(1, seconds / once)))
        sizes[name], best[name] = steps * batch, float("inf")
    # Each round in a new order: a thread pool that has just worked (numba's for loops-prange,
    # torch's, an OpenBLAS on two threads) keeps spinning on a core for a while, and slows
    # whichever implementation runs next.
    rng = np.random.default_rng(0)
    names = list(impls)
    for _ in range(repeats):
        for i in rng.permutation(len(names)):
            name, impl = names[i], impls[names[i]]
            x, y = data[dtypes[name]]
            order = np.arange(sizes[name])
            start = time.perf_counter()
            impl.sgd_epoch(nets[name], x, y, order, batch)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: sizes[name] / best[name] for name in impls}


def check(impls, shape, batch, dtype, reference_impl=None, compared=state):
    """Largest difference after a 20-sample epoch from the same start, against vectorized."""
    x, y = make_data(20, shape, "float64")
    order = np.random.default_rng(3).permutation(20)
    reference = make_net(shape)
    (reference_impl or implementations()["vectorized"]).sgd_epoch(reference, x, y, order, batch)
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
        differences[name] = largest_difference(compared(net), compared(reference))
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
    print("| network | batch | implementation | samples/s | / best numpy | / best PyTorch "
          "| of 1-thread bound | max diff |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for shape_id, shape in SHAPES.items():
        for batch in BATCHES:
            impls = contenders(shape_id, batch)
            rates = samples_per_second(impls, shape, batch, "float64", repeats, seconds)
            differences = check(impls, shape, batch, "float64")
            numpy_best, torch_best = best_of(rates, NUMPY), best_of(rates, TORCH)
            bound = gflops * 1e9 / flops_per_sample(shape, batch)
            for name, rate in sorted(rates.items(), key=lambda item: -item[1]):
                rows.append({"shape": shape_id, "batch": batch, "name": name, "rate": rate,
                                 "bound": bound})
                print(f"| {shape_id} | {batch} | {name} | {rate:,.0f} | {rate / numpy_best:.2f} "
                      f"| {ratio(rate, torch_best)} | {rate / bound:.0%} "
                      f"| {differences[name]:.1e} |", flush=True)

    readme_table(rows)
    plain = plain_sgd(repeats, seconds)
    first_plain = batch_one_plain(repeats, seconds)
    fractions = limits(rows, first_plain, gflops, bandwidth(10 if args.quick else 40,
                                                           cache_sizes()))
    scikit_learn(2 if args.quick else 5)

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

    api = train_against_step(repeats)
    imported, first, second = cold_start(2 if args.quick else 3)
    print(f"\n### numba's on-disk cache\n\nA fresh process, cache warm: `import neuronet` "
          f"{imported:.2f} s, first `net.step` (784-100-10, one sample) {first:.3f} s, "
          f"second {second * 1e3:.2f} ms.")
    targets(rows, float32, first, plain, fractions, first_plain, api)
    plot(rows, args.plot)


def best_of(rates, prefixes):
    """The highest rate among implementations named with one of ``prefixes`` (None if none)."""
    found = [rate for name, rate in rates.items() if name.startswith(prefixes)]
    return max(found) if found else None


def ratio(rate, other):
    return f"{rate / other:.2f}" if other else "-"


def winner(rates, prefixes):
    return max((name for name in rates if name.startswith(prefixes)), key=rates.get)


def readme_table(rows):
    """784-100-10 at each batch size: loops, the twin, numpy-textbook, PyTorch and the ratios."""
    print("\n### For the README (784-100-10, float64, momentum 0.9, L2 1e-4)\n")
    print("| batch | loops | vectorized (twin, best threads) | numpy-textbook (best threads) "
          "| PyTorch (best) | loops / best numpy | loops / PyTorch | twin / numpy-textbook "
          "| twin / PyTorch |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for batch in BATCHES:
        rates = {row["name"]: row["rate"] for row in rows
                 if row["shape"] == "784-100-10" and row["batch"] == batch}
        numpy_best, torch_best = best_of(rates, NUMPY), best_of(rates, TORCH)
        textbook, twin = winner(rates, ("numpy-textbook",)), winner(rates, ("vectorized",))
        torch = winner(rates, TORCH) if torch_best else None
        print(f"| {batch} | {rates['loops']:,.0f} | {rates[twin]:,.0f} ({twin}) "
              f"| {rates[textbook]:,.0f} ({textbook}) "
              f"| {f'{torch_best:,.0f} ({torch})' if torch else '-'} "
              f"| {rates['loops'] / numpy_best:.2f} | {ratio(rates['loops'], torch_best)} "
              f"| {rates[twin] / rates[textbook]:.2f} "
              f"| {ratio(rates[twin], torch_best)} |")


def plain_sgd(repeats, seconds):
    """The post's plain SGD (no momentum, no L2), 784-100-10: the twin against numpy-textbook."""
    print("\n### Plain SGD (784-100-10, float64, learning rate 0.5, momentum 0, no L2)\n")
    print("| batch | implementation | samples/s | / best numpy-textbook | / best PyTorch "
          "| max diff (w, b) |")
    print("|---:|---|---:|---:|---:|---:|")
    shape = SHAPES["784-100-10"]
    reference = Backend(BACKENDS["vectorized"], settings=PLAIN)
    found = {}
    for batch in BATCHES:
        impls = {"loops": Backend(backends.FastBackend(backends.FUSED), settings=PLAIN),
                 "loops-unblocked": Backend(backends.FastBackend(backends.FUSED, block=1), settings=PLAIN),
                 "vectorized": reference,
                 "vectorized-2threads": Backend(VectorizedBackend(threads=2), settings=PLAIN),
                 "numpy-textbook": NumpyTextbook(threads=1, settings=PLAIN),
                 "numpy-textbook-2threads": NumpyTextbook(threads=2, settings=PLAIN)}
        try:
            impls["torch-manual"] = TorchManual(threads=1, settings=PLAIN)
            impls["torch-manual-2threads"] = TorchManual(threads=2, settings=PLAIN)
        except ImportError:
            pass
        rates = samples_per_second(impls, shape, batch, "float64", repeats, seconds)
        differences = check(impls, shape, batch, "float64", reference,
                            lambda net: net.weights + net.biases)
        textbook, torch_best = best_of(rates, ("numpy-textbook",)), best_of(rates, TORCH)
        for name, rate in sorted(rates.items(), key=lambda item: -item[1]):
            print(f"| {batch} | {name} | {rate:,.0f} | {rate / textbook:.2f} "
                  f"| {ratio(rate, torch_best)} | {differences[name]:.1e} |", flush=True)
        found[batch] = rates
    return found


def batch_one_plain(repeats, seconds):
    """The post's plain SGD one sample at a time, for every network: the loops (blocks of
    one-sample steps, and sample by sample) in float64 and float32, side by side in the same
    rounds, and the best numpy (the twin, numpy-textbook) in float64."""
    print("\n### Batch 1, plain SGD (learning rate 0.5, momentum 0, no L2), float64 and float32\n")
    print("| network | implementation | float64 samples/s | float32 samples/s | float32 / float64 "
          "| / best numpy (float64) |")
    print("|---|---|---:|---:|---:|---:|")
    found = {}
    for shape_id, shape in SHAPES.items():
        loops = {"loops": Backend(backends.FastBackend(backends.FUSED), settings=PLAIN),
                 "loops-unblocked": Backend(backends.FastBackend(backends.FUSED, block=1),
                                            settings=PLAIN)}
        impls = {(name, d): impl for name, impl in loops.items() for d in ("float64", "float32")}
        impls["vectorized", "float64"] = Backend(BACKENDS["vectorized"], settings=PLAIN)
        impls["numpy-textbook", "float64"] = NumpyTextbook(threads=1, settings=PLAIN)
        rates = samples_per_second(impls, shape, 1, {pair: pair[1] for pair in impls}, repeats,
                                   seconds)
        numpy_best = max(rates["vectorized", "float64"], rates["numpy-textbook", "float64"])
        for name in loops:
            double, single = rates[name, "float64"], rates[name, "float32"]
            print(f"| {shape_id} | {name} | {double:,.0f} | {single:,.0f} | {single / double:.2f} "
                  f"| {double / numpy_best:.2f} |", flush=True)
        for name in ("vectorized", "numpy-textbook"):
            print(f"| {shape_id} | {name} | {rates[name, 'float64']:,.0f} | | "
                  f"| {rates[name, 'float64'] / numpy_best:.2f} |", flush=True)
        found[shape_id] = rates
    return found


def train_against_step(repeats, samples=200):
    """The post's API, 784-100-10 float64: ``net.train`` on one sample a call against
    ``net.step(..., batch_size=1)`` over the same samples in one call, and ``net.predict`` of
    one sample a call against one call for all, the rounds interleaved; plain SGD (the post's
    update, learning rate 0.1, as benchmarks/test_api_speed.py) and momentum 0.9."""
    shape = SHAPES["784-100-10"]
    x, y = make_data(samples, shape)
    print(f"\n### The post's API (784-100-10, float64, {samples} samples a round, best of "
          f"{repeats} rounds)\n")
    print("| what | momentum | us a sample | samples/s | ratio | ratio a round, median "
          "[min-max] |\n|---|---:|---:|---:|---:|---:|")

    def train(net, mu):
        for i in range(samples):
            net.train(x[i], y[i], 0.1, momentum=mu)

    def step(net, mu):
        net.step(x, y, 0.1, momentum=mu, batch_size=1)

    def predict_each(net, mu):
        for i in range(samples):
            net.predict(x[i])

    def predict_all(net, mu):
        net.predict(x)

    ratios = {}
    for one, many in ((train, step), (predict_each, predict_all)):
        for mu in ((0.0, 0.9) if one is train else (0.0,)):
            nets = {f: Network(shape, seed=0) for f in (one, many)}
            times = {f: [] for f in nets}
            for f, net in nets.items():
                f(net, mu)  # compile or load the kernels, make the work arrays
            for _ in range(repeats):
                for f, net in nets.items():
                    start = time.perf_counter()
                    f(net, mu)
                    times[f].append((time.perf_counter() - start) / samples)
            best = {f: min(t) for f, t in times.items()}
            rounds = [m / o for o, m in zip(times[one], times[many])]  # each round's pair
            ratios[one.__name__, mu] = best[many] / best[one]
            for f in (one, many):
                spread = (f"{statistics.median(rounds):.2f} [{min(rounds):.2f}-{max(rounds):.2f}]"
                          if f is one else "")
                print(f"| {f.__name__} | {mu:g} | {best[f] * 1e6:.1f} | {1 / best[f]:,.0f} "
                      f"| {best[many] / best[f]:.2f} | {spread} |", flush=True)
    return ratios


def machine_bounds(shape, bytes_a_weight, caches, gflops, bandwidths):
    """A network's weights P, the cache level its state of ``bytes_a_weight`` a weight fits in,
    its batch-1 compute bound (samples/s) and that level's bandwidth (bytes/s)."""
    p = sum(n_in * n_out for n_in, n_out in itertools.pairwise(shape))
    level = ("L2" if bytes_a_weight * p <= caches.get(2, 0) else
             "L3" if bytes_a_weight * p <= caches.get(3, 0) else "DRAM")
    return p, level, gflops * 1e9 / flops_per_sample(shape, 1), bandwidths[level][1] * 1e9


def limits(rows, plain, gflops, bandwidths):
    """Batch 1 against the lower of the compute bound and the bandwidth bound, for plain SGD
    (``batch_one_plain``, the post's update) and momentum 0.9 with L2 (``rows``)."""
    print("\n### Streaming bandwidth, one thread (`a += b`: 3 x the bytes of a a pass, best "
          "round)\n")
    print("| level | a and b together | GB/s |\n|---|---:|---:|")
    for level, (size, rate) in bandwidths.items():
        print(f"| {level} | {size / 2**20:,.1f} MiB | {rate:.1f} |")
    caches = cache_sizes()
    print("\nCaches of CPU 0 (/sys): " + ", ".join(f"L{level} {size / 2**20:g} MiB"
                                                   for level, size in sorted(caches.items())))
    print("\n### Batch 1 against this machine's bound (float64, momentum 0.9, L2 1e-4)\n")
    print("A step that updates the weights sample by sample must read every weight for the "
          "forward pass (8 bytes each) and read and write every weight and velocity for the "
          "update (32 bytes each; BP2 and BP4 can share that pass): 40 bytes a weight, the "
          "streaming bound of `loops-plain` and `loops-prange`. `loops` applies the first "
          f"layer's steps {backends.BLOCK} samples at a time (`blocks.sgd_epoch_blocks`): it reads and "
          f"writes w and v once a block, 32 / {backends.BLOCK} bytes a weight a sample, so its bound "
          "is the compute bound. FLOPs as in `implementations.flops_per_sample`; the compute "
          "bound is GEMM's GFLOP/s / FLOPs, the bandwidth that of the level w and v fit in (16 "
          "bytes a weight); each bound is the lower of the two.\n")
    print("| network | weights P | FLOPs a step | w + v fit in | compute bound | streaming bound "
          "(40 B a weight) | loops | loops of the streaming bound | loops-plain | loops-prange |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    plain_fractions, momentum_fractions = {}, {}
    for shape_id, shape in SHAPES.items():
        p, level, compute, bandwidth = machine_bounds(shape, 16, caches, gflops, bandwidths)
        bounds = {"loops": min(compute, bandwidth / (32 * p / backends.BLOCK)),
                  "loops-plain": min(compute, bandwidth / (40 * p)),
                  "loops-prange": min(compute, bandwidth / (40 * p))}
        rates = {row["name"]: row["rate"] for row in rows
                 if row["shape"] == shape_id and row["batch"] == 1}
        cells = [f"{rates[name]:,.0f} ({rates[name] / bound:.0%})"
                 for name, bound in bounds.items()]
        streaming = bounds["loops-plain"]
        print(f"| {shape_id} | {p:,} | {flops_per_sample(shape, 1):,.0f} | {level} "
              f"| {compute:,.0f} | {bandwidth / (40 * p):,.0f} | {cells[0]} "
              f"| {rates['loops'] / streaming:.0%} | {cells[1]} | {cells[2]} |")
        momentum_fractions[shape_id] = rates["loops"] / bounds["loops"]
    print("\nPlain SGD (the post's update, ``batch_one_plain``): no velocity, so a step that "
          "updates the weights sample by sample moves 24 bytes a weight (read for the forward "
          "pass, read and written for the update); the blocks read and write w once a block.\n")
    print("| network | compute bound | streaming bound (24 B a weight) | loops | loops-unblocked "
          "| loops float32 |")
    print("|---|---:|---:|---:|---:|---:|")
    for shape_id, shape in SHAPES.items():
        p, level, compute, bandwidth = machine_bounds(shape, 8, caches, gflops, bandwidths)
        bound = min(compute, bandwidth / (16 * p / backends.BLOCK))
        streaming = bandwidth / (24 * p)
        rates = plain[shape_id]
        blocked, unblocked = rates["loops", "float64"], rates["loops-unblocked", "float64"]
        print(f"| {shape_id} | {compute:,.0f} | {streaming:,.0f} ({level}) "
              f"| {blocked:,.0f} ({blocked / bound:.0%}) "
              f"| {unblocked:,.0f} ({unblocked / min(compute, streaming):.0%}) "
              f"| {rates['loops', 'float32']:,.0f} |")
        plain_fractions[shape_id] = blocked / bound
    return plain_fractions, momentum_fractions


def scikit_learn(repeats):
    """MLPClassifier's epoch (partial_fit) on 784-100-10: not the same work (softmax output,
    cross-entropy, its own L2 scaling), so a reference point, not a row of the table."""
    try:
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        print("\nscikit-learn: not installed (pip install scikit-learn)")
        return
    import warnings
    print("\n### scikit-learn MLPClassifier (784-100-10, logistic hidden layer, softmax output "
          "and cross-entropy, SGD lr 0.5 momentum 0.9 alpha 1e-4, float64)\n")
    print("| batch | samples in the epoch | best epoch s | samples/s |\n|---:|---:|---:|---:|")
    x, y = make_data(2000, SHAPES["784-100-10"])
    labels = y.argmax(axis=1)
    for batch in BATCHES:
        n = 500 if batch == 1 else 2000
        clf = MLPClassifier(hidden_layer_sizes=(100,), activation="logistic", solver="sgd",
                            batch_size=batch, learning_rate_init=0.5, momentum=0.9,
                            nesterovs_momentum=False, alpha=1e-4, shuffle=False, random_state=0)
        best = float("inf")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.partial_fit(x[:n], labels[:n], classes=np.arange(10))
            for _ in range(repeats):
                start = time.perf_counter()
                clf.partial_fit(x[:n], labels[:n])
                best = min(best, time.perf_counter() - start)
        print(f"| {batch} | {n} | {best:.3f} | {n / best:,.0f} |", flush=True)


def targets(rows, float32, first, plain, fractions, first_plain, api):
    """The speed targets, from the numbers above: the loops and the twin against numpy-textbook
    (784-100-10, float64, each on the faster of one and two BLAS threads), float32 against
    float64, and the batch-1 fraction of the bound."""
    rate = {(row["batch"], row["name"]): row["rate"] for row in rows if row["shape"] == "784-100-10"}

    def best(rates, batch, prefix):
        return max(r for (b, name), r in rates.items() if b == batch and name.startswith(prefix))

    plain_rate = {(batch, name): r for batch, found in plain.items() for name, r in found.items()}
    print("\n### Targets (784-100-10, float64, against the best numpy-textbook)\n")
    print("| target | wanted | reached |\n|---|---:|---:|")
    for settings, rates in (("plain SGD", plain_rate), ("momentum 0.9", rate)):
        for batch in BATCHES:
            print(f"| twin / numpy-textbook, batch {batch}, {settings} | >= 0.9 "
                  f"| {best(rates, batch, 'vectorized') / best(rates, batch, 'numpy-textbook'):.2f} |")
    wanted = {(1, "plain SGD"): 8, (1, "momentum 0.9"): 5, (10, "plain SGD"): 1.0,
              (10, "momentum 0.9"): 1.0, (100, "plain SGD"): 0.6, (100, "momentum 0.9"): 0.6}
    for (batch, settings), want in wanted.items():
        rates = plain_rate if settings == "plain SGD" else rate
        print(f"| loops / numpy-textbook, batch {batch}, {settings} | >= {want} "
              f"| {rates[batch, 'loops'] / best(rates, batch, 'numpy-textbook'):.2f} |")
    for batch, both in float32.items():
        print(f"| loops float32 / float64, batch {batch}, momentum 0.9 | >= 1.6 "
              f"| {both['float32']['loops'] / both['float64']['loops']:.2f} |")
    for shape_id, rates in first_plain.items():
        print(f"| loops float32 / float64, batch 1, plain SGD, {shape_id} | >= 1.6 "
              f"| {rates['loops', 'float32'] / rates['loops', 'float64']:.2f} |")
    plain_fractions, momentum_fractions = fractions
    for shape_id, fraction in plain_fractions.items():
        print(f"| loops batch 1 / bound, plain SGD, {shape_id} | >= 60% | {fraction:.0%} |")
    for shape_id, fraction in momentum_fractions.items():
        print(f"| loops batch 1 / bound, momentum 0.9 + L2, {shape_id} | (reported) "
              f"| {fraction:.0%} |")
    for mu in (0.0, 0.9):
        print(f"| net.train / net.step(batch_size=1), samples/s, momentum {mu:g} | >= 0.5 "
              f"| {api['train', mu]:.2f} |")
    print(f"| net.predict one sample a call / all in one call, samples/s | (reported) "
          f"| {api['predict_each', 0.0]:.2f} |")
    print(f"| first call of a fresh process, cache warm | <= 0.5 s | {first:.2f} s |")


if __name__ == "__main__":
    main()
