"""Two facts of the first prototype checked on this machine, the memory floor of batch 1, where
two BLAS threads start to pay for the vectorized twin (``--threads``) and why its products all go
to one BLAS (``--pools``), two pieces of its step (``--pieces``), and the twin against numpy-textbook (``--twin``).

    python benchmarks/checks.py [--threads | --pools | --pieces | --twin]

Times the fused loops (784-100-10, float64, momentum 0.9) three ways in interleaved rounds,
best of 40: as shipped (fastmath={"reassoc", "contract"}, parameters on 64-byte boundaries),
with the parameters 8 bytes past a boundary, and compiled without fastmath.
"""
import itertools
import sys
import time

import numpy as np

from neuronet import Network, backends, fused, loops, records, rules
from neuronet.jit import njit
from neuronet.vectorized import Step, python_floats


def misaligned(array):
    """A copy of a float64 array that starts 8 bytes past a 64-byte boundary."""
    raw = np.empty(array.size * 8 + 64, np.uint8)
    offset = -raw.ctypes.data % 64 + 8
    out = raw[offset:offset + array.size * 8].view(np.float64).reshape(array.shape)
    out[...] = array
    return out


def main(rounds=40):
    no_fastmath = backends.FastBackend(backends.kernel_set(
        "fused-no-fastmath", njit(), fused.feedforward, loops.KERNELS.backprop, fused.sgd_epoch))
    variants = {"as shipped": (backends.FAST, records.aligned_copy),
                "misaligned by 8 bytes": (backends.FAST, misaligned),
                "no fastmath": (no_fastmath, records.aligned_copy)}
    rng = np.random.default_rng(0)
    x = records.aligned_copy(rng.random((1000, 784)))
    y = records.aligned_copy(np.eye(10)[rng.integers(0, 10, 1000)])
    print("| batch | variant | samples/s | time / as shipped |\n|---:|---|---:|---:|")
    for batch in (1, 10, 100):
        nets, best = {}, {}
        for name, (backend, place) in variants.items():
            net = Network((784, 100, 10), seed=1)
            net.weights = [place(w) for w in net.weights]
            net.velocity_w = [place(v) for v in net.velocity_w]
            nets[name], best[name] = net, float("inf")
        samples = {1: 100, 10: 300, 100: 1000}[batch]
        step = rules.settings(0.1, 0.9, 1e-4, rules.SGD_RULE, np.dtype("float64"))
        for _ in range(rounds + 1):  # the first round compiles
            for name, (backend, _) in variants.items():
                net = nets[name]
                start = time.perf_counter()
                params = records.parameters(net.weights, net.biases, net.velocity_w,
                                            net.velocity_b)
                backend.sgd_epoch(params, x, y, np.arange(samples), batch, step, net.model(), None,
                                  net.work)
                best[name] = min(best[name], time.perf_counter() - start)
        for name, seconds in best.items():
            print(f"| {batch} | {name} | {samples / seconds:,.0f} "
                  f"| {seconds / best['as shipped']:.2f} |", flush=True)


@njit(fastmath={"reassoc", "contract"})
def _update_pass(w, b, v_w, v_b, d, a_prev, step, repeats):
    """Only the momentum update of batch-1 SGD on every row: what a step cannot do without."""
    for _ in range(repeats):
        for j in range(w.shape[0]):
            fused.momentum_row(w, v_w, j, d[j], a_prev, step)
            rules.step_one(b, v_b, v_b, j, d[j], step)


def update_floor(rounds=40, repeats=100):
    """Seconds per step of the update pass alone on 784-100 (w and v: 2 x 627 kB)."""
    rng = np.random.default_rng(0)
    w, v_w = records.aligned_copy(rng.normal(0, 0.03, (100, 784))), records.aligned_empty((100, 784), float)
    v_w[...] = 0
    b, v_b, d, a_prev = np.zeros(100), np.zeros(100), rng.normal(0, 0.1, 100), rng.random(784)
    step = rules.settings(1e-9, 0.9, 1e-4, rules.SGD_RULE, np.dtype("float64"))
    _update_pass(w, b, v_w, v_b, d, a_prev, step, 1)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        _update_pass(w, b, v_w, v_b, d, a_prev, step, repeats)
        best = min(best, (time.perf_counter() - start) / repeats)
    moved = 4 * w.nbytes  # w and v, each read and written
    print(f"\nUpdate pass alone, 784-100, float64: {best * 1e6:.1f} us a step, "
          f"{moved / best / 1e9:.0f} GB/s of w and v moved, at most {1 / best:,.0f} steps/s")


