"""The fused and parallel kernels of ``fast`` give the numbers of the plain kernels of ``loops``.

Tolerance for float64, 1e-12: the kernels do the same arithmetic as ``loops`` and
``vectorized`` with the sums in another order (four samples at a time, blocks of inputs, SIMD
lanes), and the bound argued in test_agreement.py (n eps sum|terms| for sums of n <= 784 terms
of a few units) applies unchanged: under 1e-12. Measured differences sit below 1e-15.

Tolerance for float32, 1e-4 against float64: the same bound with eps = 6e-8 (float32) is
784 * 6e-8 * 3 = 1.4e-4 for the worst sum; sums of terms of mixed sign grow like sqrt(n) eps,
and the differences measured here are a few 1e-7 (printed with -s).
"""
import os
import subprocess
import sys

import numba
import numpy as np
import pytest
import reference
from helpers import epoch, largest_difference, mnist_shaped, reference_epoch, run_epoch

from neuronet import Network, backends, fused, loops, parallel
from neuronet.activations import ACTIVATIONS
from neuronet.backends import BACKENDS
from neuronet.records import Layer, Signals, parameters
from neuronet.rules import SGD_RULE, settings

pytestmark = pytest.mark.plain_python

TOL = 1e-12
TOL_FLOAT32 = 1e-4
JIT = not numba.config.DISABLE_JIT

PLAIN_COMPILED = backends.LoopBackend(loops.KERNELS)
IMPLEMENTATIONS = {
    "fused": backends.FastBackend(backends.FUSED),
    "parallel": backends.FastBackend(backends.PARALLEL),
    "parallel-3-chunks": backends.FastBackend(backends.PARALLEL, chunks=3),
    "fused-python": backends.FastBackend(backends.FUSED_PYTHON),
}

SHAPES = [(3, 1, 2), (5, 1, 3, 1), (7, 9, 6, 4), (12, 40, 3), (1, 1)]


def state(net, momentum=0.9):
    """Parameters and velocities; with no momentum the loop kernels leave the velocities alone."""
    velocities = net.velocity_w + net.velocity_b if momentum else []
    return net.weights + net.biases + velocities


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda shape: "-".join(map(str, shape)))
@pytest.mark.parametrize("batch_size", [1, 4, 5, 11], ids=lambda n: f"batch{n}")
def test_fast_epoch_agrees_with_plain_kernels(name, shape, batch_size):
    # Batch 5 leaves a remainder after the blocks of four samples; 11 is the whole set at once.
    want = state(epoch(PLAIN_COMPILED, shape, batch_size, 0.9, 1e-3))
    reference = state(epoch(BACKENDS["vectorized"], shape, batch_size, 0.9, 1e-3))
    got = state(epoch(IMPLEMENTATIONS[name], shape, batch_size, 0.9, 1e-3))
    assert largest_difference(got, want) <= TOL
    assert largest_difference(got, reference) <= TOL


@pytest.mark.parametrize("output,cost", [("sigmoid", "cross_entropy"), ("softmax", "quadratic"),
                                         ("softmax", "cross_entropy")])
@pytest.mark.parametrize("momentum,weight_decay", [(0.0, 0.0), (0.5, 0.0), (0.0, 1e-2)])
def test_outputs_costs_and_rates(output, cost, momentum, weight_decay):
    args = ((7, 9, 6, 4), 3, momentum, weight_decay, output, cost)
    want = state(epoch(BACKENDS["vectorized"], *args), momentum)
    for name in ("fused", "parallel"):
        got = state(epoch(IMPLEMENTATIONS[name], *args), momentum)
        assert largest_difference(got, want) <= TOL, name


