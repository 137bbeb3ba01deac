r"""The parallel epoch: the fused kernels of ``fused`` with each large layer split between threads.

``forward_parallel`` and ``backward_update_parallel`` share the neurons j of a layer out to
threads with ``numba.prange``. BP2 sums over j, which the threads share out, so there the hidden
deltas are formed first, from the old weights, split by blocks of inputs k instead. Layers below
PARALLEL_MIN_WEIGHTS weights stay on one thread (``fused``'s kernels). SGD with or without
momentum only: the backend hands Nesterov's momentum and Adam to the plain loops.
"""
import numba
from numba.extending import register_jitable

from .activations import layer_kind
from .fused import (
    activate,
    backward_update,
    bias_gradient,
    first_forward,
    forward,
    forward_neuron,
    next_batch,
    step_tile,
)
from .jit import njit
from .loops import copy_row, drop, drop_layer, hidden_prime, output_delta
from .records import Signals, layer_of
from .rules import step_one

# Hidden deltas in the parallel kernel are split in blocks of this many inputs k: 64 float64 are
# 8 cache lines, enough to vectorize and few enough that 784 inputs make 13 blocks for 2 threads.
K_BLOCK = 64

# Handing a layer to the threads costs a few microseconds; a 784-30 layer (23,520 weights) takes
# about 3 us a pass on one core (9 us measured for 784-100) and gained nothing from two in the
# prototype (0.8x); output layers such as 100-10 are smaller still. Below this many weights a
# layer stays on one thread.
PARALLEL_MIN_WEIGHTS = 32_768

FASTMATH = {"reassoc", "contract"}  # the flags of loops.KERNELS, for the reasons given there
# prange only splits loops in a function compiled with parallel=True, so the two parallel layer
# kernels are compiled on their own (their plain Python stays at ``.py_func``).
_parallel_jit = njit(fastmath=FASTMATH, parallel=True)


@_parallel_jit
def forward_parallel(w, b, a_prev, z, a, kind):
    r"""``fused.forward`` with the neurons j shared between threads."""
    for j in numba.prange(w.shape[0]):
        forward_neuron(w, b, a_prev, z, j)
    activate(z, a, kind)