def threads_crossover(rounds=40):
    """The twin's SGD step on one and on two BLAS threads, by the FLOPs of its largest product
    (2 n n_in n_out) and the bytes of its largest weight matrix: where
    ``vectorized.TWO_THREADS_FLOPS`` and ``TWO_THREADS_BYTES`` come from. Each step timed alone,
    the thread counts interleaved, ``rounds`` x 5 steps each; the fastest step and the 10th
    percentile (on a shared machine the median mostly measures the other work)."""
    from threadpoolctl import ThreadpoolController
    blas = ThreadpoolController().select(user_api="blas")
    print("\n| network | batch | largest product, FLOPs | largest w, MB | 1 thread, us (fastest, "
          "p10) | 2 threads, us | 2 / 1 (fastest, p10) | twin's choice |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|")
    for sizes, n in [((784, 30, 10), 1), ((784, 100, 10), 1), ((784, 300, 10), 1),
                     ((784, 800, 10), 1), ((784, 100, 10), 10), ((784, 30, 10), 100),
                     ((784, 100, 10), 30), ((784, 100, 10), 100), ((784, 30, 10), 300),
                     ((784, 800, 10), 10), ((784, 800, 10), 100)]:
        net = Network(sizes, seed=1)
        rng = np.random.default_rng(0)
        x, y = rng.random((n, sizes[0])), np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
        step, times = Step(sizes, n, np.float64), {1: [], 2: []}
        params = records.parameters(net.weights, net.biases, net.velocity_w, net.velocity_b)
        settings = python_floats(rules.settings(1e-3, 0.9, 1e-4, rules.SGD_RULE, net.dtype))
        args = (params, x, y, np.arange(n), settings, net.model(), [None] * (len(sizes) - 1))
        for _ in range(rounds):
            for threads in (1, 2):
                with blas.limit(limits=threads):
                    step(*args)  # wakes the pool's workers
                    for _ in range(5):
                        start = time.perf_counter()
                        step(*args)
                        times[threads].append(time.perf_counter() - start)
        fast = {t: np.percentile(times[t], [0, 10]) for t in times}
        largest = max(a * b for a, b in itertools.pairwise(sizes))
        print(f"| {'-'.join(map(str, sizes))} | {n} | {2 * n * largest:.1e} | {8 * largest / 1e6:.1f} "
              f"| {fast[1][0] * 1e6:,.0f}, {fast[1][1] * 1e6:,.0f} "
              f"| {fast[2][0] * 1e6:,.0f}, {fast[2][1] * 1e6:,.0f} "
              f"| {fast[1][0] / fast[2][0]:.2f}, {fast[1][1] / fast[2][1]:.2f} | {step.threads} |",
              flush=True)


def pools(rounds=30):
    """Why every product of the twin's step goes to scipy's BLAS: numpy and scipy each load an
    OpenBLAS with its own threads. A batch-100 784-100 forward and update, numpy's matmul and
    scipy's gemm mixed or each alone, on one and two threads; fastest, 10th percentile and median
    of ``rounds`` x 5."""
    from scipy.linalg.blas import dgemm
    from threadpoolctl import ThreadpoolController
    blas = ThreadpoolController().select(user_api="blas")
    rng = np.random.default_rng(0)
    a_prev, delta = rng.random((100, 784)), rng.normal(0, 0.1, (100, 100))
    w, grad_w, z = rng.normal(0, 0.03, (100, 784)), np.empty((100, 784)), np.empty((100, 100))
    variants = {
        "numpy only (matmul, matmul into a buffer, w -= buffer)": lambda: (
            np.matmul(a_prev, w.T, out=z), np.matmul(delta.T, a_prev, out=grad_w),
            np.subtract(w, grad_w, out=w)),
        "numpy forward, scipy gemm update": lambda: (
            np.matmul(a_prev, w.T, out=z),
            dgemm(-1e-9, a_prev.T, delta.T, beta=1.0, c=w.T, trans_b=True, overwrite_c=True)),
        "scipy only (gemm, gemm update)": lambda: (
            dgemm(1.0, w.T, a_prev.T, c=z.T, trans_a=True, overwrite_c=True),
            dgemm(-1e-9, a_prev.T, delta.T, beta=1.0, c=w.T, trans_b=True, overwrite_c=True)),
    }
    times = {(name, t): [] for name in variants for t in (1, 2)}
    for _ in range(rounds):
        for name, run in variants.items():
            for threads in (1, 2):
                with blas.limit(limits=threads):
                    run()
                    for _ in range(5):
                        start = time.perf_counter()
                        run()
                        times[name, threads].append(time.perf_counter() - start)
    print("\n| products | 1 thread, us (fastest, p10, median) | 2 threads, us |\n|---|---:|---:|")
    for name in variants:
        cells = [", ".join(f"{q * 1e6:,.0f}" for q in np.percentile(times[name, t], [0, 10, 50]))
                 for t in (1, 2)]
        print(f"| {name} | {cells[0]} | {cells[1]} |", flush=True)


