"""Two checkouts of neuronet side by side: the speed of each step the benchmarks bar, as ratios.

    python benchmarks/versus.py OLD NEW [--pairs 15]

OLD and NEW are the roots of two checkouts (a git worktree of an earlier commit, say). Both are
imported into one process, OLD's package copied under the name ``neuronet_old`` (its imports
are relative), and every case is timed for OLD and NEW in turn, pair after pair, the order
swapped each pair: on a shared machine whose speed drifts over seconds, a ratio of two timings
taken a few milliseconds apart holds where timings minutes apart do not. Each timing goes
through the public API only (``Network.step``, ``Network.train``), which both checkouts have,
best of three after a warm-up. The table gives, per case, NEW's rate over OLD's in each pair,
as median [min-max], and each checkout's median samples a second; for the post's API, each
checkout's rate of ``train`` a sample a call over ``step`` at batch 1 (the bar is 0.5). A
fresh process per checkout with an empty numba cache gives the time of the first step
(compiling the kernels).

    python benchmarks/versus.py OLD NEW --processes [--pairs 5]

times each case in a fresh process of its own instead, one checkout's and then the other's
(order swapped each pair), each importing its ``neuronet`` alone: what a user's program sees.
The two ways need not agree: in one process the placement of each package's objects and
compiled code differs from a process of its own, and moved some cases by 10 % either way.
"""
import argparse
import ast
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

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
SAMPLES = {1: 300, 10: 1000, 100: 1000}  # samples a timing: tens of milliseconds each


def best_of(run, repeats=3):
    """The shortest of ``repeats`` timings of ``run()``, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def step_timer(package, case, x, y):
    """A function timing one ``step`` of ``case`` with ``package``'s Network, warmed up."""
    _, shape, backend, batch, mu, dtype = case
    net = package.Network(tuple(int(n) for n in shape.split("-")), seed=1, backend=backend,
                          dtype=dtype)
    n = SAMPLES[batch]
    xs, ys = x[:n].astype(dtype), y[:n].astype(dtype)
    net.step(xs[:batch], ys[:batch], 0.1, momentum=mu, batch_size=batch)  # warm up
    return lambda: n / best_of(lambda: net.step(xs, ys, 0.1, momentum=mu, batch_size=batch))


def train_timer(package, mu, x, y):
    """A function timing ``train`` a sample a call against ``step`` at batch 1 (784-100-10):
    step's seconds over train's, for the same samples."""
    net = package.Network((784, 100, 10), seed=1)
    net.train(x[0], y[0], 0.1, momentum=mu)
    net.step(x[:1], y[:1], 0.1, momentum=mu, batch_size=1)
    n = SAMPLES[1]

    def train():
        for i in range(n):
            net.train(x[i], y[i], 0.1, momentum=mu)

    return lambda: (best_of(lambda: net.step(x[:n], y[:n], 0.1, momentum=mu, batch_size=1))
                    / best_of(train), n / best_of(train))


