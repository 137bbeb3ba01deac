"""Two of issue 4's prototype facts checked on this machine, the memory floor of batch 1, and
where two BLAS threads start to pay for the vectorized twin.

    python benchmarks/checks.py [--threads]

Times the fused loops (784-100-10, float64, momentum 0.9) three ways in interleaved rounds,
best of 40: as shipped (fastmath={"reassoc", "contract"}, parameters on 64-byte boundaries),
with the parameters 8 bytes past a boundary, and compiled without fastmath.
"""
import sys
import time
from types import SimpleNamespace

import numba
import numpy as np

from neuronet import Network, fast, loops
from neuronet.vectorized import Step
from neuronet.jit import njit


def misaligned(array):
    """A copy of a float64 array that starts 8 bytes past a 64-byte boundary."""
    raw = np.empty(array.size * 8 + 64, np.uint8)
    offset = -raw.ctypes.data % 64 + 8
    out = raw[offset:offset + array.size * 8].view(np.float64).reshape(array.shape)
    out[...] = array
    return out


def main(rounds=40):
    no_fastmath = fast.FastBackend(SimpleNamespace(sgd_epoch=numba.njit(fast.sgd_epoch)))
    variants = {"as shipped": (fast.FAST, loops.aligned_copy),
                "misaligned by 8 bytes": (fast.FAST, misaligned),
                "no fastmath": (no_fastmath, loops.aligned_copy)}
    rng = np.random.default_rng(0)
    x = loops.aligned_copy(rng.random((1000, 784)))
    y = loops.aligned_copy(np.eye(10)[rng.integers(0, 10, 1000)])
    print("| batch | variant | samples/s | time / as shipped |\n|---:|---|---:|---:|")
    for batch in (1, 10, 100):
        nets, best = {}, {}
        for name, (backend, place) in variants.items():
            net = Network((784, 100, 10), seed=1)
            net.weights = [place(w) for w in net.weights]
            net.velocity_w = [place(v) for v in net.velocity_w]
            nets[name], best[name] = net, float("inf")
        samples = {1: 100, 10: 300, 100: 1000}[batch]
        for _ in range(rounds + 1):  # the first round compiles
            for name, (backend, _) in variants.items():
                net = nets[name]
                start = time.perf_counter()
                backend.sgd_epoch(net.weights, net.biases, net.velocity_w, net.velocity_b, x, y,
                                  np.arange(samples), batch, 0.1, 0.9, 1e-4, 0, False)
                best[name] = min(best[name], time.perf_counter() - start)
        for name, seconds in best.items():
            print(f"| {batch} | {name} | {samples / seconds:,.0f} "
                  f"| {seconds / best['as shipped']:.2f} |", flush=True)


@njit(fastmath={"reassoc", "contract"})
def _update_pass(w, b, v_w, v_b, d, a_prev, repeats):
    """Only the momentum update of batch-1 SGD on every row: what a step cannot do without."""
    for _ in range(repeats):
        for j in range(w.shape[0]):
            fast.update_row_one_sample(w, b, v_w, v_b, j, d[j], a_prev, 1e-9, 0.9, 1e-4)


def update_floor(rounds=40, repeats=100):
    """Seconds per step of the update pass alone on 784-100 (w and v: 2 x 627 kB)."""
    rng = np.random.default_rng(0)
    w, v_w = loops.aligned_copy(rng.normal(0, 0.03, (100, 784))), loops.aligned_empty((100, 784), float)
    v_w[...] = 0
    b, v_b, d, a_prev = np.zeros(100), np.zeros(100), rng.normal(0, 0.1, 100), rng.random(784)
    _update_pass(w, b, v_w, v_b, d, a_prev, 1)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        _update_pass(w, b, v_w, v_b, d, a_prev, repeats)
        best = min(best, (time.perf_counter() - start) / repeats)
    moved = 4 * w.nbytes  # w and v, each read and written
    print(f"\nUpdate pass alone, 784-100, float64: {best * 1e6:.1f} us a step, "
          f"{moved / best / 1e9:.0f} GB/s of w and v moved, at most {1 / best:,.0f} steps/s")


def threads_crossover(rounds=20):
    """The twin's SGD step on one and on two BLAS threads, by the FLOPs of its largest product
    (2 n n_in n_out): where ``vectorized.TWO_THREADS_FLOPS`` comes from. Interleaved rounds of
    about 20 ms, best of ``rounds``."""
    from threadpoolctl import ThreadpoolController
    blas = ThreadpoolController().select(user_api="blas")
    print("\n| network | batch | largest product, FLOPs | 1 thread, steps/s | 2 threads, steps/s "
          "| 2 / 1 |\n|---|---:|---:|---:|---:|---:|")
    for sizes, n in [((784, 100, 10), 1), ((784, 800, 10), 1), ((784, 100, 10), 100),
                     ((784, 800, 10), 10), ((784, 800, 10), 100), ((784, 2000, 10), 100),
                     ((784, 2000, 10), 500)]:
        net = Network(sizes, seed=1)
        rng = np.random.default_rng(0)
        x, y = rng.random((n, sizes[0])), np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
        step, rows, best = Step(sizes, n, np.float64), np.arange(n), {}
        args = (net.weights, net.biases, net.velocity_w, net.velocity_b, x, y, rows, 1e-3, 0.9,
                1e-4, 0, False, [None] * (len(sizes) - 1))
        start = time.perf_counter()
        step(*args)
        repeats = max(1, int(0.02 / (time.perf_counter() - start)))
        for _ in range(rounds):
            for threads in (1, 2):
                with blas.limit(limits=threads):
                    start = time.perf_counter()
                    for _ in range(repeats):
                        step(*args)
                    seconds = (time.perf_counter() - start) / repeats
                best[threads] = min(best.get(threads, seconds), seconds)
        flops = 2 * n * max(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        print(f"| {'-'.join(map(str, sizes))} | {n} | {flops:.1e} | {1 / best[1]:,.0f} "
              f"| {1 / best[2]:,.0f} | {best[1] / best[2]:.2f} |", flush=True)


if __name__ == "__main__":
    if "--threads" in sys.argv[1:]:
        threads_crossover()
    else:
        main()
        update_floor()