@_parallel_jit
def backward_update_parallel(layer, signals, grad_rows, step, hidden, kind):
    r"""``fused.backward_update`` on threads: first BP2 from the old weights, by blocks of
    inputs k,

        delta_prev[s, k] = (sum_j w[j, k] delta[s, j]) f'(z_prev[s, k]) (m[s, k]),

    then BP3, BP4 and the step, the rows j split in ``grad_rows.shape[0]`` chunks, one per
    thread, each forming its gradients in its own row of ``grad_rows`` (``fused.step_tile``),
    and the next batch's z_next as there."""
    w, delta, a_prev, delta_prev = layer.w, signals.delta, signals.a_prev, signals.delta_prev
    n_out, n_in = w.shape
    n = delta.shape[0]
    if hidden:
        zero = w.dtype.type(0)
        for block in numba.prange((n_in + K_BLOCK - 1) // K_BLOCK):
            first, stop = block * K_BLOCK, min(n_in, (block + 1) * K_BLOCK)
            for s in range(n):
                for k in range(first, stop):
                    delta_prev[s, k] = zero
                for j in range(n_out):
                    d = delta[s, j]
                    for k in range(first, stop):
                        delta_prev[s, k] += w[j, k] * d
                for k in range(first, stop):
                    delta_prev[s, k] *= hidden_prime(a_prev, signals.mask_prev, s, k, kind)
    chunks = grad_rows.shape[0]
    for chunk in numba.prange(chunks):
        for j in range(chunk * n_out // chunks, (chunk + 1) * n_out // chunks):
            step_one(layer.b, layer.v_b, layer.s_b, j, bias_gradient(delta, j), step)
            step_tile(layer, grad_rows[chunk], delta, a_prev, j, 0, n_in, step)
            forward_neuron(w, layer.b, signals.a_next, signals.z_next, j)


@register_jitable
def forward_parallel_if_large(w, b, a_prev, z, a, kind):
    """``forward_parallel`` for a layer of at least PARALLEL_MIN_WEIGHTS weights, else
    ``fused.forward``."""
    if w.size >= PARALLEL_MIN_WEIGHTS:
        forward_parallel(w, b, a_prev, z, a, kind)
    else:
        forward(w, b, a_prev, z, a, kind)


@register_jitable
def feedforward_parallel(weights, biases, zs, activations, n, softmax, kind):
    """``fused.feedforward`` with the neurons of each large layer shared between threads."""
    last = len(weights) - 1
    for layer in range(last + 1):
        forward_parallel_if_large(weights[layer], biases[layer], activations[layer][:n],
                                  zs[layer][:n], activations[layer + 1][:n],
                                  layer_kind(layer, last, softmax, kind))


@register_jitable
def sgd_epoch_parallel(params, x, y, order, batch_size, step, model, work):
    """``fused.sgd_epoch`` with the neurons of each large layer shared between threads; SGD with
    or without momentum only (the blocks of one-sample steps in ``work`` are left alone)."""
    weights, activations, deltas, masks, zs = (params.weights, work.activations, work.deltas,
                                               work.masks, work.zs)
    last = len(weights) - 1
    kind0 = layer_kind(0, last, model.softmax, model.kind)
    n = next_batch(x, y, order, -batch_size, batch_size, activations[0], work.y_batch)
    drop_layer(activations, masks, 0, 0, n)
    if weights[0].size >= PARALLEL_MIN_WEIGHTS:  # formed by forward_neuron, as in the steps
        forward_parallel(weights[0], params.biases[0], activations[0][:n], zs[0][:n],
                         activations[1][:n], kind0)
    else:
        first_forward(weights[0], params.biases[0], activations[0][:n], zs[0][:n], step)
        activate(zs[0][:n], activations[1][:n], kind0)
    drop_layer(activations, masks, 1, 0, n)
    for start in range(0, order.shape[0], batch_size):
        n = min(batch_size, order.shape[0] - start)
        for layer in range(1, last + 1):
            forward_parallel_if_large(weights[layer], params.biases[layer],
                                      activations[layer][:n], zs[layer][:n],
                                      activations[layer + 1][:n],
                                      layer_kind(layer, last, model.softmax, model.kind))
            drop_layer(activations, masks, layer + 1, start, n)
        output_delta(activations[last + 1][:n], work.y_batch[:n], deltas[last][:n], model.cost,
                     model.softmax)
        following = start + batch_size
        for layer in range(last, -1, -1):
            if layer == 0:
                n_next = next_batch(x, y, order, start, batch_size, work.x_next, work.y_batch)
                drop(work.x_next[:n_next], masks[0][following:following + n_next])
            else:
                n_next = 0
            signals = Signals(deltas[layer][:n], activations[layer][:n],
                              deltas[max(layer - 1, 0)][:n], masks[layer][start:start + n],
                              work.x_next[:n_next], zs[layer][:n_next])
            if weights[layer].size >= PARALLEL_MIN_WEIGHTS:
                backward_update_parallel(layer_of(params, layer), signals, work.grad_rows[layer],
                                         step, layer > 0, model.kind)
            else:
                backward_update(layer_of(params, layer), signals, work.grad_rows[layer], step,
                                layer > 0, model.kind)
        activate(zs[0][:n_next], activations[1][:n_next], kind0)
        drop_layer(activations, masks, 1, following, n_next)
        for s in range(n_next):
            copy_row(work.x_next[s], activations[0][s])


def launch_threads():
    """Start numba's thread pool before the parallel kernels run.

    numba starts it when it compiles or loads a parallel=True function, but not when a cached
    caller that is not parallel itself is loaded with the parallel kernels inside; the parallel
    loops then jump into a pool that was never started and the process segfaults (numba issues
    8578 and 9938, open in numba 0.68). Starting it twice is harmless.
    """
    from numba.np.ufunc.parallel import _launch_threads
    _launch_threads()