def pieces(rounds=15, calls=300):
    """Two pieces of the twin's step at batch 100, 784-100-10, against what it used before: the
    sigmoid of 100 x 100 values in place (``activations.sigmoid_array`` against scipy's
    ``expit``) and gathering 100 rows of 784 inputs into a buffer (``np.take`` with
    mode="clip" against the default "raise", which buffers ``out``). Fastest of ``rounds``
    interleaved rounds of ``calls`` calls."""
    from scipy.special import expit

    from neuronet.activations import sigmoid_array
    rng = np.random.default_rng(0)
    z, out = rng.normal(0, 3, (100, 100)), np.empty((100, 100))
    x, rows, a_prev = rng.random((4000, 784)), rng.permutation(4000)[:100], np.empty((100, 784))
    variants = {"sigmoid: scipy.special.expit(z, out=)": lambda: expit(z, out=out),
                "sigmoid: activations.sigmoid_array(z, out=)": lambda: sigmoid_array(z, out=out),
                'rows: np.take(..., out=) mode="raise"': lambda: np.take(x, rows, 0, out=a_prev),
                'rows: np.take(..., out=) mode="clip"':
                    lambda: np.take(x, rows, 0, out=a_prev, mode="clip")}
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(rounds):
        for name, run in variants.items():
            start = time.perf_counter()
            for _ in range(calls):
                run()
            best[name] = min(best[name], (time.perf_counter() - start) / calls)
    print("\n| piece (batch 100, 784-100-10) | us a call |\n|---|---:|")
    for name, seconds in best.items():
        print(f"| {name} | {seconds * 1e6:.1f} |")


def twin_against_textbook(runs=3, repeats=30):
    """The speed target: the twin against the best numpy-textbook (one or two BLAS threads),
    784-100-10, plain SGD and momentum 0.9 with L2 1e-4, batch 1, 10 and 100: ``runs`` runs of
    the report's measurement (interleaved rounds of about 10 ms, best of ``repeats``)."""
    from implementations import SHAPES, Backend, NumpyTextbook
    from report_rates import samples_per_second

    from neuronet.backends import BACKENDS
    print("\n| settings | batch | twin samples/s | numpy-textbook 1 thread | 2 threads "
          "| twin / best textbook (min-max) |\n|---|---:|---:|---:|---:|---:|")
    for label, settings in (("plain SGD", (0.5, 0.0, 0.0)), ("momentum, L2", (0.5, 0.9, 1e-4))):
        for batch in (1, 10, 100):
            impls = {"twin": Backend(BACKENDS["vectorized"], "vectorized", settings=settings),
                     "1": NumpyTextbook(1, settings), "2": NumpyTextbook(2, settings)}
            rates = [samples_per_second(impls, SHAPES["784-100-10"], batch, "float64", repeats,
                                        0.01) for _ in range(runs)]
            ratios = [r["twin"] / max(r["1"], r["2"]) for r in rates]
            cells = [" / ".join(f"{r[name]:,.0f}" for r in rates) for name in impls]
            print(f"| {label} | {batch} | {' | '.join(cells)} | {min(ratios):.2f}-{max(ratios):.2f} |",
                  flush=True)


if __name__ == "__main__":
    if "--threads" in sys.argv[1:]:
        threads_crossover()
    elif "--pools" in sys.argv[1:]:
        pools()
    elif "--pieces" in sys.argv[1:]:
        pieces()
    elif "--twin" in sys.argv[1:]:
        twin_against_textbook()
    else:
        main()
        update_floor()
