"""Loops against numpy (the twin and numpy-textbook) and PyTorch when installed: forward, backward,
update, SGD step, epoch.

Each group is one piece of work on one network, hidden activation and batch size, with one
benchmark per implementation (see ``implementations.py``), e.g. "sgd-step 784-100-10 relu batch
10", its benchmarks "784-100-10-relu-batch10-loops" and so on. Every round starts from the same parameters, the
JIT is warmed up before timing, and every result is checked against the vectorized reference,
computed once per module. Run ``python -m pytest benchmarks`` to time it,
``python -m pytest benchmarks --benchmark-disable`` to only check it (a small epoch then).

Tolerances: 1e-12 for the loops and the vectorized twin, as argued in tests/test_agreement.py
(the sums differ only in order); PyTorch's sigmoid and reductions round differently again, and
an epoch of steps compounds it a little, so 1e-10 there (measured: near 1e-15 per step).

The sigmoid runs on every network; tanh and ReLU (each with the initialisation "auto" gives it,
glorot and he) on 784-100-10 only, in forward, backward and sgd-step, enough to show the loops
against the twin and the peers for each activation while the quick run stays short. Update and
epoch are timed for the sigmoid only: the update does the same arithmetic whatever the
activation, and an epoch is sgd-steps end to end. ReLU beside the quadratic cost and sigmoid
output of ``implementations`` is a fine network; its derivative at z = 0 is 0 everywhere.
"""
import time

import numpy as np
import pytest
from implementations import (
    BATCHES,
    SHAPES,
    implementations,
    largest_difference,
    make_data,
    make_net,
    state,
)

from neuronet.records import parameters

IMPLEMENTATIONS = implementations()
NAMES = ["loops-plain", "loops", "loops-prange", "vectorized", "python", "numpy-textbook",
         "torch", "torch-manual"]
SMALLEST = ("784-30-10", 1)
ACTIVATION_SHAPES = {"sigmoid": tuple(SHAPES), "tanh": ("784-100-10",), "relu": ("784-100-10",)}
TOL = {"torch": 1e-10, "torch-manual": 1e-10}
SECONDS_PER_BENCHMARK = 0.5
EPOCH, EPOCH_QUICK = 200, 20


def implementation(name):
    """The implementation, or a skip naming the optional peer that is not installed."""
    if name not in IMPLEMENTATIONS:
        pytest.skip(f"{name} is not installed")
    return IMPLEMENTATIONS[name]


def cases(*, layers=False, python=True, activations=ACTIVATION_SHAPES):
    """(name, shape_id, activation, batch) for every implementation that has this piece of work:
    each activation on its networks (``activations``), the python backend on the smallest case
    only (sigmoid), and the fused kernels and the peers (numpy-textbook, PyTorch) have no
    separate backward and update (the sgd-step group times them)."""
    params = []
    for shape_id in SHAPES:
        for activation, shape_ids in activations.items():
            if shape_id not in shape_ids:
                continue
            for batch in BATCHES:
                for name in NAMES:
                    if name == "python" and (not python or (shape_id, batch) != SMALLEST
                                             or activation != "sigmoid"):
                        continue
                    if layers and name in ("loops", "loops-prange", "numpy-textbook", "torch",
                                           "torch-manual"):
                        continue
                    params.append(pytest.param(name, shape_id, activation, batch,
                                               id=f"{shape_id}-{activation}-batch{batch}-{name}"))
    return pytest.mark.parametrize("name,shape_id,activation,batch", params)


SIGMOID_ONLY = {"sigmoid": ACTIVATION_SHAPES["sigmoid"]}


def run(benchmark, quick, target, setup):
    """Time ``target(*setup())`` in rounds, each after a fresh ``setup()``; returns its result."""
    if not quick:
        target(*setup())  # JIT compilation (or loading from the cache) happens here
        start = time.perf_counter()
        target(*setup())
        once = time.perf_counter() - start
        rounds = int(min(200, max(3, SECONDS_PER_BENCHMARK / max(once, 1e-9))))
    else:
        rounds = 1
    return benchmark.pedantic(target, setup=lambda: (setup(), {}), rounds=rounds,
                              warmup_rounds=0 if quick else 1)


@pytest.fixture(scope="session")
def quick(request):
    """True under --benchmark-disable: each benchmark then runs once, on a small epoch."""
    config = request.config
    return bool(config.getoption("benchmark_disable")) and not config.getoption("benchmark_enable")


class Reference:
    """The vectorized results, each computed once and kept for the module."""

    def __init__(self):
        self.cache = {}

    def get(self, key, compute):
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]