@pytest.mark.parametrize("chunks", [1, 2, 3, 7])
@pytest.mark.parametrize("batch_size", [1, 6])
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_parallel_layer_kernels_agree_with_serial(chunks, batch_size, activation):
    # Layers this small stay on one thread in an epoch, so the parallel kernels are called here
    # directly; 7 chunks for 5 neurons leaves some chunks empty, 70 inputs make two K_BLOCKs.
    rng = np.random.default_rng(8)
    n_out, n_in = 5, 70
    w, b = rng.normal(0, 0.2, (n_out, n_in)), rng.normal(0, 1, n_out)
    v_w, v_b = rng.normal(0, 0.01, (n_out, n_in)), rng.normal(0, 0.01, n_out)
    a_prev, delta = rng.random((batch_size, n_in)), rng.normal(0, 0.1, (batch_size, n_out))
    kind = ACTIVATIONS[activation]
    results = []
    step = settings(0.3, 0.9, 1e-3, SGD_RULE, np.dtype("float64"))
    for threads in (False, True):
        z, a = np.empty((batch_size, n_out)), np.empty((batch_size, n_out))
        params = [w.copy(), b.copy(), v_w.copy(), v_b.copy()]
        layer = Layer(*params, params[2], params[3])
        delta_prev = np.empty_like(a_prev)
        # the next batch's z, formed from each row right after its update
        a_next, z_next = a_prev[::-1].copy(), np.empty((batch_size, n_out))
        mask = (a_next > 0.5) * 2.0  # dropout: a_prev's neurons kept (x 2) or dropped (0)
        signals = Signals(delta, a_prev, delta_prev, mask, a_next, z_next)
        if threads:
            parallel.forward_parallel(w, b, a_prev, z, a, kind)
            parallel.backward_update_parallel(layer, signals, np.empty((max(chunks, 2), n_in)),
                                              step, True, kind)
        else:
            loops.forward(w, b, a_prev, z, a, kind)
            fused.backward_update(layer, signals, np.empty((2, n_in)), step, True, kind)
        results.append([z, a, delta_prev, z_next] + params)
    assert largest_difference(*results) <= TOL


@pytest.mark.parametrize("batch_size", [1, 3])
def test_parallel_epoch_on_a_layer_large_enough_to_share(batch_size):
    # 300 * 120 = 36,000 weights >= PARALLEL_MIN_WEIGHTS, so the first layer goes to the threads.
    shape = (300, 120, 3)
    assert shape[0] * shape[1] >= parallel.PARALLEL_MIN_WEIGHTS
    want = state(epoch(PLAIN_COMPILED, shape, batch_size, 0.9, 1e-3, samples=6))
    got = state(epoch(IMPLEMENTATIONS["parallel"], shape, batch_size, 0.9, 1e-3, samples=6))
    assert largest_difference(got, want) <= TOL


def test_loops_backend_runs_the_fused_kernels(monkeypatch):
    calls = []

    class Spy(backends.FastBackend):  # the table's "loops" entry, counting its calls
        def sgd_epoch(self, *args, **work):
            calls.append(args)
            return super().sgd_epoch(*args, **work)

    assert BACKENDS["loops"] is backends.FAST and backends.FAST.kernels is backends.FUSED
    monkeypatch.setitem(BACKENDS, "loops", Spy(backends.FUSED))
    x, y = mnist_shaped(9, seed=2, n_in=7, n_out=4)
    net = Network((7, 9, 6, 4), seed=3)
    net.step(x, y, 0.5, batch_size=2, momentum=0.9)
    assert len(calls) == 1
    want = Network((7, 9, 6, 4), seed=3)
    run_epoch(PLAIN_COMPILED, want, x, y, np.arange(9), 2, 0.5, 0.9, 0.0)
    assert largest_difference(state(net), state(want)) <= TOL


OUTPUTS_AND_COSTS = [("sigmoid", "quadratic"), ("sigmoid", "cross_entropy"),
                     ("softmax", "quadratic"), ("softmax", "cross_entropy")]
FEEDFORWARD = {"fused": backends.FastBackend(backends.FUSED), "parallel": backends.FastBackend(backends.PARALLEL)}


