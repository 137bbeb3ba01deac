"""Two checkouts of neuronet side by side: the speed of each step the benchmarks bar, as ratios.

    python benchmarks/versus.py OLD NEW [--rounds 7]

OLD and NEW are the roots of two checkouts (a git worktree of an earlier commit, say). Each
round runs one process per checkout, in turn (OLD, NEW, OLD, NEW, ...), so both see the
machine's speed of the same minutes; each process times every case through the public API only
(``Network.step``, ``Network.train``), which both checkouts have, best of a few repeats after a
warm-up. The table gives, per case, NEW's rate over OLD's in each round's pair, as median
[min-max], and each checkout's median samples a second. A first process per checkout with an
empty numba cache gives the time of the first step (compiling the kernels).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# (name, shape, backend, batch, momentum, dtype): 784-100-10 at batch 1, 10 and 100 with plain
# SGD and momentum, loops and the numpy twin; float32; the fused 784-30-10 case.
CASES = [(f"{backend} {shape} b{batch} {'mom' if mu else 'plain'} {dtype}", shape, backend,
          batch, mu, dtype)
         for shape in ["784-100-10"] for backend in ["loops", "vectorized"]
         for batch in [1, 10, 100] for mu in [0.0, 0.9] for dtype in ["float64"]]
CASES += [(f"loops 784-100-10 b{b} mom float32", "784-100-10", "loops", b, 0.9, "float32")
          for b in [1, 10, 100]]
CASES += [(f"loops 784-30-10 b{b} plain float64", "784-30-10", "loops", b, 0.0, "float64")
          for b in [1, 10]]


def one_process(repeats):
    """Time every case here (the checkout on sys.path); print {case: samples/s} as JSON."""
    import numpy as np

    from neuronet import Network
    rng = np.random.default_rng(0)
    x = rng.random((2000, 784))
    y = np.eye(10)[rng.integers(0, 10, 2000)]
    rates = {}
    for name, shape, backend, batch, mu, dtype in CASES:
        sizes = tuple(int(n) for n in shape.split("-"))
        net = Network(sizes, seed=1, backend=backend, dtype=dtype)
        xs, ys = x.astype(dtype), y.astype(dtype)
        n = {1: 600, 10: 2000, 100: 2000}[batch]
        net.step(xs[:batch], ys[:batch], 0.1, momentum=mu, batch_size=batch)  # warm up
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            net.step(xs[:n], ys[:n], 0.1, momentum=mu, batch_size=batch)
            best = min(best, time.perf_counter() - start)
        rates[name] = n / best
    for mu in (0.0, 0.9):  # the post's API: train a sample a call against step at batch 1
        net = Network((784, 100, 10), seed=1)
        net.train(x[0], y[0], 0.1, momentum=mu)
        train = step = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            for i in range(300):
                net.train(x[i], y[i], 0.1, momentum=mu)
            train = min(train, time.perf_counter() - start)
            start = time.perf_counter()
            net.step(x[:300], y[:300], 0.1, momentum=mu, batch_size=1)
            step = min(step, time.perf_counter() - start)
        rates[f"train / step {'mom' if mu else 'plain'}"] = step / train
    print(json.dumps(rates))


def first_step_seconds(root):
    """Seconds of a fresh process's first 784-100-10 step with an empty numba cache: the
    compile time of the kernels it runs."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, PYTHONPATH=root, NUMBA_CACHE_DIR=cache)
        program = ("import time, numpy as np; from neuronet import Network; "
                   "net = Network((784, 100, 10), seed=1); x = np.ones((10, 784)); "
                   "y = np.ones((10, 10)); t = time.perf_counter(); net.step(x, y, 0.1, "
                   "batch_size=10); net.step(x[:1], y[:1], 0.1, batch_size=1); "
                   "print(time.perf_counter() - t)")
        # cwd=root: "python -c" puts the working folder first on sys.path.
        return float(subprocess.run([sys.executable, "-c", program], env=env, check=True,
                                    capture_output=True, text=True, cwd=root).stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one_process(args.repeats)
        return
    compile_times = {root: first_step_seconds(root) for root in (args.old, args.new)}
    runs = {args.old: [], args.new: []}
    for _ in range(args.rounds):
        for root in (args.old, args.new):
            env = dict(os.environ, PYTHONPATH=root)
            out = subprocess.run([sys.executable, __file__, "--one", "--repeats",
                                  str(args.repeats), args.old, args.new], env=env, check=True,
                                 capture_output=True, text=True).stdout
            runs[root].append(json.loads(out))
    print(f"load average {os.getloadavg()[0]:.2f} at the end, {args.rounds} rounds\n")
    print("| case | new / old, median [min-max] | old | new |\n|---|---:|---:|---:|")
    for case in runs[args.old][0]:
        ratios = [b[case] / a[case] for a, b in zip(runs[args.old], runs[args.new])]
        old = statistics.median(r[case] for r in runs[args.old])
        new = statistics.median(r[case] for r in runs[args.new])
        unit = "" if case.startswith("train") else " /s"
        print(f"| {case} | {statistics.median(ratios):.3f} [{min(ratios):.3f}-{max(ratios):.3f}] "
              f"| {old:,.2f}{unit} | {new:,.2f}{unit} |")
    print(f"| first step, empty cache (s) | | {compile_times[args.old]:.1f} "
          f"| {compile_times[args.new]:.1f} |")


if __name__ == "__main__":
    main()