def first_step_seconds(root, name):
    """Seconds of a fresh process's first 784-100-10 steps (batch 10, then 1) with an empty
    numba cache: the compile time of the kernels they run."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, PYTHONPATH=root, NUMBA_CACHE_DIR=cache)
        program = (f"import time, numpy as np; from {name} import Network; "
                   "net = Network((784, 100, 10), seed=1); x = np.ones((10, 784)); "
                   "y = np.ones((10, 10)); t = time.perf_counter(); net.step(x, y, 0.1, "
                   "batch_size=10); net.step(x[:1], y[:1], 0.1, batch_size=1); "
                   "print(time.perf_counter() - t)")
        # cwd=root: "python -c" puts the working folder first on sys.path.
        return float(subprocess.run([sys.executable, "-c", program], env=env, check=True,
                                    capture_output=True, text=True, cwd=root).stdout)


def spread(values, digits=3):
    return (f"{statistics.median(values):.{digits}f} "
            f"[{min(values):.{digits}f}-{max(values):.{digits}f}]")


def data():
    """The inputs and one-hot targets every case steps on: 1,000 random 784-pixel samples."""
    rng = np.random.default_rng(0)
    return rng.random((1000, 784)), np.eye(10)[rng.integers(0, 10, 1000)]


def timer_of(package, name, x, y):
    """The timer of the case called ``name`` (``CASES`` or a train / step case)."""
    if name.startswith("train / step"):
        return train_timer(package, 0.9 if name.endswith("mom") else 0.0, x, y)
    return step_timer(package, next(case for case in CASES if case[0] == name), x, y)


def time_in_process(root, name):
    """The timing of case ``name`` in a fresh process importing the ``neuronet`` of ``root``."""
    program = ("import versus, neuronet; x, y = versus.data(); "
               f"print(versus.timer_of(neuronet, {name!r}, x, y)())")
    # this versus.py, whichever checkout root is; cwd=root: "python -c" puts it first on sys.path
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([here, root]))
    out = subprocess.run([sys.executable, "-c", program], env=env, check=True,
                         capture_output=True, text=True, cwd=root).stdout
    return ast.literal_eval(out)  # a float, or train's (ratio, rate)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--only", default="", help="time only the cases whose names hold this")
    parser.add_argument("--processes", action="store_true",
                        help="time each case in a fresh process per checkout")
    args = parser.parse_args()
    names = [case[0] for case in CASES if args.only in case[0]]
    names += [f"train / step {mu}" for mu in ("plain", "mom") if args.only in "train / step"]
    if args.processes:
        compile_times = (first_step_seconds(args.old, "neuronet"),
                         first_step_seconds(args.new, "neuronet"))
        results = {name: ([], []) for name in names}
        for pair in range(args.pairs):
            for name in names:
                roots = (args.old, args.new) if pair % 2 == 0 else (args.new, args.old)
                timed = dict(zip(roots, (time_in_process(root, name) for root in roots)))
                results[name][0].append(timed[args.old])
                results[name][1].append(timed[args.new])
        report(args, results, compile_times)
        return
    with tempfile.TemporaryDirectory() as folder:
        shutil.copytree(os.path.join(args.old, "neuronet"), os.path.join(folder, "neuronet_old"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        compile_times = (first_step_seconds(folder, "neuronet_old"),
                         first_step_seconds(args.new, "neuronet"))
        sys.path[:0] = [folder, args.new]
        packages = (importlib.import_module("neuronet_old"), importlib.import_module("neuronet"))
        x, y = data()
        timers = {name: [timer_of(p, name, x, y) for p in packages] for name in names}
        results = {case: ([], []) for case in timers}
        for pair in range(args.pairs):
            for case, (old, new) in timers.items():
                first, second = (old, new) if pair % 2 == 0 else (new, old)
                a, b = first(), second()
                results[case][0].append(a if pair % 2 == 0 else b)
                results[case][1].append(b if pair % 2 == 0 else a)
    report(args, results, compile_times)


def report(args, results, compile_times):
    """The table of ``results``: case -> (OLD's timings, NEW's timings), pair by pair."""
    print(f"load average {os.getloadavg()[0]:.2f} at the end, {args.pairs} pairs, "
          f"{os.cpu_count()} cores\n")
    print("| case | new / old, median [min-max] | old | new |\n|---|---:|---:|---:|")
    for case, (old, new) in results.items():
        if case.startswith("train"):
            old_ratio, new_ratio = [r for r, _ in old], [r for r, _ in new]
            speed = [b / a for (_, a), (_, b) in zip(old, new)]
            print(f"| {case} (train's rate new / old; each its train / step) | {spread(speed)} "
                  f"| {spread(old_ratio, 2)} | {spread(new_ratio, 2)} |")
        else:
            ratios = [b / a for a, b in zip(old, new)]
            print(f"| {case} | {spread(ratios)} | {statistics.median(old):,.0f} /s "
                  f"| {statistics.median(new):,.0f} /s |")
    print(f"| first step, empty cache (s) | | {compile_times[0]:.1f} | {compile_times[1]:.1f} |")


if __name__ == "__main__":
    main()
