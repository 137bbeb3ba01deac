"""The speed report's tables, one function each, printed as markdown: every implementation at
every network and batch size (``network_table``), the README's excerpt, plain SGD, batch 1 in
float64 and float32, float32 against float64, the post's API (``net.train`` against
``net.step``), batch 1 against this machine's bounds (``limits``), scikit-learn's MLPClassifier,
and the targets the numbers are held to.
"""
import statistics
import time

import numpy as np
from implementations import (
    BATCHES,
    SHAPES,
    Backend,
    NumpyTextbook,
    TorchManual,
    flops_per_sample,
    make_data,
)
from report_machine import cache_sizes, machine_bounds
from report_rates import (
    NUMPY,
    PLAIN,
    TORCH,
    best_of,
    check,
    contenders,
    ratio,
    samples_per_second,
    winner,
)

from neuronet import Network, backends
from neuronet.backends import BACKENDS
from neuronet.vectorized import VectorizedBackend


def network_table(repeats, seconds, gflops):
    """Every implementation at every network and batch size, float64, momentum 0.9, L2 1e-4:
    samples/s, against the best numpy and PyTorch and the one-thread compute bound, and the
    largest difference from the twin's epoch. Returns the rows."""
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
    return rows


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


def float32_table(repeats, seconds):
    """The loops backends in float32 against float64 (784-100-10), side by side in the same
    rounds; returns {batch: {dtype: {implementation: samples/s}}}."""
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
    return float32


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