@pytest.mark.parametrize("name", FEEDFORWARD)
@pytest.mark.parametrize("shape", [(4, 3), (5, 7, 3), (300, 120, 3)],
                         ids=lambda shape: "-".join(map(str, shape)))
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_fused_and_parallel_feedforward_agree_with_the_reference(name, shape, output):
    # Six samples: a block of four and two left over; 300-120 is large enough for the threads.
    x = np.random.default_rng(1).random((6, shape[0]))
    net = Network(shape, seed=3, output=output)
    got = FEEDFORWARD[name].feedforward(parameters(net.weights, net.biases, [], []), x,
                                        net.model(), None)
    weights = [w.tolist() for w in net.weights]
    biases = [b.tolist() for b in net.biases]
    want = [reference.feedforward(weights, biases, row, output) for row in x]
    for layer in range(1, len(shape)):
        assert np.max(np.abs(got[layer] - np.array([a[layer] for a in want]))) <= TOL, layer


@pytest.mark.parametrize("name", IMPLEMENTATIONS)
@pytest.mark.parametrize("output,cost", OUTPUTS_AND_COSTS)
@pytest.mark.parametrize("batch_size", [1, 3, 5], ids=lambda n: f"batch{n}")
def test_one_layer_epochs_agree_with_the_reference(name, output, cost, batch_size):
    # A network with no hidden layer: its only layer is both the first (whose activation the
    # fused epoch computes for the next batch) and the output (softmax or sigmoid).
    got = state(epoch(IMPLEMENTATIONS[name], (4, 3), batch_size, 0.9, 1e-3, output, cost))
    want = reference_epoch((4, 3), batch_size, 0.9, 1e-3, output, cost)
    # Numerical gradients are good to about 1e-10; 11 steps with momentum add up to 1e-9.
    assert largest_difference(got, want) <= 1e-8


@pytest.mark.parametrize("batch_size", [1, 5])
def test_float32_agrees_with_float64(batch_size):
    shape = (784, 30, 10)
    want = state(epoch(BACKENDS["vectorized"], shape, batch_size, 0.9, 1e-3, samples=10))
    net = epoch(IMPLEMENTATIONS["fused"], shape, batch_size, 0.9, 1e-3, dtype="float32",
                samples=10)
    assert all(array.dtype == np.float32 for array in state(net))
    difference = largest_difference([a.astype(np.float64) for a in state(net)], want)
    print(f"float32 against float64, batch {batch_size}: {difference:.2e}")
    assert difference <= TOL_FLOAT32


@pytest.mark.skipif(not JIT, reason="types are only inferred when numba compiles")
def test_float32_weight_loops_stay_float32():
    # A literal such as 0.0, a Python float or an int count in a sum makes numba compute in
    # float64 and convert back, which costs the float32 speed-up; no variable may be float64.
    f32 = numba.float32
    matrix, vector = numba.float32[:, ::1], numba.float32[::1]
    signatures = {
        fused.forward_neuron: (matrix, vector, matrix, matrix, numba.int64),
        fused.add_gradient: (vector, matrix, matrix, numba.int64, f32, numba.int64, numba.int64),
        fused.sgd_row_next: (matrix, numba.int64, f32, vector,
                             numba.typeof(settings(0.5, 0.0, 1e-3, SGD_RULE, np.dtype("float32"))),
                             vector, f32),
    }
    for kernel, signature in signatures.items():
        compiled = numba.njit(signature, fastmath=parallel.FASTMATH)(kernel)
        typemap = compiled.overloads[signature].type_annotation.typemap
        promoted = sorted(name for name, kind in typemap.items() if kind == numba.float64)
        assert not promoted, f"{kernel.__name__}: float64 variables {promoted}"


@pytest.mark.skipif(not JIT, reason="no cache without the JIT")
def test_second_process_loads_the_kernels_from_the_disk_cache():
    program = ("import numpy as np; from neuronet import Network; "
               "from neuronet.backends import FUSED; "
               "Network((3, 2, 1), seed=0).step(np.ones((2, 3)), np.ones((2, 1)), 0.1); "
               "print(sum(FUSED.sgd_epoch.stats.cache_hits.values()))")
    env = dict(os.environ)
    for _ in range(2):  # the first run fills the cache if nothing had
        run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                             env=env, check=True)
    assert int(run.stdout) >= 1, run.stdout
