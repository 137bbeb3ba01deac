"""How the speed report measures: the implementations raced at each network and batch size
(``contenders``), each one's best-of-rounds samples per second with the rounds interleaved
(``samples_per_second``), the check of each one's epoch against the twin's (``check``), and the
best rates the tables compare against.
"""
import time

import numpy as np
from implementations import (
    Backend,
    NumpyTextbook,
    Torch,
    TorchManual,
    implementations,
    largest_difference,
    make_data,
    make_net,
    state,
)

from neuronet import backends

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



def best_of(rates, prefixes):
    """The highest rate among implementations named with one of ``prefixes`` (None if none)."""
    found = [rate for name, rate in rates.items() if name.startswith(prefixes)]
    return max(found) if found else None



def ratio(rate, other):
    return f"{rate / other:.2f}" if other else "-"



def winner(rates, prefixes):
    return max((name for name in rates if name.startswith(prefixes)), key=rates.get)