@pytest.fixture(scope="module")
def reference():
    return Reference()


def restore(net, fresh):
    """Put ``fresh``'s parameters back into ``net``'s arrays (keeping their alignment)."""
    for mine, theirs in zip(state(net), state(fresh)):
        mine[...] = theirs
    return net


def epoch_size(quick):
    return EPOCH_QUICK if quick else EPOCH


def group(benchmark, work, shape_id, activation, batch):
    benchmark.group = f"{work} {shape_id} {activation} batch {batch}"


@cases()
def test_forward(benchmark, quick, reference, name, shape_id, activation, batch):
    impl = implementation(name)
    group(benchmark, "forward", shape_id, activation, batch)
    shape = SHAPES[shape_id]
    net = make_net(shape, activation=activation)
    x, _ = make_data(batch, shape)
    want = reference.get(("forward", shape_id, activation, batch),
                         lambda: IMPLEMENTATIONS["vectorized"].feedforward(
                             make_net(shape, activation=activation), x))
    got = run(benchmark, quick, lambda: impl.feedforward(net, x), lambda: ())
    assert largest_difference([got], [want]) <= TOL.get(name, 1e-12)


@cases(layers=True)
def test_backward(benchmark, quick, reference, name, shape_id, activation, batch):
    impl = implementation(name)
    group(benchmark, "backward", shape_id, activation, batch)
    shape = SHAPES[shape_id]
    net = make_net(shape, activation=activation)
    x, y = make_data(batch, shape)
    activations = IMPLEMENTATIONS["vectorized"].backend.feedforward(
        parameters(net.weights, net.biases, [], []), x, net.model(), None)
    want = reference.get(("backward", shape_id, activation, batch),
                         lambda: IMPLEMENTATIONS["vectorized"].backward(net, activations, y))
    got = run(benchmark, quick, impl.backward, lambda: (net, activations, y))
    assert largest_difference(got, want) <= TOL.get(name, 1e-12)


@cases(layers=True, activations=SIGMOID_ONLY)  # the same arithmetic for every activation
def test_update(benchmark, quick, reference, name, shape_id, activation, batch):
    impl = implementation(name)
    group(benchmark, "update", shape_id, activation, batch)
    shape = SHAPES[shape_id]
    fresh, net = (make_net(shape, activation=activation) for _ in range(2))
    x, y = make_data(batch, shape)
    gradients = IMPLEMENTATIONS["vectorized"].backend.backprop(
        parameters(fresh.weights, fresh.biases, [], []), x, y, fresh.model())

    def reference_update():
        ref = make_net(shape, activation=activation)
        IMPLEMENTATIONS["vectorized"].update(ref, *gradients)
        return state(ref)

    want = reference.get(("update", shape_id, activation, batch), reference_update)
    run(benchmark, quick, impl.update, lambda: (restore(net, fresh), *gradients))
    assert largest_difference(state(net), want) <= TOL.get(name, 1e-12)


def sgd(benchmark, quick, reference, name, shape_id, activation, batch, work, n):
    shape = SHAPES[shape_id]
    fresh, net = (make_net(shape, activation=activation) for _ in range(2))
    x, y = make_data(n, shape)
    order = np.random.default_rng(2).permutation(n)

    def reference_epoch():
        ref = make_net(shape, activation=activation)
        IMPLEMENTATIONS["vectorized"].sgd_epoch(ref, x, y, order, batch)
        return state(ref)

    want = reference.get((work, shape_id, activation, batch, n), reference_epoch)
    impl = implementation(name)
    run(benchmark, quick, impl.sgd_epoch, lambda: (restore(net, fresh), x, y, order, batch))
    assert largest_difference(state(net), want) <= TOL.get(name, 1e-12)


@cases()
def test_sgd_step(benchmark, quick, reference, name, shape_id, activation, batch):
    implementation(name)
    group(benchmark, "sgd-step", shape_id, activation, batch)
    sgd(benchmark, quick, reference, name, shape_id, activation, batch, "sgd-step", batch)


# a python epoch takes minutes (the sgd-step group times it); other activations: sgd-step
@cases(python=False, activations=SIGMOID_ONLY)
def test_epoch(benchmark, quick, reference, name, shape_id, activation, batch):
    implementation(name)
    n = epoch_size(quick)
    group(benchmark, f"epoch of {n}", shape_id, activation, batch)
    sgd(benchmark, quick, reference, name, shape_id, activation, batch, "epoch", n)
